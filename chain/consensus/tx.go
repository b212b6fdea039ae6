package consensus

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"runtime"
	"unicode/utf8"

	"github.com/gotwister/twister/keys"
)

// Transaction limits (src/main.h, src/main.cpp: CheckTransaction).
const (
	// MaxTxSize is the consensus limit on a serialized transaction.
	MaxTxSize = 512
	// MaxStandardTxSize is the relay/mempool limit: a tx must be smaller.
	MaxStandardTxSize = 140 + 16 + 512 + 32
	// MaxUsernameSize is the longest username in bytes.
	MaxUsernameSize = 16
	// MaxPromotedMessageChars is the longest promoted message in code points.
	MaxPromotedMessageChars = 140
	// TxVersion is the version of every transaction twisterd makes.
	TxVersion = 1
)

// Tx is a twister transaction (src/core.h: CTransaction). There are no
// inputs, outputs or amounts: a registration carries an empty Message, the
// username push in UserName and the public key push (plus, for a key
// replacement, a signature push) in PubKey, with a proof-of-work Nonce; a
// coinbase carries the promoted message (see Coinbase).
//
// The three script fields hold raw script bytes (sequences of pushes).
type Tx struct {
	Version  int32
	Message  []byte
	UserName []byte
	PubKey   []byte
	Nonce    uint32
}

// SerializeSize returns the length of the serialized transaction.
func (tx *Tx) SerializeSize() int {
	return 4 + CompactSizeLen(uint64(len(tx.Message))) + len(tx.Message) +
		CompactSizeLen(uint64(len(tx.UserName))) + len(tx.UserName) +
		CompactSizeLen(uint64(len(tx.PubKey))) + len(tx.PubKey) + 4
}

