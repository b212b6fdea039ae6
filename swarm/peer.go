package swarm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwister/twister/swarm/wire"
)

var (
	errPeerTimeout = errors.New("peer timed out")
	errDuplicate   = errors.New("duplicate connection")
	errQueueFull   = errors.New("send queue full (peer too slow)")
	errRefused     = errors.New("connection refused by limits or ban")
)

// peer is one established connection in one torrent. Fields above the
// writer section are guarded by Swarm.mu.
type peer struct {
	s          *Swarm
	t          *torrent
	conn       net.Conn
	addr       string // remote address of the connection
	listenAddr string // dialable address (candidate key), "" if unknown
	host       string // ban key
	outgoing   bool
	id         [20]byte
	reserved   wire.Reserved
	ext        wire.ExtHandshake

	amChoking, amInterested, peerChoking, peerInterested bool

	has         bitset
	allowedFast map[uint32]bool
	requested   map[uint32]time.Time // our outstanding requests → when sent
	timedOut    map[uint32]time.Time // timed-out requests whose answer we still accept
	lastRecv    time.Time
	unchokedAt  time.Time
	chokedAt    time.Time
	dhtPort     uint16
	nbitsSent   uint16
	nbitsRecv   uint16
	nonce       []byte
	closed      bool

	theirQueue atomic.Int32 // their requests accepted, answer not yet written

	ctx    context.Context
	cancel context.CancelFunc

	qmu      sync.Mutex
	q        []outItem
	qbytes   int
	overflow bool
	wake     chan struct{}
	lastSend atomic.Int64 // unix nanoseconds per s.clock
}

type outItem struct {
	b     []byte
	piece bool
	index uint32
}

// send queues m for the writer. Safe with or without s.mu held.
func (p *peer) send(m wire.Message) {
	p.enqueue(outItem{b: wire.AppendMessage(nil, m), piece: m.ID == wire.Piece && !m.KeepAlive, index: m.Index})
}

func (p *peer) enqueue(it outItem) {
	p.qmu.Lock()
	if p.qbytes+len(it.b) > p.s.lim.MaxQueueBytes {
		p.overflow = true
	} else {
		p.q = append(p.q, it)
		p.qbytes += len(it.b)
	}
	p.qmu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// dropQueuedPieces removes unsent piece answers and returns their indices.
func (p *peer) dropQueuedPieces() []uint32 {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	var dropped []uint32
	kept := p.q[:0]
	for _, it := range p.q {
		if it.piece {
			dropped = append(dropped, it.index)
			p.qbytes -= len(it.b)
			p.theirQueue.Add(-1)
			continue
		}
		kept = append(kept, it)
	}
	p.q = kept
	return dropped
}

// cancelQueued removes an unsent answer for piece k.
func (p *peer) cancelQueued(k uint32) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	for i, it := range p.q {
		if it.piece && it.index == k {
			p.qbytes -= len(it.b)
			p.q = append(p.q[:i], p.q[i+1:]...)
			p.theirQueue.Add(-1)
			return
		}
	}
}

func (p *peer) lastSendTime() time.Time { return time.Unix(0, p.lastSend.Load()) }

func (p *peer) writeLoop() {
	s := p.s
	defer s.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		}
		p.qmu.Lock()
		items, overflow := p.q, p.overflow
		p.q, p.qbytes = nil, 0
		p.qmu.Unlock()
		if overflow {
			s.closePeerLocking(p, errQueueFull)
			return
		}
		var batch []byte
		flush := func() bool {
			if len(batch) == 0 {
				return true
			}
			p.conn.SetWriteDeadline(time.Now().Add(s.lim.PeerTimeout))
			_, err := p.conn.Write(batch)
			batch = batch[:0]
			if err != nil {
				s.closePeerLocking(p, fmt.Errorf("write: %w", err))
				return false
			}
			p.lastSend.Store(s.clock.Now().UnixNano())
			return true
		}
		for _, it := range items {
			if it.piece {
				if s.upload != nil {
					if !flush() {
						return
					}
					if err := s.upload.WaitN(p.ctx, len(it.b)); err != nil {
						return
					}
				}
				p.theirQueue.Add(-1)
				s.st.piecesOut.Add(1)
				s.st.bytesOut.Add(uint64(len(it.b) - 13))
			}
			batch = append(batch, it.b...)
			if len(batch) >= 64<<10 && !flush() {
				return
			}
		}
		if !flush() {
			return
		}
	}
}

