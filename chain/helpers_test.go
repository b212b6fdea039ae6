package chain

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// testClock is an adjustable adjusted-time source.
type testClock struct{ t atomic.Int64 }

func newClock(unix int64) *testClock { c := &testClock{}; c.t.Store(unix); return c }
func (c *testClock) Now() time.Time  { return time.Unix(c.t.Load(), 0) }
func (c *testClock) Advance(d int64) { c.t.Add(d) }

// regtestStart is after the recorded regtest block 1 (time 1795319279).
const regtestStart = 1795320000

func openTest(t *testing.T, dir string, p *consensus.Params, clk *testClock, opts ...Option) *Chain {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clk == nil {
		clk = newClock(regtestStart)
	}
	c, err := Open(dir, p, append([]Option{WithClock(clk.Now), WithNoSync()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustKey(t testing.TB) *keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// registration returns a regtest registration of name with key, PoW done.
func registration(t testing.TB, p *consensus.Params, name string, k *keys.PrivateKey) *consensus.Tx {
	t.Helper()
	tx, err := consensus.NewRegistration(name, k.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consensus.GrindRegistration(context.Background(), tx, p.TxBits, nil); err != nil {
		t.Fatal(err)
	}
	return tx
}

func replacement(t testing.TB, p *consensus.Params, name string, newKey, oldKey *keys.PrivateKey) *consensus.Tx {
	t.Helper()
	tx, err := consensus.NewKeyReplacement(name, newKey.PubKey(), oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consensus.GrindRegistration(context.Background(), tx, p.TxBits, nil); err != nil {
		t.Fatal(err)
	}
	return tx
}

func mine(t testing.TB, c *Chain) *consensus.Block {
	t.Helper()
	b, err := c.MineBlock(context.Background(), "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// template returns an unsolved next block holding txs after a nobody
// coinbase, for tests that break one rule at a time.
func template(t testing.TB, c *Chain, txs ...*consensus.Tx) *consensus.Block {
	t.Helper()
	b, err := c.NewBlockTemplate("", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	b.Txs = append(b.Txs[:1], txs...)
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

// childOf builds an unsolved block on top of parent (at parentHeight) for
// side branches, with the regtest bits.
func childOf(t testing.TB, parent consensus.Hash, parentHeight int64, when uint32, salt byte, txs ...*consensus.Tx) *consensus.Block {
	t.Helper()
	cb, err := consensus.NewCoinbase("", "", nil, [4]byte{salt, 1, 2, 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := &consensus.Block{Txs: append([]*consensus.Tx{cb}, txs...)}
	b.Header = consensus.Header{Version: 2, Height: int32(parentHeight + 1), PrevBlock: parent, Time: when, Bits: 0x207fffff}
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	return b
}

func solve(t testing.TB, b *consensus.Block) *consensus.Block {
	t.Helper()
	if err := consensus.SolveBlock(context.Background(), b, consensus.Regtest.PowLimit); err != nil {
		t.Fatal(err)
	}
	return b
}

// breakPoW sets a nonce whose scrypt hash is above the target.
func breakPoW(t testing.TB, b *consensus.Block) {
	t.Helper()
	for n := uint32(0); n < 1000; n++ {
		b.Header.Nonce = n
		if consensus.CheckProofOfWork(b.Header.PoWHash(), b.Header.Bits, consensus.Regtest.PowLimit) != nil {
			return
		}
	}
	t.Fatal("no failing nonce found")
}

func wantReason(t testing.TB, err error, r consensus.Reason) {
	t.Helper()
	if !errors.Is(err, r) {
		t.Fatalf("got %v, want reason %s", err, r)
	}
	var re *consensus.RuleError
	if !errors.As(err, &re) || re.Detail == "" {
		t.Fatalf("error %v is not a RuleError with detail", err)
	}
}
