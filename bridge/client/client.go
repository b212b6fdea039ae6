// Package client is the browser side of the twister bridge protocol (see
// package bridge): a Client holds one WebSocket to a bridge and offers every
// operation — DHT gets and puts with items relayed unchanged, tracker
// announces and peer lookups, block headers and user proofs for the light
// client, transaction relay — plus streams to native swarm peers that are
// plain net.Conns: Client.Dial makes it a swarm Dialer and Client.Listener a
// swarm Listener for native peers reaching swarms the browser serves. A Pool
// knows several bridges and fails over when one dies. The package builds
// natively (tests, tools) and for GOOS=js GOARCH=wasm, where the browser's
// WebSocket carries the connection.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/resource"
)

// ErrClosed is returned (wrapped) by every call once the connection to the
// bridge has ended; Err tells why.
var ErrClosed = errors.New("bridge client: connection closed")

// ServerError is an error answer of the bridge.
type ServerError struct {
	Op   string // the operation
	Code string // wire.CodeXxx, e.g. "rate-limited"
	Msg  string
}

func (e *ServerError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("bridge %s: %s", e.Op, e.Msg)
	}
	return fmt.Sprintf("bridge %s: %s (%s)", e.Op, e.Msg, e.Code)
}

// Info is what the bridge said in hello.
type Info struct {
	Version           int           // protocol version in force
	Peers             []string      // other bridges' URLs
	Features          []string      // "dht", "chain", "serve"
	Window            int           // per-stream flow-control window
	MaxFrame          int           // largest message the bridge accepts
	IdleTimeout       time.Duration // the bridge closes sessions silent this long
	MaxStreams        int
	RequestsPerSecond int
}

// Has reports whether the bridge offers feature f.
func (i Info) Has(f string) bool {
	for _, x := range i.Features {
		if x == f {
			return true
		}
	}
	return false
}

type result struct {
	v   bencode.Value
	err error
}

// Client is one WebSocket session with a bridge. Its methods are safe for
// concurrent use.
type Client struct {
	url  string
	o    Options
	ws   MessageConn
	info Info
	log  *slog.Logger
	ctx  context.Context // cancelled when the connection ends
	stop context.CancelFunc

	mu         sync.Mutex
	nextID     int64
	pending    map[int64]chan result
	streams    map[uint32]*Stream
	nextStream uint32
	incoming   chan *Stream
	err        error
	done       chan struct{}
}

// Dial connects to a bridge and says hello. url is ws:// or wss://; an empty
// path means the bridge's /ws endpoint.
func Dial(ctx context.Context, url string) (*Client, error) { return DialWith(ctx, url, Options{}) }

