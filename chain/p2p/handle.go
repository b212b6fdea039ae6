package p2p

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/wire"
)

const (
	maxGetBlocksInv  = 500  // getblocks answer size
	maxGetDataPerMsg = 1000 // getdata batch we send
)

// handle processes one message from the peer (ProcessMessage). A returned
// error disconnects the peer; misbehaviour is scored instead.
func (p *peer) handle(msg wire.Message) error {
	if v, ok := msg.(*wire.MsgVersion); ok {
		return p.handleVersion(v)
	}
	p.mu.Lock()
	ready := p.gotVersion
	p.mu.Unlock()
	if !ready {
		p.misbehave(1, "message "+msg.Command()+" before version")
		return nil
	}
	switch m := msg.(type) {
	case *wire.MsgVerack:
		p.mu.Lock()
		first := !p.gotVerack
		p.gotVerack = true
		p.mu.Unlock()
		// A transaction made while this peer was not connected (a
		// registration waiting for a miner) would otherwise reach it only
		// when it asks with mempool: announce the pool once per link.
		if first && p.wantsTx() {
			p.handleMempool()
		}
	case *wire.MsgAddr:
		p.handleAddr(m)
	case *wire.MsgGetAddr:
		p.handleGetAddr()
	case *wire.MsgInv:
		p.handleInv(m)
	case *wire.MsgGetData:
		return p.queueGetData(m.Items)
	case *wire.MsgNotFound:
		p.handleNotFound(m)
	case *wire.MsgGetBlocks:
		p.handleGetBlocks(m)
	case *wire.MsgGetHeaders:
		p.handleGetHeaders(m)
	case *wire.MsgHeaders:
		p.handleHeaders(m)
	case *wire.MsgTx:
		p.handleTx(m)
	case *wire.MsgBlock:
		p.handleBlock(m)
	case *wire.MsgMempool:
		p.handleMempool()
	case *wire.MsgPing:
		p.mu.Lock()
		v := p.version
		p.mu.Unlock()
		if v > wire.BIP0031Version {
			p.send(&wire.MsgPong{Nonce: m.Nonce})
		}
	case *wire.MsgPong:
		p.mu.Lock()
		if m.Nonce == p.pingNonce {
			p.pingNonce = 0
		}
		p.mu.Unlock()
	default:
		// alert, cp, the DHT proxy messages, BIP 37 filters and unknown
		// commands are ignored here.
	}
	return nil
}

func (p *peer) handleVersion(v *wire.MsgVersion) error {
	n := p.n
	p.mu.Lock()
	if p.gotVersion {
		p.mu.Unlock()
		p.misbehave(1, "duplicate version")
		return nil
	}
	if v.Version < wire.MinProtocolVersion {
		p.mu.Unlock()
		return fmt.Errorf("obsolete protocol version %d", v.Version)
	}
	if v.Nonce == n.nonce && v.Nonce > 1 {
		p.mu.Unlock()
		return errors.New("connected to self")
	}
	p.version = v.Version
	if p.version == 10300 {
		p.version = 300
	}
	p.services = v.Services
	p.subver = v.SubVersion
	p.startHeight = v.StartHeight
	p.relayTxs = v.Relay
	p.bestHeight = max(p.bestHeight, int64(v.StartHeight))
	if !p.inbound {
		p.getAddrSent = true
	}
	p.mu.Unlock()

	// Our version goes out before the peer counts as ready: an inventory
	// announced to a ready peer (a block just mined) would otherwise
	// precede it, be dropped by the peer as a message before version, and
	// still be remembered here as known to it, so that our answers to its
	// getblocks would leave that block out and its download stall.
	// (Messages are handled one at a time: no second version can arrive
	// meanwhile.)
	if p.inbound {
		p.sendVersion()
	}
	p.mu.Lock()
	p.gotVersion = true
	p.mu.Unlock()
	p.send(&wire.MsgVerack{})
	if !p.inbound {
		p.send(&wire.MsgGetAddr{})
		n.book.good(p.remote, v.Services)
	} else if from := v.AddrFrom.AddrPort(); from.Addr() == p.remote.Addr() && usableAddr(from) {
		n.book.add(from, v.Services, n.now())
		n.book.good(from, v.Services)
	}
	n.addTimeSample(p.remote.Addr(), v.Timestamp-n.now().Unix())
	n.log.Debug("p2p: version", "addr", p.name, "version", v.Version, "subver", v.SubVersion, "height", v.StartHeight)

	// Block download: the sync node, and every peer claiming more blocks.
	n.startSync()
	if int64(v.StartHeight) > n.chain.Tip().Height {
		p.pushGetBlocks(n.chain.Locator(), consensus.Hash{}, false)
	}
	return nil
}

