package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gotwister/twister/bencode"
)

func TestPromotedRoundTrip(t *testing.T) {
	cbs := []Coinbase{
		{Height: 7, Tx: []byte("coinbase seven"), Branch: [][32]byte{{1}, {2, 3}}},
		{Height: 6, Tx: []byte("six"), Branch: [][32]byte{}},
	}
	got, tip, err := DecodePromoted(PromotedResult(cbs, 9))
	if err != nil || tip != 9 || len(got) != 2 {
		t.Fatalf("decode: %v %d %v", got, tip, err)
	}
	for i := range cbs {
		if got[i].Height != cbs[i].Height || !bytes.Equal(got[i].Tx, cbs[i].Tx) || len(got[i].Branch) != len(cbs[i].Branch) {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], cbs[i])
		}
		for j := range cbs[i].Branch {
			if got[i].Branch[j] != cbs[i].Branch[j] {
				t.Fatalf("entry %d branch %d differs", i, j)
			}
		}
	}
	// Through the wire: bencode and back.
	v, err := bencode.Decode(bencode.Encode(PromotedResult(cbs, 9)))
	if err != nil {
		t.Fatal(err)
	}
	if again, _, err := DecodePromoted(v); err != nil || len(again) != 2 {
		t.Fatalf("after bencode: %v %v", again, err)
	}
}

func TestDecodePromotedRejects(t *testing.T) {
	bad := map[string]bencode.Value{
		"no blocks":      Dict("tip", 1),
		"no tip":         Dict("blocks", []bencode.Value{}),
		"entry not dict": Dict("blocks", []bencode.Value{bencode.NewInt(1)}, "tip", 1),
		"negative h":     Dict("blocks", []bencode.Value{Dict("h", -1, "tx", []byte("x"), "br", []byte{})}, "tip", 1),
		"empty tx":       Dict("blocks", []bencode.Value{Dict("h", 1, "tx", []byte{}, "br", []byte{})}, "tip", 1),
		"huge tx":        Dict("blocks", []bencode.Value{Dict("h", 1, "tx", make([]byte, MaxCoinbaseSize+1), "br", []byte{})}, "tip", 1),
		"ragged branch":  Dict("blocks", []bencode.Value{Dict("h", 1, "tx", []byte("x"), "br", make([]byte, 33))}, "tip", 1),
		"deep branch":    Dict("blocks", []bencode.Value{Dict("h", 1, "tx", []byte("x"), "br", make([]byte, 32*(MaxBranchDepth+1)))}, "tip", 1),
		"missing br":     Dict("blocks", []bencode.Value{Dict("h", 1, "tx", []byte("x"))}, "tip", 1),
		"not a dict":     bencode.NewInt(3),
	}
	many := make([]bencode.Value, MaxPromotedBlocks+1)
	for i := range many {
		many[i] = Dict("h", i, "tx", []byte("x"), "br", []byte{})
	}
	bad["too many"] = Dict("blocks", many, "tip", 1)
	for name, v := range bad {
		if _, _, err := DecodePromoted(v); !errors.Is(err, ErrBadArgs) {
			t.Errorf("%s: %v, want ErrBadArgs", name, err)
		}
	}
}

// FuzzDecodePromoted feeds arbitrary bencode to DecodePromoted: it never
// panics, errors wrap ErrBadArgs, and what it accepts encodes back to an
// answer that decodes to the same entries.
func FuzzDecodePromoted(f *testing.F) {
	f.Add(bencode.Encode(PromotedResult([]Coinbase{{Height: 3, Tx: []byte("tx"), Branch: [][32]byte{{9}}}}, 3)))
	f.Add([]byte("d6:blocksle3:tipi0ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := bencode.Decode(b)
		if err != nil {
			return
		}
		cbs, tip, err := DecodePromoted(v)
		if err != nil {
			if !errors.Is(err, ErrBadArgs) {
				t.Fatalf("error %v does not wrap ErrBadArgs", err)
			}
			return
		}
		again, tip2, err := DecodePromoted(PromotedResult(cbs, tip))
		if err != nil || tip2 != tip || len(again) != len(cbs) {
			t.Fatalf("re-encoded answer: %v %d %v", again, tip2, err)
		}
		for i := range cbs {
			if again[i].Height != cbs[i].Height || !bytes.Equal(again[i].Tx, cbs[i].Tx) || len(again[i].Branch) != len(cbs[i].Branch) {
				t.Fatalf("entry %d changed", i)
			}
		}
	})
}
