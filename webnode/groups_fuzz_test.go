package webnode

import (
	"testing"

	"github.com/gotwister/twister/keys"
)

// FuzzDecodeGroups: stored group records never panic the decoder, and
// what it keeps has valid aliases (once each) and member names; a sealed
// key that is not one opens with an error, never a panic or a wrong key.
func FuzzDecodeGroups(f *testing.F) {
	f.Add([]byte(`[{"alias":"*abcdefgh","description":"d","descTime":1,"members":["alice","bob"],"pubKey":"02ab","sealedKey":"ZDM6a2V5MzM6AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA6bWFjNjQ6AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA0Om9yaWdpMGVlZQ==","created":5}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeGroups(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if !validGroupAlias(r.Alias) || seen[r.Alias] {
				t.Fatalf("kept alias %q", r.Alias)
			}
			seen[r.Alias] = true
			if len(r.Members) > maxGroupMembers {
				t.Fatalf("%d members", len(r.Members))
			}
			s := &KeySigner{Name: "alice", Key: fuzzKey}
			if k, err := openGroupKey(s, r); err == nil && k.PubKey().Hex() != r.PubKey {
				t.Fatal("a key that is not the group's opened")
			}
		}
	})
}

var fuzzKey = func() *keys.PrivateKey {
	b := make([]byte, 32)
	b[31] = 1
	k, err := keys.PrivateKeyFromBytes(b, true)
	if err != nil {
		panic(err)
	}
	return k
}()
