package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Script opcodes used by twister's push-only "scripts".
const (
	opPushData1 = 0x4c
	opPushData2 = 0x4d
	opPushData4 = 0x4e
	op16        = 0x60
)

// maxCompactSize is the largest length twisterd's ReadCompactSize accepts
// (serialize.h MAX_SIZE).
const maxCompactSize = 0x02000000

// ErrMalformed is wrapped by every decoding error (short input, bad
// lengths, trailing bytes).
var ErrMalformed = errors.New("consensus: malformed encoding")

// AppendCompactSize appends Bitcoin's CompactSize encoding of n.
func AppendCompactSize(dst []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(dst, 0xfd), uint16(n))
	case n <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(dst, 0xfe), uint32(n))
	}
	return binary.LittleEndian.AppendUint64(append(dst, 0xff), n)
}

// CompactSizeLen returns the length of the CompactSize encoding of n.
func CompactSizeLen(n uint64) int {
	switch {
	case n < 0xfd:
		return 1
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

// readCompactSize reads a CompactSize as twisterd does: non-minimal
// encodings are accepted (the reference re-serializes canonically for every
// hash, and so do we), values above 0x02000000 are refused.
func readCompactSize(b []byte) (uint64, int, error) {
	if len(b) < 1 {
		return 0, 0, fmt.Errorf("%w: missing length", ErrMalformed)
	}
	var n uint64
	var used int
	switch b[0] {
	case 0xfd:
		if len(b) < 3 {
			return 0, 0, fmt.Errorf("%w: truncated length", ErrMalformed)
		}
		n, used = uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case 0xfe:
		if len(b) < 5 {
			return 0, 0, fmt.Errorf("%w: truncated length", ErrMalformed)
		}
		n, used = uint64(binary.LittleEndian.Uint32(b[1:])), 5
	case 0xff:
		if len(b) < 9 {
			return 0, 0, fmt.Errorf("%w: truncated length", ErrMalformed)
		}
		n, used = binary.LittleEndian.Uint64(b[1:]), 9
	default:
		n, used = uint64(b[0]), 1
	}
	if n > maxCompactSize {
		return 0, 0, fmt.Errorf("%w: length %d too large", ErrMalformed, n)
	}
	return n, used, nil
}

// readVarBytes reads CompactSize(len) ‖ bytes.
func readVarBytes(b []byte) ([]byte, int, error) {
	n, used, err := readCompactSize(b)
	if err != nil {
		return nil, 0, err
	}
	if uint64(len(b)-used) < n {
		return nil, 0, fmt.Errorf("%w: %d bytes announced, %d left", ErrMalformed, n, len(b)-used)
	}
	out := make([]byte, n)
	copy(out, b[used:used+int(n)])
	return out, used + int(n), nil
}

// AppendPush appends a script push of data as CScript's operator<<
// (vector) writes it: a 1-byte length below 0x4c, else OP_PUSHDATA1/2/4
// with a little-endian length. An empty push is the single byte 0x00.
func AppendPush(script, data []byte) []byte {
	n := len(data)
	switch {
	case n < opPushData1:
		script = append(script, byte(n))
	case n <= 0xff:
		script = append(script, opPushData1, byte(n))
	case n <= 0xffff:
		script = binary.LittleEndian.AppendUint16(append(script, opPushData2), uint16(n))
	default:
		script = binary.LittleEndian.AppendUint32(append(script, opPushData4), uint32(n))
	}
	return append(script, data...)
}

// Pushes builds a script of the given pushes in order.
func Pushes(data ...[]byte) []byte {
	var s []byte
	for _, d := range data {
		s = AppendPush(s, d)
	}
	return s
}

// ParsePushes splits a script into the data of its operations, with the
// semantics of twisterd's CScript::ExtractPushData: every operation must be
// a push or a small-number opcode (≤ OP_16, which yields empty data);
// anything else, or a truncated push, is an error.
func ParsePushes(script []byte) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(script); {
		op := script[i]
		i++
		var n int
		switch {
		case op < opPushData1:
			n = int(op)
		case op == opPushData1:
			if len(script)-i < 1 {
				return nil, fmt.Errorf("%w: truncated OP_PUSHDATA1", ErrMalformed)
			}
			n = int(script[i])
			i++
		case op == opPushData2:
			if len(script)-i < 2 {
				return nil, fmt.Errorf("%w: truncated OP_PUSHDATA2", ErrMalformed)
			}
			n = int(binary.LittleEndian.Uint16(script[i:]))
			i += 2
		case op == opPushData4:
			if len(script)-i < 4 {
				return nil, fmt.Errorf("%w: truncated OP_PUSHDATA4", ErrMalformed)
			}
			m := binary.LittleEndian.Uint32(script[i:])
			i += 4
			if uint64(m) > uint64(len(script)-i) {
				return nil, fmt.Errorf("%w: push of %d bytes past the end", ErrMalformed, m)
			}
			n = int(m)
		case op <= op16:
			out = append(out, []byte{})
			continue
		default:
			return nil, fmt.Errorf("%w: opcode 0x%02x is not a push", ErrMalformed, op)
		}
		if n > len(script)-i {
			return nil, fmt.Errorf("%w: push of %d bytes past the end", ErrMalformed, n)
		}
		out = append(out, script[i:i+n:i+n])
		i += n
	}
	return out, nil
}

// pushAt returns the n-th push of script, or nil if the script does not
// parse or is shorter (CScript::ExtractPushDataString).
func pushAt(script []byte, n int) []byte {
	p, err := ParsePushes(script)
	if err != nil || len(p) <= n {
		return nil
	}
	return p[n]
}

// IsSmallString tells whether script is exactly one direct push of fewer
// than 0x4c bytes (CScript::IsSmallString), the form of a username.
func IsSmallString(script []byte) bool {
	return len(script) > 0 && script[0] < opPushData1 && len(script) == int(script[0])+1
}

// minimalLE returns n as CBigNum::getvch encodes an unsigned number:
// little-endian, minimal, with a 0x00 appended when the top bit is set
// (the sign bit); zero is the empty vector.
func minimalLE(n uint64) []byte {
	var out []byte
	for n > 0 {
		out = append(out, byte(n))
		n >>= 8
	}
	if len(out) > 0 && out[len(out)-1]&0x80 != 0 {
		out = append(out, 0)
	}
	return out
}
