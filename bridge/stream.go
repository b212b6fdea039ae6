package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/wire"
	swire "github.com/gotwister/twister/swarm/wire"
)

// handshakePrefix is how every twister swarm connection starts: the length
// byte and the protocol string. Outgoing streams must start with it, so the
// bridge cannot be used to speak other protocols to arbitrary hosts.
var handshakePrefix = append([]byte{byte(len(swire.Protocol))}, swire.Protocol...)

// stream is one relayed TCP connection. Browser → native bytes are queued
// in wbuf (at most Window bytes: the browser may only send what it was
// granted) and written by writeLoop; native → browser bytes are read by
// readLoop only while the browser has granted credit, so neither direction
// buffers more than one window.
type stream struct {
	ss *session
	id uint32
	in bool // a native peer connected to a served swarm

	mu         sync.Mutex
	cond       *sync.Cond
	conn       net.Conn // nil while dialing
	dialCancel context.CancelFunc
	wbuf       []byte // browser → native, not yet written
	recvLeft   int    // bytes the browser may still send
	consumed   int    // bytes written to the peer not yet granted back
	sendCredit int    // bytes we may still send to the browser
	checked    int    // bytes of handshakePrefix verified (outgoing)
	closing    bool   // the browser closed: flush wbuf, then close
	closed     bool
}

func newStream(ss *session, id uint32, in bool) *stream {
	st := &stream{ss: ss, id: id, in: in, recvLeft: ss.s.lim.Window, sendCredit: ss.s.lim.Window}
	st.cond = sync.NewCond(&st.mu)
	if in {
		st.checked = len(handshakePrefix) // the native side sent the handshake
	}
	return st
}

func (ss *session) opOpen(m *wire.Msg, a *wire.Args) {
	s := ss.s
	id, addr := a.Int("s", true), a.Str("addr", true)
	if err := a.Err(); err != nil {
		ss.fail(m, wire.CodeBadRequest, err.Error())
		return
	}
	if id <= 0 || id > 1<<32-1 || id%2 == 0 {
		ss.fail(m, wire.CodeBadRequest, "open needs s, an odd stream id below 2^32")
		return
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		ss.fail(m, wire.CodeBadRequest, fmt.Sprintf("addr %q is not ip:port", addr))
		return
	}
	if err := s.cfg.DialPolicy(ap); err != nil {
		s.m.rejected.add(RejectDial, 1)
		ss.fail(m, wire.CodeRefused, fmt.Sprintf("bridge refuses to dial %s: %v", addr, err))
		return
	}
	st := newStream(ss, uint32(id), false)
	ss.mu.Lock()
	switch {
	case ss.done:
		ss.mu.Unlock()
		return
	case ss.streams[st.id] != nil:
		ss.mu.Unlock()
		ss.fail(m, wire.CodeBadRequest, fmt.Sprintf("stream %d is already open", id))
		return
	case len(ss.streams) >= s.lim.MaxStreams:
		ss.mu.Unlock()
		s.m.rejected.add(RejectStreams, 1)
		ss.fail(m, wire.CodeLimit, fmt.Sprintf("more than %d open streams", s.lim.MaxStreams))
		return
	}
	if ss.streams == nil {
		ss.streams = map[uint32]*stream{}
	}
	ss.streams[st.id] = st
	ctx, cancel := context.WithTimeout(ss.ctx, s.lim.DialTimeout)
	st.dialCancel = cancel
	ss.mu.Unlock()
	s.wg.Add(1) // the session's own count is held, so Close is not waiting yet
	go func() {
		defer s.wg.Done()
		conn, err := s.cfg.Dial(ctx, ap.String())
		cancel()
		if err != nil {
			s.m.dialFailures.Add(1)
			st.shutdown(nil, false)
			if ctx.Err() != nil && ss.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				ss.fail(m, wire.CodeTimeout, fmt.Sprintf("dial %s: %v", addr, err))
			} else {
				ss.fail(m, wire.CodeFailed, fmt.Sprintf("dial %s: %v", addr, err))
			}
			return
		}
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			conn.Close()
			ss.fail(m, wire.CodeFailed, "stream closed while dialing")
			return
		}
		st.conn = conn
		st.dialCancel = nil
		st.mu.Unlock()
		s.m.streamsOut.Add(1)
		s.m.streamsOutTotal.Add(1)
		if ss.reply(m, wire.Dict("ra", conn.RemoteAddr().String())) != nil {
			st.shutdown(nil, false)
			return
		}
		st.start()
	}()
}

// start runs the relay goroutines; the caller holds a count of the
// server's WaitGroup (a session's or an inbound connection's).
func (st *stream) start() {
	wg := &st.ss.s.wg
	wg.Add(2)
	go func() { defer wg.Done(); st.writeLoop() }()
	go func() { defer wg.Done(); st.readLoop() }()
}

