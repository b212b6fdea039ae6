package webnode

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/gotwister/twister/resource"
)

// rtcPrefix starts the swarm address of a browser peer reached over
// WebRTC: "webrtc/<its signaling peer id>".
const rtcPrefix = "webrtc/"

// Data channel framing and buffering.
const (
	// dcMaxMessage is the largest data channel message sent: larger
	// writes are split (16 KiB is what every browser accepts).
	dcMaxMessage = 16 << 10
	// dcHighWater: a write waits while more than this is queued in the
	// channel; it resumes at dcLowWater.
	dcHighWater = 1 << 20
	dcLowWater  = 256 << 10
	// dcMaxUnread: a peer that makes us buffer more unread bytes than this
	// is dropped (the swarm reads promptly; its own limits are smaller).
	dcMaxUnread = 8 << 20
)

// rtcManager runs the node's WebRTC transport: one signaling connection
// (reconnected with back-off), a room per swarm the node runs (the room is
// the swarm's info-hash in hex), at most one RTCPeerConnection per remote
// browser, and one ordered reliable data channel per swarm connection.
//
// Who connects: as the signaling protocol says, the newcomer. Joining a
// room lists its members; each is added to that user's swarm as a peer
// "webrtc/<id>", and the swarm dials it: the dial creates the peer
// connection if there is none (with its first data channel, then the
// offer; answers and trickled candidates come back through the room), or
// opens one more data channel on the existing one. The side that did not
// dial gets the channel in OnDataChannel and hands it to the swarm as an
// incoming connection; the swarm handshake says which torrent it is for.
// Two offers crossing (glare) are settled by peer id: the lower id's offer
// wins. ICE that does not connect within the timeout closes the attempt.
type rtcManager struct {
	n          *Node
	url        string
	opts       rtcOptions
	iceTimeout time.Duration
	accept     func(net.Conn) bool
	stats      transportStats

	mu        sync.Mutex
	sig       *sigClient
	state     string                     // signaling: "connecting", "connected", "disconnected"
	rooms     map[string]string          // room → user
	peerRooms map[string]map[string]bool // remote peer → our rooms it is in
	peers     map[string]*rtcConnState   // remote peer → its peer connection
	closed    bool
	done      chan struct{}
}

func newRTCManager(n *Node, url string, o rtcOptions, iceTimeout time.Duration, accept func(net.Conn) bool) *rtcManager {
	return &rtcManager{n: n, url: url, opts: o, iceTimeout: iceTimeout, accept: accept, state: "connecting",
		rooms: map[string]string{}, peerRooms: map[string]map[string]bool{}, peers: map[string]*rtcConnState{},
		done: make(chan struct{})}
}

func roomOf(user string) string {
	ih := resource.InfoHash(user)
	return hex.EncodeToString(ih[:])
}

// run keeps a signaling connection until close.
func (m *rtcManager) run() {
	backoff := time.Second
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return
		}
		m.state = "connecting"
		m.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		sig, err := dialSignaling(ctx, m.url)
		cancel()
		if err == nil {
			backoff = time.Second
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				sig.close()
				return
			}
			m.sig, m.state = sig, "connected"
			rooms := make([]string, 0, len(m.rooms))
			for r := range m.rooms {
				rooms = append(rooms, r)
			}
			m.mu.Unlock()
			m.n.log.Debug("webnode: signaling connected", "url", m.url, "id", sig.id)
			for _, r := range rooms {
				go m.join(sig, r)
			}
			err = sig.run(m.handle)
			m.mu.Lock()
			m.sig = nil
			m.peerRooms = map[string]map[string]bool{}
			m.mu.Unlock()
		}
		m.mu.Lock()
		m.state = "disconnected"
		m.mu.Unlock()
		m.n.log.Debug("webnode: signaling disconnected", "url", m.url, "err", err)
		select {
		case <-m.done:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (m *rtcManager) close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.done)
	sig := m.sig
	peers := m.peers
	m.peers = map[string]*rtcConnState{}
	m.mu.Unlock()
	if sig != nil {
		sig.close()
	}
	for _, st := range peers {
		st.kill(errors.New("node closed"))
	}
}

// addRoom joins user's swarm room (now if signaling is connected, else on
// connect).
func (m *rtcManager) addRoom(user string) {
	r := roomOf(user)
	m.mu.Lock()
	if _, ok := m.rooms[r]; ok {
		m.mu.Unlock()
		return
	}
	m.rooms[r] = user
	sig := m.sig
	m.mu.Unlock()
	if sig != nil {
		go m.join(sig, r)
	}
}

