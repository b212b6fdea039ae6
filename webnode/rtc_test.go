//go:build !js

package webnode

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// rtcNode starts a webnode with WebRTC on loopback (pion natively).
func (tn *testnet) rtcNode(user string) (*Node, *eventLog) {
	n, ev := tn.newWebnode(nil, func(c *Config) {
		c.EnableWebRTC, c.Signaling, c.WebRTCLoopback, c.ICETimeout = true, tn.SignalURL, true, 15*time.Second
		c.Logger = testLogger("webnode-" + user)
	})
	if err := n.LoginSecret(ctxT(tn.T, 10*time.Second), user, userKey(user).Secret()); err != nil {
		tn.T.Fatal(err)
	}
	return n, ev
}

// Two browser nodes (native here, pion on both ends) whose only path to
// each other is WebRTC: the bridge refuses every swarm dial. Each follows
// the other; posts and a direct message cross over data channels through
// a real signaling server, and the transport counters say so.
func TestWebRTCBetweenNodes(t *testing.T) {
	tn := newTestnet(t, "alice", "bob")
	tn.BlockDials.Store(true)
	a, _ := tn.rtcNode("alice")
	b, bev := tn.rtcNode("bob")
	if _, err := a.Post(ctxT(t, 10*time.Second), "hello over a data channel"); err != nil {
		t.Fatal(err)
	}
	// bob joins alice's room as the newcomer and offers.
	if err := b.Follow(ctxT(t, 10*time.Second), "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "alice's post at bob over WebRTC", func() bool {
		tl, _ := b.Timeline(TimelineOptions{Users: []string{"alice"}})
		return len(tl) == 1 && tl[0].Text == "hello over a data channel"
	})
	if bev.count(EventNewPost) < 1 {
		t.Error("no newPost event at bob")
	}
	// A live post spreads by have over the same channel.
	if _, err := a.Post(ctxT(t, 10*time.Second), "second one"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "alice's second post at bob", func() bool {
		tl, _ := b.Timeline(TimelineOptions{Users: []string{"alice"}})
		return len(tl) == 2
	})

	// alice follows bob: she is the newcomer in bob's room now, and the
	// same peer connection gets a second data channel.
	if err := a.Follow(ctxT(t, 10*time.Second), "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DM(ctxT(t, 10*time.Second), "alice", "secret over webrtc"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "bob's DM at alice", func() bool {
		dms, _ := a.DMs("bob")
		return len(dms) == 1 && dms[0].Text == "secret over webrtc"
	})

	for name, n := range map[string]*Node{"alice": a, "bob": b} {
		st := n.Status()
		t.Logf("%s: transports %+v, webrtc %+v, received %d sent %d", name, st.Transports, *st.WebRTC, st.Received, st.Sent)
		if st.WebRTC == nil || st.WebRTC.Signaling != "connected" || st.WebRTC.PeerConnections != 1 {
			t.Errorf("%s: webrtc status %+v", name, st.WebRTC)
		}
		if st.Transports.Bridge.Opened != 0 {
			t.Errorf("%s: %d bridge streams opened; the bridge path was meant to be closed", name, st.Transports.Bridge.Opened)
		}
		if st.Transports.WebRTC.Open != 2 || st.Transports.WebRTC.BytesIn == 0 || st.Transports.WebRTC.BytesOut == 0 {
			t.Errorf("%s: webrtc transport %+v, want 2 open channels (two swarms) with traffic", name, st.Transports.WebRTC)
		}
	}
	if st := b.Status(); st.Received < 2 {
		t.Errorf("bob received %d pieces", st.Received)
	}
	if st := a.Status(); st.Received < 1 { // the DM (bob's own copy may still be on its way)
		t.Errorf("alice received %d pieces", st.Received)
	}

	// Unfollowing closes the swarm's channel; the peer connection stays for
	// the other swarm.
	if err := b.Unfollow(ctxT(t, 10*time.Second), "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "one channel left at bob", func() bool { return b.Status().Transports.WebRTC.Open == 1 })
}

