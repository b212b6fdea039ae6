package webnode

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/keys"
)

// FuzzVerifyItem: any bytes as a DHT item's p (and any signature) give an
// Item or an ErrUnverified error, never a panic; nothing unsigned by a
// known key passes.
func FuzzVerifyItem(f *testing.F) {
	k, _ := keys.PrivateKeyFromBytes(make32(7), true)
	r := keys.StaticResolver{"alice": {{Height: 1, Key: k.PubKey()}}}
	p := buildItem("alice", "profile", false, mustDict(), 3, 10, 1700000000)
	f.Add(p, k.Sign(p), "alice", "profile", false)
	m := buildItem("bob", "mention", true, mustDict(), 0, 10, 1700000000)
	f.Add(m, k.Sign(m), "alice", "mention", true)
	f.Fuzz(func(t *testing.T, p, sig []byte, signer, res string, multi bool) {
		it, err := VerifyItem(r, client.Item{P: p, SigP: sig, SigUser: signer}, "alice", res, multi, time.Unix(1700000000, 0))
		if err == nil && (it.Signer != "alice" || keys.Verify(p, sig, k.PubKey()) != nil) {
			t.Fatalf("accepted an item not signed by alice: %+v", it)
		}
	})
}

// FuzzParsePostID: ids round-trip; nothing panics.
func FuzzParsePostID(f *testing.F) {
	for _, s := range []string{"alice/0", "bob/123", "/1", "a/-1", "a/b/3", "x/99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		u, k, err := ParsePostID(id)
		if err == nil && PostID(u, k) != id {
			if _, _, err2 := ParsePostID(PostID(u, k)); err2 != nil {
				t.Fatalf("%q parsed as %q/%d which does not parse", id, u, k)
			}
		}
	})
}

func make32(b byte) []byte {
	out := make([]byte, 32)
	out[31] = b
	return out
}

// FuzzSigFrame: any bytes from a signaling server give a checked frame or
// an error, never a panic; accepted frames have a type, valid peer ids and
// a lower-case 40-hex swarm, and encode and decode again to the same frame.
func FuzzSigFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","peer":"abc_DEF-1"}`,
		`{"type":"peers","swarm":"00112233445566778899AABBCCDDEEFF00112233","peers":["a","b"]}`,
		`{"type":"signal","swarm":"00112233445566778899aabbccddeeff00112233","from":"x","kind":"offer","sdp":"v=0"}`,
		`{"type":"signal","swarm":"00112233445566778899aabbccddeeff00112233","from":"x","kind":"candidate","candidate":null}`,
		`{"type":"signal","from":"x","kind":"candidate","candidate":"str"}`,
		`{"type":"error","code":"unknown-peer","to":"zz","message":"gone"}`,
		`{"type":"joined","swarm":"0011","peer":"p"}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeSigFrame(b)
		if err != nil {
			return
		}
		if fr.Type == "" || (fr.Swarm != "" && (len(fr.Swarm) != 40 || strings.ToLower(fr.Swarm) != fr.Swarm)) {
			t.Fatalf("accepted %+v", fr)
		}
		for _, id := range append([]string{fr.From}, fr.Peers...) {
			if id != "" && !validRTCPeer(id) {
				t.Fatalf("accepted peer id %q", id)
			}
		}
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		fr2, err := decodeSigFrame(again)
		if err != nil || !reflect.DeepEqual(normFrame(fr), normFrame(fr2)) {
			t.Fatalf("re-decoding %s: %+v %v", again, fr2, err)
		}
	})
}

// normFrame makes frames comparable after a JSON round trip (compact
// candidate, empty lists as nil).
func normFrame(f sigFrame) sigFrame {
	if len(f.Peers) == 0 {
		f.Peers = nil
	}
	if len(f.Candidate) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, f.Candidate) == nil {
			f.Candidate = buf.Bytes()
		}
	}
	return f
}
