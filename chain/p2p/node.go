package p2p

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/wire"
)

// DefaultSubVersion is the user agent this implementation announces in
// version messages: twisterd's "/twisterd:0.9.40/" (the protocol release it
// speaks) followed, in the stacked BIP 14 form, by our own name and version.
const DefaultSubVersion = "/twisterd:0.9.40/gotwister:0.1.0/"

// Defaults of Config (twisterd's values where it has one).
const (
	DefaultMaxPeers         = 125 // -maxconnections
	DefaultMaxOutbound      = 8   // MAX_OUTBOUND_CONNECTIONS
	DefaultBanScore         = 100 // -banscore
	DefaultBanTime          = 24 * time.Hour
	DefaultHandshakeTimeout = 60 * time.Second
	DefaultPingInterval     = 30 * time.Minute // keep-alive after this long without sending
	DefaultIdleTimeout      = 90 * time.Minute // disconnect after this long without receiving
	DefaultStallTimeout     = 15 * time.Second
	DefaultRequestTimeout   = 2 * time.Minute // an asked-for object may be asked of another peer after this
	DefaultConnectRetry     = 5 * time.Second // -connect targets
	DefaultAddedNodeRetry   = 2 * time.Minute // -addnode targets
	DefaultMaxSendBuffer    = 1000 * 1000     // -maxsendbuffer (bytes)
)

// Errors returned by AddNode. Their texts are twisterd's; the RPC layer maps
// ErrNodeAlreadyAdded to code -23 and ErrNodeNotAdded to code -24.
var (
	ErrNodeAlreadyAdded  = errors.New("Error: Node already added")
	ErrNodeNotAdded      = errors.New("Error: Node has not been added.")
	ErrBadAddNodeCommand = errors.New("addnode: command must be add, remove or onetry")
	// ErrClosed is returned by operations on a closed Node.
	ErrClosed = errors.New("p2p: node closed")
	// ErrNotStarted is returned by AddNode "onetry" before Start.
	ErrNotStarted = errors.New("p2p: node not started")
)

// Chain is what the P2P layer needs of the block chain; *chain.Chain
// implements it.
type Chain interface {
	Params() *consensus.Params
	Tip() *chain.BlockInfo
	Locator() []consensus.Hash
	HashesAfter(locator []consensus.Hash, stop consensus.Hash, max int) []consensus.Hash
	HeadersAfter(locator []consensus.Hash, stop consensus.Hash, max int) []consensus.Header
	HeaderByHash(h consensus.Hash) (consensus.Header, int64, error)
	HaveBlock(h consensus.Hash) bool
	IsOrphan(h consensus.Hash) bool
	OrphanRoot(h consensus.Hash) consensus.Hash
	RawBlock(h consensus.Hash) ([]byte, error)
	ProcessBlock(b *consensus.Block) (orphan bool, err error)
	AcceptTx(tx *consensus.Tx) error
	MempoolTx(h consensus.Hash) (*consensus.Tx, bool)
	MempoolTxs() []*consensus.Tx
	Subscribe(f func(chain.TipChange)) (cancel func())
}

var _ Chain = (*chain.Chain)(nil)

// Config holds everything a Node is given; zero fields take the defaults
// named in each comment.
type Config struct {
	// Params are the network parameters (magic, ports). Default:
	// Chain.Params().
	Params *consensus.Params
	// Chain is the block chain to serve and extend. Required.
	Chain Chain
	// Listen accepts inbound peers; nil means no inbound connections.
	// The Node closes it on Close.
	Listen net.Listener
	// Dial opens outbound connections (host:port). Default: a TCP
	// net.Dialer with a 5 s timeout.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// ConnectOnly lists the -connect targets: when non-empty the node
	// connects only to them (retrying every ConnectRetry) and never dials
	// addresses from its address book.
	ConnectOnly []string
	// AddNodes lists the -addnode targets, kept connected (retried every
	// AddedNodeRetry) in addition to the others.
	AddNodes []string
	// MaxPeers bounds all connections (default 125); inbound ones are
	// refused beyond MaxPeers - MaxOutbound.
	MaxPeers int
	// MaxOutbound is the number of outbound connections kept to addresses
	// from the address book (default 8); negative: none (only ConnectOnly
	// and AddNodes targets are dialled).
	MaxOutbound int
	// Logger receives connection and misbehaviour notes (default: discard).
	Logger *slog.Logger
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// Services is the service bit field announced (default NODE_NETWORK).
	Services uint64
	// SubVersion is the user agent announced (default DefaultSubVersion).
	SubVersion string
	// StartHeight returns the height announced in version messages
	// (default: the chain's tip height).
	StartHeight func() int32
	// ExternalAddr is the address announced as ours in version messages
	// (default: the listener's address if it has a specific IP).
	ExternalAddr netip.AddrPort
	// OnTxAccepted, if set, is called after a transaction from a peer or
	// from BroadcastTx entered the memory pool (e.g. Miner.Notify).
	OnTxAccepted func(tx *consensus.Tx)

	// Timeouts and limits; see the Default* constants.
	HandshakeTimeout time.Duration
	PingInterval     time.Duration
	IdleTimeout      time.Duration
	StallTimeout     time.Duration
	RequestTimeout   time.Duration
	ConnectRetry     time.Duration
	AddedNodeRetry   time.Duration
	BanScore         int
	BanTime          time.Duration
	MaxSendBuffer    int
}

