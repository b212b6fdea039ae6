package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gotwister/twister/resource"
)

// WSPath is the path of the bridge's WebSocket endpoint.
const WSPath = "/ws"

// Server is a twister bridge: an http.Handler serving the bridge protocol
// on WSPath, /healthz, /metrics, and optionally the signaling server at
// /signal and a static directory at /. Create it with New and stop it with
// Close.
type Server struct {
	cfg     Config
	lim     Limits
	log     *slog.Logger
	clock   Clock
	mux     *http.ServeMux
	m       *metrics
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // background goroutines and sessions
	sched   *scheduler
	annPort int

	clients atomic.Int64 // sessions open or being accepted

	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
	served   map[resource.Target]*served
	hsSem    chan struct{} // inbound handshakes in progress
}

// served is an info-hash some browsers serve.
type served struct {
	name       string // user name, if a client gave it (needed to announce)
	sessions   []*session
	next       int       // round-robin index for incoming connections
	announced  time.Time // last successful announce
	tried      time.Time // last attempt
	announcing bool
}

// New checks cfg and returns a running Server: its idle sweeper, DHT workers,
// announce loop and (with a SwarmListener) its accept loop are started.
func New(cfg Config) (*Server, error) {
	lim := cfg.Limits
	lim.setDefaults()
	if err := lim.check(); err != nil {
		return nil, err
	}
	for _, p := range cfg.AllowedOrigins {
		if strings.TrimSpace(p) == "" {
			return nil, errors.New("bridge: empty origin pattern")
		}
		if _, err := matchPattern(p); err != nil {
			return nil, fmt.Errorf("bridge: bad origin pattern %q: %w", p, err)
		}
	}
	if cfg.AnnounceInterval == 0 {
		cfg.AnnounceInterval = 15 * time.Minute
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	if cfg.DialPolicy == nil {
		cfg.DialPolicy = DefaultDialPolicy
	}
	s := &Server{
		cfg:      cfg,
		lim:      lim,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		m:        newMetrics(),
		sessions: map[*session]struct{}{},
		served:   map[resource.Target]*served{},
		hsSem:    make(chan struct{}, lim.MaxIncomingHandshakes),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	s.annPort = cfg.AnnouncePort
	if s.annPort == 0 && cfg.SwarmListener != nil {
		if ap, err := netip.ParseAddrPort(cfg.SwarmListener.Addr().String()); err == nil {
			s.annPort = int(ap.Port())
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sched = newScheduler(lim.DHTWorkers)

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+WSPath, s.serveWS)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.writeMetrics(w)
	})
	if cfg.Signal != nil {
		s.mux.Handle("/signal", cfg.Signal)
	}
	if cfg.StaticDir != "" {
		s.mux.Handle("/", http.FileServer(http.Dir(cfg.StaticDir)))
	}

	s.wg.Add(2 + lim.DHTWorkers)
	for range lim.DHTWorkers {
		go s.sched.work(&s.wg)
	}
	go s.sweepLoop()
	go s.announceLoop()
	if cfg.SwarmListener != nil {
		s.wg.Add(1)
		go s.acceptLoop()
	}
	return s, nil
}

// ServeHTTP routes WSPath, /healthz, /metrics, /signal and /.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close refuses new sessions, closes every session (status 1001) and stream,
// closes the SwarmListener and waits for the server's goroutines. The DHT
// and chain are left open (they are the caller's).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	s.cancel()
	if s.cfg.SwarmListener != nil {
		s.cfg.SwarmListener.Close()
	}
	var wg sync.WaitGroup
	for _, ss := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.c.Close(websocket.StatusGoingAway, "bridge shutting down")
			ss.c.CloseNow()
		}()
	}
	wg.Wait()
	s.sched.close()
	s.wg.Wait()
	return nil
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	st := s.Stats()
	s.mu.Lock()
	ok := !s.closed
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{
		"ok":           ok,
		"version":      protocolVersion,
		"clients":      st.Clients,
		"streams":      st.StreamsIn + st.StreamsOut,
		"dht_nodes":    st.DHTNodes,
		"chain_height": st.ChainHeight,
		"served":       st.ServedHashes,
	})
}

// statusWriter records the status code written by websocket.Accept on
// failure, so refusals can be counted.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if n := s.clients.Add(1); n > int64(s.lim.MaxClients) {
		s.clients.Add(-1)
		s.m.rejected.add(RejectClients, 1)
		http.Error(w, "bridge: too many clients, try another bridge", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.clients.Add(-1)
		http.Error(w, "bridge: shutting down", http.StatusServiceUnavailable)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	c, err := websocket.Accept(sw, r, &websocket.AcceptOptions{
		OriginPatterns:  s.cfg.AllowedOrigins,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		s.clients.Add(-1)
		if sw.code == http.StatusForbidden {
			s.m.rejected.add(RejectOrigin, 1)
		}
		s.log.Debug("bridge: websocket refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	c.SetReadLimit(int64(s.lim.MaxFrame))
	ss := newSession(s, c, r.RemoteAddr)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.clients.Add(-1)
		c.Close(websocket.StatusGoingAway, "bridge shutting down")
		return
	}
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.m.sessionsTotal.Add(1)
	// The session reads in a fresh goroutine and the handler returns: the
	// connection is hijacked, so net/http lets go of its per-connection
	// state, and the new goroutine's stack stays small (the handler's grew
	// while parsing the request). One goroutine per idle session.
	go func() {
		ss.run()
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
		s.clients.Add(-1)
		s.wg.Done()
	}()
}

// sweepLoop closes sessions that have been silent for IdleTimeout: one
// goroutine for all sessions instead of a timer each.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	period := max(s.lim.IdleTimeout/8, 50*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var idle []*session
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := s.clock.Now().UnixNano()
		limit := int64(s.lim.IdleTimeout)
		idle = idle[:0]
		s.mu.Lock()
		for ss := range s.sessions {
			if now-ss.last.Load() > limit && !ss.idleClosed {
				ss.idleClosed = true
				idle = append(idle, ss)
			}
		}
		s.mu.Unlock()
		for _, ss := range idle {
			s.m.rejected.add(RejectIdle, 1)
			go ss.c.Close(websocket.StatusPolicyViolation, "idle timeout")
		}
	}
}

// matchPattern validates an origin pattern the way the WebSocket library
// will use it.
func matchPattern(p string) (bool, error) {
	_, err := path.Match(strings.ToLower(p), "x")
	return false, err
}
