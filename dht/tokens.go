package dht

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gotwister/twister/dht/krpc"
)

// tokens issues and checks write tokens (§3.6): the first 4 bytes of
// SHA1(ip string ‖ secret ‖ target), where secret is a 4-byte integer in
// native (little-endian) order. The current and the previous secret are
// accepted; they rotate every Config.TokenRotation. Not safe for
// concurrent use: the DHT holds its lock.
type tokens struct {
	cur, prev uint32
	rotated   time.Time
}

func newTokens(now time.Time) *tokens {
	return &tokens{cur: randUint32(), prev: randUint32(), rotated: now}
}

func randUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("dht: crypto/rand failed: " + err.Error())
	}
	return binary.LittleEndian.Uint32(b[:])
}

func (t *tokens) rotate(now time.Time) {
	t.prev, t.cur = t.cur, randUint32()
	t.rotated = now
}

func tokenFor(secret uint32, ip netip.Addr, target krpc.ID) []byte {
	h := sha1.New()
	h.Write([]byte(ip.Unmap().String()))
	var s [4]byte
	binary.LittleEndian.PutUint32(s[:], secret)
	h.Write(s[:])
	h.Write(target[:])
	return h.Sum(nil)[:4]
}

func (t *tokens) generate(ip netip.Addr, target krpc.ID) []byte {
	return tokenFor(t.cur, ip, target)
}

func (t *tokens) verify(tok []byte, ip netip.Addr, target krpc.ID) bool {
	if len(tok) != 4 {
		return false
	}
	return subtle.ConstantTimeCompare(tok, tokenFor(t.cur, ip, target)) == 1 ||
		subtle.ConstantTimeCompare(tok, tokenFor(t.prev, ip, target)) == 1
}