// PeerInfo describes one connection, with the field names and JSON shape of
// twisterd's getpeerinfo entries.
type PeerInfo struct {
	Addr           string `json:"addr"`
	Services       string `json:"services"` // 8 hex digits, e.g. "00000001"
	LastSend       int64  `json:"lastsend"`
	LastRecv       int64  `json:"lastrecv"`
	BytesSent      int64  `json:"bytessent"`
	BytesRecv      int64  `json:"bytesrecv"`
	ConnTime       int64  `json:"conntime"`
	Version        int32  `json:"version"`
	SubVer         string `json:"subver"`
	Inbound        bool   `json:"inbound"`
	StartingHeight int32  `json:"startingheight"`
	BanScore       int    `json:"banscore"`
	SyncNode       bool   `json:"syncnode,omitempty"` // present (true) only for the sync node
}

// Node is the P2P layer of one full node. Create it with New, then Start;
// it is safe for concurrent use.
type Node struct {
	cfg    Config
	chain  Chain
	params *consensus.Params
	log    *slog.Logger
	nonce  uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	unsub  func()

	book *addrBook

	mu        sync.Mutex
	started   bool
	closed    bool
	peers     map[*peer]struct{}
	dialing   map[string]bool
	lastDial  map[string]time.Time
	added     []string
	bans      map[netip.Addr]time.Time
	requested map[wire.InvVect]request
	syncPeer  *peer
	relay     map[consensus.Hash]relayTx
	rejected  map[consensus.Hash]time.Time
	wake      chan struct{}

	// Peers' clock offsets (AddTimeData): one sample per address, ours
	// (0) included.
	timeSamples map[netip.Addr]int64
	timeOrder   []netip.Addr
	timeOffset  int64
}

type request struct {
	p    *peer
	when time.Time
}

type relayTx struct {
	raw     []byte
	expires time.Time
}

const (
	relayLifetime    = 15 * time.Minute
	rejectedLifetime = 10 * time.Minute
	maxRejected      = 10000
	maxRelay         = 10000
	tickInterval     = time.Second
	writeTimeout     = 2 * time.Minute
)

