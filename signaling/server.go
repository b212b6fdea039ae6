//go:build !js

package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// Clock tells the time; tests inject a manual one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	// OriginPatterns lists the browser origins allowed besides the server's
	// own host (same-origin is always allowed; requests without an Origin
	// header, i.e. native clients, too). Patterns are host patterns as in
	// path.Match, e.g. "example.org", "*.example.org", "localhost:*", or
	// with a scheme, "https://example.org". Default: same-origin only.
	OriginPatterns []string

	MaxMessageBytes   int           // largest frame accepted; default 16 KiB
	MessagesPerSecond float64       // sustained frames per second per connection; default 20
	Burst             int           // frames allowed at once; default 40
	MaxViolations     int           // rate-limited frames tolerated before closing; default 50
	MaxSwarmsPerPeer  int           // swarms one connection may join; default 32
	MaxPeersPerSwarm  int           // members of one swarm; default 1000
	MaxPeersListed    int           // ids in a peers frame (random subset); default 30
	MaxConnections    int           // open WebSockets; beyond it HTTP 503; default 10000
	IdleTimeout       time.Duration // close after this long with no frame or pong; default 60 s
	PingInterval      time.Duration // how often to ping; default IdleTimeout/3
	HelloTimeout      time.Duration // time allowed before hello; default 10 s
	WriteTimeout      time.Duration // per outgoing frame; default 10 s
	SendQueue         int           // outgoing frames buffered per connection; default 256

	Logger *slog.Logger // default: discard
	Clock  Clock        // default: the system clock
}

func (c *Config) withDefaults() Config {
	d := *c
	def := func(v *int, x int) {
		if *v <= 0 {
			*v = x
		}
	}
	def(&d.MaxMessageBytes, 16<<10)
	def(&d.Burst, 40)
	def(&d.MaxViolations, 50)
	def(&d.MaxSwarmsPerPeer, 32)
	def(&d.MaxPeersPerSwarm, 1000)
	def(&d.MaxPeersListed, 30)
	def(&d.MaxConnections, 10000)
	def(&d.SendQueue, 256)
	if d.MessagesPerSecond <= 0 {
		d.MessagesPerSecond = 20
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = 60 * time.Second
	}
	if d.PingInterval <= 0 {
		d.PingInterval = d.IdleTimeout / 3
	}
	if d.HelloTimeout <= 0 {
		d.HelloTimeout = 10 * time.Second
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = 10 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Clock == nil {
		d.Clock = systemClock{}
	}
	return d
}

// Stats is a snapshot of a Server's activity.
type Stats struct {
	Connections int    // open WebSockets (including those before hello)
	Peers       int    // connections that completed hello
	Swarms      int    // swarms with at least one member
	Relayed     uint64 // signals relayed since start
	Notices     uint64 // joined/left notices sent since start
	Errors      uint64 // error frames sent since start
}

// Server is the signaling rendezvous; it implements http.Handler. Create it
// with NewServer and stop it with Close.
type Server struct {
	cfg Config
	ctx context.Context // canceled by Close

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	peers  map[string]*conn
	swarms map[string]map[string]*conn

	relayed, notices, errs atomic.Uint64
}

// NewServer checks cfg and returns a Server. A malformed origin pattern is
// an error here rather than a silent 403 later.
func NewServer(cfg Config) (*Server, error) {
	for _, p := range cfg.OriginPatterns {
		if strings.TrimSpace(p) == "" {
			return nil, errors.New("signaling: empty origin pattern")
		}
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return nil, fmt.Errorf("signaling: origin pattern %q: %w", p, err)
		}
	}
	if cfg.MaxMessageBytes < 0 || cfg.Burst < 0 || cfg.MaxSwarmsPerPeer < 0 || cfg.MaxPeersPerSwarm < 0 ||
		cfg.MaxPeersListed < 0 || cfg.MaxConnections < 0 || cfg.MessagesPerSecond < 0 ||
		cfg.IdleTimeout < 0 || cfg.PingInterval < 0 || cfg.HelloTimeout < 0 || cfg.WriteTimeout < 0 {
		return nil, errors.New("signaling: negative limit in Config")
	}
	c := cfg.withDefaults()
	if c.PingInterval >= c.IdleTimeout {
		return nil, fmt.Errorf("signaling: ping interval %v must be shorter than idle timeout %v", c.PingInterval, c.IdleTimeout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:    c,
		ctx:    ctx,
		cancel: cancel,
		conns:  map[*conn]struct{}{},
		peers:  map[string]*conn{},
		swarms: map[string]map[string]*conn{},
	}, nil
}

// Stats returns current counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Connections: len(s.conns), Peers: len(s.peers), Swarms: len(s.swarms)}
	s.mu.Unlock()
	st.Relayed = s.relayed.Load()
	st.Notices = s.notices.Load()
	st.Errors = s.errs.Load()
	return st
}

