package bridge_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/resource"
)

// TestPoolFailover kills the bridge a Pool uses in the middle of a session:
// requests go on through the second bridge, the served swarm is registered
// there again, and the browser swarm node's stream to a native peer is
// re-dialed through the second bridge, so new posts keep arriving.
func TestPoolFailover(t *testing.T) {
	dn := newDHTNet(t, 5)
	a := startBridge(t, bridge.Config{DHT: bridge.FromDHT(dn.nodes[0])}, "127.0.3.30")
	b := startBridge(t, bridge.Config{DHT: bridge.FromDHT(dn.nodes[1]), Peers: []string{"ws://127.0.0.1:1/ws"}}, "127.0.3.31")

	var mu sync.Mutex
	var events []string
	pool, err := client.NewPool([]string{a.url, b.url}, client.PoolOptions{
		DialTimeout: 2 * time.Second,
		OnState: func(url string, st client.State, err error) {
			who := map[string]string{a.url: "A", b.url: "B"}[url]
			mu.Lock()
			events = append(events, fmt.Sprintf("%s %v", who, st))
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	p, sig := signItem("carol", "carol", resource.Profile, false, map[string]any{"fullname": "Carol"}, 1)
	if _, err := pool.PutData(ctxT(t, 10*time.Second), p, sig, "carol"); err != nil {
		t.Fatal(err)
	}
	if pool.Current() != a.url {
		t.Fatalf("current %q, want A", pool.Current())
	}

	ln, err := net.Listen("tcp", "127.0.3.32:0")
	if err != nil {
		t.Fatal(err)
	}
	native := newSwarmNode(t, swarmOpts{listener: ln, chain: dn.chain, name: "native"})
	browser := newSwarmNode(t, swarmOpts{listener: pool.Listener(), dialer: pool, chain: dn.chain, name: "browser"})
	for k := range int64(2) {
		native.AddPost("alice", k, makePost(t, "alice", k, "before"))
	}
	if err := browser.AddPeer("alice", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "posts through bridge A", func() bool { return browser.has("alice", 1) })
	if err := pool.Serve(ctxT(t, 5*time.Second), "bob"); err != nil {
		t.Fatal(err)
	}
	if a.srv.Stats().ServedHashes != 1 || a.srv.Stats().StreamsOut != 1 {
		t.Fatalf("bridge A: %+v", a.srv.Stats())
	}

	a.kill()
	killed := time.Now()

	items, err := pool.GetData(ctxT(t, 10*time.Second), "carol", resource.Profile, false, client.GetOptions{})
	if err != nil || len(items) != 1 || string(items[0].P) != string(p) {
		t.Fatalf("getData after failover: %v %v", items, err)
	}
	if pool.Current() != b.url {
		t.Fatalf("current %q, want B", pool.Current())
	}
	t.Logf("first request answered by bridge B %v after A died", time.Since(killed))
	if b.srv.Stats().ServedHashes != 1 {
		t.Error("served swarm not registered again on bridge B")
	}
	native.AddPost("alice", 2, makePost(t, "alice", 2, "after"))
	waitFor(t, 10*time.Second, "a post through bridge B", func() bool { return browser.has("alice", 2) })
	if b.srv.Stats().StreamsOut != 1 {
		t.Errorf("bridge B streams %+v", b.srv.Stats())
	}
	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	want := []string{"A connecting", "A connected", "A disconnected", "B connecting", "B connected"}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	// With every bridge gone, calls fail with ErrNoBridge.
	b.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitFor(t, 5*time.Second, "B's loss noticed", func() bool { return pool.Current() == "" })
	if _, err := pool.Ping(ctx); err == nil {
		t.Fatal("ping with no bridge alive succeeded")
	}
}

// LearnPeers adds the bridges a hello lists.
func TestPoolLearnsPeers(t *testing.T) {
	b := startBridge(t, bridge.Config{}, "")
	a := startBridge(t, bridge.Config{Peers: []string{b.url}}, "")
	pool, err := client.NewPool([]string{a.url}, client.PoolOptions{LearnPeers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pool.URLs(), b.url) {
		t.Fatalf("urls %v", pool.URLs())
	}
	a.kill()
	waitFor(t, 5*time.Second, "failover to the learnt bridge", func() bool {
		_, err := pool.Ping(ctxT(t, 5*time.Second))
		return err == nil && pool.Current() == b.url
	})
}