// New checks cfg, fills in defaults and returns a Node that does nothing
// until Start.
func New(cfg Config) (*Node, error) {
	if cfg.Chain == nil {
		return nil, errors.New("p2p: Config.Chain is required")
	}
	if cfg.Params == nil {
		cfg.Params = cfg.Chain.Params()
	}
	if cfg.Params == nil {
		return nil, errors.New("p2p: no network parameters")
	}
	if cp := cfg.Chain.Params(); cp != nil && cp.Magic != cfg.Params.Magic {
		return nil, fmt.Errorf("p2p: chain is for network %q, config for %q", cp.Name, cfg.Params.Name)
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.MaxOutbound == 0 {
		cfg.MaxOutbound = DefaultMaxOutbound
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Services == 0 {
		cfg.Services = wire.NodeNetwork
	}
	if cfg.SubVersion == "" {
		cfg.SubVersion = DefaultSubVersion
	}
	if len(cfg.SubVersion) > wire.MaxSubVersionLen {
		return nil, fmt.Errorf("p2p: sub-version longer than %d bytes", wire.MaxSubVersionLen)
	}
	if cfg.StartHeight == nil {
		c := cfg.Chain
		cfg.StartHeight = func() int32 { return int32(c.Tip().Height) }
	}
	if !cfg.ExternalAddr.IsValid() && cfg.Listen != nil {
		if ap, err := netip.ParseAddrPort(cfg.Listen.Addr().String()); err == nil && !ap.Addr().IsUnspecified() {
			cfg.ExternalAddr = ap
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&cfg.PingInterval, DefaultPingInterval)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.StallTimeout, DefaultStallTimeout)
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	def(&cfg.ConnectRetry, DefaultConnectRetry)
	def(&cfg.AddedNodeRetry, DefaultAddedNodeRetry)
	def(&cfg.BanTime, DefaultBanTime)
	if cfg.BanScore <= 0 {
		cfg.BanScore = DefaultBanScore
	}
	if cfg.MaxSendBuffer <= 0 {
		cfg.MaxSendBuffer = DefaultMaxSendBuffer
	}
	var nb [8]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, fmt.Errorf("p2p: nonce: %w", err)
	}
	n := &Node{
		cfg:       cfg,
		chain:     cfg.Chain,
		params:    cfg.Params,
		log:       cfg.Logger,
		nonce:     binary.LittleEndian.Uint64(nb[:]) | 2, // > 1, as twisterd requires
		book:      newAddrBook(cfg.Clock),
		peers:     map[*peer]struct{}{},
		dialing:   map[string]bool{},
		lastDial:  map[string]time.Time{},
		added:     append([]string(nil), cfg.AddNodes...),
		bans:      map[netip.Addr]time.Time{},
		requested: map[wire.InvVect]request{},
		relay:     map[consensus.Hash]relayTx{},
		rejected:  map[consensus.Hash]time.Time{},
		wake:      make(chan struct{}, 1),

		timeSamples: map[netip.Addr]int64{},
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// Start begins accepting inbound peers, dialling the configured targets and
// following the chain's tip. It may be called once.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.started {
		return errors.New("p2p: node already started")
	}
	n.started = true
	n.unsub = n.chain.Subscribe(n.onTipChange)
	if n.cfg.Listen != nil {
		n.wg.Add(1)
		go n.acceptLoop()
	}
	n.wg.Add(1)
	go n.maintainLoop()
	return nil
}

// Close disconnects every peer, closes the listener and stops all of the
// node's goroutines, waiting for them.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	peers := n.peerList()
	unsub := n.unsub
	n.mu.Unlock()
	n.cancel()
	if n.cfg.Listen != nil {
		n.cfg.Listen.Close()
	}
	for _, p := range peers {
		p.close(ErrClosed)
	}
	n.wg.Wait()
	if unsub != nil {
		unsub()
	}
	return nil
}

// peerList returns the peers; n.mu must be held.
func (n *Node) peerList() []*peer {
	out := make([]*peer, 0, len(n.peers))
	for p := range n.peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// snapshot returns the current peers.
func (n *Node) snapshot() []*peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peerList()
}

func (n *Node) now() time.Time { return n.cfg.Clock() }

// ConnectionCount returns the number of connected peers
// (getconnectioncount).
func (n *Node) ConnectionCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.peers)
}

// Peers describes every connection in connection order (getpeerinfo).
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	peers := n.peerList()
	sp := n.syncPeer
	n.mu.Unlock()
	out := make([]PeerInfo, 0, len(peers))
	for _, p := range peers {
		out = append(out, p.info(p == sp))
	}
	return out
}

// Progress reports the chain download: known is the height of our best
// block and bestSeen the highest height any peer announced or sent (at
// least known).
func (n *Node) Progress() (known int64, bestSeen int64) {
	known = n.chain.Tip().Height
	bestSeen = known
	for _, p := range n.snapshot() {
		p.mu.Lock()
		if p.bestHeight > bestSeen {
			bestSeen = p.bestHeight
		}
		p.mu.Unlock()
	}
	return known, bestSeen
}

// AddNode implements the addnode RPC: "add" puts addr on the list of nodes
// kept connected and dials it, "remove" takes it off (without closing a
// connection), "onetry" dials it once. Errors: ErrNodeAlreadyAdded,
// ErrNodeNotAdded, ErrBadAddNodeCommand, ErrClosed.
func (n *Node) AddNode(addr, command string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	idx := -1
	for i, a := range n.added {
		if a == addr {
			idx = i
			break
		}
	}
	switch command {
	case "add":
		if idx >= 0 {
			return ErrNodeAlreadyAdded
		}
		n.added = append(n.added, addr)
		delete(n.lastDial, addr)
		n.poke()
	case "remove":
		if idx < 0 {
			return ErrNodeNotAdded
		}
		n.added = append(n.added[:idx], n.added[idx+1:]...)
	case "onetry":
		if !n.started {
			return ErrNotStarted
		}
		n.startDial(addr, false)
	default:
		return ErrBadAddNodeCommand
	}
	return nil
}

