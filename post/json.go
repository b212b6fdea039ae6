package post

// JSON mapping of bencoded values, as twisterd's RPC shows them
// (twister-core src/twister_utils.cpp entryToJson, jsonToEntry,
// hexcapePost, unHexcapePost, hexcapeDht; spec §6.1).

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/gotwister/twister/bencode"
)

// ErrJSON is wrapped by every error FromJSON, PostFromJSON and
// DHTItemFromJSON return.
var ErrJSON = errors.New("post: JSON value cannot be bencoded")

// ToJSON converts a bencoded value into the generic JSON form twisterd's
// entryToJson produces: an integer becomes an int64 (a JSON integer), a
// string a Go string (its bytes as they are; encoding/json will show
// invalid UTF-8 as U+FFFD where twisterd copies the raw bytes), a list a
// []any and a dictionary a map[string]any (encoding/json writes its keys
// sorted, which is bencode's order and twisterd's). Nothing is hexcaped;
// see PostToJSON.
func ToJSON(v bencode.Value) any {
	switch v.Kind {
	case bencode.Int:
		return v.Int
	case bencode.String:
		return string(v.Str)
	case bencode.List:
		out := make([]any, len(v.List))
		for i, x := range v.List {
			out[i] = ToJSON(x)
		}
		return out
	case bencode.Dict:
		out := make(map[string]any, len(v.Dict))
		for _, kv := range v.Dict {
			out[kv.Key] = ToJSON(kv.Value)
		}
		return out
	}
	// A zero Value has no kind; twisterd shows an uninitialized entry so.
	return "<uninitialized>"
}

// hexField is one binary field of a post: a path of dictionary keys.
type hexField []string

// postHexFields are the fields hexcapePost turns into lowercase hex. The
// "dm" and "pfav" entries are exclusive there: pfav is only looked at when
// there is no dm (a valid post never holds both).
var postHexFields = []hexField{
	{"sig_userpost"},
	{"sig_wort"},
	{"userpost", "sig_rt"},
	{"userpost", "sig_fav"},
	{"userpost", "dm", "body"},
	{"userpost", "dm", "key"},
	{"userpost", "dm", "mac"},
	{"userpost", "pfav", "body"},
	{"userpost", "pfav", "key"},
	{"userpost", "pfav", "mac"},
}

// PostToJSON is ToJSON for a post (or anything shaped like one, such as
// the getfavs and getmentions items): the binary fields sig_userpost,
// sig_wort, userpost.sig_rt, userpost.sig_fav, userpost.dm.{key,mac,body}
// and, when there is no dm, userpost.pfav.{key,mac,body} are shown as
// lowercase hex, as twisterd's hexcapePost does. A field is hexcaped only
// when it is a string; anything else is left as ToJSON gives it.
func PostToJSON(v bencode.Value) any {
	out := ToJSON(v)
	m, ok := out.(map[string]any)
	if !ok {
		return out
	}
	up, _ := v.GetDict("userpost")
	hasDM := up.Kind == bencode.Dict && up.Has("dm")
	for _, f := range postHexFields {
		if hasDM && len(f) == 3 && f[1] == "pfav" {
			continue
		}
		if b, ok := getPath(v, f); ok {
			setPath(m, f, hex.EncodeToString(b))
		}
	}
	return out
}

// DHTItemToJSON converts a DHT item {p, sig_p, sig_user} into the JSON
// dhtget returns: sig_p as hex, and p.v through PostToJSON when it is a
// dictionary (hexcapeDht), which only changes it when it holds a post.
func DHTItemToJSON(item bencode.Value) any {
	out := ToJSON(item)
	m, ok := out.(map[string]any)
	if !ok {
		return out
	}
	if b, ok := getPath(item, hexField{"sig_p"}); ok {
		m["sig_p"] = hex.EncodeToString(b)
	}
	if p, ok := item.GetDict("p"); ok {
		if v, ok := p.GetDict("v"); ok {
			m["p"].(map[string]any)["v"] = PostToJSON(v)
		}
	}
	return out
}

// getPath returns the string at a path of dictionary keys.
func getPath(v bencode.Value, path hexField) ([]byte, bool) {
	for i, key := range path {
		if v.Kind != bencode.Dict {
			return nil, false
		}
		x, ok := v.Get(key)
		if !ok {
			return nil, false
		}
		if i == len(path)-1 {
			if x.Kind != bencode.String {
				return nil, false
			}
			return x.Str, true
		}
		v = x
	}
	return nil, false
}

// setPath stores s at a path that getPath found, in ToJSON's output.
func setPath(m map[string]any, path hexField, s string) {
	for _, key := range path[:len(path)-1] {
		m = m[key].(map[string]any)
	}
	m[path[len(path)-1]] = s
}

// FromJSON converts generic JSON into a bencoded value, as twisterd's
// jsonToEntry does: integers become integers, strings strings (their
// UTF-8 bytes), arrays lists and objects dictionaries (keys sorted).
// Integers may be given as json.Number (decode with UseNumber), as a
// float64 holding an integer (what encoding/json gives without
// UseNumber; exact up to 2^53), or as int, int32 or int64. A bencode.Value
// or []byte is taken as it is.
//
// JSON booleans, null and non-integral numbers are refused with an error
// naming where they are: twisterd silently turns them into the string
// "<uninitialized>", which no caller wants.
func FromJSON(x any) (bencode.Value, error) {
	return fromJSON(x, "$")
}

