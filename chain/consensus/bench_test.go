package consensus

import (
	"context"
	"testing"

	"github.com/gotwister/twister/keys"
)

// BenchmarkHeaderValidation measures the scrypt-bound check of a header's
// proof of work (twisterd's CheckProofOfWork over GetPoWHash).
func BenchmarkHeaderValidation(b *testing.B) {
	h := Mainnet.GenesisBlock.Header
	for b.Loop() {
		if err := CheckProofOfWork(h.PoWHash(), h.Bits, Mainnet.PowLimit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkRegistrationPoW measures registration grinding (SHA256d per
// nonce) against a target no hash meets within b.N tries.
func BenchmarkRegistrationPoW(b *testing.B) {
	tx, _ := NewRegistration("benchuser", keys.PubKey(make([]byte, 33)))
	b.ResetTimer()
	var tried uint64
	// Grind in chunks of 2^16 nonces: cancel once b.N hashes are done.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _ = GrindRegistration(ctx, tx, 0x01010000, func(n uint64) {
		tried = n
		if n >= uint64(b.N) {
			cancel()
		}
	})
	b.ReportMetric(float64(tried)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkRegistrationPoWFast and BenchmarkRegistrationPoWPlain measure
// the search with and without the specialised SHA256d of regpow.go
// (GrindRegistration picks one per platform), for a name of 9 bytes (the
// nonce's block is the last) and of 16 (a padding block follows).
func BenchmarkRegistrationPoWFast(b *testing.B)  { benchGrind(b, true) }
func BenchmarkRegistrationPoWPlain(b *testing.B) { benchGrind(b, false) }

func benchGrind(b *testing.B, fast bool) {
	for _, name := range []string{"benchuser", "benchuser1234567"} {
		b.Run(name, func(b *testing.B) {
			tx, _ := NewRegistration(name, keys.PubKey(make([]byte, 33)))
			b.ResetTimer()
			var tried uint64
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, _ = grindRegistration(ctx, tx, 0x01010000, func(n uint64) {
				tried = n
				if n >= uint64(b.N) {
					cancel()
				}
			}, fast)
			b.ReportMetric(float64(tried)/b.Elapsed().Seconds(), "hashes/s")
		})
	}
}
