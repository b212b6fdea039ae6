package consensus

import (
	"fmt"
	"math/big"
)

var bigOne = big.NewInt(1)

// oneLsh256 is 2^256.
var oneLsh256 = new(big.Int).Lsh(bigOne, 256)

// CompactToTarget expands a compact "bits" value as CBigNum::SetCompact
// does: a 1-byte size, a sign bit and a 23-bit mantissa. A negative value is
// returned as negative; callers treat anything ≤ 0 as invalid.
func CompactToTarget(bits uint32) *big.Int {
	size := bits >> 24
	negative := bits&0x00800000 != 0
	word := bits & 0x007fffff
	n := new(big.Int)
	if size <= 3 {
		n.SetUint64(uint64(word >> (8 * (3 - size))))
	} else {
		n.SetUint64(uint64(word))
		n.Lsh(n, uint(8*(size-3)))
	}
	if negative && n.Sign() != 0 {
		n.Neg(n)
	}
	return n
}

// TargetToCompact packs a target as CBigNum::GetCompact does.
func TargetToCompact(n *big.Int) uint32 {
	abs := new(big.Int).Abs(n)
	size := uint32(len(abs.Bytes()))
	var compact uint32
	if size <= 3 {
		compact = uint32(abs.Uint64()) << (8 * (3 - size))
	} else {
		compact = uint32(new(big.Int).Rsh(abs, uint(8*(size-3))).Uint64())
	}
	if compact&0x00800000 != 0 {
		compact >>= 8
		size++
	}
	compact |= size << 24
	if n.Sign() < 0 {
		compact |= 0x00800000
	}
	return compact
}

// HashToBig reads a hash as the little-endian 256-bit number Bitcoin
// compares against targets (the display-order hex read as a number).
func HashToBig(h Hash) *big.Int {
	var be [32]byte
	for i := range h {
		be[31-i] = h[i]
	}
	return new(big.Int).SetBytes(be[:])
}

// CheckProofOfWork checks hash ≤ target(bits) and 0 < target ≤ limit
// (src/main.cpp: CheckProofOfWork()).
func CheckProofOfWork(hash Hash, bits uint32, limit *big.Int) error {
	target := CompactToTarget(bits)
	if target.Sign() <= 0 || target.Cmp(limit) > 0 {
		return fmt.Errorf("bits %08x are outside the allowed target range", bits)
	}
	if HashToBig(hash).Cmp(target) > 0 {
		return fmt.Errorf("hash %s is above the target of bits %08x", hash, bits)
	}
	return nil
}

// Work returns the expected number of hashes for a block with these bits,
// 2^256 / (target + 1) (CBlockIndex::GetBlockWork()); 0 for an invalid
// target.
func Work(bits uint32) *big.Int {
	target := CompactToTarget(bits)
	if target.Sign() <= 0 {
		return new(big.Int)
	}
	return new(big.Int).Div(oneLsh256, target.Add(target, bigOne))
}

// Difficulty returns bits as a multiple of the minimum difficulty 0x1d00ffff
// (rpcblockchain.cpp: GetDifficulty()), as getblock and getmininginfo show.
func Difficulty(bits uint32) float64 {
	shift := int(bits>>24) & 0xff
	mant := bits & 0x00ffffff
	if mant == 0 {
		return 0
	}
	d := float64(0x0000ffff) / float64(mant)
	for ; shift < 29; shift++ {
		d *= 256
	}
	for ; shift > 29; shift-- {
		d /= 256
	}
	return d
}
