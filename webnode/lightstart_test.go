package webnode

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
)

// storedHeaders builds n regtest headers on the genesis block and stores
// them as the node does (chunks of headerChunk).
func storedHeaders(tb testing.TB, n int) *MemStore {
	st := NewMemStore()
	var raw []byte
	parent := consensus.Regtest.GenesisBlock
	for i := range n {
		cb, err := consensus.NewCoinbase("", "", nil, [4]byte{byte(i), byte(i >> 8)}, 1)
		if err != nil {
			tb.Fatal(err)
		}
		blk := &consensus.Block{Txs: []*consensus.Tx{cb}}
		blk.Header = consensus.Header{Version: 2, Height: int32(i + 1), PrevBlock: parent.Hash(),
			Time: parent.Header.Time + 600, Bits: 0x207fffff}
		blk.Header.MerkleRoot = blk.ComputeMerkleRoot()
		if err := consensus.SolveBlock(tb.Context(), blk, consensus.Regtest.PowLimit); err != nil {
			tb.Fatal(err)
		}
		raw = blk.Header.AppendTo(raw)
		if (i+1)%headerChunk == 0 || i == n-1 {
			st.PutKV(headerKey(i/headerChunk), raw)
			raw = nil
		}
		parent = blk
	}
	return st
}

func loadChain(st Store) *lightChain {
	c := newLightChain(nil, st, consensus.Regtest, realClock{}, time.Second, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.load()
	return c
}

// Stored headers come back, tip included, over several chunks; a damaged
// chunk is dropped with the ones after it.
func TestLoadStoredHeaders(t *testing.T) {
	st := storedHeaders(t, headerChunk+10)
	if c := loadChain(st); c.Height() != headerChunk+10 {
		t.Fatalf("loaded to height %d, want %d", c.Height(), headerChunk+10)
	}
	b, _, _ := st.GetKV(headerKey(1))
	b[84*3+4] ^= 1 // a link of the second chunk
	st.PutKV(headerKey(1), b)
	if c := loadChain(st); c.Height() != headerChunk+3 {
		t.Fatalf("damaged chunk: loaded to height %d, want %d", c.Height(), headerChunk+3)
	}
	if _, ok, _ := st.GetKV(headerKey(1)); ok {
		t.Fatal("the damaged chunk was kept")
	}
}

// BenchmarkLightChainStart measures a returning visitor's light chain
// start: loading 2,000 stored headers (one chunk).
func BenchmarkLightChainStart(b *testing.B) {
	st := storedHeaders(b, headerChunk)
	b.ResetTimer()
	for b.Loop() {
		if c := loadChain(st); c.Height() != headerChunk {
			b.Fatalf("loaded to %d", c.Height())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
}
