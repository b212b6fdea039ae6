// Package krpc encodes and decodes the KRPC messages of twister's DHT: the
// dialect of BEP 5 spoken by twister-core's modified libtorrent, with the
// keys "z" (message type) and "x" (query arguments) instead of "y" and "a",
// 2-byte transaction ids, the queries ping, findNode, getData, putData and
// announcePeer, error code 203, compact node info (26-byte IPv4 records in
// "nodes", 38-byte IPv6 records in the "nodes2" list) and compact peers
// (6 or 18 bytes). Decoding is tolerant the way libtorrent's is (unsorted
// keys are accepted, unknown keys kept) but never panics; encoding is
// canonical, so a canonical packet decodes and re-encodes to the same bytes.
package krpc

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"github.com/gotwister/twister/bencode"
)

// ID is a 20-byte node id, target or info-hash.
type ID [20]byte

// String returns the id in lowercase hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero tells whether every byte of id is zero.
func (id ID) IsZero() bool { return id == ID{} }

// Xor returns the XOR distance between a and b.
func Xor(a, b ID) ID {
	var d ID
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// CloserTo reports whether a is strictly closer to target than b in XOR
// distance.
func CloserTo(target, a, b ID) bool {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// CommonPrefixLen returns the number of leading bits a and b share (160
// when they are equal).
func CommonPrefixLen(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			n := 0
			for x&0x80 == 0 {
				x <<= 1
				n++
			}
			return i*8 + n
		}
	}
	return 160
}

// Version is the 4-byte client version twisterd adds as "v" to every packet.
const Version = "LT\x01\x00"

// ErrorCode is the only error code twister sends.
const ErrorCode = 203

// Message types, the values of "z".
const (
	TypeQuery = "q"
	TypeReply = "r"
	TypeError = "e"
)

// Query names.
const (
	Ping         = "ping"
	FindNode     = "findNode"
	GetData      = "getData"
	PutData      = "putData"
	AnnouncePeer = "announcePeer"
)

// Msg is one KRPC packet. Optional fields are absent from the wire when
// nil: a nil slice is omitted, a non-nil empty slice is written (twisterd
// sends "nodes": "" and "values": [] that way).
type Msg struct {
	T []byte  // transaction id ("t"), 2 bytes in twister
	Z string  // message type ("z"): TypeQuery, TypeReply or TypeError
	Q string  // query name ("q"), queries only
	X *Args   // query arguments ("x")
	R *Return // reply values ("r"); twisterd may send it on errors too
	E *Error  // error ("e")
	V []byte  // client version ("v")
	// Extra holds any other top-level keys, so they survive a round trip.
	Extra []bencode.Pair
}

// Args are the arguments of a query (the "x" dictionary).
type Args struct {
	ID ID // sender's node id ("id"), always present
	// FindTarget is the 20-byte "target" of findNode.
	FindTarget *ID
	// Target is the {n, r, t} "target" dictionary of getData.
	Target *DataTarget
	// JustToken ("justtoken") is 1 in the getData lookup preceding a put.
	JustToken *int64
	// InfoHash ("infoHash") is the torrent of announcePeer, also sent by
	// tracker lookups.
	InfoHash *ID
	NoSeed   *int64 // "noseed" (announce lookups; ignored by servers)
	Port     *int64 // "port" (announcePeer)
	Seed     *int64 // "seed" (announcePeer)
	// ImpliedPort ("implied_port") asks to use the packet's source port.
	ImpliedPort *int64
	N           []byte // torrent name ("n", announcePeer; optional)
	Token       []byte // write token ("token": putData, announcePeer)
	// P is the signed item ("p", putData). Encoding writes P.Raw when it
	// is set, so a received item is forwarded byte for byte.
	P       *bencode.Value
	SigP    []byte // "sig_p": 65-byte signature over the bytes of p
	SigUser []byte // "sig_user": the signer's username
	Extra   []bencode.Pair
}

// DataTarget is the {n, r, t} dictionary naming a DHT resource.
type DataTarget struct {
	N, R, T string
	// Keys is the number of entries the received dictionary had (3 for a
	// well-formed target); 0 for a target built in memory.
	Keys int
	// Raw is the dictionary as received; nil for one built in memory.
	Raw []byte
}

