// Package keys holds twister's key material and signatures: secp256k1 secret
// keys in the 52-character base58check form that twisterd's dumpprivkey and
// importprivkey use, SEC1 public keys and their Hash160 ids, the
// "twister Signed Message:\n" magic hash, and 65-byte compact recoverable
// signatures, verified by recovering the signer's key and comparing it with
// the key the block chain holds for that user at the relevant height.
package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // Hash160 is RIPEMD-160 by definition
)

// SecretVersion is the base58check version byte of a secret key string.
const SecretVersion = 0x80

// Errors from parsing secret key strings.
var (
	ErrSecretChecksum = errors.New("keys: secret key checksum does not match")
	ErrSecretVersion  = errors.New("keys: secret key has the wrong version byte (want 0x80)")
	ErrSecretLength   = errors.New("keys: secret key has the wrong length")
	ErrSecretRange    = errors.New("keys: secret key is zero or not below the curve order")
	ErrBase58         = errors.New("keys: invalid base58 character")
)

// PrivateKey is a secp256k1 secret key together with the encoding (compressed
// or not) of the public key it stands for.
type PrivateKey struct {
	k          *secp256k1.PrivateKey
	compressed bool
	pub        PubKey // serialized once: deriving it is a scalar multiplication
}

// newPrivateKey wraps a curve key and serializes its public key.
func newPrivateKey(k *secp256k1.PrivateKey, compressed bool) *PrivateKey {
	pk := &PrivateKey{k: k, compressed: compressed}
	if compressed {
		pk.pub = PubKey(k.PubKey().SerializeCompressed())
	} else {
		pk.pub = PubKey(k.PubKey().SerializeUncompressed())
	}
	return pk
}

// GenerateKey makes a new random key with a compressed public key, as
// twisterd's wallet does.
func GenerateKey() (*PrivateKey, error) {
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	return newPrivateKey(k, true), nil
}

// PrivateKeyFromBytes makes a key from a 32-byte big-endian scalar.
func PrivateKeyFromBytes(b []byte, compressed bool) (*PrivateKey, error) {
	if len(b) != 32 {
		return nil, ErrSecretLength
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(b); overflow || s.IsZero() {
		return nil, ErrSecretRange
	}
	return newPrivateKey(secp256k1.NewPrivateKey(&s), compressed), nil
}

// ParseSecret parses a secret key string as twisterd's importprivkey does:
// base58check of 0x80 ‖ 32-byte secret [‖ 0x01 when compressed].
func ParseSecret(s string) (*PrivateKey, error) {
	raw, err := DecodeBase58(s)
	if err != nil {
		return nil, err
	}
	payload, err := checkChecksum(raw)
	if err != nil {
		return nil, err
	}
	if len(payload) != 33 && len(payload) != 34 {
		return nil, fmt.Errorf("%w: %d payload bytes", ErrSecretLength, len(payload))
	}
	if payload[0] != SecretVersion {
		return nil, fmt.Errorf("%w: got 0x%02x", ErrSecretVersion, payload[0])
	}
	compressed := len(payload) == 34
	if compressed && payload[33] != 0x01 {
		return nil, fmt.Errorf("%w: compression flag is 0x%02x, not 0x01", ErrSecretLength, payload[33])
	}
	return PrivateKeyFromBytes(payload[1:33], compressed)
}

// Secret returns the key as twisterd's dumpprivkey prints it (52 characters
// for a compressed key).
func (k *PrivateKey) Secret() string {
	payload := make([]byte, 0, 34)
	payload = append(payload, SecretVersion)
	payload = append(payload, k.Bytes()...)
	if k.compressed {
		payload = append(payload, 0x01)
	}
	return EncodeBase58Check(payload)
}

// Bytes returns the 32-byte secret scalar.
func (k *PrivateKey) Bytes() []byte { return k.k.Serialize() }

// Compressed tells whether the public key is used in compressed form.
func (k *PrivateKey) Compressed() bool { return k.compressed }

// PubKey returns the public key in the key's encoding.
func (k *PrivateKey) PubKey() PubKey { return slices.Clone(k.pub) }

// Curve returns the underlying curve key, for ECDH.
func (k *PrivateKey) Curve() *secp256k1.PrivateKey { return k.k }

// PubKey is a serialized SEC1 public key: 33 bytes compressed or 65
// uncompressed, kept as the bytes the chain registered, since twister
// compares keys by the Hash160 of exactly those bytes.
type PubKey []byte

// ParsePubKey checks that b is a valid point encoding and returns it.
func ParsePubKey(b []byte) (PubKey, error) {
	if _, err := secp256k1.ParsePubKey(b); err != nil {
		return nil, fmt.Errorf("keys: bad public key: %w", err)
	}
	return PubKey(append([]byte{}, b...)), nil
}

// ParsePubKeyHex parses a hex public key as dumppubkey prints it.
func ParsePubKeyHex(s string) (PubKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("keys: bad public key hex: %w", err)
	}
	return ParsePubKey(b)
}

