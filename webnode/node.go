package webnode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm"
)

// Node is a browser twister node. Create it with New, then Start it. Its
// methods are safe for concurrent use.
type Node struct {
	cfg   Config
	br    Bridge
	store Store
	clock Clock
	log   *slog.Logger
	chain *lightChain
	sw    *swarm.Swarm
	ln    *muxListener // the swarm's listener: bridge streams and data channels
	rtc   *rtcManager  // nil unless WebRTC is enabled

	bridgeStats transportStats

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	signer      Signer
	nextK       int64                           // next post number of the signer
	lastPublicK int64                           // −1: none
	follows     []string                        // the current set's followed users, sorted
	private     map[string]bool                 // the followed users followed privately
	followsOf   string                          // whose set follows is: the logged-in user, "" the guest set
	fs          followState                     // publication of the following list (follow.go)
	posts       map[string]map[int64]*post.Post // held, verified posts
	dms         map[string]*DMView              // decrypted DMs by post id (for the signer)
	notForMe    map[string]bool                 // DMs that do not open with the signer's key
	bridges     map[string]ConnEvent
	started     bool
	closed      bool

	groups *groupState // group chats of the signer (groups.go)
}

// New checks cfg and returns a stopped node.
func New(cfg Config) (*Node, error) {
	if cfg.EnableWebRTC && cfg.Signaling == "" {
		return nil, errors.New("webnode: EnableWebRTC needs a Signaling URL")
	}
	if cfg.ICETimeout <= 0 {
		cfg.ICETimeout = 20 * time.Second
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Params == nil {
		cfg.Params = consensus.Mainnet
	}
	if cfg.HeaderSyncInterval <= 0 {
		cfg.HeaderSyncInterval = time.Minute
	}
	if cfg.KeyTTL <= 0 {
		cfg.KeyTTL = time.Hour
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lim := cfg.SwarmLimits
	if lim.MaxConnections == 0 {
		lim.MaxConnections = 24 // a bridge allows 32 streams per client
	}
	if lim.MaxPeersPerTorrent == 0 {
		lim.MaxPeersPerTorrent = 6
	}
	n := &Node{
		cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Logger,
		posts: map[string]map[int64]*post.Post{}, dms: map[string]*DMView{}, notForMe: map[string]bool{},
		bridges: map[string]ConnEvent{}, lastPublicK: -1, groups: newGroupState(),
		private: map[string]bool{}, fs: followState{pub: map[string]*followPub{}, pageSize: followingPageSize},
	}
	n.br = cfg.Bridge
	if n.br == nil {
		pool, err := client.NewPool(cfg.Bridges, client.PoolOptions{LearnPeers: true, OnState: n.onBridgeState})
		if err != nil {
			return nil, fmt.Errorf("webnode: %w", err)
		}
		n.br = pool
		for _, u := range cfg.Bridges {
			n.bridges[u] = ConnEvent{Bridge: u, State: client.Disconnected.String()}
		}
	}
	n.chain = newLightChain(n.br, n.store, cfg.Params, n.clock, cfg.RequestTimeout, cfg.KeyTTL, n.log)
	n.chain.onTip = func(h int64) { n.emit(EventHeight, h) }
	n.ln = newMuxListener(n.br.Listener().Addr())
	if cfg.EnableWebRTC {
		n.rtc = newRTCManager(n, cfg.Signaling, rtcOptions{ICEServers: cfg.ICEServers, Loopback: cfg.WebRTCLoopback},
			cfg.ICETimeout, n.ln.push)
	}
	sw, err := swarm.New(swarm.Config{
		Listener:        n.ln,
		Dialer:          nodeDialer{n},
		Store:           n.store,
		Validate:        func(user string, k int64, data []byte) error { _, err := n.validate(user, k, data); return err },
		ValidPostNumber: n.validPostNumber,
		Peers:           peerSource{n},
		Version:         "gotwister-web/0.1",
		Limits:          lim,
		Logger:          n.log,
		Clock:           n.clock,
	})
	if err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	n.sw = sw
	sw.OnPost(n.onPost)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// Start loads the stored state, syncs block headers from the bridge
// (checking them from the checkpoint) and starts the swarms of the
// followed users. A bridge that cannot be reached is not an error (the
// node works from its store and retries); a bridge serving headers that
// fail the checks is.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.started {
		n.mu.Unlock()
		return nil
	}
	n.started = true
	n.mu.Unlock()

	n.chain.load()
	if err := n.chain.sync(ctx); err != nil {
		if errors.Is(err, ErrUnverified) {
			return err
		}
		n.log.Warn("webnode: header sync failed", "err", err)
	}
	// The follow set of the user logged in; if nobody is, of the user
	// logged in last (unless logged out), else the guest set (follow.go).
	n.mu.Lock()
	var user string
	if n.signer != nil {
		user = n.signer.User()
	} else {
		user = n.startFollowsUser()
	}
	if _, err := n.useFollowsLocked(user); err != nil {
		n.mu.Unlock()
		return err
	}
	follows := slices.Clone(n.follows)
	n.mu.Unlock()
	for _, u := range follows {
		n.loadPosts(u)
		if err := n.sw.Follow(u); err != nil {
			return err
		}
	}
	if err := n.sw.Start(); err != nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.ln.pump(n.br.Listener(), n.bridgeStats.wrap)
	}()
	if n.rtc != nil {
		for _, u := range n.swarmUsers() {
			n.rtc.addRoom(u)
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.rtc.run()
		}()
	}
	for _, u := range follows {
		n.serve(u)
	}
	n.wg.Add(1)
	go n.syncLoop()
	return nil
}

