package wire

import (
	"fmt"

	"github.com/gotwister/twister/bencode"
)

// Limits of the promoted operation.
const (
	// MaxPromotedBlocks is the most blocks one promoted answer covers.
	MaxPromotedBlocks = 50
	// MaxCoinbaseSize bounds a coinbase transaction in an answer (a
	// consensus transaction is at most 512 bytes).
	MaxCoinbaseSize = 1024
	// MaxBranchDepth bounds a merkle branch (a 50,000-byte block holds
	// far fewer than 2^32 transactions).
	MaxBranchDepth = 32
)

// Coinbase is one block's promoted message as the promoted operation
// carries it: the block's height, its first transaction (the coinbase,
// serialized) and the merkle branch linking that transaction's id to the
// block header's merkle root (index 0, leaf level first). A client checks
// it against a header it verified itself; the bridge is not trusted.
type Coinbase struct {
	Height int64
	Tx     []byte
	Branch [][32]byte
}

// PromotedResult encodes the answer of promoted:
// {blocks: [{h, tx, br: 32·n bytes}…], tip}.
func PromotedResult(cbs []Coinbase, tip int64) bencode.Value {
	list := make([]bencode.Value, 0, len(cbs))
	for _, cb := range cbs {
		br := make([]byte, 0, 32*len(cb.Branch))
		for _, h := range cb.Branch {
			br = append(br, h[:]...)
		}
		list = append(list, Dict("h", cb.Height, "tx", cb.Tx, "br", br))
	}
	return Dict("blocks", list, "tip", tip)
}

// DecodePromoted reads the answer of promoted. Every entry needs a
// non-negative height h, a non-empty tx of at most MaxCoinbaseSize bytes
// and a branch br of whole 32-byte hashes (at most MaxBranchDepth); at
// most MaxPromotedBlocks entries. Errors wrap ErrBadArgs.
func DecodePromoted(r bencode.Value) (cbs []Coinbase, tip int64, err error) {
	a := ArgsOf(r)
	blocks, tip := a.List("blocks", true), a.Int("tip", true)
	if err := a.Err(); err != nil {
		return nil, 0, err
	}
	if len(blocks) > MaxPromotedBlocks {
		return nil, 0, fmt.Errorf("%w: %d blocks (at most %d)", ErrBadArgs, len(blocks), MaxPromotedBlocks)
	}
	for i, b := range blocks {
		if b.Kind != bencode.Dict {
			return nil, 0, fmt.Errorf("%w: blocks[%d] is not a dictionary", ErrBadArgs, i)
		}
		e := ArgsOf(b)
		h, tx, br := e.Int("h", true), e.Bytes("tx", true), e.Bytes("br", true)
		if err := e.Err(); err != nil {
			return nil, 0, fmt.Errorf("blocks[%d]: %w", i, err)
		}
		switch {
		case h < 0:
			return nil, 0, fmt.Errorf("%w: blocks[%d]: negative height %d", ErrBadArgs, i, h)
		case len(tx) == 0 || len(tx) > MaxCoinbaseSize:
			return nil, 0, fmt.Errorf("%w: blocks[%d]: tx of %d bytes", ErrBadArgs, i, len(tx))
		case len(br)%32 != 0 || len(br)/32 > MaxBranchDepth:
			return nil, 0, fmt.Errorf("%w: blocks[%d]: branch of %d bytes is not up to %d hashes of 32 bytes", ErrBadArgs, i, len(br), MaxBranchDepth)
		}
		cb := Coinbase{Height: h, Tx: tx, Branch: make([][32]byte, len(br)/32)}
		for j := range cb.Branch {
			copy(cb.Branch[j][:], br[32*j:])
		}
		cbs = append(cbs, cb)
	}
	return cbs, tip, nil
}
