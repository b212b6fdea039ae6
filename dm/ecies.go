// Package dm implements twister's private messages: the ECIES encryption
// (secp256k1 ECDH, SHA-512, AES-256-CBC with zero IV and zero padding,
// HMAC-SHA512 over the ciphertext) that twister-core's CECKey::Encrypt and
// Decrypt use for direct messages, group chats and private favourites; the
// {key, mac, orig, body} dictionary that carries the result inside a post;
// and the plaintexts that travel in it (a {msg, to} message, the old raw
// text form, group invites and member lists, private favourites).
package dm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/keys"
)

// Sizes of the parts of a sealed message.
const (
	KeySize   = 33 // compressed ephemeral public key, as twisterd writes it
	MacSize   = sha512.Size
	BlockSize = aes.BlockSize
)

// Errors returned by Decrypt and ParseSealed.
var (
	// ErrMAC means the authentication code does not match: the message
	// is not for this key, or it was altered.
	ErrMAC = errors.New("dm: authentication code does not match (wrong key or altered message)")
	// ErrMalformed means the sealed message is not well formed.
	ErrMalformed = errors.New("dm: malformed sealed message")
	// ErrEmpty is returned when asked to encrypt nothing.
	ErrEmpty = errors.New("dm: empty plaintext")
)

// Sealed is one ECIES-encrypted message: the dictionary {key, mac, orig,
// body} found under "dm" and "pfav" in posts.
type Sealed struct {
	Key  []byte // ephemeral public key (SEC1; twisterd writes 33 bytes)
	Mac  []byte // HMAC-SHA512 of Body, 64 bytes
	Orig int64  // plaintext length in bytes
	Body []byte // AES-256-CBC ciphertext, a multiple of 16 bytes
}

// Encrypt seals plaintext to the public key to with a fresh ephemeral key.
func Encrypt(to keys.PubKey, plaintext []byte) (Sealed, error) {
	eph, err := keys.GenerateKey()
	if err != nil {
		return Sealed{}, fmt.Errorf("dm: ephemeral key: %w", err)
	}
	return EncryptWith(eph, to, plaintext)
}

// EncryptWith seals plaintext to to using the given ephemeral key. It is
// deterministic; use it for test vectors, and Encrypt otherwise (reusing an
// ephemeral key across messages reuses the AES key and the zero IV).
//
// As twister-core does: x = the 32-byte x-coordinate of e·Q,
// K = SHA-512(x), body = AES-256-CBC(key K[0:32], IV 0) of the plaintext
// zero-padded to a multiple of 16 (no extra block when already aligned),
// mac = HMAC-SHA512(K[32:64], body), key = compressed e·G, orig = len.
func EncryptWith(ephemeral *keys.PrivateKey, to keys.PubKey, plaintext []byte) (Sealed, error) {
	if ephemeral == nil {
		return Sealed{}, errors.New("dm: no ephemeral key")
	}
	if len(plaintext) == 0 {
		return Sealed{}, ErrEmpty
	}
	point, err := to.Point()
	if err != nil {
		return Sealed{}, fmt.Errorf("dm: recipient key: %w", err)
	}
	k := envelopeKey(ephemeral.Curve(), point)
	padded := len(plaintext)
	if r := padded % BlockSize; r != 0 {
		padded += BlockSize - r
	}
	body := make([]byte, padded)
	copy(body, plaintext)
	block, err := aes.NewCipher(k[:32])
	if err != nil {
		return Sealed{}, fmt.Errorf("dm: %w", err)
	}
	var iv [BlockSize]byte
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(body, body)
	return Sealed{
		Key:  ephemeral.Curve().PubKey().SerializeCompressed(),
		Mac:  mac(k[32:], body),
		Orig: int64(len(plaintext)),
		Body: body,
	}, nil
}

// SharedSecret returns x, the 32-byte big-endian x-coordinate of the ECDH
// point priv·pub, which is what OpenSSL's ECDH_compute_key hands to
// twister's key derivation.
func SharedSecret(priv *keys.PrivateKey, pub keys.PubKey) ([]byte, error) {
	point, err := pub.Point()
	if err != nil {
		return nil, fmt.Errorf("dm: %w", err)
	}
	return secp256k1.GenerateSharedSecret(priv.Curve(), point), nil
}

