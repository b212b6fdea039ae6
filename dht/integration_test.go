package dht

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/dht/memnet"
	"github.com/gotwister/twister/resource"
)

// TestLoopbackNetwork runs 50 nodes on real UDP sockets bound to
// 127.0.1.1 … 127.0.1.50, bootstrapped from the first, and puts and gets
// every kind of resource between random nodes.
func TestLoopbackNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("50-node network skipped in -short mode")
	}
	const N = 50
	ks, ch := users(t, "alice", "bob", "carol", "dave")
	fast := func(c *Config) {
		c.TickInterval = 100 * time.Millisecond
		c.UnconfirmedInterval = 500 * time.Millisecond
	}
	nodes := make([]*DHT, N)
	for i := range nodes {
		nodes[i] = startNode(t, listenUDP(t, fmt.Sprintf("127.0.1.%d", i+1)), ch, fast)
	}
	var wg sync.WaitGroup
	for _, n := range nodes[1:] {
		wg.Add(1)
		go func(n *DHT) {
			defer wg.Done()
			if err := n.Bootstrap(ctxT(t, 10*time.Second), addrOf(nodes[0])); err != nil {
				t.Errorf("bootstrap: %v", err)
			}
		}(n)
	}
	wg.Wait()
	total := 0
	for _, n := range nodes {
		total += n.Stats().Nodes
	}
	t.Logf("after bootstrap: %.1f nodes per table on average", float64(total)/N)
	if nodes[0].Stats().Nodes != N-1 {
		t.Errorf("bootstrap node knows %d nodes, want %d", nodes[0].Stats().Nodes, N-1)
	}

	pick := func(i int) *DHT { return nodes[(i*7+3)%N] }
	op := 0
	put := func(signer, name, res string, multi bool, v any, seq int64) {
		t.Helper()
		op++
		if err := pick(op).Put(ctxT(t, 10*time.Second), ks[signer], signer, name, res, multi, bencode.MustFrom(v), seq, 99); err != nil {
			t.Fatalf("put %s/%s by %s: %v", name, res, signer, err)
		}
	}
	get := func(name, res string, multi bool) []Item {
		t.Helper()
		op++
		var st LookupStats
		items, err := pick(op).Get(ctxT(t, 10*time.Second), name, res, multi, GetOptions{NetworkOnly: true, Stats: &st})
		if err != nil {
			t.Fatalf("get %s/%s: %v", name, res, err)
		}
		if st.Rounds > 4 {
			t.Errorf("get %s/%s took %d rounds", name, res, st.Rounds)
		}
		return items
	}
	str := func(it Item) string { s, _ := bencode.Value(it.V).GetString("fullname"); return s }

	put("alice", "alice", resource.Profile, false, map[string]any{"fullname": "Alice", "bio": "hi"}, 1)
	if it := get("alice", resource.Profile, false); len(it) != 1 || str(it[0]) != "Alice" {
		t.Fatalf("profile: %v", it)
	}
	put("alice", "alice", resource.Profile, false, map[string]any{"fullname": "Alice B"}, 2)
	if it := get("alice", resource.Profile, false); len(it) != 1 || it[0].Seq != 2 || str(it[0]) != "Alice B" {
		t.Fatalf("profile update: %v", it)
	}
	put("alice", "alice", resource.Avatar, false, "data:image/jpeg;base64,AAAA", 1)
	if it := get("alice", resource.Avatar, false); len(it) != 1 {
		t.Fatal("avatar not found")
	}
	post := map[string]any{"sig_userpost": "x", "userpost": map[string]any{"n": "alice", "k": 1, "msg": "hello", "height": 99, "time": 1}}
	put("alice", "alice", resource.Post(1), false, post, 1)
	put("alice", "alice", resource.Status, false, post, 1)
	for _, r := range []string{resource.Post(1), resource.Status} {
		if it := get("alice", r, false); len(it) != 1 || it[0].Seq != 1 {
			t.Fatalf("%s: %v", r, it)
		}
	}
	put("alice", "alice", resource.Following(1), false, []string{"bob", "carol"}, 3)
	if it := get("alice", resource.Following(1), false); len(it) != 1 || it[0].Seq != 3 || len(it[0].V.List) != 2 {
		t.Fatalf("following1: %v", it)
	}
	// Multi resources: anyone registered adds.
	multi := []struct{ name, res string }{
		{"alice", resource.Replies(1)}, {"alice", resource.Rts(1)}, {"alice", resource.Mention}, {"twister", resource.Hashtag},
	}
	for _, m := range multi {
		put("bob", m.name, m.res, true, "from bob to "+m.res, 0)
		put("carol", m.name, m.res, true, "from carol to "+m.res, 0)
		put("dave", m.name, m.res, true, "from dave to "+m.res, 0)
	}
	for _, m := range multi {
		it := get(m.name, m.res, true)
		var signers []string
		for _, x := range it {
			signers = append(signers, x.SigUser)
		}
		slices.Sort(signers)
		if !slices.Equal(signers, []string{"bob", "carol", "dave"}) {
			t.Errorf("%s/%s: signers %v", m.name, m.res, signers)
		}
	}

	// Tracker: two nodes announce alice's swarm; any node finds both.
	ih := resource.InfoHash("alice")
	for i, n := range []*DHT{nodes[4], nodes[5]} {
		if err := n.Announce(ctxT(t, 10*time.Second), ih, "alice", 5000+i); err != nil {
			t.Fatalf("announce: %v", err)
		}
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.1.5:5000"), netip.MustParseAddrPort("127.0.1.6:5001")}
	for _, n := range []*DHT{nodes[40], nodes[4], nodes[0]} {
		peers, err := n.GetPeers(ctxT(t, 10*time.Second), ih, "alice")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if n == nodes[4] && w.Port() == 5000 {
				continue // its own announce
			}
			if !slices.Contains(peers, w) {
				t.Errorf("node %v: peers %v lack %v", addrOf(n), peers, w)
			}
		}
	}
	if it, err := nodes[30].Get(ctxT(t, 10*time.Second), "alice", resource.Tracker, true, GetOptions{}); err != nil || len(it) != 1 {
		t.Errorf("tracker get: %v %v", it, err)
	} else if vs, _ := it[0].V.GetInt("values_size"); vs < 2 {
		t.Errorf("tracker summary %v", it[0].V)
	}

	// A node that knows nobody queues its put and publishes it once it
	// learns of a node.
	late := startNode(t, listenUDP(t, "127.0.1.51"), ch, fast)
	err := late.Put(ctxT(t, 5*time.Second), ks["bob"], "bob", "bob", resource.Profile, false, bencode.MustFrom(map[string]any{"fullname": "Bob"}), 1, 99)
	if !errors.Is(err, ErrQueued) {
		t.Fatalf("put with no nodes: %v, want ErrQueued", err)
	}
	if q := late.Stats().Queued; q != 1 {
		t.Fatalf("queued %d", q)
	}
	if err := late.Bootstrap(ctxT(t, 5*time.Second), addrOf(nodes[7])); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "queued put published", func() bool { return late.Stats().Queued == 0 })
	if it := get("bob", resource.Profile, false); len(it) != 1 || str(it[0]) != "Bob" {
		t.Fatalf("queued put not found: %v", it)
	}
	var in int64
	for _, n := range nodes {
		in += n.Stats().QueriesIn
	}
	t.Logf("queries answered by all nodes: %d", in)
}

