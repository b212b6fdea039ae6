package consensus

import (
	"bytes"
	"testing"
)

func FuzzDecodeBlock(f *testing.F) {
	f.Add(Mainnet.GenesisBlock.Bytes())
	f.Add(Regtest.GenesisBlock.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := DecodeBlock(b)
		if err != nil {
			return
		}
		// Re-encoding is canonical: decoding it again gives the same
		// block, and canonical input re-encodes to itself.
		again, err := DecodeBlock(blk.Bytes())
		if err != nil || again.Hash() != blk.Hash() || !bytes.Equal(again.Bytes(), blk.Bytes()) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
		_ = CheckBlockSanity(Regtest, blk, 0)
		for _, tx := range blk.Txs {
			_ = ParseCoinbase(tx)
			_ = tx.Key()
		}
	})
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(Mainnet.GenesisBlock.Txs[0].Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTx(b)
		if err != nil {
			return
		}
		again, err := DecodeTx(tx.Bytes())
		if err != nil || again.Hash() != tx.Hash() {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
		_ = CheckTransaction(Regtest, tx)
		_ = tx.Username()
		_, _ = ParsePushes(tx.PubKey)
		_ = VerifyReplacement(tx, Mainnet.GenesisBlock.Txs[0].PubKey)
	})
}

func FuzzDecodeHeader(f *testing.F) {
	h := Mainnet.GenesisBlock.Header.Serialize()
	f.Add(h[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		hd, err := DecodeHeader(b)
		if err != nil {
			if len(b) == HeaderSize {
				t.Fatal("84 bytes refused")
			}
			return
		}
		out := hd.Serialize()
		if !bytes.Equal(out[:], b) {
			t.Fatal("header does not round-trip")
		}
	})
}

func FuzzParsePushes(f *testing.F) {
	f.Add([]byte{0x06, 'n', 'o', 'b', 'o', 'd', 'y', 0x00, 0x04, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParsePushes(b)
		if err != nil {
			return
		}
		// Re-pushing the data parses back to the same data.
		again, err := ParsePushes(Pushes(ps...))
		if err != nil || len(again) != len(ps) {
			t.Fatalf("re-push: %v", err)
		}
		for i := range ps {
			if !bytes.Equal(ps[i], again[i]) {
				t.Fatal("data differs")
			}
		}
	})
}
