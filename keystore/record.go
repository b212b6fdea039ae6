package keystore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/gotwister/twister/keys"
)

// RecordVersion is the version of the record format this package writes.
const RecordVersion = 1

// Limits of the record format.
const (
	// MaxRecordSize bounds the bytes the decoder will look at; a real
	// record is under 500 bytes.
	MaxRecordSize = 4096
	saltSize      = 16
	maxSaltSize   = 64
	kdfAlg        = "scrypt"
	aeadAlg       = "xchacha20poly1305"
	headerMagic   = "twister-keystore"
)

// KDFParams are the scrypt parameters of a record: cost N = 2^LogN, block
// size R and parallelism P. They use 128·R·N bytes of memory.
type KDFParams struct {
	LogN uint8 `json:"logn"`
	R    int   `json:"r"`
	P    int   `json:"p"`
}

// DefaultKDF is what new records use unless Options say otherwise: scrypt
// N=2^16, r=8, p=1, 64 MiB, about 0.2 s natively and 0.3–0.5 s in wasm
// under Node (see the package documentation for measurements and reasons).
var DefaultKDF = KDFParams{LogN: 16, R: 8, P: 1}

// Bounds on KDF parameters, for writing and for reading records.
const (
	MinLogN        = 10
	MaxLogN        = 20
	MaxR           = 32
	MaxP           = 16
	MaxScryptBytes = 1 << 30
)

// N returns the scrypt cost parameter 2^LogN.
func (p KDFParams) N() int { return 1 << p.LogN }

// Memory returns the bytes scrypt needs with these parameters (128·r·N).
func (p KDFParams) Memory() int64 { return 128 * int64(p.R) * int64(p.N()) }

// String formats the parameters as "scrypt N=2^16 r=8 p=1".
func (p KDFParams) String() string {
	return fmt.Sprintf("scrypt N=2^%d r=%d p=%d", p.LogN, p.R, p.P)
}

// Validate checks the parameters against the bounds above.
func (p KDFParams) Validate() error {
	switch {
	case p.LogN < MinLogN || p.LogN > MaxLogN:
		return fmt.Errorf("keystore: scrypt logN %d out of range [%d, %d]", p.LogN, MinLogN, MaxLogN)
	case p.R < 1 || p.R > MaxR:
		return fmt.Errorf("keystore: scrypt r %d out of range [1, %d]", p.R, MaxR)
	case p.P < 1 || p.P > MaxP:
		return fmt.Errorf("keystore: scrypt p %d out of range [1, %d]", p.P, MaxP)
	case p.Memory() > MaxScryptBytes:
		return fmt.Errorf("keystore: scrypt parameters need %d MiB, more than the %d MiB limit", p.Memory()>>20, MaxScryptBytes>>20)
	}
	return nil
}

// record is a decoded account record (see the package documentation).
type record struct {
	User    string
	Pub     keys.PubKey
	Created int64
	KDF     KDFParams
	Salt    []byte
	Nonce   []byte
	CT      []byte
}

// recordJSON is the on-disk form; field order is the canonical order.
type recordJSON struct {
	V       int     `json:"v"`
	User    string  `json:"user"`
	Pub     string  `json:"pub"`
	Created int64   `json:"created"`
	KDF     kdfJSON `json:"kdf"`
	AEAD    string  `json:"aead"`
	Nonce   []byte  `json:"nonce"`
	CT      []byte  `json:"ct"`
	Sum     []byte  `json:"sum"`
}

type kdfJSON struct {
	Alg  string `json:"alg"`
	LogN int    `json:"logn"`
	R    int    `json:"r"`
	P    int    `json:"p"`
	Salt []byte `json:"salt"`
}

// header returns the AEAD associated data, which binds every field but the
// nonce and ciphertext.
func (r *record) header() []byte {
	h := make([]byte, 0, 128)
	h = append(h, headerMagic...)
	h = append(h, 0, RecordVersion)
	h = append(h, byte(len(r.User)))
	h = append(h, r.User...)
	h = append(h, byte(len(r.Pub)))
	h = append(h, r.Pub...)
	h = binary.BigEndian.AppendUint64(h, uint64(r.Created))
	h = append(h, byte(len(kdfAlg)))
	h = append(h, kdfAlg...)
	h = append(h, r.KDF.LogN)
	h = binary.BigEndian.AppendUint32(h, uint32(r.KDF.R))
	h = binary.BigEndian.AppendUint32(h, uint32(r.KDF.P))
	h = append(h, byte(len(r.Salt)))
	h = append(h, r.Salt...)
	h = append(h, byte(len(aeadAlg)))
	h = append(h, aeadAlg...)
	return h
}