// NewDataTarget returns the target of (name, resource, multi).
func NewDataTarget(name, res string, multi bool) *DataTarget {
	t := "s"
	if multi {
		t = "m"
	}
	return &DataTarget{N: name, R: res, T: t}
}

// Bytes returns the bytes that define the target: the received bytes, or
// the canonical encoding of {n, r, t}.
func (t *DataTarget) Bytes() []byte {
	if t.Raw != nil {
		return t.Raw
	}
	d := bencode.NewDict()
	d.Set("n", bencode.NewString(t.N))
	d.Set("r", bencode.NewString(t.R))
	d.Set("t", bencode.NewString(t.T))
	return bencode.Encode(d)
}

// ID returns the target id: SHA-1 of Bytes.
func (t *DataTarget) ID() ID { return sha1.Sum(t.Bytes()) }

// Multi tells whether the target names a multi resource ("t" = "m").
func (t *DataTarget) Multi() bool { return t.T == "m" }

// Return holds the values of a reply (the "r" dictionary).
type Return struct {
	ID ID // responder's node id
	// IP is set when the responder found our id not matching our address
	// ("ip": 4 or 16 raw bytes of our address as it saw it).
	IP     []byte
	Nodes  []NodeInfo // "nodes": IPv4 records
	Nodes2 []NodeInfo // "nodes2": IPv6 records
	Token  []byte
	// Data are the stored items of a getData reply; elements that are not
	// {p: dict, sig_p: string, sig_user: string} are dropped by Decode,
	// as twisterd's client drops them.
	Data []DataItem
	// Values are compact peers of a tracker reply; malformed ones are
	// dropped by Decode.
	Values    []netip.AddrPort
	N         []byte // torrent name of a tracker reply
	Followers *int64 // follower estimate of a tracker reply
	Extra     []bencode.Pair
}

// DataItem is one stored item: the signed dictionary p, its signature and
// the signer.
type DataItem struct {
	P       bencode.Value // a dictionary; Raw holds the received bytes
	SigP    []byte
	SigUser string
}

// Error is the "e" list of an error message.
type Error struct {
	Code int64
	Msg  string
}

// Error implements error, so a KRPC error reply can be returned as one.
func (e *Error) Error() string { return fmt.Sprintf("krpc error %d: %s", e.Code, e.Msg) }

// NodeInfo is a node's id and UDP address.
type NodeInfo struct {
	ID   ID
	Addr netip.AddrPort
}

// Int returns a pointer to n, for the optional integer fields.
func Int(n int64) *int64 { return &n }

