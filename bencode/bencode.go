// Package bencode implements the bencoding used everywhere in twister: posts,
// DHT items, KRPC packets and the swarm's extension handshake.
//
// Encoding is always canonical (dictionary keys in ascending byte order,
// minimal integers), exactly as libtorrent's entry class writes it. Decoding
// is strict by default: it refuses non-canonical input, because twister
// signatures are computed over bencoded bytes and a non-canonical copy could
// never be re-encoded to the bytes that were signed. Every decoded Value keeps
// the exact bytes it was decoded from (Raw), so signatures are checked over
// what was received, not over a re-encoding.
package bencode

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
)

// Kind tells which of the four bencode types a Value holds.
type Kind uint8

// The bencode types.
const (
	Invalid Kind = iota
	Int
	String
	List
	Dict
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "integer"
	case String:
		return "string"
	case List:
		return "list"
	case Dict:
		return "dictionary"
	}
	return "invalid"
}

// Value is one bencoded value. Exactly one of Int, Str, List or Dict is
// meaningful, as Kind says. Dict entries are kept in key order.
type Value struct {
	Kind Kind
	Int  int64
	Str  []byte
	List []Value
	Dict []Pair
	// Raw holds the exact bytes this value was decoded from. It is nil for
	// values built in memory; Encode never looks at it.
	Raw []byte
}

// Pair is one dictionary entry.
type Pair struct {
	Key   string
	Value Value
}

// NewInt returns an integer value.
func NewInt(i int64) Value { return Value{Kind: Int, Int: i} }

// NewString returns a string value holding s.
func NewString(s string) Value { return Value{Kind: String, Str: []byte(s)} }

// NewBytes returns a string value holding a copy of b.
func NewBytes(b []byte) Value { return Value{Kind: String, Str: append([]byte{}, b...)} }

// NewList returns a list of the given values.
func NewList(items ...Value) Value {
	if items == nil {
		items = []Value{}
	}
	return Value{Kind: List, List: items}
}

// NewDict returns an empty dictionary; add entries with Set.
func NewDict() Value { return Value{Kind: Dict, Dict: []Pair{}} }

// DictOf builds a dictionary from a map.
func DictOf(m map[string]Value) Value {
	d := NewDict()
	for k, v := range m {
		d.Set(k, v)
	}
	return d
}

// Set adds or replaces key in a dictionary, keeping keys sorted. It panics if
// v is not a dictionary (a programming error, never caused by input).
func (v *Value) Set(key string, val Value) {
	if v.Kind != Dict {
		panic("bencode: Set on a " + v.Kind.String())
	}
	v.Raw = nil
	i := sort.Search(len(v.Dict), func(i int) bool { return v.Dict[i].Key >= key })
	if i < len(v.Dict) && v.Dict[i].Key == key {
		v.Dict[i].Value = val
		return
	}
	v.Dict = append(v.Dict, Pair{})
	copy(v.Dict[i+1:], v.Dict[i:])
	v.Dict[i] = Pair{Key: key, Value: val}
}

// Delete removes key from a dictionary, if present.
func (v *Value) Delete(key string) {
	if v.Kind != Dict {
		return
	}
	for i, p := range v.Dict {
		if p.Key == key {
			v.Dict = append(v.Dict[:i:i], v.Dict[i+1:]...)
			v.Raw = nil
			return
		}
	}
}

// Get returns the value under key in a dictionary.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != Dict {
		return Value{}, false
	}
	i := sort.Search(len(v.Dict), func(i int) bool { return v.Dict[i].Key >= key })
	if i < len(v.Dict) && v.Dict[i].Key == key {
		return v.Dict[i].Value, true
	}
	// Decoded dictionaries are sorted (Decode enforces it); a lenient
	// decode may not be, so fall back to a scan.
	for _, p := range v.Dict {
		if p.Key == key {
			return p.Value, true
		}
	}
	return Value{}, false
}