// removeRoom leaves user's room; peer connections to browsers met only
// there are closed.
func (m *rtcManager) removeRoom(user string) {
	r := roomOf(user)
	m.mu.Lock()
	delete(m.rooms, r)
	sig := m.sig
	var gone []*rtcConnState
	for p, rs := range m.peerRooms {
		delete(rs, r)
		if len(rs) == 0 {
			delete(m.peerRooms, p)
			if st := m.peers[p]; st != nil {
				gone = append(gone, st)
			}
		}
	}
	m.mu.Unlock()
	if sig != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sig.send(ctx, sigFrame{Type: "leave", Swarm: r})
		}()
	}
	for _, st := range gone {
		st.kill(errors.New("no shared swarm left"))
	}
}

func (m *rtcManager) join(sig *sigClient, room string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	peers, err := sig.join(ctx, room)
	if err != nil {
		m.n.log.Debug("webnode: signaling join failed", "room", room, "err", err)
		return
	}
	m.mu.Lock()
	user, ok := m.rooms[room]
	for _, p := range peers {
		m.notePeerLocked(p, room)
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	for _, p := range peers {
		if err := m.n.sw.AddPeer(user, rtcPrefix+p); err != nil {
			m.n.log.Debug("webnode: adding WebRTC peer", "user", user, "peer", p, "err", err)
		}
	}
}

func (m *rtcManager) notePeerLocked(peer, room string) {
	if _, ok := m.rooms[room]; !ok || !validRTCPeer(peer) {
		return
	}
	rs := m.peerRooms[peer]
	if rs == nil {
		rs = map[string]bool{}
		m.peerRooms[peer] = rs
	}
	rs[room] = true
}

func validRTCPeer(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// roomWith returns one of our rooms peer is in, or "".
func (m *rtcManager) roomWithLocked(peer string) string {
	var rs []string
	for r := range m.peerRooms[peer] {
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return ""
	}
	sort.Strings(rs)
	return rs[0]
}

// handle processes one frame from the signaling server (in order).
func (m *rtcManager) handle(f sigFrame) {
	switch f.Type {
	case "joined":
		m.mu.Lock()
		m.notePeerLocked(f.Peer, f.Swarm)
		m.mu.Unlock()
	case "left":
		m.mu.Lock()
		var st *rtcConnState
		if rs := m.peerRooms[f.Peer]; rs != nil {
			delete(rs, f.Swarm)
			if len(rs) == 0 {
				delete(m.peerRooms, f.Peer)
				st = m.peers[f.Peer]
			}
		}
		m.mu.Unlock()
		if st != nil {
			st.kill(errors.New("peer left"))
		}
	case "signal":
		if !validRTCPeer(f.From) {
			return
		}
		m.mu.Lock()
		m.notePeerLocked(f.From, f.Swarm)
		m.mu.Unlock()
		if err := m.signal(f); err != nil {
			m.n.log.Debug("webnode: WebRTC signal failed", "from", f.From, "kind", f.Kind, "err", err)
		}
	case "error":
		m.n.log.Debug("webnode: signaling error", "code", f.Code, "message", f.Message, "to", f.To)
		if f.Code == "unknown-peer" || f.Code == "not-in-swarm" {
			m.mu.Lock()
			st := m.peers[f.To]
			m.mu.Unlock()
			if st != nil && !st.isConnected() {
				st.kill(fmt.Errorf("signaling: %s", f.Code))
			}
		}
	}
}

func (m *rtcManager) myID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sig == nil {
		return ""
	}
	return m.sig.id
}

func (m *rtcManager) signal(f sigFrame) error {
	switch f.Kind {
	case "offer":
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		old := m.peers[f.From]
		if old != nil && old.offerer && !old.hasRemote() && m.sig != nil && m.sig.id < f.From {
			m.mu.Unlock()
			return nil // glare: our own offer wins; theirs is dropped
		}
		st, err := m.newConnState(f.From, false, f.Swarm)
		if err != nil {
			m.mu.Unlock()
			return err
		}
		m.mu.Unlock()
		if old != nil {
			old.kill(errors.New("replaced by a new offer"))
		}
		answer, err := st.pc.Answer(f.SDP)
		if err != nil {
			st.kill(err)
			return fmt.Errorf("answering: %w", err)
		}
		st.remoteApplied()
		return st.sendSDP("answer", answer)
	case "answer":
		m.mu.Lock()
		st := m.peers[f.From]
		m.mu.Unlock()
		if st == nil || !st.offerer || st.hasRemote() {
			return nil
		}
		if err := st.pc.SetAnswer(f.SDP); err != nil {
			st.kill(err)
			return fmt.Errorf("applying the answer: %w", err)
		}
		st.remoteApplied()
	case "candidate":
		m.mu.Lock()
		st := m.peers[f.From]
		m.mu.Unlock()
		if st != nil {
			st.remoteCandidate(f.Candidate)
		}
	}
	return nil
}

// dial opens a data channel to peer for the swarm (the swarm's Dialer).
func (m *rtcManager) dial(ctx context.Context, peer string) (net.Conn, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	st := m.peers[peer]
	created := false
	if st == nil {
		room := m.roomWithLocked(peer)
		if room == "" || m.sig == nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("webnode: WebRTC peer %s is in none of our signaling rooms", peer)
		}
		var err error
		if st, err = m.newConnState(peer, true, room); err != nil {
			m.mu.Unlock()
			return nil, err
		}
		created = true
	}
	m.mu.Unlock()
	ch, err := st.pc.CreateDataChannel("twister")
	if err != nil {
		if created {
			st.kill(err)
		}
		return nil, fmt.Errorf("webnode: WebRTC data channel to %s: %w", peer, err)
	}
	c := newDCConn(ch, st)
	if created {
		offer, err := st.pc.Offer()
		if err == nil {
			err = st.sendSDP("offer", offer)
		}
		if err != nil {
			st.kill(err)
			return nil, fmt.Errorf("webnode: WebRTC offer to %s: %w", peer, err)
		}
	}
	select {
	case <-c.opened:
		return c, nil
	case <-c.closed:
		return nil, fmt.Errorf("webnode: WebRTC data channel to %s closed: %w", peer, c.why())
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("webnode: WebRTC dial %s: %w", peer, ctx.Err())
	}
}

