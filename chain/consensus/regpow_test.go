package consensus

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

// refGrind is the plain search GrindRegistration replaced: SHA256d of the
// whole serialization per nonce, counting up from 0.
func refGrind(tx *Tx, bits uint32) uint32 {
	var tgt Hash
	fillLE(tgt[:], CompactToTarget(bits))
	buf := tx.Bytes()
	for nonce := uint32(0); ; nonce++ {
		binary.LittleEndian.PutUint32(buf[len(buf)-4:], nonce)
		h := sha256.Sum256(buf)
		h = sha256.Sum256(h[:])
		if lessLE(h, tgt) {
			return nonce
		}
	}
}

// refTop is hash bytes 28..31 of SHA256d(msg with nonce) read little-endian.
func refTop(msg []byte, nonce uint32) uint32 {
	binary.LittleEndian.PutUint32(msg[len(msg)-4:], nonce)
	h := sha256.Sum256(msg)
	h = sha256.Sum256(h[:])
	return binary.LittleEndian.Uint32(h[28:])
}

// TestRegGrinderTop compares the specialised SHA256d with crypto/sha256 for
// every message length up to 300 bytes (every nonce position within its
// block, one and two tail blocks, midstates over earlier blocks) and random
// nonces, including the byte patterns of real nonces.
func TestRegGrinderTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	handled := 0
	for n := 4; n <= 300; n++ {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		g, ok := newRegGrinder(msg)
		if !ok {
			if r := (n - 4) % 64; r < 61 {
				t.Fatalf("len %d refused (nonce at %d in its block)", n, r)
			}
			continue
		}
		handled++
		for _, nonce := range []uint32{0, 1, 0xff, 0x100, 0xffffffff, 0x80000000, 12021482, rng.Uint32(), rng.Uint32(), rng.Uint32()} {
			if got, want := g.top(nonce), refTop(msg, nonce); got != want {
				t.Fatalf("len %d nonce %d: top %08x, want %08x", n, nonce, got, want)
			}
		}
	}
	if handled < 280 {
		t.Fatalf("only %d lengths handled", handled)
	}
	if _, ok := newRegGrinder(make([]byte, 3)); ok {
		t.Fatal("3-byte message accepted")
	}
}

// TestGrindRegistrationMatchesPlain checks that the search, with and
// without the specialised SHA256d, finds the
// same nonce as the plain search for random registrations and key
// replacements (names of 1 to 16 bytes, compressed and uncompressed keys)
// under several targets.
func TestGrindRegistrationMatchesPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789_"
	old, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	bitsSet := []uint32{0x207fffff, 0x2000ffff, 0x1f7fffff, 0x1f0fffff}
	cases := 48
	if runtime.GOARCH == "wasm" || testing.Short() {
		cases = 16
	}
	for i := range cases {
		name := make([]byte, 1+rng.IntN(MaxUsernameSize))
		for j := range name {
			name[j] = letters[rng.IntN(len(letters))]
		}
		pub := make(keys.PubKey, 33)
		if i%3 == 1 {
			pub = make(keys.PubKey, 65)
		}
		for j := range pub {
			pub[j] = byte(rng.Uint32())
		}
		var tx *Tx
		if i%4 == 3 {
			tx, err = NewKeyReplacement(string(name), pub, old)
		} else {
			tx, err = NewRegistration(string(name), pub)
		}
		if err != nil {
			t.Fatal(err)
		}
		bits := bitsSet[i%len(bitsSet)]
		want := refGrind(tx, bits)
		for _, fast := range []bool{true, false} {
			tx.Nonce = 0
			got, err := grindRegistration(context.Background(), tx, bits, nil, fast)
			if err != nil || got != want || tx.Nonce != want {
				t.Fatalf("%q (%d bytes) bits %08x fast=%v: grind %d, %v; plain search %d", name, tx.SerializeSize(), bits, fast, got, err, want)
			}
		}
	}
}

// TestRegGrinderVector checks the specialised hash on the daemon's mainnet
// registration: its nonce meets the target, the one before does not.
func TestRegGrinderVector(t *testing.T) {
	v := vectors.Derived()
	tx, err := DecodeTx(vectors.Hex(v, "derived_by_spec", "registration_tx", "tx_hex"))
	if err != nil {
		t.Fatal(err)
	}
	if tx.Nonce != 12021482 {
		t.Fatalf("vector nonce %d", tx.Nonce)
	}
	g, ok := newRegGrinder(tx.Bytes())
	if !ok {
		t.Fatal("vector registration not handled")
	}
	var tgt Hash
	fillLE(tgt[:], CompactToTarget(Mainnet.TxBits))
	top := binary.LittleEndian.Uint32(tgt[28:])
	if got := g.top(tx.Nonce); got > top {
		t.Fatalf("top at the vector nonce %08x > %08x", got, top)
	}
	// Every nonce from 12,000,000 up to the vector's is rejected.
	for n := uint32(12000000); n < tx.Nonce; n++ {
		if g.top(n) <= top && refTop(tx.Bytes(), n) <= top {
			t.Fatalf("nonce %d would meet the target", n)
		}
	}
}
