package chain

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

func TestOpenGenesis(t *testing.T) {
	for _, p := range []*consensus.Params{consensus.Mainnet, consensus.Regtest} {
		dir := t.TempDir()
		c := openTest(t, dir, p, nil)
		tip := c.Tip()
		if tip.Hash != p.GenesisHash || tip.Height != 0 || c.Height() != 0 || !tip.MainChain {
			t.Fatalf("%s: tip %+v", p.Name, tip)
		}
		b, err := c.BlockByHeight(0)
		if err != nil || b.Hash() != p.GenesisHash {
			t.Fatalf("%s: genesis block %v", p.Name, err)
		}
		if err := c.CheckConsistency(); err != nil {
			t.Fatal(err)
		}
		c.Close()
		// A store belongs to one network.
		other := consensus.Regtest
		if p == consensus.Regtest {
			other = consensus.Mainnet
		}
		if _, err := Open(dir, other); err == nil {
			t.Fatalf("%s store opened as %s", p.Name, other.Name)
		}
	}
}

func TestRecordedRegtestBlock1(t *testing.T) {
	v := vectors.Verified()
	raw := vectors.Hex(v, "chain", "regtest_block1", "block_hex")
	b, err := consensus.DecodeBlock(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Too early for its time with a clock more than 2 h behind it.
	early := openTest(t, "", consensus.Regtest, newClock(1795319279-7201))
	_, err = early.ProcessBlock(b)
	wantReason(t, err, consensus.ReasonTimeTooNew)

	c := openTest(t, "", consensus.Regtest, newClock(1795319279))
	var changes []TipChange
	c.Subscribe(func(ch TipChange) { changes = append(changes, ch) })
	if orphan, err := c.ProcessBlock(b); err != nil || orphan {
		t.Fatalf("block 1: orphan=%v err=%v", orphan, err)
	}
	if c.Height() != 1 || c.Tip().Hash.String() != vectors.Str(v, "chain", "regtest_block1", "hash_display") {
		t.Fatalf("tip %+v", c.Tip())
	}
	if len(changes) != 1 || changes[0].NewHeight != 1 || changes[0].OldTip != consensus.Regtest.GenesisHash {
		t.Fatalf("notifications %+v", changes)
	}
	k, err := c.KeyAt("gotest", -1)
	if err != nil || k.Hex() != vectors.Str(vectors.Derived(), "derived_by_spec", "registration_tx", "pubkey_hex") {
		t.Fatalf("gotest key %v %v", k, err)
	}
	if _, err := c.KeyAt("gotest", 0); !errors.Is(err, keys.ErrUnknownUser) {
		t.Fatalf("gotest at height 0: %v", err)
	}
	if h, err := c.RegistrationHeight("gotest2"); err != nil || h != 1 {
		t.Fatalf("gotest2 height %d %v", h, err)
	}
	if got := c.ListUsernames("go", 10); !slices.Equal(got, []string{"gotest", "gotest2"}) {
		t.Fatalf("list %v", got)
	}
	if got := c.ListUsernames("gotest2", 10); !slices.Equal(got, []string{"gotest2"}) {
		t.Fatalf("list %v", got)
	}
	if u, err := c.TxNumToUsername(1); err != nil || u != "" {
		t.Fatalf("txnum 1 → %q %v", u, err)
	}
	if n, err := c.UsernameToTxNum("gotest2"); err != nil || n != 3 {
		t.Fatalf("txnum %d %v", n, err)
	}
	if u, err := c.TxNumToUsername(2); err != nil || u != "gotest" {
		t.Fatalf("txnum 2 → %q %v", u, err)
	}
	// The genesis coinbase's userName is a single push, so it reads as a name.
	if u, err := c.TxNumToUsername(0); err != nil || u != "nobody" {
		t.Fatalf("txnum 0 → %q %v", u, err)
	}
	tx, bh, err := c.RegistrationTx("gotest2")
	if err != nil || bh != b.Hash() || tx.Hash().String() != "268788a3335d610e7c67eff9435065a59edeac2989ce4f192c30644e70347aaa" {
		t.Fatalf("registration tx %v", err)
	}
	if !c.UserExists("gotest") || c.UserExists("nobody") {
		t.Fatal("UserExists")
	}
	if raw2, err := c.RawBlock(b.Hash()); err != nil || string(raw2) != string(raw) {
		t.Fatal("raw block")
	}
	gi, _ := c.BlockInfo(consensus.Regtest.GenesisHash)
	if gi.Next != b.Hash() || !gi.MainChain {
		t.Fatalf("genesis info %+v", gi)
	}
	_, err = c.ProcessBlock(b)
	wantReason(t, err, consensus.ReasonDuplicateBlock)
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

func TestMempoolMiningAndReplacement(t *testing.T) {
	p := consensus.Regtest
	c := openTest(t, "", p, nil)
	alice := mustKey(t)
	reg := registration(t, p, "alice", alice)
	if err := c.AcceptTx(reg); err != nil {
		t.Fatal(err)
	}
	wantReason(t, c.AcceptTx(reg), consensus.ReasonDuplicateTx)
	wantReason(t, c.AcceptTx(registration(t, p, "alice", mustKey(t))), consensus.ReasonDuplicateName)
	wantReason(t, c.AcceptTx(p.GenesisBlock.Txs[0]), consensus.ReasonNonStandard)
	if c.MempoolSize() != 1 {
		t.Fatalf("mempool %d", c.MempoolSize())
	}
	b1 := mine(t, c)
	if len(b1.Txs) != 2 || c.MempoolSize() != 0 || !c.UserExists("alice") {
		t.Fatalf("block 1 has %d txs, mempool %d", len(b1.Txs), c.MempoolSize())
	}
	// Registered: a plain re-registration is refused, a replacement signed
	// by another key too, one signed by alice's key is accepted.
	wantReason(t, c.AcceptTx(registration(t, p, "alice", mustKey(t))), consensus.ReasonDuplicateName)
	alice2 := mustKey(t)
	wantReason(t, c.AcceptTx(replacement(t, p, "alice", alice2, mustKey(t))), consensus.ReasonBadReplacement)
	if err := c.AcceptTx(replacement(t, p, "alice", alice2, alice)); err != nil {
		t.Fatal(err)
	}
	mine(t, c) // height 2 holds the replacement
	mine(t, c)
	for h, want := range map[int64]keys.PubKey{1: alice.PubKey(), 2: alice2.PubKey(), 3: alice2.PubKey(), -1: alice2.PubKey()} {
		if k, err := c.KeyAt("alice", h); err != nil || !k.Equal(want) {
			t.Fatalf("KeyAt(alice, %d) = %v, %v", h, k, err)
		}
	}
	if err := keys.VerifyUser(c, "alice", 1, []byte("old post"), alice.Sign([]byte("old post"))); err != nil {
		t.Fatal(err)
	}
	if h, _ := c.RegistrationHeight("alice"); h != 2 {
		t.Fatalf("registration height %d", h)
	}
	hist, _ := c.KeyHistory("alice")
	if len(hist) != 2 || hist[0].Height != 1 || hist[1].Height != 2 {
		t.Fatalf("history %+v", hist)
	}
	// A promoted message signed by alice's current key; the old key and a
	// missing key are refused by the template builder.
	if _, err := c.MineBlock(context.Background(), "alice", alice, "hi"); err == nil {
		t.Fatal("mined with alice's old key")
	}
	if _, err := c.MineBlock(context.Background(), "bob", mustKey(t), "hi"); err == nil {
		t.Fatal("mined as unregistered bob")
	}
	b, err := c.MineBlock(context.Background(), "alice", alice2, "héllo from alice")
	if err != nil {
		t.Fatal(err)
	}
	if pm := consensus.ParseCoinbase(b.Txs[0]); pm.User != "alice" || pm.Text != "héllo from alice" || len(pm.Sig) != 65 {
		t.Fatalf("coinbase %+v", pm)
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

func TestMineBlockCancel(t *testing.T) {
	// Mainnet's first block needs ~16k scrypt hashes: cancel long before.
	// About 1 in 100 tries finds a block within 50 ms by luck: then the
	// next block (same difficulty) is tried, so only cancellation counts.
	c := openTest(t, "", consensus.Mainnet, newClock(1384394255+600))
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, err := c.MineBlock(ctx, "", nil, "")
		cancel()
		if err == nil && try < 5 {
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("cancellation took too long")
		}
		return
	}
}

func TestStoreReopen(t *testing.T) {
	p := consensus.Regtest
	dir := t.TempDir()
	clk := newClock(regtestStart)
	c := openTest(t, dir, p, clk)
	k := mustKey(t)
	if err := c.AcceptTx(registration(t, p, "carol", k)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		mine(t, c)
		clk.Advance(60)
	}
	tip := c.Tip()
	loc := c.Locator()
	c.Close()
	if _, err := c.BlockByHeight(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	c2 := openTest(t, dir, p, clk)
	if got := c2.Tip(); got.Hash != tip.Hash || got.Height != 5 || got.ChainWork.Cmp(tip.ChainWork) != 0 {
		t.Fatalf("reopened tip %+v, want %+v", got, tip)
	}
	if k2, err := c2.KeyAt("carol", -1); err != nil || !k2.Equal(k.PubKey()) {
		t.Fatal("carol's key lost")
	}
	if !slices.Equal(c2.Locator(), loc) {
		t.Fatal("locator differs")
	}
	if err := c2.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
	mine(t, c2)
	if c2.Height() != 6 {
		t.Fatal("cannot extend after reopen")
	}
}

func TestLocatorAndHashesAfter(t *testing.T) {
	c := openTest(t, "", consensus.Regtest, nil)
	for range 30 {
		mine(t, c)
	}
	loc := c.Locator()
	// 11 single steps (30..20), then 18, 14, 6, genesis.
	var hs []int64
	for _, h := range loc {
		bi, _ := c.BlockInfo(h)
		hs = append(hs, bi.Height)
	}
	if !slices.Equal(hs, []int64{30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 18, 14, 6, 0}) {
		t.Fatalf("locator heights %v", hs)
	}
	h10, _ := c.HashByHeight(10)
	h12, _ := c.HashByHeight(12)
	got := c.HashesAfter([]consensus.Hash{{1}, h10}, consensus.Hash{}, 500)
	if len(got) != 20 || got[0] != mustHash(c, 11) {
		t.Fatalf("after 10: %d hashes", len(got))
	}
	if got := c.HashesAfter([]consensus.Hash{h10}, h12, 500); len(got) != 2 || got[1] != h12 {
		t.Fatalf("stop: %v", got)
	}
	if got := c.HashesAfter(nil, consensus.Hash{}, 5); len(got) != 5 || got[0] != mustHash(c, 1) {
		t.Fatal("empty locator starts after genesis")
	}
	hdrs := c.HeadersAfter([]consensus.Hash{h10}, consensus.Hash{}, 3)
	if len(hdrs) != 3 || hdrs[0].Hash() != mustHash(c, 11) || hdrs[2].Height != 13 {
		t.Fatal("headers after")
	}
}

func mustHash(c *Chain, h int64) consensus.Hash {
	x, err := c.HashByHeight(h)
	if err != nil {
		panic(err)
	}
	return x
}

// TestConcurrentMiningAndReaders mines from two goroutines while a
// subscriber reads the chain in its callback and readers query it.
func TestConcurrentMiningAndReaders(t *testing.T) {
	c := openTest(t, "", consensus.Regtest, nil)
	var seen []int64
	c.Subscribe(func(ch TipChange) {
		if c.Height() < ch.NewHeight-1 {
			t.Errorf("callback sees height %d after change to %d", c.Height(), ch.NewHeight)
		}
		seen = append(seen, ch.NewHeight)
	})
	done := make(chan error, 3)
	for range 2 {
		go func() {
			for range 10 {
				if _, err := c.MineBlock(context.Background(), "", nil, ""); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() {
		for range 200 {
			_ = c.Locator()
			_, _ = c.KeyAt("x", -1)
			_ = c.Tip()
		}
		done <- nil
	}()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if c.Height() < 10 {
		t.Fatalf("height %d", c.Height())
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("changes out of order: %v", seen)
		}
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}
