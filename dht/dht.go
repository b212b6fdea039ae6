package dht

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwister/twister/dht/krpc"
)

// DHT is one twister DHT node: it answers queries on its PacketConn, keeps
// a routing table and storage, and runs lookups, gets and puts for its
// caller. Create it with New, then Start it; Close stops it and closes the
// connection.
type DHT struct {
	cfg  Config
	conn PacketConn
	id   krpc.ID
	log  *slog.Logger

	mu      sync.Mutex // guards table, store, tokens, limiter, pending, bootstrap
	table   *table
	store   *store
	tokens  *tokens
	limiter *ipLimiter
	pending map[uint16]*pending
	boot    []netip.AddrPort                   // addresses given to Bootstrap, for re-bootstrapping
	curID   atomic.Pointer[krpc.ID]            // the id, for readers without the lock
	votes   map[netip.Addr]int                 // external address → distinct nodes naming it
	voters  map[netip.Addr]map[netip.Addr]bool // external address → the nodes that named it

	kick      chan struct{} // wakes the maintenance loop (nodes appeared)
	done      chan struct{}
	life      context.Context // cancelled by Close
	endLife   context.CancelFunc
	closeOnce sync.Once
	started   atomic.Bool
	wg        sync.WaitGroup
	refreshes chan struct{} // bounds concurrent item refreshes

	holdersMu sync.Mutex
	holders   map[krpc.ID]heldTokens // recent put lookups, see Config.TokenReuse

	stats counters
}

// heldTokens is the result of a put's lookup kept for the next put to the
// same target: the closest nodes and the tokens they gave.
type heldTokens struct {
	cands []*cand
	at    time.Time
}

type pending struct {
	addr netip.AddrPort
	ch   chan *krpc.Msg
}

type counters struct {
	queriesIn, queriesOut, repliesIn, timeouts, errorsIn atomic.Int64
	dropped, rateLimited, flooded, lookups, lookupMsgs   atomic.Int64
	putsStored, putsRejected                             atomic.Int64
}

// Stats is a snapshot of a node's counters.
type Stats struct {
	Nodes        int   // live routing table entries
	Replacements int   // replacement cache entries
	QueriesIn    int64 // queries received and answered
	QueriesOut   int64 // queries sent
	RepliesIn    int64 // replies matched to our queries
	Timeouts     int64 // queries that got no reply
	ErrorsIn     int64 // error replies received
	Dropped      int64 // undecodable or unmatched packets
	RateLimited  int64 // queries dropped by the per-IP rate limit
	Flooded      int64 // packets ignored from flooding IPs
	Lookups      int64 // iterative lookups run
	LookupMsgs   int64 // queries sent by lookups
	PutsStored   int64 // putData queries that stored an item
	PutsRejected int64 // putData queries answered with an error
	StoredItems  int   // items held (singles plus multi entries)
	StoredBytes  int64
	Torrents     int // info-hashes with peers
	Peers        int // announced peers held
	Queued       int // items created here that no node has accepted yet
}

// New checks cfg and creates a node; nothing is sent before Start.
func New(cfg Config) (*DHT, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	d := &DHT{
		cfg:       cfg,
		conn:      cfg.Conn,
		log:       cfg.Logger,
		pending:   map[uint16]*pending{},
		votes:     map[netip.Addr]int{},
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		refreshes: make(chan struct{}, 4),
	}
	d.life, d.endLife = context.WithCancel(context.Background())
	switch {
	case cfg.NodeID != nil:
		d.id = *cfg.NodeID
	case cfg.ExternalIP.IsValid() && !cfg.ExternalIP.IsUnspecified():
		d.id = GenerateNodeID(cfg.ExternalIP)
	default:
		la, ok := toAddrPort(cfg.Conn.LocalAddr())
		if ok && !la.Addr().IsUnspecified() && !IsLocalAddr(la.Addr()) {
			d.id = GenerateNodeID(la.Addr())
		} else {
			// Any id verifies from a local address.
			if _, err := rand.Read(d.id[:]); err != nil {
				return nil, fmt.Errorf("dht: node id: %w", err)
			}
		}
	}
	now := time.Now()
	d.setID(d.id)
	d.table = newTable(d.id, cfg.K, cfg.MaxFails, now)
	d.store = newStore(cfg.Limits)
	d.tokens = newTokens(now)
	d.limiter = newIPLimiter(cfg.Limits)
	return d, nil
}

// Started tells whether Start was called.
func (d *DHT) Started() bool { return d.started.Load() }

// ID returns the node id (it changes when the node learns that its
// external address does not fit it; see voteExternalIP).
func (d *DHT) ID() krpc.ID { return *d.curID.Load() }

