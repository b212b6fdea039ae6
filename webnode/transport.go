package webnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The swarm engine gets one Listener and one Dialer. Both multiplex the
// node's transports: streams relayed by a bridge (to and from native
// peers, and to browsers that reach the swarm through a bridge) and, when
// WebRTC is enabled, data channels straight to other browsers. Addresses
// of WebRTC peers are "webrtc/<signaling peer id>" (no colon, so that the
// swarm's ban key is the whole address, one per peer); everything else
// goes to the bridge.

// muxListener is a net.Listener fed by several sources.
type muxListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newMuxListener(addr net.Addr) *muxListener {
	return &muxListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *muxListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener: the bridge listener's address.
func (l *muxListener) Addr() net.Addr { return l.addr }

// push hands c to Accept; false (and c closed) once the listener is closed.
func (l *muxListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

// pump moves connections from src to l until either is closed.
func (l *muxListener) pump(src net.Listener, wrap func(net.Conn) net.Conn) {
	for {
		c, err := src.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-l.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if !l.push(wrap(c)) {
			return
		}
	}
}

// TransportStats count the swarm connections of one transport.
type TransportStats struct {
	Open     int64  `json:"open"`     // connections open now
	Opened   uint64 `json:"opened"`   // connections opened since start (both directions)
	BytesIn  uint64 `json:"bytesIn"`  // swarm bytes received
	BytesOut uint64 `json:"bytesOut"` // swarm bytes sent
}

// transportStats are the live counters behind TransportStats.
type transportStats struct {
	open             atomic.Int64
	opened           atomic.Uint64
	bytesIn, bytesOu atomic.Uint64
}

func (s *transportStats) snapshot() TransportStats {
	return TransportStats{Open: s.open.Load(), Opened: s.opened.Load(), BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOu.Load()}
}

// countedConn counts a connection's bytes into a transportStats.
type countedConn struct {
	net.Conn
	st   *transportStats
	once sync.Once
}

func (s *transportStats) wrap(c net.Conn) net.Conn {
	s.open.Add(1)
	s.opened.Add(1)
	return &countedConn{Conn: c, st: s}
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.st.bytesIn.Add(uint64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.st.bytesOu.Add(uint64(n))
	return n, err
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.st.open.Add(-1) })
	return c.Conn.Close()
}

// nodeDialer routes the swarm's dials: WebRTC addresses to data channels,
// the rest to the bridge.
type nodeDialer struct{ n *Node }

func (d nodeDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	if strings.HasPrefix(addr, rtcPrefix) {
		if d.n.rtc == nil {
			return nil, fmt.Errorf("webnode: %s: WebRTC is not enabled", addr)
		}
		return d.n.rtc.dial(ctx, strings.TrimPrefix(addr, rtcPrefix))
	}
	c, err := d.n.br.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return d.n.bridgeStats.wrap(c), nil
}

// deadline is a settable deadline: done() is closed once it has passed.
type deadline struct {
	mu    sync.Mutex
	t     *time.Timer
	gen   uint64 // bumped by every set; a timer of an older one does nothing
	ch    chan struct{}
	fired bool
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

func (d *deadline) set(at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.t != nil {
		d.t.Stop()
		d.t = nil
	}
	if d.fired {
		d.ch = make(chan struct{})
		d.fired = false
	}
	if at.IsZero() {
		return
	}
	dur := time.Until(at)
	if dur <= 0 {
		d.fired = true
		close(d.ch)
		return
	}
	gen := d.gen
	d.t = time.AfterFunc(dur, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen && !d.fired {
			d.fired = true
			close(d.ch)
		}
	})
}

func (d *deadline) done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}
