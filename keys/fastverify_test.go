package keys

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// refVerify is the recovery verdict: the key recovered from sig over hash,
// serialized by the header's compression flag, is pub.
func refVerify(hash, sig []byte, pub PubKey) bool {
	got, err := RecoverHash(hash, sig)
	return err == nil && bytes.Equal(got, pub)
}

// mutations returns variants of a valid signature: each header byte
// (every recovery id and compression flag), s negated (n − s), r and s
// altered, r and s zero and over the order, and a truncation.
func mutations(sig []byte) [][]byte {
	var out [][]byte
	mod := func(f func(b []byte) []byte) {
		out = append(out, f(bytes.Clone(sig)))
	}
	for h := byte(25); h <= 36; h++ {
		mod(func(b []byte) []byte { b[0] = h; return b })
	}
	mod(func(b []byte) []byte {
		var s secp256k1.ModNScalar
		s.SetByteSlice(b[33:])
		s.Negate()
		sb := s.Bytes()
		copy(b[33:], sb[:])
		b[0] = 27 + (b[0] - 27) ^ 1 // the negated s recovers the key with the other parity
		return b
	})
	mod(func(b []byte) []byte {
		var s secp256k1.ModNScalar
		s.SetByteSlice(b[33:])
		s.Negate()
		sb := s.Bytes()
		copy(b[33:], sb[:])
		return b
	})
	mod(func(b []byte) []byte { b[5] ^= 1; return b })
	mod(func(b []byte) []byte { b[60] ^= 0x80; return b })
	mod(func(b []byte) []byte { clear(b[1:33]); return b })
	mod(func(b []byte) []byte { clear(b[33:]); return b })
	mod(func(b []byte) []byte {
		for i := 1; i < 33; i++ {
			b[i] = 0xff
		}
		return b
	})
	mod(func(b []byte) []byte {
		for i := 33; i < 65; i++ {
			b[i] = 0xff
		}
		return b
	})
	mod(func(b []byte) []byte { return b[:64] })
	return out
}

// TestVerifyKnownMatchesRecovery checks that the fast path answers "valid"
// exactly when recovery does, for valid signatures and their mutations,
// under compressed and uncompressed keys, other keys and re-encodings of
// the key (hybrid, the other compression), before and after the key's
// table is built and with the verified-triple cache warm.
func TestVerifyKnownMatchesRecovery(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 4 {
		var secret [32]byte
		for i := range secret {
			secret[i] = byte(rng.Uint32())
		}
		k, err := PrivateKeyFromBytes(secret[:], round%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := GenerateKey()
		pub := k.PubKey()
		pt := k.Curve().PubKey()
		hybrid := pt.SerializeUncompressed()
		hybrid[0] = 6 | hybrid[64]&1
		pubs := []PubKey{pub, other.PubKey(), PubKey(pt.SerializeCompressed()), PubKey(pt.SerializeUncompressed()), PubKey(hybrid), pub[:len(pub)-1]}
		// Enough messages to pass tableAfter, so later ones use the table.
		for i := range 3 * tableAfter {
			msg := []byte{byte(round), byte(i), byte(rng.Uint32())}
			sig := k.Sign(msg)
			h := MagicHash(msg)
			clearVerified() // Sign remembered it: check the curve path too
			// Every mutation and encoding for the first message (no table)
			// and one past tableAfter (table); the valid triple for the rest.
			full := i == 0 || i == 2*tableAfter
			cands, ps := [][]byte{sig}, pubs[:1]
			if full {
				cands, ps = append(cands, mutations(sig)...), pubs
			}
			for rep := range 2 { // the second time the triple is cached
				for pi, p := range ps {
					for mi, s := range cands {
						if got, want := verifyKnown(h[:], s, p), refVerify(h[:], s, p); got != want {
							t.Fatalf("round %d msg %d rep %d pub %d mutation %d: fast %v, recovery %v", round, i, rep, pi, mi, got, want)
						}
						if got, want := Verify(msg, s, p), verifyByRecovery(msg, s, p); !sameErr(got, want) {
							t.Fatalf("round %d msg %d pub %d mutation %d: Verify %v, recovery %v", round, i, pi, mi, got, want)
						}
					}
				}
			}
		}
		verifyCache.Lock()
		ks := verifyCache.keys[string(pub)]
		built := ks != nil && ks.tab != nil
		verifyCache.Unlock()
		if !built {
			t.Fatalf("round %d: no table for a key used %d times", round, 3*tableAfter)
		}
	}
}

// clearVerified forgets every remembered valid triple.
func clearVerified() {
	verifyCache.Lock()
	clear(verifyCache.verified)
	verifyCache.Unlock()
}

// TestSignRemembers checks the trusted path for what this process signs:
// the signature is remembered as valid (verifying it needs no curve
// operation), and nothing else is: another message, another key, a
// flipped byte still fail.
func TestSignRemembers(t *testing.T) {
	k, _ := GenerateKey()
	other, _ := GenerateKey()
	msg := []byte("signed here")
	sig := k.Sign(msg)
	h := MagicHash(msg)
	verifyCache.Lock()
	_, ok := verifyCache.verified[tripleKey(h[:], sig, k.PubKey())]
	verifyCache.Unlock()
	if !ok {
		t.Fatal("Sign did not remember its signature")
	}
	if err := Verify(msg, sig, k.PubKey()); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	if err := Verify([]byte("signed there"), sig, k.PubKey()); err == nil {
		t.Error("another message verified")
	}
	if err := Verify(msg, sig, other.PubKey()); !errors.Is(err, ErrWrongSigner) {
		t.Errorf("another key: %v, want ErrWrongSigner", err)
	}
	bad := bytes.Clone(sig)
	bad[40] ^= 1
	if err := Verify(msg, bad, k.PubKey()); err == nil {
		t.Error("flipped signature verified")
	}
}

// verifyByRecovery is Verify as it was before the fast path.
func verifyByRecovery(m, sig []byte, pub PubKey) error {
	got, err := Recover(m, sig)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, pub) {
		return ErrWrongSigner
	}
	return nil
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error() && errors.Is(a, ErrBadSignature) == errors.Is(b, ErrBadSignature) &&
		errors.Is(a, ErrWrongSigner) == errors.Is(b, ErrWrongSigner)
}

