package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gotwister/twister/resource"
)

// Item is one DHT item as the network delivered it: the signed dictionary p
// with the exact bytes that were signed, its signature and signer. The bridge
// relays items unchanged so the browser verifies them itself. A tracker
// summary has no signature (SigP nil, SigUser "").
type Item struct {
	P       []byte
	SigP    []byte
	SigUser string
}

// GetOptions tune DHT.Get.
type GetOptions struct {
	MinMulti int           // multi resources: stop after this many nodes answered; 0 = full lookup
	Timeout  time.Duration // bound of the lookup; 0 = the DHT's default
}

// DHT is what the bridge needs from a twister DHT node. FromDHT adapts
// *dht.DHT.
type DHT interface {
	// Get looks up (name, res, single|multi) and returns the items found.
	Get(ctx context.Context, name, res string, multi bool, opts GetOptions) ([]Item, error)
	// PutSigned publishes an item signed elsewhere. queued is true when no
	// node accepted it yet but the DHT keeps retrying.
	PutSigned(ctx context.Context, rawP, sigP []byte, sigUser string) (queued bool, err error)
	// Announce announces this host as a peer of name's swarm on port.
	Announce(ctx context.Context, infoHash resource.Target, name string, port int) error
	// GetPeers returns the peers announced for name's swarm.
	GetPeers(ctx context.Context, infoHash resource.Target, name string) ([]netip.AddrPort, error)
	// Nodes is the number of live routing-table entries (for /healthz).
	Nodes() int
}

// ChainSource is what the bridge needs from a block chain: headers for the
// browser's light client, user proofs, the tip, and a way into the P2P
// network for registration transactions. FromChain adapts *chain.Chain.
type ChainSource interface {
	// Tip returns the best block's height and hash (raw byte order).
	Tip() (height int64, hash [32]byte)
	// Headers returns up to count serialized 84-byte headers of the best
	// chain from height from on; ErrNotFound if from is above the tip.
	Headers(from int64, count int) ([][]byte, error)
	// ProveUser returns the encoded light-client proof of name's
	// registrations (light.UserProof.Bytes); ErrNotFound for unknown names.
	ProveUser(name string) ([]byte, error)
	// SubmitTx checks a serialized registration or key-replacement
	// transaction and relays it into the P2P network.
	SubmitTx(raw []byte) error
}

// ErrNotFound is returned by a ChainSource for unknown users and heights
// above the tip; the bridge answers it with error code "not-found".
var ErrNotFound = errors.New("bridge: not found")

// Clock tells the time (idle timeouts, rate limits); tests may inject one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures a Server. Every side effect is injected here; zero
// fields take the defaults documented on each.
type Config struct {
	// DHT serves getData, putData, announce and getPeers; nil: those
	// operations answer "unavailable".
	DHT DHT
	// Chain serves headers, proveUser, sendTx and tip; nil: "unavailable".
	Chain ChainSource
	// SwarmListener accepts native peers' TCP connections for swarms that
	// browsers serve; nil: serve and announce answer "unavailable". The
	// Server closes it on Close.
	SwarmListener net.Listener
	// AnnouncePort is the port announced in the DHT for served swarms;
	// 0 means SwarmListener's port (set it when a NAT maps another port).
	AnnouncePort int
	// Dial opens outgoing streams to native peers; nil dials TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// DialPolicy vets every address a browser asks to open; nil means
	// DefaultDialPolicy (public unicast addresses only).
	DialPolicy func(netip.AddrPort) error
	// AllowedOrigins are the browser origins allowed besides same-origin,
	// as host patterns (path.Match syntax: "example.org", "*.example.org",
	// "localhost:*", or with a scheme "https://example.org"). Requests
	// without an Origin header (native clients) are always allowed.
	AllowedOrigins []string
	// Peers are the URLs of other bridges, sent in hello so browsers learn
	// several bridges.
	Peers []string
	// Signal, if set, is mounted at /signal (the WebRTC signaling server).
	Signal http.Handler
	// StaticDir, if set, is served at / (the web UI).
	StaticDir string
	// AnnounceInterval is how often served swarms are re-announced in the
	// DHT; default 15 min.
	AnnounceInterval time.Duration

	Limits Limits
	Logger *slog.Logger // default: discard
	Clock  Clock        // default: the system clock
}