// WebRTC needs a signaling URL.
func TestWebRTCConfig(t *testing.T) {
	if _, err := New(Config{Bridges: []string{"ws://127.0.0.1:1/ws"}, EnableWebRTC: true}); err == nil {
		t.Fatal("EnableWebRTC without Signaling accepted")
	}
}

// fakeChannel is an in-memory rtcChannel pair for testing dcConn alone.
type fakeChannel struct {
	mu       sync.Mutex
	peer     *fakeChannel
	onMsg    func([]byte)
	onClose  func()
	onOpen   func()
	low      func()
	sent     [][]byte
	buffered uint64
	closed   bool
}

func (f *fakeChannel) Send(b []byte) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return io.ErrClosedPipe
	}
	f.sent = append(f.sent, append([]byte(nil), b...))
	p := f.peer
	f.mu.Unlock()
	if p != nil && p.onMsg != nil {
		p.onMsg(append([]byte(nil), b...))
	}
	return nil
}
func (f *fakeChannel) BufferedAmount() uint64               { f.mu.Lock(); defer f.mu.Unlock(); return f.buffered }
func (f *fakeChannel) SetBufferedAmountLowThreshold(uint64) {}
func (f *fakeChannel) OnBufferedAmountLow(fn func())        { f.low = fn }
func (f *fakeChannel) OnOpen(fn func())                     { f.onOpen = fn }
func (f *fakeChannel) OnClose(fn func())                    { f.onClose = fn }
func (f *fakeChannel) OnMessage(fn func([]byte))            { f.onMsg = fn }
func (f *fakeChannel) Close() error {
	f.mu.Lock()
	f.closed = true
	p := f.peer
	f.mu.Unlock()
	if p != nil && p.onClose != nil {
		p.onClose()
	}
	return nil
}

func fakeState() *rtcConnState {
	m := &rtcManager{n: &Node{}, peers: map[string]*rtcConnState{}}
	return &rtcConnState{m: m, id: "peer", conns: map[*dcConn]struct{}{}, dead: make(chan struct{}), connected: make(chan struct{})}
}

// dcConn splits large writes into messages of at most 16 KiB, reassembles
// them in order, honours deadlines and waits for the buffer to drain.
func TestDCConn(t *testing.T) {
	x, y := &fakeChannel{}, &fakeChannel{}
	x.peer, y.peer = y, x
	cx, cy := newDCConn(x, fakeState()), newDCConn(y, fakeState())
	x.onOpen()
	y.onOpen()
	msg := make([]byte, 100_000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	if n, err := cx.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("write: %d %v", n, err)
	}
	for _, m := range x.sent {
		if len(m) > dcMaxMessage {
			t.Fatalf("message of %d bytes sent", len(m))
		}
	}
	if len(x.sent) != 7 {
		t.Errorf("%d messages for 100,000 bytes", len(x.sent))
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(cy, got); err != nil || string(got) != string(msg) {
		t.Fatalf("read back: %v", err)
	}
	// Read deadline.
	cy.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := cy.Read(got); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("read past the deadline: %v", err)
	}
	cy.SetReadDeadline(time.Time{})
	// A full buffer makes Write wait until the low event.
	x.mu.Lock()
	x.buffered = dcHighWater + 1
	x.mu.Unlock()
	done := make(chan error, 1)
	go func() { _, err := cx.Write([]byte("after drain")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("write did not wait for the buffer: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	x.mu.Lock()
	x.buffered = 0
	x.mu.Unlock()
	x.low()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := cy.Read(buf); err != nil || string(buf[:n]) != "after drain" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	// Write deadline while blocked.
	x.mu.Lock()
	x.buffered = dcHighWater + 1
	x.mu.Unlock()
	cx.SetWriteDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := cx.Write([]byte("x")); !isTimeout(err) {
		t.Fatalf("write past the deadline: %v", err)
	}
	// Closing one end gives EOF at the other after the data.
	x.mu.Lock()
	x.buffered = 0
	x.mu.Unlock()
	cx.SetWriteDeadline(time.Time{})
	cx.Write([]byte("last"))
	cx.Close()
	if b, err := io.ReadAll(cy); err != nil || string(b) != "last" {
		t.Fatalf("after close: %q %v", b, err)
	}
	if _, err := cx.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
