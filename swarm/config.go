package swarm

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/gotwister/twister/swarm/wire"
)

// Config configures a Swarm. Every side effect is injected here.
type Config struct {
	// Listener accepts incoming swarm connections (TCP natively, or a
	// bridge's listener). Nil: no incoming connections.
	Listener net.Listener
	// Dialer opens outgoing connections. Nil: TCPDialer from the
	// listener's IP address (or from any address without a listener).
	Dialer Dialer
	// Store keeps every post held (required).
	Store PostStore
	// Validate checks a received piece: post k of user with bytes data
	// (required). The node plugs in post.Validate: signature, post-number
	// limit k ≤ 2·(tip − regHeight) + 20, size (§2.9). A failure penalises
	// the sending peer, unless it wraps ErrNotYet (see there).
	Validate func(user string, k int64, data []byte) error
	// ValidPostNumber says whether k is an acceptable post number for user
	// (required); a have(k) or an oversized bitfield failing it disconnects
	// and bans the peer (§4.4).
	ValidPostNumber func(user string, k int64) bool
	// Peers finds and announces swarm peers (the DHT). Nil: manual peers only.
	Peers PeerSource
	// PeerID is our peer id; zero means wire.NewPeerID() ("-GT0001-" + 12
	// random URL-safe characters).
	PeerID [20]byte
	// Version is the "v" of our extension handshake; "" means "gotwister/0.1".
	Version string
	// AnnouncePort is the port announced to the PeerSource and sent as "p"
	// in the extension handshake; 0 means the listener's TCP port.
	AnnouncePort int
	// DHTPort, if non-zero, is sent in a dht_port message to peers that set
	// the DHT bit (twisterd sends the UDP port of its DHT).
	DHTPort uint16
	// Limits bounds connections, requests and bandwidth; zero fields take
	// the defaults listed on Limits.
	Limits Limits
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// Clock is the time source of timeouts and bans; nil = real time.
	Clock Clock
}

// Limits are the swarm's limits and timers. Zero means the default.
type Limits struct {
	MaxConnections      int           // all torrents together; default 800 (twisterd)
	MaxPeersPerTorrent  int           // default 50
	MaxUnchoked         int           // unchoke slots per torrent; default 20; <0 = none
	MaxRequestsPerPeer  int           // our pipelined requests to one peer; default 32 (and ≤ its reqq)
	MaxIncomingRequests int           // their queued requests ("reqq" we advertise); default 250
	MaxQueueBytes       int           // unsent bytes per peer before it is dropped; default 4 MiB
	MaxCandidates       int           // known dialable addresses per torrent; default 200
	UploadRate          int           // bytes per second over all peers; 0 = unlimited
	HashcashBits        int           // PEEK difficulty sent to PEEK peers; default 16; <0 = no PEEK service
	RequestTimeout      time.Duration // default 20 s (twisterd)
	PeerTimeout         time.Duration // silence before disconnect; default 60 s (twisterd)
	KeepAliveInterval   time.Duration // default 30 s
	HandshakeTimeout    time.Duration // default 10 s
	DialTimeout         time.Duration // default 10 s
	BanDuration         time.Duration // default 10 min
	ReconnectDelay      time.Duration // first redial delay, doubled per failure up to 5 min; default 2 s
	ChokeInterval       time.Duration // unchoke rotation; default 10 s
	DiscoverInterval    time.Duration // PeerSource lookups while short of peers; default 60 s
	AnnounceInterval    time.Duration // default 15 min
	TickInterval        time.Duration // housekeeping tick; default 500 ms
	DeferDelay          time.Duration // a piece Validate could not judge yet is asked for again after this; default 2 s
	Wire                wire.Limits   // frame limits (bitfield size, extension payloads)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxConnections, 800)
	def(&l.MaxPeersPerTorrent, 50)
	def(&l.MaxUnchoked, 20)
	if l.MaxUnchoked < 0 {
		l.MaxUnchoked = 0
	}
	def(&l.MaxRequestsPerPeer, 32)
	def(&l.MaxIncomingRequests, 250)
	def(&l.MaxQueueBytes, 4<<20)
	def(&l.MaxCandidates, 200)
	def(&l.HashcashBits, 16)
	dur(&l.RequestTimeout, 20*time.Second)
	dur(&l.PeerTimeout, 60*time.Second)
	dur(&l.KeepAliveInterval, 30*time.Second)
	dur(&l.HandshakeTimeout, 10*time.Second)
	dur(&l.DialTimeout, 10*time.Second)
	dur(&l.BanDuration, 10*time.Minute)
	dur(&l.ReconnectDelay, 2*time.Second)
	dur(&l.ChokeInterval, 10*time.Second)
	dur(&l.DiscoverInterval, 60*time.Second)
	dur(&l.AnnounceInterval, 15*time.Minute)
	dur(&l.TickInterval, 500*time.Millisecond)
	dur(&l.DeferDelay, 2*time.Second)
	return l
}

var errConfig = errors.New("swarm: bad config")
