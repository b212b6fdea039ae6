package p2p

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/wire"
)

const (
	maxKnownInventory = 20000 // per peer, most recent kept
	maxKnownAddrs     = 5000  // per peer
	maxPendingGetData = 2 * wire.MaxInvEntries
	getDataBatch      = 16             // objects served per round of the writer
	sendQueueHardCap  = 16 * (1 << 20) // a peer that lets this much pile up is dropped
	readBufferSize    = 64 << 10
)

var peerIDs atomic.Uint64

// peer is one connection. Its reader goroutine decodes and handles the
// messages in order; its writer goroutine sends the queued frames and
// serves getdata requests when the queue is empty, so that a peer that
// does not read cannot make us buffer without bound.
type peer struct {
	n        *Node
	id       uint64
	conn     net.Conn
	inbound  bool
	target   string // the -connect / -addnode target dialled ("" otherwise)
	name     string // addrName: the dialled host:port, or the remote address
	remote   netip.AddrPort
	connTime time.Time

	bytesSent atomic.Int64
	bytesRecv atomic.Int64
	lastSend  atomic.Int64 // Unix seconds
	lastRecv  atomic.Int64

	// Send queue (leaf lock).
	qmu      sync.Mutex
	qcond    *sync.Cond
	queue    [][]byte
	queued   int
	getQueue []wire.InvVect
	closed   bool
	closeErr error
	once     sync.Once

	// Protocol state.
	mu           sync.Mutex
	gotVersion   bool
	gotVerack    bool
	version      int32
	services     uint64
	subver       string
	startHeight  int32
	relayTxs     bool
	banScore     int
	known        *invSet
	knownAddrs   map[netip.AddrPort]struct{}
	hashContinue consensus.Hash
	lastGBBegin  consensus.Hash
	lastGBEnd    consensus.Hash
	lastGBTime   time.Time
	lastBlock    time.Time
	inflight     map[wire.InvVect]time.Time
	bestHeight   int64
	getAddrSent  bool
	pingNonce    uint64
	wantHeaders  bool // a getheaders of ours is unanswered
	headersMode  bool // downloading from this peer by getheaders after a stall
}

func newPeer(n *Node, conn net.Conn, inbound bool, target, name string, remote netip.AddrPort) *peer {
	now := n.now()
	p := &peer{
		n: n, id: peerIDs.Add(1), conn: conn, inbound: inbound, target: target, name: name,
		remote: remote, connTime: now,
		known:      newInvSet(maxKnownInventory),
		knownAddrs: map[netip.AddrPort]struct{}{},
		inflight:   map[wire.InvVect]time.Time{},
		bestHeight: -1,
	}
	p.qcond = sync.NewCond(&p.qmu)
	return p
}

func (p *peer) isClosed() bool {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return p.closed
}

// ready tells whether the handshake is done (the peer's version arrived).
func (p *peer) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gotVersion
}

func (p *peer) wantsTx() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.relayTxs
}

// close ends the connection once; the goroutines exit and the node forgets
// the peer.
func (p *peer) close(err error) {
	p.once.Do(func() {
		p.qmu.Lock()
		p.closed = true
		p.closeErr = err
		p.queue, p.getQueue, p.queued = nil, nil, 0
		p.qcond.Broadcast()
		p.qmu.Unlock()
		p.conn.Close()
		p.n.removePeer(p)
		p.n.log.Debug("p2p: disconnected", "addr", p.name, "reason", err)
	})
}

// send queues one message.
func (p *peer) send(msg wire.Message) {
	frame, err := wire.EncodeMessage(p.n.params.Magic, msg)
	if err != nil {
		p.n.log.Error("p2p: encoding message", "cmd", msg.Command(), "err", err)
		return
	}
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return
	}
	if p.queued+len(frame) > sendQueueHardCap {
		p.qmu.Unlock()
		p.close(errors.New("send queue overflow: peer does not read"))
		return
	}
	p.queue = append(p.queue, frame)
	p.queued += len(frame)
	p.qcond.Signal()
	p.qmu.Unlock()
}

// queueGetData adds requested objects for the writer to serve.
func (p *peer) queueGetData(items []wire.InvVect) error {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if len(p.getQueue)+len(items) > maxPendingGetData {
		return fmt.Errorf("more than %d objects requested and not yet read", maxPendingGetData)
	}
	p.getQueue = append(p.getQueue, items...)
	p.qcond.Signal()
	return nil
}