// newConnState makes the peer connection state for peer and registers it
// (m.mu held).
func (m *rtcManager) newConnState(peer string, offerer bool, room string) (*rtcConnState, error) {
	pc, err := newRTCPeer(m.opts)
	if err != nil {
		return nil, fmt.Errorf("webnode: new RTCPeerConnection: %w", err)
	}
	st := &rtcConnState{m: m, id: peer, pc: pc, offerer: offerer, room: room,
		connected: make(chan struct{}), dead: make(chan struct{}), conns: map[*dcConn]struct{}{}}
	pc.OnCandidate(st.localCandidate)
	pc.OnState(st.onState)
	pc.OnDataChannel(func(ch rtcChannel) {
		c := newDCConn(ch, st)
		go func() {
			select {
			case <-c.opened:
				if !m.accept(c) {
					c.Close()
				}
			case <-c.closed:
			}
		}()
	})
	m.peers[peer] = st
	time.AfterFunc(m.iceTimeout, func() {
		if !st.isConnected() {
			st.kill(fmt.Errorf("ICE did not connect within %v", m.iceTimeout))
		}
	})
	return st, nil
}

// rtcConnState is one RTCPeerConnection to a remote browser.
type rtcConnState struct {
	m       *rtcManager
	id      string
	pc      rtcPeer
	offerer bool

	mu        sync.Mutex
	room      string
	sdpSent   bool
	outCands  []json.RawMessage // local candidates held until our SDP is out
	remoteSet bool
	inCands   []json.RawMessage // remote candidates held until the remote SDP is applied
	conns     map[*dcConn]struct{}
	isUp      bool
	connected chan struct{}
	dead      chan struct{}
	deadErr   error
}

func (st *rtcConnState) isConnected() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.isUp
}

func (st *rtcConnState) hasRemote() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.remoteSet
}

func (st *rtcConnState) onState(s string) {
	switch s {
	case "connected":
		st.mu.Lock()
		if !st.isUp && st.deadErr == nil {
			st.isUp = true
			close(st.connected)
		}
		st.mu.Unlock()
	case "failed", "closed":
		go st.kill(fmt.Errorf("peer connection %s", s))
	}
}

