package webnode

import (
	"errors"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/keys"
)

func mustDict() bencode.Value {
	d := bencode.NewDict()
	d.Set("fullname", bencode.NewString("Alice"))
	return d
}

// VerifyItem accepts exactly the genuine items and names what is wrong
// with the others.
func TestVerifyItem(t *testing.T) {
	ka, _ := keys.PrivateKeyFromBytes(make32(1), true)
	kb, _ := keys.PrivateKeyFromBytes(make32(2), true)
	r := keys.StaticResolver{"alice": {{Height: 1, Key: ka.PubKey()}}, "bob": {{Height: 1, Key: kb.PubKey()}}}
	now := time.Unix(1700000000, 0)
	good := buildItem("alice", "profile", false, mustDict(), 4, 10, now.Unix())
	it, err := VerifyItem(r, client.Item{P: good, SigP: ka.Sign(good), SigUser: "alice"}, "alice", "profile", false, now)
	if err != nil || it.Seq != 4 || it.Height != 10 || it.Signer != "alice" {
		t.Fatalf("genuine item: %+v %v", it, err)
	}
	multi := buildItem("alice", "mention", true, mustDict(), 0, 10, now.Unix())
	if _, err := VerifyItem(r, client.Item{P: multi, SigP: kb.Sign(multi), SigUser: "bob"}, "alice", "mention", true, now); err != nil {
		t.Fatalf("multi item by another user: %v", err)
	}
	future := buildItem("alice", "profile", false, mustDict(), 4, 10, now.Add(3*time.Hour).Unix())
	cases := map[string]client.Item{
		"altered":       {P: append(good[:len(good)-3:len(good)-3], 'X', 'e', 'e'), SigP: ka.Sign(good), SigUser: "alice"},
		"bad signature": {P: good, SigP: kb.Sign(good), SigUser: "alice"},
		"not the owner": {P: good, SigP: kb.Sign(good), SigUser: "bob"},
		"unknown user":  {P: good, SigP: ka.Sign(good), SigUser: "carol"},
		"future":        {P: future, SigP: ka.Sign(future), SigUser: "alice"},
		"unsigned":      {P: good, SigUser: "alice"},
		"not bencode":   {P: []byte("hello"), SigP: ka.Sign([]byte("hello")), SigUser: "alice"},
	}
	for name, c := range cases {
		if _, err := VerifyItem(r, c, "alice", "profile", false, now); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The right item asked under another name, resource or kind.
	g := client.Item{P: good, SigP: ka.Sign(good), SigUser: "alice"}
	for _, w := range []struct {
		name, res string
		multi     bool
	}{{"bob", "profile", false}, {"alice", "avatar", false}, {"alice", "profile", true}} {
		if _, err := VerifyItem(r, g, w.name, w.res, w.multi, now); !errors.Is(err, ErrUnverified) {
			t.Errorf("item accepted for %v: %v", w, err)
		}
	}
}

func TestPostID(t *testing.T) {
	if u, k, err := ParsePostID(PostID("alice", 42)); err != nil || u != "alice" || k != 42 {
		t.Fatal(u, k, err)
	}
	for _, bad := range []string{"", "alice", "/3", "alice/", "alice/-2", "alice/x"} {
		if _, _, err := ParsePostID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
