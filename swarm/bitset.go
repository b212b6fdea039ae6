package swarm

import "math/bits"

// bitset is a growable set of piece indices.
type bitset struct{ w []uint64 }

func (b *bitset) set(i uint32) {
	n := int(i>>6) + 1
	if n > len(b.w) {
		b.w = append(b.w, make([]uint64, n-len(b.w))...)
	}
	b.w[i>>6] |= 1 << (i & 63)
}

func (b *bitset) has(i uint32) bool {
	n := int(i >> 6)
	return n < len(b.w) && b.w[n]&(1<<(i&63)) != 0
}

func (b *bitset) count() int {
	c := 0
	for _, w := range b.w {
		c += bits.OnesCount64(w)
	}
	return c
}

// highest returns the highest member, or −1 if empty.
func (b *bitset) highest() int64 {
	for i := len(b.w) - 1; i >= 0; i-- {
		if b.w[i] != 0 {
			return int64(i*64 + 63 - bits.LeadingZeros64(b.w[i]))
		}
	}
	return -1
}

// bytes renders the first n bits in BitTorrent order (piece 0 = the most
// significant bit of the first byte).
func (b *bitset) bytes(n int64) []byte {
	out := make([]byte, (n+7)/8)
	for i := int64(0); i < n; i++ {
		if b.has(uint32(i)) {
			out[i/8] |= 0x80 >> (i % 8)
		}
	}
	return out
}

// fromBytes returns the set encoded by a bitfield payload.
func fromBytes(p []byte) bitset {
	var b bitset
	for i, c := range p {
		for c != 0 {
			j := bits.LeadingZeros8(c)
			b.set(uint32(i*8 + j))
			c &^= 0x80 >> j
		}
	}
	return b
}

// wanted calls fn for every member of b that is not in have, highest first,
// until fn returns false.
func (b *bitset) wanted(have *bitset, fn func(i uint32) bool) {
	for wi := len(b.w) - 1; wi >= 0; wi-- {
		w := b.w[wi]
		if wi < len(have.w) {
			w &^= have.w[wi]
		}
		for w != 0 {
			j := 63 - bits.LeadingZeros64(w)
			if !fn(uint32(wi*64 + j)) {
				return
			}
			w &^= 1 << j
		}
	}
}

// anyWanted reports whether b holds a member not in have.
func (b *bitset) anyWanted(have *bitset) bool {
	for wi, w := range b.w {
		if wi < len(have.w) {
			w &^= have.w[wi]
		}
		if w != 0 {
			return true
		}
	}
	return false
}