// Close closes every connection with status 1001 (going away), refuses new
// ones, and waits for the connection handlers to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shut(websocket.StatusGoingAway, "server shutting down", false)
	}
	s.wg.Wait()
	s.cancel()
	return nil
}

// conn is one WebSocket client.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	remote  string
	id      string // set once by hello (under s.mu)
	swarms  map[string]struct{}
	out     chan []byte
	done    chan struct{}
	once    sync.Once
	limiter *rate.Limiter
	lastIn  atomic.Int64 // UnixNano of the last sign of life
	closeMu sync.Mutex
	code    websocket.StatusCode
	reason  string
	abrupt  bool
}

// ServeHTTP upgrades the request to a WebSocket and serves the protocol
// until the connection ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "signaling server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if len(s.conns) >= s.cfg.MaxConnections {
		s.mu.Unlock()
		http.Error(w, "too many signaling connections", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		s.cfg.Logger.Info("signaling: upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	ws.SetReadLimit(int64(s.cfg.MaxMessageBytes))
	now := s.cfg.Clock.Now()
	c := &conn{
		s:       s,
		ws:      ws,
		remote:  r.RemoteAddr,
		swarms:  map[string]struct{}{},
		out:     make(chan []byte, s.cfg.SendQueue),
		done:    make(chan struct{}),
		limiter: rate.NewLimiter(rate.Limit(s.cfg.MessagesPerSecond), s.cfg.Burst),
	}
	c.lastIn.Store(now.UnixNano())

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()

	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop() }()
	go c.pingLoop()
	c.readLoop()

	s.drop(c)
	c.shut(websocket.StatusNormalClosure, "", false)
	<-writerDone
	ws.CloseNow()
	code, reason, _ := c.closeStatus()
	s.cfg.Logger.Debug("signaling: connection closed", "remote", c.remote, "peer", c.id, "code", code, "reason", reason)
}

// shut asks the connection to end with the given status (first call wins).
// The writer then sends what is queued, followed by the close frame; with
// abrupt (a peer that stopped responding) it drops the socket at once.
func (c *conn) shut(code websocket.StatusCode, reason string, abrupt bool) {
	c.once.Do(func() {
		c.closeMu.Lock()
		c.code, c.reason, c.abrupt = code, reason, abrupt
		c.closeMu.Unlock()
		close(c.done)
	})
}

func (c *conn) closeStatus() (websocket.StatusCode, string, bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.code, c.reason, c.abrupt
}

func (c *conn) readLoop() {
	violations := 0
	for {
		typ, data, err := c.ws.Read(context.Background()) // ended by closing ws
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				c.s.cfg.Logger.Debug("signaling: read", "remote", c.remote, "err", err)
			}
			var ce websocket.CloseError
			switch {
			case errors.As(err, &ce):
				c.shut(ce.Code, ce.Reason, false)
			case errors.Is(err, websocket.ErrMessageTooBig):
				c.shut(websocket.StatusMessageTooBig, "frame too large", false)
			default:
				c.shut(websocket.StatusGoingAway, "read failed", true)
			}
			return
		}
		now := c.s.cfg.Clock.Now()
		c.lastIn.Store(now.UnixNano())
		if !c.limiter.AllowN(now, 1) {
			violations++
			if violations > c.s.cfg.MaxViolations {
				c.shut(websocket.StatusPolicyViolation, "message rate exceeded", false)
				return
			}
			c.sendError(Frame{Code: CodeRateLimited, Message: "too many frames; this one was dropped"})
			continue
		}
		if typ != websocket.MessageText {
			c.shut(websocket.StatusUnsupportedData, "only JSON text frames", false)
			return
		}
		f, err := DecodeFrame(data)
		if err != nil {
			c.sendError(Frame{Code: CodeBadFrame, Message: err.Error()})
			continue
		}
		c.s.handle(c, f)
		select {
		case <-c.done:
			return
		default:
		}
	}
}