// Close stops the swarms and the bridge connection. The store stays open.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	if n.rtc != nil {
		n.rtc.close()
	}
	n.sw.Close()
	n.ln.Close()
	n.br.Close()
	n.wg.Wait()
	return nil
}

func (n *Node) syncLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.HeaderSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		if err := n.chain.sync(ctx); err != nil {
			n.log.Warn("webnode: header sync failed", "err", err)
		}
		cancel()
		// A following list whose publication failed is put again.
		ctx, cancel = context.WithTimeout(n.ctx, 2*n.cfg.RequestTimeout)
		n.retryFollowing(ctx)
		cancel()
	}
}

func (n *Node) emit(kind string, data any) {
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(Event{Kind: kind, Data: data})
	}
}

func (n *Node) onBridgeState(url string, st client.State, err error) {
	ev := ConnEvent{Bridge: url, State: st.String()}
	if err != nil {
		ev.Error = err.Error()
	}
	n.mu.Lock()
	n.bridges[url] = ev
	n.mu.Unlock()
	n.emit(EventConnection, ev)
}

// serve has the bridge accept native peers for user's swarm (and announce
// it), in the background.
func (n *Node) serve(user string) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		defer cancel()
		if err := n.br.Serve(ctx, user); err != nil {
			n.log.Debug("webnode: serve failed", "user", user, "err", err)
		}
	}()
}

// peerSource finds swarm peers through the bridge's DHT and announces by
// having the bridge serve the swarm.
type peerSource struct{ n *Node }

func (p peerSource) Peers(ctx context.Context, user string, _ resource.Target) ([]netip.AddrPort, error) {
	return p.n.br.GetPeers(ctx, user)
}

func (p peerSource) Announce(ctx context.Context, ih resource.Target, _ int) error {
	for _, u := range p.n.swarmUsers() {
		if resource.InfoHash(u) == ih {
			return p.n.br.Serve(ctx, u)
		}
	}
	return nil
}

// swarmUsers are the users whose swarms the node runs: the followed ones
// and the logged-in user.
func (n *Node) swarmUsers() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	us := slices.Clone(n.follows)
	if n.signer != nil && !slices.Contains(us, n.signer.User()) {
		us = append(us, n.signer.User())
	}
	return us
}

// validate is the swarm's piece check and the check of every post from a
// bridge: post.Validate against the light chain. A failure that a stale
// view could explain (post number or height beyond our tip, a signature
// failing with a key that may have been replaced) is retried once after
// fetching headers or the proofs again.
func (n *Node) validate(user string, k int64, data []byte) (*post.Post, error) {
	p, err := post.Validate(data, user, k, n.chain)
	if err == nil {
		return p, nil
	}
	retry := false
	switch {
	case errors.Is(err, post.ErrHeight), errors.Is(err, post.ErrPostNumber):
		if n.chain.maybeSync(10*time.Second) == nil {
			retry = true
		}
	case errors.Is(err, post.ErrBadSignature), errors.Is(err, post.ErrBadWortSignature),
		errors.Is(err, post.ErrBadRTSignature), errors.Is(err, post.ErrBadFavSignature):
		retry = n.chain.refresh(user, time.Minute)
		if d, derr := post.Decode(data); derr == nil {
			if d.RT != nil && n.chain.refresh(d.RT.User, time.Minute) {
				retry = true
			}
			if d.Fav != nil && n.chain.refresh(d.Fav.User, time.Minute) {
				retry = true
			}
		}
	}
	if retry {
		p, err = post.Validate(data, user, k, n.chain)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnverified, err)
	}
	return p, nil
}

