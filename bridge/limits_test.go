package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/resource"
	swire "github.com/gotwister/twister/swarm/wire"
)

func TestRateLimit(t *testing.T) {
	env := startBridge(t, bridge.Config{Limits: bridge.Limits{RequestsPerSecond: 5, Burst: 10}}, "")
	c := dial(t, env.url)
	ok, limited := 0, 0
	for range 30 {
		_, err := c.Ping(ctxT(t, 5*time.Second))
		var se *client.ServerError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &se) && se.Code == wire.CodeRateLimited:
			limited++
		default:
			t.Fatal(err)
		}
	}
	// 10 from the burst plus what refilled meanwhile (5/s).
	if ok < 10 || ok > 14 || limited < 16 {
		t.Fatalf("ok %d, limited %d", ok, limited)
	}
	if r := env.srv.Stats().Rejected[bridge.RejectRate]; r != uint64(limited) {
		t.Errorf("rejected{rate} = %d, want %d", r, limited)
	}
	time.Sleep(400 * time.Millisecond) // two tokens back
	if _, err := c.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

// startEcho runs a TCP server on ip that echoes everything it reads.
func startEcho(t *testing.T, ip string) string {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

var handshake = swire.AppendHandshake(nil, swire.Handshake{Reserved: swire.DefaultReserved, InfoHash: resource.InfoHash("alice"), PeerID: swire.NewPeerID()})

func TestStreamLimitsAndPolicy(t *testing.T) {
	echo := startEcho(t, "127.0.3.20")
	env := startBridge(t, bridge.Config{Limits: bridge.Limits{MaxStreams: 2}}, "")
	c := dial(t, env.url)
	var se *client.ServerError
	s1, err := c.OpenStream(ctxT(t, 5*time.Second), echo)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.OpenStream(ctxT(t, 5*time.Second), echo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenStream(ctxT(t, 5*time.Second), echo); !errors.As(err, &se) || se.Code != wire.CodeLimit {
		t.Fatalf("third stream: %v", err)
	}
	// Echo through the bridge.
	if _, err := s1.Write(handshake); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(handshake))
	s1.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s1, got); err != nil || string(got) != string(handshake) {
		t.Fatalf("echo: %v", err)
	}
	// Something that is not a twister handshake closes the stream.
	s2.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	s2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s2.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "twister handshake") {
		t.Fatalf("non-twister stream: %v", err)
	}
	s1.Close()
	waitFor(t, 5*time.Second, "streams released", func() bool { return env.srv.Stats().StreamsOut == 0 })
	if _, err := c.OpenStream(ctxT(t, 5*time.Second), echo); err != nil {
		t.Fatalf("stream after release: %v", err)
	}
	if env.srv.Stats().Rejected[bridge.RejectStreams] != 1 {
		t.Errorf("rejected{streams} %v", env.srv.Stats().Rejected)
	}

	// The default dial policy refuses loopback and private addresses; a
	// hostname is not an address.
	strict := startBridge(t, bridge.Config{DialPolicy: bridge.DefaultDialPolicy}, "")
	sc := dial(t, strict.url)
	for _, addr := range []string{echo, "10.1.2.3:80", "192.168.1.1:28333", "example.org:80", "8.8.8.8:0"} {
		_, err := sc.OpenStream(ctxT(t, 5*time.Second), addr)
		if !errors.As(err, &se) || (se.Code != wire.CodeRefused && se.Code != wire.CodeBadRequest) {
			t.Errorf("open %s: %v", addr, err)
		}
	}
}

// startSource runs a TCP server on ip that reads a handshake and then
// sends n bytes (byte i = i*7), and one that reads nothing at all.
func startSource(t *testing.T, ip string, n int) string {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.ReadFull(c, make([]byte, len(handshake))); err != nil {
					return
				}
				buf := make([]byte, n)
				for i := range buf {
					buf[i] = byte(i * 7)
				}
				c.Write(buf)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestFlowControl: a browser that does not read holds the bridge to one
// window of data for the stream, a native peer that does not read stalls
// the browser's writes, and data arrives intact in both directions.
func TestFlowControl(t *testing.T) {
	const window = 32 << 10
	const size = 8 << 20
	source := startSource(t, "127.0.3.21", size)
	echo := startEcho(t, "127.0.3.22")
	env := startBridge(t, bridge.Config{Limits: bridge.Limits{Window: window, MaxBytesPerSecond: -1}}, "")
	c := dial(t, env.url)

	// Down: the bridge relays at most one window the browser has not read.
	s, err := c.OpenStream(ctxT(t, 5*time.Second), source)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(handshake)
	waitFor(t, 5*time.Second, "first window relayed", func() bool { return env.srv.Stats().StreamBytesDn >= window })
	time.Sleep(300 * time.Millisecond)
	if dn := env.srv.Stats().StreamBytesDn; dn != window {
		t.Fatalf("bridge relayed %d bytes to a browser that read nothing; window is %d", dn, window)
	}
	got := make([]byte, size)
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != byte(i*7) {
			t.Fatalf("byte %d corrupted", i)
		}
	}
	s.Close()

	// Up and down through an echo server, intact.
	e, err := c.OpenStream(ctxT(t, 5*time.Second), echo)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 3<<20)
	copy(payload, handshake)
	for i := len(handshake); i < len(payload); i++ {
		payload[i] = byte(i * 13)
	}
	werr := make(chan error, 1)
	go func() { _, err := e.Write(payload); werr <- err }()
	back := make([]byte, len(payload))
	e.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(e, back); err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if string(back) != string(payload) {
		t.Fatal("echoed payload corrupted")
	}

	// Up: a write deadline ends a write stalled by a full window (the
	// source reads only the handshake, then never again).
	w, err := c.OpenStream(ctxT(t, 5*time.Second), source)
	if err != nil {
		t.Fatal(err)
	}
	w.SetWriteDeadline(time.Now().Add(time.Second))
	big := make([]byte, 64<<20)
	copy(big, handshake)
	n, err := w.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(big) {
		t.Fatalf("stalled write: %d bytes, %v", n, err)
	}
	t.Logf("a native peer that stops reading absorbed %d bytes (window %d + TCP buffers)", n, window)
	if st := env.srv.Stats(); st.Rejected[bridge.RejectWindow] != 0 {
		t.Errorf("window violations %v", st.Rejected)
	}
}

