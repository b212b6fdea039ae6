package swarm_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/wire"
)

// recordedSeq returns the handshake and the frames (with length prefix) of
// a message sequence a real twisterd sent.
func recordedSeq(t *testing.T, name string) ([]byte, [][]byte) {
	t.Helper()
	seq := vectors.Path(vectors.Verified(), "swarm", name).([]any)
	var hs []byte
	var frames [][]byte
	for _, e := range seq {
		pair := e.([]any)
		b, err := hex.DecodeString(pair[1].(string))
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := pair[0].(string); ok && s == "handshake" {
			hs = b
			continue
		}
		frames = append(frames, append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
	}
	return hs, frames
}

// gotest2Validator verifies posts of gotest2 (the daemon-signed pieces in
// the recording) with gotest2's real public key.
func gotest2Validator(t *testing.T) (func(string, int64, []byte) error, func(string, int64) bool) {
	pub, err := keys.ParsePubKeyHex(vectors.Str(vectors.Verified(), "_about", "keys", "gotest2", "pubkey"))
	if err != nil {
		t.Fatal(err)
	}
	v := &testValidator{keys: map[string]keys.PubKey{"gotest2": pub}, limit: 20}
	return v.validate, v.validPostNumber
}

func newGotest2Node(t *testing.T, ip string) (*swarm.Swarm, string, chan int64) {
	validate, validNum := gotest2Validator(t)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := swarm.New(swarm.Config{Listener: ln, Store: swarm.NewMemStore(), Validate: validate, ValidPostNumber: validNum, DHTPort: 4242})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int64, 10)
	s.OnPost(func(user string, k int64, _ []byte) { got <- k })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ln.Addr().String(), got
}

// readUntil reads frames from r until one with id arrives, returning all read.
func readUntil(t *testing.T, r io.Reader, want func(wire.Message) bool) []wire.Message {
	t.Helper()
	var seen []wire.Message
	for {
		m, err := wire.ReadMessage(r, wire.Limits{})
		if err != nil {
			t.Fatalf("reading from our node after %v: %v", seen, err)
		}
		seen = append(seen, m)
		if want(m) {
			return seen
		}
	}
}

