package dht

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/resource"
)

func node(id krpc.ID, ip string, port uint16) krpc.NodeInfo {
	return krpc.NodeInfo{ID: id, Addr: netip.AddrPortFrom(netip.MustParseAddr(ip), port)}
}

// idAt returns an id sharing exactly cpl leading bits with self.
func idAt(self krpc.ID, cpl int, salt byte) krpc.ID {
	id := randomIDInBucket(self, cpl)
	id[19] = salt
	return id
}

func TestTableBuckets(t *testing.T) {
	now := time.Now()
	self := krpc.ID{0x55}
	tb := newTable(self, 8, 5, now)
	if tb.seen(node(self, "1.1.1.1", 1), answered, now) {
		t.Error("own id added")
	}
	// Bucket 5 (deep) holds K; bucket 0 holds 16 K.
	var deep []krpc.ID
	for i := 0; i < 12; i++ {
		deep = append(deep, idAt(self, 5, byte(i)))
		tb.seen(node(deep[i], "127.0.9."+itoa(i+1), 1), answered, now)
	}
	if len(tb.buckets[5].nodes) != 8 || len(tb.buckets[5].repl) != 4 {
		t.Errorf("bucket 5: %d live, %d replacements", len(tb.buckets[5].nodes), len(tb.buckets[5].repl))
	}
	for i := 0; i < 130; i++ {
		tb.seen(node(idAt(self, 0, byte(i)), "127.1."+itoa(i/200)+"."+itoa(i%200+1), 1), answered, now)
	}
	if len(tb.buckets[0].nodes) != 128 {
		t.Errorf("bucket 0 holds %d, want 16K = 128", len(tb.buckets[0].nodes))
	}
	if tb.limit(1) != 64 || tb.limit(2) != 32 || tb.limit(3) != 16 || tb.limit(4) != 8 {
		t.Error("extended bucket limits")
	}
	// closest is sorted by distance and excludes nothing healthy.
	target := deep[3]
	cl := tb.closest(target, 8, false)
	for i := 1; i < len(cl); i++ {
		if krpc.CloserTo(target, cl[i].ID, cl[i-1].ID) {
			t.Fatal("closest not sorted")
		}
	}
	if cl[0].ID != target {
		t.Error("exact match not first")
	}
}

func itoa(i int) string { return netip.AddrFrom4([4]byte{0, 0, 0, byte(i)}).String()[6:] }

func TestTableIPRules(t *testing.T) {
	now := time.Now()
	self := krpc.ID{0x55}
	tb := newTable(self, 8, 5, now)
	a := idAt(self, 3, 1)
	if !tb.seen(node(a, "127.0.1.1", 100), answered, now) {
		t.Fatal("first node not added")
	}
	// Same IP, another id: refused (one entry per IP), even on another port.
	if tb.seen(node(idAt(self, 4, 2), "127.0.1.1", 101), answered, now) {
		t.Error("second node on the same IP added")
	}
	// Distinct loopback addresses are distinct hosts.
	if !tb.seen(node(idAt(self, 3, 3), "127.0.1.2", 100), answered, now) {
		t.Error("127.0.1.2 refused")
	}
	// Public addresses: one per /24 in a bucket.
	if !tb.seen(node(idAt(self, 6, 4), "5.6.7.8", 1), answered, now) {
		t.Error("public node refused")
	}
	if tb.seen(node(idAt(self, 6, 5), "5.6.7.9", 1), answered, now) {
		t.Error("same /24 in one bucket accepted")
	}
	if !tb.seen(node(idAt(self, 7, 5), "5.6.7.9", 1), answered, now) {
		t.Error("same /24 in another bucket refused")
	}
	// An id already held at another address is not taken over.
	if tb.seen(node(a, "127.0.1.3", 100), answered, now) {
		t.Error("id hijacked by another address")
	}
	// The same address answering with a new id replaces the entry.
	b := idAt(self, 9, 9)
	if !tb.seen(node(b, "127.0.1.1", 100), answered, now) {
		t.Error("id change at the same address refused")
	}
	if tb.count != 4 {
		t.Errorf("count %d", tb.count)
	}
}