// AddedNodes returns the -addnode list (getaddednodeinfo).
func (n *Node) AddedNodes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.added...)
}

// Banned tells whether ip is banned now.
func (n *Node) Banned(ip netip.Addr) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bannedLocked(ip)
}

func (n *Node) bannedLocked(ip netip.Addr) bool {
	until, ok := n.bans[ip.Unmap()]
	return ok && n.now().Before(until)
}

func (n *Node) ban(ip netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	until := n.now().Add(n.cfg.BanTime)
	if until.After(n.bans[ip.Unmap()]) {
		n.bans[ip.Unmap()] = until
	}
}

// BroadcastTx puts a serialized registration transaction into the memory
// pool (if it is not there yet) and announces it to every peer. It returns
// the chain's refusal, if any.
func (n *Node) BroadcastTx(raw []byte) (consensus.Hash, error) {
	tx, err := consensus.DecodeTx(raw)
	if err != nil {
		return consensus.Hash{}, err
	}
	h := tx.Hash()
	if _, ok := n.chain.MempoolTx(h); !ok {
		if err := n.chain.AcceptTx(tx); err != nil {
			return h, err
		}
		if n.cfg.OnTxAccepted != nil {
			n.cfg.OnTxAccepted(tx)
		}
	}
	n.relayTx(h, tx.Bytes(), nil)
	return h, nil
}

// BroadcastBlock announces a block we hold to every peer that does not know
// it yet, even during the initial download.
func (n *Node) BroadcastBlock(h consensus.Hash) {
	inv := wire.InvVect{Type: wire.InvTypeBlock, Hash: wire.Hash(h)}
	for _, p := range n.snapshot() {
		if p.ready() {
			p.pushInventory(inv)
		}
	}
}

// relayTx remembers a transaction for getdata and announces it to every
// peer but from.
func (n *Node) relayTx(h consensus.Hash, raw []byte, from *peer) {
	now := n.now()
	n.mu.Lock()
	for k, r := range n.relay {
		if now.After(r.expires) {
			delete(n.relay, k)
		}
	}
	if len(n.relay) < maxRelay {
		n.relay[h] = relayTx{raw: raw, expires: now.Add(relayLifetime)}
	}
	peers := n.peerList()
	n.mu.Unlock()
	inv := wire.InvVect{Type: wire.InvTypeTx, Hash: wire.Hash(h)}
	for _, p := range peers {
		if p != from && p.ready() && p.wantsTx() {
			p.pushInventory(inv)
		}
	}
}

// lookupTx finds a transaction to answer getdata: the relay memory, then
// the memory pool.
func (n *Node) lookupTx(h consensus.Hash) ([]byte, bool) {
	n.mu.Lock()
	r, ok := n.relay[h]
	n.mu.Unlock()
	if ok {
		return r.raw, true
	}
	if tx, ok := n.chain.MempoolTx(h); ok {
		return tx.Bytes(), true
	}
	return nil, false
}

// initialDownload tells whether the node is still catching up
// (IsInitialBlockDownload): below the last checkpoint or with a best block
// older than a day. Block announcements are not relayed meanwhile.
func (n *Node) initialDownload() bool {
	tip := n.chain.Tip()
	if tip.Height < n.params.LastCheckpointHeight() {
		return true
	}
	return int64(tip.Header.Time) < n.now().Add(-24*time.Hour).Unix()
}

// onTipChange announces the new best block to the peers (SetBestChain's
// relay), except during the initial download and to peers far ahead.
func (n *Node) onTipChange(ch chain.TipChange) {
	if n.initialDownload() {
		return
	}
	inv := wire.InvVect{Type: wire.InvTypeBlock, Hash: wire.Hash(ch.NewTip)}
	for _, p := range n.snapshot() {
		if !p.ready() {
			continue
		}
		p.mu.Lock()
		start := int64(p.startHeight)
		p.mu.Unlock()
		if ch.NewHeight > start-2000 {
			p.pushInventory(inv)
		}
	}
}

