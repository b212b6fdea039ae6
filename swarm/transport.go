package swarm

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/gotwister/twister/resource"
)

// Dialer opens a stream to a swarm peer. The native node dials TCP
// (TCPDialer); the bridge can carry a browser's connection over WebSocket or
// WebRTC and hand the swarm a net.Conn for it.
//
// uTP is not implemented (there is no Go uTP library available to this
// module). twisterd tries uTP first on the UDP port it shares with its DHT
// and falls back to TCP exactly 3 s later when the uTP SYN is unanswered
// (§11.9), so a twisterd dialing us costs about 3 s once per connection,
// while we dial twisterd over TCP directly (it listens on TCP too).
type Dialer interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// TCPDialer dials TCP, optionally from a fixed local address so that several
// nodes on distinct loopback addresses look like distinct hosts.
type TCPDialer struct {
	// LocalAddr is the source address (port 0 = any); zero = system choice.
	LocalAddr netip.Addr
}

// Dial implements Dialer.
func (d TCPDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var nd net.Dialer
	if d.LocalAddr.IsValid() && !d.LocalAddr.IsUnspecified() {
		nd.LocalAddr = &net.TCPAddr{IP: d.LocalAddr.AsSlice()}
	}
	return nd.DialContext(ctx, "tcp", addr)
}

// PeerSource finds peers of a user's swarm and announces us in it. The node
// plugs in the DHT's tracker lookup (getData on (user, "tracker", "m")) and
// announcePeer (§4.3).
type PeerSource interface {
	Peers(ctx context.Context, user string, infoHash resource.Target) ([]netip.AddrPort, error)
	Announce(ctx context.Context, infoHash resource.Target, port int) error
}

// Clock tells the time; tests may inject a fake one. Socket deadlines
// (handshake, writes) always use the real time.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
