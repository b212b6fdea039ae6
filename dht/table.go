package dht

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gotwister/twister/dht/krpc"
)

// The routing table (§3.4). Instead of libtorrent's list of buckets where
// only the last one splits, it keeps one bucket per common-prefix length
// with our id (0..159), which is what a fully split libtorrent table
// converges to. With extended_routing_table the first four buckets (the
// farthest halves) hold 16×, 8×, 4× and 2× K nodes, as in libtorrent.
// Each bucket has a replacement cache of K nodes.
//
// IP restrictions (restrict_routing_ips): one entry per IP address in the
// whole table, and for non-local IPv4 addresses no two entries of a bucket
// (or its replacement cache) in the same /24. Local addresses (127/8 and
// private ranges) are exempt from the /24 rule, so nodes bound to
// 127.0.1.1, 127.0.1.2, … count as distinct hosts.

type entry struct {
	krpc.NodeInfo
	lastSeen time.Time // last reply from it, or query it sent us
	fails    int       // consecutive timeouts
	pinged   bool      // it has answered one of our queries
	direct   bool      // it answered or queried us (not only heard about)
}

// How a node came to our attention.
const (
	heardAbout = iota // listed in another node's reply
	queriedUs         // sent us a query
	answered          // answered our query
)

type bucket struct {
	nodes      []*entry
	repl       []*entry
	lastActive time.Time
}

type table struct {
	self     krpc.ID
	k        int
	maxFails int
	buckets  [160]bucket
	ips      map[netip.Addr]*entry // every entry, live or replacement
	count    int                   // live entries
}

func newTable(self krpc.ID, k, maxFails int, now time.Time) *table {
	t := &table{self: self, k: k, maxFails: maxFails, ips: map[netip.Addr]*entry{}}
	for i := range t.buckets {
		t.buckets[i].lastActive = now
	}
	return t
}

func (t *table) bucketIndex(id krpc.ID) int {
	i := krpc.CommonPrefixLen(t.self, id)
	if i >= 160 {
		return -1
	}
	return i
}

func (t *table) limit(i int) int {
	switch i {
	case 0:
		return 16 * t.k
	case 1:
		return 8 * t.k
	case 2:
		return 4 * t.k
	case 3:
		return 2 * t.k
	}
	return t.k
}

func same24(a, b netip.Addr) bool {
	a, b = a.Unmap(), b.Unmap()
	if !a.Is4() || !b.Is4() {
		return false
	}
	x, y := a.As4(), b.As4()
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2]
}

