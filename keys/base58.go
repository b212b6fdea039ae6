package keys

import (
	"bytes"
	"fmt"
	"math/big"
)

const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var alphabetIndex = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// EncodeBase58 encodes b in Bitcoin's base58 alphabet.
func EncodeBase58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	n := new(big.Int).SetBytes(b)
	radix := big.NewInt(58)
	mod := new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, alphabet[mod.Int64()])
	}
	for i := 0; i < zeros; i++ {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// DecodeBase58 decodes a base58 string.
func DecodeBase58(s string) ([]byte, error) {
	if len(s) > 128 {
		return nil, fmt.Errorf("%w: %d characters", ErrSecretLength, len(s))
	}
	n := new(big.Int)
	radix := big.NewInt(58)
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	for i := 0; i < len(s); i++ {
		d := alphabetIndex[s[i]]
		if d < 0 {
			return nil, fmt.Errorf("%w %q at position %d", ErrBase58, s[i], i)
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(d)))
	}
	return append(make([]byte, zeros), n.Bytes()...), nil
}

// EncodeBase58Check appends the 4-byte SHA256d checksum and encodes.
func EncodeBase58Check(payload []byte) string {
	sum := SHA256d(payload)
	return EncodeBase58(append(append([]byte{}, payload...), sum[:4]...))
}

func checkChecksum(raw []byte) ([]byte, error) {
	if len(raw) < 5 {
		return nil, fmt.Errorf("%w: %d bytes", ErrSecretLength, len(raw))
	}
	payload, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	want := SHA256d(payload)
	if !bytes.Equal(sum, want[:4]) {
		return nil, ErrSecretChecksum
	}
	return payload, nil
}

// DecodeBase58Check decodes and checks the checksum, returning the payload.
func DecodeBase58Check(s string) ([]byte, error) {
	raw, err := DecodeBase58(s)
	if err != nil {
		return nil, err
	}
	return checkChecksum(raw)
}