// DialWith is Dial with options.
func DialWith(ctx context.Context, rawURL string, o Options) (*Client, error) {
	u, err := wsURL(rawURL)
	if err != nil {
		return nil, err
	}
	if o.MaxFrame == 0 {
		o.MaxFrame = 8 << 20
	}
	if o.Incoming == 0 {
		o.Incoming = 16
	}
	ws, err := dialWS(ctx, u, &o)
	if err != nil {
		return nil, fmt.Errorf("bridge client: dial %s: %w", u, err)
	}
	ws.SetReadLimit(int64(o.MaxFrame))
	c := &Client{
		url: u, o: o, ws: ws, log: o.Logger,
		pending:    map[int64]chan result{},
		streams:    map[uint32]*Stream{},
		nextStream: 1,
		incoming:   make(chan *Stream, o.Incoming),
		done:       make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	go c.readLoop()
	r, err := c.call(ctx, wire.OpHello, wire.Dict("v", wire.Version))
	if err != nil {
		c.Close()
		return nil, err
	}
	a := wire.ArgsOf(r)
	c.info = Info{
		Version:           int(a.Int("v", true)),
		Window:            int(a.Int("w", true)),
		MaxFrame:          int(a.Int("mf", true)),
		IdleTimeout:       time.Duration(a.Int("idle", true)) * time.Millisecond,
		MaxStreams:        int(a.Int("streams", false)),
		RequestsPerSecond: int(a.Int("rps", false)),
	}
	for _, v := range a.List("peers", false) {
		if v.Kind == bencode.String {
			c.info.Peers = append(c.info.Peers, string(v.Str))
		}
	}
	for _, v := range a.List("feat", false) {
		if v.Kind == bencode.String {
			c.info.Features = append(c.info.Features, string(v.Str))
		}
	}
	if err := a.Err(); err != nil || c.info.Window < 1 || c.info.MaxFrame < 64 || c.info.IdleTimeout <= 0 {
		c.Close()
		return nil, fmt.Errorf("bridge client: bad hello answer from %s: %v", u, err)
	}
	ka := o.KeepAlive
	if ka == 0 {
		ka = c.info.IdleTimeout / 3
	}
	go c.keepAlive(ka)
	return c, nil
}

// wsURL checks a bridge URL and adds the default path.
func wsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bridge client: bad URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("bridge client: URL %q must start with ws:// or wss://", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("bridge client: URL %q has no host", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	return u.String(), nil
}

// URL returns the bridge's WebSocket URL.
func (c *Client) URL() string { return c.url }

// Info returns the bridge's hello answer.
func (c *Client) Info() Info { return c.info }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection (status 1000) and every stream.
func (c *Client) Close() error {
	c.mu.Lock()
	open := c.err == nil
	c.mu.Unlock()
	if open {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		go func() { <-ctx.Done(); c.ws.CloseNow() }()
		c.ws.Close(StatusNormalClosure, "")
		cancel()
	}
	c.fail(ErrClosed)
	return nil
}

// fail ends the client with err (once).
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.err = err
	pending := c.pending
	c.pending = map[int64]chan result{}
	streams := c.streams
	c.streams = map[uint32]*Stream{}
	c.mu.Unlock()
	c.stop()
	c.ws.CloseNow()
	for _, ch := range pending {
		ch <- result{err: err}
	}
	for _, st := range streams {
		st.remoteClosed(err)
	}
	close(c.done)
}

func (c *Client) write(ctx context.Context, b []byte) error {
	if err := c.ws.Write(ctx, false, b); err != nil {
		if ctx.Err() == nil || c.ctx.Err() != nil {
			c.fail(err)
		}
		if e := c.Err(); e != nil {
			return e
		}
		return err
	}
	return nil
}

func (c *Client) send(m wire.Msg) error { return c.write(c.ctx, wire.AppendControl(nil, m)) }

// call sends a request and waits for its answer.
func (c *Client) call(ctx context.Context, op string, args bencode.Value) (bencode.Value, error) {
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return bencode.Value{}, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	// A cancelled request ctx must not tear the WebSocket down mid-write,
	// so the write is bounded by the connection's life only.
	if err := c.write(c.ctx, wire.AppendControl(nil, wire.Request(id, op, args))); err != nil {
		forget()
		return bencode.Value{}, err
	}
	select {
	case r := <-ch:
		if se, ok := r.err.(*ServerError); ok {
			se.Op = op
		}
		return r.v, r.err
	case <-ctx.Done():
		forget()
		return bencode.Value{}, fmt.Errorf("bridge %s: %w", op, ctx.Err())
	}
}

func (c *Client) readLoop() {
	lim := wire.DefaultLimits
	lim.MaxItems = 1 << 20
	for {
		text, b, err := c.ws.Read(c.ctx)
		if err != nil {
			c.fail(err)
			return
		}
		if text {
			c.fail(errors.New("bridge sent a text message"))
			return
		}
		f, err := wire.DecodeFrameWith(b, lim)
		if err != nil {
			c.fail(err)
			return
		}
		if f.Msg == nil {
			c.mu.Lock()
			st := c.streams[f.Stream]
			c.mu.Unlock()
			if st != nil {
				st.push(f.Data)
			}
			continue
		}
		m := f.Msg
		switch m.Type {
		case wire.TypeResponse, wire.TypeError:
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch == nil {
				continue // the caller gave up
			}
			if m.Type == wire.TypeError {
				ch <- result{err: &ServerError{Code: m.Code, Msg: m.Err}}
			} else {
				ch <- result{v: m.Body}
			}
		case wire.TypeNotice:
			c.notice(m)
		default:
			c.fail(fmt.Errorf("bridge sent a %q message", m.Type))
			return
		}
	}
}

func (c *Client) notice(m *wire.Msg) {
	a := wire.ArgsOf(m.Body)
	id := a.Int("s", true)
	if a.Err() != nil || id < 0 || id > 1<<32-1 {
		c.log.Debug("bridge client: bad notice", "notice", m.Op, "err", a.Err())
		return
	}
	c.mu.Lock()
	st := c.streams[uint32(id)]
	c.mu.Unlock()
	switch m.Op {
	case wire.NoticeClose:
		if st != nil {
			var err error
			if e := a.Str("e", false); e != "" {
				err = fmt.Errorf("bridge: stream closed: %s", e)
			}
			c.forget(st)
			st.remoteClosed(err)
		}
	case wire.NoticeWindow:
		if n := a.Int("n", true); st != nil && n > 0 {
			st.grant(int(n))
		}
	case wire.NoticeIncoming:
		h := a.Hash20("h", true)
		remote := a.Str("remote", false)
		if a.Err() != nil || id%2 != 0 || st != nil {
			c.log.Debug("bridge client: bad incoming notice", "err", a.Err())
			return
		}
		st = newStream(c, uint32(id), parseAddr(remote))
		st.infoHash = resource.Target(h)
		c.mu.Lock()
		if c.err == nil {
			c.streams[st.id] = st
		}
		c.mu.Unlock()
		select {
		case c.incoming <- st:
		default:
			st.Close() // nobody accepting: refuse
		}
	}
}

func (c *Client) forget(st *Stream) {
	c.mu.Lock()
	if c.streams[st.id] == st {
		delete(c.streams, st.id)
	}
	c.mu.Unlock()
}

func (c *Client) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, every)
		_, err := c.call(ctx, wire.OpPing, wire.Dict())
		cancel()
		var se *ServerError
		if err != nil && !errors.As(err, &se) && c.ctx.Err() == nil {
			c.fail(fmt.Errorf("bridge did not answer a ping within %v: %w", every, err))
			return
		}
	}
}

