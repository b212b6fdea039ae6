package consensus

import "fmt"

// MaxBlockSize is the consensus limit on a serialized block (MAX_BLOCK_SIZE).
const MaxBlockSize = 50000

// Block is a header and its transactions, the first being the coinbase.
type Block struct {
	Header Header
	Txs    []*Tx
}

// Hash returns the block id (SHA256d of the header).
func (b *Block) Hash() Hash { return b.Header.Hash() }

// SerializeSize returns the length of the serialized block.
func (b *Block) SerializeSize() int {
	n := HeaderSize + CompactSizeLen(uint64(len(b.Txs)))
	for _, tx := range b.Txs {
		n += tx.SerializeSize()
	}
	return n
}

// Bytes returns the wire serialization: header ‖ CompactSize(ntx) ‖ txs.
func (b *Block) Bytes() []byte {
	out := make([]byte, 0, b.SerializeSize())
	out = b.Header.AppendTo(out)
	out = AppendCompactSize(out, uint64(len(b.Txs)))
	for _, tx := range b.Txs {
		out = tx.AppendTo(out)
	}
	return out
}

// TxHashes returns the ids of the block's transactions in order.
func (b *Block) TxHashes() []Hash {
	ids := make([]Hash, len(b.Txs))
	for i, tx := range b.Txs {
		ids[i] = tx.Hash()
	}
	return ids
}

// ComputeMerkleRoot returns the merkle root of the block's transactions.
func (b *Block) ComputeMerkleRoot() Hash { return MerkleRoot(b.TxHashes()) }

// DecodeBlock parses exactly one serialized block.
func DecodeBlock(raw []byte) (*Block, error) {
	b, n, err := DecodeBlockPrefix(raw)
	if err != nil {
		return nil, err
	}
	if n != len(raw) {
		return nil, fmt.Errorf("%w: %d trailing bytes after block", ErrMalformed, len(raw)-n)
	}
	return b, nil
}

// DecodeBlockPrefix parses a block at the start of raw and returns it with
// the number of bytes used (a `block` message may carry trailing bytes,
// which twisterd ignores).
func DecodeBlockPrefix(raw []byte) (*Block, int, error) {
	if len(raw) < HeaderSize {
		return nil, 0, fmt.Errorf("%w: block shorter than a header (%d bytes)", ErrMalformed, len(raw))
	}
	b := &Block{Header: decodeHeader(raw[:HeaderSize])}
	off := HeaderSize
	n, used, err := readCompactSize(raw[off:])
	if err != nil {
		return nil, 0, fmt.Errorf("block tx count: %w", err)
	}
	off += used
	// Every transaction takes at least 11 bytes; refuse counts the input
	// cannot hold before allocating.
	if n > uint64(len(raw)-off)/11 {
		return nil, 0, fmt.Errorf("%w: %d transactions announced in %d bytes", ErrMalformed, n, len(raw)-off)
	}
	b.Txs = make([]*Tx, 0, n)
	for i := uint64(0); i < n; i++ {
		tx, used, err := DecodeTxPrefix(raw[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("block tx %d: %w", i, err)
		}
		b.Txs = append(b.Txs, tx)
		off += used
	}
	return b, off, nil
}