// writeLoop sends queued frames; once the connection is shut it flushes
// the queue and closes the WebSocket, which also ends the reader.
func (c *conn) writeLoop() {
	write := func(b []byte) error {
		ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.WriteTimeout)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, b)
	}
	for {
		select {
		case b := <-c.out:
			if err := write(b); err != nil {
				c.shut(websocket.StatusGoingAway, "write failed", true)
			}
			continue
		case <-c.done:
		}
		code, reason, abrupt := c.closeStatus()
		if abrupt {
			c.ws.CloseNow()
			return
		}
	flush:
		for {
			select {
			case b := <-c.out:
				if write(b) != nil {
					break flush
				}
			default:
				break flush
			}
		}
		c.ws.Close(code, reason)
		return
	}
}

// pingLoop closes connections that never say hello or go quiet, and pings
// the others so that a live browser (which answers pings by itself) stays.
func (c *conn) pingLoop() {
	t := time.NewTicker(c.s.cfg.PingInterval)
	defer t.Stop()
	hello := time.NewTimer(c.s.cfg.HelloTimeout)
	defer hello.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-hello.C:
			if c.idOf() == "" {
				c.shut(websocket.StatusPolicyViolation, "no hello", false)
				return
			}
			continue
		case <-t.C:
		}
		if c.s.cfg.Clock.Now().Sub(time.Unix(0, c.lastIn.Load())) >= c.s.cfg.IdleTimeout {
			c.shut(websocket.StatusPolicyViolation, "idle timeout", true)
			return
		}
		ctx, cancel := context.WithTimeout(c.s.ctx, c.s.cfg.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err == nil {
			c.lastIn.Store(c.s.cfg.Clock.Now().UnixNano())
		}
	}
}

func (c *conn) idOf() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.id
}

// enqueue queues an encoded frame; a connection too slow to drain its queue
// is closed rather than allowed to hold up others.
func (c *conn) enqueue(b []byte) {
	select {
	case <-c.done:
	case c.out <- b:
	default:
		c.shut(websocket.StatusPolicyViolation, "too slow to receive", true)
	}
}

func (c *conn) send(f Frame) {
	b, err := json.Marshal(f)
	if err != nil { // cannot happen for frames the server builds
		c.s.cfg.Logger.Error("signaling: encoding frame", "err", err)
		return
	}
	c.enqueue(b)
}

func (c *conn) sendError(f Frame) {
	f.Type = TypeError
	c.s.errs.Add(1) // counted before sending, so a client that saw it sees the count
	c.send(f)
}

// handle applies one valid frame from c.
func (s *Server) handle(c *conn, f Frame) {
	if f.Type == TypeHello {
		s.hello(c, f)
		return
	}
	if c.idOf() == "" {
		c.sendError(Frame{Code: CodeHelloRequired, Message: "send hello first"})
		return
	}
	switch f.Type {
	case TypeJoin:
		s.join(c, f.Swarm)
	case TypeLeave:
		s.leave(c, f.Swarm)
	case TypeSignal:
		s.relay(c, f)
	default:
		c.sendError(Frame{Code: CodeBadFrame, Message: fmt.Sprintf("%q frames are sent by the server only", f.Type)})
	}
}