func (p *peer) readLoop() {
	s := p.s
	defer s.wg.Done()
	br := bufio.NewReaderSize(p.conn, 4<<10) // pieces larger than this are read straight into place
	for {
		m, err := wire.ReadMessage(br, s.lim.Wire)
		if err != nil {
			s.closePeerLocking(p, fmt.Errorf("read: %w", err))
			return
		}
		if !s.handle(p, m) {
			return
		}
	}
}

func (s *Swarm) closePeerLocking(p *peer, reason error) {
	s.mu.Lock()
	s.closePeer(p, reason)
	s.mu.Unlock()
}

// closePeer drops p and hands its requests to other peers. s.mu held.
func (s *Swarm) closePeer(p *peer, reason error) {
	if p.closed {
		return
	}
	p.closed = true
	p.cancel()
	p.conn.Close()
	t := p.t
	delete(t.peers, p)
	if t.byID[p.id] == p {
		delete(t.byID, p.id)
	}
	s.conns--
	if !p.amChoking {
		t.unchoked--
	}
	for k := range p.requested {
		if t.pending[k] == p {
			t.unpend(k)
		}
	}
	if c := t.cands[p.listenAddr]; c != nil && reason != errDuplicate {
		c.next = s.clock.Now().Add(s.lim.ReconnectDelay)
	}
	s.log.Debug("swarm: peer closed", "user", t.user, "addr", p.addr, "reason", reason)
	if t.closed || s.closed {
		return
	}
	s.refill(t, nil)
	for q := range t.peers {
		if q.amChoking && q.peerInterested {
			s.unchokeIfRoom(t, q)
		}
	}
	for q := range t.peers {
		s.unchokeIfRoom(t, q)
	}
}

// penalise bans p's host for BanDuration and drops it. s.mu held.
func (s *Swarm) penalise(p *peer, reason error) {
	s.st.penalties.Add(1)
	s.bans[p.host] = s.clock.Now().Add(s.lim.BanDuration)
	s.log.Warn("swarm: peer penalised", "user", p.t.user, "addr", p.addr, "reason", reason)
	s.closePeer(p, reason)
}

func (s *Swarm) handshake(t *torrent) wire.Handshake {
	return wire.Handshake{Reserved: wire.DefaultReserved, InfoHash: t.ih, PeerID: s.peerID}
}

// dial connects to addr for t. s.conns was incremented by the caller.
func (s *Swarm) dial(t *torrent, addr string) {
	defer s.wg.Done()
	fail := func(err error) {
		s.mu.Lock()
		s.conns--
		s.st.dialFailures.Add(1)
		s.dialFailed(t, addr)
		s.mu.Unlock()
		s.log.Debug("swarm: dial failed", "user", t.user, "addr", addr, "err", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.lim.DialTimeout)
	conn, err := s.cfg.Dialer.Dial(ctx, addr)
	cancel()
	if err != nil {
		fail(err)
		return
	}
	conn.SetDeadline(time.Now().Add(s.lim.HandshakeTimeout))
	stop := context.AfterFunc(s.ctx, func() { conn.Close() }) // Close interrupts the handshake
	defer stop()
	if err := wire.WriteHandshake(conn, s.handshake(t)); err != nil {
		conn.Close()
		fail(err)
		return
	}
	hs, err := wire.ReadHandshake(conn)
	if err == nil && hs.InfoHash != t.ih {
		err = fmt.Errorf("peer answered for info-hash %x, want %x", hs.InfoHash, t.ih)
	}
	if err != nil {
		conn.Close()
		s.st.handErr.Add(1)
		fail(err)
		return
	}
	conn.SetDeadline(time.Time{})
	s.mu.Lock()
	defer s.mu.Unlock()
	c := t.cands[addr]
	if c != nil {
		c.dialing = false
	}
	if hs.PeerID == s.peerID {
		if c != nil {
			c.self = true
		}
		s.conns--
		conn.Close()
		return
	}
	if _, err := s.addPeer(t, conn, hs, true, addr); err == nil && c != nil {
		c.failures = 0
	} else if c != nil {
		c.next = s.clock.Now().Add(s.lim.ReconnectDelay)
	}
}

func (s *Swarm) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.cfg.Listener.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("swarm: accept failed", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		host := hostOf(conn.RemoteAddr().String())
		s.mu.Lock()
		if s.closed || s.banned(host) || s.conns >= s.lim.MaxConnections {
			s.st.refused.Add(1)
			s.mu.Unlock()
			conn.Close()
			continue
		}
		s.conns++
		s.wg.Add(1)
		s.mu.Unlock()
		go s.incoming(conn)
	}
}