// rawConn is a WebSocket to the bridge without the client library, for
// sending what a correct client never sends.
func rawConn(t *testing.T, url string, hdr http.Header) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctxT(t, 5*time.Second), url, &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, err
}

func rawCall(t *testing.T, c *websocket.Conn, m wire.Msg) *wire.Msg {
	t.Helper()
	if err := c.Write(ctxT(t, 5*time.Second), websocket.MessageBinary, wire.AppendControl(nil, m)); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.DecodeFrame(b)
	if err != nil || f.Msg == nil {
		t.Fatalf("answer: %v", err)
	}
	return f.Msg
}

func TestFramesAndOrigins(t *testing.T) {
	env := startBridge(t, bridge.Config{AllowedOrigins: []string{"app.example.org", "*.twister.test"}, Limits: bridge.Limits{MaxFrame: 4096}}, "")

	// Requests before hello are refused; hello with version 0 too.
	c, err := rawConn(t, env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := rawCall(t, c, wire.Request(1, wire.OpPing, bencode.Value{})); m.Type != wire.TypeError || m.Code != wire.CodeHelloFirst {
		t.Fatalf("ping before hello: %+v", m)
	}
	if m := rawCall(t, c, wire.Request(2, wire.OpHello, wire.Dict("v", 0))); m.Code != wire.CodeVersion {
		t.Fatalf("hello v0: %+v", m)
	}
	if m := rawCall(t, c, wire.Request(3, wire.OpHello, wire.Dict("v", 7))); m.Type != wire.TypeResponse {
		t.Fatalf("hello v7: %+v", m)
	} else if v, _ := m.Body.GetInt("v"); v != 1 {
		t.Fatalf("negotiated v%d", v)
	}
	// A frame over MaxFrame closes the session with 1009.
	big := wire.AppendControl(nil, wire.Request(4, wire.OpPing, wire.Dict("pad", strings.Repeat("x", 5000))))
	c.Write(ctxT(t, 5*time.Second), websocket.MessageBinary, big)
	if _, _, err := c.Read(ctxT(t, 5*time.Second)); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: %v", err)
	}
	// A malformed frame closes the session with 1007.
	c2, _ := rawConn(t, env.url, nil)
	c2.Write(ctxT(t, 5*time.Second), websocket.MessageBinary, []byte{0, 'd', '1', ':'})
	if _, _, err := c2.Read(ctxT(t, 5*time.Second)); websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("malformed frame: %v", err)
	}
	waitFor(t, 5*time.Second, "frame rejections counted", func() bool { return env.srv.Stats().Rejected[bridge.RejectFrame] == 2 })

	// Origins: same-origin, listed ones and none (native) pass; others 403.
	host := strings.TrimPrefix(env.http, "http://")
	for origin, want := range map[string]bool{
		"":                           true,
		"http://" + host:             true,
		"https://app.example.org":    true,
		"https://x.twister.test":     true,
		"https://evil.example":       false,
		"https://app.example.org.ev": false,
	} {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		_, err := client.DialWith(ctxT(t, 5*time.Second), env.url, client.Options{Header: hdr})
		if (err == nil) != want {
			t.Errorf("origin %q: err %v, want allowed=%v", origin, err, want)
		}
	}
	if r := env.srv.Stats().Rejected[bridge.RejectOrigin]; r != 2 {
		t.Errorf("rejected{origin} = %d", r)
	}
	if _, err := bridge.New(bridge.Config{AllowedOrigins: []string{"[bad"}}); err == nil {
		t.Error("bad origin pattern accepted")
	}
}