// Ping measures a round trip to the bridge.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	t := time.Now()
	_, err := c.call(ctx, wire.OpPing, wire.Dict())
	return time.Since(t), err
}

// Item is a DHT item exactly as the network delivered it: p's signed bytes,
// the signature and the signer. Verify it yourself; a tracker summary has
// no signature.
type Item struct {
	P       []byte
	SigP    []byte
	SigUser string
}

// GetOptions tune GetData.
type GetOptions struct {
	MinMulti int           // multi resources: stop after this many nodes answered
	Timeout  time.Duration // lookup bound asked of the bridge (it caps it)
}

// GetData looks up (name, res, single or multi) in the DHT through the
// bridge.
func (c *Client) GetData(ctx context.Context, name, res string, multi bool, o GetOptions) ([]Item, error) {
	t := resource.Single
	if multi {
		t = resource.Multi
	}
	args := wire.Dict("n", name, "r", res, "t", t)
	if o.MinMulti > 0 {
		args.Set("minMulti", bencode.NewInt(int64(o.MinMulti)))
	}
	if o.Timeout > 0 {
		args.Set("timeoutMs", bencode.NewInt(max(1, o.Timeout.Milliseconds())))
	}
	r, err := c.call(ctx, wire.OpGetData, args)
	if err != nil {
		return nil, err
	}
	return parseItems(r)
}