func TestTableFailures(t *testing.T) {
	now := time.Now()
	self := krpc.ID{0x55}
	tb := newTable(self, 8, 3, now)
	var live []krpc.NodeInfo
	for i := 0; i < 9; i++ {
		n := node(idAt(self, 5, byte(i)), "127.0.2."+itoa(i+1), 1)
		tb.seen(n, answered, now)
		live = append(live, n)
	}
	// 8 live, 1 replacement. A timeout swaps in the replacement at once.
	tb.failed(live[0].Addr)
	if tb.count != 8 || len(tb.buckets[5].repl) != 0 {
		t.Fatalf("after failure with replacement: %d live, %d repl", tb.count, len(tb.buckets[5].repl))
	}
	for _, n := range tb.closest(live[0].ID, 20, false) {
		if n.ID == live[0].ID {
			t.Error("failed node still served")
		}
	}
	// Without replacements a node survives maxFails-1 timeouts.
	tb.failed(live[1].Addr)
	tb.failed(live[1].Addr)
	if tb.count != 8 {
		t.Fatal("dropped too early")
	}
	if len(tb.closest(live[1].ID, 1, false)) == 1 && tb.closest(live[1].ID, 1, false)[0].ID == live[1].ID {
		t.Error("failing node served by closest")
	}
	tb.seen(live[1], answered, now) // it answers again: fails reset
	tb.failed(live[1].Addr)
	tb.failed(live[1].Addr)
	tb.failed(live[1].Addr)
	if tb.count != 7 {
		t.Errorf("not dropped after maxFails: %d", tb.count)
	}
	// A node that never answered is dropped at its first timeout.
	un := node(idAt(self, 2, 1), "127.0.3.1", 1)
	tb.seen(un, queriedUs, now)
	tb.failed(un.Addr)
	if _, ok := tb.ips[un.Addr.Addr()]; ok {
		t.Error("unanswered node kept after a timeout")
	}
	// Stale buckets give ids in their range.
	id, ok := tb.staleBucket(now.Add(time.Hour), 15*time.Minute)
	if !ok {
		t.Fatal("no stale bucket")
	}
	if _, ok := tb.staleBucket(now.Add(time.Hour), 15*time.Minute); !ok {
		t.Error("only one stale bucket")
	}
	_ = id
	for i := 0; i < 160; i += 7 {
		if got := krpc.CommonPrefixLen(self, randomIDInBucket(self, i)); got != i {
			t.Errorf("randomIDInBucket(%d) has prefix %d", i, got)
		}
	}
}

