package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Frame types.
const (
	TypeHello  = "hello"
	TypeJoin   = "join"
	TypeLeave  = "leave"
	TypePeers  = "peers"
	TypeJoined = "joined"
	TypeLeft   = "left"
	TypeSignal = "signal"
	TypeError  = "error"
)

// Signal kinds.
const (
	KindOffer     = "offer"
	KindAnswer    = "answer"
	KindCandidate = "candidate"
)

// Error codes carried in error frames.
const (
	CodeBadFrame      = "bad-frame"
	CodeHelloRequired = "hello-required"
	CodeAlreadyHello  = "already-hello"
	CodePeerIDTaken   = "peer-id-taken"
	CodeTooManySwarms = "too-many-swarms"
	CodeSwarmFull     = "swarm-full"
	CodeNotInSwarm    = "not-in-swarm"
	CodeUnknownPeer   = "unknown-peer"
	CodeRateLimited   = "rate-limited"
)

// MaxPeerIDLen is the longest peer id.
const MaxPeerIDLen = 64

// ErrBadFrame is wrapped by every DecodeFrame error.
var ErrBadFrame = errors.New("bad signaling frame")

// Frame is one protocol message; which fields are used depends on Type (see
// the package documentation).
type Frame struct {
	Type  string   `json:"type"`
	Peer  string   `json:"peer,omitempty"`  // hello, joined, left
	Swarm string   `json:"swarm,omitempty"` // join, leave, peers, joined, left, signal, some errors
	Peers []string `json:"peers,omitempty"` // peers (always present on the wire, maybe [])
	To    string   `json:"to,omitempty"`    // signal, unknown-peer errors
	From  string   `json:"from,omitempty"`  // signal (set by the server)
	Kind  string   `json:"kind,omitempty"`  // signal: offer, answer, candidate
	SDP   string   `json:"sdp,omitempty"`   // offer, answer
	// Candidate is an RTCIceCandidateInit object, or null for the end of
	// candidates; relayed untouched.
	Candidate json.RawMessage `json:"candidate,omitempty"`
	Code      string          `json:"code,omitempty"`    // error
	Message   string          `json:"message,omitempty"` // error
}

// MarshalJSON encodes the frame; a peers frame always carries its list.
func (f Frame) MarshalJSON() ([]byte, error) {
	type plain Frame
	if f.Type == TypePeers {
		peers := f.Peers
		if peers == nil {
			peers = []string{}
		}
		return json.Marshal(struct {
			plain
			Peers []string `json:"peers"`
		}{plain(f), peers})
	}
	return json.Marshal(plain(f))
}

// EncodeFrame checks f like DecodeFrame does and returns its JSON text.
func EncodeFrame(f Frame) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(f)
}

// DecodeFrame parses one JSON text frame and validates it (Validate). It
// never panics; errors wrap ErrBadFrame and say what is wrong.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return Frame{}, fmt.Errorf("%w: not a JSON object", ErrBadFrame)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if err := f.Validate(); err != nil {
		return Frame{}, err
	}
	f.Swarm = strings.ToLower(f.Swarm)
	return f, nil
}

// Validate checks the fields a frame of its type needs: known type, peer
// ids and swarm ids well formed, signal kind known, SDP present for offers
// and answers, candidate an object or null.
func (f *Frame) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadFrame, f.Type, fmt.Sprintf(format, args...))
	}
	switch f.Type {
	case TypeHello:
		if f.Peer != "" && !ValidPeerID(f.Peer) {
			return bad("peer id %q is not 1-%d characters of [A-Za-z0-9_-]", clip(f.Peer), MaxPeerIDLen)
		}
	case TypeJoin, TypeLeave:
		if !ValidSwarm(f.Swarm) {
			return bad("swarm %q is not 40 hex digits", clip(f.Swarm))
		}
	case TypePeers:
		if !ValidSwarm(f.Swarm) {
			return bad("swarm %q is not 40 hex digits", clip(f.Swarm))
		}
		for _, p := range f.Peers {
			if !ValidPeerID(p) {
				return bad("peer id %q is malformed", clip(p))
			}
		}
	case TypeJoined, TypeLeft:
		if !ValidSwarm(f.Swarm) {
			return bad("swarm %q is not 40 hex digits", clip(f.Swarm))
		}
		if !ValidPeerID(f.Peer) {
			return bad("peer id %q is malformed", clip(f.Peer))
		}
	case TypeSignal:
		if !ValidSwarm(f.Swarm) {
			return bad("swarm %q is not 40 hex digits", clip(f.Swarm))
		}
		if !ValidPeerID(f.To) {
			return bad("target peer id %q is malformed", clip(f.To))
		}
		if f.From != "" && !ValidPeerID(f.From) {
			return bad("sender peer id %q is malformed", clip(f.From))
		}
		switch f.Kind {
		case KindOffer, KindAnswer:
			if f.SDP == "" {
				return bad("%s without sdp", f.Kind)
			}
		case KindCandidate:
			if c := bytes.TrimSpace(f.Candidate); len(c) > 0 && c[0] != '{' && !bytes.Equal(c, []byte("null")) {
				return bad("candidate must be an object or null")
			}
		default:
			return bad("kind %q is not offer, answer or candidate", clip(f.Kind))
		}
	case TypeError:
		if f.Message == "" {
			return bad("no message")
		}
	case "":
		return fmt.Errorf("%w: no type", ErrBadFrame)
	default:
		return fmt.Errorf("%w: unknown type %q", ErrBadFrame, clip(f.Type))
	}
	return nil
}

// ValidPeerID reports whether id is 1 to MaxPeerIDLen characters from
// [A-Za-z0-9_-].
func ValidPeerID(id string) bool {
	if len(id) == 0 || len(id) > MaxPeerIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidSwarm reports whether s is a 40-digit hex info-hash (either case).
func ValidSwarm(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// clip shortens attacker-controlled strings quoted in error messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