// envelopeKey is K = SHA-512(x).
func envelopeKey(priv *secp256k1.PrivateKey, pub *secp256k1.PublicKey) [sha512.Size]byte {
	return sha512.Sum512(secp256k1.GenerateSharedSecret(priv, pub))
}

func mac(key, body []byte) []byte {
	h := hmac.New(sha512.New, key)
	h.Write(body)
	return h.Sum(nil)
}

// Check reports whether s is well formed: a parsable ephemeral key, a
// 64-byte mac, a body that is a non-zero multiple of 16 bytes and
// 0 <= orig <= len(body). It does not need any key.
func (s Sealed) Check() error {
	if len(s.Mac) != MacSize {
		return fmt.Errorf("%w: mac is %d bytes, want %d", ErrMalformed, len(s.Mac), MacSize)
	}
	if len(s.Body) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if len(s.Body)%BlockSize != 0 {
		return fmt.Errorf("%w: body is %d bytes, not a multiple of %d", ErrMalformed, len(s.Body), BlockSize)
	}
	if s.Orig < 0 || s.Orig > int64(len(s.Body)) {
		return fmt.Errorf("%w: orig %d outside 0..%d (body length)", ErrMalformed, s.Orig, len(s.Body))
	}
	if _, err := secp256k1.ParsePubKey(s.Key); err != nil {
		return fmt.Errorf("%w: ephemeral key (%d bytes): %v", ErrMalformed, len(s.Key), err)
	}
	return nil
}

// Decrypt opens s with the private key k. It checks the layout first, then
// the authentication code (in constant time) before decrypting anything,
// and returns the first Orig bytes of the decrypted body; whatever padding
// follows them is ignored, as twister-core does. A message for another key
// fails with ErrMAC; a malformed one with ErrMalformed.
func Decrypt(k *keys.PrivateKey, s Sealed) ([]byte, error) {
	if k == nil {
		return nil, errors.New("dm: no private key")
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	eph, err := secp256k1.ParsePubKey(s.Key)
	if err != nil { // already checked; kept for safety
		return nil, fmt.Errorf("%w: ephemeral key: %v", ErrMalformed, err)
	}
	key := envelopeKey(k.Curve(), eph)
	if !hmac.Equal(mac(key[32:], s.Body), s.Mac) {
		return nil, ErrMAC
	}
	block, err := aes.NewCipher(key[:32])
	if err != nil {
		return nil, fmt.Errorf("dm: %w", err)
	}
	out := make([]byte, len(s.Body))
	var iv [BlockSize]byte
	cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(out, s.Body)
	return out[:s.Orig:s.Orig], nil
}

// Value returns s as the bencoded dictionary {body, key, mac, orig}.
func (s Sealed) Value() bencode.Value {
	d := bencode.NewDict()
	d.Set("body", bencode.NewBytes(s.Body))
	d.Set("key", bencode.NewBytes(s.Key))
	d.Set("mac", bencode.NewBytes(s.Mac))
	d.Set("orig", bencode.NewInt(s.Orig))
	return d
}

// ParseSealed reads a {key, mac, orig, body} dictionary. Other keys are
// ignored, as twister-core ignores them. The result is checked with Check,
// so a Sealed returned without error can be given to Decrypt.
func ParseSealed(v bencode.Value) (Sealed, error) {
	if v.Kind != bencode.Dict {
		return Sealed{}, fmt.Errorf("%w: %s is not a dictionary", ErrMalformed, v.Kind)
	}
	var s Sealed
	var ok bool
	if s.Key, ok = v.GetBytes("key"); !ok {
		return Sealed{}, fmt.Errorf("%w: no string \"key\"", ErrMalformed)
	}
	if s.Mac, ok = v.GetBytes("mac"); !ok {
		return Sealed{}, fmt.Errorf("%w: no string \"mac\"", ErrMalformed)
	}
	if s.Orig, ok = v.GetInt("orig"); !ok {
		return Sealed{}, fmt.Errorf("%w: no integer \"orig\"", ErrMalformed)
	}
	if s.Body, ok = v.GetBytes("body"); !ok {
		return Sealed{}, fmt.Errorf("%w: no string \"body\"", ErrMalformed)
	}
	if err := s.Check(); err != nil {
		return Sealed{}, err
	}
	return s, nil
}
