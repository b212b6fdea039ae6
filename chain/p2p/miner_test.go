package p2p

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

func newTestMiner(t *testing.T, cfg MinerConfig) *Miner {
	t.Helper()
	m, err := NewMiner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func waitMiner(t *testing.T, m *Miner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Wait(ctx); err != nil {
		t.Fatal("miner did not stop:", err)
	}
}

// TestMinerRegtestGenerate: twisterd's regtest setgenerate mines exactly
// genproclimit blocks and keeps reporting generate=true.
func TestMinerRegtestGenerate(t *testing.T) {
	c := openChain(t)
	var announced atomic.Int64
	m := newTestMiner(t, MinerConfig{Chain: c, Broadcast: func(consensus.Hash) { announced.Add(1) }})
	if m.Generate() || m.ProcLimit() != -1 || m.HashesPerSec() != 0 {
		t.Fatalf("fresh miner: generate %v limit %d hps %d", m.Generate(), m.ProcLimit(), m.HashesPerSec())
	}
	m.SetProcLimit(1)
	m.SetGenerate(true)
	waitMiner(t, m)
	if c.Height() != 1 || !m.Generate() || m.Working() {
		t.Fatalf("after setgenerate true 1: height %d generate %v working %v", c.Height(), m.Generate(), m.Working())
	}
	if size, txs := m.LastTemplate(); size != 1000 || txs != 0 {
		t.Fatalf("currentblocksize/tx = %d/%d, want 1000/0", size, txs)
	}

	m.SetProcLimit(3)
	m.SetGenerate(true)
	waitMiner(t, m)
	if c.Height() != 4 {
		t.Fatalf("after setgenerate true 3: height %d, want 4", c.Height())
	}
	if announced.Load() != 4 || m.BlocksMined() != 4 {
		t.Fatalf("broadcast %d, mined %d, want 4", announced.Load(), m.BlocksMined())
	}
	m.SetGenerate(false)
	if m.Generate() {
		t.Fatal("generate still true after setgenerate false")
	}
	m.SetProcLimit(0)
	m.SetGenerate(true)
	if m.Generate() || m.Working() {
		t.Fatal("genproclimit 0 must leave generation off")
	}
	time.Sleep(50 * time.Millisecond)
	if c.Height() != 4 {
		t.Fatal("mined with genproclimit 0")
	}
}

// TestMinerContinuous mines without stopping until setgenerate false, and
// measures its hash rate.
func TestMinerContinuous(t *testing.T) {
	c := openChain(t)
	m := newTestMiner(t, MinerConfig{Chain: c, Continuous: true, MeterWindow: 100 * time.Millisecond})
	m.SetGenerate(true)
	waitFor(t, 20*time.Second, "20 blocks and a hash rate", func() bool { return c.Height() >= 20 && m.HashesPerSec() > 0 })
	t.Logf("hash rate %d/s", m.HashesPerSec())
	m.SetGenerate(false)
	waitMiner(t, m)
	h := c.Height()
	time.Sleep(100 * time.Millisecond)
	if c.Height() != h {
		t.Fatal("still mining after setgenerate false")
	}
	if got := m.HashesPerSec(); got != 0 {
		// 2 windows after the last hash the rate reads 0.
		time.Sleep(250 * time.Millisecond)
		if got = m.HashesPerSec(); got != 0 {
			t.Fatalf("stale hash rate %d", got)
		}
	}
}

// otherNet presents a regtest chain as another network, to exercise the
// non-regtest behaviour (continuous mining, waiting for peers).
type otherNet struct {
	*chain.Chain
	p *consensus.Params
}

func (o otherNet) Params() *consensus.Params { return o.p }

func TestMinerWaitsForPeersOutsideRegtest(t *testing.T) {
	c := openChain(t)
	p := *consensus.Regtest
	p.Name = "devnet"
	var peers atomic.Int64
	m := newTestMiner(t, MinerConfig{Chain: otherNet{c, &p}, Peers: func() int { return int(peers.Load()) }})
	m.SetProcLimit(1)
	m.SetGenerate(true)
	time.Sleep(300 * time.Millisecond)
	if c.Height() != 0 {
		t.Fatal("mined without a peer")
	}
	peers.Store(1)
	waitFor(t, 20*time.Second, "continuous mining", func() bool { return c.Height() >= 3 })
	m.SetGenerate(false)
	waitMiner(t, m)
}

func TestMinerPromotedMessage(t *testing.T) {
	c := openChain(t)
	m := newTestMiner(t, MinerConfig{Chain: c})
	if u, msg := m.Promoted(); u != "nobody" || msg != consensus.DefaultPromotedMessage {
		t.Fatalf("default promoted %q %q", u, msg)
	}
	bob := mustKey(t)
	if err := c.AcceptTx(registration(t, consensus.Regtest, "bob", bob)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.MineBlocks(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if size, txs := m.LastTemplate(); txs != 1 || size <= 1000 {
		t.Fatalf("template with bob's registration: %d bytes %d txs", size, txs)
	}
	m.SetPromoted("bob", bob, "Buy twister stickers [en]")
	hs, err := m.MineBlocks(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.BlockByHash(hs[0])
	if err != nil {
		t.Fatal(err)
	}
	pm := consensus.ParseCoinbase(b.Txs[0])
	if pm.User != "bob" || pm.Text != "Buy twister stickers [en]" || len(pm.Sig) != 65 {
		t.Fatalf("coinbase %+v", pm)
	}
	// A user that cannot sign: mined as nobody with the same text.
	m.SetPromoted("nosuchuser", nil, "x")
	hs, err = m.MineBlocks(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = c.BlockByHash(hs[0])
	if pm := consensus.ParseCoinbase(b.Txs[0]); pm.User != "nobody" || pm.Text != "x" || len(pm.Sig) != 0 {
		t.Fatalf("fallback coinbase %+v", pm)
	}
	if u, msg := m.Promoted(); u != "nosuchuser" || msg != "x" {
		t.Fatalf("promoted %q %q", u, msg)
	}
}

func TestMinerCancel(t *testing.T) {
	// A target no hash meets in time: the worker must stop on
	// setgenerate false. Use mainnet-like bits via a chain wrapper that
	// hands out hard templates.
	c := openChain(t)
	m := newTestMiner(t, MinerConfig{Chain: hardChain{c}, Continuous: true})
	m.SetGenerate(true)
	time.Sleep(100 * time.Millisecond)
	m.SetGenerate(false)
	waitMiner(t, m)
	if c.Height() != 0 {
		t.Fatal("a hard block was mined")
	}
}

// hardChain hands out templates with a near-impossible target.
type hardChain struct{ *chain.Chain }

func (h hardChain) NewBlockTemplate(user string, key *keys.PrivateKey, msg string) (*consensus.Block, error) {
	b, err := h.Chain.NewBlockTemplate(user, key, msg)
	if err == nil {
		b.Header.Bits = 0x1d00ffff
	}
	return b, err
}

// TestMineOnRegistration: the dev-network mode mines as soon as a
// registration is pooled.
func TestMineOnRegistration(t *testing.T) {
	c := openChain(t)
	m := newTestMiner(t, MinerConfig{Chain: c, PollInterval: time.Hour})
	m.SetMineOnRegistration(true)
	if !m.MineOnRegistration() {
		t.Fatal("mode not on")
	}
	k := mustKey(t)
	if err := c.AcceptTx(registration(t, consensus.Regtest, "carol", k)); err != nil {
		t.Fatal(err)
	}
	m.Notify()
	waitFor(t, 10*time.Second, "carol mined", func() bool {
		got, err := c.KeyAt("carol", -1)
		return err == nil && got.Equal(k.PubKey())
	})
	if c.Height() != 1 {
		t.Fatalf("height %d, want exactly one block", c.Height())
	}
	m.SetMineOnRegistration(false)
	if err := c.AcceptTx(registration(t, consensus.Regtest, "dave", mustKey(t))); err != nil {
		t.Fatal(err)
	}
	m.Notify()
	time.Sleep(100 * time.Millisecond)
	if c.Height() != 1 {
		t.Fatal("mined after the mode was turned off")
	}
}
