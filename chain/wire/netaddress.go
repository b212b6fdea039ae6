package wire

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
)

// NodeNetwork is the service bit of a full node (NODE_NETWORK).
const NodeNetwork uint64 = 1

// netAddressSize is the encoded size of a NetAddress without its time field:
// services u64 ‖ 16-byte IPv6 address ‖ port u16 big-endian.
const netAddressSize = 8 + 16 + 2

// NetAddress is a peer address as carried by version and addr messages
// (Bitcoin's CAddress).
type NetAddress struct {
	// Time is the last-seen Unix time; it is only on the wire inside addr
	// messages, not in version.
	Time uint32
	// Services is the service bit field (NodeNetwork).
	Services uint64
	// IP is an IPv6 address, or an IPv4 address in its IPv4-mapped form
	// ::ffff:a.b.c.d, exactly as the 16 bytes on the wire.
	IP [16]byte
	// Port is the TCP port (big-endian on the wire).
	Port uint16
}

// NewNetAddress builds a NetAddress from an address and port (IPv4 is stored
// IPv4-mapped) and a service bit field; Time is left zero.
func NewNetAddress(ap netip.AddrPort, services uint64) NetAddress {
	return NetAddress{
		Services: services,
		IP:       ap.Addr().As16(),
		Port:     ap.Port(),
	}
}

// AddrPort returns the address and port, with IPv4-mapped addresses unmapped
// to plain IPv4.
func (a NetAddress) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(a.IP).Unmap(), a.Port)
}

// String formats the address as host:port.
func (a NetAddress) String() string { return a.AddrPort().String() }

func appendNetAddress(dst []byte, a NetAddress, withTime bool) []byte {
	if withTime {
		dst = binary.LittleEndian.AppendUint32(dst, a.Time)
	}
	dst = binary.LittleEndian.AppendUint64(dst, a.Services)
	dst = append(dst, a.IP[:]...)
	return binary.BigEndian.AppendUint16(dst, a.Port)
}

func (d *decoder) netAddress(what string, withTime bool) (a NetAddress) {
	if withTime {
		a.Time = d.u32(what + " time")
	}
	a.Services = d.u64(what + " services")
	if b := d.take(what+" ip", 16); b != nil {
		copy(a.IP[:], b)
	}
	a.Port = d.u16be(what + " port")
	return a
}

// Hash is a 256-bit hash (block id, tx id) in raw byte order, as serialized
// on the wire.
type Hash [32]byte

// String returns the hash in display order (bytes reversed), the form
// twisterd prints and RPC uses.
func (h Hash) String() string {
	var r [32]byte
	for i := range h {
		r[31-i] = h[i]
	}
	return hex.EncodeToString(r[:])
}
