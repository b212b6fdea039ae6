package chain

import (
	"testing"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// branch mines n blocks on top of parent, the first carrying txs, with
// times after base, returning the solved blocks.
func branch(t *testing.T, parent consensus.Hash, parentHeight int64, base uint32, salt byte, n int, txs ...*consensus.Tx) []*consensus.Block {
	t.Helper()
	var out []*consensus.Block
	for i := range n {
		var these []*consensus.Tx
		if i == 0 {
			these = txs
		}
		b := solve(t, childOf(t, parent, parentHeight+int64(i), base+uint32(i)+1, salt, these...))
		out = append(out, b)
		parent = b.Hash()
	}
	return out
}

func TestReorgToMoreWork(t *testing.T) {
	p := consensus.Regtest
	c := openTest(t, "", p, nil)
	var changes []TipChange
	c.Subscribe(func(ch TipChange) { changes = append(changes, ch) })

	bobA, bobB, carol := mustKey(t), mustKey(t), mustKey(t)
	base := p.GenesisBlock.Header.Time
	// Branch A: 3 blocks, bob registered with key A in the first.
	a := branch(t, p.GenesisHash, 0, base, 1, 3, registration(t, p, "bob", bobA))
	for _, b := range a {
		if _, err := c.ProcessBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if k, _ := c.KeyAt("bob", -1); !k.Equal(bobA.PubKey()) {
		t.Fatal("bob A")
	}
	// Branch B: 4 blocks, bob with key B and carol. Its first 3 blocks are
	// side-branch blocks (equal work does not switch).
	bb := branch(t, p.GenesisHash, 0, base, 2, 4, registration(t, p, "bob", bobB), registration(t, p, "carol", carol))
	for _, b := range bb[:3] {
		if _, err := c.ProcessBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if c.Tip().Hash != a[2].Hash() || c.UserExists("carol") {
		t.Fatal("equal work must not switch")
	}
	if bi, _ := c.BlockInfo(bb[2].Hash()); bi.MainChain || bi.Height != 3 {
		t.Fatalf("side block info %+v", bi)
	}
	// A pending registration of carol is dropped when carol gets mined by
	// the other branch.
	if err := c.AcceptTx(registration(t, p, "carol", mustKey(t))); err != nil {
		t.Fatal(err)
	}
	changes = nil
	if _, err := c.ProcessBlock(bb[3]); err != nil {
		t.Fatal(err)
	}
	if c.Tip().Hash != bb[3].Hash() || c.Height() != 4 {
		t.Fatal("did not reorganise to more work")
	}
	if len(changes) != 1 || len(changes[0].Disconnected) != 3 || len(changes[0].Connected) != 4 || changes[0].Disconnected[0] != a[2].Hash() {
		t.Fatalf("change %+v", changes)
	}
	if k, _ := c.KeyAt("bob", -1); !k.Equal(bobB.PubKey()) {
		t.Fatal("bob must have key B after the reorganisation")
	}
	if k, _ := c.KeyAt("carol", -1); !k.Equal(carol.PubKey()) {
		t.Fatal("carol missing")
	}
	if c.MempoolSize() != 0 {
		t.Fatalf("mempool %d, the pending carol registration is now invalid", c.MempoolSize())
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
	// Back to A with two more blocks: carol disappears and bob has key A
	// again. Branch B's registrations are offered to the memory pool:
	// carol's comes back, bob's is refused (bob is registered on A).
	a2 := branch(t, a[2].Hash(), 3, base+10, 1, 2)
	for _, b := range a2 {
		if _, err := c.ProcessBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if c.Tip().Hash != a2[1].Hash() || c.UserExists("carol") {
		t.Fatal("did not reorganise back")
	}
	if k, _ := c.KeyAt("bob", -1); !k.Equal(bobA.PubKey()) {
		t.Fatal("bob must have key A again")
	}
	pool := c.MempoolTxs()
	if len(pool) != 1 || pool[0].Username() != "carol" {
		t.Fatalf("resurrected mempool %v", pool)
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

func TestOrphansConnect(t *testing.T) {
	p := consensus.Regtest
	c := openTest(t, "", p, newClock(regtestStart), WithMaxOrphans(3))
	bs := branch(t, p.GenesisHash, 0, p.GenesisBlock.Header.Time, 5, 5)
	// 2..4 arrive before 1 (5 is held back).
	for i := 3; i >= 1; i-- {
		orphan, err := c.ProcessBlock(bs[i])
		if err != nil || !orphan {
			t.Fatalf("block %d: orphan=%v err=%v", i+1, orphan, err)
		}
	}
	if !c.HaveBlock(bs[3].Hash()) || !c.IsOrphan(bs[3].Hash()) {
		t.Fatal("orphan not held")
	}
	if root := c.OrphanRoot(bs[3].Hash()); root != bs[1].Hash() {
		t.Fatalf("orphan root %s, want block 2", root)
	}
	_, err := c.ProcessBlock(bs[2])
	wantReason(t, err, consensus.ReasonDuplicateBlock)
	if orphan, err := c.ProcessBlock(bs[0]); err != nil || orphan {
		t.Fatal(err)
	}
	if c.Height() != 4 || c.Tip().Hash != bs[3].Hash() || c.IsOrphan(bs[3].Hash()) {
		t.Fatalf("orphans did not connect: height %d", c.Height())
	}
	// The pool is bounded: with 3 slots the oldest of 4 is dropped.
	more := branch(t, bs[3].Hash(), 4, bs[3].Header.Time, 6, 6)
	for _, b := range more[1:5] {
		if orphan, _ := c.ProcessBlock(b); !orphan {
			t.Fatal("expected orphan")
		}
	}
	if c.HaveBlock(more[1].Hash()) || !c.HaveBlock(more[4].Hash()) {
		t.Fatal("oldest orphan should have been dropped")
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

// TestInvalidBranch feeds a branch with more work whose middle block
// breaks a username rule: the chain stays put, the block and its
// descendants are marked invalid and children of them are refused.
func TestInvalidBranch(t *testing.T) {
	p := consensus.Regtest
	c := openTest(t, "", p, nil)
	dave, eve := mustKey(t), mustKey(t)
	base := p.GenesisBlock.Header.Time
	a := branch(t, p.GenesisHash, 0, base, 1, 2, registration(t, p, "dave", dave))
	for _, b := range a {
		if _, err := c.ProcessBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	// Side branch from block 1: block 2' replaces dave's key with a
	// signature by eve (invalid), then 3'.
	bad := replacement(t, p, "dave", eve, eve)
	b2 := solve(t, childOf(t, a[0].Hash(), 1, base+5, 7, bad))
	b3 := solve(t, childOf(t, b2.Hash(), 2, base+6, 7))
	if _, err := c.ProcessBlock(b2); err != nil {
		t.Fatal("equal-work side block is stored without the username checks:", err)
	}
	_, err := c.ProcessBlock(b3)
	wantReason(t, err, consensus.ReasonBadPrevBlock)
	if c.Tip().Hash != a[1].Hash() {
		t.Fatal("tip moved to an invalid branch")
	}
	for _, h := range []consensus.Hash{b2.Hash(), b3.Hash()} {
		if bi, err := c.BlockInfo(h); err != nil || !bi.Invalid {
			t.Fatalf("block %s should be marked invalid: %v", h, err)
		}
	}
	b4 := solve(t, childOf(t, b3.Hash(), 3, base+7, 7))
	_, err = c.ProcessBlock(b4)
	wantReason(t, err, consensus.ReasonBadPrevBlock)
	if k, _ := c.KeyAt("dave", -1); !k.Equal(dave.PubKey()) {
		t.Fatal("dave's key changed")
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
	// A valid sibling branch with more work still wins.
	good := branch(t, a[0].Hash(), 1, base+20, 8, 3)
	for _, b := range good {
		if _, err := c.ProcessBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if c.Tip().Hash != good[2].Hash() {
		t.Fatal("valid branch with more work did not win")
	}
	var _ keys.Resolver = c
}