func (s *Server) hello(c *conn, f Frame) {
	s.mu.Lock()
	if c.id != "" {
		id := c.id
		s.mu.Unlock()
		c.sendError(Frame{Code: CodeAlreadyHello, Peer: id, Message: "hello already done for this connection"})
		return
	}
	id := f.Peer
	if id != "" {
		if _, taken := s.peers[id]; taken {
			s.mu.Unlock()
			c.sendError(Frame{Code: CodePeerIDTaken, Peer: id, Message: "peer id in use by another connection"})
			return
		}
	} else {
		for id == "" || s.peers[id] != nil {
			id = randomID()
		}
	}
	c.id = id
	s.peers[id] = c
	s.mu.Unlock()
	c.send(Frame{Type: TypeHello, Peer: id})
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) join(c *conn, swarm string) {
	s.mu.Lock()
	members := s.swarms[swarm]
	_, already := c.swarms[swarm]
	if !already {
		if len(c.swarms) >= s.cfg.MaxSwarmsPerPeer {
			s.mu.Unlock()
			c.sendError(Frame{Code: CodeTooManySwarms, Swarm: swarm,
				Message: fmt.Sprintf("already in %d swarms, the limit", s.cfg.MaxSwarmsPerPeer)})
			return
		}
		if len(members) >= s.cfg.MaxPeersPerSwarm {
			s.mu.Unlock()
			c.sendError(Frame{Code: CodeSwarmFull, Swarm: swarm,
				Message: fmt.Sprintf("swarm has %d peers, the limit", s.cfg.MaxPeersPerSwarm)})
			return
		}
	}
	others := make([]string, 0, len(members))
	for id := range members {
		if id != c.id {
			others = append(others, id)
		}
	}
	var notify []*conn
	if !already {
		if members == nil {
			members = map[string]*conn{}
			s.swarms[swarm] = members
		}
		for _, m := range members {
			notify = append(notify, m)
		}
		members[c.id] = c
		c.swarms[swarm] = struct{}{}
	}
	id := c.id
	s.mu.Unlock()

	if len(others) > s.cfg.MaxPeersListed {
		mrand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		others = others[:s.cfg.MaxPeersListed]
	}
	c.send(Frame{Type: TypePeers, Swarm: swarm, Peers: others})
	s.broadcast(notify, Frame{Type: TypeJoined, Swarm: swarm, Peer: id})
}

func (s *Server) broadcast(to []*conn, f Frame) {
	if len(to) == 0 {
		return
	}
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	s.notices.Add(uint64(len(to)))
	for _, m := range to {
		m.enqueue(b)
	}
}

// removeFromSwarm takes c out of swarm (under s.mu) and returns the members
// to notify.
func (s *Server) removeFromSwarm(c *conn, swarm string) []*conn {
	members := s.swarms[swarm]
	delete(members, c.id)
	delete(c.swarms, swarm)
	if len(members) == 0 {
		delete(s.swarms, swarm)
		return nil
	}
	notify := make([]*conn, 0, len(members))
	for _, m := range members {
		notify = append(notify, m)
	}
	return notify
}

func (s *Server) leave(c *conn, swarm string) {
	s.mu.Lock()
	if _, ok := c.swarms[swarm]; !ok {
		s.mu.Unlock()
		c.sendError(Frame{Code: CodeNotInSwarm, Swarm: swarm, Message: "not a member of this swarm"})
		return
	}
	notify := s.removeFromSwarm(c, swarm)
	id := c.id
	s.mu.Unlock()
	s.broadcast(notify, Frame{Type: TypeLeft, Swarm: swarm, Peer: id})
}

// drop removes a finished connection and announces it left its swarms.
func (s *Server) drop(c *conn) {
	type notice struct {
		to    []*conn
		swarm string
	}
	var notices []notice
	s.mu.Lock()
	delete(s.conns, c)
	id := c.id
	if id != "" && s.peers[id] == c {
		delete(s.peers, id)
	}
	for swarm := range c.swarms {
		notices = append(notices, notice{s.removeFromSwarm(c, swarm), swarm})
	}
	s.mu.Unlock()
	for _, n := range notices {
		s.broadcast(n.to, Frame{Type: TypeLeft, Swarm: n.swarm, Peer: id})
	}
}

func (s *Server) relay(c *conn, f Frame) {
	s.mu.Lock()
	members := s.swarms[f.Swarm]
	if _, ok := c.swarms[f.Swarm]; !ok {
		s.mu.Unlock()
		c.sendError(Frame{Code: CodeNotInSwarm, Swarm: f.Swarm, To: f.To, Message: "join the swarm before signaling in it"})
		return
	}
	target := members[f.To]
	if target == nil || target == c {
		s.mu.Unlock()
		c.sendError(Frame{Code: CodeUnknownPeer, Swarm: f.Swarm, To: f.To, Message: "no such peer in this swarm"})
		return
	}
	f.From = c.id
	s.mu.Unlock()
	s.relayed.Add(1)
	target.send(f)
}