// Has tells whether a dictionary has key.
func (v Value) Has(key string) bool { _, ok := v.Get(key); return ok }

// GetString returns the string under key.
func (v Value) GetString(key string) (string, bool) {
	x, ok := v.Get(key)
	if !ok || x.Kind != String {
		return "", false
	}
	return string(x.Str), true
}

// GetBytes returns the bytes of the string under key.
func (v Value) GetBytes(key string) ([]byte, bool) {
	x, ok := v.Get(key)
	if !ok || x.Kind != String {
		return nil, false
	}
	return x.Str, true
}

// GetInt returns the integer under key.
func (v Value) GetInt(key string) (int64, bool) {
	x, ok := v.Get(key)
	if !ok || x.Kind != Int {
		return 0, false
	}
	return x.Int, true
}

// GetDict returns the dictionary under key.
func (v Value) GetDict(key string) (Value, bool) {
	x, ok := v.Get(key)
	if !ok || x.Kind != Dict {
		return Value{}, false
	}
	return x, true
}

// GetList returns the list under key.
func (v Value) GetList(key string) ([]Value, bool) {
	x, ok := v.Get(key)
	if !ok || x.Kind != List {
		return nil, false
	}
	return x.List, true
}

// Bytes returns the value's received bytes if it was decoded, else its
// canonical encoding. Use it wherever a signature is checked.
func (v Value) Bytes() []byte {
	if v.Raw != nil {
		return v.Raw
	}
	return Encode(v)
}

// Equal reports whether two values have the same canonical encoding.
func Equal(a, b Value) bool { return bytes.Equal(Encode(a), Encode(b)) }

// Encode returns the canonical encoding of v.
func Encode(v Value) []byte { return AppendEncode(nil, v) }

// AppendEncode appends the canonical encoding of v to dst.
func AppendEncode(dst []byte, v Value) []byte {
	switch v.Kind {
	case Int:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, v.Int, 10)
		return append(dst, 'e')
	case String:
		dst = strconv.AppendInt(dst, int64(len(v.Str)), 10)
		dst = append(dst, ':')
		return append(dst, v.Str...)
	case List:
		dst = append(dst, 'l')
		for _, x := range v.List {
			dst = AppendEncode(dst, x)
		}
		return append(dst, 'e')
	case Dict:
		dst = append(dst, 'd')
		pairs := v.Dict
		if !sort.SliceIsSorted(pairs, func(i, j int) bool { return pairs[i].Key < pairs[j].Key }) {
			pairs = append([]Pair(nil), pairs...)
			sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Key < pairs[j].Key })
		}
		for i, p := range pairs {
			if i > 0 && pairs[i-1].Key == p.Key {
				continue // a key appears once in a canonical dictionary
			}
			dst = strconv.AppendInt(dst, int64(len(p.Key)), 10)
			dst = append(dst, ':')
			dst = append(dst, p.Key...)
			dst = AppendEncode(dst, p.Value)
		}
		return append(dst, 'e')
	}
	// An Invalid value encodes as an empty string, never as nothing, so
	// the output stays decodable.
	return append(dst, '0', ':')
}

// Errors returned by the decoder. Each decode error wraps ErrSyntax or
// ErrNonCanonical and says at which byte offset it happened.
var (
	ErrSyntax       = errors.New("bencode: malformed input")
	ErrNonCanonical = errors.New("bencode: non-canonical encoding")
	ErrLimit        = errors.New("bencode: limit exceeded")
)

// Limits bound what Decode accepts, so that a peer cannot make a node spend
// unbounded memory or stack.
type Limits struct {
	MaxDepth int // nesting of lists and dictionaries; 0 means 64
	MaxItems int // total number of values; 0 means no limit
	// Lenient accepts unsorted dictionary keys, leading zeros and the
	// like, while still rejecting malformed input. Values decoded this way
	// keep their Raw bytes, which are what signatures are checked over.
	Lenient bool
}