func (s *Swarm) incoming(conn net.Conn) {
	defer s.wg.Done()
	fail := func(err error) {
		conn.Close()
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
		s.st.handErr.Add(1)
		s.log.Debug("swarm: incoming handshake failed", "addr", conn.RemoteAddr(), "err", err)
	}
	conn.SetDeadline(time.Now().Add(s.lim.HandshakeTimeout))
	stop := context.AfterFunc(s.ctx, func() { conn.Close() }) // Close interrupts the handshake
	defer stop()
	hs, err := wire.ReadHandshake(conn)
	if err != nil {
		fail(err)
		return
	}
	s.mu.Lock()
	t := s.byHash[hs.InfoHash]
	s.mu.Unlock()
	if t == nil {
		fail(fmt.Errorf("not following info-hash %x", hs.InfoHash))
		return
	}
	if err := wire.WriteHandshake(conn, s.handshake(t)); err != nil {
		fail(err)
		return
	}
	conn.SetDeadline(time.Time{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if hs.PeerID == s.peerID {
		s.conns--
		conn.Close()
		return
	}
	if _, err := s.addPeer(t, conn, hs, false, ""); err == nil {
		s.st.accepted.Add(1)
	}
}

// favoured reports whether a connection in the given direction survives a
// duplicate: the one dialed by the lower peer id. Both ends agree.
func (s *Swarm) favoured(outgoing bool, theirID [20]byte) bool {
	weAreLower := bytes.Compare(s.peerID[:], theirID[:]) < 0
	return outgoing == weAreLower
}

// addPeer registers a handshaken connection (already counted in s.conns)
// and sends the opening messages. s.mu held.
func (s *Swarm) addPeer(t *torrent, conn net.Conn, hs wire.Handshake, outgoing bool, dialAddr string) (*peer, error) {
	refuse := func(err error) (*peer, error) {
		conn.Close()
		s.conns--
		s.st.refused.Add(1)
		return nil, err
	}
	host := hostOf(conn.RemoteAddr().String())
	if t.closed || s.closed || s.banned(host) || len(t.peers) >= s.lim.MaxPeersPerTorrent {
		return refuse(errRefused)
	}
	if old := t.byID[hs.PeerID]; old != nil {
		if old.outgoing != outgoing && s.favoured(outgoing, hs.PeerID) {
			s.closePeer(old, errDuplicate)
		} else {
			return refuse(errDuplicate)
		}
	}
	now := s.clock.Now()
	p := &peer{
		s: s, t: t, conn: conn, addr: conn.RemoteAddr().String(), listenAddr: dialAddr, host: host,
		outgoing: outgoing, id: hs.PeerID, reserved: hs.Reserved,
		amChoking: true, peerChoking: true,
		allowedFast: map[uint32]bool{}, requested: map[uint32]time.Time{}, timedOut: map[uint32]time.Time{},
		lastRecv: now, chokedAt: now, wake: make(chan struct{}, 1),
	}
	p.lastSend.Store(now.UnixNano())
	p.ctx, p.cancel = context.WithCancel(s.ctx)
	t.peers[p] = struct{}{}
	t.byID[p.id] = p
	// Opening messages, in twisterd's order: extension handshake,
	// bitfield or have_none, dht_port, hashcash_nbits.
	if hs.Reserved.Extensions() {
		eh := wire.ExtHandshake{M: map[string]int64{}, Version: s.cfg.Version, ReqQ: s.lim.MaxIncomingRequests,
			HasCompleteAgo: true, CompleteAgo: -1, Port: s.annPort}
		if ap, err := netip.ParseAddrPort(p.addr); err == nil {
			eh.YourIP = ap.Addr().Unmap()
		}
		p.send(eh.Message())
	}
	if t.have.count() > 0 {
		p.send(wire.MsgBitfield(t.have.bytes(t.numPieces)))
	} else if hs.Reserved.Fast() {
		p.send(wire.MsgSimple(wire.HaveNone))
	}
	if s.cfg.DHTPort != 0 && hs.Reserved.DHT() {
		p.send(wire.Message{ID: wire.DHTPort, Port: s.cfg.DHTPort})
	}
	if hs.Reserved.Peek() && s.lim.HashcashBits > 0 {
		p.nbitsSent = uint16(s.lim.HashcashBits)
		p.send(wire.Message{ID: wire.HashcashNBits, NBits: p.nbitsSent})
	}
	s.unchokeIfRoom(t, p)
	s.wg.Add(2)
	go p.writeLoop()
	go p.readLoop()
	s.log.Debug("swarm: peer connected", "user", t.user, "addr", p.addr, "outgoing", outgoing)
	return p, nil
}

// handle processes one message; false means the connection is gone.
func (s *Swarm) handle(p *peer, m wire.Message) bool {
	s.mu.Lock()
	if p.closed {
		s.mu.Unlock()
		return false
	}
	t := p.t
	p.lastRecv = s.clock.Now()
	if m.KeepAlive {
		s.mu.Unlock()
		return true
	}
	switch m.ID {
	case wire.Choke:
		p.peerChoking = true
		if !p.reserved.Fast() {
			// Without the Fast extension a choke drops our requests.
			for k := range p.requested {
				if !p.allowedFast[k] {
					p.unrequest(k)
					if t.pending[k] == p {
						t.unpend(k)
					}
				}
			}
			s.refill(t, p)
		}
	case wire.Unchoke:
		p.peerChoking = false
		s.fill(t, p)
	case wire.Interested:
		p.peerInterested = true
		s.unchokeIfRoom(t, p)
	case wire.NotInterested:
		p.peerInterested = false
		// Hand the slot to a peer waiting for one, if any.
		if !p.amChoking {
			for q := range t.peers {
				if q.amChoking && q.peerInterested {
					s.setChoke(t, p, true)
					s.setChoke(t, q, false)
					break
				}
			}
		}
	case wire.Have:
		k := m.Index
		if k > maxIndex || !s.cfg.ValidPostNumber(t.user, int64(k)) {
			s.penalise(p, fmt.Errorf("have(%d): post number not acceptable for %q", k, t.user))
			s.mu.Unlock()
			return false
		}
		p.has.set(k)
		t.grow(int64(k) + 2)
		if !t.have.has(k) {
			s.fill(t, p)
		}
	case wire.Bitfield:
		bits := int64(len(m.Payload)) * 8
		if bits > t.numPieces && !s.cfg.ValidPostNumber(t.user, bits-7) {
			s.penalise(p, fmt.Errorf("bitfield of %d bits: post number %d not acceptable for %q", bits, bits-7, t.user))
			s.mu.Unlock()
			return false
		}
		// Like libtorrent: a longer (accepted) bitfield raises the piece
		// count to its bit length; a shorter one is padded.
		p.has = fromBytes(m.Payload)
		t.grow(max(bits, p.has.highest()+2))
		s.fill(t, p)
	case wire.HaveAll:
		// twister nodes are never seeds; read it as "all pieces we know of".
		p.has = bitset{}
		for i := int64(0); i < t.numPieces; i++ {
			p.has.set(uint32(i))
		}
		s.fill(t, p)
	case wire.HaveNone:
		p.has = bitset{}
		s.fill(t, p)
	case wire.Request:
		return s.serve(p, m) // unlocks
	case wire.Piece:
		return s.receive(p, m) // unlocks
	case wire.Cancel:
		p.cancelQueued(m.Index)
	case wire.RejectRequest:
		if _, ok := p.requested[m.Index]; ok {
			p.unrequest(m.Index)
			if t.pending[m.Index] == p {
				t.unpend(m.Index)
			}
			s.refill(t, p)
		}
	case wire.AllowedFast:
		if len(p.allowedFast) < 64 {
			p.allowedFast[m.Index] = true
			s.fill(t, p)
		}
	case wire.DHTPort:
		p.dhtPort = m.Port
	case wire.HashcashNBits:
		p.nbitsRecv = m.NBits
	case wire.HashcashNonce:
		if p.nonce != nil {
			s.closePeer(p, errors.New("second hashcash nonce"))
			s.mu.Unlock()
			return false
		}
		p.nonce = append([]byte{}, m.Payload...)
	case wire.Extended:
		if m.ExtID == wire.ExtHandshakeID {
			eh, err := wire.ParseExtHandshake(m.Payload)
			if err != nil {
				s.log.Debug("swarm: bad extension handshake", "addr", p.addr, "err", err)
				break
			}
			p.ext = eh
			if !p.outgoing && eh.Port > 0 && p.listenAddr == "" {
				if ap, err := netip.ParseAddrPort(p.addr); err == nil {
					la := netip.AddrPortFrom(ap.Addr().Unmap(), uint16(eh.Port)).String()
					p.listenAddr = la
					t.candidate(la, s.lim.MaxCandidates)
				}
			}
		}
		// Other extensions (ut_pex, lt_tex, upload_only, ...) are not
		// advertised by us, so peers do not send them; ignored if they do.
	default:
		// suggest and unknown ids: nothing to do.
	}
	s.mu.Unlock()
	return true
}

// serve answers a request; called with s.mu held, returns with it released.
func (s *Swarm) serve(p *peer, m wire.Message) bool {
	t := p.t
	k := m.Index
	reject := func() bool {
		if p.reserved.Fast() {
			p.send(wire.Message{ID: wire.RejectRequest, Index: k, Begin: m.Begin, Length: m.Length})
		}
		s.mu.Unlock()
		return true
	}
	peek := false
	if p.amChoking {
		if p.nonce == nil || p.nbitsSent == 0 || !wire.HashcashOK(t.ih, k, p.nonce, p.nbitsSent) {
			return reject()
		}
		peek = true
	}
	if !t.have.has(k) || m.Length == 0 || m.Length > wire.BlockSize || m.Begin >= wire.BlockSize ||
		int(p.theirQueue.Load()) >= s.lim.MaxIncomingRequests {
		return reject()
	}
	p.theirQueue.Add(1)
	user := t.user
	s.mu.Unlock()
	data, ok, err := s.cfg.Store.Get(user, int64(k))
	if err != nil || !ok || int(m.Begin) >= len(data) {
		p.theirQueue.Add(-1)
		if err != nil {
			s.log.Warn("swarm: store read failed", "user", user, "k", k, "err", err)
		}
		if p.reserved.Fast() {
			p.send(wire.Message{ID: wire.RejectRequest, Index: k, Begin: m.Begin, Length: m.Length})
		}
		return true
	}
	end := min(int(m.Begin)+int(m.Length), len(data))
	if peek {
		s.st.peeksServed.Add(1)
	}
	p.send(wire.MsgPiece(k, m.Begin, data[m.Begin:end]))
	return true
}

// receive handles a piece; called with s.mu held, returns with it released.
func (s *Swarm) receive(p *peer, m wire.Message) bool {
	t := p.t
	k := m.Index
	_, asked := p.requested[k]
	_, late := p.timedOut[k]
	if (!asked && !late) || m.Begin != 0 {
		s.st.unrequested.Add(1)
		s.mu.Unlock()
		return true
	}
	p.unrequest(k)
	delete(p.timedOut, k)
	if t.pending[k] == p {
		t.unpend(k)
	}
	if t.have.has(k) {
		s.fill(t, p)
		s.mu.Unlock()
		return true
	}
	user := t.user
	s.mu.Unlock()

	if err := s.cfg.Validate(user, int64(k), m.Payload); errors.Is(err, ErrNotYet) {
		s.st.deferred.Add(1)
		s.log.Debug("swarm: piece deferred", "user", user, "k", k, "err", err)
		s.mu.Lock()
		if t.deferred == nil {
			t.deferred = map[uint32]time.Time{}
		}
		t.deferred[k] = s.clock.Now().Add(s.lim.DeferDelay)
		s.mu.Unlock()
		return true
	} else if err != nil {
		s.st.rejected.Add(1)
		s.mu.Lock()
		s.penalise(p, fmt.Errorf("piece %d of %q rejected: %w", k, user, err))
		s.refill(t, nil)
		s.mu.Unlock()
		return false
	}
	if err := s.cfg.Store.Put(user, int64(k), m.Payload); err != nil {
		s.log.Error("swarm: storing post failed", "user", user, "k", k, "err", err)
		s.mu.Lock()
		s.refill(t, nil)
		s.mu.Unlock()
		return true
	}
	s.st.piecesIn.Add(1)
	s.st.bytesIn.Add(uint64(len(m.Payload)))
	s.mu.Lock()
	fresh := !t.have.has(k)
	if fresh {
		s.gotPiece(t, k)
	} else if !p.closed {
		s.fill(t, p)
	}
	cbs := s.onPost
	s.mu.Unlock()
	if fresh {
		s.st.postsStored.Add(1)
		for _, fn := range cbs {
			fn(user, int64(k), m.Payload)
		}
	}
	return true
}
