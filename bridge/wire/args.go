package wire

import (
	"errors"
	"fmt"

	"github.com/gotwister/twister/bencode"
)

// ErrBadArgs is wrapped by Args errors: a missing or mistyped argument.
var ErrBadArgs = errors.New("bridge wire: bad arguments")

// Args reads typed fields of a message body (a dictionary, or the zero Value
// for an empty body) and remembers the first problem, so a handler reads
// every field and checks Err once.
type Args struct {
	v   bencode.Value
	err error
}

// ArgsOf wraps a message body.
func ArgsOf(body bencode.Value) *Args { return &Args{v: body} }

func (a *Args) fail(key, want string) {
	if a.err == nil {
		a.err = fmt.Errorf("%w: %q must be %s", ErrBadArgs, key, want)
	}
}

func (a *Args) missing(key string) {
	if a.err == nil {
		a.err = fmt.Errorf("%w: %q is required", ErrBadArgs, key)
	}
}

// Has reports whether key is present.
func (a *Args) Has(key string) bool { return a.v.Kind == bencode.Dict && a.v.Has(key) }

// Str returns the string key; required says whether it must be present.
func (a *Args) Str(key string, required bool) string {
	if !a.Has(key) {
		if required {
			a.missing(key)
		}
		return ""
	}
	s, ok := a.v.GetString(key)
	if !ok {
		a.fail(key, "a string")
	}
	return s
}

// Bytes returns the byte-string key.
func (a *Args) Bytes(key string, required bool) []byte {
	if !a.Has(key) {
		if required {
			a.missing(key)
		}
		return nil
	}
	b, ok := a.v.GetBytes(key)
	if !ok {
		a.fail(key, "a byte string")
	}
	return b
}

// Int returns the integer key.
func (a *Args) Int(key string, required bool) int64 {
	if !a.Has(key) {
		if required {
			a.missing(key)
		}
		return 0
	}
	i, ok := a.v.GetInt(key)
	if !ok {
		a.fail(key, "an integer")
	}
	return i
}

// List returns the list key.
func (a *Args) List(key string, required bool) []bencode.Value {
	if !a.Has(key) {
		if required {
			a.missing(key)
		}
		return nil
	}
	l, ok := a.v.GetList(key)
	if !ok {
		a.fail(key, "a list")
	}
	return l
}

// Hash20 returns the 20-byte string key (an info-hash).
func (a *Args) Hash20(key string, required bool) (h [20]byte) {
	b := a.Bytes(key, required)
	if b == nil {
		return h
	}
	if len(b) != 20 {
		a.fail(key, "20 bytes")
		return h
	}
	copy(h[:], b)
	return h
}

// Err returns the first problem met, or nil.
func (a *Args) Err() error { return a.err }

// Dict builds a message body from alternating keys and values; values may be
// string, []byte, int, int64, bool (as 0/1), []string, []bencode.Value,
// [][]byte or bencode.Value. It panics on other types (a programming error).
func Dict(kv ...any) bencode.Value {
	d := bencode.NewDict()
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		switch x := kv[i+1].(type) {
		case string:
			d.Set(k, bencode.NewString(x))
		case []byte:
			d.Set(k, bencode.NewBytes(x))
		case int:
			d.Set(k, bencode.NewInt(int64(x)))
		case int64:
			d.Set(k, bencode.NewInt(x))
		case uint32:
			d.Set(k, bencode.NewInt(int64(x)))
		case bool:
			b := int64(0)
			if x {
				b = 1
			}
			d.Set(k, bencode.NewInt(b))
		case []string:
			l := make([]bencode.Value, len(x))
			for j, s := range x {
				l[j] = bencode.NewString(s)
			}
			d.Set(k, bencode.NewList(l...))
		case [][]byte:
			l := make([]bencode.Value, len(x))
			for j, s := range x {
				l[j] = bencode.NewBytes(s)
			}
			d.Set(k, bencode.NewList(l...))
		case []bencode.Value:
			d.Set(k, bencode.NewList(x...))
		case bencode.Value:
			d.Set(k, x)
		default:
			panic(fmt.Sprintf("wire.Dict: unsupported value type %T for %q", x, k))
		}
	}
	return d
}