// AppendTo appends the wire serialization of tx:
// version ‖ script message ‖ script userName ‖ script pubKey ‖ nonce.
func (tx *Tx) AppendTo(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(tx.Version))
	for _, s := range [][]byte{tx.Message, tx.UserName, tx.PubKey} {
		dst = AppendCompactSize(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return binary.LittleEndian.AppendUint32(dst, tx.Nonce)
}

// Bytes returns the wire serialization of tx.
func (tx *Tx) Bytes() []byte { return tx.AppendTo(make([]byte, 0, tx.SerializeSize())) }

// Hash returns the transaction id, SHA256d of the serialization.
func (tx *Tx) Hash() Hash { return DoubleSHA256(tx.Bytes()) }

// IsCoinbase tells whether tx is the promoted-message ("spam") transaction
// that opens every block: its message script is non-empty.
func (tx *Tx) IsCoinbase() bool { return len(tx.Message) > 0 }

// Username returns the registered name of a registration (the small-string
// push of UserName), or "" if UserName is not a single small push (as for a
// coinbase).
func (tx *Tx) Username() string {
	if !IsSmallString(tx.UserName) {
		return ""
	}
	return string(tx.UserName[1:])
}

// Key returns the key a registration registers: the first push of the
// PubKey script, or nil if the script does not parse.
func (tx *Tx) Key() keys.PubKey {
	k := pushAt(tx.PubKey, 0)
	if k == nil {
		return nil
	}
	return keys.PubKey(append([]byte{}, k...))
}

// Clone returns a deep copy of tx.
func (tx *Tx) Clone() *Tx {
	c := *tx
	c.Message = append([]byte(nil), tx.Message...)
	c.UserName = append([]byte(nil), tx.UserName...)
	c.PubKey = append([]byte(nil), tx.PubKey...)
	return &c
}

// DecodeTx parses exactly one serialized transaction.
func DecodeTx(b []byte) (*Tx, error) {
	tx, n, err := DecodeTxPrefix(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after transaction", ErrMalformed, len(b)-n)
	}
	return tx, nil
}

// DecodeTxPrefix parses a transaction at the start of b and returns it with
// the number of bytes it used.
func DecodeTxPrefix(b []byte) (*Tx, int, error) {
	if len(b) < 4 {
		return nil, 0, fmt.Errorf("%w: transaction shorter than its version", ErrMalformed)
	}
	tx := &Tx{Version: int32(binary.LittleEndian.Uint32(b))}
	off := 4
	for _, dst := range []*[]byte{&tx.Message, &tx.UserName, &tx.PubKey} {
		s, n, err := readVarBytes(b[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("transaction script: %w", err)
		}
		*dst = s
		off += n
	}
	if len(b)-off < 4 {
		return nil, 0, fmt.Errorf("%w: transaction nonce truncated", ErrMalformed)
	}
	tx.Nonce = binary.LittleEndian.Uint32(b[off:])
	return tx, off + 4, nil
}

// UsernameHash returns twisterd's GetUsernameHash of a name:
// SHA256d(CompactSize(len) ‖ name), as `userhashes` in getblock shows it.
func UsernameHash(name string) Hash {
	b := AppendCompactSize(nil, uint64(len(name)))
	return DoubleSHA256(append(b, name...))
}

// CheckUsername applies twisterd's username rule: 1 to 16 bytes, each a
// lowercase ASCII letter, a digit or '_'.
func CheckUsername(name string) error {
	if len(name) == 0 || len(name) > MaxUsernameSize {
		return ruleErr(ReasonBadUsername, "username length %d is not within 1..16", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c >= 'A' && c <= 'Z':
			return ruleErr(ReasonBadUsername, "username %q must be lowercase", name)
		default:
			return ruleErr(ReasonBadUsername, "username %q has invalid character %q", name, c)
		}
	}
	return nil
}

// CheckTransaction applies the context-free transaction rules of
// src/main.cpp: CheckTransaction(): for a coinbase, a valid promoted
// message and spam user; for a registration, a valid single-push username,
// a non-empty pubKey and the registration proof of work against
// p.TxBits; for both, at most MaxTxSize bytes.
func CheckTransaction(p *Params, tx *Tx) error {
	if tx.IsCoinbase() {
		msg := pushAt(tx.Message, 0)
		if len(msg) == 0 {
			return ruleErr(ReasonBadCoinbase, "promoted message is empty or not a push")
		}
		if !utf8.Valid(msg) {
			return ruleErr(ReasonBadCoinbase, "promoted message is not valid UTF-8")
		}
		if n := utf8.RuneCount(msg); n > MaxPromotedMessageChars {
			return ruleErr(ReasonBadCoinbase, "promoted message has %d code points, more than 140", n)
		}
		user := pushAt(tx.UserName, 0)
		if len(user) == 0 || len(user) > MaxUsernameSize {
			return ruleErr(ReasonBadCoinbase, "promoted message user has %d bytes, want 1..16", len(user))
		}
	} else {
		if len(tx.UserName) == 0 {
			return ruleErr(ReasonBadUsername, "registration has an empty username script")
		}
		if len(tx.PubKey) == 0 {
			return ruleErr(ReasonBadTx, "registration has an empty pubKey script")
		}
		if !IsSmallString(tx.UserName) {
			return ruleErr(ReasonBadUsername, "username script is not a single small push")
		}
		if err := CheckUsername(tx.Username()); err != nil {
			return err
		}
	}
	if n := tx.SerializeSize(); n > MaxTxSize {
		return ruleErr(ReasonTxTooBig, "transaction has %d bytes, more than %d", n, MaxTxSize)
	}
	if !tx.IsCoinbase() {
		if err := CheckTxPoW(p, tx); err != nil {
			return err
		}
	}
	return nil
}

// CheckTxPoW checks a registration's proof of work: its id, read as a
// little-endian 256-bit number, must not exceed the target of p.TxBits.
func CheckTxPoW(p *Params, tx *Tx) error {
	if err := CheckProofOfWork(tx.Hash(), p.TxBits, p.PowLimit); err != nil {
		return ruleErr(ReasonBadTxPoW, "registration of %q: %v", tx.Username(), err)
	}
	return nil
}

// NewRegistration builds the registration of user with key pub, as
// twisterd's createrawtransaction does (empty message, push(user),
// push(pub), nonce 0). Its proof of work is still to be found with
// GrindRegistration.
func NewRegistration(user string, pub keys.PubKey) (*Tx, error) {
	if err := CheckUsername(user); err != nil {
		return nil, err
	}
	if len(pub) == 0 {
		return nil, fmt.Errorf("consensus: registration of %q needs a public key", user)
	}
	return &Tx{Version: TxVersion, UserName: AppendPush(nil, []byte(user)), PubKey: AppendPush(nil, pub)}, nil
}

// NewKeyReplacement builds the transaction that moves user to newPub:
// pubKey = push(newPub) ‖ push(sig), sig being oldKey's compact signature
// over the magic hash of newPub's bytes. Its proof of work is still to be
// found with GrindRegistration.
func NewKeyReplacement(user string, newPub keys.PubKey, oldKey *keys.PrivateKey) (*Tx, error) {
	tx, err := NewRegistration(user, newPub)
	if err != nil {
		return nil, err
	}
	tx.PubKey = AppendPush(tx.PubKey, oldKey.Sign(newPub))
	return tx, nil
}

// VerifyReplacement checks that tx replaces the key old as
// verifyDuplicateOrReplacementTx() accepts it: the pubKey script has at
// least two pushes and the second, a compact signature over the magic hash
// of the first, recovers to a key whose Hash160 is old's.
func VerifyReplacement(tx *Tx, old keys.PubKey) error {
	p, err := ParsePushes(tx.PubKey)
	if err != nil || len(p) < 2 {
		return ruleErr(ReasonDuplicateName, "%q is already registered and the transaction is not a key replacement", tx.Username())
	}
	got, err := keys.Recover(p[0], p[1])
	if err != nil {
		return ruleErr(ReasonBadReplacement, "replacement of %q: %v", tx.Username(), err)
	}
	if got.ID() != old.ID() {
		return ruleErr(ReasonBadReplacement, "replacement of %q is not signed by the registered key", tx.Username())
	}
	return nil
}

// progressEvery is how many nonces GrindRegistration tries between two
// calls of its progress function and context checks.
const progressEvery = 1 << 16

// GrindRegistration searches the registration nonce as DoTxProofOfWork()
// does, counting up from 0 until SHA256d(tx) is below the target of bits,
// and stores it in tx.Nonce. progress (may be nil) is called every 65,536
// tries with the number tried so far. It returns ctx.Err() when cancelled.
func GrindRegistration(ctx context.Context, tx *Tx, bits uint32, progress func(tried uint64)) (uint32, error) {
	return grindRegistration(ctx, tx, bits, progress, useRegGrinder)
}

// grindRegistration is GrindRegistration, with the specialised SHA256d of
// regpow.go as a first filter when fast is set.
func grindRegistration(ctx context.Context, tx *Tx, bits uint32, progress func(tried uint64), fast bool) (uint32, error) {
	target := CompactToTarget(bits)
	if target.Sign() <= 0 {
		return 0, fmt.Errorf("consensus: tx bits %08x give a non-positive target", bits)
	}
	var tgt Hash
	fillLE(tgt[:], target)
	// Nonces whose top word exceeds the target's are rejected by the
	// specialised SHA256d (regpow.go); the rest, and every nonce of a
	// transaction it does not handle, by the full SHA256d.
	tgtTop := binary.LittleEndian.Uint32(tgt[28:])
	buf := tx.Bytes()
	nonceAt := len(buf) - 4
	var g *regGrinder
	if fast {
		g, fast = newRegGrinder(buf)
	}
	var tried uint64
	for nonce := uint64(0); nonce <= 0xffffffff; nonce++ {
		if !fast || g.top(uint32(nonce)) <= tgtTop {
			binary.LittleEndian.PutUint32(buf[nonceAt:], uint32(nonce))
			h := sha256.Sum256(buf)
			h = sha256.Sum256(h[:])
			if lessLE(h, tgt) {
				tx.Nonce = uint32(nonce)
				return tx.Nonce, nil
			}
		}
		tried++
		if tried%progressEvery == 0 {
			// Yield so timers and other goroutines run where nothing
			// preempts this loop (js/wasm).
			runtime.Gosched()
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			if progress != nil {
				progress(tried)
			}
		}
	}
	return 0, fmt.Errorf("consensus: no registration nonce below target %08x", bits)
}

// fillLE writes n as a 32-byte little-endian number into dst.
func fillLE(dst []byte, n *big.Int) {
	be := n.FillBytes(make([]byte, 32))
	for i := range 32 {
		dst[i] = be[31-i]
	}
}

// lessLE compares two little-endian 256-bit numbers: a < b.
func lessLE(a, b [32]byte) bool {
	for i := 31; i >= 0; i-- {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
