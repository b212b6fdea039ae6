package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm/wire"
)

// Swarm runs the per-user post swarms of one node: one torrent per followed
// user, all sharing a listener, a dialer, a post store and limits.
type Swarm struct {
	cfg     Config
	lim     Limits
	log     *slog.Logger
	clock   Clock
	peerID  [20]byte
	upload  *rate.Limiter
	annPort int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	torrents map[string]*torrent
	byHash   map[resource.Target]*torrent
	bans     map[string]time.Time // host → end of ban
	conns    int                  // established + handshaking connections
	onPost   []func(user string, k int64, data []byte)
	started  bool
	closed   bool

	st counters
}

type counters struct {
	piecesIn, piecesOut, bytesIn, bytesOut, postsStored   atomic.Uint64
	rejected, penalties, timeouts, unrequested, dials     atomic.Uint64
	deferred                                              atomic.Uint64
	dialFailures, accepted, refused, peeksServed, handErr atomic.Uint64
}

// Errors returned by the API.
var (
	ErrClosed      = errors.New("swarm: closed")
	ErrNotFollowed = errors.New("swarm: user not followed")
	ErrConflict    = errors.New("swarm: a different post with this number is already held")
	// ErrNotYet, returned (wrapped) by Config.Validate, says a piece cannot
	// be judged yet (the node's chain is still behind: the author's
	// registration or the post's height is in blocks not received yet).
	// The piece is dropped without penalising the peer and asked for again
	// after DeferDelay.
	ErrNotYet = errors.New("swarm: piece cannot be checked yet")
)

// New checks cfg and returns a stopped Swarm; call Start to run it.
func New(cfg Config) (*Swarm, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Store is required", errConfig)
	}
	if cfg.Validate == nil {
		return nil, fmt.Errorf("%w: Validate is required (it replaces piece hashes)", errConfig)
	}
	if cfg.ValidPostNumber == nil {
		return nil, fmt.Errorf("%w: ValidPostNumber is required", errConfig)
	}
	s := &Swarm{
		cfg:      cfg,
		lim:      cfg.Limits.withDefaults(),
		log:      cfg.Logger,
		clock:    cfg.Clock,
		peerID:   cfg.PeerID,
		torrents: map[string]*torrent{},
		byHash:   map[resource.Target]*torrent{},
		bans:     map[string]time.Time{},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.peerID == ([20]byte{}) {
		s.peerID = wire.NewPeerID()
	}
	if s.cfg.Version == "" {
		s.cfg.Version = "gotwister/0.1"
	}
	var lnAddr netip.AddrPort
	if cfg.Listener != nil {
		if a, err := netip.ParseAddrPort(cfg.Listener.Addr().String()); err == nil {
			lnAddr = a
		}
	}
	s.annPort = cfg.AnnouncePort
	if s.annPort == 0 {
		s.annPort = int(lnAddr.Port())
	}
	if s.cfg.Dialer == nil {
		s.cfg.Dialer = defaultDialer(lnAddr.Addr())
	}
	if s.lim.UploadRate > 0 {
		s.upload = rate.NewLimiter(rate.Limit(s.lim.UploadRate), max(s.lim.UploadRate, wire.MaxPieceFrame+4))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// PeerID returns our peer id.
func (s *Swarm) PeerID() [20]byte { return s.peerID }

// Start begins accepting connections, the housekeeping timer and peer
// discovery for the users followed so far.
func (s *Swarm) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	s.started = true
	if s.cfg.Listener != nil {
		s.wg.Add(1)
		go s.acceptLoop()
	}
	s.wg.Add(1)
	go s.tickLoop()
	for _, t := range s.torrents {
		s.kick(t)
	}
	return nil
}

// Close stops everything: the listener is closed, every connection dropped,
// and all goroutines waited for. The store is left open (it is the caller's).
func (s *Swarm) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	for _, t := range s.torrents {
		for p := range t.peers {
			s.closePeer(p, ErrClosed)
		}
	}
	s.mu.Unlock()
	if s.cfg.Listener != nil {
		s.cfg.Listener.Close()
	}
	s.wg.Wait()
	return nil
}

