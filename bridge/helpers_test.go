package bridge_test

import (
	"context"
	"crypto/sha256"
	"errors"
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

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm"
)

// testLogger logs to stderr when BRIDGE_TEST_LOG is set.
func testLogger(name string) *slog.Logger {
	if os.Getenv("BRIDGE_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("who", name)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// userKey derives a deterministic key for a test user.
func userKey(user string) *keys.PrivateKey {
	sum := sha256.Sum256([]byte("bridge test key " + user))
	k, err := keys.PrivateKeyFromBytes(sum[:], true)
	if err != nil {
		panic(err)
	}
	return k
}

// testChain is a registry of test users for the DHT and post validation:
// every user registered at height 1, tip at 100.
type testChain struct{ keys.StaticResolver }

func newTestChain(users ...string) *testChain {
	c := &testChain{StaticResolver: keys.StaticResolver{}}
	for _, u := range users {
		c.StaticResolver[u] = keys.KeyHistory{{Height: 1, Key: userKey(u).PubKey()}}
	}
	return c
}

func (c *testChain) Height() int64 { return 100 }
func (c *testChain) RegistrationHeight(user string) (int64, error) {
	if _, ok := c.StaticResolver[user]; !ok {
		return 0, keys.ErrUnknownUser
	}
	return 1, nil
}

var users = []string{"alice", "bob", "carol", "dave"}

// dhtNet is a small real DHT network on UDP loopback sockets 127.2.x.y.
type dhtNet struct {
	chain *testChain
	nodes []*dht.DHT
}

var dhtNetSeq atomic.Int32

func newDHTNet(t testing.TB, n int) *dhtNet {
	t.Helper()
	net3 := dhtNetSeq.Add(1) % 250 // each network on its own 127.2.x.0/24
	dn := &dhtNet{chain: newTestChain(users...)}
	for i := range n {
		ip := fmt.Sprintf("127.2.%d.%d", net3, i+1)
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatalf("listen %s: %v", ip, err)
		}
		d, err := dht.New(dht.Config{Conn: conn, Chain: dn.chain, TickInterval: 100 * time.Millisecond,
			UnconfirmedInterval: 500 * time.Millisecond, ShortTimeout: 300 * time.Millisecond, QueryTimeout: 2 * time.Second,
			LookupTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		dn.nodes = append(dn.nodes, d)
	}
	var wg sync.WaitGroup
	for _, d := range dn.nodes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Bootstrap(ctxT(t, 10*time.Second), addrOf(dn.nodes[0])); err != nil {
				t.Errorf("bootstrap: %v", err)
			}
		}()
	}
	wg.Wait()
	return dn
}

func addrOf(d *dht.DHT) netip.AddrPort {
	return d.LocalAddr().(*net.UDPAddr).AddrPort()
}

// bridgeEnv is a running bridge with its HTTP server.
type bridgeEnv struct {
	srv   *bridge.Server
	hs    *http.Server
	url   string // ws://…/ws
	http  string // http://…
	swarm string // the swarm listener's address, if any
}

// startBridge runs a bridge on 127.0.0.1 (HTTP) with cfg; swarmIP, if set,
// gets a TCP swarm listener.
func startBridge(t testing.TB, cfg bridge.Config, swarmIP string) *bridgeEnv {
	t.Helper()
	env := &bridgeEnv{}
	if swarmIP != "" {
		ln, err := net.Listen("tcp", swarmIP+":0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.SwarmListener = ln
		env.swarm = ln.Addr().String()
	}
	if cfg.DialPolicy == nil {
		cfg.DialPolicy = bridge.PermissiveDialPolicy
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger("bridge")
	}
	srv, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	env.hs = &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go env.hs.Serve(ln)
	env.http = "http://" + ln.Addr().String()
	env.url = "ws://" + ln.Addr().String() + bridge.WSPath
	t.Cleanup(env.kill)
	return env
}

// kill stops the bridge abruptly: listener and sessions closed.
func (e *bridgeEnv) kill() {
	e.hs.Close()
	e.srv.Close()
}

func dial(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t, 5*time.Second), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// signItem builds and signs a DHT item as a browser does: p = {height, seq
// (single), target, time, v}.
func signItem(user, name, res string, multi bool, v any, seq int64) (p, sig []byte) {
	d := bencode.NewDict()
	d.Set("height", bencode.NewInt(99))
	if !multi {
		d.Set("seq", bencode.NewInt(seq))
	}
	d.Set("target", resource.TargetDict(name, res, multi))
	d.Set("time", bencode.NewInt(time.Now().Unix()))
	d.Set("v", bencode.MustFrom(v))
	p = bencode.Encode(d)
	return p, userKey(user).Sign(p)
}

// swarmNode is a swarm.Swarm with real post validation and a record of the
// posts it stored.
type swarmNode struct {
	*swarm.Swarm
	mu  sync.Mutex
	got map[string]map[int64][]byte
}

type swarmOpts struct {
	listener net.Listener
	dialer   swarm.Dialer
	peers    swarm.PeerSource
	chain    *testChain
	name     string
}

func newSwarmNode(t testing.TB, o swarmOpts) *swarmNode {
	t.Helper()
	ch := o.chain
	s, err := swarm.New(swarm.Config{
		Listener: o.listener,
		Dialer:   o.dialer,
		Peers:    o.peers,
		Store:    swarm.NewMemStore(),
		Validate: func(user string, k int64, data []byte) error {
			_, err := post.Validate(data, user, k, ch)
			return err
		},
		ValidPostNumber: func(user string, k int64) bool { return post.CheckPostNumber(ch, user, k) == nil },
		Limits: swarm.Limits{ReconnectDelay: 100 * time.Millisecond, TickInterval: 50 * time.Millisecond,
			DiscoverInterval: 300 * time.Millisecond, HandshakeTimeout: 3 * time.Second},
		Logger: testLogger(o.name),
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &swarmNode{Swarm: s, got: map[string]map[int64][]byte{}}
	s.OnPost(func(user string, k int64, data []byte) {
		n.mu.Lock()
		if n.got[user] == nil {
			n.got[user] = map[int64][]byte{}
		}
		n.got[user][k] = data
		n.mu.Unlock()
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return n
}

func (n *swarmNode) has(user string, k int64) bool {
	_, ok := n.Post(user, k)
	return ok
}

// makePost builds a real signed post k of user.
func makePost(t testing.TB, user string, k int64, msg string) []byte {
	t.Helper()
	var lastk *int64
	if k > 0 {
		l := k - 1
		lastk = &l
	}
	b, err := post.NewPost(userKey(user), user, k, time.Now().Unix(), 99, msg, lastk, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dhtPeers is a swarm.PeerSource over a native DHT node.
type dhtPeers struct{ d *dht.DHT }

func (p dhtPeers) Peers(ctx context.Context, user string, ih resource.Target) ([]netip.AddrPort, error) {
	return p.d.GetPeers(ctx, ih, user)
}

func (p dhtPeers) Announce(ctx context.Context, ih resource.Target, port int) error {
	return errors.New("test node does not announce")
}