func (r *record) sum() [32]byte {
	h := sha256.New()
	h.Write(r.header())
	h.Write(r.Nonce)
	h.Write(r.CT)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// encode returns the canonical JSON of r.
func (r *record) encode() []byte {
	s := r.sum()
	b, err := json.Marshal(recordJSON{
		V:       RecordVersion,
		User:    r.User,
		Pub:     r.Pub.Hex(),
		Created: r.Created,
		KDF:     kdfJSON{Alg: kdfAlg, LogN: int(r.KDF.LogN), R: r.KDF.R, P: r.KDF.P, Salt: r.Salt},
		AEAD:    aeadAlg,
		Nonce:   r.Nonce,
		CT:      r.CT,
		Sum:     s[:],
	})
	if err != nil {
		// Only strings, integers and byte slices: Marshal cannot fail.
		panic("keystore: encoding record: " + err.Error())
	}
	return b
}

// CorruptError is the error for a damaged record: it wraps ErrCorrupt and
// says which account and what is wrong.
type CorruptError struct {
	User   string // the account, if known
	Detail string // what is wrong with the record
}

func (e *CorruptError) Error() string {
	if e.User == "" {
		return "keystore: corrupt account record: " + e.Detail
	}
	return fmt.Sprintf("keystore: corrupt record of account %q: %s", e.User, e.Detail)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(format string, a ...any) error {
	return &CorruptError{Detail: fmt.Sprintf(format, a...)}
}

// forUser names the account in a CorruptError; other errors get the
// account prefixed.
func forUser(user string, err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return &CorruptError{User: user, Detail: ce.Detail}
	}
	return fmt.Errorf("keystore: account %q: %w", user, err)
}

// decodeRecord parses and checks a stored record. Every failure wraps
// ErrCorrupt; it never panics.
func decodeRecord(b []byte) (*record, error) {
	if len(b) == 0 {
		return nil, corrupt("empty record")
	}
	if len(b) > MaxRecordSize {
		return nil, corrupt("record is %d bytes, more than %d", len(b), MaxRecordSize)
	}
	// Read the version first, so that a newer format gets a clear message
	// instead of a complaint about its fields.
	var ver struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &ver); err != nil {
		return nil, corrupt("record is not valid JSON: %v", err)
	}
	if ver.V == nil {
		return nil, corrupt("record has no version field")
	}
	if *ver.V != RecordVersion {
		return nil, corrupt("record version %d, this program reads version %d", *ver.V, RecordVersion)
	}
	var j recordJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, corrupt("record fields: %v", err)
	}
	if dec.More() {
		return nil, corrupt("trailing data after the record")
	}
	if err := checkUsername(j.User); err != nil {
		return nil, corrupt("record username: %v", err)
	}
	pubBytes, err := hex.DecodeString(j.Pub)
	if err != nil || hex.EncodeToString(pubBytes) != j.Pub {
		return nil, corrupt("public key is not lowercase hex")
	}
	pub, err := keys.ParsePubKey(pubBytes)
	if err != nil {
		return nil, corrupt("%v", err)
	}
	if j.Created < 0 {
		return nil, corrupt("negative creation time %d", j.Created)
	}
	if j.KDF.Alg != kdfAlg {
		return nil, corrupt("unknown key derivation %q", j.KDF.Alg)
	}
	if j.KDF.LogN < 0 || j.KDF.LogN > 255 {
		return nil, corrupt("scrypt logN %d out of range", j.KDF.LogN)
	}
	p := KDFParams{LogN: uint8(j.KDF.LogN), R: j.KDF.R, P: j.KDF.P}
	if err := p.Validate(); err != nil {
		return nil, corrupt("%v", strings.TrimPrefix(err.Error(), "keystore: "))
	}
	if len(j.KDF.Salt) < saltSize || len(j.KDF.Salt) > maxSaltSize {
		return nil, corrupt("salt is %d bytes, want %d to %d", len(j.KDF.Salt), saltSize, maxSaltSize)
	}
	if j.AEAD != aeadAlg {
		return nil, corrupt("unknown cipher %q", j.AEAD)
	}
	if len(j.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, corrupt("nonce is %d bytes, want %d", len(j.Nonce), chacha20poly1305.NonceSizeX)
	}
	if n := len(j.CT) - chacha20poly1305.Overhead; n != 33 && n != 34 {
		return nil, corrupt("ciphertext is %d bytes, want 49 or 50", len(j.CT))
	}
	r := &record{
		User: j.User, Pub: pub, Created: j.Created, KDF: p,
		Salt: j.KDF.Salt, Nonce: j.Nonce, CT: j.CT,
	}
	s := r.sum()
	if !bytes.Equal(j.Sum, s[:]) {
		return nil, corrupt("checksum does not match: the record was damaged")
	}
	if !bytes.Equal(r.encode(), b) {
		return nil, corrupt("record is not in canonical form")
	}
	return r, nil
}

