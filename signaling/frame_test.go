package signaling

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	swarmX = "cd28c521aadb7b77128ca30a49df399b833207e7" // gotest2's tracker info-hash (vectors)
	swarmY = "0123456789abcdef0123456789abcdef01234567"
)

func TestDecodeFrameValid(t *testing.T) {
	cases := []struct {
		in   string
		want Frame
	}{
		{`{"type":"hello"}`, Frame{Type: TypeHello}},
		{`{"type":"hello","peer":"alice_1-x"}`, Frame{Type: TypeHello, Peer: "alice_1-x"}},
		{` {"type":"join","swarm":"CD28C521AADB7B77128CA30A49DF399B833207E7","extra":1}`, Frame{Type: TypeJoin, Swarm: swarmX}},
		{`{"type":"leave","swarm":"` + swarmY + `"}`, Frame{Type: TypeLeave, Swarm: swarmY}},
		{`{"type":"peers","swarm":"` + swarmY + `","peers":["a","b"]}`, Frame{Type: TypePeers, Swarm: swarmY, Peers: []string{"a", "b"}}},
		{`{"type":"joined","swarm":"` + swarmY + `","peer":"a"}`, Frame{Type: TypeJoined, Swarm: swarmY, Peer: "a"}},
		{`{"type":"left","swarm":"` + swarmY + `","peer":"a"}`, Frame{Type: TypeLeft, Swarm: swarmY, Peer: "a"}},
		{`{"type":"signal","swarm":"` + swarmY + `","to":"b","kind":"offer","sdp":"v=0"}`,
			Frame{Type: TypeSignal, Swarm: swarmY, To: "b", Kind: KindOffer, SDP: "v=0"}},
		{`{"type":"signal","swarm":"` + swarmY + `","to":"b","from":"a","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}}`,
			Frame{Type: TypeSignal, Swarm: swarmY, To: "b", From: "a", Kind: KindCandidate,
				Candidate: json.RawMessage(`{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}`)}},
		{`{"type":"signal","swarm":"` + swarmY + `","to":"b","kind":"candidate","candidate":null}`,
			Frame{Type: TypeSignal, Swarm: swarmY, To: "b", Kind: KindCandidate, Candidate: json.RawMessage(`null`)}},
		{`{"type":"error","code":"x","message":"m"}`, Frame{Type: TypeError, Code: "x", Message: "m"}},
	}
	for _, c := range cases {
		f, err := DecodeFrame([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		got, _ := json.Marshal(f)
		want, _ := json.Marshal(c.want)
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, want)
		}
		// What decodes re-encodes and decodes to the same frame.
		enc, err := EncodeFrame(f)
		if err != nil {
			t.Errorf("re-encode %s: %v", c.in, err)
		}
		if f2, err := DecodeFrame(enc); err != nil || !frameEqual(f, f2) {
			t.Errorf("round trip %s: %v", c.in, err)
		}
	}
}

func frameEqual(a, b Frame) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestDecodeFrameInvalid(t *testing.T) {
	long := strings.Repeat("a", MaxPeerIDLen+1)
	cases := map[string]string{
		``:                                       "not a JSON object",
		`[]`:                                     "not a JSON object",
		`"hello"`:                                "not a JSON object",
		`{"type":"hello"`:                        "unexpected end",
		`{}`:                                     "no type",
		`{"type":"bogus"}`:                       "unknown type",
		`{"type":7}`:                             "cannot unmarshal",
		`{"type":"hello","peer":"` + long + `"}`: "peer id",
		`{"type":"hello","peer":"a b"}`:          "peer id",
		`{"type":"join"}`:                        "40 hex",
		`{"type":"join","swarm":"xyz"}`:          "40 hex",
		`{"type":"join","swarm":"` + swarmY + `0"}`:                                               "40 hex",
		`{"type":"leave","swarm":"g123456789abcdef0123456789abcdef01234567"}`:                     "40 hex",
		`{"type":"peers","swarm":"` + swarmY + `","peers":["ok","n o"]}`:                          "malformed",
		`{"type":"peers","swarm":"` + swarmY + `","peers":5}`:                                     "cannot unmarshal",
		`{"type":"joined","swarm":"` + swarmY + `"}`:                                              "malformed",
		`{"type":"signal","swarm":"` + swarmY + `","kind":"offer","sdp":"x"}`:                     "target",
		`{"type":"signal","swarm":"` + swarmY + `","to":"b","kind":"offer"}`:                      "without sdp",
		`{"type":"signal","swarm":"` + swarmY + `","to":"b","kind":"answer"}`:                     "without sdp",
		`{"type":"signal","swarm":"` + swarmY + `","to":"b","kind":"bye"}`:                        "kind",
		`{"type":"signal","swarm":"` + swarmY + `","to":"b","from":"#","kind":"offer","sdp":"x"}`: "sender",
		`{"type":"signal","swarm":"` + swarmY + `","to":"b","kind":"candidate","candidate":"c"}`:  "object or null",
		`{"type":"error"}`: "no message",
	}
	for in, want := range cases {
		_, err := DecodeFrame([]byte(in))
		if err == nil || !errors.Is(err, ErrBadFrame) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want error containing %q", in, err, want)
		}
	}
}

func TestPeersFrameAlwaysHasList(t *testing.T) {
	b, err := EncodeFrame(Frame{Type: TypePeers, Swarm: swarmY})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"type":"peers","swarm":"`+swarmY+`","peers":[]}` {
		t.Fatalf("%s", b)
	}
	b, _ = EncodeFrame(Frame{Type: TypeJoined, Swarm: swarmY, Peer: "a"})
	if strings.Contains(string(b), "peers") {
		t.Fatalf("%s", b)
	}
}

func TestValidators(t *testing.T) {
	if !ValidPeerID("A-z_09") || ValidPeerID("") || ValidPeerID("é") || ValidPeerID(strings.Repeat("x", 65)) {
		t.Error("ValidPeerID")
	}
	if !ValidSwarm(swarmX) || !ValidSwarm(strings.ToUpper(swarmX)) || ValidSwarm(swarmX[:39]) || ValidSwarm(swarmX+"0") {
		t.Error("ValidSwarm")
	}
}

// FuzzDecodeFrame: DecodeFrame never panics, and whatever it accepts
// re-encodes to a frame that decodes identically.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"hello","peer":"alice"}`))
	f.Add([]byte(`{"type":"signal","swarm":"` + swarmX + `","to":"b","kind":"offer","sdp":"v=0\r\n"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error does not wrap ErrBadFrame: %v", err)
			}
			return
		}
		enc, err := EncodeFrame(fr)
		if err != nil {
			t.Fatalf("accepted frame does not encode: %v", err)
		}
		again, err := DecodeFrame(enc)
		if err != nil {
			t.Fatalf("re-encoded frame rejected: %v\n%s", err, enc)
		}
		if !frameEqual(fr, again) {
			t.Fatalf("round trip changed the frame:\n%s", enc)
		}
	})
}

func BenchmarkDecodeFrame(b *testing.B) {
	in := []byte(`{"type":"signal","swarm":"` + swarmX + `","to":"b","from":"a","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}`)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := DecodeFrame(in); err != nil {
			b.Fatal(err)
		}
	}
}
