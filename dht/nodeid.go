package dht

import (
	"crypto/sha1"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/gotwister/twister/dht/krpc"
)

var (
	v4mask = [4]byte{0x01, 0x07, 0x1f, 0x7f}
	v6mask = [8]byte{0x00, 0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f}
)

// NodeIDPrefix returns the 4 bytes a node id must start with for address
// ip when its last byte is r (§3.3): SHA-1 of the masked address (4 bytes
// of IPv4, or the first 8 of IPv6) followed by the byte r&7.
func NodeIDPrefix(ip netip.Addr, r byte) [4]byte {
	ip = ip.Unmap()
	var buf []byte
	if ip.Is4() {
		a := ip.As4()
		for i := range a {
			a[i] &= v4mask[i]
		}
		buf = a[:]
	} else {
		a := ip.As16()
		for i := range v6mask {
			a[i] &= v6mask[i]
		}
		buf = a[:8]
	}
	h := sha1.New()
	h.Write(buf)
	h.Write([]byte{r & 7})
	var out [4]byte
	copy(out[:], h.Sum(nil))
	return out
}

// GenerateNodeID returns a node id valid for ip: the prefix of
// NodeIDPrefix, 15 random bytes, and a random last byte r.
func GenerateNodeID(ip netip.Addr) krpc.ID {
	var id krpc.ID
	var rnd [24]byte
	for i := 0; i < len(rnd); i += 8 {
		binary.LittleEndian.PutUint64(rnd[i:], rand.Uint64())
	}
	copy(id[4:19], rnd[:15])
	id[19] = rnd[15]
	p := NodeIDPrefix(ip, id[19])
	copy(id[:4], p[:])
	return id
}

// VerifyNodeID tells whether id is acceptable from address ip: local
// addresses are exempt, others must carry the prefix for id[19].
func VerifyNodeID(id krpc.ID, ip netip.Addr) bool {
	if IsLocalAddr(ip) {
		return true
	}
	p := NodeIDPrefix(ip, id[19])
	return [4]byte(id[:4]) == p
}

var localPrefixes = sync.OnceValue(func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
})

// IsLocalAddr reports whether ip is exempt from the node-id check, as
// libtorrent's is_local(): 10/8, 172.16/12, 192.168/16, 169.254/16, 127/8,
// IPv6 loopback and link-local.
func IsLocalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() {
		return ip.IsLoopback() || ip.IsLinkLocalUnicast()
	}
	for _, p := range localPrefixes() {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
