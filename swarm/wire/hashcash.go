package wire

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
)

// hashcashTarget returns (2^160 − 1) >> nbits as 20 big-endian bytes.
func hashcashTarget(nbits uint16) [20]byte {
	var t [20]byte
	for i := range t {
		t[i] = 0xff
	}
	n := int(nbits)
	if n >= 160 {
		return [20]byte{}
	}
	// Shift right by n bits.
	var out [20]byte
	byteShift, bitShift := n/8, uint(n%8)
	for i := 19; i >= byteShift; i-- {
		v := uint16(t[i-byteShift]) >> bitShift
		if i-byteShift-1 >= 0 && bitShift > 0 {
			v |= uint16(t[i-byteShift-1]) << (8 - bitShift)
		}
		out[i] = byte(v)
	}
	return out
}

// HashcashOK reports whether nonce authorises a request for piece in the
// torrent infoHash at difficulty nbits: SHA1(info_hash ‖ int32_be(piece) ‖
// nonce) < (2^160 − 1) >> nbits, compared as big-endian numbers (§4.7).
func HashcashOK(infoHash [20]byte, piece uint32, nonce []byte, nbits uint16) bool {
	h := sha1.New()
	h.Write(infoHash[:])
	h.Write(binary.BigEndian.AppendUint32(nil, piece))
	h.Write(nonce)
	target := hashcashTarget(nbits)
	return bytes.Compare(h.Sum(nil), target[:]) < 0
}

// ErrNoNonce is returned when no nonce is found before ctx ends.
var ErrNoNonce = errors.New("wire: no hashcash nonce found")

// SolveHashcash searches the 4-byte nonce (int32 big-endian, counting from
// 0 as twisterd does) that authorises a PEEK request for piece.
func SolveHashcash(ctx context.Context, infoHash [20]byte, piece uint32, nbits uint16) ([]byte, error) {
	target := hashcashTarget(nbits)
	var buf [28]byte
	copy(buf[:], infoHash[:])
	binary.BigEndian.PutUint32(buf[20:], piece)
	for nonce := uint32(0); nonce < 0x7fff0000; nonce++ {
		binary.BigEndian.PutUint32(buf[24:], nonce)
		sum := sha1.Sum(buf[:])
		if bytes.Compare(sum[:], target[:]) < 0 {
			return append([]byte(nil), buf[24:]...), nil
		}
		if nonce%10000 == 0 && ctx.Err() != nil {
			return nil, ErrNoNonce
		}
	}
	return nil, ErrNoNonce
}