// TestReplayTwisterdServer: our node dials a scripted peer that replays
// what twisterd D sent to E (handshake, extension handshake, bitfield,
// allowed_fast, dht_port, hashcash_nbits, unchoke, the two daemon-signed
// pieces of gotest2, choke, dht_port). Our node must understand all of it,
// request posts 1 and 2 as (k, 0, 16384) after saying interested, validate
// and store the real pieces, and stay connected.
func TestReplayTwisterdServer(t *testing.T) {
	s, _, got := newGotest2Node(t, "127.0.2.1")
	hsD, framesD := recordedSeq(t, "message_sequence_D_to_E")
	ln, err := net.Listen("tcp", "127.0.2.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.AddPeer("gotest2", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs, err := wire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	if hs.Reserved != wire.DefaultReserved || hs.InfoHash != resource.InfoHash("gotest2") || string(hs.PeerID[:8]) != wire.PeerIDPrefix {
		t.Errorf("our handshake: %+v", hs)
	}
	if _, err := c.Write(hsD); err != nil {
		t.Fatal(err)
	}
	var pieces [][]byte
	for _, f := range framesD {
		if f[4] == byte(wire.Piece) {
			pieces = append(pieces, f)
			continue
		}
		if f[4] == byte(wire.Choke) {
			break
		}
		if _, err := c.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(c)
	// What we send first: extension handshake, have_none (nothing held),
	// dht_port, hashcash_nbits; then interested and the two requests.
	requests := map[uint32]bool{}
	var seen []wire.Message
	for len(requests) < 2 {
		seen = append(seen, readUntil(t, br, func(m wire.Message) bool { return m.ID == wire.Request })...)
		r := seen[len(seen)-1]
		if r.Begin != 0 || r.Length != wire.BlockSize {
			t.Errorf("request %v is not (k, 0, 16384)", r)
		}
		requests[r.Index] = true
	}
	if !requests[1] || !requests[2] {
		t.Errorf("requests %v, want posts 1 and 2", requests)
	}
	if seen[0].ID != wire.Extended || seen[0].ExtID != 0 {
		t.Fatalf("first message %v, want the extension handshake", seen[0])
	}
	eh, err := wire.ParseExtHandshake(seen[0].Payload)
	if err != nil || eh.ReqQ != 250 || !strings.HasPrefix(eh.Version, "gotwister/") || eh.YourIP.String() != "127.0.2.2" {
		t.Errorf("our extension handshake %+v %v", eh, err)
	}
	ids := []wire.ID{}
	for _, m := range seen {
		ids = append(ids, m.ID)
	}
	idx := func(id wire.ID) int {
		for i, x := range ids {
			if x == id {
				return i
			}
		}
		return -1
	}
	if idx(wire.HaveNone) != 1 || idx(wire.DHTPort) < 0 || idx(wire.HashcashNBits) < 0 || idx(wire.Interested) < 0 || idx(wire.Interested) > idx(wire.Request) {
		t.Errorf("our opening sequence %v", ids)
	}
	// Answer with the recorded pieces, then the rest of D's sequence.
	for _, p := range pieces {
		c.Write(p)
	}
	seenKs := map[int64]bool{}
	for len(seenKs) < 2 {
		select {
		case k := <-got:
			seenKs[k] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("pieces not accepted; got %v; stats %+v", seenKs, s.Stats())
		}
	}
	for _, f := range framesD[len(framesD)-2:] { // choke, dht_port
		c.Write(f)
	}
	for i, p := range pieces {
		d, ok := s.Post("gotest2", int64(i+1))
		if !ok || !bytes.Equal(d, p[13:]) {
			t.Errorf("stored post %d differs from the recorded piece", i+1)
		}
	}
	waitFor(t, 5*time.Second, "peer state", func() bool {
		ps := s.Peers("gotest2")
		return len(ps) == 1 && ps[0].PeerChoking && ps[0].DHTPort == 19451
	})
	ps := s.Peers("gotest2")
	if ps[0].Client != "twisterd/v0.9.40.0-ga3a926e3-beta" || string(ps[0].PeerID[:8]) != "-TW1000-" {
		t.Errorf("peer info %+v", ps[0])
	}
	if st := s.Stats(); st.Penalties != 0 || st.PiecesReceived != 2 || s.LastHave("gotest2") != 2 || s.NumPieces("gotest2") != 8 {
		t.Errorf("stats %+v, LastHave %d, NumPieces %d", st, s.LastHave("gotest2"), s.NumPieces("gotest2"))
	}
}

// TestReplayTwisterdClient: a scripted peer replays what twisterd E sent to
// D (have_none, allowed_fast, dht_port, hashcash_nbits, interested,
// requests for 1 and 2, haves). Our node holds the two recorded posts and
// must answer with piece frames byte-identical to the ones twisterd sent.
func TestReplayTwisterdClient(t *testing.T) {
	s, addr, _ := newGotest2Node(t, "127.0.2.3")
	_, framesD := recordedSeq(t, "message_sequence_D_to_E")
	hsE, framesE := recordedSeq(t, "message_sequence_E_to_D")
	var want [][]byte
	for _, f := range framesD {
		if f[4] == byte(wire.Piece) {
			want = append(want, f)
			k := int64(binary.BigEndian.Uint32(f[5:]))
			if err := s.AddPost("gotest2", k, f[13:]); err != nil {
				t.Fatalf("recorded post %d: %v", k, err)
			}
		}
	}
	c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.2.4")}}).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(hsE)
	if _, err := wire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	opening := readUntil(t, br, func(m wire.Message) bool { return m.ID == wire.Unchoke })
	var bf *wire.Message
	for i := range opening {
		if opening[i].ID == wire.Bitfield {
			bf = &opening[i]
		}
	}
	// Posts 1 and 2 held, 4 pieces (k+2): bitfield 0110 0000.
	if bf == nil || !bytes.Equal(bf.Payload, []byte{0x60}) {
		t.Errorf("bitfield %v in %v, want 60 (the same bits twisterd D sent)", bf, opening)
	}
	for _, f := range framesE {
		if f[4] == byte(wire.Have) || f[4] == byte(wire.NotInterested) {
			continue
		}
		c.Write(f)
	}
	var pieces [][]byte
	for len(pieces) < 2 {
		m := readUntil(t, br, func(m wire.Message) bool { return m.ID == wire.Piece })
		pieces = append(pieces, wire.AppendMessage(nil, m[len(m)-1]))
	}
	for i := range want {
		if !bytes.Equal(pieces[i], want[i]) {
			t.Errorf("piece %d frame differs from twisterd's:\n%x\n%x", i+1, pieces[i], want[i])
		}
	}
	for _, f := range framesE {
		if f[4] == byte(wire.Have) || f[4] == byte(wire.NotInterested) {
			c.Write(f)
		}
	}
	waitFor(t, 5*time.Second, "haves processed", func() bool {
		ps := s.Peers("gotest2")
		return len(ps) == 1 && ps[0].Pieces == 2 && !ps[0].PeerInterested
	})
	if st := s.Stats(); st.PiecesSent != 2 || st.Penalties != 0 {
		t.Errorf("stats %+v", st)
	}
}

// rawPeer is a hand-scripted peer dialing a node from its own IP address.
type rawPeer struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, from, to, user string) *rawPeer {
	t.Helper()
	c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	id := wire.NewPeerID()
	copy(id[:], "-XX0000-")
	if err := wire.WriteHandshake(c, wire.Handshake{Reserved: wire.DefaultReserved, InfoHash: resource.InfoHash(user), PeerID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	return &rawPeer{c: c, br: bufio.NewReader(c)}
}

func (r *rawPeer) send(t *testing.T, ms ...wire.Message) {
	for _, m := range ms {
		if err := wire.WriteMessage(r.c, m); err != nil {
			t.Fatal(err)
		}
	}
}

// expectClosed reads until the node closes the connection.
func (r *rawPeer) expectClosed(t *testing.T) {
	t.Helper()
	for {
		if _, err := wire.ReadMessage(r.br, wire.Limits{}); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset") {
				return
			}
			t.Fatalf("expected the node to close the connection, got %v", err)
		}
	}
}

