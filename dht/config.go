package dht

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/keys"
)

// PacketConn is the datagram transport the DHT runs on. *net.UDPConn and
// any net.PacketConn satisfy it; tests use memnet, and a bridge can supply
// its own. Addresses must be *net.UDPAddr or print as "ip:port".
type PacketConn interface {
	ReadFrom(p []byte) (n int, addr net.Addr, err error)
	WriteTo(p []byte, addr net.Addr) (n int, err error)
	LocalAddr() net.Addr
	Close() error
	SetReadDeadline(t time.Time) error
}

// Chain is what the DHT needs from the block chain: users' keys (to check
// sig_p with the signer's current key) and the tip height (for the height
// check of putData and for expiry).
type Chain interface {
	keys.Resolver
	Height() int64
}

// Limits bound what one node stores and serves.
type Limits struct {
	MaxItems     int   // stored items (singles plus multi entries); default 50000
	MaxBytes     int64 // bytes of stored p; default 64 MiB
	MaxPerSigner int   // stored items signed by one user; default 2000
	MaxTorrents  int   // info-hashes tracked; default 2000 (max_torrents)
	// MaxPeersPerTorrent bounds the peers kept for one info-hash;
	// default 1000.
	MaxPeersPerTorrent int
	MaxPeersReply      int // peers in one tracker reply; default 100 (max_peers_reply)
	// MaxReplyBytes bounds the "data" of one getData reply, so a reply
	// fits twisterd's 10000-byte receive buffer; default 9000.
	MaxReplyBytes int
	// QueryRate and QueryBurst rate-limit the queries answered per source
	// IP (token bucket, queries per second); defaults 100 and 200.
	// Local addresses are exempt.
	QueryRate  float64
	QueryBurst float64
	// FloodPackets packets from one IP within FloodWindow get that IP
	// ignored for FloodBan (twisterd: 1000 in 5 s, 5 min).
	FloodPackets int
	FloodWindow  time.Duration
	FloodBan     time.Duration
}

// Config configures a DHT node. Conn and Chain are required; every other
// field has a default matching twister-core.
type Config struct {
	Conn  PacketConn
	Chain Chain
	// Clock gives the wall-clock time used for item times ("time" of p,
	// the now+2h check). Default time.Now. Timers and intervals always
	// use the runtime's timers.
	Clock func() time.Time
	// NodeID, if set, is used as is. Otherwise the id is derived from
	// ExternalIP (§3.3) when that is set, else from the bound address;
	// a local or unspecified address gets an id derived from a random
	// public-looking address (any id verifies from a local address).
	NodeID     *krpc.ID
	ExternalIP netip.Addr
	Logger     *slog.Logger // default: discard

	K            int           // bucket size; default 8
	Alpha        int           // lookup parallelism (search_branching); default 5
	ShortTimeout time.Duration // a lookup stops waiting for a node after this; default 1 s
	QueryTimeout time.Duration // a query fails after this; default 8 s
	// LookupTimeout bounds a whole lookup when the caller's context has
	// no earlier deadline; default 20 s.
	LookupTimeout time.Duration

	// RefreshInterval is how often stored items are re-put (§3.10,
	// 60 min, ±10 % jitter).
	RefreshInterval time.Duration
	// UnconfirmedInterval is how often an item created here is re-put
	// until another node is seen holding it, and how often a queued put
	// is retried (§3.10: 1 min, ±10 %).
	UnconfirmedInterval time.Duration
	// LocalItemMaxAge: items created here are refreshed (even multi ones)
	// while younger than this; default 48 h.
	LocalItemMaxAge time.Duration
	// BucketRefreshInterval: a bucket not active for this long gets a
	// findNode lookup; default 15 min.
	BucketRefreshInterval time.Duration
	TokenRotation         time.Duration // default 5 min
	// TokenReuse: the token holders a put's lookup found for a target are
	// used again, without a new lookup, by puts to the same target within
	// this long (a user's status, a hashtag, written post after post);
	// default 1 min, well inside the 5 to 10 minutes a token stays valid.
	// Negative disables it.
	TokenReuse   time.Duration
	PeerTTL      time.Duration // announced peers expire; default 45 min
	TickInterval time.Duration // maintenance period; default 5 s
	MaxFails     int           // timeouts before a node is dropped with no replacement at hand; default 5
	// MaxPacketSize is the receive buffer; default 16384 bytes.
	MaxPacketSize int

	Limits Limits

	// OnTrackerQuery, if set, is called (in its own goroutine) when this
	// node answers a getData for a "tracker" resource; possiblyNeighbor
	// tells whether this node believes it is among the target's closest
	// nodes (§3.11).
	OnTrackerQuery func(name string, infoHash krpc.ID, possiblyNeighbor bool)
}

func (c *Config) setDefaults() error {
	if c.Conn == nil {
		return errors.New("dht: Config.Conn is required")
	}
	if c.Chain == nil {
		return errors.New("dht: Config.Chain is required")
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	defInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	defInt(&c.K, 8)
	defInt(&c.Alpha, 5)
	def(&c.ShortTimeout, time.Second)
	def(&c.QueryTimeout, 8*time.Second)
	def(&c.LookupTimeout, 20*time.Second)
	def(&c.RefreshInterval, 60*time.Minute)
	def(&c.UnconfirmedInterval, time.Minute)
	def(&c.LocalItemMaxAge, 48*time.Hour)
	def(&c.BucketRefreshInterval, 15*time.Minute)
	def(&c.TokenRotation, 5*time.Minute)
	if c.TokenReuse == 0 {
		c.TokenReuse = time.Minute
	}
	def(&c.PeerTTL, 45*time.Minute)
	def(&c.TickInterval, 5*time.Second)
	defInt(&c.MaxFails, 5)
	defInt(&c.MaxPacketSize, 16384)
	l := &c.Limits
	defInt(&l.MaxItems, 50000)
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	defInt(&l.MaxPerSigner, 2000)
	defInt(&l.MaxTorrents, 2000)
	defInt(&l.MaxPeersPerTorrent, 1000)
	defInt(&l.MaxPeersReply, 100)
	defInt(&l.MaxReplyBytes, 9000)
	if l.QueryRate <= 0 {
		l.QueryRate = 100
	}
	if l.QueryBurst <= 0 {
		l.QueryBurst = 200
	}
	defInt(&l.FloodPackets, 1000)
	def(&l.FloodWindow, 5*time.Second)
	def(&l.FloodBan, 5*time.Minute)
	return nil
}
