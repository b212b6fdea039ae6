package bridge_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain/consensus"
)

// TestPromotedThroughBridge: the promoted operation returns blocks'
// coinbases newest first with merkle branches that link them to the
// headers the bridge serves, honours from and count, and a chain source
// without blocks answers "unavailable".
func TestPromotedThroughBridge(t *testing.T) {
	ch, _ := regChain(t)
	env := startBridge(t, bridge.Config{Chain: bridge.FromChain(ch, nil)}, "")
	c := dial(t, env.url)
	ctx := ctxT(t, 30*time.Second)

	key := userKey("erin")
	if err := ch.AcceptTx(registration(t, "erin", key)); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.MineBlock(ctx, "", nil, ""); err != nil { // block 1 registers erin
		t.Fatal(err)
	}
	// Block 2 carries erin's signed promoted message and a registration
	// (so its merkle tree has two leaves), block 3 the default by nobody.
	if err := ch.AcceptTx(registration(t, "fred", userKey("fred"))); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.MineBlock(ctx, "erin", key, "erin's promoted words [en]"); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.MineBlock(ctx, "", nil, ""); err != nil {
		t.Fatal(err)
	}

	cbs, tip, err := c.Promoted(ctx, -1, 10)
	if err != nil || tip != 3 || len(cbs) != 4 {
		t.Fatalf("promoted: %d entries, tip %d, %v", len(cbs), tip, err)
	}
	for i, cb := range cbs {
		if cb.Height != int64(3-i) {
			t.Fatalf("entry %d has height %d", i, cb.Height)
		}
		hd, err := ch.HeaderByHeight(cb.Height)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := consensus.DecodeTx(cb.Tx)
		if err != nil || !tx.IsCoinbase() {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !consensus.VerifyMerkleBranch(tx.Hash(), hashes(cb.Branch), 0, hd.MerkleRoot) {
			t.Fatalf("entry %d: the branch does not reach the header's merkle root", i)
		}
	}
	if len(cbs[1].Branch) != 1 {
		t.Errorf("block 2 (two transactions) has a branch of %d hashes", len(cbs[1].Branch))
	}
	tx2, _ := consensus.DecodeTx(cbs[1].Tx)
	if pm := consensus.ParseCoinbase(tx2); pm.User != "erin" || pm.Text != "erin's promoted words [en]" {
		t.Errorf("block 2's promoted message %+v", pm)
	}
	if err := consensus.VerifyCoinbase(tx2, key.PubKey(), true); err != nil {
		t.Errorf("erin's signature: %v", err)
	}

	cbs, _, err = c.Promoted(ctx, 2, 1)
	if err != nil || len(cbs) != 1 || cbs[0].Height != 2 {
		t.Fatalf("from 2 count 1: %+v %v", cbs, err)
	}
	cbs, _, err = c.Promoted(ctx, 99, 2)
	if err != nil || len(cbs) != 2 || cbs[0].Height != 3 {
		t.Fatalf("from above the tip: %+v %v", cbs, err)
	}
	var se *client.ServerError
	if _, err := c.Call(ctx, "promoted", bencode.MustFrom(map[string]any{"count": 0})); !errors.As(err, &se) || se.Code != "bad-request" {
		t.Fatalf("count 0: %v", err)
	}

	// A chain source that is not a PromotedSource.
	env2 := startBridge(t, bridge.Config{Chain: headersOnly{bridge.FromChain(ch, nil)}}, "")
	if _, _, err := dial(t, env2.url).Promoted(ctx, -1, 1); !errors.As(err, &se) || se.Code != "unavailable" {
		t.Fatalf("headers-only chain: %v", err)
	}
}

// headersOnly hides everything but the ChainSource methods.
type headersOnly struct{ bridge.ChainSource }

func hashes(b [][32]byte) []consensus.Hash {
	out := make([]consensus.Hash, len(b))
	for i, h := range b {
		out[i] = h
	}
	return out
}
