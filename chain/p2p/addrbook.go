package p2p

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/gotwister/twister/chain/wire"
)

const (
	maxAddrBook  = 4096
	retryBackoff = 30 * time.Second
	maxBackoff   = 10 * time.Minute
)

// addrBook is a small address manager: the peer addresses learnt from
// addr messages, version messages and successful connections, with their
// last-seen time and connection attempts. Unlike twisterd's addrman it
// accepts loopback and private addresses, so that local networks (and
// tests on 127.0.0.x) can gossip.
type addrBook struct {
	mu    sync.Mutex
	clock func() time.Time
	m     map[netip.AddrPort]*addrEntry
}

type addrEntry struct {
	services uint64
	seen     int64 // Unix seconds
	lastTry  time.Time
	attempts int
}

func newAddrBook(clock func() time.Time) *addrBook {
	return &addrBook{clock: clock, m: map[netip.AddrPort]*addrEntry{}}
}

func norm(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (b *addrBook) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// add records an address seen now.
func (b *addrBook) add(ap netip.AddrPort, services uint64, now time.Time) {
	b.addSeen(ap, services, now.Unix())
}

// addSeen records an address last seen at the given Unix time.
func (b *addrBook) addSeen(ap netip.AddrPort, services uint64, seen int64) {
	if !usableAddr(ap) {
		return
	}
	ap = norm(ap)
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.m[ap]; ok {
		e.seen = max(e.seen, seen)
		e.services |= services
		return
	}
	if len(b.m) >= maxAddrBook {
		// Evict the stalest of a few entries picked at random.
		var victim netip.AddrPort
		oldest, k := int64(1<<62), 0
		for a, e := range b.m {
			if e.seen < oldest {
				victim, oldest = a, e.seen
			}
			if k++; k == 8 {
				break
			}
		}
		delete(b.m, victim)
	}
	b.m[ap] = &addrEntry{services: services, seen: seen}
}

// good records a successful connection.
func (b *addrBook) good(ap netip.AddrPort, services uint64) {
	if !usableAddr(ap) {
		return
	}
	b.addSeen(ap, services, b.clock().Unix())
	b.mu.Lock()
	if e, ok := b.m[norm(ap)]; ok {
		e.attempts = 0
	}
	b.mu.Unlock()
}

// attempt records a failed connection attempt.
func (b *addrBook) attempt(ap netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.m[norm(ap)]; ok {
		e.attempts++
		e.lastTry = b.clock()
	}
}

// pick chooses an address to dial among those ok accepts and not tried
// recently (the back-off doubles with each failed attempt), and marks it
// tried.
func (b *addrBook) pick(ok func(netip.AddrPort) bool) (netip.AddrPort, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	var cands []netip.AddrPort
	for a, e := range b.m {
		wait := min(retryBackoff<<min(e.attempts, 10), maxBackoff)
		if !e.lastTry.IsZero() && now.Sub(e.lastTry) < wait {
			continue
		}
		if ok(a) {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		return netip.AddrPort{}, false
	}
	a := cands[rand.IntN(len(cands))]
	b.m[a].lastTry = now
	return a, true
}

// sample returns up to max addresses in random order, with their last-seen
// times, for a getaddr answer.
func (b *addrBook) sample(max int) []wire.NetAddress {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]wire.NetAddress, 0, min(max, len(b.m)))
	for a, e := range b.m {
		na := wire.NewNetAddress(a, e.services)
		na.Time = uint32(e.seen)
		out = append(out, na)
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if len(out) > max {
		out = out[:max]
	}
	return out
}
