package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// State is a bridge connection's state, reported by PoolOptions.OnState.
type State int

const (
	Connecting   State = iota // dialing the bridge
	Connected                 // hello done; requests go to it
	Disconnected              // the connection ended or the dial failed
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Disconnected:
		return "disconnected"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ErrNoBridge is returned (wrapped) when no bridge of the pool could be
// reached.
var ErrNoBridge = errors.New("bridge pool: no bridge reachable")

// PoolOptions configure a Pool.
type PoolOptions struct {
	Options     Options       // for every Client
	DialTimeout time.Duration // per bridge; default 10 s
	// LearnPeers adds the bridges listed in each hello to the pool.
	LearnPeers bool
	// OnState is called on every state change of a bridge connection
	// (err says why for Disconnected). It must not block.
	OnState func(url string, st State, err error)
}

// Pool keeps one connection to one of several bridges and fails over to
// the next when it dies: a request that fails because the connection ended
// is retried on another bridge, served swarms are registered again, and
// streams — which die with their bridge — are simply dialed again by the
// swarm engine through Dial. Its methods are safe for concurrent use.
type Pool struct {
	o        PoolOptions
	incoming chan net.Conn
	done     chan struct{}

	dialMu sync.Mutex // one connection attempt at a time

	mu      sync.Mutex
	urls    []string
	next    int // index of the bridge to try first
	cur     *Client
	curIdx  int
	serving []string
	closed  bool
}

// NewPool returns a pool over the given bridge URLs (tried in order,
// rotating on failure). It connects lazily, on first use.
func NewPool(urls []string, o PoolOptions) (*Pool, error) {
	if len(urls) == 0 {
		return nil, errors.New("bridge pool: no bridge URLs")
	}
	for _, u := range urls {
		if _, err := wsURL(u); err != nil {
			return nil, err
		}
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	return &Pool{o: o, urls: slices.Clone(urls), incoming: make(chan net.Conn, 16), done: make(chan struct{})}, nil
}

// URLs returns the bridges the pool knows.
func (p *Pool) URLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.urls)
}

// Current returns the URL of the bridge in use, or "".
func (p *Pool) Current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return ""
	}
	return p.cur.url
}

func (p *Pool) state(url string, st State, err error) {
	if p.o.OnState != nil {
		p.o.OnState(url, st, err)
	}
}

// Client returns the live connection, connecting to the next reachable
// bridge if there is none.
func (p *Pool) Client(ctx context.Context) (*Client, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if c := p.cur; c != nil && c.Err() == nil {
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()

	p.dialMu.Lock()
	defer p.dialMu.Unlock()
	p.mu.Lock()
	c := p.cur
	p.mu.Unlock()
	if c != nil {
		if c.Err() == nil {
			return c, nil
		}
		p.lost(c)
	}
	p.mu.Lock()
	urls, start := slices.Clone(p.urls), p.next
	p.mu.Unlock()
	var errs []error
	for i := range urls {
		u := urls[(start+i)%len(urls)]
		p.state(u, Connecting, nil)
		dctx, cancel := context.WithTimeout(ctx, p.o.DialTimeout)
		c, err := DialWith(dctx, u, p.o.Options)
		cancel()
		if err != nil {
			p.state(u, Disconnected, err)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if err := p.adopt(ctx, c, (start+i)%len(urls)); err != nil {
			errs = append(errs, err)
			continue
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrNoBridge, errors.Join(errs...))
}

// adopt makes c the current connection: learn its peers, serve again what
// is served, forward its incoming streams and watch it.
func (p *Pool) adopt(ctx context.Context, c *Client, idx int) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return ErrClosed
	}
	if p.o.LearnPeers {
		for _, u := range c.Info().Peers {
			if _, err := wsURL(u); err == nil && !slices.Contains(p.urls, u) {
				p.urls = append(p.urls, u)
			}
		}
	}
	serving := slices.Clone(p.serving)
	p.mu.Unlock()
	for _, user := range serving {
		if err := c.Serve(ctx, user); err != nil {
			c.Close()
			p.state(c.url, Disconnected, err)
			return fmt.Errorf("bridge pool: serve %q at %s: %w", user, c.url, err)
		}
	}
	p.mu.Lock()
	p.cur = c
	p.curIdx = idx
	p.next = idx
	p.mu.Unlock()
	p.state(c.url, Connected, nil)
	go p.forward(c)
	go func() {
		<-c.Done()
		p.lost(c)
	}()
	return nil
}

// lost retires c if it is still the current connection (once), so that
// the next attempt starts with the following bridge.
func (p *Pool) lost(c *Client) {
	p.mu.Lock()
	if p.cur != c {
		p.mu.Unlock()
		return
	}
	p.cur = nil
	p.next = (p.curIdx + 1) % len(p.urls) // try the others first
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		p.state(c.url, Disconnected, c.Err())
	}
}