// Point parses the key into a curve point.
func (p PubKey) Point() (*secp256k1.PublicKey, error) { return secp256k1.ParsePubKey(p) }

// ID returns the key id, Hash160 of the serialized key.
func (p PubKey) ID() [20]byte { return Hash160(p) }

// Hex returns the key in lowercase hex.
func (p PubKey) Hex() string { return hex.EncodeToString(p) }

// Equal reports whether two keys are the same encoding of the same point,
// which is twister's notion of equality (Hash160 of the bytes).
func (p PubKey) Equal(q PubKey) bool { return bytes.Equal(p, q) }

// SHA256d returns SHA-256 applied twice.
func SHA256d(b []byte) [32]byte {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// Hash160 returns RIPEMD-160(SHA-256(b)).
func Hash160(b []byte) [20]byte {
	h := sha256.Sum256(b)
	r := ripemd160.New()
	r.Write(h[:])
	var out [20]byte
	copy(out[:], r.Sum(nil))
	return out
}

// MessageMagic is the prefix of every signed message digest.
const MessageMagic = "twister Signed Message:\n"

// AppendVarInt appends a Bitcoin CompactSize integer.
func AppendVarInt(dst []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 0xfd, byte(n), byte(n>>8))
	case n <= 0xffffffff:
		return append(dst, 0xfe, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	}
	return append(dst, 0xff, byte(n), byte(n>>8), byte(n>>16), byte(n>>24),
		byte(n>>32), byte(n>>40), byte(n>>48), byte(n>>56))
}

// MagicHash returns the digest that twister signs for message m:
// SHA256d(varint(24) ‖ magic ‖ varint(len m) ‖ m), raw byte order.
func MagicHash(m []byte) [32]byte {
	buf := make([]byte, 0, 1+len(MessageMagic)+9+len(m))
	buf = AppendVarInt(buf, uint64(len(MessageMagic)))
	buf = append(buf, MessageMagic...)
	buf = AppendVarInt(buf, uint64(len(m)))
	buf = append(buf, m...)
	return SHA256d(buf)
}

// SignatureSize is the length of a compact recoverable signature.
const SignatureSize = 65

// Errors from signature checks.
var (
	ErrBadSignature = errors.New("keys: malformed signature")
	ErrWrongSigner  = errors.New("keys: signature is not by the expected key")
)

// Sign signs the magic hash of m and returns a 65-byte compact signature.
func (k *PrivateKey) Sign(m []byte) []byte {
	h := MagicHash(m)
	return k.SignHash(h[:])
}

// SignHash signs a 32-byte digest directly.
//
// A signature made here is remembered as verified (see fastverify.go), so
// that checking it again where it goes next (the swarm, the DHT store,
// the timeline) costs one SHA-256 instead of a curve operation: this is
// the node's trusted path for what it signs itself.
func (k *PrivateKey) SignHash(hash []byte) []byte {
	sig := ecdsa.SignCompact(k.k, hash, k.compressed)
	rememberSigned(hash, sig, k.pub)
	return sig
}

// Recover returns the public key that made sig over the magic hash of m,
// encoded as the signature's header says (compressed or not).
func Recover(m, sig []byte) (PubKey, error) {
	h := MagicHash(m)
	return RecoverHash(h[:], sig)
}

// RecoverHash is Recover for a digest.
func RecoverHash(hash, sig []byte) (PubKey, error) {
	if len(sig) != SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes, want 65", ErrBadSignature, len(sig))
	}
	if sig[0] < 27 || sig[0] > 34 {
		return nil, fmt.Errorf("%w: header byte %d", ErrBadSignature, sig[0])
	}
	// twister-core's recovery refuses recovery id 3 (CECKey::Recover).
	if (sig[0]-27)&3 == 3 {
		return nil, fmt.Errorf("%w: recovery id 3", ErrBadSignature)
	}
	pub, compressed, err := ecdsa.RecoverCompact(sig, hash)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if compressed {
		return PubKey(pub.SerializeCompressed()), nil
	}
	return PubKey(pub.SerializeUncompressed()), nil
}

// Verify checks that sig over m was made by the key pub, compared as
// twister does: Hash160 of the recovered key (in the signature's encoding)
// equals Hash160 of pub.
func Verify(m, sig []byte, pub PubKey) error {
	h := MagicHash(m)
	// The same verdict without recovering the key when it is valid (see
	// fastverify.go); every failure is decided and worded by recovery.
	if verifyKnown(h[:], sig, pub) {
		return nil
	}
	got, err := RecoverHash(h[:], sig)
	if err != nil {
		return err
	}
	// twister compares Hash160 of the two encodings; equal hashes of
	// distinct byte strings would be a RIPEMD-160 collision, so comparing
	// the bytes is the same test without the hashing.
	if !bytes.Equal(got, pub) {
		return ErrWrongSigner
	}
	return nil
}
