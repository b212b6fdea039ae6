package client

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/resource"
)

// Stream is a connection to a native swarm peer relayed by the bridge. It
// implements net.Conn, deadlines included. Flow control is per stream:
// the bridge sends at most one window of data that Read has not consumed,
// and Write waits for the bridge to grant room.
type Stream struct {
	c        *Client
	id       uint32
	remote   net.Addr
	infoHash resource.Target // incoming streams: the swarm

	mu         sync.Mutex
	cond       *sync.Cond
	rbuf       [][]byte // received chunks not yet read
	rlen       int
	consumed   int // read but not yet granted back
	sendCredit int
	rerr       error // the bridge closed the stream (io.EOF or why)
	lclosed    bool
	rdl, wdl   time.Time
	rtimer     *time.Timer
	wtimer     *time.Timer
}

func newStream(c *Client, id uint32, remote net.Addr) *Stream {
	st := &Stream{c: c, id: id, remote: remote, sendCredit: c.info.Window}
	if st.sendCredit == 0 {
		st.sendCredit = 1 << 16 // before hello (never for real streams)
	}
	st.cond = sync.NewCond(&st.mu)
	return st
}

// ID returns the stream id (odd: opened by this client; even: incoming).
func (st *Stream) ID() uint32 { return st.id }

// InfoHash returns the swarm an incoming stream is for (zero for streams
// this client opened).
func (st *Stream) InfoHash() resource.Target { return st.infoHash }

// push queues data received from the bridge.
func (st *Stream) push(b []byte) {
	st.mu.Lock()
	if st.lclosed || st.rerr != nil {
		st.mu.Unlock()
		return
	}
	if st.rlen+len(b) > st.c.info.Window {
		st.mu.Unlock()
		st.abort(errors.New("bridge: stream data beyond the flow-control window"))
		return
	}
	st.rbuf = append(st.rbuf, b)
	st.rlen += len(b)
	st.cond.Broadcast()
	st.mu.Unlock()
}

// remoteClosed records that the stream ended on the bridge's side; err nil
// means a clean end (Read returns io.EOF after the buffered data).
func (st *Stream) remoteClosed(err error) {
	if err == nil {
		err = io.EOF
	}
	st.mu.Lock()
	if st.rerr == nil {
		st.rerr = err
	}
	st.cond.Broadcast()
	st.mu.Unlock()
}

// abort closes the stream on both sides with err.
func (st *Stream) abort(err error) {
	st.remoteClosed(err)
	st.Close()
}

func (st *Stream) grant(n int) {
	st.mu.Lock()
	st.sendCredit += n
	st.cond.Broadcast()
	st.mu.Unlock()
}

func expired(dl time.Time) bool { return !dl.IsZero() && !time.Now().Before(dl) }

// Read implements net.Conn.
func (st *Stream) Read(p []byte) (int, error) {
	st.mu.Lock()
	for {
		if st.lclosed {
			st.mu.Unlock()
			return 0, net.ErrClosed
		}
		if st.rlen > 0 {
			break
		}
		if st.rerr != nil {
			err := st.rerr
			st.mu.Unlock()
			return 0, err
		}
		if expired(st.rdl) {
			st.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if len(p) == 0 {
			st.mu.Unlock()
			return 0, nil
		}
		st.cond.Wait()
	}
	n := 0
	for n < len(p) && len(st.rbuf) > 0 {
		k := copy(p[n:], st.rbuf[0])
		n += k
		if k == len(st.rbuf[0]) {
			st.rbuf[0] = nil
			st.rbuf = st.rbuf[1:]
		} else {
			st.rbuf[0] = st.rbuf[0][k:]
		}
	}
	if len(st.rbuf) == 0 {
		st.rbuf = nil
	}
	st.rlen -= n
	st.consumed += n
	grant := 0
	if st.consumed >= st.c.info.Window/4 && st.rerr == nil {
		grant = st.consumed
		st.consumed = 0
	}
	st.mu.Unlock()
	if grant > 0 {
		st.c.send(wire.Notice(wire.NoticeWindow, wire.Dict("s", st.id, "n", grant)))
	}
	return n, nil
}

// Write implements net.Conn. It waits while the bridge's window for this
// stream is full; the write deadline bounds that wait.
func (st *Stream) Write(p []byte) (int, error) {
	chunk := max(1, min(16<<10, st.c.info.MaxFrame-wire.DataHeaderLen-8))
	written := 0
	for written < len(p) {
		st.mu.Lock()
		for st.sendCredit == 0 && !st.lclosed && st.rerr == nil && !expired(st.wdl) {
			st.cond.Wait()
		}
		switch {
		case st.lclosed:
			st.mu.Unlock()
			return written, net.ErrClosed
		case st.rerr != nil:
			err := st.rerr
			st.mu.Unlock()
			if err == io.EOF {
				err = io.ErrClosedPipe
			}
			return written, err
		case expired(st.wdl):
			st.mu.Unlock()
			return written, os.ErrDeadlineExceeded
		}
		n := min(st.sendCredit, len(p)-written, chunk)
		st.sendCredit -= n
		st.mu.Unlock()
		if err := st.c.write(st.c.ctx, wire.AppendData(nil, st.id, p[written:written+n])); err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

// Close implements net.Conn: the bridge closes the native connection after
// writing what it holds.
func (st *Stream) Close() error {
	st.mu.Lock()
	if st.lclosed {
		st.mu.Unlock()
		return nil
	}
	st.lclosed = true
	notify := st.rerr == nil
	st.rbuf = nil
	if st.rtimer != nil {
		st.rtimer.Stop()
	}
	if st.wtimer != nil {
		st.wtimer.Stop()
	}
	st.cond.Broadcast()
	st.mu.Unlock()
	st.c.forget(st)
	if notify {
		st.c.send(wire.Notice(wire.NoticeClose, wire.Dict("s", st.id)))
	}
	return nil
}

// LocalAddr returns the bridge session's address (its URL).
func (st *Stream) LocalAddr() net.Addr { return bridgeAddr(st.c.url) }

// RemoteAddr returns the native peer's address (a *net.TCPAddr).
func (st *Stream) RemoteAddr() net.Addr { return st.remote }

// SetDeadline implements net.Conn.
func (st *Stream) SetDeadline(t time.Time) error {
	st.SetReadDeadline(t)
	return st.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (st *Stream) SetReadDeadline(t time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rdl = t
	st.rtimer = st.arm(st.rtimer, t)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.wdl = t
	st.wtimer = st.arm(st.wtimer, t)
	return nil
}

// arm (re)sets a timer that wakes waiters at the deadline. st.mu held.
func (st *Stream) arm(tm *time.Timer, t time.Time) *time.Timer {
	if tm != nil {
		tm.Stop()
	}
	st.cond.Broadcast()
	if t.IsZero() {
		return tm
	}
	d := time.Until(t)
	if d <= 0 {
		return tm
	}
	wake := func() {
		st.mu.Lock()
		st.cond.Broadcast()
		st.mu.Unlock()
	}
	if tm == nil {
		return time.AfterFunc(d, wake)
	}
	tm.Reset(d)
	return tm
}