func TestStoreLimits(t *testing.T) {
	ks, ch := users(t, "alice", "bob")
	now := time.Now()
	s := newStore(Limits{MaxItems: 3, MaxBytes: 1 << 20, MaxPerSigner: 2, MaxTorrents: 2, MaxPeersPerTorrent: 2})
	mk := func(user, res string, seq int64) *parsedItem {
		p, sig := signedP(ks[user], user, res, false, bencode.NewString(res), seq, 100, now.Unix())
		it, err := parseItem(p, sig, user)
		if err != nil {
			t.Fatal(err)
		}
		if err := it.checkRest(ch, now); err != nil {
			t.Fatal(err)
		}
		return it
	}
	if _, err := s.put(mk("alice", "a", 1), false, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.put(mk("alice", "b", 1), false, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.put(mk("alice", "c", 1), false, now, now); err != errStoreFull {
		t.Errorf("per-signer limit: %v", err)
	}
	if _, err := s.put(mk("alice", "c", 1), true, now, now); err != nil {
		t.Errorf("local items bypass limits: %v", err)
	}
	if _, err := s.put(mk("bob", "d", 1), false, now, now); err != errStoreFull {
		t.Errorf("item limit: %v", err)
	}
	if s.count != 3 || s.perSigner["alice"] != 3 {
		t.Errorf("count %d per signer %v", s.count, s.perSigner)
	}
	// A newer seq of a held item replaces it without growing the count.
	if _, err := s.put(mk("alice", "a", 2), false, now, now); err != nil && err != errStoreFull {
		t.Fatal(err)
	}
	// Expiry by age in blocks (resource.ShouldExpire): a multi item.
	p, sig := signedP(ks["bob"], "alice", resource.Mention, true, bencode.NewString("m"), 0, 10, now.Unix())
	it, _ := parseItem(p, sig, "bob")
	s2 := newStore(Limits{MaxItems: 10, MaxBytes: 1 << 20, MaxPerSigner: 10})
	s2.put(it, false, now, now)
	s2.expire(10 + 2016)
	if s2.count != 1 {
		t.Error("expired too early")
	}
	s2.expire(10 + 2017)
	if s2.count != 0 || len(s2.items) != 0 {
		t.Error("multi item not expired")
	}
	// Torrents: at most 2, fewest-peers one evicted; peers capped; TTL.
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	s.addPeer(krpc.ID{1}, "", ap("1.1.1.1:1"), false, 0, now)
	s.addPeer(krpc.ID{1}, "", ap("1.1.1.2:1"), false, 0, now)
	s.addPeer(krpc.ID{1}, "", ap("1.1.1.3:1"), false, 0, now.Add(time.Second))
	s.addPeer(krpc.ID{2}, "", ap("2.1.1.1:1"), false, 0, now)
	s.addPeer(krpc.ID{3}, "", ap("3.1.1.1:1"), false, 0, now)
	if len(s.torrents) != 2 || s.torrents[krpc.ID{1}] == nil || len(s.torrents[krpc.ID{1}].peers) != 2 {
		t.Errorf("torrents %d", len(s.torrents))
	}
	s.purgePeers(now.Add(45*time.Minute+500*time.Millisecond), 45*time.Minute)
	if s.peerCount() != 1 {
		t.Errorf("peers after TTL: %d", s.peerCount())
	}
}

func TestLimiter(t *testing.T) {
	now := time.Now()
	l := newIPLimiter(Limits{QueryRate: 10, QueryBurst: 5, FloodPackets: 20, FloodWindow: 5 * time.Second, FloodBan: time.Minute})
	pub := netip.MustParseAddr("8.8.8.8")
	n := 0
	for i := 0; i < 10; i++ {
		if l.allow(pub, now) {
			n++
		}
	}
	if n != 5 {
		t.Errorf("burst allowed %d", n)
	}
	if !l.allow(pub, now.Add(200*time.Millisecond)) {
		t.Error("rate did not refill")
	}
	for i := 0; i < 100; i++ {
		if !l.allow(netip.MustParseAddr("127.0.0.1"), now) {
			t.Fatal("local address rate-limited")
		}
	}
	for i := 0; i < 20; i++ {
		if l.flood(pub, now) {
			t.Fatal("banned too early")
		}
	}
	if !l.flood(pub, now) || !l.flood(pub, now.Add(30*time.Second)) {
		t.Error("flood not banned")
	}
	if l.flood(pub, now.Add(61*time.Second)) {
		t.Error("ban did not end")
	}
}

func TestDemux(t *testing.T) {
	_, ch := users(t)
	other := make(chan string, 4)
	conn := listenUDP(t, "127.0.10.1")
	dm := NewDemux(conn, func(b []byte, from net.Addr) { other <- string(b) })
	srv := startNode(t, dm, ch, nil)
	c := newRawClient(t, "127.0.10.2")
	c.conn.WriteToUDPAddrPort([]byte("\x41\x02utp-packet-bytes-here-1234"), addrOf(srv))
	if r := c.ask(addrOf(srv), krpc.Ping, &krpc.Args{}); r.R == nil || r.R.ID != srv.ID() {
		t.Fatal("ping through demux failed")
	}
	select {
	case s := <-other:
		if s != "\x41\x02utp-packet-bytes-here-1234" {
			t.Errorf("other got %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("non-DHT datagram not handed over")
	}
	for _, tc := range []struct {
		b  string
		ok bool
	}{{"d1:ad2:id20:aaaaaaaaaaaaaaaaaaaaee", true}, {"d1:a1:be", false}, {"x1:ad2:id20:aaaaaaaaaaaaaaaaaaaaee", false}, {"d1:ad2:id20:aaaaaaaaaaaaaaaaaaaaex", false}} {
		if IsDHTPacket([]byte(tc.b)) != tc.ok {
			t.Errorf("IsDHTPacket(%q) != %v", tc.b, tc.ok)
		}
	}
}

// closest agrees with a brute-force sort over the whole table.
func TestClosestMatchesBruteForce(t *testing.T) {
	now := time.Now()
	self := randomIDInBucket(krpc.ID{}, 0)
	tb := newTable(self, 8, 5, now)
	var all []krpc.NodeInfo
	for i := 0; i < 400; i++ {
		id := randomIDInBucket(self, i%12)
		n := node(id, netip.AddrFrom4([4]byte{127, 3, byte(i / 250), byte(i%250 + 1)}).String(), 1)
		if tb.seen(n, answered, now) {
			all = append(all, n)
		}
	}
	for k := 0; k < 200; k++ {
		target := randomIDInBucket(self, k%20)
		if k%50 == 0 {
			target = self
		}
		want := slices.Clone(all)
		slices.SortFunc(want, func(a, b krpc.NodeInfo) int {
			da, db := krpc.Xor(a.ID, target), krpc.Xor(b.ID, target)
			return bytes.Compare(da[:], db[:])
		})
		got := tb.closest(target, 16, false)
		if !slices.Equal(got, want[:16]) {
			t.Fatalf("target %s: closest differs from brute force", target)
		}
	}
}