// A put made while every known node times out is kept and published as
// soon as a node answers.
func TestPutQueuedWhileNodesTimeOut(t *testing.T) {
	ks, ch := users(t, "alice")
	nw := memnet.New(memnet.Config{Latency: time.Millisecond})
	listen := func(s string) *memnet.Conn {
		c, err := nw.Listen(netip.MustParseAddrPort(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fast := func(c *Config) {
		c.ShortTimeout = 100 * time.Millisecond
		c.QueryTimeout = 300 * time.Millisecond
		c.TickInterval = 50 * time.Millisecond
		c.UnconfirmedInterval = 300 * time.Millisecond
		c.MaxFails = 100 // keep the dead node, so every attempt times out
	}
	q := startNode(t, listen("10.0.0.1:1"), ch, fast)
	x := startNode(t, listen("10.0.0.2:1"), ch, fast)
	if err := q.Bootstrap(ctxT(t, 5*time.Second), addrOf(x)); err != nil {
		t.Fatal(err)
	}
	x.Close()
	err := q.Put(ctxT(t, 5*time.Second), ks["alice"], "alice", "alice", resource.Status, false, bencode.NewString("s"), 1, 99)
	if !errors.Is(err, ErrQueued) {
		t.Fatalf("put to dead nodes: %v, want ErrQueued", err)
	}
	time.Sleep(700 * time.Millisecond) // a few failed retries
	if q.Stats().Queued != 1 {
		t.Fatal("queued put lost")
	}
	y := startNode(t, listen("10.0.0.3:1"), ch, fast)
	q.AddNode(addrOf(y))
	eventually(t, 5*time.Second, "queued put reaching the new node", func() bool { return y.Stats().StoredItems == 1 })
	eventually(t, 5*time.Second, "queue empty", func() bool { return q.Stats().Queued == 0 })
	// Once another node is seen holding it, it is confirmed.
	eventually(t, 5*time.Second, "item confirmed", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		for _, l := range q.store.items {
			return l[0].confirmed
		}
		return false
	})
}

// Stored items are re-put on the refresh schedule: a node that joins near
// the target later receives the item without a new put.
func TestRefreshReachesNewNodes(t *testing.T) {
	ks, ch := users(t, "alice")
	nw := memnet.New(memnet.Config{Latency: time.Millisecond})
	var addrs int
	listen := func() *memnet.Conn {
		addrs++
		c, err := nw.Listen(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(addrs)}), 1))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fast := func(c *Config) {
		c.TickInterval = 50 * time.Millisecond
		c.RefreshInterval = 400 * time.Millisecond
		c.UnconfirmedInterval = 200 * time.Millisecond
	}
	a := startNode(t, listen(), ch, fast)
	b := startNode(t, listen(), ch, fast)
	if err := b.Bootstrap(ctxT(t, 5*time.Second), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctxT(t, 5*time.Second), ks["alice"], "alice", "alice", resource.Profile, false, bencode.NewString("p"), 1, 99); err != nil {
		t.Fatal(err)
	}
	// A newcomer whose id is the target itself.
	id := resource.TargetFor("alice", resource.Profile, false)
	nodeID := krpc.ID(id)
	c := startNode(t, listen(), ch, func(cf *Config) { fast(cf); cf.NodeID = &nodeID })
	if err := c.Bootstrap(ctxT(t, 5*time.Second), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "refresh reaching the newcomer", func() bool { return c.Stats().StoredItems == 1 })
	// A closes: B and C still serve it.
	a.Close()
	items, err := c.Get(ctxT(t, 5*time.Second), "alice", resource.Profile, false, GetOptions{})
	if err != nil || len(items) != 1 {
		t.Fatalf("after refresh: %v %v", items, err)
	}
}