// setID changes the node id; before Start, or with d.mu held.
func (d *DHT) setID(id krpc.ID) {
	d.id = id
	d.curID.Store(&id)
}

// LocalAddr returns the address the node receives on.
func (d *DHT) LocalAddr() net.Addr { return d.conn.LocalAddr() }

// Start starts answering queries and the maintenance loop.
func (d *DHT) Start() error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("dht: already started")
	}
	select {
	case <-d.done:
		return net.ErrClosed
	default:
	}
	d.wg.Add(2)
	go d.readLoop()
	go d.maintain()
	return nil
}

// Close stops the node, closes its connection and waits for its
// goroutines.
func (d *DHT) Close() error {
	var err error
	d.closeOnce.Do(func() {
		d.mu.Lock()
		close(d.done)
		d.mu.Unlock()
		d.endLife()
		err = d.conn.Close()
		d.wg.Wait()
	})
	return err
}

func (d *DHT) closed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Stats returns a snapshot of the node's counters.
func (d *DHT) Stats() Stats {
	d.mu.Lock()
	s := Stats{
		Nodes:        d.table.count,
		Replacements: d.table.replacements(),
		StoredItems:  d.store.count,
		StoredBytes:  d.store.bytes,
		Torrents:     len(d.store.torrents),
		Peers:        d.store.peerCount(),
	}
	for _, list := range d.store.items {
		for _, st := range list {
			if st.local && !st.published {
				s.Queued++
			}
		}
	}
	d.mu.Unlock()
	c := &d.stats
	s.QueriesIn, s.QueriesOut, s.RepliesIn = c.queriesIn.Load(), c.queriesOut.Load(), c.repliesIn.Load()
	s.Timeouts, s.ErrorsIn, s.Dropped = c.timeouts.Load(), c.errorsIn.Load(), c.dropped.Load()
	s.RateLimited, s.Flooded = c.rateLimited.Load(), c.flooded.Load()
	s.Lookups, s.LookupMsgs = c.lookups.Load(), c.lookupMsgs.Load()
	s.PutsStored, s.PutsRejected = c.putsStored.Load(), c.putsRejected.Load()
	return s
}

// Nodes returns the live routing table entries (to save and restore a
// node's state).
func (d *DHT) Nodes() []krpc.NodeInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table.nodes()
}

// IsDHTPacket tells whether a datagram is for the DHT, as twisterd decides
// on its shared UDP socket: longer than 20 bytes, starting with 'd' and
// ending with 'e'. Others are uTP.
func IsDHTPacket(b []byte) bool { return len(b) > 20 && b[0] == 'd' && b[len(b)-1] == 'e' }

