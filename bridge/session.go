package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/resource"
)

const protocolVersion = wire.Version

// session is one browser's WebSocket. Its reader runs in the HTTP handler's
// goroutine; nothing else runs for an idle session (idle timeouts are
// checked by the server's sweeper). Streams, serves and the byte limiter are
// allocated on first use.
type session struct {
	s      *Server
	c      *websocket.Conn
	remote string
	ctx    context.Context
	cancel context.CancelFunc
	last   atomic.Int64 // unix nanos of the last frame received

	idleClosed bool // guarded by s.mu

	// Reader goroutine only.
	hello  bool
	tokens float64
	tokAt  int64

	// Guarded by the scheduler's mutex.
	jobs   []func()
	inRing bool

	mu      sync.Mutex
	done    bool
	streams map[uint32]*stream
	serves  map[resource.Target]struct{}
	pending int
	nextIn  uint32
	bytes   *rate.Limiter
}

func newSession(s *Server, c *websocket.Conn, remote string) *session {
	ss := &session{s: s, c: c, remote: remote}
	ss.ctx, ss.cancel = context.WithCancel(context.Background())
	ss.last.Store(s.clock.Now().UnixNano())
	return ss
}

// run reads frames until the WebSocket ends, then releases everything.
func (ss *session) run() {
	defer ss.end()
	s := ss.s
	for {
		typ, b, err := ss.c.Read(ss.ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				s.m.rejected.add(RejectFrame, 1)
			}
			s.log.Debug("bridge: session ended", "remote", ss.remote, "err", err)
			return
		}
		ss.last.Store(s.clock.Now().UnixNano())
		s.m.wsFramesIn.Add(1)
		s.m.wsBytesIn.Add(uint64(len(b)))
		if typ != websocket.MessageBinary {
			s.m.rejected.add(RejectFrame, 1)
			ss.c.Close(websocket.StatusUnsupportedData, "bridge protocol uses binary messages only")
			return
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			s.m.rejected.add(RejectFrame, 1)
			ss.c.Close(websocket.StatusInvalidFramePayloadData, closeReason(err.Error()))
			return
		}
		if f.Msg == nil {
			ss.data(f)
			continue
		}
		switch f.Msg.Type {
		case wire.TypeRequest:
			ss.request(f.Msg)
		case wire.TypeNotice:
			ss.notice(f.Msg)
		default:
			s.m.rejected.add(RejectFrame, 1)
			ss.c.Close(websocket.StatusPolicyViolation, "browsers send requests, notices and data only")
			return
		}
	}
}

