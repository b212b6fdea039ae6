package swarm

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm/wire"
)

// maxIndex is the highest piece index (libtorrent uses a signed int).
const maxIndex = 1<<31 - 1

// torrent is the swarm of one user. All fields are guarded by Swarm.mu.
type torrent struct {
	user      string
	ih        resource.Target
	have      bitset
	numPieces int64
	peers     map[*peer]struct{}
	byID      map[[20]byte]*peer
	cands     map[string]*candidate
	pending   map[uint32]*peer     // piece → peer it is requested from (until timeout)
	deferred  map[uint32]time.Time // piece → when to ask again (Validate said ErrNotYet)
	unchoked  int
	closed    bool

	discovering  bool
	nextDiscover time.Time
	emptyLookups int // lookups in a row that found no peer while we had none
	nextAnnounce time.Time
	nextChoke    time.Time
}

// candidate is an address we may dial for a torrent.
type candidate struct {
	manual   bool
	self     bool // it was ourselves
	dialing  bool
	failures int
	next     time.Time // earliest next dial
}

func newTorrent(user string) *torrent {
	return &torrent{
		user:      user,
		ih:        resource.InfoHash(user),
		numPieces: 1,
		peers:     map[*peer]struct{}{},
		byID:      map[[20]byte]*peer{},
		cands:     map[string]*candidate{},
		pending:   map[uint32]*peer{},
	}
}

// addHave marks piece k held; the piece count stays ≥ k+2 (never a seed).
func (t *torrent) addHave(k uint32) {
	t.have.set(k)
	t.grow(int64(k) + 2)
}

func (t *torrent) grow(n int64) {
	if n > t.numPieces {
		t.numPieces = n
	}
}

// candidate returns the candidate entry for addr, creating it if needed
// (evicting a non-manual entry when the table is full).
func (t *torrent) candidate(addr string, limit int) *candidate {
	if c := t.cands[addr]; c != nil {
		return c
	}
	if len(t.cands) >= limit {
		for a, c := range t.cands {
			if !c.manual && !c.dialing {
				delete(t.cands, a)
				break
			}
		}
	}
	c := &candidate{}
	t.cands[addr] = c
	return c
}

func (t *torrent) connectedTo(addr string) bool {
	for p := range t.peers {
		if p.listenAddr == addr || p.addr == addr {
			return true
		}
	}
	return false
}

// gotPiece records a newly held piece and announces it to every peer that
// does not have it. Called with s.mu held, after the piece is stored.
func (s *Swarm) gotPiece(t *torrent, k uint32) {
	t.addHave(k)
	if q := t.pending[k]; q != nil {
		t.unpend(k)
		if _, ok := q.requested[k]; ok {
			delete(q.requested, k)
			q.send(wire.Message{ID: wire.Cancel, Index: k, Length: wire.BlockSize})
		}
	}
	for p := range t.peers {
		delete(p.timedOut, k)
		if !p.has.has(k) {
			p.send(wire.MsgHave(k))
		}
		s.fill(t, p)
	}
}

// fill updates our interest in p and sends it as many requests as the
// pipeline allows: pieces p has, we lack and nobody is asked for yet,
// newest first. Called with s.mu held.
func (s *Swarm) fill(t *torrent, p *peer) {
	if p.closed {
		return
	}
	interesting := p.has.anyWanted(&t.have)
	if interesting != p.amInterested {
		p.amInterested = interesting
		if interesting {
			p.send(wire.MsgSimple(wire.Interested))
		} else {
			p.send(wire.MsgSimple(wire.NotInterested))
		}
	}
	if !interesting {
		return
	}
	budget := s.lim.MaxRequestsPerPeer
	if p.ext.ReqQ > 0 && p.ext.ReqQ < budget {
		budget = p.ext.ReqQ
	}
	budget -= len(p.requested)
	if budget <= 0 {
		return
	}
	now := s.clock.Now()
	p.has.wanted(&t.have, func(k uint32) bool {
		if int64(k) >= t.numPieces || t.pending[k] != nil {
			return true
		}
		if until, ok := t.deferred[k]; ok && now.Before(until) {
			return true
		}
		if p.peerChoking && !p.allowedFast[k] {
			return true
		}
		if _, slow := p.timedOut[k]; slow {
			// It did not answer in time; others get the request first
			// (the entry expires after 3 × RequestTimeout).
			return true
		}
		if t.pending == nil {
			t.pending = map[uint32]*peer{}
		}
		if p.requested == nil {
			p.requested = map[uint32]time.Time{}
		}
		t.pending[k] = p
		p.requested[k] = now
		p.send(wire.MsgRequest(k))
		budget--
		return budget > 0
	})
}