// data handles a data frame from the browser.
func (ss *session) data(f wire.Frame) {
	ss.mu.Lock()
	st := ss.streams[f.Stream]
	ss.mu.Unlock()
	if st == nil {
		return // closed meanwhile; the browser learns it from a close notice
	}
	n := len(f.Data)
	st.mu.Lock()
	if st.closing || st.closed {
		st.mu.Unlock()
		return
	}
	if st.conn == nil {
		st.mu.Unlock()
		st.shutdown(errors.New("data before the stream was open"), true)
		return
	}
	if n > st.recvLeft {
		st.mu.Unlock()
		ss.s.m.rejected.add(RejectWindow, 1)
		st.shutdown(fmt.Errorf("flow control: %d bytes sent with %d bytes of window left", n, st.recvLeft), true)
		return
	}
	if st.checked < len(handshakePrefix) {
		k := min(n, len(handshakePrefix)-st.checked)
		if string(f.Data[:k]) != string(handshakePrefix[st.checked:st.checked+k]) {
			st.mu.Unlock()
			st.shutdown(errors.New("stream does not start with a twister handshake"), true)
			return
		}
		st.checked += k
	}
	st.recvLeft -= n
	st.wbuf = append(st.wbuf, f.Data...)
	st.cond.Broadcast()
	st.mu.Unlock()
	ss.s.m.streamBytesUp.Add(uint64(n))
	if lim := ss.byteLimiter(); lim != nil {
		// Throttle the whole session: the browser's WebSocket backs up.
		lim.WaitN(ss.ctx, n)
	}
}

// clientClosed handles the browser's close notice: pending bytes are still
// written, then the connection is closed.
func (ss *session) clientClosed(id uint32) {
	ss.mu.Lock()
	st := ss.streams[id]
	ss.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.conn == nil { // still dialing
		st.mu.Unlock()
		st.shutdown(nil, false)
		return
	}
	st.closing = true // writeLoop flushes, then shuts down
	st.cond.Broadcast()
	st.mu.Unlock()
}

// grant handles a window notice: the browser consumed n bytes.
func (st *stream) grant(n int) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	if st.sendCredit+n > st.ss.s.lim.Window {
		st.mu.Unlock()
		st.ss.s.m.rejected.add(RejectWindow, 1)
		st.shutdown(errors.New("flow control: window update beyond the window"), true)
		return
	}
	st.sendCredit += n
	st.cond.Broadcast()
	st.mu.Unlock()
}

func (st *stream) writeLoop() {
	s := st.ss.s
	var spare []byte
	for {
		st.mu.Lock()
		for len(st.wbuf) == 0 && !st.closing && !st.closed {
			st.cond.Wait()
		}
		if st.closed {
			st.mu.Unlock()
			return
		}
		if len(st.wbuf) == 0 { // closing and flushed
			st.mu.Unlock()
			st.shutdown(nil, false)
			return
		}
		buf := st.wbuf
		st.wbuf = spare[:0]
		conn := st.conn
		st.mu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(s.lim.WriteTimeout))
		if _, err := conn.Write(buf); err != nil {
			st.shutdown(fmt.Errorf("write to peer: %w", err), true)
			return
		}
		n := len(buf)
		if cap(buf) <= 64<<10 {
			spare = buf[:0]
		} else {
			spare = nil
		}
		grant := 0
		st.mu.Lock()
		st.consumed += n
		if st.consumed >= s.lim.Window/4 && !st.closing {
			grant = st.consumed
			st.consumed = 0
			st.recvLeft += grant
		}
		st.mu.Unlock()
		if grant > 0 {
			if st.ss.send(wire.Notice(wire.NoticeWindow, wire.Dict("s", st.id, "n", grant))) != nil {
				st.shutdown(nil, false)
				return
			}
		}
	}
}

func (st *stream) readLoop() {
	ss := st.ss
	s := ss.s
	chunk := s.lim.maxChunk()
	buf := make([]byte, wire.DataHeaderLen+chunk)
	for {
		st.mu.Lock()
		for st.sendCredit == 0 && !st.closed && !st.closing {
			st.cond.Wait()
		}
		if st.closed || st.closing {
			st.mu.Unlock()
			return
		}
		n := min(st.sendCredit, chunk)
		conn := st.conn
		st.mu.Unlock()
		k, err := conn.Read(buf[wire.DataHeaderLen : wire.DataHeaderLen+n])
		if k > 0 {
			st.mu.Lock()
			st.sendCredit -= k
			gone := st.closed || st.closing
			st.mu.Unlock()
			if gone {
				return
			}
			if lim := ss.byteLimiter(); lim != nil {
				if lim.WaitN(ss.ctx, k) != nil {
					st.shutdown(nil, false)
					return
				}
			}
			wire.PutDataHeader(buf, st.id)
			if ss.writeFrame(buf[:wire.DataHeaderLen+k]) != nil {
				st.shutdown(nil, false)
				return
			}
			s.m.streamBytesDown.Add(uint64(k))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			} else {
				err = fmt.Errorf("read from peer: %w", err)
			}
			st.shutdown(err, true)
			return
		}
	}
}

// shutdown closes the stream once: the TCP connection is closed (or the
// dial cancelled), the stream leaves its session, and if notify is set the
// browser gets a close notice carrying err.
func (st *stream) shutdown(err error, notify bool) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	conn, cancel := st.conn, st.dialCancel
	st.wbuf = nil
	st.cond.Broadcast()
	st.mu.Unlock()
	ss, s := st.ss, st.ss.s
	if cancel != nil {
		cancel()
	}
	if conn != nil {
		conn.Close()
		if st.in {
			s.m.streamsIn.Add(-1)
		} else {
			s.m.streamsOut.Add(-1)
		}
	}
	ss.mu.Lock()
	if ss.streams[st.id] == st {
		delete(ss.streams, st.id)
	}
	done := ss.done
	ss.mu.Unlock()
	if notify && !done {
		args := wire.Dict("s", st.id)
		if err != nil {
			args.Set("e", bencode.NewString(err.Error()))
		}
		ss.send(wire.Notice(wire.NoticeClose, args))
	}
}