func parseItems(r bencode.Value) ([]Item, error) {
	list, ok := r.GetList("items")
	if !ok {
		return nil, errors.New("bridge getData: answer without items")
	}
	out := make([]Item, 0, len(list))
	for _, v := range list {
		if v.Kind != bencode.Dict {
			return nil, errors.New("bridge getData: item is not a dictionary")
		}
		a := wire.ArgsOf(v)
		it := Item{P: a.Bytes("p", true), SigP: a.Bytes("sig_p", false), SigUser: a.Str("sig_user", false)}
		if err := a.Err(); err != nil {
			return nil, fmt.Errorf("bridge getData: %w", err)
		}
		out = append(out, it)
	}
	return out, nil
}

// PutData has the bridge's DHT publish an item signed in the browser: p is
// the bencoded dictionary exactly as signed. queued is true when no DHT
// node accepted it yet (the bridge keeps retrying).
func (c *Client) PutData(ctx context.Context, p, sigP []byte, sigUser string) (queued bool, err error) {
	r, err := c.call(ctx, wire.OpPutData, wire.Dict("p", p, "sig_p", sigP, "sig_user", sigUser))
	if err != nil {
		return false, err
	}
	q, _ := r.GetInt("queued")
	return q != 0, nil
}

// Announce has the bridge announce its swarm port in the DHT for user's
// swarm, which this client must Serve. It returns the port announced.
func (c *Client) Announce(ctx context.Context, user string) (int, error) {
	r, err := c.call(ctx, wire.OpAnnounce, wire.Dict("n", user))
	if err != nil {
		return 0, err
	}
	p, _ := r.GetInt("port")
	return int(p), nil
}

// GetPeers returns the swarm peers announced in the DHT for user.
func (c *Client) GetPeers(ctx context.Context, user string) ([]netip.AddrPort, error) {
	r, err := c.call(ctx, wire.OpGetPeers, wire.Dict("n", user))
	if err != nil {
		return nil, err
	}
	list, _ := r.GetList("peers")
	out := make([]netip.AddrPort, 0, len(list))
	for _, v := range list {
		if v.Kind != bencode.String || (len(v.Str) != 6 && len(v.Str) != 18) {
			return nil, errors.New("bridge getPeers: peer is not 6 or 18 bytes")
		}
		a, _ := netip.AddrFromSlice(v.Str[:len(v.Str)-2])
		port := uint16(v.Str[len(v.Str)-2])<<8 | uint16(v.Str[len(v.Str)-1])
		out = append(out, netip.AddrPortFrom(a, port))
	}
	return out, nil
}

// HeaderSize is the size of a serialized twister block header.
const HeaderSize = 84

// Headers returns up to count serialized block headers from height from on
// (the bridge caps count), and the bridge's tip height.
func (c *Client) Headers(ctx context.Context, from int64, count int) (headers [][]byte, tip int64, err error) {
	r, err := c.call(ctx, wire.OpHeaders, wire.Dict("from", from, "count", count))
	if err != nil {
		return nil, 0, err
	}
	a := wire.ArgsOf(r)
	all, tip := a.Bytes("headers", true), a.Int("tip", true)
	if err := a.Err(); err != nil {
		return nil, 0, fmt.Errorf("bridge headers: %w", err)
	}
	if len(all)%HeaderSize != 0 {
		return nil, 0, fmt.Errorf("bridge headers: %d bytes is not a multiple of %d", len(all), HeaderSize)
	}
	for len(all) > 0 {
		headers = append(headers, all[:HeaderSize:HeaderSize])
		all = all[HeaderSize:]
	}
	return headers, tip, nil
}

// ProveUser returns the encoded light-client proof of name's registrations
// (decode it with light.DecodeUserProof and verify it against your headers).
func (c *Client) ProveUser(ctx context.Context, name string) ([]byte, error) {
	r, err := c.call(ctx, wire.OpProveUser, wire.Dict("n", name))
	if err != nil {
		return nil, err
	}
	p, ok := r.GetBytes("proof")
	if !ok {
		return nil, errors.New("bridge proveUser: answer without proof")
	}
	return p, nil
}

// SendTx relays a serialized registration or key-replacement transaction.
func (c *Client) SendTx(ctx context.Context, raw []byte) error {
	_, err := c.call(ctx, wire.OpSendTx, wire.Dict("tx", raw))
	return err
}