// seen records a node: it answered us, queried us, or was listed by
// another node (heard about; such entries are used to start our lookups
// but not given to others until the node contacts us, and they yield to
// any node we did hear from). It reports whether the node is now a live
// entry of the table.
func (t *table) seen(n krpc.NodeInfo, how int, now time.Time) bool {
	pinged, direct := how == answered, how != heardAbout
	bi := t.bucketIndex(n.ID)
	if bi < 0 || !n.Addr.IsValid() || n.Addr.Port() == 0 {
		return false
	}
	ip := n.Addr.Addr().Unmap()
	if e, ok := t.ips[ip]; ok {
		if e.ID == n.ID && e.Addr == n.Addr {
			b := &t.buckets[bi]
			if !direct {
				return slices.Contains(b.nodes, e)
			}
			e.lastSeen, e.fails = now, 0
			e.pinged = e.pinged || pinged
			e.direct = true
			b.lastActive = now
			if i := slices.Index(b.repl, e); i >= 0 && pinged {
				// A replacement that answers may take a free slot or one
				// held by a failing node.
				t.promote(bi, i)
			}
			return slices.Contains(b.nodes, e)
		}
		// Another node at this IP. Only a node that answered from the
		// very same address may take over the entry (its id changed).
		if !pinged || e.Addr != n.Addr {
			return false
		}
		t.remove(e)
	}
	b := &t.buckets[bi]
	for _, e := range b.nodes {
		if e.ID == n.ID {
			return false // this id is held by another address
		}
	}
	for _, e := range b.repl {
		if e.ID == n.ID {
			return false
		}
	}
	if !IsLocalAddr(ip) {
		for _, e := range b.nodes {
			if same24(e.Addr.Addr(), ip) {
				return false
			}
		}
		for _, e := range b.repl {
			if same24(e.Addr.Addr(), ip) {
				return false
			}
		}
	}
	ne := &entry{NodeInfo: krpc.NodeInfo{ID: n.ID, Addr: netip.AddrPortFrom(ip, n.Addr.Port())}, lastSeen: now, pinged: pinged, direct: direct}
	if direct {
		b.lastActive = now
	}
	if len(b.nodes) < t.limit(bi) {
		b.nodes = append(b.nodes, ne)
		t.ips[ip] = ne
		t.count++
		return true
	}
	if direct {
		// Replace the worst node: a second-hand one, else (for a node
		// that answered) one that never answered or has failed.
		worst, score := -1, 0
		for i, e := range b.nodes {
			s := 0
			switch {
			case !e.direct:
				s = 3
			case pinged && e.fails > 0:
				s = 2
			case pinged && !e.pinged:
				s = 1
			}
			if s > score {
				worst, score = i, s
			}
		}
		if worst >= 0 {
			old := b.nodes[worst]
			delete(t.ips, old.Addr.Addr())
			b.nodes[worst] = ne
			t.ips[ip] = ne
			return true
		}
	}
	// Keep it as a replacement; drop the oldest second-hand one, else the
	// oldest unanswered one, else the oldest, when the cache is full.
	if len(b.repl) >= t.k {
		drop := -1
		for i, e := range b.repl {
			if !e.direct {
				drop = i
				break
			}
		}
		if drop < 0 && !direct {
			return false
		}
		for i, e := range b.repl {
			if drop < 0 && !e.pinged {
				drop = i
			}
		}
		if drop < 0 {
			drop = 0
		}
		delete(t.ips, b.repl[drop].Addr.Addr())
		b.repl = slices.Delete(b.repl, drop, drop+1)
	}
	b.repl = append(b.repl, ne)
	t.ips[ip] = ne
	return false
}

// promote moves replacement i of bucket bi into the live nodes if there is
// room or a failing node to evict.
func (t *table) promote(bi, i int) {
	b := &t.buckets[bi]
	r := b.repl[i]
	if len(b.nodes) < t.limit(bi) {
		b.repl = slices.Delete(b.repl, i, i+1)
		b.nodes = append(b.nodes, r)
		t.count++
		return
	}
	for j, e := range b.nodes {
		if e.fails > 0 || !e.pinged || !e.direct {
			b.repl = slices.Delete(b.repl, i, i+1)
			delete(t.ips, e.Addr.Addr())
			b.nodes[j] = r
			return
		}
	}
}

func (t *table) remove(e *entry) {
	bi := t.bucketIndex(e.ID)
	if bi < 0 {
		return
	}
	b := &t.buckets[bi]
	if i := slices.Index(b.nodes, e); i >= 0 {
		b.nodes = slices.Delete(b.nodes, i, i+1)
		t.count--
	} else if i := slices.Index(b.repl, e); i >= 0 {
		b.repl = slices.Delete(b.repl, i, i+1)
	}
	if t.ips[e.Addr.Addr()] == e {
		delete(t.ips, e.Addr.Addr())
	}
}

// failed records a timeout of the node at addr. A failing node is replaced
// at once when the bucket has an answering replacement, dropped at once if
// it never answered, and otherwise dropped after maxFails timeouts.
func (t *table) failed(addr netip.AddrPort) {
	e, ok := t.ips[addr.Addr().Unmap()]
	if !ok || e.Addr.Port() != addr.Port() {
		return
	}
	e.fails++
	bi := t.bucketIndex(e.ID)
	b := &t.buckets[bi]
	if i := slices.Index(b.repl, e); i >= 0 {
		if e.fails >= 2 || !e.pinged {
			t.remove(e)
		}
		return
	}
	best := -1
	for i, r := range b.repl {
		if r.pinged && (best < 0 || r.lastSeen.After(b.repl[best].lastSeen)) {
			best = i
		}
	}
	if best >= 0 || !e.pinged || e.fails >= t.maxFails {
		t.remove(e)
		if best >= 0 {
			r := b.repl[best]
			b.repl = slices.Delete(b.repl, best, best+1)
			b.nodes = append(b.nodes, r)
			t.count++
		}
	}
}

