package consensus

import (
	"math/big"
	"sort"

	"github.com/gotwister/twister/keys"
)

// CheckBlockSanity applies the context-free block rules of
// src/main.cpp: CheckBlock(), in the reference's order: size, proof of
// work, time not more than MaxFutureBlock after now (adjusted network time,
// Unix seconds), coinbase first and only first, CheckTransaction on every
// transaction, no duplicate tx ids, no two registrations of one name, and
// the merkle root.
func CheckBlockSanity(p *Params, b *Block, now int64) error {
	if len(b.Txs) == 0 || len(b.Txs) > MaxBlockSize {
		return ruleErr(ReasonBlockSize, "block has %d transactions", len(b.Txs))
	}
	if n := b.SerializeSize(); n > MaxBlockSize {
		return ruleErr(ReasonBlockSize, "block has %d bytes, more than %d", n, MaxBlockSize)
	}
	if err := CheckProofOfWork(b.Header.PoWHash(), b.Header.Bits, p.PowLimit); err != nil {
		return ruleErr(ReasonBadBlockPoW, "block %s: %v", b.Hash(), err)
	}
	if int64(b.Header.Time) > now+p.MaxFutureBlock {
		return ruleErr(ReasonTimeTooNew, "block time %d is more than %d s after now (%d)", b.Header.Time, p.MaxFutureBlock, now)
	}
	if !b.Txs[0].IsCoinbase() {
		return ruleErr(ReasonNoCoinbase, "first transaction is not a promoted message")
	}
	for i, tx := range b.Txs[1:] {
		if tx.IsCoinbase() {
			return ruleErr(ReasonExtraCoinbase, "transaction %d is a second promoted message", i+1)
		}
	}
	for _, tx := range b.Txs {
		if err := CheckTransaction(p, tx); err != nil {
			return err
		}
	}
	ids := b.TxHashes()
	seen := make(map[Hash]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			return ruleErr(ReasonDuplicateTx, "transaction %s appears twice", id)
		}
		seen[id] = struct{}{}
	}
	users := make(map[string]struct{}, len(b.Txs))
	for _, tx := range b.Txs[1:] {
		u := tx.Username()
		if _, dup := users[u]; dup {
			return ruleErr(ReasonDuplicateUserBlock, "two registrations of %q in one block", u)
		}
		users[u] = struct{}{}
	}
	if root := MerkleRoot(ids); root != b.Header.MerkleRoot {
		return ruleErr(ReasonBadMerkleRoot, "merkle root is %s, header says %s", root, b.Header.MerkleRoot)
	}
	return nil
}

// Ancestors gives the headers of the branch a new header extends, by height.
// Ancestor(h) returns the header at height h on that branch (the parent at
// the parent's height), false if it is not available (below a light
// client's checkpoint).
type Ancestors interface {
	Ancestor(height int64) (*Header, bool)
}