func TestPenalties(t *testing.T) {
	const user = "author"
	key := testKey(user)
	n := newNode(t, "127.0.5.1", nodeOpts{users: []string{user}, limit: 50})
	for k := int64(0); k < 3; k++ {
		if err := n.AddPost(user, k, signPost(key, user, k, "ok")); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("over-limit have", func(t *testing.T) {
		r := dialRaw(t, "127.0.5.2", n.addr, user)
		r.send(t, wire.MsgSimple(wire.HaveNone), wire.MsgHave(10))
		time.Sleep(50 * time.Millisecond)
		if ps := n.Peers(user); len(ps) != 1 {
			t.Fatalf("honest have(10) dropped the peer: %v", ps)
		}
		r.send(t, wire.MsgHave(51)) // limit is 50
		r.expectClosed(t)
		if !n.Banned("127.0.5.2") || n.Stats().Penalties != 1 {
			t.Errorf("peer not banned: %+v", n.Stats())
		}
		// A banned host cannot come back.
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.5.2")}}).Dial("tcp", n.addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			wire.WriteHandshake(c, wire.Handshake{InfoHash: resource.InfoHash(user)})
			if _, err := wire.ReadHandshake(c); err == nil {
				t.Error("banned host completed a handshake")
			}
			c.Close()
		}
	})

	t.Run("over-limit bitfield", func(t *testing.T) {
		r := dialRaw(t, "127.0.5.3", n.addr, user)
		r.send(t, wire.MsgBitfield(make([]byte, 8))) // 64 bits: 64−7 = 57 > 50
		r.expectClosed(t)
		if !n.Banned("127.0.5.3") || n.Stats().Penalties != 2 {
			t.Errorf("peer not banned: %+v", n.Stats())
		}
	})

	t.Run("forged piece", func(t *testing.T) {
		r := dialRaw(t, "127.0.5.4", n.addr, user)
		r.send(t, wire.MsgSimple(wire.HaveNone), wire.MsgHave(5), wire.MsgSimple(wire.Unchoke))
		reqs := readUntil(t, r.br, func(m wire.Message) bool { return m.ID == wire.Request })
		if req := reqs[len(reqs)-1]; req.Index != 5 || req.Length != wire.BlockSize {
			t.Fatalf("request %v", req)
		}
		forged := signPost(testKey("mallory"), user, 5, "forged")
		r.send(t, wire.MsgPiece(5, 0, forged))
		r.expectClosed(t)
		st := n.Stats()
		if !n.Banned("127.0.5.4") || st.Penalties != 3 || st.Rejected != 1 {
			t.Errorf("forger not banned: %+v", st)
		}
		if _, ok := n.Post(user, 5); ok {
			t.Error("forged post stored")
		}
	})

	t.Run("honest peer still served", func(t *testing.T) {
		r := dialRaw(t, "127.0.5.5", n.addr, user)
		r.send(t, wire.MsgSimple(wire.HaveNone), wire.MsgSimple(wire.Interested), wire.MsgRequest(1))
		ms := readUntil(t, r.br, func(m wire.Message) bool { return m.ID == wire.Piece })
		p := ms[len(ms)-1]
		want, _ := n.Post(user, 1)
		if p.Index != 1 || !bytes.Equal(p.Payload, want) {
			t.Errorf("piece %v", p)
		}
		// A request for a piece we lack is rejected (Fast).
		r.send(t, wire.MsgRequest(9))
		ms = readUntil(t, r.br, func(m wire.Message) bool { return m.ID == wire.RejectRequest })
		if ms[len(ms)-1].Index != 9 {
			t.Errorf("reject %v", ms[len(ms)-1])
		}
		// An unrequested piece is ignored, not stored.
		r.send(t, wire.MsgPiece(7, 0, signPost(key, user, 7, "unasked")))
		time.Sleep(50 * time.Millisecond)
		if _, ok := n.Post(user, 7); ok || n.Stats().Unrequested != 1 {
			t.Errorf("unrequested piece handled wrongly: %+v", n.Stats())
		}
	})
}

// TestPeekHashcash: a node with no unchoke slots serves a PEEK request
// authorised by a hashcash nonce (§4.7).
func TestPeekHashcash(t *testing.T) {
	const user = "author"
	key := testKey(user)
	server := newNode(t, "127.0.6.1", nodeOpts{users: []string{user}, limits: swarm.Limits{MaxUnchoked: -1}})
	p4 := signPost(key, user, 4, "peek me")
	if err := server.AddPost(user, 4, p4); err != nil {
		t.Fatal(err)
	}
	client := newNode(t, "127.0.6.2", nodeOpts{users: []string{user}})
	d, err := client.Peek(t.Context(), user, 4, server.addr)
	if err != nil || !bytes.Equal(d, p4) {
		t.Fatalf("Peek = %q, %v", d, err)
	}
	if st := server.Stats(); st.PeeksServed != 1 {
		t.Errorf("PeeksServed = %d", st.PeeksServed)
	}
	if _, err := client.Peek(t.Context(), user, 5, server.addr); !errors.Is(err, swarm.ErrPeekRejected) {
		t.Errorf("peek of a missing post: %v", err)
	}
	if _, ok := client.Post(user, 4); ok {
		t.Error("peeked post was stored")
	}
}