// closest returns up to n live, non-failing nodes nearest to target; with
// directOnly, only nodes we heard from ourselves (what we tell others).
//
// With c = the prefix length target shares with our id, nodes of bucket c
// are nearer to target than those of deeper buckets, which are nearer than
// bucket c-1, then c-2, …; so buckets are visited in that order and the
// scan stops once n nodes are found, sorting only within a group.
func (t *table) closest(target krpc.ID, n int, directOnly bool) []krpc.NodeInfo {
	type scored struct {
		d krpc.ID
		e *entry
	}
	c := krpc.CommonPrefixLen(t.self, target)
	out := make([]krpc.NodeInfo, 0, n)
	var group []scored
	take := func(from, to int) bool { // buckets [from, to) form one group
		group = group[:0]
		for i := from; i < to && i < 160; i++ {
			for _, e := range t.buckets[i].nodes {
				if e.fails == 0 && (e.direct || !directOnly) {
					group = append(group, scored{krpc.Xor(e.ID, target), e})
				}
			}
		}
		slices.SortFunc(group, func(a, b scored) int { return bytes.Compare(a.d[:], b.d[:]) })
		for _, g := range group {
			if len(out) == n {
				return true
			}
			out = append(out, g.e.NodeInfo)
		}
		return len(out) == n
	}
	if c < 160 {
		if take(c, c+1) || take(c+1, 160) {
			return out
		}
	}
	for i := min(c, 160) - 1; i >= 0; i-- {
		if take(i, i+1) {
			break
		}
	}
	return out
}

// nodes returns every live entry.
func (t *table) nodes() []krpc.NodeInfo {
	out := make([]krpc.NodeInfo, 0, t.count)
	for i := range t.buckets {
		for _, e := range t.buckets[i].nodes {
			out = append(out, e.NodeInfo)
		}
	}
	return out
}

func (t *table) replacements() int {
	n := 0
	for i := range t.buckets {
		n += len(t.buckets[i].repl)
	}
	return n
}

// staleBucket returns a random id in the least recently active bucket that
// has been inactive for longer than age, if any. Only buckets up to one
// past the deepest non-empty one are considered: deeper ones cannot be
// filled.
func (t *table) staleBucket(now time.Time, age time.Duration) (krpc.ID, bool) {
	deepest := 0
	for i := range t.buckets {
		if len(t.buckets[i].nodes)+len(t.buckets[i].repl) > 0 {
			deepest = i
		}
	}
	best := -1
	for i := 0; i <= deepest+1 && i < 160; i++ {
		if now.Sub(t.buckets[i].lastActive) > age && (best < 0 || t.buckets[i].lastActive.Before(t.buckets[best].lastActive)) {
			best = i
		}
	}
	if best < 0 {
		return krpc.ID{}, false
	}
	t.buckets[best].lastActive = now
	return randomIDInBucket(t.self, best), true
}

// randomIDInBucket returns a random id sharing exactly i leading bits with
// self.
func randomIDInBucket(self krpc.ID, i int) krpc.ID {
	var id krpc.ID
	for j := range id {
		id[j] = byte(rand.Uint32())
	}
	for bit := 0; bit < i; bit++ {
		mask := byte(0x80) >> (bit % 8)
		id[bit/8] = id[bit/8]&^mask | self[bit/8]&mask
	}
	mask := byte(0x80) >> (i % 8)
	id[i/8] = id[i/8]&^mask | (^self[i/8])&mask
	return id
}

// oldest returns the live node not heard from for the longest time, if
// that is longer than age.
func (t *table) oldest(now time.Time, age time.Duration) (krpc.NodeInfo, bool) {
	var best *entry
	for i := range t.buckets {
		for _, e := range t.buckets[i].nodes {
			if best == nil || e.lastSeen.Before(best.lastSeen) {
				best = e
			}
		}
	}
	if best == nil || now.Sub(best.lastSeen) < age {
		return krpc.NodeInfo{}, false
	}
	best.lastSeen = now // don't pick it again before it answers or fails
	return best.NodeInfo, true
}
