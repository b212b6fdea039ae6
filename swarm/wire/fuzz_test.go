package wire

import (
	"bytes"
	"testing"
)

// FuzzReadMessage checks that any input either decodes to a message that
// re-encodes to exactly the bytes consumed, or fails with an error.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0, 0, 0, 5, 4, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxBitfield: 512, MaxPayload: 1024}
		for len(b) > 0 {
			m, n, err := ParseMessage(b, lim)
			if err != nil {
				return
			}
			if n < 4 || n > len(b) {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			if enc := AppendMessage(nil, m); !bytes.Equal(enc, b[:n]) {
				t.Fatalf("re-encoding %x differs from input %x", enc, b[:n])
			}
			_ = m.String()
			b = b[n:]
		}
	})
}

// FuzzHandshake checks handshake decoding against re-encoding.
func FuzzHandshake(f *testing.F) {
	f.Add(AppendHandshake(nil, Handshake{Reserved: DefaultReserved}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHandshake(bytes.NewReader(b))
		if err != nil {
			return
		}
		if enc := AppendHandshake(nil, h); !bytes.Equal(enc, b[:HandshakeLen]) {
			t.Fatalf("re-encoding %x differs from %x", enc, b[:HandshakeLen])
		}
		if _, err := ParseHandshake(b[:HandshakeLen]); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzExtHandshake checks that the extension-handshake decoder never panics
// and that what it decodes survives an encode/decode round trip.
func FuzzExtHandshake(f *testing.F) {
	f.Add([]byte("d1:md6:ut_pexi1ee1:pi19452e4:reqqi250ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseExtHandshake(b)
		if err != nil {
			return
		}
		h2, err := ParseExtHandshake(h.Encode())
		if err != nil {
			t.Fatalf("re-encoded handshake does not decode: %v", err)
		}
		if !bytes.Equal(h2.Encode(), h.Encode()) {
			t.Fatalf("round trip differs")
		}
	})
}
