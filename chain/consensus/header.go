package consensus

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/scrypt"
)

// HeaderSize is the length of a serialized block header.
const HeaderSize = 84

// BlockVersion is the version of every block after the genesis block
// (CBlockHeader::CURRENT_VERSION); version-1 blocks are refused.
const BlockVersion = 2

// Header is a twister block header (src/core.h: CBlockHeader): Bitcoin's
// with the block height added after the version, 84 bytes in all.
type Header struct {
	Version    int32
	Height     int32 // must equal the block's height (except in the genesis block, where it is 0)
	PrevBlock  Hash  // raw byte order
	MerkleRoot Hash  // raw byte order
	Time       uint32
	Bits       uint32
	Nonce      uint32
}

// Serialize returns the 84-byte wire form of h.
func (h *Header) Serialize() [HeaderSize]byte {
	var b [HeaderSize]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(h.Version))
	binary.LittleEndian.PutUint32(b[4:], uint32(h.Height))
	copy(b[8:40], h.PrevBlock[:])
	copy(b[40:72], h.MerkleRoot[:])
	binary.LittleEndian.PutUint32(b[72:], h.Time)
	binary.LittleEndian.PutUint32(b[76:], h.Bits)
	binary.LittleEndian.PutUint32(b[80:], h.Nonce)
	return b
}

// AppendTo appends the 84-byte wire form of h.
func (h *Header) AppendTo(dst []byte) []byte {
	b := h.Serialize()
	return append(dst, b[:]...)
}

// DecodeHeader parses exactly 84 bytes.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) != HeaderSize {
		return Header{}, fmt.Errorf("%w: header has %d bytes, want 84", ErrMalformed, len(b))
	}
	return decodeHeader(b), nil
}

func decodeHeader(b []byte) Header {
	var h Header
	h.Version = int32(binary.LittleEndian.Uint32(b[0:]))
	h.Height = int32(binary.LittleEndian.Uint32(b[4:]))
	copy(h.PrevBlock[:], b[8:40])
	copy(h.MerkleRoot[:], b[40:72])
	h.Time = binary.LittleEndian.Uint32(b[72:])
	h.Bits = binary.LittleEndian.Uint32(b[76:])
	h.Nonce = binary.LittleEndian.Uint32(b[80:])
	return h
}

// Hash returns the block id, SHA256d of the 84-byte header.
func (h *Header) Hash() Hash {
	b := h.Serialize()
	return DoubleSHA256(b[:])
}

// PoWHash returns the proof-of-work hash: scrypt(N=1024, r=1, p=1,
// dkLen=32) with the 84-byte header as both password and salt.
func (h *Header) PoWHash() Hash {
	b := h.Serialize()
	return ScryptHash(b[:])
}

// ScryptHash returns scrypt(b, b, 1024, 1, 1, 32).
func ScryptHash(b []byte) Hash {
	out, err := scrypt.Key(b, b, 1024, 1, 1, 32)
	if err != nil {
		// Only invalid parameters make scrypt fail; ours are constants.
		panic(err)
	}
	return Hash(out)
}
