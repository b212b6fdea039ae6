package swarm_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/wire"
)

// TestRequestTimeout: a peer that announces a post but never answers loses
// the request after RequestTimeout and an honest peer serves it.
func TestRequestTimeout(t *testing.T) {
	const user = "author"
	key := testKey(user)
	lim := swarm.Limits{RequestTimeout: 300 * time.Millisecond, TickInterval: 50 * time.Millisecond}
	n := newNode(t, "127.0.9.1", nodeOpts{users: []string{user}, limits: lim})
	n.Follow(user)
	r := dialRaw(t, "127.0.9.2", n.addr, user)
	r.send(t, wire.MsgSimple(wire.HaveNone), wire.MsgHave(3), wire.MsgSimple(wire.Unchoke))
	ms := readUntil(t, r.br, func(m wire.Message) bool { return m.ID == wire.Request })
	if ms[len(ms)-1].Index != 3 {
		t.Fatalf("request %v", ms[len(ms)-1])
	}
	start := time.Now()
	honest := newNode(t, "127.0.9.3", nodeOpts{users: []string{user}})
	if err := honest.AddPost(user, 3, signPost(key, user, 3, "x")); err != nil {
		t.Fatal(err)
	}
	honest.AddPeer(user, n.addr)
	waitFor(t, 5*time.Second, "post from the honest peer", func() bool { _, ok := n.gotAt(user, 3); return ok })
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("fetched after %v, before the request to the silent peer timed out", d)
	}
	if st := n.Stats(); st.RequestTimeouts != 1 || st.Penalties != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestPeerTimeoutAndKeepAlive: a silent peer is dropped after PeerTimeout;
// a peer that receives keep-alives and answers them stays.
func TestPeerTimeoutAndKeepAlive(t *testing.T) {
	const user = "author"
	lim := swarm.Limits{PeerTimeout: time.Second, KeepAliveInterval: 150 * time.Millisecond, TickInterval: 50 * time.Millisecond}
	n := newNode(t, "127.0.10.1", nodeOpts{users: []string{user}, limits: lim})
	n.Follow(user)
	silent := dialRaw(t, "127.0.10.2", n.addr, user)
	talker := dialRaw(t, "127.0.10.3", n.addr, user)
	keepalives := 0
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		talker.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		m, err := wire.ReadMessage(talker.br, wire.Limits{})
		if err == nil && m.KeepAlive {
			keepalives++
			talker.send(t, wire.Message{KeepAlive: true})
		}
	}
	if keepalives < 3 {
		t.Errorf("%d keep-alives in 1.5 s with a 150 ms interval", keepalives)
	}
	silent.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	silent.expectClosed(t)
	ps := n.Peers(user)
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Addr, "127.0.10.3:") {
		t.Errorf("peers %+v, want only the talker", ps)
	}
}

