//go:build !js

package signaling

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gotwister/twister/resource"
)

// userSwarm is the swarm id of a twister user: the info-hash of its
// tracker target (§4.1).
func userSwarm(user string) string {
	h := resource.InfoHash(user)
	return hex.EncodeToString(h[:])
}

type testServer struct {
	*Server
	ts  *httptest.Server
	url string
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &testServer{Server: s, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http")}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, ts *testServer) *Client {
	t.Helper()
	c, err := Dial(ctxT(t), ts.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *Client) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("%s: Recv: %v", c.ID(), err)
	}
	return f
}

func join(t *testing.T, c *Client, swarm string) []string {
	t.Helper()
	peers, err := c.Join(ctxT(t), swarm)
	if err != nil {
		t.Fatalf("%s: join: %v", c.ID(), err)
	}
	return peers
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// raw WebSocket helpers, for frames the Client would not send.

func rawDial(t *testing.T, ts *testServer) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(ctxT(t), ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func rawSend(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.Write(ctxT(t), websocket.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func rawRecv(t *testing.T, ws *websocket.Conn) Frame {
	t.Helper()
	_, b, err := ws.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(b)
	if err != nil {
		t.Fatalf("server sent %s: %v", b, err)
	}
	return f
}

func expectError(t *testing.T, f Frame, code string) {
	t.Helper()
	if f.Type != TypeError || f.Code != code {
		t.Fatalf("got %+v, want error %s", f, code)
	}
}

func TestHelloIDs(t *testing.T) {
	ts := startServer(t, Config{})
	a := dial(t, ts)
	b := dial(t, ts)
	if !ValidPeerID(a.ID()) || len(a.ID()) != 22 || a.ID() == b.ID() {
		t.Fatalf("server ids %q %q", a.ID(), b.ID())
	}
	alice, err := DialAs(ctxT(t), ts.url, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if alice.ID() != "alice" {
		t.Fatal(alice.ID())
	}
	_, err = DialAs(ctxT(t), ts.url, "alice")
	var se *ServerError
	if !errors.As(err, &se) || se.Frame.Code != CodePeerIDTaken {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := DialAs(ctxT(t), ts.url, "bad id"); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("malformed id: %v", err)
	}
	// Once alice leaves, her id is free again.
	alice.Close()
	waitFor(t, "alice gone", func() bool { return ts.Stats().Peers == 2 })
	again, err := DialAs(ctxT(t), ts.url, "alice")
	if err != nil {
		t.Fatal(err)
	}
	again.Close()

	// Raw: a second hello on one connection is refused.
	ws := rawDial(t, ts)
	rawSend(t, ws, `{"type":"hello","peer":"carol"}`)
	if f := rawRecv(t, ws); f.Type != TypeHello || f.Peer != "carol" {
		t.Fatalf("%+v", f)
	}
	rawSend(t, ws, `{"type":"hello"}`)
	expectError(t, rawRecv(t, ws), CodeAlreadyHello)
}

func TestJoinPeersAndNotices(t *testing.T) {
	ts := startServer(t, Config{})
	sw := userSwarm("gotest")
	a, b := dial(t, ts), dial(t, ts)
	if peers := join(t, a, sw); len(peers) != 0 {
		t.Fatalf("first member sees %v", peers)
	}
	if peers := join(t, b, strings.ToUpper(sw)); !slices.Equal(peers, []string{a.ID()}) {
		t.Fatalf("b sees %v, want [%s]", peers, a.ID())
	}
	if f := recv(t, a); f.Type != TypeJoined || f.Peer != b.ID() || f.Swarm != sw {
		t.Fatalf("a got %+v", f)
	}
	// Joining again is idempotent: the list again, no second notice.
	if peers := join(t, b, sw); !slices.Equal(peers, []string{a.ID()}) {
		t.Fatalf("rejoin: %v", peers)
	}
	st := ts.Stats()
	if st.Peers != 2 || st.Swarms != 1 || st.Connections != 2 || st.Notices != 1 {
		t.Fatalf("stats %+v", st)
	}

	// An explicit leave is announced.
	if err := b.Leave(ctxT(t), sw); err != nil {
		t.Fatal(err)
	}
	if f := recv(t, a); f.Type != TypeLeft || f.Peer != b.ID() || f.Swarm != sw {
		t.Fatalf("a got %+v", f)
	}
	// Leaving a swarm one is not in is an error.
	if err := b.Leave(ctxT(t), sw); err != nil {
		t.Fatal(err)
	}
	if f := recv(t, b); f.Type != TypeError || f.Code != CodeNotInSwarm || f.Swarm != sw {
		t.Fatalf("b got %+v", f)
	}

	// A disconnect is announced in every swarm the peer was in.
	sw2 := userSwarm("gotest2")
	join(t, b, sw)
	join(t, b, sw2)
	join(t, a, sw2)
	recv(t, a) // joined b (sw)
	if f := recv(t, b); f.Type != TypeJoined || f.Peer != a.ID() || f.Swarm != sw2 {
		t.Fatalf("b got %+v", f)
	}
	b.Close()
	got := map[string]bool{}
	for range 2 {
		f := recv(t, a)
		if f.Type != TypeLeft || f.Peer != b.ID() {
			t.Fatalf("a got %+v", f)
		}
		got[f.Swarm] = true
	}
	if !got[sw] || !got[sw2] {
		t.Fatalf("left notices for %v", got)
	}
	waitFor(t, "b dropped", func() bool { st := ts.Stats(); return st.Peers == 1 && st.Swarms == 2 })
}

func TestSignalRelay(t *testing.T) {
	ts := startServer(t, Config{})
	sw := userSwarm("gotest")
	a, b := dial(t, ts), dial(t, ts)
	join(t, a, sw)
	join(t, b, sw)
	recv(t, a) // joined
	if err := b.SendSDP(ctxT(t), sw, a.ID(), KindOffer, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"); err != nil {
		t.Fatal(err)
	}
	f := recv(t, a)
	if f.Type != TypeSignal || f.Kind != KindOffer || f.From != b.ID() || f.To != a.ID() || f.Swarm != sw || !strings.HasPrefix(f.SDP, "v=0") {
		t.Fatalf("a got %+v", f)
	}
	cand := map[string]any{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
	if err := a.SendCandidate(ctxT(t), sw, b.ID(), cand); err != nil {
		t.Fatal(err)
	}
	if err := a.SendCandidate(ctxT(t), sw, b.ID(), nil); err != nil {
		t.Fatal(err)
	}
	f = recv(t, b)
	if f.Kind != KindCandidate || f.From != a.ID() || !strings.Contains(string(f.Candidate), "typ host") {
		t.Fatalf("b got %+v", f)
	}
	if f = recv(t, b); f.Kind != KindCandidate || string(f.Candidate) != "null" {
		t.Fatalf("b got end of candidates %+v", f)
	}

	// "from" cannot be forged: the server overwrites it.
	ws := rawDial(t, ts)
	rawSend(t, ws, `{"type":"hello","peer":"mallory"}`)
	rawRecv(t, ws)
	rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	rawRecv(t, ws) // peers
	recv(t, a)     // joined mallory
	recv(t, b)
	rawSend(t, ws, `{"type":"signal","swarm":"`+sw+`","to":"`+a.ID()+`","from":"`+b.ID()+`","kind":"answer","sdp":"x"}`)
	if f := recv(t, a); f.From != "mallory" {
		t.Fatalf("forged from relayed: %+v", f)
	}
	// Signaling oneself is refused.
	rawSend(t, ws, `{"type":"signal","swarm":"`+sw+`","to":"mallory","kind":"answer","sdp":"x"}`)
	expectError(t, rawRecv(t, ws), CodeUnknownPeer)
	if st := ts.Stats(); st.Relayed != 4 {
		t.Fatalf("relayed %d, want 4", st.Relayed)
	}
}

func TestRelayRefusedAcrossSwarms(t *testing.T) {
	ts := startServer(t, Config{})
	sw1, sw2 := userSwarm("one"), userSwarm("two")
	a, b := dial(t, ts), dial(t, ts)
	join(t, a, sw1)
	join(t, b, sw2)
	// b is not in sw1.
	if err := a.SendSDP(ctxT(t), sw1, b.ID(), KindOffer, "v=0"); err != nil {
		t.Fatal(err)
	}
	f := recv(t, a)
	if f.Type != TypeError || f.Code != CodeUnknownPeer || f.To != b.ID() || f.Swarm != sw1 {
		t.Fatalf("got %+v", f)
	}
	// a is not in sw2.
	if err := a.SendSDP(ctxT(t), sw2, b.ID(), KindOffer, "v=0"); err != nil {
		t.Fatal(err)
	}
	if f := recv(t, a); f.Type != TypeError || f.Code != CodeNotInSwarm || f.Swarm != sw2 {
		t.Fatalf("got %+v", f)
	}
	// Unknown peer ids are refused the same way.
	if err := a.SendSDP(ctxT(t), sw1, "nobody", KindOffer, "v=0"); err != nil {
		t.Fatal(err)
	}
	expectError(t, recv(t, a), CodeUnknownPeer)
	// b got nothing: the next frame it sees is the notice of a joining sw2,
	// which a sent after the refused signals.
	join(t, a, sw2)
	if f := recv(t, b); f.Type != TypeJoined || f.Peer != a.ID() {
		t.Fatalf("b got %+v before the join notice", f)
	}
	if st := ts.Stats(); st.Relayed != 0 || st.Errors != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOrigins(t *testing.T) {
	if _, err := NewServer(Config{OriginPatterns: []string{"[bad"}}); err == nil {
		t.Fatal("bad pattern accepted")
	}
	ts := startServer(t, Config{OriginPatterns: []string{"app.example", "https://*.twister.example"}})
	try := func(origin string) error {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.Dial(ctxT(t), ts.url, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			ws.CloseNow()
			return nil
		}
		if resp != nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: status %d, want 403", origin, resp.StatusCode)
		}
		return err
	}
	host := strings.TrimPrefix(ts.ts.URL, "http://")
	for _, ok := range []string{"", "http://" + host, "http://app.example", "https://APP.example", "https://x.twister.example"} {
		if err := try(ok); err != nil {
			t.Errorf("origin %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://evil.example", "http://x.twister.example", "https://app.example.evil", "https://app.example:8443", "null"} {
		if err := try(bad); err == nil {
			t.Errorf("origin %q accepted", bad)
		}
	}
	// Default config: only same-origin.
	def := startServer(t, Config{})
	h := http.Header{"Origin": {"http://app.example"}}
	if _, _, err := websocket.Dial(ctxT(t), def.url, &websocket.DialOptions{HTTPHeader: h}); err == nil {
		t.Fatal("cross-origin accepted by default")
	}
}

type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRateLimit(t *testing.T) {
	clk := &manualClock{now: time.Unix(1700000000, 0)}
	ts := startServer(t, Config{MessagesPerSecond: 1, Burst: 5, MaxViolations: 3, Clock: clk})
	ws := rawDial(t, ts)
	sw := userSwarm("gotest")
	rawSend(t, ws, `{"type":"hello"}`) // token 1
	rawRecv(t, ws)
	for range 6 { // tokens 2-5, then two dropped
		rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	}
	for range 4 {
		if f := rawRecv(t, ws); f.Type != TypePeers {
			t.Fatalf("got %+v", f)
		}
	}
	expectError(t, rawRecv(t, ws), CodeRateLimited)
	expectError(t, rawRecv(t, ws), CodeRateLimited)
	// Two seconds later two more frames pass.
	clk.Advance(2 * time.Second)
	rawSend(t, ws, `{"type":"leave","swarm":"`+sw+`"}`)
	rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	if f := rawRecv(t, ws); f.Type != TypePeers {
		t.Fatalf("after refill: %+v", f)
	}
	// Keep flooding: after MaxViolations dropped frames the socket closes.
	for range 3 {
		rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	}
	expectError(t, rawRecv(t, ws), CodeRateLimited) // third violation
	_, _, err := ws.Read(ctxT(t))
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("want close 1008, got %v", err)
	}
	waitFor(t, "connection dropped", func() bool { return ts.Stats().Connections == 0 })
}

func TestOversizedMessage(t *testing.T) {
	ts := startServer(t, Config{MaxMessageBytes: 1024})
	a := dial(t, ts)
	sw := userSwarm("gotest")
	join(t, a, sw)
	ws := rawDial(t, ts)
	rawSend(t, ws, `{"type":"hello"}`)
	rawRecv(t, ws)
	rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	rawRecv(t, ws)
	recv(t, a) // joined
	// Just under the limit passes (as a bad frame), just over closes.
	rawSend(t, ws, `{"type":"signal","swarm":"`+sw+`","to":"nobody","kind":"offer","sdp":"`+strings.Repeat("v", 900)+`"}`)
	expectError(t, rawRecv(t, ws), CodeUnknownPeer)
	rawSend(t, ws, `{"type":"signal","swarm":"`+sw+`","to":"`+a.ID()+`","kind":"offer","sdp":"`+strings.Repeat("v", 2000)+`"}`)
	_, _, err := ws.Read(ctxT(t))
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("want close 1009, got %v", err)
	}
	// The oversized offer was not relayed; a sees the peer leave instead.
	if f := recv(t, a); f.Type != TypeLeft {
		t.Fatalf("a got %+v", f)
	}
}

func TestBadFrames(t *testing.T) {
	ts := startServer(t, Config{})
	ws := rawDial(t, ts)
	sw := userSwarm("gotest")
	rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	expectError(t, rawRecv(t, ws), CodeHelloRequired)
	rawSend(t, ws, `{"type":"signal","swarm":"`+sw+`","to":"x","kind":"offer","sdp":"s"}`)
	expectError(t, rawRecv(t, ws), CodeHelloRequired)
	rawSend(t, ws, `not json`)
	f := rawRecv(t, ws)
	expectError(t, f, CodeBadFrame)
	if !strings.Contains(f.Message, "not a JSON object") {
		t.Fatalf("message %q", f.Message)
	}
	rawSend(t, ws, `{"type":"hello"}`)
	rawRecv(t, ws)
	rawSend(t, ws, `{"type":"peers","swarm":"`+sw+`","peers":[]}`)
	expectError(t, rawRecv(t, ws), CodeBadFrame)
	rawSend(t, ws, `{"type":"join","swarm":"nothex"}`)
	expectError(t, rawRecv(t, ws), CodeBadFrame)
	// The connection survives bad frames.
	rawSend(t, ws, `{"type":"join","swarm":"`+sw+`"}`)
	if f := rawRecv(t, ws); f.Type != TypePeers {
		t.Fatalf("%+v", f)
	}
	// Binary frames end it.
	if err := ws.Write(ctxT(t), websocket.MessageBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.Read(ctxT(t))
	if websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
		t.Fatalf("want close 1003, got %v", err)
	}
}

func TestSwarmLimits(t *testing.T) {
	ts := startServer(t, Config{MaxSwarmsPerPeer: 2, MaxPeersPerSwarm: 6, MaxPeersListed: 3})
	a := dial(t, ts)
	join(t, a, userSwarm("s1"))
	join(t, a, userSwarm("s2"))
	_, err := a.Join(ctxT(t), userSwarm("s3"))
	var se *ServerError
	if !errors.As(err, &se) || se.Frame.Code != CodeTooManySwarms {
		t.Fatalf("third swarm: %v", err)
	}
	// Rejoining one already joined is fine.
	join(t, a, userSwarm("s1"))

	sw := userSwarm("big")
	var members []string
	for range 5 {
		c := dial(t, ts)
		join(t, c, sw)
		members = append(members, c.ID())
	}
	n := dial(t, ts)
	peers := join(t, n, sw)
	if len(peers) != 3 {
		t.Fatalf("listed %v, want 3 of %v", peers, members)
	}
	seen := map[string]bool{}
	for _, p := range peers {
		if !slices.Contains(members, p) || seen[p] || p == n.ID() {
			t.Fatalf("listed %v from %v", peers, members)
		}
		seen[p] = true
	}
	// Six members: the swarm is full.
	_, err = dial(t, ts).Join(ctxT(t), sw)
	if !errors.As(err, &se) || se.Frame.Code != CodeSwarmFull || se.Frame.Swarm != sw {
		t.Fatalf("seventh member: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{IdleTimeout: 400 * time.Millisecond, PingInterval: 100 * time.Millisecond, HelloTimeout: 300 * time.Millisecond})
	// A Client keeps reading, so it answers pings and stays.
	live := dial(t, ts)
	// A connection that stops reading answers no pings and is dropped.
	ws := rawDial(t, ts)
	rawSend(t, ws, `{"type":"hello","peer":"sleepy"}`)
	rawRecv(t, ws)
	// A connection that never says hello is dropped too, though it answers
	// pings (CloseRead keeps reading control frames).
	mute := rawDial(t, ts)
	muteCtx := mute.CloseRead(context.Background())
	waitFor(t, "idle connections dropped", func() bool { st := ts.Stats(); return st.Connections == 1 && st.Peers == 1 })
	select {
	case <-muteCtx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection without hello still open")
	}
	time.Sleep(500 * time.Millisecond) // longer than the idle timeout
	if _, err := live.Join(ctxT(t), userSwarm("x")); err != nil {
		t.Fatalf("live client dropped: %v", err)
	}
}

func TestServerClose(t *testing.T) {
	s, err := NewServer(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	a, err := Dial(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Join(ctxT(t), userSwarm("x")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed by server Close")
	}
	if !errors.Is(a.Err(), ErrClosed) || websocket.CloseStatus(a.Err()) != websocket.StatusGoingAway {
		t.Fatalf("client error %v, want close status 1001", a.Err())
	}
	<-done
	if _, err := Dial(ctxT(t), url); err == nil {
		t.Fatal("dial after Close succeeded")
	}
	if st := s.Stats(); st.Connections != 0 || st.Peers != 0 || st.Swarms != 0 {
		t.Fatalf("stats after close %+v", st)
	}
}

func TestManyPeersConcurrently(t *testing.T) {
	ts := startServer(t, Config{MaxPeersListed: 100})
	sw := userSwarm("crowd")
	const n = 12
	clients := make([]*Client, n)
	for i := range clients {
		clients[i] = dial(t, ts)
	}
	var mu sync.Mutex
	expect := map[string]int{} // offers each peer should receive
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			peers, err := c.Join(ctxT(t), sw)
			if err != nil {
				t.Error(err)
				return
			}
			for _, p := range peers {
				mu.Lock()
				expect[p]++
				mu.Unlock()
				if err := c.SendSDP(ctxT(t), sw, p, KindOffer, "v=0 from "+c.ID()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Each pair saw each other once: the later joiner listed and offered.
	total := 0
	for _, c := range clients {
		from := map[string]bool{}
		for len(from) < expect[c.ID()] {
			f := recv(t, c)
			if f.Type != TypeSignal {
				continue
			}
			if f.SDP != "v=0 from "+f.From || f.To != c.ID() || from[f.From] {
				t.Fatalf("mixed up signal %+v", f)
			}
			from[f.From] = true
		}
		total += len(from)
	}
	if total != n*(n-1)/2 {
		t.Fatalf("%d offers, want %d", total, n*(n-1)/2)
	}
	if st := ts.Stats(); st.Relayed != uint64(total) || st.Peers != n || st.Swarms != 1 {
		t.Fatalf("stats %+v", st)
	}
}