// poke wakes the maintenance loop.
func (n *Node) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		conn, err := n.cfg.Listen.Accept()
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			n.log.Warn("p2p: accept failed", "err", err)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		n.addConn(conn, true, "", "")
	}
}

// addConn registers a new connection and starts its goroutines, or
// refuses it (banned address, limits, closed node).
func (n *Node) addConn(conn net.Conn, inbound bool, target, name string) *peer {
	remote, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		conn.Close()
		return nil
	}
	if n.bannedLocked(remote.Addr()) {
		n.mu.Unlock()
		n.log.Info("p2p: refusing banned peer", "addr", remote)
		conn.Close()
		return nil
	}
	nIn, nOut := 0, 0
	for p := range n.peers {
		if p.inbound {
			nIn++
		} else {
			nOut++
		}
	}
	maxIn := n.cfg.MaxPeers - max(n.cfg.MaxOutbound, 0)
	if (inbound && nIn >= maxIn) || nIn+nOut >= n.cfg.MaxPeers {
		n.mu.Unlock()
		n.log.Info("p2p: connection limit reached", "addr", remote, "inbound", inbound)
		conn.Close()
		return nil
	}
	if name == "" {
		name = conn.RemoteAddr().String()
	}
	p := newPeer(n, conn, inbound, target, name, remote)
	n.peers[p] = struct{}{}
	n.wg.Add(2)
	n.mu.Unlock()
	n.log.Debug("p2p: connected", "addr", name, "inbound", inbound)
	go p.readLoop()
	go p.writeLoop()
	if !inbound {
		p.sendVersion()
	}
	return p
}

// removePeer forgets a closed peer and its pending requests.
func (n *Node) removePeer(p *peer) {
	n.mu.Lock()
	delete(n.peers, p)
	for inv, r := range n.requested {
		if r.p == p {
			delete(n.requested, inv)
		}
	}
	if n.syncPeer == p {
		n.syncPeer = nil
	}
	n.mu.Unlock()
	n.poke()
}

// startDial dials addr in the background unless a dial to it is running;
// persistent targets are remembered as the peer's target. n.mu held.
func (n *Node) startDial(addr string, persistent bool) {
	if n.dialing[addr] || n.closed {
		return
	}
	n.dialing[addr] = true
	n.lastDial[addr] = n.now()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		conn, err := n.cfg.Dial(ctx, addr)
		cancel()
		n.mu.Lock()
		delete(n.dialing, addr)
		n.mu.Unlock()
		if err != nil {
			n.log.Debug("p2p: dial failed", "addr", addr, "err", err)
			if ap, perr := netip.ParseAddrPort(addr); perr == nil {
				n.book.attempt(ap)
			}
			return
		}
		target := ""
		if persistent {
			target = addr
		}
		n.addConn(conn, false, target, addr)
	}()
}

// connectedTo tells whether a peer was dialled as addr or is connected
// from/to that exact address. n.mu held.
func (n *Node) connectedTo(addr string) bool {
	for p := range n.peers {
		if p.name == addr || p.target == addr {
			return true
		}
	}
	return false
}

func (n *Node) maintainLoop() {
	defer n.wg.Done()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	n.maintain()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.wake:
		}
		n.maintain()
	}
}

// maintain runs the periodic work: outbound connections, sync node choice,
// stalled downloads, pings, timeouts and expiries.
func (n *Node) maintain() {
	now := n.now()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	for ip, until := range n.bans {
		if !now.Before(until) {
			delete(n.bans, ip)
		}
	}
	for h, t := range n.rejected {
		if now.Sub(t) > rejectedLifetime {
			delete(n.rejected, h)
		}
	}
	for inv, r := range n.requested {
		if now.Sub(r.when) > n.cfg.RequestTimeout {
			delete(n.requested, inv)
		}
	}
	// -connect and -addnode targets.
	due := func(addr string, every time.Duration) bool {
		last, ok := n.lastDial[addr]
		return !ok || now.Sub(last) >= every
	}
	for _, a := range n.cfg.ConnectOnly {
		if !n.connectedTo(a) && due(a, n.cfg.ConnectRetry) {
			n.startDial(a, true)
		}
	}
	for _, a := range n.added {
		if !n.connectedTo(a) && due(a, n.cfg.AddedNodeRetry) {
			n.startDial(a, true)
		}
	}
	// Addresses from the address book.
	if len(n.cfg.ConnectOnly) == 0 && n.cfg.MaxOutbound > 0 {
		out := len(n.dialing)
		connected := map[netip.Addr]bool{}
		for p := range n.peers {
			if !p.inbound {
				out++
			}
			connected[p.remote.Addr()] = true
		}
		if out < n.cfg.MaxOutbound {
			if ap, ok := n.book.pick(func(ap netip.AddrPort) bool {
				return !connected[ap.Addr()] && !n.bannedLocked(ap.Addr()) && !n.dialing[ap.String()] &&
					(ap != n.cfg.ExternalAddr)
			}); ok {
				n.startDial(ap.String(), false)
			}
		}
	}
	peers := n.peerList()
	n.mu.Unlock()

	n.startSync()
	height := n.chain.Tip().Height
	for _, p := range peers {
		p.tick(now, height)
	}
}