// unpend forgets that piece k is requested. An empty map is dropped: a
// map keeps the buckets it once grew, and a node following a thousand
// users has a torrent (and peers) for each.
func (t *torrent) unpend(k uint32) {
	delete(t.pending, k)
	if len(t.pending) == 0 {
		t.pending = nil
	}
}

// unrequest forgets our request of piece k from p (see unpend).
func (p *peer) unrequest(k uint32) {
	delete(p.requested, k)
	if len(p.requested) == 0 {
		p.requested = nil
	}
}

// refill offers the given pieces (just released by a peer) to the others.
func (s *Swarm) refill(t *torrent, except *peer) {
	for p := range t.peers {
		if p != except {
			s.fill(t, p)
		}
	}
}

// Choking policy (simple, documented): every peer of a torrent is a
// follower of the same user, so we unchoke peers as soon as they connect,
// up to MaxUnchoked per torrent, whether or not they are interested yet —
// a new post then flows with have → request → piece and no extra round
// trip. When the slots are full, an interested choked peer takes the slot
// of an unchoked peer that is not interested; every ChokeInterval, if
// interested peers are still waiting, the peer unchoked longest is choked
// in favour of the one waiting longest (rotation, so nobody starves).
func (s *Swarm) unchokeIfRoom(t *torrent, p *peer) {
	if !p.amChoking || p.closed {
		return
	}
	if t.unchoked < s.lim.MaxUnchoked {
		s.setChoke(t, p, false)
		return
	}
	if !p.peerInterested {
		return
	}
	for q := range t.peers {
		if !q.amChoking && !q.peerInterested {
			s.setChoke(t, q, true)
			s.setChoke(t, p, false)
			return
		}
	}
}

func (s *Swarm) setChoke(t *torrent, p *peer, choke bool) {
	if p.amChoking == choke {
		return
	}
	p.amChoking = choke
	if choke {
		t.unchoked--
		p.chokedAt = s.clock.Now()
		p.send(wire.MsgSimple(wire.Choke))
		// Queued answers are dropped; Fast peers are told with rejects.
		for _, k := range p.dropQueuedPieces() {
			if p.reserved.Fast() {
				p.send(wire.Message{ID: wire.RejectRequest, Index: k, Length: wire.BlockSize})
			}
		}
	} else {
		t.unchoked++
		p.unchokedAt = s.clock.Now()
		p.send(wire.MsgSimple(wire.Unchoke))
	}
}

// rotate runs the periodic part of the choking policy.
func (s *Swarm) rotate(t *torrent) {
	var waiting, longest *peer
	for p := range t.peers {
		if p.amChoking && p.peerInterested && (waiting == nil || p.chokedAt.Before(waiting.chokedAt)) {
			waiting = p
		}
	}
	if waiting == nil {
		return
	}
	if t.unchoked < s.lim.MaxUnchoked {
		s.setChoke(t, waiting, false)
		return
	}
	for p := range t.peers {
		if !p.amChoking && (longest == nil || p.unchokedAt.Before(longest.unchokedAt)) {
			longest = p
		}
	}
	if longest != nil {
		s.setChoke(t, longest, true)
		s.setChoke(t, waiting, false)
	}
}

// kick schedules immediate discovery and dialing for t. s.mu held.
func (s *Swarm) kick(t *torrent) {
	t.nextDiscover = time.Time{}
	t.nextAnnounce = time.Time{}
	s.dialSome(t)
	s.maybeDiscover(t, s.clock.Now())
}

// dialSome dials candidates while t and the node have room. s.mu held.
func (s *Swarm) dialSome(t *torrent) {
	if t.closed || s.closed || !s.started {
		return
	}
	now := s.clock.Now()
	dialing := 0
	for _, c := range t.cands {
		if c.dialing {
			dialing++
		}
	}
	for addr, c := range t.cands {
		if len(t.peers)+dialing >= s.lim.MaxPeersPerTorrent || s.conns >= s.lim.MaxConnections {
			return
		}
		if c.dialing || c.self || now.Before(c.next) || t.connectedTo(addr) || s.banned(hostOf(addr)) {
			continue
		}
		c.dialing = true
		dialing++
		s.conns++
		s.st.dials.Add(1)
		s.wg.Add(1)
		go s.dial(t, addr)
	}
}