// postNumberSlack is how many blocks past our verified tip a have(k) may
// assume before it counts as misbehaviour: the swarm calls this check
// under its lock, so it cannot fetch headers first, and our tip may lag
// the peer's by a sync interval. Pieces are checked strictly on arrival.
const postNumberSlack = 144

func (n *Node) validPostNumber(user string, k int64) bool {
	n.chain.kmu.Lock()
	e := n.chain.hist[user]
	n.chain.kmu.Unlock()
	if e == nil || e.hist == nil {
		return k >= 0 // unknown yet: the pieces themselves are checked
	}
	reg := e.hist[len(e.hist)-1].Height
	tip := n.chain.Height()
	if k < 0 {
		return false
	}
	if tip > 0 && k > 2*(tip-reg)+20 {
		go n.chain.maybeSync(10 * time.Second)
		return k <= 2*(tip+postNumberSlack-reg)+20
	}
	return true
}

// bulkStore is a Store that reads all of a user's posts at once
// (IDBStore: one cursor pass instead of a transaction per post).
type bulkStore interface {
	Posts(user string) (map[int64][]byte, error)
}

// loadPosts indexes the stored posts of user.
func (n *Node) loadPosts(user string) {
	if bs, ok := n.store.(bulkStore); ok {
		all, err := bs.Posts(user)
		if err == nil {
			for k, data := range all {
				if p, err := post.Decode(data); err == nil && p.User == user && p.K == k {
					n.index(p)
				}
			}
			return
		}
		n.log.Warn("webnode: reading stored posts", "user", user, "err", err)
	}
	ks, err := n.store.List(user)
	if err != nil {
		n.log.Warn("webnode: listing stored posts", "user", user, "err", err)
		return
	}
	for _, k := range ks {
		data, ok, err := n.store.Get(user, k)
		if err != nil || !ok {
			continue
		}
		// The store only ever holds posts that passed validation.
		if p, err := post.Decode(data); err == nil && p.User == user && p.K == k {
			n.index(p)
		}
	}
}

func (n *Node) index(p *post.Post) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.posts[p.User]
	if m == nil {
		m = map[int64]*post.Post{}
		n.posts[p.User] = m
	}
	if _, ok := m[p.K]; ok {
		return false
	}
	m[p.K] = p
	if n.signer != nil && p.User == n.signer.User() {
		n.noteOwn(p)
	}
	return true
}

// noteOwn advances the signer's post counters past p. n.mu held.
func (n *Node) noteOwn(p *post.Post) {
	n.nextK = max(n.nextK, p.K+1)
	if isPublic(p) {
		n.lastPublicK = max(n.lastPublicK, p.K)
	}
}

func isPublic(p *post.Post) bool { return p.DM == nil && p.PFav == nil && p.Fav == nil }

// onPost is called by the swarm for every post newly stored (validated).
func (n *Node) onPost(user string, k int64, data []byte) {
	p, err := post.Decode(data)
	if err != nil {
		return
	}
	if !n.index(p) {
		return
	}
	if p.DM != nil {
		if v := n.openDM(p); v != nil {
			n.emit(EventDM, v)
		} else {
			n.groupDM(p) // a group invite, member list or message (groups.go)
		}
		return
	}
	n.emit(EventNewPost, viewOf(p))
}

// TimelineOptions select a page of the timeline.
type TimelineOptions struct {
	Count   int      `json:"count"`   // posts to return; default 20, at most 1000
	MaxID   string   `json:"maxId"`   // only posts older than this one ("user/k")
	SinceID string   `json:"sinceId"` // only posts newer than this one
	Users   []string `json:"users"`   // only these users (default: followed + self)
}

// timeline order: newest first, then by user, then by k descending.
func newer(a, b *post.Post) int {
	if c := cmp.Compare(b.Time, a.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.User, b.User); c != 0 {
		return c
	}
	return cmp.Compare(b.K, a.K)
}