// OnPost registers fn to be called once for every post newly stored, whether
// received from a peer or added with AddPost, after it is durably stored.
// Calls happen outside the swarm's lock, from connection goroutines; fn may
// call back into the Swarm.
func (s *Swarm) OnPost(fn func(user string, k int64, data []byte)) {
	s.mu.Lock()
	s.onPost = append(s.onPost, fn)
	s.mu.Unlock()
}

// Follow joins user's swarm: it loads the posts held from the store, finds
// peers (PeerSource and manual peers) and fetches every missing post.
// Following a followed user is a no-op.
func (s *Swarm) Follow(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.follow(user)
	return err
}

func (s *Swarm) follow(user string) (*torrent, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if t := s.torrents[user]; t != nil {
		return t, nil
	}
	ks, err := s.cfg.Store.List(user)
	if err != nil {
		return nil, fmt.Errorf("swarm: loading posts of %q: %w", user, err)
	}
	t := newTorrent(user)
	for _, k := range ks {
		if k >= 0 && k <= maxIndex {
			t.addHave(uint32(k))
		}
	}
	s.torrents[user] = t
	s.byHash[t.ih] = t
	if s.started {
		s.kick(t)
	}
	return t, nil
}

// Unfollow leaves user's swarm and drops its connections. Posts stay in the
// store (Post still returns them).
func (s *Swarm) Unfollow(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.torrents[user]
	if t == nil {
		return
	}
	t.closed = true
	for p := range t.peers {
		s.closePeer(p, errors.New("unfollowed"))
	}
	delete(s.torrents, user)
	delete(s.byHash, t.ih)
}

// Following returns the followed users, sorted.
func (s *Swarm) Following() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	us := make([]string, 0, len(s.torrents))
	for u := range s.torrents {
		us = append(us, u)
	}
	sort.Strings(us)
	return us
}

// AddPost validates post k of user, stores it durably and announces it with
// have(k) to every connected peer of the user's swarm, which then spreads it
// further. The user is followed if not already. Adding a post already held
// with identical bytes is a no-op; different bytes give ErrConflict.
func (s *Swarm) AddPost(user string, k int64, data []byte) error {
	if k < 0 || k > maxIndex {
		return fmt.Errorf("swarm: post number %d out of range", k)
	}
	if err := s.cfg.Validate(user, k, data); err != nil {
		return fmt.Errorf("swarm: post %d of %q rejected: %w", k, user, err)
	}
	// Follow first, so that the torrent's have-set is loaded from the
	// store before this post is added to it.
	s.mu.Lock()
	t, err := s.follow(user)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	old, ok, err := s.cfg.Store.Get(user, k)
	if err != nil {
		return err
	}
	if ok && !bytes.Equal(old, data) {
		return ErrConflict
	}
	if !ok {
		if err := s.cfg.Store.Put(user, k, data); err != nil {
			return fmt.Errorf("swarm: storing post %d of %q: %w", k, user, err)
		}
	}
	s.mu.Lock()
	fresh := !t.have.has(uint32(k))
	if fresh {
		s.gotPiece(t, uint32(k))
	}
	cbs := s.onPost
	s.mu.Unlock()
	if fresh && !ok {
		s.st.postsStored.Add(1)
		for _, fn := range cbs {
			fn(user, k, data)
		}
	}
	return nil
}

// Post returns post k of user from the store.
func (s *Swarm) Post(user string, k int64) ([]byte, bool) {
	d, ok, err := s.cfg.Store.Get(user, k)
	if err != nil {
		s.log.Warn("swarm: store read failed", "user", user, "k", k, "err", err)
		return nil, false
	}
	return d, ok
}

// LastHave returns the highest post number held for user, or −1.
func (s *Swarm) LastHave(user string) int64 {
	s.mu.Lock()
	t := s.torrents[user]
	if t != nil {
		defer s.mu.Unlock()
		return t.have.highest()
	}
	s.mu.Unlock()
	k, err := s.cfg.Store.LastK(user)
	if err != nil {
		return -1
	}
	return k
}

// NumPieces returns the piece count of user's torrent: at least the highest
// post number seen (held or announced by peers) + 2, as twisterd keeps it
// (a node is never a seed); 0 if user is not followed.
func (s *Swarm) NumPieces(user string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.torrents[user]; t != nil {
		return t.numPieces
	}
	return 0
}