// Decode decodes exactly one canonical value that must fill all of data.
func Decode(data []byte) (Value, error) { return DecodeWith(data, Limits{}) }

// DecodeWith decodes exactly one value under the given limits.
func DecodeWith(data []byte, lim Limits) (Value, error) {
	v, n, err := DecodePrefixWith(data, lim)
	if err != nil {
		return Value{}, err
	}
	if n != len(data) {
		return Value{}, fmt.Errorf("%w: %d trailing bytes after the value", ErrSyntax, len(data)-n)
	}
	return v, nil
}

// DecodePrefixWith decodes one value from the start of data and returns how
// many bytes it used.
func DecodePrefixWith(data []byte, lim Limits) (Value, int, error) {
	if lim.MaxDepth == 0 {
		lim.MaxDepth = 64
	}
	sc := scratchPool.Get().(*scratch)
	d := decoder{data: data, lim: lim, vals: sc.vals[:0], pairs: sc.pairs[:0]}
	v, err := d.value(0)
	if cap(d.vals) <= maxScratch && cap(d.pairs) <= maxScratch {
		sc.vals, sc.pairs = d.vals[:0], d.pairs[:0]
		scratchPool.Put(sc)
	}
	if err != nil {
		return Value{}, 0, err
	}
	return v, d.pos, nil
}

// scratch holds a decoder's stacks between uses (see decoder).
type scratch struct {
	vals  []Value
	pairs []Pair
}

// maxScratch bounds the stacks kept for reuse (a huge input's are dropped).
const maxScratch = 1024

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

type decoder struct {
	data  []byte
	pos   int
	items int
	lim   Limits
	// Scratch stacks: a container's elements are gathered here and copied
	// into a slice of exactly their number when it ends (nested containers
	// use the part above their parent's), so that decoding allocates one
	// slice per container instead of growing each by appends.
	vals  []Value
	pairs []Pair
}

// popVals and popPairs drop a container's elements from the stacks,
// clearing them so that the pooled stacks keep no input alive.
func (d *decoder) popVals(mark int)  { clear(d.vals[mark:]); d.vals = d.vals[:mark] }
func (d *decoder) popPairs(mark int) { clear(d.pairs[mark:]); d.pairs = d.pairs[:mark] }

