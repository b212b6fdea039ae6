package bencode

import (
	"fmt"
	"sort"
)

// From converts ordinary Go values into a Value: integers, string, []byte,
// []any, []string, map[string]any and Value itself. It is a convenience for
// building messages; it returns an error for any other type (bencode has no
// booleans, floats or null).
func From(x any) (Value, error) {
	switch t := x.(type) {
	case Value:
		return t, nil
	case int:
		return NewInt(int64(t)), nil
	case int32:
		return NewInt(int64(t)), nil
	case int64:
		return NewInt(t), nil
	case uint16:
		return NewInt(int64(t)), nil
	case uint32:
		return NewInt(int64(t)), nil
	case string:
		return NewString(t), nil
	case []byte:
		return NewBytes(t), nil
	case []string:
		l := make([]Value, len(t))
		for i, s := range t {
			l[i] = NewString(s)
		}
		return NewList(l...), nil
	case []Value:
		return NewList(t...), nil
	case []any:
		l := make([]Value, len(t))
		for i, e := range t {
			v, err := From(e)
			if err != nil {
				return Value{}, err
			}
			l[i] = v
		}
		return NewList(l...), nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := Value{Kind: Dict, Dict: make([]Pair, 0, len(keys))}
		for _, k := range keys {
			v, err := From(t[k])
			if err != nil {
				return Value{}, fmt.Errorf("key %q: %w", k, err)
			}
			d.Dict = append(d.Dict, Pair{Key: k, Value: v})
		}
		return d, nil
	case map[string]Value:
		return DictOf(t), nil
	}
	return Value{}, fmt.Errorf("bencode: cannot encode %T", x)
}

// MustFrom is From for values built by the program itself; it panics on a
// type bencode cannot hold.
func MustFrom(x any) Value {
	v, err := From(x)
	if err != nil {
		panic(err)
	}
	return v
}