// usableAddr tells whether an address may go into the address book:
// a unicast IP (loopback and private ranges included) with a port.
func usableAddr(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	return ap.IsValid() && ap.Port() != 0 && !a.IsUnspecified() && !a.IsMulticast() &&
		!a.IsLinkLocalUnicast() && !a.IsInterfaceLocalMulticast()
}

func (p *peer) handleAddr(m *wire.MsgAddr) {
	n := p.n
	p.mu.Lock()
	oldVersion := p.version < wire.AddrTimeVersion
	fromGetAddr := p.getAddrSent
	p.mu.Unlock()
	if oldVersion && n.book.size() > 1000 {
		return
	}
	now := n.now().Unix()
	since := now - 10*60
	for _, a := range m.Addrs {
		if a.Time <= 100000000 || int64(a.Time) > now+10*60 {
			a.Time = uint32(now - 5*24*60*60)
		}
		ap := a.AddrPort()
		p.rememberAddr(ap)
		if !usableAddr(ap) {
			continue
		}
		if int64(a.Time) > since && !fromGetAddr && len(m.Addrs) <= 10 {
			n.relayAddr(a, p)
		}
		n.book.addSeen(ap, a.Services, int64(a.Time)-2*60*60)
	}
	if len(m.Addrs) < wire.MaxAddrEntries {
		p.mu.Lock()
		p.getAddrSent = false
		p.mu.Unlock()
	}
}

// rememberAddr notes that the peer knows an address; it reports whether
// the address was new to the peer.
func (p *peer) rememberAddr(ap netip.AddrPort) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.knownAddrs[ap]; ok {
		return false
	}
	if len(p.knownAddrs) >= maxKnownAddrs {
		for k := range p.knownAddrs {
			delete(p.knownAddrs, k)
			break
		}
	}
	p.knownAddrs[ap] = struct{}{}
	return true
}

