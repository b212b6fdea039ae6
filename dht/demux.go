package dht

import (
	"net"
	"time"
)

// Demux shares one UDP socket between the DHT and another protocol (uTP),
// as twisterd does: datagrams that IsDHTPacket accepts are returned by
// ReadFrom, every other datagram is handed to the Other callback. Writes go
// straight to the socket, so the other protocol can use Conn to send.
type Demux struct {
	Conn PacketConn
	// Other receives non-DHT datagrams; the slice is only valid during the
	// call. A nil Other drops them.
	Other func(b []byte, from net.Addr)
}

// NewDemux wraps conn.
func NewDemux(conn PacketConn, other func(b []byte, from net.Addr)) *Demux {
	return &Demux{Conn: conn, Other: other}
}

// ReadFrom returns the next DHT datagram.
func (m *Demux) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := m.Conn.ReadFrom(p)
		if err != nil {
			return n, from, err
		}
		if IsDHTPacket(p[:n]) {
			return n, from, nil
		}
		if m.Other != nil {
			m.Other(p[:n], from)
		}
	}
}

// WriteTo sends a datagram.
func (m *Demux) WriteTo(p []byte, addr net.Addr) (int, error) { return m.Conn.WriteTo(p, addr) }

// LocalAddr returns the socket's address.
func (m *Demux) LocalAddr() net.Addr { return m.Conn.LocalAddr() }

// Close closes the socket.
func (m *Demux) Close() error { return m.Conn.Close() }

// SetReadDeadline sets the socket's read deadline.
func (m *Demux) SetReadDeadline(t time.Time) error { return m.Conn.SetReadDeadline(t) }