func (p *peer) writeLoop() {
	defer p.n.wg.Done()
	for {
		p.qmu.Lock()
		for len(p.queue) == 0 && len(p.getQueue) == 0 && !p.closed {
			p.qcond.Wait()
		}
		if p.closed {
			p.qmu.Unlock()
			return
		}
		if len(p.queue) == 0 || (p.queued < p.n.cfg.MaxSendBuffer/4 && len(p.getQueue) > 0) {
			k := min(len(p.getQueue), getDataBatch)
			if k > 0 {
				items := append([]wire.InvVect(nil), p.getQueue[:k]...)
				p.getQueue = p.getQueue[k:]
				p.qmu.Unlock()
				p.serveGetData(items)
				continue
			}
		}
		frame := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.queued -= len(frame)
		p.qmu.Unlock()
		p.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := p.conn.Write(frame); err != nil {
			p.close(fmt.Errorf("write: %w", err))
			return
		}
		p.bytesSent.Add(int64(len(frame)))
		p.lastSend.Store(p.n.now().Unix())
	}
}

// countingReader counts received bytes and the time of the last receipt.
type countingReader struct{ p *peer }

func (c countingReader) Read(b []byte) (int, error) {
	k, err := c.p.conn.Read(b)
	if k > 0 {
		c.p.bytesRecv.Add(int64(k))
		c.p.lastRecv.Store(c.p.n.now().Unix())
	}
	return k, err
}

func (p *peer) readLoop() {
	defer p.n.wg.Done()
	br := bufio.NewReaderSize(countingReader{p}, readBufferSize)
	for {
		p.mu.Lock()
		ready := p.gotVersion
		p.mu.Unlock()
		if ready {
			p.conn.SetReadDeadline(time.Now().Add(p.n.cfg.IdleTimeout))
		} else {
			p.conn.SetReadDeadline(time.Now().Add(p.n.cfg.HandshakeTimeout))
		}
		msg, err := wire.ReadMessage(br, p.n.params.Magic, 0)
		if err != nil {
			var me *wire.MessageError
			if errors.As(err, &me) {
				// The frame was intact but its payload did not decode.
				score := 10
				if errors.Is(err, wire.ErrTooMany) {
					score = 20
				}
				if p.misbehave(score, fmt.Sprintf("undecodable %s: %v", me.Command, me.Err)) {
					return
				}
				continue
			}
			p.close(fmt.Errorf("read: %w", err))
			return
		}
		if err := p.handle(msg); err != nil {
			p.close(err)
			return
		}
		if p.isClosed() {
			return
		}
	}
}

// misbehave raises the peer's ban score (CNode::Misbehaving); at the
// threshold the peer's address is banned and it is disconnected, and true
// is returned. Unlike twisterd, loopback peers are banned too, so that
// nodes on distinct 127.0.0.x addresses behave like distinct hosts.
func (p *peer) misbehave(score int, why string) bool {
	if score <= 0 {
		return false
	}
	p.mu.Lock()
	p.banScore += score
	total := p.banScore
	p.mu.Unlock()
	if total >= p.n.cfg.BanScore {
		p.n.log.Warn("p2p: misbehaving peer banned", "addr", p.name, "score", total, "why", why)
		p.n.ban(p.remote.Addr())
		p.close(fmt.Errorf("misbehaving (ban score %d): %s", total, why))
		return true
	}
	p.n.log.Info("p2p: peer misbehaving", "addr", p.name, "delta", score, "score", total, "why", why)
	return false
}

func randomNonce() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// sendVersion sends our version message (CNode::PushVersion).
func (p *peer) sendVersion() {
	n := p.n
	var from wire.NetAddress
	if n.cfg.ExternalAddr.IsValid() {
		from = wire.NewNetAddress(n.cfg.ExternalAddr, n.cfg.Services)
	} else {
		from = wire.NewNetAddress(netip.AddrPortFrom(netip.IPv4Unspecified(), 0), n.cfg.Services)
	}
	var recv wire.NetAddress
	if p.remote.IsValid() {
		recv = wire.NewNetAddress(p.remote, wire.NodeNetwork)
	}
	p.send(&wire.MsgVersion{
		Version:     wire.ProtocolVersion,
		Services:    n.cfg.Services,
		Timestamp:   n.now().Unix(),
		AddrRecv:    recv,
		AddrFrom:    from,
		Nonce:       n.nonce,
		SubVersion:  n.cfg.SubVersion,
		StartHeight: n.cfg.StartHeight(),
		Relay:       true,
	})
}

// pushInventory announces inv unless the peer is known to have it.
func (p *peer) pushInventory(inv wire.InvVect) {
	p.mu.Lock()
	fresh := p.known.add(inv)
	p.mu.Unlock()
	if fresh {
		p.send(&wire.MsgInv{Items: []wire.InvVect{inv}})
	}
}