// startSync picks a sync node when there is none (StartSync): among peers
// that completed the handshake, serve blocks and claim a start height
// above ours minus 144, the one heard from most recently; it is then sent
// getblocks.
func (n *Node) startSync() {
	height := n.chain.Tip().Height
	n.mu.Lock()
	if n.syncPeer != nil || n.closed {
		n.mu.Unlock()
		return
	}
	var best *peer
	var bestRecv int64
	for _, p := range n.peerList() {
		p.mu.Lock()
		ok := p.gotVersion && p.services&wire.NodeNetwork != 0 && int64(p.startHeight) > height-144
		p.mu.Unlock()
		if !ok || p.isClosed() {
			continue
		}
		if r := p.lastRecv.Load(); best == nil || r > bestRecv {
			best, bestRecv = p, r
		}
	}
	n.syncPeer = best
	n.mu.Unlock()
	if best != nil {
		best.pushGetBlocks(n.chain.Locator(), consensus.Hash{}, false)
	}
}

// askFor records that inv is being requested from p, unless it was asked
// of a live peer less than RequestTimeout ago.
func (n *Node) askFor(p *peer, inv wire.InvVect) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.requested[inv]; ok && r.p != p && !r.p.isClosed() && n.now().Sub(r.when) < n.cfg.RequestTimeout {
		return false
	}
	n.requested[inv] = request{p: p, when: n.now()}
	return true
}

// received clears the request for inv.
func (n *Node) received(inv wire.InvVect) {
	n.mu.Lock()
	delete(n.requested, inv)
	n.mu.Unlock()
}

func (n *Node) rejectedTx(h consensus.Hash) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.rejected[h]
	return ok
}

func (n *Node) rememberRejected(h consensus.Hash) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.rejected) >= maxRejected {
		for k := range n.rejected {
			delete(n.rejected, k)
			break
		}
	}
	n.rejected[h] = n.now()
}

const (
	maxTimeSamples = 200
	maxTimeOffset  = 70 * 60 // seconds; a larger median offset is not applied
)

// addTimeSample records a peer's clock offset (its version timestamp minus
// our clock) once per address and recomputes the network offset as
// twisterd's AddTimeData does: the median of our own 0 and up to 200
// samples, taken when there are at least 5 and an odd number of them, and
// applied only if smaller than 70 minutes.
func (n *Node) addTimeSample(ip netip.Addr, offset int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.timeSamples[ip]; ok {
		return
	}
	if len(n.timeOrder) >= maxTimeSamples-1 {
		delete(n.timeSamples, n.timeOrder[0])
		n.timeOrder = n.timeOrder[1:]
	}
	n.timeSamples[ip] = offset
	n.timeOrder = append(n.timeOrder, ip)
	k := len(n.timeSamples) + 1
	if k < 5 || k%2 == 0 {
		return
	}
	all := make([]int64, 0, k)
	all = append(all, 0)
	for _, o := range n.timeSamples {
		all = append(all, o)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	med := all[k/2]
	if med > -maxTimeOffset && med < maxTimeOffset {
		n.timeOffset = med
	} else {
		n.timeOffset = 0
		n.log.Warn("p2p: peers' clocks differ from ours by more than 70 minutes; check the system clock", "median_offset_s", med)
	}
}

// TimeOffset returns the network time offset: the median difference
// between the peers' clocks and ours (0 until 4 peers with distinct
// addresses were seen).
func (n *Node) TimeOffset() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return time.Duration(n.timeOffset) * time.Second
}

// AdjustedTime returns the clock plus TimeOffset (GetAdjustedTime), the
// time source the chain should use for its future-block check.
func (n *Node) AdjustedTime() time.Time { return n.now().Add(n.TimeOffset()) }
