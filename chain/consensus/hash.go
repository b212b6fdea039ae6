package consensus

import (
	"encoding/hex"
	"fmt"

	"github.com/gotwister/twister/keys"
)

// Hash is a 256-bit hash in raw byte order (the bytes SHA-256 returns), as
// block ids, tx ids and merkle roots travel on the wire. String prints it in
// display order (bytes reversed), as twisterd's RPC does.
type Hash [32]byte

// ZeroHash is the all-zero hash (the genesis block's previous block).
var ZeroHash Hash

// DoubleSHA256 returns SHA256(SHA256(b)).
func DoubleSHA256(b []byte) Hash { return Hash(keys.SHA256d(b)) }

// String returns the hash in display order (reversed) lowercase hex.
func (h Hash) String() string {
	var r [32]byte
	for i := range h {
		r[31-i] = h[i]
	}
	return hex.EncodeToString(r[:])
}

// IsZero tells whether h is all zeros.
func (h Hash) IsZero() bool { return h == ZeroHash }

// ParseHash parses a hash written in display order (64 hex digits, as
// getblock and getbestblockhash print it).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("consensus: hash %q must have 64 hex digits", s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("consensus: bad hash hex: %w", err)
	}
	for i := range h {
		h[i] = b[31-i]
	}
	return h, nil
}

// MustParseHash is ParseHash for compiled-in constants; it panics on error.
func MustParseHash(s string) Hash {
	h, err := ParseHash(s)
	if err != nil {
		panic(err)
	}
	return h
}