// deriveKey runs scrypt over the passphrase for the record's parameters.
func deriveKey(passphrase string, p KDFParams, salt []byte) ([]byte, error) {
	k, err := scrypt.Key([]byte(passphrase), salt, p.N(), p.R, p.P, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("keystore: scrypt: %w", err)
	}
	return k, nil
}

// secretPayload is the base58check payload of a secret key:
// 0x80 ‖ scalar ‖ 0x01 if compressed.
func secretPayload(k *keys.PrivateKey) []byte {
	p := make([]byte, 0, 34)
	p = append(p, keys.SecretVersion)
	p = append(p, k.Bytes()...)
	if k.Compressed() {
		p = append(p, 0x01)
	}
	return p
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// sealRecord encrypts k for user under passphrase.
func sealRecord(k *keys.PrivateKey, user, passphrase string, p KDFParams, created time.Time, rnd io.Reader) (*record, error) {
	r := &record{
		User: user, Pub: k.PubKey(), Created: created.Unix(), KDF: p,
		Salt: make([]byte, saltSize), Nonce: make([]byte, chacha20poly1305.NonceSizeX),
	}
	if r.Created < 0 {
		r.Created = 0
	}
	if _, err := io.ReadFull(rnd, r.Salt); err != nil {
		return nil, fmt.Errorf("keystore: reading random salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, r.Nonce); err != nil {
		return nil, fmt.Errorf("keystore: reading random nonce: %w", err)
	}
	dk, err := deriveKey(passphrase, p, r.Salt)
	if err != nil {
		return nil, err
	}
	defer wipe(dk)
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return nil, err
	}
	pt := secretPayload(k)
	defer wipe(pt)
	r.CT = aead.Seal(nil, r.Nonce, pt, r.header())
	// Read it back with the same key before anyone stores it.
	back, err := r.open(dk)
	if err != nil || !bytes.Equal(back.Bytes(), k.Bytes()) || back.Compressed() != k.Compressed() {
		return nil, fmt.Errorf("keystore: sealed record does not open again: %v", err)
	}
	return r, nil
}

// errAuth is the AEAD failure of open: with an intact checksum it means the
// passphrase is wrong.
var errAuth = errors.New("keystore: authentication failed")

// open decrypts r with the derived key dk and checks that the key inside is
// the one the header names.
func (r *record) open(dk []byte) (*keys.PrivateKey, error) {
	aead, err := chacha20poly1305.NewX(dk)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, r.Nonce, r.CT, r.header())
	if err != nil {
		return nil, errAuth
	}
	defer wipe(pt)
	if (len(pt) != 33 && len(pt) != 34) || pt[0] != keys.SecretVersion || (len(pt) == 34 && pt[33] != 0x01) {
		return nil, corrupt("decrypted key is malformed")
	}
	k, err := keys.PrivateKeyFromBytes(pt[1:33], len(pt) == 34)
	if err != nil {
		return nil, corrupt("decrypted key: %v", err)
	}
	if !k.PubKey().Equal(r.Pub) {
		return nil, corrupt("decrypted key does not match the record's public key")
	}
	return k, nil
}
