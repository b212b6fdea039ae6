package keys

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary text and bytes to the key decoders (secret
// keys as importprivkey takes them, base58check, public keys as the chain
// carries them, compact signatures): each either fails with an error or
// gives a value that encodes back to its input.
func FuzzParse(f *testing.F) {
	k, _ := PrivateKeyFromBytes(bytes.Repeat([]byte{7}, 32), true)
	sig := k.Sign([]byte("msg"))
	f.Add(k.Secret(), []byte(k.PubKey()), sig)
	f.Add("5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ", []byte{4}, []byte{})
	f.Add("1111111111", bytes.Repeat([]byte{2}, 33), bytes.Repeat([]byte{31}, 65))
	f.Fuzz(func(t *testing.T, s string, pub, sig []byte) {
		if k, err := ParseSecret(s); err == nil {
			if k.Secret() != s {
				t.Fatalf("secret %q re-encodes as %q", s, k.Secret())
			}
		}
		if b, err := DecodeBase58Check(s); err == nil {
			if EncodeBase58Check(b) != s {
				t.Fatalf("base58check %q re-encodes differently", s)
			}
		}
		if p, err := ParsePubKey(pub); err == nil && !bytes.Equal(p, pub) {
			t.Fatalf("public key %x parsed as %x", pub, p)
		}
		if p, err := Recover([]byte(s), sig); err == nil {
			if err := Verify([]byte(s), sig, p); err != nil {
				t.Fatalf("recovered key does not verify: %v", err)
			}
		}
	})
}