func fromJSON(x any, where string) (bencode.Value, error) {
	switch t := x.(type) {
	case bencode.Value:
		return t, nil
	case string:
		return bencode.NewString(t), nil
	case []byte:
		return bencode.NewBytes(t), nil
	case json.Number:
		n, err := strconv.ParseInt(string(t), 10, 64)
		if err != nil {
			return bencode.Value{}, fmt.Errorf("%w: %s: number %s is not a 64-bit integer", ErrJSON, where, t)
		}
		return bencode.NewInt(n), nil
	case float64:
		if t != math.Trunc(t) || math.IsInf(t, 0) || t < -(1<<63) || t >= 1<<63 {
			return bencode.Value{}, fmt.Errorf("%w: %s: number %v is not a 64-bit integer", ErrJSON, where, t)
		}
		return bencode.NewInt(int64(t)), nil
	case int:
		return bencode.NewInt(int64(t)), nil
	case int32:
		return bencode.NewInt(int64(t)), nil
	case int64:
		return bencode.NewInt(t), nil
	case bool:
		return bencode.Value{}, fmt.Errorf("%w: %s: a boolean (bencode has none; twisterd would store \"<uninitialized>\")", ErrJSON, where)
	case nil:
		return bencode.Value{}, fmt.Errorf("%w: %s: null (bencode has none; twisterd would store \"<uninitialized>\")", ErrJSON, where)
	case []any:
		l := make([]bencode.Value, len(t))
		for i, e := range t {
			v, err := fromJSON(e, where+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return bencode.Value{}, err
			}
			l[i] = v
		}
		return bencode.NewList(l...), nil
	case map[string]any:
		ks := make([]string, 0, len(t))
		for k := range t {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		d := bencode.Value{Kind: bencode.Dict, Dict: make([]bencode.Pair, 0, len(ks))}
		for _, k := range ks {
			v, err := fromJSON(t[k], where+"."+k)
			if err != nil {
				return bencode.Value{}, err
			}
			d.Dict = append(d.Dict, bencode.Pair{Key: k, Value: v})
		}
		return d, nil
	}
	return bencode.Value{}, fmt.Errorf("%w: %s: unsupported Go type %T", ErrJSON, where, x)
}

// PostFromJSON is FromJSON for a post given as twisterd shows it (for
// example the {userpost, sig_userpost} object newrtmsg and newfavmsg take,
// or a getposts item): the hexcaped fields are turned back into bytes.
//
// twisterd un-hexes only sig_userpost, userpost.sig_rt and
// userpost.dm.{key,mac,body} on input. PostFromJSON also un-hexes
// sig_wort, userpost.sig_fav and userpost.pfav.{key,mac,body}, so that it
// is the exact inverse of PostToJSON and rebuilds the post's bytes from
// any RPC result (a client never means those fields as literal hex text).
// A field is un-hexed only when it is a string; a string that is not
// lowercase or uppercase hex of even length is an error (twisterd's
// ParseHex would silently keep a prefix).
func PostFromJSON(x any) (bencode.Value, error) {
	v, err := FromJSON(x)
	if err != nil {
		return v, err
	}
	if err := unhexPost(&v, ""); err != nil {
		return bencode.Value{}, err
	}
	return v, nil
}

// unhexPost undoes PostToJSON's hexcaping in place; prefix names the
// value in errors.
func unhexPost(v *bencode.Value, prefix string) error {
	if v.Kind != bencode.Dict {
		return nil
	}
	up, hasUp := v.GetDict("userpost")
	hasDM := hasUp && up.Has("dm")
	for _, f := range postHexFields {
		if hasDM && len(f) == 3 && f[1] == "pfav" {
			continue
		}
		if err := unhexAt(v, f, prefix); err != nil {
			return err
		}
	}
	return nil
}

// unhexAt replaces the string at path (if any) by its hex decoding.
func unhexAt(v *bencode.Value, path hexField, prefix string) error {
	s, ok := getPath(*v, path)
	if !ok {
		return nil
	}
	b, err := hex.DecodeString(string(s))
	if err != nil {
		name := prefix
		for _, p := range path {
			if name != "" {
				name += "."
			}
			name += p
		}
		return fmt.Errorf("%w: %s is not hex: %v", ErrJSON, name, err)
	}
	return replaceAt(v, path, bencode.NewBytes(b))
}

// replaceAt sets the value at a path of existing dictionaries.
func replaceAt(v *bencode.Value, path hexField, x bencode.Value) error {
	if len(path) == 1 {
		v.Set(path[0], x)
		v.Raw = nil
		return nil
	}
	child, ok := v.Get(path[0])
	if !ok || child.Kind != bencode.Dict {
		return fmt.Errorf("%w: %s is not a dictionary", ErrJSON, path[0])
	}
	if err := replaceAt(&child, path[1:], x); err != nil {
		return err
	}
	v.Set(path[0], child)
	v.Raw = nil
	return nil
}

// DHTItemFromJSON is the inverse of DHTItemToJSON: sig_p is un-hexed and
// p.v goes through PostFromJSON's un-hexing when it is a dictionary.
func DHTItemFromJSON(x any) (bencode.Value, error) {
	v, err := FromJSON(x)
	if err != nil {
		return v, err
	}
	if err := unhexAt(&v, hexField{"sig_p"}, ""); err != nil {
		return bencode.Value{}, err
	}
	p, ok := v.GetDict("p")
	if !ok {
		return v, nil
	}
	pv, ok := p.GetDict("v")
	if !ok {
		return v, nil
	}
	if err := unhexPost(&pv, "p.v"); err != nil {
		return bencode.Value{}, err
	}
	p.Set("v", pv)
	v.Set("p", p)
	return v, nil
}

// JSON returns the post as twisterd's RPC shows it (PostToJSON of the
// whole post).
func (p *Post) JSON() any { return PostToJSON(p.Value) }