// sendSDP sends our offer or answer, then the candidates gathered so far.
func (st *rtcConnState) sendSDP(kind, sdp string) error {
	sig := st.sigClient()
	if sig == nil {
		return errors.New("signaling is not connected")
	}
	st.mu.Lock()
	room := st.room
	st.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sig.send(ctx, sigFrame{Type: "signal", Swarm: room, To: st.id, Kind: kind, SDP: sdp}); err != nil {
		return err
	}
	st.mu.Lock()
	st.sdpSent = true
	cands := st.outCands
	st.outCands = nil
	st.mu.Unlock()
	for _, c := range cands {
		st.sendCandidate(sig, c)
	}
	return nil
}

func (st *rtcConnState) sigClient() *sigClient {
	st.m.mu.Lock()
	defer st.m.mu.Unlock()
	return st.m.sig
}

func (st *rtcConnState) localCandidate(c json.RawMessage) {
	if c == nil {
		return // gathering complete: trickle needs no end marker
	}
	st.mu.Lock()
	if !st.sdpSent {
		st.outCands = append(st.outCands, c)
		st.mu.Unlock()
		return
	}
	st.mu.Unlock()
	if sig := st.sigClient(); sig != nil {
		go st.sendCandidate(sig, c)
	}
}

func (st *rtcConnState) sendCandidate(sig *sigClient, c json.RawMessage) {
	st.mu.Lock()
	room := st.room
	st.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sig.send(ctx, sigFrame{Type: "signal", Swarm: room, To: st.id, Kind: "candidate", Candidate: c}); err != nil {
		st.m.n.log.Debug("webnode: sending ICE candidate", "to", st.id, "err", err)
	}
}

func (st *rtcConnState) remoteApplied() {
	st.mu.Lock()
	st.remoteSet = true
	cands := st.inCands
	st.inCands = nil
	st.mu.Unlock()
	for _, c := range cands {
		if err := st.pc.AddCandidate(c); err != nil {
			st.m.n.log.Debug("webnode: adding ICE candidate", "from", st.id, "err", err)
		}
	}
}

func (st *rtcConnState) remoteCandidate(c json.RawMessage) {
	st.mu.Lock()
	if !st.remoteSet {
		if len(st.inCands) < 64 {
			st.inCands = append(st.inCands, c)
		}
		st.mu.Unlock()
		return
	}
	st.mu.Unlock()
	if err := st.pc.AddCandidate(c); err != nil {
		st.m.n.log.Debug("webnode: adding ICE candidate", "from", st.id, "err", err)
	}
}

// kill closes the peer connection and its channels (once).
func (st *rtcConnState) kill(err error) {
	st.mu.Lock()
	if st.deadErr != nil {
		st.mu.Unlock()
		return
	}
	st.deadErr = err
	close(st.dead)
	conns := st.conns
	st.conns = nil
	st.mu.Unlock()
	st.m.mu.Lock()
	if st.m.peers[st.id] == st {
		delete(st.m.peers, st.id)
	}
	st.m.mu.Unlock()
	st.m.n.log.Debug("webnode: WebRTC peer connection closed", "peer", st.id, "err", err)
	for c := range conns {
		c.end(err)
	}
	st.pc.Close()
}

func (st *rtcConnState) addConn(c *dcConn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.deadErr != nil {
		return false
	}
	st.conns[c] = struct{}{}
	return true
}

func (st *rtcConnState) dropConn(c *dcConn) {
	st.mu.Lock()
	delete(st.conns, c)
	st.mu.Unlock()
}

// rtcAddr is the address of a WebRTC peer: "webrtc/<peer id>".
type rtcAddr string

func (a rtcAddr) Network() string { return "webrtc" }
func (a rtcAddr) String() string  { return rtcPrefix + string(a) }

// dcConn is a data channel as a net.Conn: writes are split into messages
// of at most 16 KiB and wait while the channel's buffer is over
// dcHighWater; received messages are appended to a buffer that Read
// drains.
type dcConn struct {
	ch     rtcChannel
	st     *rtcConnState
	stats  *transportStats
	rdl    *deadline
	wdl    *deadline
	opened chan struct{}
	closed chan struct{}
	low    chan struct{}
	rd     chan struct{}

	mu       sync.Mutex
	buf      []byte
	isOpen   bool
	err      error
	counted  bool
	writeMu  sync.Mutex
	closeErr error
}