// Decoding limits: more generous than libtorrent's lazy_bdecode(…, 10, 500)
// so that full multi replies from our own nodes decode, yet bounded.
const (
	maxDepth = 16
	maxItems = 20000
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("krpc: malformed message")

// Decode parses one packet. A packet that is not a bencoded dictionary
// yields (nil, error). A dictionary whose fields are wrong yields the
// message as far as it could be read (T, Z and Q at least, so that a query
// can be answered with an error) together with an error.
func Decode(b []byte) (*Msg, error) {
	v, err := bencode.DecodeWith(b, bencode.Limits{MaxDepth: maxDepth, MaxItems: maxItems, Lenient: true})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if v.Kind != bencode.Dict {
		return nil, fmt.Errorf("%w: top level is a %s, not a dictionary", ErrMalformed, v.Kind)
	}
	m := &Msg{}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, p := range v.Dict {
		switch p.Key {
		case "t":
			if p.Value.Kind != bencode.String {
				bad("'t' is not a string")
				continue
			}
			m.T = p.Value.Str
		case "z":
			if p.Value.Kind != bencode.String {
				bad("'z' is not a string")
				continue
			}
			m.Z = string(p.Value.Str)
		case "q":
			if p.Value.Kind != bencode.String {
				bad("'q' is not a string")
				continue
			}
			m.Q = string(p.Value.Str)
		case "v":
			if p.Value.Kind != bencode.String {
				bad("'v' is not a string")
				continue
			}
			m.V = p.Value.Str
		case "x":
			if p.Value.Kind != bencode.Dict {
				bad("'x' is not a dictionary")
				continue
			}
			a, err := decodeArgs(p.Value)
			m.X = a
			if err != nil {
				bad("%v", err)
			}
		case "r":
			if p.Value.Kind != bencode.Dict {
				bad("'r' is not a dictionary")
				continue
			}
			r, err := decodeReturn(p.Value)
			m.R = r
			if err != nil {
				bad("%v", err)
			}
		case "e":
			e, err := decodeError(p.Value)
			m.E = e
			if err != nil {
				bad("%v", err)
			}
		default:
			m.Extra = append(m.Extra, p)
		}
	}
	switch m.Z {
	case "":
		bad("missing 'z'")
	case TypeQuery:
		if m.Q == "" {
			bad("query without 'q'")
		}
		if m.X == nil && !hasKey(v, "x") {
			bad("query without 'x'")
		}
	case TypeReply:
		if m.R == nil && !hasKey(v, "r") {
			bad("reply without 'r'")
		}
	case TypeError:
		if m.E == nil && !hasKey(v, "e") {
			bad("error without 'e'")
		}
	}
	if len(errs) > 0 {
		return m, fmt.Errorf("%w: %s", ErrMalformed, joinErrs(errs))
	}
	return m, nil
}

func hasKey(v bencode.Value, k string) bool { return v.Has(k) }

func joinErrs(errs []string) string {
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return b.String()
}

func id20(v bencode.Value, key string) (*ID, error) {
	if v.Kind != bencode.String || len(v.Str) != 20 {
		return nil, fmt.Errorf("'%s' is not a 20-byte string", key)
	}
	var id ID
	copy(id[:], v.Str)
	return &id, nil
}

func optInt(v bencode.Value, key string) (*int64, error) {
	if v.Kind != bencode.Int {
		return nil, fmt.Errorf("'%s' is not an integer", key)
	}
	n := v.Int
	return &n, nil
}

func str(v bencode.Value, key string) ([]byte, error) {
	if v.Kind != bencode.String {
		return nil, fmt.Errorf("'%s' is not a string", key)
	}
	return v.Str, nil
}

func decodeArgs(v bencode.Value) (*Args, error) {
	a := &Args{}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	hasID := false
	for _, p := range v.Dict {
		var err error
		switch p.Key {
		case "id":
			var id *ID
			if id, err = id20(p.Value, "id"); err == nil {
				a.ID, hasID = *id, true
			}
		case "target":
			switch p.Value.Kind {
			case bencode.String:
				a.FindTarget, err = id20(p.Value, "target")
			case bencode.Dict:
				a.Target, err = decodeTarget(p.Value)
			default:
				err = errors.New("'target' is neither a string nor a dictionary")
			}
		case "justtoken":
			a.JustToken, err = optInt(p.Value, p.Key)
		case "infoHash":
			a.InfoHash, err = id20(p.Value, p.Key)
		case "noseed":
			a.NoSeed, err = optInt(p.Value, p.Key)
		case "port":
			a.Port, err = optInt(p.Value, p.Key)
		case "seed":
			a.Seed, err = optInt(p.Value, p.Key)
		case "implied_port":
			a.ImpliedPort, err = optInt(p.Value, p.Key)
		case "n":
			a.N, err = str(p.Value, p.Key)
		case "token":
			a.Token, err = str(p.Value, p.Key)
		case "p":
			if p.Value.Kind != bencode.Dict {
				err = errors.New("'p' is not a dictionary")
			} else {
				pv := p.Value
				a.P = &pv
			}
		case "sig_p":
			a.SigP, err = str(p.Value, p.Key)
		case "sig_user":
			a.SigUser, err = str(p.Value, p.Key)
		default:
			a.Extra = append(a.Extra, p)
		}
		keep(err)
	}
	if !hasID {
		keep(errors.New("missing 'id' in 'x'"))
	}
	return a, first
}

func decodeTarget(v bencode.Value) (*DataTarget, error) {
	t := &DataTarget{Keys: len(v.Dict), Raw: v.Raw}
	for _, k := range []string{"n", "r", "t"} {
		s, ok := v.GetString(k)
		if !ok {
			return t, fmt.Errorf("target has no string '%s'", k)
		}
		switch k {
		case "n":
			t.N = s
		case "r":
			t.R = s
		case "t":
			t.T = s
		}
	}
	return t, nil
}

func decodeReturn(v bencode.Value) (*Return, error) {
	r := &Return{}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	hasID := false
	for _, p := range v.Dict {
		var err error
		switch p.Key {
		case "id":
			var id *ID
			if id, err = id20(p.Value, "id"); err == nil {
				r.ID, hasID = *id, true
			}
		case "ip":
			r.IP, err = str(p.Value, p.Key)
		case "nodes":
			var b []byte
			if b, err = str(p.Value, p.Key); err == nil {
				r.Nodes = DecodeNodes(b)
			}
		case "nodes2":
			if p.Value.Kind != bencode.List {
				err = errors.New("'nodes2' is not a list")
			} else {
				r.Nodes2 = DecodeNodes2(p.Value.List)
			}
		case "token":
			r.Token, err = str(p.Value, p.Key)
		case "data":
			if p.Value.Kind != bencode.List {
				err = errors.New("'data' is not a list")
			} else {
				r.Data = decodeData(p.Value.List)
			}
		case "values":
			if p.Value.Kind != bencode.List {
				err = errors.New("'values' is not a list")
			} else {
				r.Values = make([]netip.AddrPort, 0, len(p.Value.List))
				for _, e := range p.Value.List {
					if e.Kind != bencode.String {
						continue
					}
					if ap, ok := DecodePeer(e.Str); ok {
						r.Values = append(r.Values, ap)
					}
				}
			}
		case "n":
			r.N, err = str(p.Value, p.Key)
		case "followers":
			r.Followers, err = optInt(p.Value, p.Key)
		default:
			r.Extra = append(r.Extra, p)
		}
		keep(err)
	}
	if !hasID {
		keep(errors.New("missing 'id' in 'r'"))
	}
	return r, first
}

func decodeData(list []bencode.Value) []DataItem {
	out := make([]DataItem, 0, len(list))
	for _, e := range list {
		p, ok := e.GetDict("p")
		if !ok {
			continue
		}
		sig, ok := e.GetBytes("sig_p")
		if !ok {
			continue
		}
		user, ok := e.GetString("sig_user")
		if !ok {
			continue
		}
		out = append(out, DataItem{P: p, SigP: sig, SigUser: user})
	}
	return out
}

func decodeError(v bencode.Value) (*Error, error) {
	if v.Kind != bencode.List {
		return nil, errors.New("'e' is not a list")
	}
	e := &Error{}
	if len(v.List) > 0 && v.List[0].Kind == bencode.Int {
		e.Code = v.List[0].Int
	}
	if len(v.List) > 1 && v.List[1].Kind == bencode.String {
		e.Msg = string(v.List[1].Str)
	}
	if len(v.List) < 2 || v.List[0].Kind != bencode.Int || v.List[1].Kind != bencode.String {
		return e, errors.New("'e' is not [code, message]")
	}
	return e, nil
}

// dictWriter collects the encoded entries of a dictionary and writes them in
// key order.
type dictWriter struct {
	keys []string
	vals [][]byte
}

func (w *dictWriter) raw(k string, v []byte) { w.keys = append(w.keys, k); w.vals = append(w.vals, v) }
func (w *dictWriter) str(k string, s []byte) {
	b := strconv.AppendInt(nil, int64(len(s)), 10)
	b = append(b, ':')
	w.raw(k, append(b, s...))
}
func (w *dictWriter) int(k string, n int64) {
	b := append([]byte{'i'}, strconv.AppendInt(nil, n, 10)...)
	w.raw(k, append(b, 'e'))
}
func (w *dictWriter) optInt(k string, n *int64) {
	if n != nil {
		w.int(k, *n)
	}
}
func (w *dictWriter) value(k string, v bencode.Value) { w.raw(k, v.Bytes()) }
func (w *dictWriter) extra(ps []bencode.Pair) {
	for _, p := range ps {
		w.value(p.Key, p.Value)
	}
}

func (w *dictWriter) appendTo(dst []byte) []byte {
	idx := make([]int, len(w.keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return w.keys[idx[a]] < w.keys[idx[b]] })
	dst = append(dst, 'd')
	for n, i := range idx {
		if n > 0 && w.keys[idx[n-1]] == w.keys[i] {
			continue // first occurrence wins; keys are unique on the wire
		}
		dst = strconv.AppendInt(dst, int64(len(w.keys[i])), 10)
		dst = append(dst, ':')
		dst = append(dst, w.keys[i]...)
		dst = append(dst, w.vals[i]...)
	}
	return append(dst, 'e')
}

// Encode returns the packet's bencoding, keys in canonical order.
func (m *Msg) Encode() []byte { return m.AppendEncode(nil) }

// AppendEncode appends the packet's bencoding to dst.
func (m *Msg) AppendEncode(dst []byte) []byte {
	var w dictWriter
	if m.T != nil {
		w.str("t", m.T)
	}
	if m.Z != "" {
		w.str("z", []byte(m.Z))
	}
	if m.Q != "" {
		w.str("q", []byte(m.Q))
	}
	if m.V != nil {
		w.str("v", m.V)
	}
	if m.X != nil {
		w.raw("x", m.X.appendEncode(nil))
	}
	if m.R != nil {
		w.raw("r", m.R.appendEncode(nil))
	}
	if m.E != nil {
		b := append([]byte{'l', 'i'}, strconv.AppendInt(nil, m.E.Code, 10)...)
		b = append(b, 'e')
		b = strconv.AppendInt(b, int64(len(m.E.Msg)), 10)
		b = append(b, ':')
		b = append(b, m.E.Msg...)
		w.raw("e", append(b, 'e'))
	}
	w.extra(m.Extra)
	return w.appendTo(dst)
}

func (a *Args) appendEncode(dst []byte) []byte {
	var w dictWriter
	w.str("id", a.ID[:])
	if a.FindTarget != nil {
		w.str("target", a.FindTarget[:])
	} else if a.Target != nil {
		w.raw("target", a.Target.Bytes())
	}
	w.optInt("justtoken", a.JustToken)
	if a.InfoHash != nil {
		w.str("infoHash", a.InfoHash[:])
	}
	w.optInt("noseed", a.NoSeed)
	w.optInt("port", a.Port)
	w.optInt("seed", a.Seed)
	w.optInt("implied_port", a.ImpliedPort)
	if a.N != nil {
		w.str("n", a.N)
	}
	if a.Token != nil {
		w.str("token", a.Token)
	}
	if a.P != nil {
		w.value("p", *a.P)
	}
	if a.SigP != nil {
		w.str("sig_p", a.SigP)
	}
	if a.SigUser != nil {
		w.str("sig_user", a.SigUser)
	}
	w.extra(a.Extra)
	return w.appendTo(dst)
}

func (r *Return) appendEncode(dst []byte) []byte {
	var w dictWriter
	w.str("id", r.ID[:])
	if r.IP != nil {
		w.str("ip", r.IP)
	}
	if r.Nodes != nil {
		w.str("nodes", EncodeNodes(r.Nodes))
	}
	if r.Nodes2 != nil {
		b := []byte{'l'}
		for _, n := range r.Nodes2 {
			rec := EncodeNode(n)
			b = strconv.AppendInt(b, int64(len(rec)), 10)
			b = append(b, ':')
			b = append(b, rec...)
		}
		w.raw("nodes2", append(b, 'e'))
	}
	if r.Token != nil {
		w.str("token", r.Token)
	}
	if r.Data != nil {
		b := []byte{'l'}
		for _, it := range r.Data {
			b = AppendDataItem(b, it)
		}
		w.raw("data", append(b, 'e'))
	}
	if r.Values != nil {
		b := []byte{'l'}
		for _, ap := range r.Values {
			pe := EncodePeer(ap)
			b = strconv.AppendInt(b, int64(len(pe)), 10)
			b = append(b, ':')
			b = append(b, pe...)
		}
		w.raw("values", append(b, 'e'))
	}
	if r.N != nil {
		w.str("n", r.N)
	}
	w.optInt("followers", r.Followers)
	w.extra(r.Extra)
	return w.appendTo(dst)
}

// AppendDataItem appends the {p, sig_p, sig_user} dictionary of one item,
// writing p's received bytes when it has them.
func AppendDataItem(dst []byte, it DataItem) []byte {
	var w dictWriter
	w.value("p", it.P)
	w.str("sig_p", it.SigP)
	w.str("sig_user", []byte(it.SigUser))
	return w.appendTo(dst)
}
