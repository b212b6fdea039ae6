package light

import (
	"context"
	"errors"
	"testing"

	"github.com/gotwister/twister/chain/consensus"
)

// Stored headers come back to the same chain, proofs verify against them,
// and every rule but the proof of work still applies.
func TestAddStoredHeaders(t *testing.T) {
	m := newMini(t)
	k := key(t)
	m.add(1, reg(t, "sam", k))
	for i := range 5 {
		m.add(byte(10 + i))
	}
	checked := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := checked.AddHeaders(m.headers(1)); err != nil {
		t.Fatal(err)
	}
	stored := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := stored.AddStoredHeaders(m.headers(1)); err != nil {
		t.Fatal(err)
	}
	h1, t1 := checked.Tip()
	h2, t2 := stored.Tip()
	if h1 != h2 || t1 != t2 || t2 != 6 {
		t.Fatalf("tips differ: %s %d vs %s %d", h1, t1, h2, t2)
	}
	if hist, err := stored.VerifyUserProof(m.prove("sam")); err != nil || !hist[0].Key.Equal(k.PubKey()) {
		t.Fatalf("proof against stored headers: %v", err)
	}
	// Network headers on top go through AddHeaders as usual.
	m.add(20)
	if err := stored.AddHeaders(m.headers(7)); err != nil {
		t.Fatal(err)
	}

	// Contextual rules still apply to stored headers.
	bad := m.headers(1)
	bad[2].Height = 99
	fresh := NewHeaderChain(consensus.Regtest, WithClock(clock))
	if err := fresh.AddStoredHeaders(bad); !errors.Is(err, consensus.ReasonBadHeight) {
		t.Fatalf("wrong height: %v", err)
	}
	if _, ht := fresh.Tip(); ht != 2 {
		t.Fatalf("headers before the bad one kept: tip %d", ht)
	}
	gap := m.headers(1)
	gap = append(gap[:1], gap[2:]...)
	if err := NewHeaderChain(consensus.Regtest, WithClock(clock)).AddStoredHeaders(gap); !errors.Is(err, consensus.ReasonMissingAncestor) {
		t.Fatalf("gap: %v", err)
	}
}

// BenchmarkAddHeaders compares starting a chain of 500 headers from the
// network (scrypt checked) and from storage.
func BenchmarkAddHeaders(b *testing.B) {
	hs := make([]consensus.Header, 0, 500)
	parent := consensus.Regtest.GenesisBlock
	for i := range 500 {
		cb, err := consensus.NewCoinbase("", "", nil, [4]byte{byte(i), byte(i >> 8)}, 1)
		if err != nil {
			b.Fatal(err)
		}
		blk := &consensus.Block{Txs: []*consensus.Tx{cb}}
		blk.Header = consensus.Header{Version: 2, Height: int32(i + 1), PrevBlock: parent.Hash(),
			Time: parent.Header.Time + 600, Bits: 0x207fffff}
		blk.Header.MerkleRoot = blk.ComputeMerkleRoot()
		if err := consensus.SolveBlock(context.Background(), blk, consensus.Regtest.PowLimit); err != nil {
			b.Fatal(err)
		}
		hs = append(hs, blk.Header)
		parent = blk
	}
	b.Run("network", func(b *testing.B) {
		for b.Loop() {
			if err := NewHeaderChain(consensus.Regtest, WithClock(clock)).AddHeaders(hs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(hs)*b.N)/b.Elapsed().Seconds(), "headers/s")
	})
	b.Run("stored", func(b *testing.B) {
		for b.Loop() {
			if err := NewHeaderChain(consensus.Regtest, WithClock(clock)).AddStoredHeaders(hs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(hs)*b.N)/b.Elapsed().Seconds(), "headers/s")
	})
}