// Tip returns the bridge chain's tip height and hash (raw byte order).
func (c *Client) Tip(ctx context.Context) (int64, []byte, error) {
	r, err := c.call(ctx, wire.OpTip, wire.Dict())
	if err != nil {
		return 0, nil, err
	}
	a := wire.ArgsOf(r)
	h, hash := a.Int("height", true), a.Bytes("hash", true)
	return h, hash, a.Err()
}

// Call sends any operation with raw arguments and returns the raw result;
// for operations this package has no method for.
func (c *Client) Call(ctx context.Context, op string, args bencode.Value) (bencode.Value, error) {
	if args.Kind != bencode.Dict {
		args = wire.Dict()
	}
	return c.call(ctx, op, args)
}

// OpenStream has the bridge dial a native swarm peer (ip:port) and returns
// the relayed connection. The first bytes written must be a twister swarm
// handshake (the bridge checks).
func (c *Client) OpenStream(ctx context.Context, addr string) (net.Conn, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	id := c.nextStream
	c.nextStream += 2
	st := newStream(c, id, parseAddr(addr))
	c.streams[id] = st
	c.mu.Unlock()
	r, err := c.call(ctx, wire.OpOpen, wire.Dict("s", id, "addr", addr))
	if err != nil {
		c.forget(st)
		st.remoteClosed(err)
		var se *ServerError
		if !errors.As(err, &se) && !errors.Is(err, ErrClosed) {
			// Cancelled: the bridge may still connect; tell it to drop it.
			c.send(wire.Notice(wire.NoticeClose, wire.Dict("s", id)))
		}
		return nil, err
	}
	if ra, ok := r.GetString("ra"); ok {
		st.remote = parseAddr(ra)
	}
	return st, nil
}

// Dial is OpenStream; it makes a Client a swarm.Dialer.
func (c *Client) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return c.OpenStream(ctx, addr)
}

// Serve tells the bridge that this browser holds user's swarm: native peers
// connecting to the bridge for it are handed over as incoming streams
// (Accept), and the bridge announces its swarm port in the DHT for it.
func (c *Client) Serve(ctx context.Context, user string) error {
	_, err := c.call(ctx, wire.OpServe, wire.Dict("n", user))
	return err
}

// Unserve stops serving user's swarm.
func (c *Client) Unserve(ctx context.Context, user string) error {
	_, err := c.call(ctx, wire.OpUnserve, wire.Dict("n", user))
	return err
}

// Accept waits for the next incoming stream: a native peer that connected
// to the bridge for a swarm this client serves. The stream starts with the
// peer's handshake, as a TCP connection would.
func (c *Client) Accept() (net.Conn, error) { return c.accept(nil) }

func (c *Client) accept(cancel <-chan struct{}) (net.Conn, error) {
	select {
	case st := <-c.incoming:
		return st, nil
	case <-c.done:
		return nil, fmt.Errorf("%w: %w", net.ErrClosed, c.Err())
	case <-cancel:
		return nil, net.ErrClosed
	}
}

// Listener returns a net.Listener over Accept, for swarm.Config.Listener.
// Closing it stops accepting; the Client stays open.
func (c *Client) Listener() net.Listener {
	return &listener{accept: c.accept, addr: bridgeAddr(c.url), done: make(chan struct{})}
}

type listener struct {
	accept func(cancel <-chan struct{}) (net.Conn, error)
	addr   net.Addr
	once   sync.Once
	done   chan struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	return l.accept(l.done)
}

func (l *listener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *listener) Addr() net.Addr { return l.addr }

// bridgeAddr is the address of a bridge session (its URL).
type bridgeAddr string

func (a bridgeAddr) Network() string { return "bridge" }
func (a bridgeAddr) String() string  { return string(a) }

// parseAddr turns "ip:port" into a *net.TCPAddr (so swarm code sees the
// native peer's real address), anything else into a bridgeAddr.
func parseAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return bridgeAddr(strings.TrimSpace(s))
}