// Limits protect the bridge from its clients. Zero fields take the defaults
// listed; the per-client limits apply to each WebSocket session.
type Limits struct {
	RequestsPerSecond     float64       // sustained requests per client; default 20
	Burst                 int           // requests allowed at once per client; default 40
	MaxStreams            int           // open streams per client (both directions); default 32
	MaxBytesPerSecond     int           // stream payload per client, both directions summed; default 1 MiB/s; <0 = unlimited
	MaxClients            int           // concurrent sessions; beyond it HTTP 503; default 25000
	MaxFrame              int           // largest WebSocket message accepted; default 64 KiB
	IdleTimeout           time.Duration // close a session silent this long; default 60 s
	MaxPending            int           // slow requests (DHT, dial, sendTx) in flight per client; default 8
	MaxServes             int           // info-hashes one client may serve; default 64
	DHTWorkers            int           // DHT operations run at once for all clients; default 32
	Window                int           // per-stream flow-control window each way; default 256 KiB
	MaxLookupTimeout      time.Duration // cap of a getData timeoutMs; default 30 s
	DialTimeout           time.Duration // outgoing stream dials; default 10 s
	WriteTimeout          time.Duration // one WebSocket write; default 30 s
	HandshakeTimeout      time.Duration // inbound native peers must send their handshake within; default 10 s
	MaxIncomingHandshakes int           // inbound connections awaiting their handshake; default 256
	MaxHeaders            int           // headers per request; default 2000
}

func (l *Limits) setDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if l.RequestsPerSecond == 0 {
		l.RequestsPerSecond = 20
	}
	def(&l.Burst, 40)
	def(&l.MaxStreams, 32)
	def(&l.MaxBytesPerSecond, 1<<20)
	def(&l.MaxClients, 25000)
	def(&l.MaxFrame, 64<<10)
	defD(&l.IdleTimeout, 60*time.Second)
	def(&l.MaxPending, 8)
	def(&l.MaxServes, 64)
	def(&l.DHTWorkers, 32)
	def(&l.Window, 256<<10)
	defD(&l.MaxLookupTimeout, 30*time.Second)
	defD(&l.DialTimeout, 10*time.Second)
	defD(&l.WriteTimeout, 30*time.Second)
	defD(&l.HandshakeTimeout, 10*time.Second)
	def(&l.MaxIncomingHandshakes, 256)
	def(&l.MaxHeaders, 2000)
}

func (l *Limits) check() error {
	switch {
	case l.RequestsPerSecond < 0:
		return fmt.Errorf("bridge: RequestsPerSecond %v is negative", l.RequestsPerSecond)
	case l.Burst < 1, l.MaxStreams < 1, l.MaxClients < 1, l.MaxPending < 1, l.MaxServes < 1, l.DHTWorkers < 1,
		l.MaxIncomingHandshakes < 1, l.MaxHeaders < 1:
		return fmt.Errorf("bridge: limits must be positive: %+v", *l)
	case l.MaxFrame < 1024:
		return fmt.Errorf("bridge: MaxFrame %d is below 1024 bytes", l.MaxFrame)
	case l.Window < 1024:
		return fmt.Errorf("bridge: Window %d is below 1024 bytes", l.Window)
	case l.IdleTimeout < time.Second:
		return fmt.Errorf("bridge: IdleTimeout %v is below 1s", l.IdleTimeout)
	}
	return nil
}

// maxChunk is the largest data payload the bridge sends in one frame.
func (l *Limits) maxChunk() int { return min(16<<10, l.Window, l.MaxFrame-8) }

// DefaultDialPolicy allows only public unicast addresses with a non-zero
// port, so the bridge cannot be used to reach its own host or private
// networks.
func DefaultDialPolicy(ap netip.AddrPort) error {
	a := ap.Addr().Unmap()
	switch {
	case ap.Port() == 0:
		return errors.New("port 0")
	case !a.IsGlobalUnicast(), a.IsPrivate(), a.IsLoopback(), a.IsLinkLocalUnicast(), a.IsMulticast(), a.IsUnspecified():
		return fmt.Errorf("address %v is not a public unicast address", a)
	}
	return nil
}

// PermissiveDialPolicy allows every unicast address with a non-zero port,
// loopback and private ranges included: for devnets and tests.
func PermissiveDialPolicy(ap netip.AddrPort) error {
	a := ap.Addr().Unmap()
	if ap.Port() == 0 || a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return fmt.Errorf("address %v is not dialable", ap)
	}
	return nil
}