// AddPeer adds a manual peer address (host:port for the Dialer) to user's
// swarm, following user if needed, and dials it. Manual peers are redialed
// after a disconnect (with back-off) unless banned.
func (s *Swarm) AddPeer(user string, addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.follow(user)
	if err != nil {
		return err
	}
	c := t.candidate(addr, s.lim.MaxCandidates)
	c.manual = true
	c.next = time.Time{}
	if s.started {
		s.dialSome(t)
	}
	return nil
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	Addr           string   // remote address of the connection
	ListenAddr     string   // address to redial (dialed address, or IP + its "p")
	PeerID         [20]byte // its peer id
	Client         string   // "v" of its extension handshake
	Outgoing       bool     // we dialed it
	Fast, Peek     bool     // reserved bits it set
	AmChoking      bool
	AmInterested   bool
	PeerChoking    bool
	PeerInterested bool
	Pieces         int    // pieces it announced
	Pending        int    // our requests outstanding at it
	DHTPort        uint16 // from its dht_port message
}

// Peers returns the connected peers of user's swarm.
func (s *Swarm) Peers(user string) []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.torrents[user]
	if t == nil {
		return nil
	}
	out := make([]PeerInfo, 0, len(t.peers))
	for p := range t.peers {
		out = append(out, PeerInfo{
			Addr: p.addr, ListenAddr: p.listenAddr, PeerID: p.id, Client: p.ext.Version,
			Outgoing: p.outgoing, Fast: p.reserved.Fast(), Peek: p.reserved.Peek(),
			AmChoking: p.amChoking, AmInterested: p.amInterested, PeerChoking: p.peerChoking,
			PeerInterested: p.peerInterested, Pieces: p.has.count(), Pending: len(p.requested),
			DHTPort: p.dhtPort,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Stats are counters since New, and current sizes.
type Stats struct {
	Torrents, Peers, Connections, Bans int
	PiecesReceived, PiecesSent         uint64 // valid pieces in, pieces served
	BytesReceived, BytesSent           uint64 // piece payload bytes
	PostsStored                        uint64 // received or added, durably stored
	Rejected                           uint64 // pieces failing Validate
	Deferred                           uint64 // pieces Validate could not judge yet (ErrNotYet)
	Penalties                          uint64 // peers banned (forged piece, over-limit have/bitfield)
	RequestTimeouts                    uint64
	Unrequested                        uint64 // pieces we did not ask for (dropped)
	Dials, DialFailures                uint64
	Accepted, Refused                  uint64 // incoming connections kept / refused
	HandshakeFailures                  uint64
	PeeksServed                        uint64 // requests served to choked peers on hashcash
}

// Stats returns current counters.
func (s *Swarm) Stats() Stats {
	s.mu.Lock()
	st := Stats{Torrents: len(s.torrents), Connections: s.conns}
	now := s.clock.Now()
	for _, t := range s.torrents {
		st.Peers += len(t.peers)
	}
	for _, until := range s.bans {
		if now.Before(until) {
			st.Bans++
		}
	}
	s.mu.Unlock()
	c := &s.st
	st.PiecesReceived, st.PiecesSent = c.piecesIn.Load(), c.piecesOut.Load()
	st.BytesReceived, st.BytesSent = c.bytesIn.Load(), c.bytesOut.Load()
	st.PostsStored, st.Rejected, st.Penalties = c.postsStored.Load(), c.rejected.Load(), c.penalties.Load()
	st.RequestTimeouts, st.Unrequested = c.timeouts.Load(), c.unrequested.Load()
	st.Dials, st.DialFailures = c.dials.Load(), c.dialFailures.Load()
	st.Accepted, st.Refused, st.HandshakeFailures = c.accepted.Load(), c.refused.Load(), c.handErr.Load()
	st.PeeksServed, st.Deferred = c.peeksServed.Load(), c.deferred.Load()
	return st
}

// Banned reports whether host (an IP address as text) is banned now.
func (s *Swarm) Banned(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.banned(host)
}

func (s *Swarm) banned(host string) bool {
	until, ok := s.bans[host]
	return ok && s.clock.Now().Before(until)
}

// hostOf returns the ban key of an address: its IP, or the whole string.
func hostOf(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap().String()
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