// dialFailed records a failed dial of addr with exponential back-off.
func (s *Swarm) dialFailed(t *torrent, addr string) {
	c := t.cands[addr]
	if c == nil {
		return
	}
	c.dialing = false
	c.failures++
	d := s.lim.ReconnectDelay << min(c.failures-1, 8)
	d = min(d, 5*time.Minute)
	c.next = s.clock.Now().Add(d/2 + rand.N(d/2+1))
	if !c.manual && c.failures > 5 {
		delete(t.cands, addr)
	}
}

// maybeDiscover starts a PeerSource lookup/announce for t when due.
func (s *Swarm) maybeDiscover(t *torrent, now time.Time) {
	if s.cfg.Peers == nil || t.discovering || t.closed || s.closed || !s.started {
		return
	}
	lookup := !now.Before(t.nextDiscover)
	announce := !now.Before(t.nextAnnounce) && s.annPort > 0
	if !lookup && !announce {
		return
	}
	t.discovering = true
	if lookup {
		iv := s.lim.DiscoverInterval
		if len(t.peers) >= 8 {
			iv = s.lim.AnnounceInterval
		}
		t.nextDiscover = now.Add(iv)
	}
	if announce {
		t.nextAnnounce = now.Add(s.lim.AnnounceInterval)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		var found []netip.AddrPort
		if lookup {
			var err error
			found, err = s.cfg.Peers.Peers(ctx, t.user, t.ih)
			if err != nil {
				s.log.Debug("swarm: peer lookup failed", "user", t.user, "err", err)
			}
		}
		if announce {
			if err := s.cfg.Peers.Announce(ctx, t.ih, s.annPort); err != nil {
				s.log.Debug("swarm: announce failed", "user", t.user, "err", err)
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		t.discovering = false
		if lookup {
			// A lookup that found nobody while we have no peer (the
			// author's announce may not have reached the DHT yet) is
			// retried soon, backing off to DiscoverInterval: 1 s, 2 s,
			// 4 s, … rather than a minute with no posts.
			if len(found) == 0 && len(t.peers) == 0 {
				retry := min(time.Second<<min(t.emptyLookups, 16), s.lim.DiscoverInterval)
				t.emptyLookups++
				if next := s.clock.Now().Add(retry); next.Before(t.nextDiscover) {
					t.nextDiscover = next
				}
			} else {
				t.emptyLookups = 0
			}
		}
		for _, ap := range found {
			if !ap.IsValid() || ap.Port() == 0 {
				continue
			}
			t.candidate(ap.String(), s.lim.MaxCandidates)
		}
		s.dialSome(t)
	}()
}

// tickLoop runs housekeeping every TickInterval.
func (s *Swarm) tickLoop() {
	defer s.wg.Done()
	tk := time.NewTicker(s.lim.TickInterval)
	defer tk.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tk.C:
			s.tick()
		}
	}
}

func (s *Swarm) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := s.clock.Now()
	for h, until := range s.bans {
		if !now.Before(until) {
			delete(s.bans, h)
		}
	}
	for _, t := range s.torrents {
		if len(t.deferred) > 0 {
			due := false
			for k, until := range t.deferred {
				if !now.Before(until) {
					delete(t.deferred, k)
					due = true
				}
			}
			if len(t.deferred) == 0 {
				t.deferred = nil
			}
			if due {
				s.refill(t, nil)
			}
		}
		for p := range t.peers {
			if now.Sub(p.lastRecv) > s.lim.PeerTimeout {
				s.closePeer(p, errPeerTimeout)
				continue
			}
			if now.Sub(p.lastSendTime()) > s.lim.KeepAliveInterval {
				p.send(wire.Message{KeepAlive: true})
			}
			released := false
			for k, at := range p.requested {
				if now.Sub(at) > s.lim.RequestTimeout {
					p.unrequest(k)
					p.timedOut[k] = now
					if t.pending[k] == p {
						t.unpend(k)
					}
					s.st.timeouts.Add(1)
					released = true
				}
			}
			for k, at := range p.timedOut {
				if now.Sub(at) > 3*s.lim.RequestTimeout {
					delete(p.timedOut, k)
				}
			}
			if released {
				s.refill(t, nil)
			}
		}
		if !now.Before(t.nextChoke) {
			t.nextChoke = now.Add(s.lim.ChokeInterval)
			s.rotate(t)
		}
		s.dialSome(t)
		s.maybeDiscover(t, now)
	}
}
