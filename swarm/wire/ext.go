package wire

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/gotwister/twister/bencode"
)

// ExtHandshakeID is the extended-message id of the BEP 10 handshake.
const ExtHandshakeID = 0

// ExtHandshake is the BEP 10 extension handshake (extended message 0).
// twisterd sends m = {ut_pex 1, upload_only 3, ut_holepunch 4,
// lt_donthave 7, share_mode 8, lt_tex 19}, p, v, reqq, yourip,
// complete_ago, ipv6 and lt_tex's "tr" (SHA-1 of its tracker list).
type ExtHandshake struct {
	// M maps extension names to the ids the sender wants to receive them
	// under; id 0 disables an extension.
	M map[string]int64
	// Port is the sender's TCP listen port (p); 0 if absent.
	Port int
	// Version is the client name and version (v), e.g. "twisterd/v0.9.40.0-ga3a926e3-beta".
	Version string
	// YourIP is our address as the sender sees it (4 or 16 bytes).
	YourIP netip.Addr
	// IPv6 is the sender's IPv6 address if it has one.
	IPv6 netip.Addr
	// ReqQ is how many outstanding requests the sender accepts (0 = unknown).
	ReqQ int
	// CompleteAgo is complete_ago (−1 = never a seed); valid if HasCompleteAgo.
	CompleteAgo    int64
	HasCompleteAgo bool
	// UploadOnly is the upload_only flag of the handshake dictionary.
	UploadOnly bool
	// Other holds every other key, untouched (e.g. "tr").
	Other map[string]bencode.Value
}

// ErrExtHandshake is wrapped by extension-handshake decoding errors.
var ErrExtHandshake = errors.New("wire: bad extension handshake")

var extLimits = bencode.Limits{MaxDepth: 8, MaxItems: 4096, Lenient: true}

// ParseExtHandshake decodes the bencoded payload of extended message 0.
// Fields of an unexpected type are ignored, as libtorrent does; only a
// payload that is not a bencoded dictionary is an error.
func ParseExtHandshake(payload []byte) (ExtHandshake, error) {
	var h ExtHandshake
	v, err := bencode.DecodeWith(payload, extLimits)
	if err != nil {
		return h, fmt.Errorf("%w: %w", ErrExtHandshake, err)
	}
	if v.Kind != bencode.Dict {
		return h, fmt.Errorf("%w: top level is a %s, want a dictionary", ErrExtHandshake, v.Kind)
	}
	for _, p := range v.Dict {
		val := p.Value
		switch p.Key {
		case "m":
			if val.Kind != bencode.Dict {
				continue
			}
			h.M = make(map[string]int64, len(val.Dict))
			for _, e := range val.Dict {
				if e.Value.Kind == bencode.Int {
					h.M[e.Key] = e.Value.Int
				}
			}
		case "p":
			if val.Kind == bencode.Int && val.Int > 0 && val.Int < 65536 {
				h.Port = int(val.Int)
			}
		case "v":
			if val.Kind == bencode.String {
				h.Version = string(val.Str)
			}
		case "yourip":
			if val.Kind == bencode.String {
				h.YourIP, _ = netip.AddrFromSlice(val.Str)
			}
		case "ipv6":
			if val.Kind == bencode.String && len(val.Str) == 16 {
				h.IPv6, _ = netip.AddrFromSlice(val.Str)
			}
		case "reqq":
			if val.Kind == bencode.Int && val.Int > 0 && val.Int < 1<<20 {
				h.ReqQ = int(val.Int)
			}
		case "complete_ago":
			if val.Kind == bencode.Int {
				h.CompleteAgo, h.HasCompleteAgo = val.Int, true
			}
		case "upload_only":
			if val.Kind == bencode.Int {
				h.UploadOnly = val.Int != 0
			}
		default:
			if h.Other == nil {
				h.Other = map[string]bencode.Value{}
			}
			h.Other[p.Key] = val
		}
	}
	return h, nil
}

// Encode returns the canonical bencoding of h (the extended-message payload).
func (h ExtHandshake) Encode() []byte {
	d := bencode.NewDict()
	for k, v := range h.Other {
		d.Set(k, v)
	}
	m := bencode.NewDict()
	names := make([]string, 0, len(h.M))
	for k := range h.M {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		m.Set(k, bencode.NewInt(h.M[k]))
	}
	d.Set("m", m)
	if h.Port > 0 {
		d.Set("p", bencode.NewInt(int64(h.Port)))
	}
	if h.Version != "" {
		d.Set("v", bencode.NewString(h.Version))
	}
	if h.YourIP.IsValid() {
		d.Set("yourip", bencode.NewBytes(h.YourIP.Unmap().AsSlice()))
	}
	if h.IPv6.IsValid() && h.IPv6.Is6() {
		d.Set("ipv6", bencode.NewBytes(h.IPv6.AsSlice()))
	}
	if h.ReqQ > 0 {
		d.Set("reqq", bencode.NewInt(int64(h.ReqQ)))
	}
	if h.HasCompleteAgo {
		d.Set("complete_ago", bencode.NewInt(h.CompleteAgo))
	}
	if h.UploadOnly {
		d.Set("upload_only", bencode.NewInt(1))
	}
	return bencode.Encode(d)
}

// Message wraps h in an extended message with id 0.
func (h ExtHandshake) Message() Message {
	return Message{ID: Extended, ExtID: ExtHandshakeID, Payload: h.Encode()}
}
