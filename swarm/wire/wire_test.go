package wire

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/resource"
)

func swarmVectors(t testing.TB) map[string]any {
	t.Helper()
	m, ok := vectors.Path(vectors.Verified(), "swarm").(map[string]any)
	if !ok {
		t.Fatal("vectors: no swarm section")
	}
	return m
}

// recorded returns the recorded frames (length prefix added) of a sequence,
// the handshake first.
func recorded(t testing.TB, name string) (hs []byte, ids []int, frames [][]byte) {
	t.Helper()
	seq, ok := swarmVectors(t)[name].([]any)
	if !ok || len(seq) == 0 {
		t.Fatalf("vectors: no %s", name)
	}
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
		ids = append(ids, int(pair[0].(float64)))
		frames = append(frames, append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
	}
	return hs, ids, frames
}

func TestHandshakeVector(t *testing.T) {
	v := swarmVectors(t)
	raw, _ := hex.DecodeString(vectors.Str(v, "handshake_hex_E_to_D_gotest2"))
	h, err := ParseHandshake(raw)
	if err != nil {
		t.Fatal(err)
	}
	if h.Reserved != DefaultReserved {
		t.Errorf("reserved = %x, want %x", h.Reserved, DefaultReserved)
	}
	if !h.Reserved.Extensions() || !h.Reserved.DHT() || !h.Reserved.Fast() || !h.Reserved.Peek() {
		t.Errorf("feature bits not all set: %x", h.Reserved)
	}
	want := resource.InfoHash("gotest2")
	if h.InfoHash != want || hex.EncodeToString(want[:]) != "cd28c521aadb7b77128ca30a49df399b833207e7" {
		t.Errorf("info-hash = %x, want %x", h.InfoHash, want)
	}
	if !strings.HasPrefix(string(h.PeerID[:]), "-TW1000-") {
		t.Errorf("peer id %q", h.PeerID)
	}
	if got := AppendHandshake(nil, h); !bytes.Equal(got, raw) {
		t.Errorf("re-encoded handshake differs:\n%x\n%x", got, raw)
	}
	h2, err := ReadHandshake(bytes.NewReader(raw))
	if err != nil || h2 != h {
		t.Errorf("ReadHandshake = %v, %v", h2, err)
	}
	// A BitTorrent handshake is refused after the protocol string.
	bt := append([]byte("\x13BitTorrent protocol"), raw[20:]...)
	if _, err := ReadHandshake(bytes.NewReader(bt)); !errors.Is(err, ErrHandshake) {
		t.Errorf("BitTorrent handshake: %v", err)
	}
	if _, err := ReadHandshake(bytes.NewReader(raw[:40])); !errors.Is(err, ErrHandshake) {
		t.Errorf("short handshake: %v", err)
	}
}

func TestRecordedSequences(t *testing.T) {
	for _, name := range []string{"message_sequence_D_to_E", "message_sequence_E_to_D"} {
		t.Run(name, func(t *testing.T) {
			hs, ids, frames := recorded(t, name)
			h, err := ParseHandshake(hs)
			if err != nil {
				t.Fatal(err)
			}
			if h.InfoHash != resource.InfoHash("gotest2") || h.Reserved != DefaultReserved {
				t.Errorf("handshake %x", hs)
			}
			stream := bytes.Join(frames, nil)
			r := bytes.NewReader(stream)
			for i, want := range frames {
				m, err := ReadMessage(r, Limits{})
				if err != nil {
					t.Fatalf("frame %d (%x): %v", i, want, err)
				}
				if int(m.ID) != ids[i] || !m.ID.Known() {
					t.Errorf("frame %d: id %v, want %d", i, m.ID, ids[i])
				}
				if got := AppendMessage(nil, m); !bytes.Equal(got, want) {
					t.Errorf("frame %d: re-encoded %x, want %x", i, got, want)
				}
				switch m.ID {
				case Extended:
					eh, err := ParseExtHandshake(m.Payload)
					if err != nil || m.ExtID != 0 {
						t.Fatalf("ext handshake: %v", err)
					}
					if eh.Version != "twisterd/v0.9.40.0-ga3a926e3-beta" || eh.ReqQ != 250 ||
						eh.M["ut_pex"] != 1 || eh.M["lt_tex"] != 19 || eh.YourIP != netip.MustParseAddr("127.0.0.1") ||
						!eh.HasCompleteAgo || eh.CompleteAgo != -1 || !eh.IPv6.Is6() {
						t.Errorf("ext handshake fields: %+v", eh)
					}
					if !bytes.Equal(eh.Encode(), m.Payload) {
						t.Errorf("ext handshake re-encoding differs:\n%q\n%q", eh.Encode(), m.Payload)
					}
				case Piece:
					if m.Begin != 0 || len(m.Payload) == 0 || m.Payload[0] != 'd' {
						t.Errorf("piece %v", m)
					}
				case Request:
					if m.Begin != 0 || m.Length != BlockSize {
						t.Errorf("request %v", m)
					}
				case HashcashNBits:
					if m.NBits != 0 && m.NBits != 16 {
						t.Errorf("nbits %d", m.NBits)
					}
				case DHTPort:
					if m.Port != 19451 && m.Port != 19452 {
						t.Errorf("dht port %d", m.Port)
					}
				}
			}
			if _, err := ReadMessage(r, Limits{}); err != io.EOF {
				t.Errorf("after the last frame: %v, want EOF", err)
			}
		})
	}
}