// MedianTimePast returns the median time of the up to MedianTimeSpan
// headers ending at height tip (CBlockIndex::GetMedianTimePast()).
func MedianTimePast(p *Params, tip int64, anc Ancestors) int64 {
	times := make([]int64, 0, p.MedianTimeSpan)
	for h := tip; h >= 0 && h > tip-int64(p.MedianTimeSpan); h-- {
		hd, ok := anc.Ancestor(h)
		if !ok {
			break
		}
		times = append(times, int64(hd.Time))
	}
	if len(times) == 0 {
		return 0
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

// NextBits returns the bits required of the block after parent, at height
// parentHeight (src/main.cpp: GetNextWorkRequired(), Bitcoin's rule):
// unchanged except at heights divisible by RetargetInterval, where the
// target is scaled by the time the previous RetargetInterval−1 blocks took
// against TargetTimespan, clamped to ×4 / ÷4 and capped at PowLimit.
func NextBits(p *Params, parentHeight int64, parent *Header, anc Ancestors) (uint32, error) {
	if (parentHeight+1)%p.RetargetInterval != 0 {
		return parent.Bits, nil
	}
	firstHeight := parentHeight - (p.RetargetInterval - 1)
	first, ok := anc.Ancestor(firstHeight)
	if !ok {
		return 0, ruleErr(ReasonMissingAncestor, "header at height %d is needed to retarget", firstHeight)
	}
	return RetargetBits(p, parent.Bits, int64(parent.Time)-int64(first.Time)), nil
}

// RetargetBits computes a retarget from the last bits and the measured
// timespan of an interval.
func RetargetBits(p *Params, lastBits uint32, actual int64) uint32 {
	actual = max(actual, p.TargetTimespan/4)
	actual = min(actual, p.TargetTimespan*4)
	n := CompactToTarget(lastBits)
	n.Mul(n, big.NewInt(actual))
	n.Quo(n, big.NewInt(p.TargetTimespan))
	if n.Cmp(p.PowLimit) > 0 {
		n.Set(p.PowLimit)
	}
	return TargetToCompact(n)
}

// ComputeMinWork returns the easiest bits a block can have that comes
// elapsed seconds after a block with bits base (src/main.cpp:
// ComputeMinWork(), used against the last checkpoint).
func ComputeMinWork(p *Params, base uint32, elapsed int64) uint32 {
	n := CompactToTarget(base)
	for elapsed > 0 && n.Cmp(p.PowLimit) < 0 {
		n.Lsh(n, 2)
		elapsed -= p.TargetTimespan * 4
	}
	if n.Cmp(p.PowLimit) > 0 {
		n.Set(p.PowLimit)
	}
	return TargetToCompact(n)
}

// CheckHeaderContext applies the rules of src/main.cpp: AcceptBlock() to a
// header at parentHeight+1: the required bits, a time after the median
// time past, the hard checkpoints, version ≥ 2 and the height field.
func CheckHeaderContext(p *Params, h *Header, parentHeight int64, anc Ancestors) error {
	parent, ok := anc.Ancestor(parentHeight)
	if !ok {
		return ruleErr(ReasonMissingAncestor, "parent header at height %d is not available", parentHeight)
	}
	height := parentHeight + 1
	bits, err := NextBits(p, parentHeight, parent, anc)
	if err != nil {
		return err
	}
	if h.Bits != bits {
		return ruleErr(ReasonBadBits, "block at height %d has bits %08x, want %08x", height, h.Bits, bits)
	}
	if mtp := MedianTimePast(p, parentHeight, anc); int64(h.Time) <= mtp {
		return ruleErr(ReasonTimeTooOld, "block time %d is not after the median time past %d", h.Time, mtp)
	}
	if want, ok := p.CheckpointAt(height); ok && h.Hash() != want {
		return ruleErr(ReasonCheckpoint, "block at height %d is %s, checkpoint says %s", height, h.Hash(), want)
	}
	if h.Version < BlockVersion {
		return ruleErr(ReasonBadVersion, "block version %d is below %d", h.Version, BlockVersion)
	}
	if int64(h.Height) != height {
		return ruleErr(ReasonBadHeight, "block height field is %d, the block is at height %d", h.Height, height)
	}
	return nil
}

// Registration is a username's registration in effect on a branch.
type Registration struct {
	TxID   Hash
	Key    keys.PubKey
	Height int64
}

// UserState gives the registrations in effect at the tip of the branch a
// block is connected to.
type UserState interface {
	Registration(user string) (Registration, bool, error)
}

// CheckBlockUsers applies the username rules of src/main.cpp:
// ConnectBlock() to a non-genesis block connected on top of st: the
// promoted message is signed by its user's key (unless "nobody"), and
// every registration is of a new name, the very same transaction as the
// name's current registration, or a key replacement signed by the current
// key.
func CheckBlockUsers(b *Block, st UserState) error {
	cb := b.Txs[0]
	if u := ParseCoinbase(cb).User; u != NobodyUser {
		reg, ok, err := st.Registration(u)
		if err != nil {
			return err
		}
		if err := VerifyCoinbase(cb, reg.Key, ok); err != nil {
			return err
		}
	}
	for _, tx := range b.Txs[1:] {
		if err := CheckRegistrationAgainst(tx, st); err != nil {
			return err
		}
	}
	return nil
}

// CheckRegistrationAgainst checks a registration against the current
// state: a new name, the identical transaction already in effect, or a
// valid key replacement.
func CheckRegistrationAgainst(tx *Tx, st UserState) error {
	reg, ok, err := st.Registration(tx.Username())
	if err != nil || !ok {
		return err
	}
	if reg.TxID == tx.Hash() {
		return nil
	}
	return VerifyReplacement(tx, reg.Key)
}
