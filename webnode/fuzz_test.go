package webnode

import (
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