func TestExtHandshakeVectors(t *testing.T) {
	v := swarmVectors(t)
	for _, key := range []string{"ext_handshake_hex_E", "ext_handshake_hex_D"} {
		raw, _ := hex.DecodeString(vectors.Str(v, key))
		m, n, err := ParseMessage(binary.BigEndian.AppendUint32(nil, uint32(len(raw))), Limits{})
		if err == nil || n != 4 {
			t.Errorf("%s: header alone decoded: %v %d", key, m, n)
		}
		frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(raw))), raw...)
		m, n, err = ParseMessage(frame, Limits{})
		if err != nil || n != len(frame) {
			t.Fatalf("%s: %v", key, err)
		}
		eh, err := ParseExtHandshake(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		wantPort := 0
		if key == "ext_handshake_hex_E" {
			wantPort = 19452
		}
		if eh.Port != wantPort {
			t.Errorf("%s: p = %d, want %d", key, eh.Port, wantPort)
		}
		tr := eh.Other["tr"]
		if hex.EncodeToString(tr.Str) != "da39a3ee5e6b4b0d3255bfef95601890afd80709" {
			t.Errorf("tr = %x", tr.Str)
		}
	}
	if _, err := ParseExtHandshake([]byte("li1ee")); !errors.Is(err, ErrExtHandshake) {
		t.Errorf("list accepted: %v", err)
	}
	if _, err := ParseExtHandshake([]byte("d1:m")); !errors.Is(err, ErrExtHandshake) {
		t.Errorf("truncated accepted: %v", err)
	}
	// Wrong-typed fields are ignored, like libtorrent does.
	eh, err := ParseExtHandshake([]byte("d1:mi5e1:p3:abc4:reqqi-1ee"))
	if err != nil || eh.M != nil || eh.Port != 0 || eh.ReqQ != 0 {
		t.Errorf("%+v %v", eh, err)
	}
}

func frame(id byte, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, id), payload...)
}

func TestMessageLimits(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		err  error
	}{
		{"huge length", []byte{0x7f, 0xff, 0xff, 0xff, 7}, ErrTooLong},
		{"piece over one block", frame(7, make([]byte, 8+BlockSize+1)...), ErrTooLong},
		{"piece without header", frame(7, 1, 2, 3), ErrMalformed},
		{"have of 3 bytes", frame(4, 0, 0, 1), ErrMalformed},
		{"have of 5 bytes", frame(4, 0, 0, 0, 1, 0), ErrMalformed},
		{"choke with payload", frame(0, 1), ErrMalformed},
		{"request short", frame(6, make([]byte, 11)...), ErrMalformed},
		{"dht_port short", frame(9, 1), ErrMalformed},
		{"nbits long", frame(10, 0, 16, 0), ErrMalformed},
		{"nonce of 10 bytes", frame(11, make([]byte, 10)...), ErrTooLong},
		{"extended empty", frame(20), ErrMalformed},
		{"bitfield over limit", frame(5, make([]byte, 65)...), ErrTooLong},
		{"cut short", frame(7, make([]byte, 20)...)[:15], ErrMalformed},
	}
	for _, c := range cases {
		_, _, err := ParseMessage(c.in, Limits{MaxBitfield: 64})
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
	// Largest piece and bitfield within the limits decode.
	if m, _, err := ParseMessage(frame(7, make([]byte, 8+BlockSize)...), Limits{}); err != nil || len(m.Payload) != BlockSize {
		t.Errorf("full block piece: %v", err)
	}
	if _, _, err := ParseMessage(frame(5, make([]byte, 64)...), Limits{MaxBitfield: 64}); err != nil {
		t.Errorf("bitfield at limit: %v", err)
	}
}

