package rpc

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Params are the positional parameters of a call, decoded with json.Number
// for numbers.
type Params []any

// Len returns the number of parameters.
func (p Params) Len() int { return len(p) }

// Has tells whether parameter i was given (and is not null).
func (p Params) Has(i int) bool { return i < len(p) && p[i] != nil }

// typeName names a JSON value's type as twisterd's json_spirit does.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		if _, err := v.(json.Number).Int64(); err == nil {
			return "int"
		}
		return "real"
	case string:
		return "str"
	case []any:
		return "array"
	case map[string]any:
		return "obj"
	}
	return fmt.Sprintf("%T", v)
}

func typeError(v any, want string) *Error {
	return Errorf(CodeMisc, "value is type %s, expected %s", typeName(v), want)
}

// Int returns parameter i as an integer.
func (p Params) Int(i int) (int64, error) {
	if i >= len(p) {
		return 0, Errorf(CodeMisc, "missing parameter %d", i+1)
	}
	return AsInt(p[i])
}

// AsInt converts a JSON value to an integer, with twisterd's message.
func AsInt(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, typeError(v, "int")
	}
	x, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, typeError(v, "int")
		}
		return int64(f), nil
	}
	return x, nil
}

// IntOr returns parameter i as an integer, or def when absent.
func (p Params) IntOr(i int, def int64) (int64, error) {
	if !p.Has(i) {
		return def, nil
	}
	return p.Int(i)
}

// String returns parameter i as a string.
func (p Params) String(i int) (string, error) {
	if i >= len(p) {
		return "", Errorf(CodeMisc, "missing parameter %d", i+1)
	}
	return AsString(p[i])
}

// AsString converts a JSON value to a string, with twisterd's message.
func AsString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", typeError(v, "str")
	}
	return s, nil
}

// StringOr returns parameter i as a string, or def when absent.
func (p Params) StringOr(i int, def string) (string, error) {
	if !p.Has(i) {
		return def, nil
	}
	return p.String(i)
}

// Bool returns parameter i as a boolean. Like twisterd's command-line
// client, the strings "true"/"false" and integers are not booleans.
func (p Params) Bool(i int) (bool, error) {
	if i >= len(p) {
		return false, Errorf(CodeMisc, "missing parameter %d", i+1)
	}
	b, ok := p[i].(bool)
	if !ok {
		return false, typeError(p[i], "bool")
	}
	return b, nil
}

// BoolOr returns parameter i as a boolean, or def when absent.
func (p Params) BoolOr(i int, def bool) (bool, error) {
	if !p.Has(i) {
		return def, nil
	}
	return p.Bool(i)
}

// Array returns parameter i as an array.
func (p Params) Array(i int) ([]any, error) {
	if i >= len(p) {
		return nil, Errorf(CodeMisc, "missing parameter %d", i+1)
	}
	a, ok := p[i].([]any)
	if !ok {
		return nil, typeError(p[i], "array")
	}
	return a, nil
}

// Object returns parameter i as an object.
func (p Params) Object(i int) (map[string]any, error) {
	if i >= len(p) {
		return nil, Errorf(CodeMisc, "missing parameter %d", i+1)
	}
	o, ok := p[i].(map[string]any)
	if !ok {
		return nil, typeError(p[i], "obj")
	}
	return o, nil
}

// StringArray returns parameter i as an array of strings.
func (p Params) StringArray(i int) ([]string, error) {
	a, err := p.Array(i)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(a))
	for j, v := range a {
		s, err := AsString(v)
		if err != nil {
			return nil, err
		}
		out[j] = s
	}
	return out, nil
}

// Raw returns parameter i as it was given.
func (p Params) Raw(i int) any {
	if i >= len(p) {
		return nil
	}
	return p[i]
}

// FormatInt is a helper for handlers building usage strings.
func FormatInt(i int64) string { return strconv.FormatInt(i, 10) }
