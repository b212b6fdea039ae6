package krpc

import (
	"encoding/binary"
	"net/netip"

	"github.com/gotwister/twister/bencode"
)

// Sizes of compact records.
const (
	NodeSize4 = 26 // 20-byte id, 4-byte IPv4, 2-byte port
	NodeSize6 = 38 // 20-byte id, 16-byte IPv6, 2-byte port
	PeerSize4 = 6
	PeerSize6 = 18
)

// EncodePeer returns the compact form of a peer address: 4 or 16 address
// bytes followed by the port, big-endian. IPv4-mapped IPv6 addresses are
// written as IPv4.
func EncodePeer(ap netip.AddrPort) []byte {
	a := ap.Addr().Unmap()
	var b []byte
	if a.Is4() {
		x := a.As4()
		b = append(make([]byte, 0, PeerSize4), x[:]...)
	} else {
		x := a.As16()
		b = append(make([]byte, 0, PeerSize6), x[:]...)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// DecodePeer parses a 6- or 18-byte compact peer.
func DecodePeer(b []byte) (netip.AddrPort, bool) {
	switch len(b) {
	case PeerSize4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:])), true
	case PeerSize6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), binary.BigEndian.Uint16(b[16:])), true
	}
	return netip.AddrPort{}, false
}

// EncodeNode returns the compact node info of n (26 or 38 bytes).
func EncodeNode(n NodeInfo) []byte {
	return append(append(make([]byte, 0, NodeSize6), n.ID[:]...), EncodePeer(n.Addr)...)
}

// EncodeNodes concatenates the 26-byte records of the IPv4 nodes in ns
// (the "nodes" string); IPv6 nodes are skipped.
func EncodeNodes(ns []NodeInfo) []byte {
	b := make([]byte, 0, len(ns)*NodeSize4)
	for _, n := range ns {
		if n.Addr.Addr().Unmap().Is4() {
			b = append(b, EncodeNode(n)...)
		}
	}
	return b
}

// DecodeNodes parses a "nodes" string of 26-byte records; a trailing
// partial record is ignored.
func DecodeNodes(b []byte) []NodeInfo {
	out := make([]NodeInfo, 0, len(b)/NodeSize4)
	for len(b) >= NodeSize4 {
		var n NodeInfo
		copy(n.ID[:], b[:20])
		n.Addr, _ = DecodePeer(b[20:NodeSize4])
		out = append(out, n)
		b = b[NodeSize4:]
	}
	return out
}

// DecodeNodes2 parses the "nodes2" list of 38-byte strings; other elements
// are skipped.
func DecodeNodes2(list []bencode.Value) []NodeInfo {
	out := make([]NodeInfo, 0, len(list))
	for _, e := range list {
		if e.Kind != bencode.String || len(e.Str) != NodeSize6 {
			continue
		}
		var n NodeInfo
		copy(n.ID[:], e.Str[:20])
		n.Addr, _ = DecodePeer(e.Str[20:])
		out = append(out, n)
	}
	return out
}

// SplitNodes separates nodes into IPv4 ones (for "nodes") and IPv6 ones
// (for "nodes2").
func SplitNodes(ns []NodeInfo) (v4, v6 []NodeInfo) {
	for _, n := range ns {
		if n.Addr.Addr().Unmap().Is4() {
			v4 = append(v4, n)
		} else {
			v6 = append(v6, n)
		}
	}
	return v4, v6
}