func TestMaxClientsAndIdle(t *testing.T) {
	env := startBridge(t, bridge.Config{Limits: bridge.Limits{MaxClients: 2, IdleTimeout: time.Second}}, "")
	dial(t, env.url)
	dial(t, env.url)
	if _, err := client.Dial(ctxT(t, 5*time.Second), env.url); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("third client: %v", err)
	}
	// A silent raw session is closed after the idle timeout; clients ping.
	env2 := startBridge(t, bridge.Config{Limits: bridge.Limits{IdleTimeout: time.Second}}, "")
	raw, _ := rawConn(t, env2.url, nil)
	live := dial(t, env2.url)
	start := time.Now()
	_, _, err := raw.Read(ctxT(t, 5*time.Second))
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || time.Since(start) > 3*time.Second {
		t.Fatalf("idle session: %v after %v", err, time.Since(start))
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := live.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("client with keep-alive closed: %v", err)
	}
	if env2.srv.Stats().Rejected[bridge.RejectIdle] != 1 {
		t.Errorf("rejected %v", env2.srv.Stats().Rejected)
	}
}

// TestFloodFairness: one client keeps its pending-request quota full of
// DHT lookups while another measures its own lookups. Round-robin
// scheduling of the DHT workers keeps the victim's latency close to the
// unloaded figure.
func TestFloodFairness(t *testing.T) {
	dn := newDHTNet(t, 6)
	env := startBridge(t, bridge.Config{DHT: bridge.FromDHT(dn.nodes[0]),
		Limits: bridge.Limits{RequestsPerSecond: 100000, Burst: 100000, MaxPending: 8, DHTWorkers: 4}}, "")
	victim := dial(t, env.url)
	measure := func(n int) []time.Duration {
		var ds []time.Duration
		for i := range n {
			t0 := time.Now()
			if _, err := victim.GetData(ctxT(t, 10*time.Second), fmt.Sprintf("nobody%d", i), resource.Profile, false, client.GetOptions{}); err != nil {
				t.Fatalf("victim: %v", err)
			}
			ds = append(ds, time.Since(t0))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds
	}
	base := measure(20)

	flooder := dial(t, env.url)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var done, refused atomic.Int64
	for w := range 16 { // twice its MaxPending: some get "limit"
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				_, err := flooder.GetData(ctx, fmt.Sprintf("flood%d-%d", w, i), resource.Profile, false, client.GetOptions{})
				var se *client.ServerError
				switch {
				case err == nil:
					done.Add(1)
				case errors.As(err, &se):
					refused.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	loaded := measure(20)
	stop()
	wg.Wait()
	p50 := func(d []time.Duration) time.Duration { return d[len(d)/2] }
	p90 := func(d []time.Duration) time.Duration { return d[len(d)*9/10] }
	t.Logf("victim getData latency: idle p50 %v p90 %v; under flood p50 %v p90 %v (flooder: %d done, %d refused)",
		p50(base), p90(base), p50(loaded), p90(loaded), done.Load(), refused.Load())
	if done.Load() < 20 || refused.Load() == 0 {
		t.Errorf("flooder did not flood: %d done, %d refused", done.Load(), refused.Load())
	}
	// With 4 workers and round-robin turns the victim waits for at most
	// one lookup ahead of it: allow 3x the idle p90 plus slack.
	if bound := 3*p90(base) + 50*time.Millisecond; p50(loaded) > bound {
		t.Errorf("victim p50 under flood %v > %v", p50(loaded), bound)
	}
	if env.srv.Stats().Rejected[bridge.RejectPending] == 0 {
		t.Error("no pending-limit rejections counted")
	}
}

func TestMetricsAndHealth(t *testing.T) {
	dn := newDHTNet(t, 3)
	env := startBridge(t, bridge.Config{DHT: bridge.FromDHT(dn.nodes[0])}, "")
	c := dial(t, env.url)
	c.Ping(ctxT(t, 5*time.Second))
	resp, err := http.Get(env.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"# TYPE twister_bridge_clients gauge\ntwister_bridge_clients 1\n",
		`twister_bridge_requests_total{op="ping"} 1`,
		`twister_bridge_requests_total{op="hello"} 1`,
		`twister_bridge_rejected_total{limit="rate"} 0`,
		fmt.Sprintf("twister_bridge_dht_nodes %d\n", dn.nodes[0].Stats().Nodes),
		"twister_bridge_chain_height -1\n",
		"go_memstats_heap_inuse_bytes ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line is "name{labels} value" or "name value".
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Errorf("bad sample line %q", line)
		}
	}
	resp, err = http.Get(env.http + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"clients":1`) || !strings.Contains(string(body), fmt.Sprintf(`"dht_nodes":%d`, dn.nodes[0].Stats().Nodes)) {
		t.Errorf("healthz %d %s", resp.StatusCode, body)
	}
	if !slices.Contains(c.Info().Features, "dht") {
		t.Error("no dht feature")
	}
}
