//go:build !js

// Package webnodetest runs a real regtest twister network on loopback for
// the browser node's tests: a bbolt block chain with registered users, a
// small UDP DHT, a bridge in front of both, and native swarm nodes. It is
// test support only (native builds).
package webnodetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/signaling"
	"github.com/gotwister/twister/swarm"
)

// Logger logs to stderr when WEBNODE_TEST_LOG is set; else nil.
func Logger(name string) *slog.Logger {
	if os.Getenv("WEBNODE_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("who", name)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// UserKey derives a deterministic key for a test user.
func UserKey(user string) *keys.PrivateKey {
	sum := sha256.Sum256([]byte("webnode test key " + user))
	k, err := keys.PrivateKeyFromBytes(sum[:], true)
	if err != nil {
		panic(err)
	}
	return k
}

// Net is a real regtest network on loopback: a bbolt block chain with
// registered users, a small UDP DHT over it, and a bridge (HTTP +
// WebSocket, swarm listener) in front of both.
type Net struct {
	T         testing.TB
	Chain     *chain.Chain
	DHTs      []*dht.DHT
	Bridge    *bridge.Server
	URL       string // ws://…/ws
	HTTPAddr  string
	SwarmAddr string // the bridge's swarm listener
	// SignalURL is the WebRTC signaling server the bridge mounts at
	// /signal (ws://…/signal).
	SignalURL string
	Signal    *signaling.Server
	// BlockDials, when set, makes the bridge refuse every swarm dial a
	// browser asks for, so that browsers cannot reach each other (or
	// native peers) through it: only WebRTC is left between browsers.
	BlockDials atomic.Bool
	base       string // "127.0.N."
}

var netSeq atomic.Int32

// New registers users (keys from userKey) on a fresh regtest chain
// mined to height 4 and starts 4 DHT nodes and a bridge.
func New(t testing.TB, users ...string) *Net {
	t.Helper()
	tn := &Net{T: t, base: fmt.Sprintf("127.0.%d.", 60+netSeq.Add(1))}
	c, err := chain.Open(t.TempDir(), consensus.Regtest, chain.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tn.Chain = c
	for _, u := range users {
		tx, err := consensus.NewRegistration(u, UserKey(u).PubKey())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := consensus.GrindRegistration(context.Background(), tx, consensus.Regtest.TxBits, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.AcceptTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	tn.Mine(4)

	for i := range 4 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(tn.ip(i + 1))})
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		d, err := dht.New(dht.Config{Conn: conn, Chain: c, TickInterval: 100 * time.Millisecond,
			UnconfirmedInterval: 500 * time.Millisecond, ShortTimeout: 300 * time.Millisecond, QueryTimeout: 2 * time.Second,
			LookupTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		tn.DHTs = append(tn.DHTs, d)
	}
	var wg sync.WaitGroup
	for _, d := range tn.DHTs[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Bootstrap(ctxT(t, 10*time.Second), dhtAddr(tn.DHTs[0])); err != nil {
				t.Errorf("bootstrap: %v", err)
			}
		}()
	}
	wg.Wait()

	sl, err := net.Listen("tcp", tn.ip(1)+":0")
	if err != nil {
		t.Fatal(err)
	}
	tn.SwarmAddr = sl.Addr().String()
	sig, err := signaling.NewServer(signaling.Config{OriginPatterns: []string{"127.0.0.1:*"}, Logger: Logger("signaling"),
		MessagesPerSecond: 200, Burst: 400})
	if err != nil {
		t.Fatal(err)
	}
	tn.Signal = sig
	policy := func(ap netip.AddrPort) error {
		if tn.BlockDials.Load() {
			return fmt.Errorf("dials are blocked in this test")
		}
		return bridge.PermissiveDialPolicy(ap)
	}
	srv, err := bridge.New(bridge.Config{
		DHT: bridge.FromDHT(tn.DHTs[0]), Chain: bridge.FromChain(c, nil), SwarmListener: sl, Signal: sig,
		DialPolicy: policy, AnnounceInterval: time.Hour,
		AllowedOrigins: []string{"127.0.0.1:*"}, Logger: Logger("bridge"),
		Limits: bridge.Limits{RequestsPerSecond: 500, Burst: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(hl)
	t.Cleanup(func() { hs.Close(); srv.Close(); sig.Close() })
	tn.Bridge = srv
	tn.HTTPAddr = hl.Addr().String()
	tn.URL = "ws://" + tn.HTTPAddr + bridge.WSPath
	tn.SignalURL = "ws://" + tn.HTTPAddr + "/signal"
	return tn
}

func (tn *Net) ip(i int) string { return tn.base + fmt.Sprint(i) }

// Bridge2 is an additional bridge of the network (same chain, its own DHT
// node and swarm listener) that a test can kill.
type Bridge2 struct {
	Server *bridge.Server
	URL    string // ws://…/ws
	hs     *http.Server
}

// AddBridge starts another bridge over DHT node dhtIdx with its swarm
// listener on tn.ip(ipIdx). Browsers may dial anything through it.
func (tn *Net) AddBridge(dhtIdx, ipIdx int) *Bridge2 {
	t := tn.T
	t.Helper()
	sl, err := net.Listen("tcp", tn.ip(ipIdx)+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bridge.New(bridge.Config{
		DHT: bridge.FromDHT(tn.DHTs[dhtIdx]), Chain: bridge.FromChain(tn.Chain, nil), SwarmListener: sl,
		DialPolicy: bridge.PermissiveDialPolicy, AnnounceInterval: time.Hour,
		AllowedOrigins: []string{"127.0.0.1:*"}, Logger: Logger(fmt.Sprintf("bridge%d", ipIdx)),
		Limits: bridge.Limits{RequestsPerSecond: 500, Burst: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bridge2{Server: srv, URL: "ws://" + hl.Addr().String() + bridge.WSPath,
		hs: &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}}
	go b.hs.Serve(hl)
	t.Cleanup(b.Kill)
	return b
}

// Kill stops the bridge: its HTTP listener, every session and stream.
func (b *Bridge2) Kill() {
	b.hs.Close()
	b.Server.Close()
}

func (tn *Net) Mine(n int) {
	tn.T.Helper()
	for range n {
		if _, err := tn.Chain.MineBlock(context.Background(), "", nil, ""); err != nil {
			tn.T.Fatal(err)
		}
	}
}

func dhtAddr(d *dht.DHT) netip.AddrPort { return d.LocalAddr().(*net.UDPAddr).AddrPort() }

// dhtPeers is a swarm.PeerSource over a native DHT node, for users.
type dhtPeers struct {
	d     *dht.DHT
	mu    sync.Mutex
	names map[resource.Target]string
}

func (p *dhtPeers) Peers(ctx context.Context, user string, ih resource.Target) ([]netip.AddrPort, error) {
	p.mu.Lock()
	p.names[ih] = user
	p.mu.Unlock()
	return p.d.GetPeers(ctx, ih, user)
}

func (p *dhtPeers) Announce(ctx context.Context, ih resource.Target, port int) error {
	p.mu.Lock()
	name := p.names[ih]
	p.mu.Unlock()
	if name == "" {
		return fmt.Errorf("unknown info-hash")
	}
	return p.d.Announce(ctx, ih, name, port)
}

// Native is a native twister swarm node (TCP on its own loopback address,
// peers from its own DHT node, posts checked against the full chain).
type Native struct {
	*swarm.Swarm
	Addr string
}

// NewNative starts a native swarm node on tn.ip(ipIdx) using DHT node
// dhtIdx; with honest == false it accepts any piece unchecked (a forger).
func (tn *Net) NewNative(ipIdx, dhtIdx int, honest bool) *Native {
	t := tn.T
	t.Helper()
	ln, err := net.Listen("tcp", tn.ip(ipIdx)+":0")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(user string, k int64, data []byte) error {
		_, err := post.Validate(data, user, k, tn.Chain)
		return err
	}
	vpn := func(user string, k int64) bool { return post.CheckPostNumber(tn.Chain, user, k) == nil }
	if !honest {
		validate = func(string, int64, []byte) error { return nil }
		vpn = func(string, int64) bool { return true }
	}
	s, err := swarm.New(swarm.Config{
		Listener: ln, Store: swarm.NewMemStore(), Validate: validate, ValidPostNumber: vpn,
		Peers: &dhtPeers{d: tn.DHTs[dhtIdx], names: map[resource.Target]string{}},
		Limits: swarm.Limits{ReconnectDelay: 200 * time.Millisecond, TickInterval: 50 * time.Millisecond,
			DiscoverInterval: 300 * time.Millisecond, HandshakeTimeout: 3 * time.Second},
		Logger: Logger(fmt.Sprintf("native%d", ipIdx)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &Native{Swarm: s, Addr: ln.Addr().String()}
}

// Has tells whether the native node holds post k of user.
func (n *Native) Has(user string, k int64) bool { _, ok := n.Post(user, k); return ok }

// MakePost builds a real signed post k of user at the chain's height − 1.
func (tn *Net) MakePost(user string, k int64, msg string) []byte {
	tn.T.Helper()
	var lastk *int64
	if k > 0 {
		l := k - 1
		lastk = &l
	}
	b, err := post.NewPost(UserKey(user), user, k, time.Now().Unix(), tn.Chain.Height()-1, msg, lastk, nil)
	if err != nil {
		tn.T.Fatal(err)
	}
	return b
}
