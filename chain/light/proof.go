package light

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// ProofEntry is one registration (or key replacement) of a name: the
// transaction, its position in its block and the merkle branch that links
// it to the header at Height.
type ProofEntry struct {
	Height    int64
	BlockHash consensus.Hash
	TxIndex   int
	Tx        *consensus.Tx
	Branch    []consensus.Hash
}

// UserProof is every registration a full node holds for Name, oldest first:
// the first registration, then each key replacement.
type UserProof struct {
	Name    string
	Entries []ProofEntry
}

// Limits of a decoded proof.
const (
	MaxProofEntries = 1000
	maxBranch       = 32
)

// ErrBadProof is wrapped by every proof that fails to verify or decode.
var ErrBadProof = errors.New("light: bad user proof")

func proofErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadProof, fmt.Sprintf(format, args...))
}

// VerifyUserProof checks a proof against the best header chain and returns
// the key history it establishes:
//
//   - every entry's header is on the client's best chain at its height
//     with its hash, and its merkle branch links the transaction at
//     TxIndex (never 0, the coinbase) to that header's merkle root;
//   - every transaction is a valid registration of Name (username rules,
//     size, proof of work against the network's tx bits);
//   - heights increase, and each later entry is either the very same
//     transaction or a key replacement signed by the previous entry's key.
//
// See the package doc for what a proof cannot show.
func (hc *HeaderChain) VerifyUserProof(p *UserProof) (keys.KeyHistory, error) {
	if p == nil || len(p.Entries) == 0 {
		return nil, proofErr("no registrations of %q", nameOf(p))
	}
	var hist keys.KeyHistory
	var prev *ProofEntry
	for i := range p.Entries {
		e := &p.Entries[i]
		if e.Tx == nil {
			return nil, proofErr("entry %d has no transaction", i)
		}
		hdr, hash, ok := hc.HeaderAt(e.Height)
		if !ok {
			return nil, proofErr("entry %d: no verified header at height %d", i, e.Height)
		}
		if hash != e.BlockHash {
			return nil, proofErr("entry %d: block %s is not the best-chain block %s at height %d", i, e.BlockHash, hash, e.Height)
		}
		if e.TxIndex <= 0 {
			return nil, proofErr("entry %d: transaction index %d", i, e.TxIndex)
		}
		if !consensus.VerifyMerkleBranch(e.Tx.Hash(), e.Branch, e.TxIndex, hdr.MerkleRoot) {
			return nil, proofErr("entry %d: merkle branch does not lead to block %s", i, hash)
		}
		if e.Tx.IsCoinbase() {
			return nil, proofErr("entry %d is a promoted message, not a registration", i)
		}
		if err := consensus.CheckTransaction(hc.params, e.Tx); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrBadProof, i, err)
		}
		if got := e.Tx.Username(); got != p.Name {
			return nil, proofErr("entry %d registers %q, not %q", i, got, p.Name)
		}
		if prev != nil {
			if e.Height <= prev.Height {
				return nil, proofErr("entry %d at height %d is not after %d", i, e.Height, prev.Height)
			}
			if e.Tx.Hash() != prev.Tx.Hash() {
				if err := consensus.VerifyReplacement(e.Tx, prev.Tx.Key()); err != nil {
					return nil, fmt.Errorf("%w: entry %d: %w", ErrBadProof, i, err)
				}
			}
		}
		hist = append(hist, keys.KeyEntry{Height: e.Height, Key: e.Tx.Key()})
		prev = e
	}
	return hist, nil
}

func nameOf(p *UserProof) string {
	if p == nil {
		return ""
	}
	return p.Name
}

// proofMagic opens an encoded proof.
var proofMagic = [4]byte{'T', 'W', 'U', 'P'}

// Bytes encodes the proof for transport:
//
//	"TWUP" ‖ varstr(name) ‖ CompactSize(n) ‖ n × entry
//	entry = u32 height ‖ hash[32] block ‖ u32 txIndex ‖ varstr(tx) ‖ CompactSize(m) ‖ m × hash[32]
//
// (integers little-endian, varstr = CompactSize length ‖ bytes).
func (p *UserProof) Bytes() []byte {
	b := append([]byte(nil), proofMagic[:]...)
	b = consensus.AppendCompactSize(b, uint64(len(p.Name)))
	b = append(b, p.Name...)
	b = consensus.AppendCompactSize(b, uint64(len(p.Entries)))
	for _, e := range p.Entries {
		b = binary.LittleEndian.AppendUint32(b, uint32(e.Height))
		b = append(b, e.BlockHash[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(e.TxIndex))
		raw := e.Tx.Bytes()
		b = consensus.AppendCompactSize(b, uint64(len(raw)))
		b = append(b, raw...)
		b = consensus.AppendCompactSize(b, uint64(len(e.Branch)))
		for _, h := range e.Branch {
			b = append(b, h[:]...)
		}
	}
	return b
}

// DecodeUserProof parses an encoded proof (it does not verify it).
func DecodeUserProof(b []byte) (*UserProof, error) {
	r := reader{b: b}
	if m := r.take(4); m == nil || [4]byte(m) != proofMagic {
		return nil, proofErr("missing TWUP magic")
	}
	name := r.varBytes(consensus.MaxUsernameSize)
	n := r.count(MaxProofEntries)
	p := &UserProof{Name: string(name)}
	for i := 0; i < n && r.err == nil; i++ {
		var e ProofEntry
		e.Height = int64(r.u32())
		copy(e.BlockHash[:], r.take(32))
		e.TxIndex = int(r.u32())
		raw := r.varBytes(consensus.MaxStandardTxSize)
		m := r.count(maxBranch)
		for j := 0; j < m && r.err == nil; j++ {
			var h consensus.Hash
			copy(h[:], r.take(32))
			e.Branch = append(e.Branch, h)
		}
		if r.err != nil {
			break
		}
		tx, err := consensus.DecodeTx(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrBadProof, i, err)
		}
		e.Tx = tx
		p.Entries = append(p.Entries, e)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, proofErr("%d trailing bytes", len(r.b))
	}
	return p, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = proofErr("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// count reads a CompactSize no larger than max.
func (r *reader) count(max int) int {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = proofErr("truncated")
		return 0
	}
	var n uint64
	switch r.b[0] {
	case 0xfd:
		b := r.take(3)
		if b == nil {
			return 0
		}
		n = uint64(binary.LittleEndian.Uint16(b[1:]))
	case 0xfe, 0xff:
		r.err = proofErr("count too large")
		return 0
	default:
		n = uint64(r.take(1)[0])
	}
	if n > uint64(max) {
		r.err = proofErr("count %d above %d", n, max)
		return 0
	}
	return int(n)
}

func (r *reader) varBytes(max int) []byte {
	n := r.count(max)
	return r.take(n)
}