// TestConnectionLimits: MaxPeersPerTorrent and MaxConnections refuse extras.
func TestConnectionLimits(t *testing.T) {
	const user = "author"
	n := newNode(t, "127.0.11.1", nodeOpts{users: []string{user, "other"}, limits: swarm.Limits{MaxPeersPerTorrent: 2, MaxConnections: 3}})
	n.Follow(user)
	n.Follow("other")
	dialRaw(t, "127.0.11.2", n.addr, user)
	dialRaw(t, "127.0.11.3", n.addr, user)
	waitFor(t, 2*time.Second, "two peers", func() bool { return len(n.Peers(user)) == 2 })
	third := dialRaw(t, "127.0.11.4", n.addr, user) // handshake done, then dropped
	third.expectClosed(t)
	dialRaw(t, "127.0.11.5", n.addr, "other")
	waitFor(t, 2*time.Second, "peer of other", func() bool { return len(n.Peers("other")) == 1 })
	if st := n.Stats(); st.Connections != 3 || st.Refused == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestChokeSlots: with one unchoke slot, three followers that only know the
// source still all get a new post: the slot passes from a peer that is
// done (not interested) to one that waits.
func TestChokeSlots(t *testing.T) {
	const user = "author"
	key := testKey(user)
	src := newNode(t, "127.0.12.1", nodeOpts{users: []string{user}, limits: swarm.Limits{MaxUnchoked: 1}})
	src.Follow(user)
	var fs []*node
	for i := range 3 {
		f := newNode(t, fmt.Sprintf("127.0.12.%d", i+2), nodeOpts{users: []string{user}})
		f.AddPeer(user, src.addr)
		fs = append(fs, f)
	}
	waitFor(t, 5*time.Second, "connections", func() bool { return len(src.Peers(user)) == 3 })
	unchoked := 0
	for _, p := range src.Peers(user) {
		if !p.AmChoking {
			unchoked++
		}
	}
	if unchoked != 1 {
		t.Errorf("%d peers unchoked with one slot", unchoked)
	}
	src.AddPost(user, 1, signPost(key, user, 1, "one slot"))
	waitFor(t, 5*time.Second, "all three followers", func() bool {
		for _, f := range fs {
			if _, ok := f.gotAt(user, 1); !ok {
				return false
			}
		}
		return true
	})
}

// TestUploadRate: UploadRate bounds the bytes served per second.
func TestUploadRate(t *testing.T) {
	const user = "author"
	key := testKey(user)
	src := newNode(t, "127.0.13.1", nodeOpts{users: []string{user}, limits: swarm.Limits{UploadRate: 40000}})
	big := strings.Repeat("x", 1800)
	total := 0
	for k := int64(0); k < 40; k++ {
		d := signPost(key, user, k, big)
		total += len(d)
		if err := src.AddPost(user, k, d); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	f := newNode(t, "127.0.13.2", nodeOpts{users: []string{user}})
	f.AddPeer(user, src.addr)
	waitFor(t, 20*time.Second, "all posts", func() bool { return f.LastHave(user) == 39 && f.Stats().PiecesReceived == 40 })
	el := time.Since(start)
	// The burst covers the first 40,000 bytes; the rest flows at 40 kB/s.
	if min := time.Duration(float64(total-40000) / 40000 * float64(time.Second)); el < min*8/10 {
		t.Errorf("%d bytes in %v with a 40 kB/s limit (expected ≥ %v)", total, el, min)
	}
	t.Logf("%d bytes in %v", total, el)
}

// staticPeers is a PeerSource answering from a table (the node plugs in
// the DHT's tracker lookup; here the seam is exercised directly).
type staticPeers struct {
	mu        sync.Mutex
	peers     map[resource.Target][]netip.AddrPort
	announced map[resource.Target][]int
}

func (s *staticPeers) Peers(_ context.Context, user string, ih resource.Target) ([]netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ih != resource.InfoHash(user) {
		return nil, fmt.Errorf("info-hash mismatch for %q", user)
	}
	return s.peers[ih], nil
}

func (s *staticPeers) Announce(_ context.Context, ih resource.Target, port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.announced[ih] = append(s.announced[ih], port)
	return nil
}

// TestPeerSource: Follow looks peers up through the PeerSource, announces
// our port, and fetches the posts.
func TestPeerSource(t *testing.T) {
	const user = "author"
	key := testKey(user)
	src := newNode(t, "127.0.14.1", nodeOpts{users: []string{user}})
	p := signPost(key, user, 2, "found via the DHT")
	src.AddPost(user, 2, p)
	ps := &staticPeers{peers: map[resource.Target][]netip.AddrPort{resource.InfoHash(user): {netip.MustParseAddrPort(src.addr)}}, announced: map[resource.Target][]int{}}
	v := newValidator(100, user)
	f, err := swarm.New(swarm.Config{Store: swarm.NewMemStore(), Validate: v.validate, ValidPostNumber: v.validPostNumber,
		Peers: ps, AnnouncePort: 28333, Dialer: swarm.TCPDialer{LocalAddr: netip.MustParseAddr("127.0.14.2")}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Follow(user)
	f.Start()
	waitFor(t, 5*time.Second, "post via PeerSource", func() bool { d, ok := f.Post(user, 2); return ok && bytes.Equal(d, p) })
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if got := ps.announced[resource.InfoHash(user)]; len(got) != 1 || got[0] != 28333 {
		t.Errorf("announced %v", got)
	}
}

// TestLookupRetriedSoonWhenEmpty: a follow whose first lookups find no
// peer (the author has not announced yet) looks again within seconds, not
// after DiscoverInterval (a minute by default).
func TestLookupRetriedSoonWhenEmpty(t *testing.T) {
	const user = "lateauthor"
	key := testKey(user)
	src := newNode(t, "127.0.14.3", nodeOpts{users: []string{user}})
	p := signPost(key, user, 1, "announced late")
	src.AddPost(user, 1, p)
	ps := &staticPeers{peers: map[resource.Target][]netip.AddrPort{}, announced: map[resource.Target][]int{}}
	v := newValidator(100, user)
	f, err := swarm.New(swarm.Config{Store: swarm.NewMemStore(), Validate: v.validate, ValidPostNumber: v.validPostNumber,
		Peers: ps, AnnouncePort: 28333, Dialer: swarm.TCPDialer{LocalAddr: netip.MustParseAddr("127.0.14.4")}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Follow(user)
	f.Start()
	time.Sleep(300 * time.Millisecond) // the first lookup finds nobody
	ps.mu.Lock()
	ps.peers[resource.InfoHash(user)] = []netip.AddrPort{netip.MustParseAddrPort(src.addr)}
	ps.mu.Unlock()
	waitFor(t, 5*time.Second, "post after the author announced", func() bool { d, ok := f.Post(user, 1); return ok && bytes.Equal(d, p) })
}

// TestNotYetDefers: a piece Validate cannot judge yet (ErrNotYet: the
// follower's chain is behind) costs the sender nothing and is asked for
// again once DeferDelay has passed.
func TestNotYetDefers(t *testing.T) {
	const user = "aheadauthor"
	key := testKey(user)
	src := newNode(t, "127.0.14.5", nodeOpts{users: []string{user}})
	p := signPost(key, user, 1, "from blocks the follower lacks")
	src.AddPost(user, 1, p)
	ps := &staticPeers{peers: map[resource.Target][]netip.AddrPort{resource.InfoHash(user): {netip.MustParseAddrPort(src.addr)}}, announced: map[resource.Target][]int{}}
	v := newValidator(100, user)
	var synced atomic.Bool
	validate := func(u string, k int64, data []byte) error {
		if !synced.Load() {
			return fmt.Errorf("%w: height beyond our tip", swarm.ErrNotYet)
		}
		return v.validate(u, k, data)
	}
	f, err := swarm.New(swarm.Config{Store: swarm.NewMemStore(), Validate: validate, ValidPostNumber: v.validPostNumber,
		Peers: ps, Dialer: swarm.TCPDialer{LocalAddr: netip.MustParseAddr("127.0.14.6")},
		Limits: swarm.Limits{DeferDelay: 300 * time.Millisecond, TickInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Follow(user)
	f.Start()
	waitFor(t, 5*time.Second, "a deferred piece", func() bool { return f.Stats().Deferred > 0 })
	synced.Store(true)
	waitFor(t, 5*time.Second, "the piece once it can be checked", func() bool { d, ok := f.Post(user, 1); return ok && bytes.Equal(d, p) })
	if st := f.Stats(); st.Penalties != 0 || st.Rejected != 0 || st.Bans != 0 {
		t.Errorf("the honest peer was held responsible: %+v", st)
	}
}