// closeReason fits a reason into a close frame (123 bytes).
func closeReason(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func (ss *session) end() {
	ss.mu.Lock()
	ss.done = true
	streams := ss.streams
	ss.streams = nil
	serves := ss.serves
	ss.serves = nil
	ss.mu.Unlock()
	for _, st := range streams {
		st.shutdown(nil, false)
	}
	ss.s.unserveAll(ss, serves)
	ss.cancel()
	ss.c.CloseNow()
}

// writeFrame sends one WebSocket message; a failure ends the session.
func (ss *session) writeFrame(b []byte) error {
	ctx, cancel := context.WithTimeout(ss.ctx, ss.s.lim.WriteTimeout)
	err := ss.c.Write(ctx, websocket.MessageBinary, b)
	cancel()
	if err != nil {
		ss.c.CloseNow()
		return err
	}
	ss.s.m.wsFramesOut.Add(1)
	ss.s.m.wsBytesOut.Add(uint64(len(b)))
	return nil
}

func (ss *session) send(m wire.Msg) error { return ss.writeFrame(wire.AppendControl(nil, m)) }

func (ss *session) reply(req *wire.Msg, result bencode.Value) error {
	return ss.send(wire.Response(req.ID, result))
}

func (ss *session) fail(req *wire.Msg, code, msg string) error {
	ss.s.m.requestErrors.add(req.Op, 1)
	return ss.send(wire.Error(req.ID, code, msg))
}

// allow takes a token from the session's request bucket.
func (ss *session) allow() bool {
	lim := &ss.s.lim
	now := ss.s.clock.Now().UnixNano()
	burst := float64(lim.Burst)
	if ss.tokAt == 0 {
		ss.tokens = burst
	} else if now > ss.tokAt {
		ss.tokens = min(burst, ss.tokens+float64(now-ss.tokAt)/1e9*lim.RequestsPerSecond)
	}
	ss.tokAt = now
	if ss.tokens < 1 {
		return false
	}
	ss.tokens--
	return true
}

// byteLimiter returns the session's stream byte limiter (nil: unlimited),
// creating it on first use.
func (ss *session) byteLimiter() *rate.Limiter {
	bps := ss.s.lim.MaxBytesPerSecond
	if bps <= 0 {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.bytes == nil {
		ss.bytes = rate.NewLimiter(rate.Limit(bps), max(bps, ss.s.lim.MaxFrame))
	}
	return ss.bytes
}

func (ss *session) request(m *wire.Msg) {
	s := ss.s
	s.m.requests.add(m.Op, 1)
	if m.Op != wire.OpHello {
		if !ss.hello {
			ss.fail(m, wire.CodeHelloFirst, "send hello first")
			return
		}
		if !ss.allow() {
			s.m.rejected.add(RejectRate, 1)
			ss.fail(m, wire.CodeRateLimited, fmt.Sprintf("more than %g requests per second", s.lim.RequestsPerSecond))
			return
		}
	}
	a := wire.ArgsOf(m.Body)
	switch m.Op {
	case wire.OpHello:
		ss.opHello(m, a)
	case wire.OpPing:
		ss.reply(m, wire.Dict("now", s.clock.Now().UnixMilli()))
	case wire.OpGetData, wire.OpPutData, wire.OpAnnounce, wire.OpGetPeers:
		ss.opDHT(m, a)
	case wire.OpOpen:
		ss.opOpen(m, a)
	case wire.OpServe:
		ss.opServe(m, a)
	case wire.OpUnserve:
		ss.opUnserve(m, a)
	case wire.OpHeaders, wire.OpProveUser, wire.OpTip, wire.OpSendTx:
		ss.opChain(m, a)
	case wire.OpPromoted:
		ss.opPromoted(m, a) // promoted.go
	default:
		ss.fail(m, wire.CodeUnknownOp, fmt.Sprintf("unknown operation %q", m.Op))
	}
}

func (ss *session) notice(m *wire.Msg) {
	a := wire.ArgsOf(m.Body)
	switch m.Op {
	case wire.NoticeClose:
		id := a.Int("s", true)
		if a.Err() != nil || id < 0 || id > 1<<32-1 {
			return
		}
		ss.clientClosed(uint32(id))
	case wire.NoticeWindow:
		id, n := a.Int("s", true), a.Int("n", true)
		if a.Err() != nil || id < 0 || id > 1<<32-1 || n <= 0 || n > int64(ss.s.lim.Window) {
			return
		}
		ss.mu.Lock()
		st := ss.streams[uint32(id)]
		ss.mu.Unlock()
		if st != nil {
			st.grant(int(n))
		}
	default:
		// Unknown notices are ignored, so clients may add hints later.
		ss.s.log.Debug("bridge: unknown notice", "remote", ss.remote, "notice", m.Op)
	}
}

func (ss *session) opHello(m *wire.Msg, a *wire.Args) {
	v := a.Int("v", true)
	if err := a.Err(); err != nil {
		ss.fail(m, wire.CodeBadRequest, err.Error())
		return
	}
	if v < 1 {
		ss.fail(m, wire.CodeVersion, fmt.Sprintf("protocol version %d not supported; this bridge speaks 1 to %d", v, protocolVersion))
		return
	}
	ss.hello = true
	s := ss.s
	var feat []string
	if s.cfg.DHT != nil {
		feat = append(feat, "dht")
	}
	if s.cfg.Chain != nil {
		feat = append(feat, "chain")
	}
	if s.cfg.SwarmListener != nil {
		feat = append(feat, "serve")
	}
	peers := s.cfg.Peers
	if peers == nil {
		peers = []string{}
	}
	ss.reply(m, wire.Dict(
		"v", min(v, protocolVersion),
		"peers", peers,
		"feat", feat,
		"w", s.lim.Window,
		"mf", s.lim.MaxFrame,
		"idle", s.lim.IdleTimeout.Milliseconds(),
		"streams", s.lim.MaxStreams,
		"rps", int64(s.lim.RequestsPerSecond),
	))
}

// reserve counts a slow request against MaxPending; false if over.
func (ss *session) reserve(m *wire.Msg) bool {
	ss.mu.Lock()
	if ss.pending >= ss.s.lim.MaxPending {
		ss.mu.Unlock()
		ss.s.m.rejected.add(RejectPending, 1)
		ss.fail(m, wire.CodeLimit, fmt.Sprintf("more than %d requests in flight", ss.s.lim.MaxPending))
		return false
	}
	ss.pending++
	ss.mu.Unlock()
	return true
}

func (ss *session) release() {
	ss.mu.Lock()
	ss.pending--
	ss.mu.Unlock()
}

// answer sends the outcome of a slow request.
func (ss *session) answer(m *wire.Msg, result bencode.Value, err error, errCounter *atomic.Uint64) {
	if err == nil {
		ss.reply(m, result)
		return
	}
	if ss.ctx.Err() != nil {
		return // the session is gone
	}
	code := wire.CodeFailed
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = wire.CodeTimeout
	case errors.Is(err, ErrNotFound):
		code = wire.CodeNotFound
	}
	if errCounter != nil && code != wire.CodeNotFound {
		errCounter.Add(1)
	}
	ss.fail(m, code, err.Error())
}

func validName(s string) bool { return len(s) > 0 && len(s) <= 64 }

func (ss *session) opDHT(m *wire.Msg, a *wire.Args) {
	s := ss.s
	d := s.cfg.DHT
	if d == nil {
		ss.fail(m, wire.CodeUnavailable, "this bridge has no DHT")
		return
	}
	var job func(ctx context.Context) (bencode.Value, error)
	timeout := s.lim.MaxLookupTimeout
	switch m.Op {
	case wire.OpGetData:
		n, r, t := a.Str("n", true), a.Str("r", true), a.Str("t", true)
		mm, to := a.Int("minMulti", false), a.Int("timeoutMs", false)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		if !validName(n) || !validName(r) || (t != resource.Single && t != resource.Multi) || mm < 0 || to < 0 {
			ss.fail(m, wire.CodeBadRequest, `getData needs n and r (1 to 64 bytes), t "s" or "m", and non-negative minMulti and timeoutMs`)
			return
		}
		if to > 0 {
			timeout = min(timeout, time.Duration(to)*time.Millisecond)
		}
		job = func(ctx context.Context) (bencode.Value, error) {
			items, err := d.Get(ctx, n, r, t == resource.Multi, GetOptions{MinMulti: int(mm), Timeout: timeout})
			if err != nil {
				return bencode.Value{}, err
			}
			list := make([]bencode.Value, 0, len(items))
			for _, it := range items {
				e := wire.Dict("p", it.P)
				if it.SigP != nil {
					e.Set("sig_p", bencode.NewBytes(it.SigP))
					e.Set("sig_user", bencode.NewString(it.SigUser))
				}
				list = append(list, e)
			}
			return wire.Dict("items", list), nil
		}
	case wire.OpPutData:
		p, sig, user := a.Bytes("p", true), a.Bytes("sig_p", true), a.Str("sig_user", true)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		if len(p) == 0 || len(sig) != 65 || !validName(user) {
			ss.fail(m, wire.CodeBadRequest, "putData needs p, a 65-byte sig_p and sig_user")
			return
		}
		job = func(ctx context.Context) (bencode.Value, error) {
			queued, err := d.PutSigned(ctx, p, sig, user)
			if err != nil {
				return bencode.Value{}, err
			}
			return wire.Dict("queued", queued), nil
		}
	case wire.OpAnnounce:
		n := a.Str("n", true)
		h := a.Hash20("h", false)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		ih := resource.InfoHash(n)
		if a.Has("h") && h != [20]byte(ih) {
			ss.fail(m, wire.CodeBadRequest, fmt.Sprintf("h is not the info-hash of %q", n))
			return
		}
		if s.cfg.SwarmListener == nil || s.annPort == 0 {
			ss.fail(m, wire.CodeUnavailable, "this bridge accepts no incoming swarm connections")
			return
		}
		ss.mu.Lock()
		_, serving := ss.serves[ih]
		ss.mu.Unlock()
		if !serving {
			ss.fail(m, wire.CodeBadRequest, fmt.Sprintf("serve %q before announcing it", n))
			return
		}
		job = func(ctx context.Context) (bencode.Value, error) {
			err := s.announceNow(ctx, ih, n)
			if err != nil {
				return bencode.Value{}, err
			}
			return wire.Dict("port", s.annPort), nil
		}
	case wire.OpGetPeers:
		n := a.Str("n", true)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		if !validName(n) {
			ss.fail(m, wire.CodeBadRequest, "getPeers needs n, a user name")
			return
		}
		job = func(ctx context.Context) (bencode.Value, error) {
			peers, err := d.GetPeers(ctx, resource.InfoHash(n), n)
			if err != nil {
				return bencode.Value{}, err
			}
			list := make([]bencode.Value, 0, len(peers))
			for _, p := range peers {
				list = append(list, bencode.NewBytes(compactPeer(p)))
			}
			return wire.Dict("peers", list), nil
		}
	}
	if !ss.reserve(m) {
		return
	}
	queued := s.sched.submit(ss, func() {
		defer ss.release()
		if ss.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(ss.ctx, timeout)
		res, err := job(ctx)
		cancel()
		// Answer from another goroutine so a slow browser never holds a
		// DHT worker.
		s.wg.Add(1)
		go func() { defer s.wg.Done(); ss.answer(m, res, err, &s.m.dhtErrors) }()
	})
	if !queued {
		ss.release()
		ss.fail(m, wire.CodeUnavailable, "bridge shutting down")
	}
}

// compactPeer encodes a peer as twister's tracker values do: 4 or 16 bytes
// of address and the port, big-endian.
func compactPeer(p netip.AddrPort) []byte {
	a := p.Addr().Unmap()
	b := a.AsSlice()
	return binary.BigEndian.AppendUint16(b, p.Port())
}

func (ss *session) opChain(m *wire.Msg, a *wire.Args) {
	s := ss.s
	ch := s.cfg.Chain
	if ch == nil {
		ss.fail(m, wire.CodeUnavailable, "this bridge has no block chain")
		return
	}
	switch m.Op {
	case wire.OpTip:
		h, hash := ch.Tip()
		ss.reply(m, wire.Dict("height", h, "hash", hash[:]))
	case wire.OpHeaders:
		from, count := a.Int("from", true), a.Int("count", true)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		if from < 0 || count < 1 {
			ss.fail(m, wire.CodeBadRequest, "headers needs from ≥ 0 and count ≥ 1")
			return
		}
		hs, err := ch.Headers(from, int(min(count, int64(s.lim.MaxHeaders))))
		if err != nil {
			ss.answer(m, bencode.Value{}, err, &s.m.chainErrors)
			return
		}
		var all []byte
		for _, h := range hs {
			all = append(all, h...)
		}
		tip, _ := ch.Tip()
		ss.reply(m, wire.Dict("headers", all, "tip", tip))
	case wire.OpProveUser:
		n := a.Str("n", true)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		proof, err := ch.ProveUser(n)
		if err != nil {
			ss.answer(m, bencode.Value{}, err, &s.m.chainErrors)
			return
		}
		ss.reply(m, wire.Dict("proof", proof))
	case wire.OpSendTx:
		raw := a.Bytes("tx", true)
		if err := a.Err(); err != nil {
			ss.fail(m, wire.CodeBadRequest, err.Error())
			return
		}
		if len(raw) == 0 {
			ss.fail(m, wire.CodeBadRequest, "sendTx needs tx, a serialized transaction")
			return
		}
		if !ss.reserve(m) {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer ss.release()
			err := ch.SubmitTx(raw)
			ss.answer(m, wire.Dict(), err, &s.m.chainErrors)
		}()
	}
}