func (p *Pool) forward(c *Client) {
	for {
		conn, err := c.Accept()
		if err != nil {
			return
		}
		select {
		case p.incoming <- conn:
		case <-p.done:
			conn.Close()
			return
		}
	}
}

// retryable says whether err means the bridge connection died, so the
// request may be repeated on another bridge.
func retryable(err error) bool { return errors.Is(err, ErrClosed) }

// do runs fn on the current bridge, failing over on connection loss.
func (p *Pool) do(ctx context.Context, fn func(*Client) error) error {
	var err error
	for range p.attempts() {
		var c *Client
		c, err = p.Client(ctx)
		if err != nil {
			return err
		}
		if err = fn(c); err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (p *Pool) attempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.urls) + 1
}

// GetData is Client.GetData on the current bridge, with failover.
func (p *Pool) GetData(ctx context.Context, name, res string, multi bool, o GetOptions) (items []Item, err error) {
	err = p.do(ctx, func(c *Client) error { items, err = c.GetData(ctx, name, res, multi, o); return err })
	return items, err
}

// PutData is Client.PutData with failover.
func (p *Pool) PutData(ctx context.Context, pb, sigP []byte, sigUser string) (queued bool, err error) {
	err = p.do(ctx, func(c *Client) error { queued, err = c.PutData(ctx, pb, sigP, sigUser); return err })
	return queued, err
}

// Announce is Client.Announce with failover.
func (p *Pool) Announce(ctx context.Context, user string) (port int, err error) {
	err = p.do(ctx, func(c *Client) error { port, err = c.Announce(ctx, user); return err })
	return port, err
}

// GetPeers is Client.GetPeers with failover.
func (p *Pool) GetPeers(ctx context.Context, user string) (peers []netip.AddrPort, err error) {
	err = p.do(ctx, func(c *Client) error { peers, err = c.GetPeers(ctx, user); return err })
	return peers, err
}

// Headers is Client.Headers with failover.
func (p *Pool) Headers(ctx context.Context, from int64, count int) (hs [][]byte, tip int64, err error) {
	err = p.do(ctx, func(c *Client) error { hs, tip, err = c.Headers(ctx, from, count); return err })
	return hs, tip, err
}

// ProveUser is Client.ProveUser with failover.
func (p *Pool) ProveUser(ctx context.Context, name string) (proof []byte, err error) {
	err = p.do(ctx, func(c *Client) error { proof, err = c.ProveUser(ctx, name); return err })
	return proof, err
}

// SendTx is Client.SendTx with failover.
func (p *Pool) SendTx(ctx context.Context, raw []byte) error {
	return p.do(ctx, func(c *Client) error { return c.SendTx(ctx, raw) })
}

// Tip is Client.Tip with failover.
func (p *Pool) Tip(ctx context.Context) (height int64, hash []byte, err error) {
	err = p.do(ctx, func(c *Client) error { height, hash, err = c.Tip(ctx); return err })
	return height, hash, err
}

// Ping is Client.Ping with failover.
func (p *Pool) Ping(ctx context.Context) (rtt time.Duration, err error) {
	err = p.do(ctx, func(c *Client) error { rtt, err = c.Ping(ctx); return err })
	return rtt, err
}

// Dial opens a stream through the current bridge (a swarm.Dialer). A stream
// dies with its bridge; the swarm engine dials again and reaches the next.
func (p *Pool) Dial(ctx context.Context, addr string) (conn net.Conn, err error) {
	err = p.do(ctx, func(c *Client) error { conn, err = c.OpenStream(ctx, addr); return err })
	return conn, err
}

// Serve serves user's swarm on the current bridge and on every bridge the
// pool fails over to.
func (p *Pool) Serve(ctx context.Context, user string) error {
	p.mu.Lock()
	if !slices.Contains(p.serving, user) {
		p.serving = append(p.serving, user)
	}
	p.mu.Unlock()
	return p.do(ctx, func(c *Client) error { return c.Serve(ctx, user) })
}

// Unserve stops serving user's swarm.
func (p *Pool) Unserve(ctx context.Context, user string) error {
	p.mu.Lock()
	if i := slices.Index(p.serving, user); i >= 0 {
		p.serving = slices.Delete(p.serving, i, i+1)
	}
	c := p.cur
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Unserve(ctx, user)
}

// Accept returns the next incoming stream from whichever bridge is current.
func (p *Pool) Accept() (net.Conn, error) { return p.accept(nil) }

func (p *Pool) accept(cancel <-chan struct{}) (net.Conn, error) {
	select {
	case c := <-p.incoming:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-cancel:
		return nil, net.ErrClosed
	}
}

// Listener returns a net.Listener over Accept (for swarm.Config.Listener).
func (p *Pool) Listener() net.Listener {
	return &listener{accept: p.accept, addr: bridgeAddr("bridge-pool"), done: make(chan struct{})}
}

// Close closes the current connection and stops the pool.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	c := p.cur
	p.cur = nil
	close(p.done)
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
	return nil
}