// pushGetBlocks sends getblocks for the blocks after locator up to stop
// (PushGetBlocks), skipping a request identical to the previous one unless
// force is set.
func (p *peer) pushGetBlocks(locator []consensus.Hash, stop consensus.Hash, force bool) {
	if len(locator) == 0 {
		return
	}
	p.mu.Lock()
	if !force && locator[0] == p.lastGBBegin && stop == p.lastGBEnd {
		p.mu.Unlock()
		return
	}
	p.lastGBBegin, p.lastGBEnd, p.lastGBTime = locator[0], stop, p.n.now()
	p.mu.Unlock()
	p.send(&wire.MsgGetBlocks{BlockLocator: wire.BlockLocator{
		Version: wire.ProtocolVersion, Locator: toWire(locator), HashStop: wire.Hash(stop),
	}})
}

// tick runs the peer's periodic checks. A peer claiming more blocks than
// we have that sent nothing for StallTimeout (its getblocks answers can be
// empty when it believes we were already told of the blocks) is switched
// to a getheaders-driven download: we ask for headers and getdata the
// blocks we lack, until we reach its height.
func (p *peer) tick(now time.Time, height int64) {
	p.mu.Lock()
	ready := p.gotVersion
	for inv, t := range p.inflight {
		if now.Sub(t) > p.n.cfg.RequestTimeout {
			delete(p.inflight, inv)
		}
	}
	behind := ready && p.bestHeight > height
	if !behind {
		p.headersMode = false
	}
	idle := behind && len(p.inflight) == 0
	if idle && !p.headersMode && now.Sub(p.lastGBTime) > p.n.cfg.StallTimeout && now.Sub(p.lastBlock) > p.n.cfg.StallTimeout {
		p.headersMode = true
		p.wantHeaders = false
	}
	askHeaders := idle && p.headersMode && !p.wantHeaders
	if askHeaders {
		p.wantHeaders = true
	}
	version := p.version
	p.mu.Unlock()
	if !ready {
		if now.Sub(p.connTime) > p.n.cfg.HandshakeTimeout {
			p.close(errors.New("no version message in time"))
		}
		return
	}
	if last := time.Unix(p.lastRecv.Load(), 0); p.lastRecv.Load() != 0 && now.Sub(last) > p.n.cfg.IdleTimeout {
		p.close(errors.New("inactivity timeout"))
		return
	}
	if last := p.lastSend.Load(); last != 0 && now.Sub(time.Unix(last, 0)) > p.n.cfg.PingInterval {
		p.qmu.Lock()
		quiet := len(p.queue) == 0
		p.qmu.Unlock()
		if quiet {
			if version > wire.BIP0031Version {
				nonce := randomNonce()
				p.mu.Lock()
				p.pingNonce = nonce
				p.mu.Unlock()
				p.send(&wire.MsgPing{Nonce: nonce})
			} else {
				p.send(&wire.MsgPing{})
			}
		}
	}
	if askHeaders {
		p.n.log.Debug("p2p: download stalled, asking for headers", "addr", p.name, "height", height)
		p.send(&wire.MsgGetHeaders{BlockLocator: wire.BlockLocator{
			Version: wire.ProtocolVersion, Locator: toWire(p.n.chain.Locator()),
		}})
	}
}

func toWire(l []consensus.Hash) []wire.Hash {
	out := make([]wire.Hash, 0, min(len(l), wire.MaxLocatorHashes))
	for _, h := range l {
		if len(out) == wire.MaxLocatorHashes {
			break
		}
		out = append(out, wire.Hash(h))
	}
	return out
}

// info returns the getpeerinfo entry.
func (p *peer) info(syncNode bool) PeerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PeerInfo{
		Addr:           p.name,
		Services:       fmt.Sprintf("%08x", p.services),
		LastSend:       p.lastSend.Load(),
		LastRecv:       p.lastRecv.Load(),
		BytesSent:      p.bytesSent.Load(),
		BytesRecv:      p.bytesRecv.Load(),
		ConnTime:       p.connTime.Unix(),
		Version:        p.version,
		SubVer:         p.subver,
		Inbound:        p.inbound,
		StartingHeight: p.startHeight,
		BanScore:       p.banScore,
		SyncNode:       syncNode,
	}
}

// invSet is a bounded set of inventory, forgetting the oldest entries
// (Bitcoin's mruset).
type invSet struct {
	m    map[wire.InvVect]struct{}
	ring []wire.InvVect
	next int
	max  int
}

func newInvSet(max int) *invSet {
	return &invSet{m: make(map[wire.InvVect]struct{}), max: max}
}

func (s *invSet) has(v wire.InvVect) bool { _, ok := s.m[v]; return ok }

// add inserts v and tells whether it was new.
func (s *invSet) add(v wire.InvVect) bool {
	if _, ok := s.m[v]; ok {
		return false
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, v)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = v
		s.next = (s.next + 1) % len(s.ring)
	}
	s.m[v] = struct{}{}
	return true
}
