package p2p

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
)

// spacedChain returns a regtest chain of n blocks whose timestamps are
// 600 s apart from the genesis block's (2011), so that the retargets keep
// the easiest target: blocks mined seconds apart would make every 2016th
// block quadruple the work (the unmodified Bitcoin rule applies on regtest
// too) and mining 10,000 of them would take minutes.
func spacedChain(tb testing.TB, n int) *chain.Chain {
	tb.Helper()
	var clock atomic.Int64
	base := int64(consensus.Regtest.GenesisBlock.Header.Time)
	clock.Store(base + 600)
	c, err := chain.Open(tb.TempDir(), consensus.Regtest, chain.WithNoSync(),
		chain.WithClock(func() time.Time { return time.Unix(clock.Load(), 0) }))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	for i := range n {
		if _, err := c.MineBlock(context.Background(), "", nil, ""); err != nil {
			tb.Fatal(err)
		}
		clock.Store(base + 600*int64(i+2))
	}
	return c
}

// BenchmarkSync10k measures the initial download of 10,000 regtest blocks
// by a fresh node from another over loopback TCP (getblocks → inv →
// getdata → block, 20 batches joined by hashContinue), reporting blocks
// per second. Each block is fully validated, its scrypt proof of work
// included, and stored. Preparing the source chain takes a few seconds, so
// it is skipped with -short.
func BenchmarkSync10k(b *testing.B) {
	if testing.Short() {
		b.Skip("mines 10,000 blocks first")
	}
	const blocks = 10000
	mineStart := time.Now()
	src := spacedChain(b, blocks)
	b.Logf("mined %d blocks in %v", blocks, time.Since(mineStart))
	a := startNode(b, "127.0.2.90", src, nil)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		n := startNode(b, fmt.Sprintf("127.0.2.%d", 91+i%100), nil, connectTo(a.addr))
		waitFor(b, 10*time.Minute, "sync", func() bool { return n.chain.Height() == blocks })
		el := time.Since(start)
		b.ReportMetric(float64(blocks)/el.Seconds(), "blocks/s")
		b.StopTimer()
		if n.chain.Tip().Hash != src.Tip().Hash {
			b.Fatal("synced to another tip")
		}
		n.node.Close()
		b.StartTimer()
	}
}
