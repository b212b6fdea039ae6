package consensus

import (
	"context"
	"fmt"
	"math/big"
	"runtime"
)

// SolveBlock grinds b's header nonce until its scrypt hash meets its bits;
// when every nonce failed it raises the coinbase's extra nonce (recomputing
// the merkle root) and starts over, as twisterd's miner does. The context
// is checked every 256 hashes.
func SolveBlock(ctx context.Context, b *Block, limit *big.Int) error {
	target := CompactToTarget(b.Header.Bits)
	if target.Sign() <= 0 || target.Cmp(limit) > 0 {
		return fmt.Errorf("consensus: bits %08x are outside the allowed target range", b.Header.Bits)
	}
	var tgt Hash
	fillLE(tgt[:], target)
	extra := uint32(1)
	if len(b.Txs) > 0 && b.Txs[0].IsCoinbase() {
		if n := ParseCoinbase(b.Txs[0]).ExtraNonce; len(n) > 0 && len(n) <= 4 {
			extra = 0
			for i := len(n) - 1; i >= 0; i-- {
				extra = extra<<8 | uint32(n[i])
			}
		}
	}
	for {
		hdr := b.Header.Serialize()
		for nonce := uint64(b.Header.Nonce); nonce <= 0xffffffff; nonce++ {
			hdr[80], hdr[81], hdr[82], hdr[83] = byte(nonce), byte(nonce>>8), byte(nonce>>16), byte(nonce>>24)
			if !lessLE(tgt, ScryptHash(hdr[:])) {
				b.Header.Nonce = uint32(nonce)
				return nil
			}
			if nonce%256 == 255 {
				runtime.Gosched() // let timers run under js/wasm
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if len(b.Txs) == 0 || !b.Txs[0].IsCoinbase() {
			return fmt.Errorf("consensus: no nonce solves block and there is no coinbase to vary")
		}
		extra++
		SetExtraNonce(b.Txs[0], extra)
		b.Header.MerkleRoot = b.ComputeMerkleRoot()
		b.Header.Nonce = 0
	}
}