// TestKeyTableMul compares the table multiplication with the library's for
// edge scalars and random ones.
func TestKeyTableMul(t *testing.T) {
	k, _ := GenerateKey()
	var P secp256k1.JacobianPoint
	k.Curve().PubKey().AsJacobian(&P)
	tab := newKeyTable(&P)
	rng := rand.New(rand.NewPCG(7, 8))
	var scalars []secp256k1.ModNScalar
	for _, v := range []uint32{0, 1, 2, 15, 16, 17, 255} {
		var s secp256k1.ModNScalar
		s.SetInt(v)
		scalars = append(scalars, s)
	}
	var nm1 secp256k1.ModNScalar
	nm1.SetInt(1)
	nm1.Negate() // n − 1
	scalars = append(scalars, nm1)
	for range 50 {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		var s secp256k1.ModNScalar
		s.SetBytes(&b)
		scalars = append(scalars, s)
	}
	for i := range scalars {
		var got, want secp256k1.JacobianPoint
		tab.mul(&scalars[i], &got)
		secp256k1.ScalarMultNonConst(&scalars[i], &P, &want)
		gInf := got.Z.IsZero() || (got.X.IsZero() && got.Y.IsZero())
		wInf := want.Z.IsZero() || (want.X.IsZero() && want.Y.IsZero())
		if gInf || wInf {
			if gInf != wInf {
				t.Fatalf("scalar %d: infinity mismatch", i)
			}
			continue
		}
		got.ToAffine()
		want.ToAffine()
		if !got.X.Equals(&want.X) || !got.Y.Equals(&want.Y) {
			t.Fatalf("scalar %d: table product differs", i)
		}
	}
}

// BenchmarkVerifyTimeline verifies signatures by one author, as a timeline
// does (the key's table is built during the first iterations), each
// message once: the verified-triple cache never hits.
func BenchmarkVerifyTimeline(b *testing.B) {
	k, _ := GenerateKey()
	pub := k.PubKey()
	const n = 256
	msgs := make([][]byte, n)
	sigs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = append(bytes.Clone(benchMsg), byte(i), byte(i>>8))
		sigs[i] = k.Sign(msgs[i])
	}
	clearVerified() // Sign remembered them
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			clearVerified()
			b.StartTimer()
			i = 0
		}
		if err := Verify(msgs[i], sigs[i], pub); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyFirstSight verifies a signature by a key seen for the
// first time: no table, no cached triple.
func BenchmarkVerifyFirstSight(b *testing.B) {
	k, _ := GenerateKey()
	pub := k.PubKey()
	sig := k.Sign(benchMsg)
	h := MagicHash(benchMsg)
	for b.Loop() {
		verifyCache.Lock()
		clear(verifyCache.verified)
		clear(verifyCache.keys)
		verifyCache.tables = 0
		verifyCache.Unlock()
		if !verifyKnown(h[:], sig, pub) {
			b.Fatal("not verified")
		}
	}
}

// BenchmarkKeyTable measures building a key's table of multiples.
func BenchmarkKeyTable(b *testing.B) {
	k, _ := GenerateKey()
	var P secp256k1.JacobianPoint
	k.Curve().PubKey().AsJacobian(&P)
	for b.Loop() {
		newKeyTable(&P)
	}
}
