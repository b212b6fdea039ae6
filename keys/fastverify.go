package keys

import (
	"bytes"
	"crypto/sha256"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Verify's fast path. twister checks a signature by recovering the signer's
// key (with the recovery id and compression flag of the header byte) and
// comparing it with the expected key. When the expected key P is known the
// same verdict needs no recovery: recovery from (r, s, recid) yields P
// exactly when the point R' = (e/s)·G + (r/s)·P has the x coordinate the
// signature names (r, plus the group order when recid's second bit is set)
// and the y parity recid's first bit names, since then R' is the point
// recovery decompresses and r⁻¹·(s·R' − e·G) = P. verifyKnown checks just
// that, sparing the square root of the decompression and the key's
// serialization, and multiplies P with a table of its multiples once the
// key has signed several of the messages checked (a timeline is many posts
// by few authors). A (signature, digest, key) triple that passed is
// remembered, so checking it again costs one SHA-256; so is every
// signature this process makes (PrivateKey.SignHash).
//
// The fast path only ever answers "valid"; anything else (a malformed
// signature, a mismatch, a key encoding recovery could not reproduce)
// goes through the recovery path, which decides and words the error.

const (
	// tableWindow is the width in bits of the fixed windows of a key
	// table: 64 windows of 15 multiples each (about 115 KB per key; 5
	// bits would save 12 of 64 additions per use but cost 193 KB and 70%
	// more time to build).
	tableWindow  = 4
	tableWindows = (256 + tableWindow - 1) / tableWindow
	tableEntries = 1<<tableWindow - 1
	// tableAfter is how many verifications with a key come before its
	// table is built: building costs about as much as 15 verifications
	// (1.6 ms natively), and each later one saves about 40% of its cost.
	tableAfter = 16
	// maxTables bounds the keys with a table; maxKeys the keys kept
	// parsed and counted towards tableAfter; maxVerified the remembered
	// valid triples.
	maxTables   = 32
	maxKeys     = 4096
	maxVerified = 1 << 13
)

// keyTable holds j·2^(w·i)·P for every window i and j = 1..2^w−1 (w is
// tableWindow), in affine coordinates (Z = 1, so additions of them are
// mixed additions).
type keyTable [tableWindows][tableEntries]secp256k1.JacobianPoint

// keyState is what the fast path keeps about a key: its point (parsed
// once; a compressed key costs a square root to parse), how often it was
// used, and its table once built.
type keyState struct {
	P        secp256k1.JacobianPoint
	uses     int
	tab      *keyTable
	building bool // a goroutine is computing tab
}

// fastCache is the state of the fast path, guarded by its mutex.
type fastCache struct {
	sync.Mutex
	keys     map[string]*keyState
	tables   int // keys with a table
	verified map[[32]byte]struct{}
}

// verifyCache is the process-wide fastCache.
var verifyCache = fastCache{keys: map[string]*keyState{}, verified: map[[32]byte]struct{}{}}

// orderAsField is the group order n as a field element.
var orderAsField = func() (f secp256k1.FieldVal) {
	b := secp256k1.Params().N.FillBytes(make([]byte, 32))
	f.SetByteSlice(b)
	return f
}()

// tripleKey identifies a (signature, digest, key) triple.
func tripleKey(hash, sig []byte, pub PubKey) [32]byte {
	h := sha256.New()
	h.Write(sig)
	h.Write(hash)
	h.Write(pub)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verifyKnown tells whether recovering the key of sig over the digest hash
// would certainly yield exactly pub (as RecoverHash serializes it). false
// means "not shown": the caller recovers to decide.
func verifyKnown(hash []byte, sig []byte, pub PubKey) bool {
	if len(sig) != SignatureSize || len(hash) != 32 || sig[0] < 27 || sig[0] > 34 {
		return false
	}
	code := sig[0] - 27
	recid, compressed := code&3, code&4 != 0
	if recid == 3 {
		return false
	}
	// Recovery serializes compressed (33 bytes, 02/03) or uncompressed
	// (65 bytes, 04) by the flag: pub must be that very encoding.
	if compressed && (len(pub) != 33 || pub[0] != 2 && pub[0] != 3) ||
		!compressed && (len(pub) != 65 || pub[0] != 4) {
		return false
	}
	tk := tripleKey(hash, sig, pub)
	c := &verifyCache
	c.Lock()
	if _, done := c.verified[tk]; done {
		c.Unlock()
		return true
	}
	ks := c.keys[string(pub)]
	c.Unlock()
	if ks == nil {
		if ks = parseKnown(pub, compressed); ks == nil {
			return false
		}
		c.Lock()
		if old := c.keys[string(pub)]; old != nil {
			ks = old // parsed meanwhile by another goroutine
		} else {
			if len(c.keys) >= maxKeys {
				c.dropKey()
			}
			c.keys[string(pub)] = ks
		}
		c.Unlock()
	}
	c.Lock()
	ks.uses++
	tab := ks.tab
	build := tab == nil && !ks.building && ks.uses >= tableAfter
	if build {
		ks.building = true
	}
	c.Unlock()
	if build {
		tab = newKeyTable(&ks.P)
		c.Lock()
		for c.tables >= maxTables {
			c.dropTable()
		}
		ks.tab, ks.building = tab, false
		c.tables++
		c.Unlock()
	}

	var r, s, e secp256k1.ModNScalar
	if r.SetByteSlice(sig[1:33]) || r.IsZero() || s.SetByteSlice(sig[33:65]) || s.IsZero() {
		return false
	}
	rb := r.Bytes()
	var fieldR secp256k1.FieldVal
	fieldR.SetBytes(&rb)
	if recid&2 != 0 {
		if fieldR.IsGtOrEqPrimeMinusOrder() {
			return false
		}
		fieldR.Add(&orderAsField)
	}
	fieldR.Normalize()
	e.SetByteSlice(hash)

	// R' = u1·G + u2·P with u1 = e/s, u2 = r/s.
	w := new(secp256k1.ModNScalar).InverseValNonConst(&s)
	u1 := new(secp256k1.ModNScalar).Mul2(&e, w)
	u2 := new(secp256k1.ModNScalar).Mul2(&r, w)
	var u1G, u2P, R secp256k1.JacobianPoint
	secp256k1.ScalarBaseMultNonConst(u1, &u1G)
	if tab != nil {
		tab.mul(u2, &u2P)
	} else {
		secp256k1.ScalarMultNonConst(u2, &ks.P, &u2P)
	}
	secp256k1.AddNonConst(&u1G, &u2P, &R)
	if (R.X.IsZero() && R.Y.IsZero()) || R.Z.IsZero() {
		return false
	}
	R.ToAffine()
	if !R.X.Equals(&fieldR) || R.Y.IsOdd() != (recid&1 != 0) {
		return false
	}
	c.remember(tk)
	return true
}

// remember records a valid triple, forgetting an arbitrary one when full.
func (c *fastCache) remember(tk [32]byte) {
	c.Lock()
	if len(c.verified) >= maxVerified {
		for k := range c.verified {
			delete(c.verified, k)
			break
		}
	}
	c.verified[tk] = struct{}{}
	c.Unlock()
}

// rememberSigned records a signature this process just made with the key
// whose public key is pub: it is valid by construction, so verifying it
// later needs no curve operation.
func rememberSigned(hash, sig []byte, pub PubKey) {
	if len(sig) == SignatureSize && len(hash) == 32 {
		verifyCache.remember(tripleKey(hash, sig, pub))
	}
}

// parseKnown parses pub, returning nil unless it is on the curve and
// encoded exactly as recovery would serialize it (compressed or not).
func parseKnown(pub PubKey, compressed bool) *keyState {
	key, err := secp256k1.ParsePubKey(pub)
	if err != nil {
		return nil
	}
	var canon []byte
	if compressed {
		canon = key.SerializeCompressed()
	} else {
		canon = key.SerializeUncompressed()
	}
	if !bytes.Equal(canon, pub) {
		return nil
	}
	ks := new(keyState)
	key.AsJacobian(&ks.P)
	return ks
}

// dropKey forgets an arbitrary key (the caller holds the lock).
func (c *fastCache) dropKey() {
	for k, ks := range c.keys {
		if ks.tab != nil {
			c.tables--
		}
		delete(c.keys, k)
		return
	}
}

// dropTable frees the table of an arbitrary key that has one (the caller
// holds the lock).
func (c *fastCache) dropTable() {
	for _, ks := range c.keys {
		if ks.tab != nil {
			ks.tab = nil
			ks.uses = 0 // counts towards a new table
			c.tables--
			return
		}
	}
	c.tables = 0
}

// newKeyTable computes the multiples of P (Z = 1) a keyTable holds,
// converting them to affine coordinates with a single field inversion.
func newKeyTable(P *secp256k1.JacobianPoint) *keyTable {
	t := new(keyTable)
	var base secp256k1.JacobianPoint
	base.Set(P)
	for i := range tableWindows {
		row := &t[i]
		row[0].Set(&base)
		for j := 1; j < tableEntries; j++ {
			secp256k1.AddNonConst(&row[j-1], &base, &row[j])
		}
		if i+1 < tableWindows {
			// 2^w·base = 2·(2^(w-1)·base).
			secp256k1.DoubleNonConst(&row[1<<(tableWindow-1)-1], &base)
		}
	}
	// Batch inversion (Montgomery's trick): prefix products of the Z's,
	// one inversion, then each Z⁻¹ from the prefixes back to front.
	const n = tableWindows * tableEntries
	at := func(i int) *secp256k1.JacobianPoint { return &t[i/tableEntries][i%tableEntries] }
	prefix := make([]secp256k1.FieldVal, n)
	var acc secp256k1.FieldVal
	acc.SetInt(1)
	for i := range n {
		prefix[i].Set(&acc)
		acc.Mul(&at(i).Z)
	}
	acc.Normalize().Inverse() // (Z_0·…·Z_{n-1})⁻¹
	var zInv, z2 secp256k1.FieldVal
	for i := n - 1; i >= 0; i-- {
		p := at(i)
		zInv.Mul2(&acc, &prefix[i]) // Z_i⁻¹
		acc.Mul(&p.Z)               // (Z_0·…·Z_{i-1})⁻¹
		z2.SquareVal(&zInv)
		p.X.Mul(&z2).Normalize()
		p.Y.Mul(z2.Mul(&zInv)).Normalize()
		p.Z.SetInt(1)
	}
	return t
}

// mul sets result to k·P.
func (t *keyTable) mul(k *secp256k1.ModNScalar, result *secp256k1.JacobianPoint) {
	b := k.Bytes() // big-endian
	result.X.Zero()
	result.Y.Zero()
	result.Z.Zero()
	for i := range tableWindows {
		// Window i holds bits w·i .. w·i+w-1 of k.
		pos := tableWindow * i
		at := 31 - pos/8
		v := uint(b[at])
		if at > 0 {
			v |= uint(b[at-1]) << 8
		}
		if v = v >> (pos % 8) & tableEntries; v != 0 {
			secp256k1.AddNonConst(result, &t[i][v-1], result)
		}
	}
}

// ResetVerifyCache forgets what Verify remembers to go faster: the
// signatures already found valid, and the parsed keys and tables of
// multiples of frequent signers. Verdicts never depend on it; a benchmark
// of cold verification calls it first, and it frees the memory (a few MB at
// most).
func ResetVerifyCache() {
	c := &verifyCache
	c.Lock()
	clear(c.keys)
	clear(c.verified)
	c.tables = 0
	c.Unlock()
}