func newDCConn(ch rtcChannel, st *rtcConnState) *dcConn {
	c := &dcConn{ch: ch, st: st, stats: &st.m.stats, rdl: newDeadline(), wdl: newDeadline(),
		opened: make(chan struct{}), closed: make(chan struct{}), low: make(chan struct{}, 1), rd: make(chan struct{}, 1)}
	if !st.addConn(c) {
		c.end(errors.New("peer connection closed"))
		ch.Close()
		return c
	}
	ch.SetBufferedAmountLowThreshold(dcLowWater)
	ch.OnBufferedAmountLow(func() {
		select {
		case c.low <- struct{}{}:
		default:
		}
	})
	ch.OnOpen(func() {
		c.mu.Lock()
		if !c.isOpen && c.err == nil {
			c.isOpen = true
			c.counted = true
			c.stats.open.Add(1)
			c.stats.opened.Add(1)
			close(c.opened)
		}
		c.mu.Unlock()
	})
	ch.OnClose(func() { c.end(io.EOF) })
	ch.OnMessage(func(b []byte) {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		if len(c.buf)+len(b) > dcMaxUnread {
			c.mu.Unlock()
			c.end(fmt.Errorf("webnode: WebRTC peer %s sent more than %d unread bytes", st.id, dcMaxUnread))
			go ch.Close()
			return
		}
		c.buf = append(c.buf, b...)
		c.mu.Unlock()
		c.stats.bytesIn.Add(uint64(len(b)))
		select {
		case c.rd <- struct{}{}:
		default:
		}
	})
	return c
}

// end marks the connection finished with err (once).
func (c *dcConn) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.counted {
		c.stats.open.Add(-1)
	}
	close(c.closed)
	c.mu.Unlock()
	c.st.dropConn(c)
}

func (c *dcConn) why() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Read implements net.Conn.
func (c *dcConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.buf) > 0 {
			n := copy(p, c.buf)
			c.buf = c.buf[n:]
			if len(c.buf) == 0 {
				c.buf = nil
			}
			c.mu.Unlock()
			return n, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return 0, err
			}
			return 0, io.EOF
		}
		select {
		case <-c.rd:
		case <-c.closed:
		case <-c.rdl.done():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// Write implements net.Conn.
func (c *dcConn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	n := 0
	for n < len(p) {
		for c.ch.BufferedAmount() > dcHighWater {
			t := time.NewTimer(50 * time.Millisecond) // a lost event only costs a look
			select {
			case <-c.low:
			case <-t.C:
			case <-c.closed:
			case <-c.wdl.done():
				t.Stop()
				return n, os.ErrDeadlineExceeded
			}
			t.Stop()
			if c.why() != nil {
				break
			}
		}
		if err := c.why(); err != nil {
			return n, net.ErrClosed
		}
		select {
		case <-c.wdl.done():
			return n, os.ErrDeadlineExceeded
		default:
		}
		m := min(len(p)-n, dcMaxMessage)
		if err := c.ch.Send(p[n : n+m]); err != nil {
			return n, err
		}
		c.stats.bytesOu.Add(uint64(m))
		n += m
	}
	return n, nil
}

// Close implements net.Conn.
func (c *dcConn) Close() error {
	c.end(net.ErrClosed)
	return c.ch.Close()
}

func (c *dcConn) LocalAddr() net.Addr  { return rtcAddr("local") }
func (c *dcConn) RemoteAddr() net.Addr { return rtcAddr(c.st.id) }

func (c *dcConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}
func (c *dcConn) SetReadDeadline(t time.Time) error  { c.rdl.set(t); return nil }
func (c *dcConn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// WebRTCStatus is the state of the WebRTC transport.
type WebRTCStatus struct {
	Signaling       string `json:"signaling"`       // "connecting", "connected", "disconnected"
	PeerID          string `json:"peerId"`          // our id at the signaling server
	Rooms           int    `json:"rooms"`           // swarm rooms we are in
	PeerConnections int    `json:"peerConnections"` // connected RTCPeerConnections
}

func (m *rtcManager) status() *WebRTCStatus {
	m.mu.Lock()
	s := &WebRTCStatus{Signaling: m.state, Rooms: len(m.rooms)}
	if m.sig != nil {
		s.PeerID = m.sig.id
	}
	peers := make([]*rtcConnState, 0, len(m.peers))
	for _, st := range m.peers {
		peers = append(peers, st)
	}
	m.mu.Unlock()
	for _, st := range peers {
		if st.isConnected() {
			s.PeerConnections++
		}
	}
	return s
}
