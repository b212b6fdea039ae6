package chain

import (
	"errors"
	"testing"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/light"
	"github.com/gotwister/twister/keys"
)

// TestProveUser checks full-chain proofs with a light client that follows
// the chain's headers: registered, replaced, unknown and tampered names.
func TestProveUser(t *testing.T) {
	p := consensus.Regtest
	clk := newClock(regtestStart)
	c := openTest(t, "", p, clk)
	ann, ann2, ben := mustKey(t), mustKey(t), mustKey(t)
	if err := c.AcceptTx(registration(t, p, "ann", ann)); err != nil {
		t.Fatal(err)
	}
	if err := c.AcceptTx(registration(t, p, "ben", ben)); err != nil {
		t.Fatal(err)
	}
	mine(t, c)
	mine(t, c)
	if err := c.AcceptTx(replacement(t, p, "ann", ann2, ann)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mine(t, c)
	}
	hc := light.NewHeaderChain(p, light.WithClock(clk.Now))
	if err := hc.AddHeaders(c.HeadersAfter(hc.Locator(), consensus.Hash{}, 2000)); err != nil {
		t.Fatal(err)
	}
	if h, ht := hc.Tip(); h != c.Tip().Hash || ht != c.Height() {
		t.Fatal("light tip differs")
	}

	ben1, err := c.ProveUser("ben")
	if err != nil {
		t.Fatal(err)
	}
	hist, err := hc.VerifyUserProof(ben1)
	if err != nil || len(hist) != 1 || !hist[0].Key.Equal(ben.PubKey()) || hist[0].Height != 1 {
		t.Fatalf("ben: %v %+v", err, hist)
	}
	annP, err := c.ProveUser("ann")
	if err != nil {
		t.Fatal(err)
	}
	// Through the wire encoding.
	dec, err := light.DecodeUserProof(annP.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	hist, err = hc.VerifyUserProof(dec)
	if err != nil || len(hist) != 2 || !hist[0].Key.Equal(ann.PubKey()) || !hist[1].Key.Equal(ann2.PubKey()) || hist[1].Height != 3 {
		t.Fatalf("ann: %v %+v", err, hist)
	}
	r := keys.StaticResolver{"ann": hist}
	if k, _ := r.KeyAt("ann", 2); !k.Equal(ann.PubKey()) {
		t.Fatal("ann at height 2")
	}

	if _, err := c.ProveUser("nobody"); !errors.Is(err, keys.ErrUnknownUser) {
		t.Fatalf("unknown name: %v", err)
	}

	bad := func(name string, mutate func(p *light.UserProof)) {
		t.Helper()
		pr, err := light.DecodeUserProof(annP.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		mutate(pr)
		if _, err := hc.VerifyUserProof(pr); !errors.Is(err, light.ErrBadProof) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	bad("wrong name", func(pr *light.UserProof) { pr.Name = "ben" })
	bad("tampered key", func(pr *light.UserProof) {
		pr.Entries[0].Tx.PubKey = consensus.AppendPush(nil, ben.PubKey())
	})
	bad("tampered branch", func(pr *light.UserProof) { pr.Entries[1].Branch[0][3] ^= 1 })
	bad("wrong index", func(pr *light.UserProof) { pr.Entries[1].TxIndex++ })
	bad("coinbase index", func(pr *light.UserProof) { pr.Entries[0].TxIndex = 0 })
	bad("wrong height", func(pr *light.UserProof) { pr.Entries[1].Height++ })
	bad("replacement dropped, first swapped for ben", func(pr *light.UserProof) {
		pr.Entries = append(ben1.Entries[:1:1], pr.Entries[1])
	})
	bad("order reversed", func(pr *light.UserProof) {
		pr.Entries[0], pr.Entries[1] = pr.Entries[1], pr.Entries[0]
	})
	bad("no entries", func(pr *light.UserProof) { pr.Entries = nil })

	// A light client that has not seen the headers cannot check the proof.
	fresh := light.NewHeaderChain(p, light.WithClock(clk.Now))
	if _, err := fresh.VerifyUserProof(annP); !errors.Is(err, light.ErrBadProof) {
		t.Fatalf("proof accepted without headers: %v", err)
	}
}
