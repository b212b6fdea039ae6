package consensus

// hashPair returns SHA256d(a ‖ b).
func hashPair(a, b Hash) Hash {
	var buf [64]byte
	copy(buf[:32], a[:])
	copy(buf[32:], b[:])
	return DoubleSHA256(buf[:])
}

// MerkleRoot computes Bitcoin's merkle root of tx ids (pairwise SHA256d,
// the last element of an odd level paired with itself). It returns the
// zero hash for no ids.
func MerkleRoot(txids []Hash) Hash {
	if len(txids) == 0 {
		return ZeroHash
	}
	level := append([]Hash(nil), txids...)
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			j := min(i+1, len(level)-1)
			next = append(next, hashPair(level[i], level[j]))
		}
		level = next
	}
	return level[0]
}

// MerkleBranch returns the hashes that link txids[index] to the merkle
// root, from the leaf level up (CBlock::GetMerkleBranch). It returns nil
// if index is out of range.
func MerkleBranch(txids []Hash, index int) []Hash {
	if index < 0 || index >= len(txids) {
		return nil
	}
	branch := []Hash{}
	level := append([]Hash(nil), txids...)
	for len(level) > 1 {
		sib := min(index^1, len(level)-1)
		branch = append(branch, level[sib])
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			j := min(i+1, len(level)-1)
			next = append(next, hashPair(level[i], level[j]))
		}
		level = next
		index >>= 1
	}
	return branch
}

// MerkleBranchRoot folds a branch from leaf at index up to a root
// (CBlock::CheckMerkleBranch).
func MerkleBranchRoot(leaf Hash, branch []Hash, index int) Hash {
	h := leaf
	for _, b := range branch {
		if index&1 == 1 {
			h = hashPair(b, h)
		} else {
			h = hashPair(h, b)
		}
		index >>= 1
	}
	return h
}

// VerifyMerkleBranch tells whether branch links leaf, at position index, to
// root. The index must be non-negative and fit in the branch depth.
func VerifyMerkleBranch(leaf Hash, branch []Hash, index int, root Hash) bool {
	if index < 0 || len(branch) > 32 || (len(branch) < 63 && index>>len(branch) != 0) {
		return false
	}
	return MerkleBranchRoot(leaf, branch, index) == root
}
