package keystore

import (
	"context"
	"fmt"
	"testing"
)

// benchUnlock measures Store.Unlock (read, decode, scrypt, open) with p.
func benchUnlock(b *testing.B, p KDFParams) {
	ctx := context.Background()
	s, err := OpenWith(ctx, NewMemBackend(), Options{KDF: p})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Import(ctx, "gotest", testKey().wif, "correct horse battery staple"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Unlock(ctx, "gotest", "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
		s.Lock("gotest")
	}
}

// BenchmarkUnlock is the unlock time with DefaultKDF; the goal is well
// under a second in a browser.
func BenchmarkUnlock(b *testing.B) { benchUnlock(b, DefaultKDF) }

// BenchmarkUnlockKDF compares the candidate scrypt costs.
func BenchmarkUnlockKDF(b *testing.B) {
	for _, logN := range []uint8{14, 15, 16, 17} {
		b.Run(fmt.Sprintf("N=2^%d", logN), func(b *testing.B) {
			benchUnlock(b, KDFParams{LogN: logN, R: 8, P: 1})
		})
	}
}

func BenchmarkSessionSign(b *testing.B) {
	ctx := context.Background()
	s, err := OpenWith(ctx, NewMemBackend(), Options{KDF: testKDF})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
		b.Fatal(err)
	}
	ss, err := s.Unlock(ctx, "gotest", "pw")
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("The quick brown fox jumps over the lazy dog")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ss.Sign(msg) == nil {
			b.Fatal("no signature")
		}
	}
}
