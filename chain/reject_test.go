package chain

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// TestRejections breaks each block rule once, on a chain where "alice" is
// registered, and checks the reason of the refusal and that the chain did
// not move.
func TestRejections(t *testing.T) {
	p := consensus.Regtest
	clk := newClock(regtestStart)
	c := openTest(t, "", p, clk)
	alice := mustKey(t)
	if err := c.AcceptTx(registration(t, p, "alice", alice)); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		mine(t, c)
	}
	tip := c.Tip()

	badTxPoW := func() *consensus.Tx {
		tx, _ := consensus.NewRegistration("bob", mustKey(t).PubKey())
		for n := uint32(0); ; n++ {
			tx.Nonce = n
			if consensus.CheckTxPoW(p, tx) != nil {
				return tx
			}
		}
	}
	grind := func(tx *consensus.Tx) *consensus.Tx {
		if _, err := consensus.GrindRegistration(context.Background(), tx, p.TxBits, nil); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	remerkle := func(b *consensus.Block) { b.Header.MerkleRoot = b.ComputeMerkleRoot() }
	coinbaseBy := func(b *consensus.Block, user string, k *keys.PrivateKey, text string) {
		cb, err := consensus.NewCoinbase(text, user, k, [4]byte{9, 9, 9, 9}, 1)
		if err != nil {
			t.Fatal(err)
		}
		b.Txs[0] = cb
		remerkle(b)
	}

	cases := []struct {
		name   string
		reason consensus.Reason
		build  func() *consensus.Block // returned solved unless noted
		raw    bool                    // block already final (do not solve)
	}{
		{"bad block PoW", consensus.ReasonBadBlockPoW, func() *consensus.Block {
			b := template(t, c)
			breakPoW(t, b)
			return b
		}, true},
		{"bad merkle root", consensus.ReasonBadMerkleRoot, func() *consensus.Block {
			b := template(t, c)
			b.Header.MerkleRoot[0] ^= 1
			return b
		}, false},
		{"duplicate username in block", consensus.ReasonDuplicateUserBlock, func() *consensus.Block {
			return template(t, c, registration(t, p, "bob", mustKey(t)), registration(t, p, "bob", mustKey(t)))
		}, false},
		{"duplicate txid", consensus.ReasonDuplicateTx, func() *consensus.Block {
			r := registration(t, p, "bob", mustKey(t))
			return template(t, c, r, r)
		}, false},
		{"name already registered", consensus.ReasonDuplicateName, func() *consensus.Block {
			return template(t, c, registration(t, p, "alice", mustKey(t)))
		}, false},
		{"replacement not signed by the old key", consensus.ReasonBadReplacement, func() *consensus.Block {
			return template(t, c, replacement(t, p, "alice", mustKey(t), mustKey(t)))
		}, false},
		{"replacement with a garbage signature", consensus.ReasonBadReplacement, func() *consensus.Block {
			tx, _ := consensus.NewRegistration("alice", mustKey(t).PubKey())
			tx.PubKey = consensus.AppendPush(tx.PubKey, bytes.Repeat([]byte{7}, 65))
			return template(t, c, grind(tx))
		}, false},
		{"bad registration PoW", consensus.ReasonBadTxPoW, func() *consensus.Block {
			return template(t, c, badTxPoW())
		}, false},
		{"oversized tx", consensus.ReasonTxTooBig, func() *consensus.Block {
			tx, _ := consensus.NewRegistration("bob", keys.PubKey(bytes.Repeat([]byte{2}, 600)))
			return template(t, c, grind(tx))
		}, false},
		{"bad username", consensus.ReasonBadUsername, func() *consensus.Block {
			tx := &consensus.Tx{Version: 1, UserName: consensus.AppendPush(nil, []byte("Bob")), PubKey: consensus.AppendPush(nil, mustKey(t).PubKey())}
			return template(t, c, grind(tx))
		}, false},
		{"oversized block", consensus.ReasonBlockSize, func() *consensus.Block {
			var txs []*consensus.Tx
			for i := range 110 {
				tx, _ := consensus.NewRegistration(fmt.Sprintf("u%d", i), keys.PubKey(bytes.Repeat([]byte{2}, 440)))
				txs = append(txs, grind(tx))
			}
			return template(t, c, txs...)
		}, false},
		{"first tx not coinbase", consensus.ReasonNoCoinbase, func() *consensus.Block {
			b := template(t, c)
			b.Txs[0] = registration(t, p, "bob", mustKey(t))
			remerkle(b)
			return b
		}, false},
		{"extra coinbase", consensus.ReasonExtraCoinbase, func() *consensus.Block {
			b := template(t, c)
			cb, _ := consensus.NewCoinbase("again", "", nil, [4]byte{1}, 7)
			b.Txs = append(b.Txs, cb)
			remerkle(b)
			return b
		}, false},
		{"promoted message too long", consensus.ReasonBadCoinbase, func() *consensus.Block {
			b := template(t, c)
			b.Txs[0].Message = consensus.AppendPush(nil, bytes.Repeat([]byte("é"), 141))
			remerkle(b)
			return b
		}, false},
		{"promoted message signed by another key", consensus.ReasonBadCoinbaseSig, func() *consensus.Block {
			b := template(t, c)
			coinbaseBy(b, "alice", mustKey(t), "hello")
			return b
		}, false},
		{"promoted message without signature", consensus.ReasonBadCoinbaseSig, func() *consensus.Block {
			b := template(t, c)
			coinbaseBy(b, "alice", alice, "hello")
			b.Txs[0].UserName = consensus.Pushes([]byte("alice"), nil, []byte{1, 2, 3, 4})
			remerkle(b)
			return b
		}, false},
		{"promoted message by an unknown user", consensus.ReasonBadCoinbaseSig, func() *consensus.Block {
			b := template(t, c)
			coinbaseBy(b, "zed", mustKey(t), "hello")
			return b
		}, false},
		{"wrong height field", consensus.ReasonBadHeight, func() *consensus.Block {
			b := template(t, c)
			b.Header.Height++
			return b
		}, false},
		{"wrong bits", consensus.ReasonBadBits, func() *consensus.Block {
			b := template(t, c)
			b.Header.Bits = 0x2000ffff
			return b
		}, false},
		{"bits above the limit", consensus.ReasonBadBlockPoW, func() *consensus.Block {
			b := template(t, c)
			b.Header.Bits = 0x2100ffff
			return b
		}, true},
		{"version 1", consensus.ReasonBadVersion, func() *consensus.Block {
			b := template(t, c)
			b.Header.Version = 1
			return b
		}, false},
		{"time not after median", consensus.ReasonTimeTooOld, func() *consensus.Block {
			b := template(t, c)
			b.Header.Time = uint32(c.MedianTimePast())
			return b
		}, false},
		{"time too far ahead", consensus.ReasonTimeTooNew, func() *consensus.Block {
			b := template(t, c)
			b.Header.Time = uint32(clk.Now().Unix() + 7201)
			return b
		}, false},
		{"no parent, zero prev", consensus.ReasonBadPrevBlock, func() *consensus.Block {
			b := template(t, c)
			b.Header.PrevBlock = consensus.Hash{}
			return b
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build()
			if !tc.raw {
				solve(t, b)
			}
			orphan, err := c.ProcessBlock(b)
			if orphan {
				t.Fatal("taken as an orphan")
			}
			wantReason(t, err, tc.reason)
			if c.Tip().Hash != tip.Hash {
				t.Fatal("tip moved")
			}
		})
	}
	// Malformed bytes never reach ProcessBlock: the decoder refuses them.
	good := solve(t, template(t, c))
	raw := good.Bytes()
	for _, cut := range []int{0, 10, 84, 85, len(raw) - 1} {
		if _, err := consensus.DecodeBlock(raw[:cut]); err == nil {
			t.Fatalf("truncated block (%d bytes) decoded", cut)
		}
	}
	if _, err := consensus.DecodeBlock(append(raw, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	// The good block still connects.
	if _, err := c.ProcessBlock(good); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpoints pins block 1 of a private network and checks that another
// block 1 is refused, as is a fork older than the checkpoint.
func TestCheckpoints(t *testing.T) {
	first := openTest(t, "", consensus.Regtest, nil)
	b1 := mine(t, first)

	p := *consensus.Regtest
	p.Checkpoints = []consensus.Checkpoint{{Height: 1, Hash: b1.Hash()}}
	clk := newClock(regtestStart)
	c := openTest(t, "", &p, clk)
	other := childOf(t, p.GenesisHash, 0, uint32(regtestStart), 42)
	solve(t, other)
	_, err := c.ProcessBlock(other)
	wantReason(t, err, consensus.ReasonCheckpoint)
	if _, err := c.ProcessBlock(b1); err != nil {
		t.Fatal(err)
	}
	// A fork from the genesis block, timed before the checkpoint.
	old := childOf(t, p.GenesisHash, 0, b1.Header.Time-1, 43)
	solve(t, old)
	_, err = c.ProcessBlock(old)
	wantReason(t, err, consensus.ReasonTooLittleWork)
}