// relayAddr forwards a freshly announced address to up to two other peers.
func (n *Node) relayAddr(a wire.NetAddress, from *peer) {
	var cands []*peer
	for _, q := range n.snapshot() {
		if q == from || !q.ready() {
			continue
		}
		q.mu.Lock()
		ok := q.version >= wire.AddrTimeVersion
		q.mu.Unlock()
		if ok {
			cands = append(cands, q)
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, q := range cands[:min(2, len(cands))] {
		if q.rememberAddr(a.AddrPort()) {
			q.send(&wire.MsgAddr{Addrs: []wire.NetAddress{a}})
		}
	}
}

func (p *peer) handleGetAddr() {
	var out []wire.NetAddress
	for _, a := range p.n.book.sample(wire.MaxAddrEntries) {
		if p.rememberAddr(a.AddrPort()) {
			out = append(out, a)
		}
	}
	if len(out) > 0 {
		p.send(&wire.MsgAddr{Addrs: out})
	}
}

func (p *peer) handleInv(m *wire.MsgInv) {
	n, c := p.n, p.n.chain
	lastBlock := -1
	for i := len(m.Items) - 1; i >= 0; i-- {
		if m.Items[i].Type == wire.InvTypeBlock {
			lastBlock = i
			break
		}
	}
	now := n.now()
	var ask []wire.InvVect
	for i, inv := range m.Items {
		p.mu.Lock()
		p.known.add(inv)
		p.mu.Unlock()
		h := consensus.Hash(inv.Hash)
		switch inv.Type {
		case wire.InvTypeBlock:
			switch {
			case !c.HaveBlock(h):
				if n.askFor(p, inv) {
					ask = append(ask, inv)
				}
			case c.IsOrphan(h):
				p.pushGetBlocks(c.Locator(), c.OrphanRoot(h), false)
			default:
				if _, height, err := c.HeaderByHash(h); err == nil {
					p.mu.Lock()
					p.bestHeight = max(p.bestHeight, height)
					p.mu.Unlock()
				}
				if i == lastBlock {
					// Perhaps a long side chain whose blocks we already
					// have: ask for what follows the last one.
					p.pushGetBlocks(append([]consensus.Hash{h}, c.Locator()...), consensus.Hash{}, false)
				}
			}
		case wire.InvTypeTx:
			if _, ok := c.MempoolTx(h); ok || n.rejectedTx(h) {
				continue
			}
			if n.askFor(p, inv) {
				ask = append(ask, inv)
			}
		}
	}
	if len(ask) == 0 {
		return
	}
	p.mu.Lock()
	for _, inv := range ask {
		p.inflight[inv] = now
	}
	p.mu.Unlock()
	for len(ask) > 0 {
		k := min(len(ask), maxGetDataPerMsg)
		p.send(&wire.MsgGetData{Items: ask[:k]})
		ask = ask[k:]
	}
}

func (p *peer) handleNotFound(m *wire.MsgNotFound) {
	n := p.n
	n.mu.Lock()
	for _, inv := range m.Items {
		if r, ok := n.requested[inv]; ok && r.p == p {
			delete(n.requested, inv)
		}
	}
	n.mu.Unlock()
	p.mu.Lock()
	for _, inv := range m.Items {
		delete(p.inflight, inv)
	}
	p.mu.Unlock()
}

func toHashes(l []wire.Hash) []consensus.Hash {
	out := make([]consensus.Hash, len(l))
	for i, h := range l {
		out[i] = consensus.Hash(h)
	}
	return out
}

// handleGetBlocks answers with an inv of at most 500 best-chain blocks after
// the locator, stopping before HashStop; when the limit cuts the answer,
// the last id becomes hashContinue: once the peer asks for that block, it
// is sent an inv of our tip, which makes it ask for the next batch.
func (p *peer) handleGetBlocks(m *wire.MsgGetBlocks) {
	stop := consensus.Hash(m.HashStop)
	hashes := p.n.chain.HashesAfter(toHashes(m.Locator), stop, maxGetBlocksInv)
	if k := len(hashes); k > 0 && !stop.IsZero() && hashes[k-1] == stop {
		hashes = hashes[:k-1]
	} else if k == maxGetBlocksInv {
		p.mu.Lock()
		p.hashContinue = hashes[k-1]
		p.mu.Unlock()
	}
	var invs []wire.InvVect
	p.mu.Lock()
	for _, h := range hashes {
		inv := wire.InvVect{Type: wire.InvTypeBlock, Hash: wire.Hash(h)}
		if p.known.add(inv) {
			invs = append(invs, inv)
		}
	}
	p.mu.Unlock()
	if len(invs) > 0 {
		p.send(&wire.MsgInv{Items: invs})
	}
}

// handleGetHeaders answers with at most 2000 headers after the locator,
// up to and including HashStop; an empty locator asks for the HashStop
// block's header alone.
func (p *peer) handleGetHeaders(m *wire.MsgGetHeaders) {
	c := p.n.chain
	stop := consensus.Hash(m.HashStop)
	var hdrs []consensus.Header
	if len(m.Locator) == 0 {
		h, _, err := c.HeaderByHash(stop)
		if err != nil {
			return
		}
		hdrs = []consensus.Header{h}
	} else {
		hdrs = c.HeadersAfter(toHashes(m.Locator), stop, wire.MaxHeaders)
	}
	out := &wire.MsgHeaders{Headers: make([][wire.BlockHeaderSize]byte, len(hdrs))}
	for i := range hdrs {
		out.Headers[i] = hdrs[i].Serialize()
	}
	p.send(out)
}

// handleHeaders takes the answer to our getheaders (sent when a download
// stalled): the blocks it lists that we lack are asked for. Unsolicited
// headers are ignored, as twisterd does.
func (p *peer) handleHeaders(m *wire.MsgHeaders) {
	n, c := p.n, p.n.chain
	p.mu.Lock()
	wanted := p.wantHeaders
	p.wantHeaders = false
	p.mu.Unlock()
	if !wanted {
		return
	}
	var ask []wire.InvVect
	best := int64(-1)
	for i := range m.Headers {
		hdr, err := consensus.DecodeHeader(m.Headers[i][:])
		if err != nil {
			continue
		}
		best = max(best, int64(hdr.Height))
		inv := wire.InvVect{Type: wire.InvTypeBlock, Hash: wire.Hash(hdr.Hash())}
		if !c.HaveBlock(consensus.Hash(inv.Hash)) && n.askFor(p, inv) {
			ask = append(ask, inv)
		}
	}
	now := n.now()
	height := c.Tip().Height // not under p.mu: the chain's lock comes first
	p.mu.Lock()
	if len(ask) == 0 {
		// Nothing new: the peer's claimed height is not on a branch we
		// lack; stop asking.
		p.headersMode = false
		p.bestHeight = min(p.bestHeight, max(best, height))
	}
	for _, inv := range ask {
		p.inflight[inv] = now
	}
	p.mu.Unlock()
	for len(ask) > 0 {
		k := min(len(ask), maxGetDataPerMsg)
		p.send(&wire.MsgGetData{Items: ask[:k]})
		ask = ask[k:]
	}
}

func (p *peer) handleMempool() {
	txs := p.n.chain.MempoolTxs()
	invs := make([]wire.InvVect, 0, min(len(txs), wire.MaxInvEntries))
	for _, tx := range txs {
		if len(invs) == wire.MaxInvEntries {
			break
		}
		invs = append(invs, wire.InvVect{Type: wire.InvTypeTx, Hash: wire.Hash(tx.Hash())})
	}
	if len(invs) > 0 {
		p.send(&wire.MsgInv{Items: invs})
	}
}

// gotObject records the arrival of an object the peer may have been asked
// for.
func (p *peer) gotObject(inv wire.InvVect, block bool) {
	p.n.received(inv)
	p.mu.Lock()
	p.known.add(inv)
	delete(p.inflight, inv)
	if block {
		p.lastBlock = p.n.now()
	}
	p.mu.Unlock()
}

func (p *peer) handleTx(m *wire.MsgTx) {
	n := p.n
	tx, _, err := consensus.DecodeTxPrefix(m.Raw)
	if err != nil {
		p.misbehave(10, fmt.Sprintf("undecodable tx: %v", err))
		return
	}
	h := tx.Hash()
	p.gotObject(wire.InvVect{Type: wire.InvTypeTx, Hash: wire.Hash(h)}, false)
	err = n.chain.AcceptTx(tx)
	if err == nil {
		n.log.Debug("p2p: accepted tx", "tx", h, "user", tx.Username(), "from", p.name)
		n.relayTx(h, tx.Bytes(), p)
		if n.cfg.OnTxAccepted != nil {
			n.cfg.OnTxAccepted(tx)
		}
		return
	}
	if errors.Is(err, consensus.ReasonDuplicateTx) {
		return // already pooled
	}
	n.rememberRejected(h)
	n.log.Debug("p2p: refused tx", "tx", h, "from", p.name, "err", err)
	p.misbehave(txScore(tx, err), fmt.Sprintf("tx %s: %v", h, err))
}

func (p *peer) handleBlock(m *wire.MsgBlock) {
	n, c := p.n, p.n.chain
	b, _, err := consensus.DecodeBlockPrefix(m.Raw)
	if err != nil {
		p.misbehave(10, fmt.Sprintf("undecodable block: %v", err))
		return
	}
	h := b.Hash()
	p.gotObject(wire.InvVect{Type: wire.InvTypeBlock, Hash: wire.Hash(h)}, true)
	orphan, err := c.ProcessBlock(b)
	if err != nil {
		if errors.Is(err, consensus.ReasonDuplicateBlock) {
			return
		}
		n.log.Info("p2p: refused block", "block", h, "from", p.name, "err", err)
		p.misbehave(blockScore(err), fmt.Sprintf("block %s: %v", h, err))
		return
	}
	p.mu.Lock()
	p.bestHeight = max(p.bestHeight, int64(b.Header.Height))
	p.mu.Unlock()
	if orphan {
		p.pushGetBlocks(c.Locator(), c.OrphanRoot(h), false)
	}
}

// serveGetData sends the requested objects (ProcessGetData): blocks from
// the store (followed by an inv of our tip when the block is the peer's
// hashContinue), transactions from the relay memory or the memory pool,
// and a notfound listing the transactions we lack. Unknown blocks get no
// answer, as in twisterd.
func (p *peer) serveGetData(items []wire.InvVect) {
	n, c := p.n, p.n.chain
	var notFound []wire.InvVect
	for _, inv := range items {
		h := consensus.Hash(inv.Hash)
		switch inv.Type {
		case wire.InvTypeBlock, wire.InvTypeFilteredBlock:
			raw, err := c.RawBlock(h)
			if err != nil {
				continue
			}
			if inv.Type == wire.InvTypeBlock {
				p.send(&wire.MsgBlock{Raw: raw})
			}
			p.mu.Lock()
			cont := !p.hashContinue.IsZero() && h == p.hashContinue
			if cont {
				p.hashContinue = consensus.Hash{}
			}
			p.mu.Unlock()
			if cont {
				tip := c.Tip().Hash
				p.send(&wire.MsgInv{Items: []wire.InvVect{{Type: wire.InvTypeBlock, Hash: wire.Hash(tip)}}})
			}
		case wire.InvTypeTx:
			if raw, ok := n.lookupTx(h); ok {
				p.send(&wire.MsgTx{Raw: raw})
			} else {
				notFound = append(notFound, inv)
			}
		}
	}
	if len(notFound) > 0 {
		p.send(&wire.MsgNotFound{Items: notFound})
	}
}

// blockScore is the misbehaviour score of a refused block, after the DoS
// values of twisterd's CheckBlock/AcceptBlock/ConnectBlock. Refusals that
// an honest peer can cause (duplicates, clock differences) score nothing.
func blockScore(err error) int {
	switch consensus.ReasonOf(err) {
	case "", consensus.ReasonDuplicateBlock, consensus.ReasonTimeTooNew, consensus.ReasonTimeTooOld,
		consensus.ReasonBadVersion, consensus.ReasonMissingAncestor, consensus.ReasonNonStandard:
		return 0
	case consensus.ReasonBadBlockPoW, consensus.ReasonBadTxPoW:
		return 50
	case consensus.ReasonBadUsername, consensus.ReasonBadTx:
		return 10
	default:
		return 100
	}
}

// txScore is the misbehaviour score of a refused loose transaction
// (CTxMemPool::accept's DoS values): malformed or PoW-less registrations
// and loose coinbases are punished, policy and duplicate-name refusals are
// not.
func txScore(tx *consensus.Tx, err error) int {
	r := consensus.ReasonOf(err)
	switch {
	case tx.IsCoinbase() && (r == consensus.ReasonNonStandard || r == consensus.ReasonBadCoinbase):
		return 100
	case r == consensus.ReasonBadCoinbase || r == consensus.ReasonTxTooBig:
		return 100
	case r == consensus.ReasonBadTxPoW:
		return 50
	case r == consensus.ReasonBadUsername || r == consensus.ReasonBadTx:
		return 10
	}
	return 0
}