func TestUnknownAndKeepAlive(t *testing.T) {
	stream := append(append(append([]byte{0, 0, 0, 0}, frame(12, 'x', 'y')...), frame(99)...), frame(1)...)
	r := bytes.NewReader(stream)
	m, err := ReadMessage(r, Limits{})
	if err != nil || !m.KeepAlive {
		t.Fatalf("keep-alive: %v %v", m, err)
	}
	m, err = ReadMessage(r, Limits{})
	if err != nil || m.ID != 12 || m.ID.Known() || string(m.Payload) != "xy" {
		t.Fatalf("unknown 12: %v %v", m, err)
	}
	if !bytes.Equal(AppendMessage(nil, m), frame(12, 'x', 'y')) {
		t.Error("unknown id does not round-trip")
	}
	m, err = ReadMessage(r, Limits{})
	if err != nil || m.ID != 99 || len(m.Payload) != 0 {
		t.Fatalf("unknown 99: %v %v", m, err)
	}
	m, err = ReadMessage(r, Limits{})
	if err != nil || m.ID != Unchoke {
		t.Fatalf("unchoke after unknown ids: %v %v", m, err)
	}
}

func TestRoundTripConstructors(t *testing.T) {
	eh := ExtHandshake{M: map[string]int64{}, Port: 4242, Version: "gotwister/test", ReqQ: 250,
		YourIP: netip.MustParseAddr("127.0.0.9"), HasCompleteAgo: true, CompleteAgo: -1}
	msgs := []Message{
		MsgHave(7), MsgRequest(3), MsgPiece(3, 0, []byte("d1:ai1ee")), MsgBitfield([]byte{0x60}),
		MsgSimple(HaveNone), {ID: HashcashNBits, NBits: 16}, {ID: DHTPort, Port: 19451},
		{ID: HashcashNonce, Payload: []byte{0, 0, 1, 2}}, {KeepAlive: true}, eh.Message(),
		{ID: RejectRequest, Index: 3, Length: BlockSize}, {ID: AllowedFast, Index: 2},
	}
	var stream []byte
	for _, m := range msgs {
		stream = AppendMessage(stream, m)
	}
	r := bytes.NewReader(stream)
	for _, want := range msgs {
		got, err := ReadMessage(r, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() || !bytes.Equal(AppendMessage(nil, got), AppendMessage(nil, want)) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	got, _ := ParseExtHandshake(eh.Encode())
	if got.Port != 4242 || got.Version != "gotwister/test" || got.YourIP != eh.YourIP || got.M == nil {
		t.Errorf("ext handshake round trip: %+v", got)
	}
}

func TestNewPeerID(t *testing.T) {
	a, b := NewPeerID(), NewPeerID()
	if a == b || string(a[:8]) != PeerIDPrefix {
		t.Errorf("%q %q", a, b)
	}
	for _, c := range a[8:] {
		if !strings.ContainsRune(urlSafe, rune(c)) {
			t.Errorf("char %q not URL-safe", c)
		}
	}
}

func TestHashcash(t *testing.T) {
	ih := resource.InfoHash("gotest2")
	if tg := hashcashTarget(16); tg[0] != 0 || tg[1] != 0 || tg[2] != 0xff || tg[19] != 0xff {
		t.Errorf("target(16) = %x", tg)
	}
	if tg := hashcashTarget(3); tg[0] != 0x1f || tg[1] != 0xff {
		t.Errorf("target(3) = %x", tg)
	}
	if tg := hashcashTarget(0); tg[0] != 0xff {
		t.Errorf("target(0) = %x", tg)
	}
	nonce, err := SolveHashcash(context.Background(), ih, 2, 16)
	if err != nil || len(nonce) != 4 {
		t.Fatal(err)
	}
	if !HashcashOK(ih, 2, nonce, 16) {
		t.Error("solved nonce does not verify")
	}
	sum := sha1.Sum(append(append(append([]byte{}, ih[:]...), 0, 0, 0, 2), nonce...))
	if sum[0] != 0 || sum[1] != 0 {
		t.Errorf("hash %x does not have 16 leading zero bits", sum)
	}
	if HashcashOK(ih, 3, nonce, 16) && HashcashOK(ih, 4, nonce, 16) && HashcashOK(ih, 5, nonce, 16) {
		t.Error("nonce valid for unrelated pieces")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SolveHashcash(ctx, ih, 2, 60); err != ErrNoNonce {
		t.Errorf("cancelled search: %v", err)
	}
}