func (d *decoder) fail(base error, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", base, d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) value(depth int) (Value, error) {
	if d.pos >= len(d.data) {
		return Value{}, d.fail(ErrSyntax, "unexpected end of input")
	}
	d.items++
	if d.lim.MaxItems > 0 && d.items > d.lim.MaxItems {
		return Value{}, d.fail(ErrLimit, "more than %d values", d.lim.MaxItems)
	}
	start := d.pos
	c := d.data[d.pos]
	switch {
	case c == 'i':
		d.pos++
		n, err := d.integer('e')
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: Int, Int: n, Raw: d.data[start:d.pos:d.pos]}, nil
	case c >= '0' && c <= '9':
		s, err := d.str()
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: String, Str: s, Raw: d.data[start:d.pos:d.pos]}, nil
	case c == 'l':
		if depth >= d.lim.MaxDepth {
			return Value{}, d.fail(ErrLimit, "nesting deeper than %d", d.lim.MaxDepth)
		}
		d.pos++
		mark := len(d.vals)
		defer d.popVals(mark)
		for {
			if d.pos >= len(d.data) {
				return Value{}, d.fail(ErrSyntax, "unterminated list")
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				list := make([]Value, len(d.vals)-mark)
				copy(list, d.vals[mark:])
				return Value{Kind: List, List: list, Raw: d.data[start:d.pos:d.pos]}, nil
			}
			x, err := d.value(depth + 1)
			if err != nil {
				return Value{}, err
			}
			d.vals = append(d.vals, x)
		}
	case c == 'd':
		if depth >= d.lim.MaxDepth {
			return Value{}, d.fail(ErrLimit, "nesting deeper than %d", d.lim.MaxDepth)
		}
		d.pos++
		mark := len(d.pairs)
		defer d.popPairs(mark)
		sorted := true
		for {
			if d.pos >= len(d.data) {
				return Value{}, d.fail(ErrSyntax, "unterminated dictionary")
			}
			if d.data[d.pos] == 'e' {
				d.pos++
				dict := make([]Pair, len(d.pairs)-mark)
				copy(dict, d.pairs[mark:])
				v := Value{Kind: Dict, Dict: dict, Raw: d.data[start:d.pos:d.pos]}
				if !sorted {
					sort.SliceStable(v.Dict, func(i, j int) bool { return v.Dict[i].Key < v.Dict[j].Key })
				}
				return v, nil
			}
			if c := d.data[d.pos]; c < '0' || c > '9' {
				return Value{}, d.fail(ErrSyntax, "dictionary key is not a string")
			}
			k, err := d.str()
			if err != nil {
				return Value{}, err
			}
			key := string(k)
			if n := len(d.pairs); n > mark {
				prev := d.pairs[n-1].Key
				if key == prev {
					return Value{}, d.fail(ErrNonCanonical, "duplicate dictionary key %q", key)
				}
				if key < prev {
					if !d.lim.Lenient {
						return Value{}, d.fail(ErrNonCanonical, "dictionary key %q after %q", key, prev)
					}
					sorted = false
				}
			}
			x, err := d.value(depth + 1)
			if err != nil {
				return Value{}, err
			}
			d.pairs = append(d.pairs, Pair{Key: key, Value: x})
		}
	}
	return Value{}, d.fail(ErrSyntax, "unexpected byte %q", c)
}

// integer reads a decimal integer up to the terminator.
func (d *decoder) integer(term byte) (int64, error) {
	start := d.pos
	end := bytes.IndexByte(d.data[start:], term)
	if end < 0 {
		return 0, d.fail(ErrSyntax, "unterminated integer")
	}
	digits := d.data[start : start+end]
	if len(digits) == 0 {
		return 0, d.fail(ErrSyntax, "empty integer")
	}
	neg := digits[0] == '-'
	body := digits
	if neg {
		body = digits[1:]
		if term != 'e' {
			return 0, d.fail(ErrSyntax, "negative string length")
		}
	}
	if len(body) == 0 || len(body) > 19 {
		return 0, d.fail(ErrSyntax, "integer of %d digits", len(body))
	}
	for _, c := range body {
		if c < '0' || c > '9' {
			return 0, d.fail(ErrSyntax, "bad digit %q in integer", c)
		}
	}
	if !d.lim.Lenient && ((len(body) > 1 && body[0] == '0') || (neg && body[0] == '0')) {
		return 0, d.fail(ErrNonCanonical, "integer %q is not minimal", digits)
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, d.fail(ErrSyntax, "integer %q out of range", digits)
	}
	d.pos = start + end + 1
	return n, nil
}

func (d *decoder) str() ([]byte, error) {
	n, err := d.integer(':')
	if err != nil {
		return nil, err
	}
	if n > int64(len(d.data)-d.pos) {
		return nil, d.fail(ErrSyntax, "string of %d bytes runs past the end", n)
	}
	s := d.data[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

// String renders a value for logs and error messages (not for the wire).
func (v Value) String() string {
	switch v.Kind {
	case Int:
		return strconv.FormatInt(v.Int, 10)
	case String:
		return strconv.Quote(string(v.Str))
	case List:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, x := range v.List {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(x.String())
		}
		b.WriteByte(']')
		return b.String()
	case Dict:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, p := range v.Dict {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(p.Key))
			b.WriteString(": ")
			b.WriteString(p.Value.String())
		}
		b.WriteByte('}')
		return b.String()
	}
	return "<invalid>"
}
