package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxCompactSize is the largest value ReadCompactSize accepts, the same bound
// (MAX_SIZE, 32 MiB) the reference applies when it reads a length or count.
const MaxCompactSize = 0x02000000

// AppendCompactSize appends n in Bitcoin's CompactSize encoding (1, 3, 5 or 9
// bytes, always minimal) to dst.
func AppendCompactSize(dst []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(dst, byte(n))
	case n <= math.MaxUint16:
		return binary.LittleEndian.AppendUint16(append(dst, 0xfd), uint16(n))
	case n <= math.MaxUint32:
		return binary.LittleEndian.AppendUint32(append(dst, 0xfe), uint32(n))
	default:
		return binary.LittleEndian.AppendUint64(append(dst, 0xff), n)
	}
}

// ReadCompactSize decodes a CompactSize at the start of b and returns its
// value and encoded length. Like Bitcoin 0.8 it accepts non-minimal encodings
// but rejects values above MaxCompactSize.
func ReadCompactSize(b []byte) (n uint64, size int, err error) {
	n, size, err = readCompactSize(b)
	if err != nil {
		err = fmt.Errorf("wire: %w", err)
	}
	return n, size, err
}

// readCompactSize is ReadCompactSize with errors not yet prefixed.
func readCompactSize(b []byte) (n uint64, size int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("CompactSize: %w", ErrTruncated)
	}
	switch b[0] {
	case 0xfd:
		size = 3
	case 0xfe:
		size = 5
	case 0xff:
		size = 9
	default:
		return uint64(b[0]), 1, nil
	}
	if len(b) < size {
		return 0, 0, fmt.Errorf("CompactSize needs %d bytes, have %d: %w", size, len(b), ErrTruncated)
	}
	switch size {
	case 3:
		n = uint64(binary.LittleEndian.Uint16(b[1:]))
	case 5:
		n = uint64(binary.LittleEndian.Uint32(b[1:]))
	default:
		n = binary.LittleEndian.Uint64(b[1:])
	}
	if n > MaxCompactSize {
		return 0, 0, fmt.Errorf("CompactSize %d exceeds %d: %w", n, MaxCompactSize, ErrInvalid)
	}
	return n, size, nil
}

// decoder reads little-endian fields from a payload with a sticky error: the
// first failure is kept and every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) failf(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) take(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.failf("%s: need %d bytes, have %d: %w", what, n, len(d.b), ErrTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) empty() bool { return d.err == nil && len(d.b) == 0 }

func (d *decoder) u16be(what string) uint16 {
	if b := d.take(what, 2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.take(what, 4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.take(what, 8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) i32(what string) int32 { return int32(d.u32(what)) }
func (d *decoder) i64(what string) int64 { return int64(d.u64(what)) }

// boolean reads one byte; like the reference, any non-zero value is true.
func (d *decoder) boolean(what string) bool {
	if b := d.take(what, 1); b != nil {
		return b[0] != 0
	}
	return false
}

func (d *decoder) hash(what string) (h Hash) {
	if b := d.take(what, 32); b != nil {
		copy(h[:], b)
	}
	return h
}

func (d *decoder) compactSize(what string) uint64 {
	if d.err != nil {
		return 0
	}
	n, size, err := readCompactSize(d.b)
	if err != nil {
		d.failf("%s: %w", what, err)
		return 0
	}
	d.b = d.b[size:]
	return n
}

// count reads a CompactSize element count, checks it against max (0 = no
// limit of its own) and against the bytes left, given a minimum encoded size
// per element, so that no allocation is ever larger than the payload allows.
func (d *decoder) count(what string, minElem, max int) int {
	n := d.compactSize(what + " count")
	if d.err != nil {
		return 0
	}
	if max > 0 && n > uint64(max) {
		d.failf("%s: %d entries, limit %d: %w", what, n, max, ErrTooMany)
		return 0
	}
	if minElem > 0 && n > uint64(len(d.b)/minElem) {
		d.failf("%s: %d entries of at least %d bytes, only %d bytes left: %w", what, n, minElem, len(d.b), ErrTruncated)
		return 0
	}
	return int(n)
}

// varBytes reads a CompactSize length and that many bytes, returning a copy
// (never aliasing the payload). max bounds the length (0 = payload only).
func (d *decoder) varBytes(what string, max int) []byte {
	n := d.compactSize(what + " length")
	if d.err != nil {
		return nil
	}
	if max > 0 && n > uint64(max) {
		d.failf("%s: %d bytes, limit %d: %w", what, n, max, ErrTooLong)
		return nil
	}
	b := d.take(what, int(n))
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// finish reports trailing bytes (a payload longer than its message) as an
// error and returns the sticky error.
func (d *decoder) finish(cmd string) error {
	if d.err == nil && len(d.b) > 0 {
		d.failf("%s: %d unexpected bytes after the payload: %w", cmd, len(d.b), ErrTrailingBytes)
	}
	return d.err
}

func appendVarBytes(dst, b []byte) []byte {
	return append(AppendCompactSize(dst, uint64(len(b))), b...)
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}