// Timeline returns held posts of the followed users and the logged-in
// user, newest first: plain posts, replies, retwists and public
// favourites (not direct messages or private favourites). Every post in it
// passed validation when it was stored.
func (n *Node) Timeline(o TimelineOptions) ([]*PostView, error) {
	if o.Count <= 0 {
		o.Count = 20
	}
	o.Count = min(o.Count, 1000)
	users := o.Users
	if len(users) == 0 {
		users = n.swarmUsers()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	cursor := func(id string) (*post.Post, error) {
		if id == "" {
			return nil, nil
		}
		u, k, err := ParsePostID(id)
		if err != nil {
			return nil, err
		}
		p := n.posts[u][k]
		if p == nil {
			return nil, fmt.Errorf("%w: post %s is not held", ErrNotFound, id)
		}
		return p, nil
	}
	maxP, err := cursor(o.MaxID)
	if err != nil {
		return nil, err
	}
	sinceP, err := cursor(o.SinceID)
	if err != nil {
		return nil, err
	}
	now := n.clock.Now().Unix()
	var all []*post.Post
	for _, u := range users {
		for _, p := range n.posts[u] {
			if p.IsPrivate() || p.FromFuture(now) {
				continue
			}
			if maxP != nil && newer(p, maxP) <= 0 {
				continue
			}
			if sinceP != nil && newer(p, sinceP) >= 0 {
				continue
			}
			all = append(all, p)
		}
	}
	slices.SortFunc(all, newer)
	if len(all) > o.Count {
		all = all[:o.Count]
	}
	out := make([]*PostView, len(all))
	for i, p := range all {
		out[i] = viewOf(p)
	}
	return out, nil
}

// Status is the node's connection state.
type Status struct {
	Bridges     []ConnEvent `json:"bridges"`     // each known bridge's last state
	Height      int64       `json:"height"`      // verified header tip
	User        string      `json:"user"`        // logged-in user, or ""
	Following   []string    `json:"following"`   // followed users
	Peers       int         `json:"peers"`       // connected swarm peers, all swarms
	Connections int         `json:"connections"` // swarm connections incl. handshaking
	Posts       int         `json:"posts"`       // posts held
	Received    uint64      `json:"received"`    // valid pieces received from peers
	Sent        uint64      `json:"sent"`        // pieces served to peers
	Rejected    uint64      `json:"rejected"`    // pieces that failed validation
	// Transports count swarm connections and bytes by transport.
	Transports Transports `json:"transports"`
	// WebRTC is the WebRTC transport's state; nil when it is disabled.
	WebRTC *WebRTCStatus `json:"webrtc,omitempty"`
	// FollowSync is the merge of the logged-in user's following list
	// from the DHT (follow.go); nil when nobody is logged in.
	FollowSync *FollowSync `json:"followSync,omitempty"`
}

// Transports are the swarm transports' counters.
type Transports struct {
	Bridge TransportStats `json:"bridge"` // streams relayed by a bridge
	WebRTC TransportStats `json:"webrtc"` // data channels to other browsers
}

// Status reports bridges, height, swarm peers and counters.
func (n *Node) Status() Status {
	st := n.sw.Stats()
	var rs *WebRTCStatus
	if n.rtc != nil {
		rs = n.rtc.status()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Status{Height: n.chain.Height(), Following: slices.Clone(n.follows), Peers: st.Peers, WebRTC: rs,
		Connections: st.Connections, Received: st.PiecesReceived, Sent: st.PiecesSent, Rejected: st.Rejected}
	if s.Following == nil {
		s.Following = []string{}
	}
	if n.signer != nil {
		s.User = n.signer.User()
		if fs := n.fs.sync; fs != nil {
			c := *fs
			c.Added = slices.Clone(fs.Added)
			s.FollowSync = &c
		}
	}
	s.Transports.Bridge = n.bridgeStats.snapshot()
	if n.rtc != nil {
		s.Transports.WebRTC = n.rtc.stats.snapshot()
	}
	for _, m := range n.posts {
		s.Posts += len(m)
	}
	s.Bridges = make([]ConnEvent, 0, len(n.bridges))
	for _, ev := range n.bridges {
		s.Bridges = append(s.Bridges, ev)
	}
	slices.SortFunc(s.Bridges, func(a, b ConnEvent) int { return cmp.Compare(a.Bridge, b.Bridge) })
	return s
}

// Height returns the verified header tip height.
func (n *Node) Height() int64 { return n.chain.Height() }

// SyncHeaders fetches and checks new block headers now.
func (n *Node) SyncHeaders(ctx context.Context) error { return n.chain.sync(ctx) }

// Swarm returns the swarm engine (for status pages and tests).
func (n *Node) Swarm() *swarm.Swarm { return n.sw }

// Reverify checks every held post again with post.Validate (signatures,
// post numbers, sizes) and returns how many passed and how long it took:
// a diagnostic, and the browser benchmark of verification speed. It
// measures cold verification: what keys.Verify remembers (signatures
// already found valid, tables of frequent signers' keys) is forgotten
// first, so the figure includes building those tables.
func (n *Node) Reverify() (ok, failed int, took time.Duration) {
	n.mu.Lock()
	var all []*post.Post
	for _, m := range n.posts {
		for _, p := range m {
			all = append(all, p)
		}
	}
	n.mu.Unlock()
	keys.ResetVerifyCache()
	start := time.Now()
	for _, p := range all {
		if _, err := post.Validate(p.Raw, p.User, p.K, n.chain); err != nil {
			failed++
		} else {
			ok++
		}
	}
	return ok, failed, time.Since(start)
}