func toAddrPort(a net.Addr) (netip.AddrPort, bool) {
	if a == nil {
		return netip.AddrPort{}, false
	}
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

func (d *DHT) readLoop() {
	defer d.wg.Done()
	buf := make([]byte, d.cfg.MaxPacketSize)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			if d.closed() || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			d.log.Debug("dht: read", "err", err)
			select {
			case <-d.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		ap, ok := toAddrPort(from)
		if !ok || !IsDHTPacket(buf[:n]) {
			d.stats.dropped.Add(1)
			continue
		}
		d.mu.Lock()
		banned := d.limiter.flood(ap.Addr(), time.Now())
		d.mu.Unlock()
		if banned {
			d.stats.flooded.Add(1)
			continue
		}
		pkt := make([]byte, n)
		copy(pkt, buf[:n])
		d.handlePacket(pkt, ap)
	}
}

func (d *DHT) handlePacket(pkt []byte, from netip.AddrPort) {
	m, err := krpc.Decode(pkt)
	if m == nil {
		d.stats.dropped.Add(1)
		d.log.Debug("dht: undecodable packet", "from", from, "err", err)
		return
	}
	switch m.Z {
	case krpc.TypeQuery:
		d.handleQuery(m, err, from)
	case krpc.TypeReply, krpc.TypeError:
		d.handleResponse(m, from)
	default:
		// twisterd silently ignores packets without a known "z".
		d.stats.dropped.Add(1)
	}
}

func (d *DHT) handleResponse(m *krpc.Msg, from netip.AddrPort) {
	if len(m.T) != 2 {
		d.stats.dropped.Add(1)
		return
	}
	tid := binary.BigEndian.Uint16(m.T)
	d.mu.Lock()
	p, ok := d.pending[tid]
	// A reply must come from the address the query went to (§3.2,
	// §11.12); twisterd compares the IP.
	if ok && p.addr.Addr() == from.Addr() {
		delete(d.pending, tid)
	} else {
		ok = false
	}
	d.mu.Unlock()
	if !ok {
		d.stats.dropped.Add(1)
		return
	}
	p.ch <- m // buffered, one reply per transaction
}

// send writes a packet, adding our version.
func (d *DHT) send(m *krpc.Msg, to netip.AddrPort) error {
	m.V = []byte(krpc.Version)
	_, err := d.conn.WriteTo(m.Encode(), net.UDPAddrFromAddrPort(to))
	return err
}

// Errors of queries.
var (
	// ErrTimeout: the node did not answer within QueryTimeout.
	ErrTimeout = errors.New("dht: query timed out")
	// ErrIDRejected: the node answered with our address in "ip", meaning
	// our id does not fit the address it sees (§3.3).
	ErrIDRejected = errors.New("dht: node rejected our id for our address")
	// ErrBadReply: the reply lacked a well-formed "r".
	ErrBadReply = errors.New("dht: malformed reply")
)

// call is a query in flight.
type call struct {
	tid uint16
	to  netip.AddrPort
	ch  chan *krpc.Msg
}

// startQuery registers a transaction and sends the query.
func (d *DHT) startQuery(to netip.AddrPort, q string, args *krpc.Args) (*call, error) {
	args.ID = d.ID()
	c := &call{to: to, ch: make(chan *krpc.Msg, 1)}
	d.mu.Lock()
	for {
		c.tid = uint16(mrand.Uint32())
		if _, used := d.pending[c.tid]; !used {
			break
		}
	}
	d.pending[c.tid] = &pending{addr: to, ch: c.ch}
	d.mu.Unlock()
	m := &krpc.Msg{T: binary.BigEndian.AppendUint16(nil, c.tid), Z: krpc.TypeQuery, Q: q, X: args}
	d.stats.queriesOut.Add(1)
	if err := d.send(m, to); err != nil {
		d.forget(c)
		d.fail(to)
		return nil, fmt.Errorf("dht: send %s to %s: %w", q, to, err)
	}
	return c, nil
}

// forget drops a transaction; a late reply is then ignored.
func (d *DHT) forget(c *call) {
	d.mu.Lock()
	if p, ok := d.pending[c.tid]; ok && p.ch == c.ch {
		delete(d.pending, c.tid)
	}
	d.mu.Unlock()
}

// timedOut records that c got no answer.
func (d *DHT) timedOut(c *call) {
	d.forget(c)
	d.stats.timeouts.Add(1)
	d.fail(c.to)
}

// query sends one query and waits for its reply, up to QueryTimeout. The
// routing table learns from the outcome.
func (d *DHT) query(ctx context.Context, to netip.AddrPort, q string, args *krpc.Args) (*krpc.Msg, error) {
	c, err := d.startQuery(to, q, args)
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(d.cfg.QueryTimeout)
	defer timer.Stop()
	select {
	case r := <-c.ch:
		return d.reply(r, to)
	case <-timer.C:
		d.timedOut(c)
		return nil, ErrTimeout
	case <-ctx.Done():
		d.forget(c)
		return nil, ctx.Err()
	case <-d.done:
		d.forget(c)
		return nil, net.ErrClosed
	}
}

func (d *DHT) fail(to netip.AddrPort) {
	d.mu.Lock()
	d.table.failed(to)
	d.mu.Unlock()
}

// reply interprets a response to our query.
func (d *DHT) reply(r *krpc.Msg, from netip.AddrPort) (*krpc.Msg, error) {
	if r.Z == krpc.TypeError {
		d.stats.errorsIn.Add(1)
		if r.E == nil {
			return r, &krpc.Error{Code: 0, Msg: "malformed error reply"}
		}
		return r, r.E
	}
	if r.R == nil || r.R.ID.IsZero() {
		d.fail(from)
		return nil, ErrBadReply
	}
	if r.R.IP != nil {
		// Treated as a failure; the address is a vote for our external IP.
		d.mu.Lock()
		var renewed bool
		if ip, ok := netip.AddrFromSlice(r.R.IP); ok {
			renewed = d.voteExternalIP(ip.Unmap(), from.Addr())
		}
		d.table.failed(from)
		id := d.id
		d.mu.Unlock()
		if renewed {
			d.log.Info("dht: new node id for our external address", "ip", r.R.IP, "id", id)
			d.goTracked(func() {
				ctx, cancel := context.WithTimeout(d.life, d.cfg.LookupTimeout)
				defer cancel()
				_ = d.refreshTable(ctx, d.ID())
			})
		} else {
			d.log.Debug("dht: node says our id does not fit our address", "node", from, "ip", r.R.IP)
		}
		return nil, ErrIDRejected
	}
	d.stats.repliesIn.Add(1)
	if VerifyNodeID(r.R.ID, from.Addr()) {
		d.nodeSeen(krpc.NodeInfo{ID: r.R.ID, Addr: from}, answered)
	}
	return r, nil
}

// nodeSeen adds or refreshes a node and wakes the maintenance loop when it
// is the first node after an empty table (queued puts can go out).
func (d *DHT) nodeSeen(n krpc.NodeInfo, how int) {
	d.mu.Lock()
	before := d.table.count
	added := d.table.seen(n, how, time.Now())
	after := d.table.count
	d.mu.Unlock()
	if added && before < d.cfg.K && after > before {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// idVotes is how many distinct nodes must name the same external address
// before the node id is derived from it again.
const idVotes = 3

// voteExternalIP counts a node's report of our external address (the "ip"
// of a reply rejecting our id). When idVotes distinct nodes named the same
// address and our id does not fit it, the id is derived from it again and
// the routing table rebuilt around it, as libtorrent restarts its DHT
// with a fresh id when the voted external address changes (§3.3). It
// reports whether the id changed; d.mu is held.
func (d *DHT) voteExternalIP(ip, voter netip.Addr) bool {
	if d.voters == nil {
		d.voters = map[netip.Addr]map[netip.Addr]bool{}
	}
	if d.voters[ip] == nil {
		d.voters[ip] = map[netip.Addr]bool{}
	}
	d.voters[ip][voter] = true
	d.votes[ip] = len(d.voters[ip])
	if d.votes[ip] < idVotes || d.cfg.NodeID != nil || IsLocalAddr(ip) || VerifyNodeID(d.id, ip) {
		return false
	}
	old := d.table
	d.setID(GenerateNodeID(ip))
	d.table = newTable(d.id, d.cfg.K, d.cfg.MaxFails, time.Now())
	for _, n := range old.nodes() {
		d.table.seen(n, answered, time.Now())
	}
	clear(d.votes)
	clear(d.voters)
	return true
}

// ExternalIPVotes returns how many nodes reported each address as ours in
// an "ip" field (they reject our id for it).
func (d *DHT) ExternalIPVotes() map[netip.Addr]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[netip.Addr]int, len(d.votes))
	for k, v := range d.votes {
		out[k] = v
	}
	return out
}

// ipLimiter implements the per-IP query rate limit (token bucket) and
// twisterd's flood protection.
type ipLimiter struct {
	lim     Limits
	buckets map[netip.Addr]*tokenBucket
	flood_  map[netip.Addr]*floodState
	swept   time.Time
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

type floodState struct {
	start  time.Time
	count  int
	banned time.Time
}

func newIPLimiter(lim Limits) *ipLimiter {
	return &ipLimiter{lim: lim, buckets: map[netip.Addr]*tokenBucket{}, flood_: map[netip.Addr]*floodState{}}
}

// flood counts a packet from ip and tells whether ip is banned.
func (l *ipLimiter) flood(ip netip.Addr, now time.Time) bool {
	l.sweep(now)
	// Loopback and private peers are our own hosts (a local network, a
	// bridge beside its node): a busy poster there must not be cut off.
	if IsLocalAddr(ip) {
		return false
	}
	f, ok := l.flood_[ip]
	if !ok {
		f = &floodState{start: now}
		l.flood_[ip] = f
	}
	if now.Before(f.banned) {
		return true
	}
	if now.Sub(f.start) > l.lim.FloodWindow {
		f.start, f.count = now, 0
	}
	f.count++
	if f.count > l.lim.FloodPackets {
		f.banned = now.Add(l.lim.FloodBan)
		return true
	}
	return false
}

// allow takes one token for a query from ip.
func (l *ipLimiter) allow(ip netip.Addr, now time.Time) bool {
	if IsLocalAddr(ip) {
		return true
	}
	b, ok := l.buckets[ip]
	if !ok {
		b = &tokenBucket{tokens: l.lim.QueryBurst, last: now}
		l.buckets[ip] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.lim.QueryRate
	if b.tokens > l.lim.QueryBurst {
		b.tokens = l.lim.QueryBurst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets idle IPs once a minute so the maps stay small.
func (l *ipLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for ip, f := range l.flood_ {
		if now.After(f.banned) && now.Sub(f.start) > l.lim.FloodWindow {
			delete(l.flood_, ip)
		}
	}
	for ip, b := range l.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, ip)
		}
	}
}
