// Package wire encodes and decodes the frames of the bridge protocol: the
// binary WebSocket messages exchanged between a browser node and a twister
// bridge (see package bridge for the protocol itself). A frame is either a
// control message — a bencoded dictionary carrying a request, a response, an
// error or a notice — or a chunk of stream data tagged with its stream id.
// The package has no dependencies beyond bencode, so the browser-side client
// (bridge/client, built for js/wasm) and the server share it. Decoders enforce
// limits and never panic.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gotwister/twister/bencode"
)

// Version is the protocol version this package speaks. A client sends the
// highest version it knows in hello; the server answers with the version in
// force, or refuses with CodeVersion.
const Version = 1

// Frame kinds: the first byte of every WebSocket message.
const (
	KindControl byte = 0x00 // a bencoded dictionary follows
	KindData    byte = 0x01 // 4-byte big-endian stream id, then 1 or more bytes
)

// DataHeaderLen is the length of a data frame's header (kind and stream id).
const DataHeaderLen = 5

// Message types, the "y" key of a control message.
const (
	TypeRequest  = "q" // {y:q, q:op, t:id, a:{args}}
	TypeResponse = "r" // {y:r, t:id, r:{result}}
	TypeError    = "e" // {y:e, t:id, e:"message", c:"code"}
	TypeNotice   = "n" // {y:n, q:name, a:{args}}, never answered
)

// Operations (requests from the browser).
const (
	OpHello     = "hello"
	OpPing      = "ping"
	OpGetData   = "getData"
	OpPutData   = "putData"
	OpAnnounce  = "announce"
	OpGetPeers  = "getPeers"
	OpOpen      = "open"
	OpServe     = "serve"
	OpUnserve   = "unserve"
	OpHeaders   = "headers"
	OpProveUser = "proveUser"
	OpSendTx    = "sendTx"
	OpTip       = "tip"
	// OpPromoted returns blocks' coinbases (promoted messages) with merkle
	// branches to their headers (promoted.go).
	OpPromoted = "promoted"
)

// Ops lists every operation, in the order of the protocol document.
var Ops = []string{OpHello, OpPing, OpGetData, OpPutData, OpAnnounce, OpGetPeers, OpOpen, OpServe,
	OpUnserve, OpHeaders, OpProveUser, OpSendTx, OpTip, OpPromoted}

// Notices (either direction unless noted).
const (
	NoticeClose    = "close"    // {s, e?}: the sender closed stream s
	NoticeWindow   = "window"   // {s, n}: the sender consumed n more bytes of stream s
	NoticeIncoming = "incoming" // server → browser {s, h, remote}: a native peer reached a served swarm
)

// Error codes (the "c" key of an error message).
const (
	CodeBadRequest  = "bad-request"    // missing or mistyped argument
	CodeUnknownOp   = "unknown-op"     // operation not known to this server
	CodeHelloFirst  = "hello-required" // a request before hello
	CodeVersion     = "version"        // no common protocol version
	CodeRateLimited = "rate-limited"   // the client's request rate is over its limit
	CodeLimit       = "limit"          // another limit: streams, pending requests, serves
	CodeUnavailable = "unavailable"    // the server has no DHT, chain or swarm listener
	CodeNotFound    = "not-found"      // unknown user, height out of range
	CodeRefused     = "refused"        // dial target refused by policy
	CodeFailed      = "failed"         // the operation ran and failed (message says why)
	CodeTimeout     = "timeout"        // the operation ran out of time
)

// ErrBadFrame is wrapped by every decoding error.
var ErrBadFrame = errors.New("bridge wire: bad frame")

// DefaultLimits bound the bencoded part of control frames: nesting depth and
// the number of values. Frame length is bounded by the WebSocket read limit.
var DefaultLimits = bencode.Limits{MaxDepth: 8, MaxItems: 1 << 16}

// Msg is a control message.
type Msg struct {
	Type string        // y: TypeRequest, TypeResponse, TypeError or TypeNotice
	Op   string        // q: the operation (requests) or notice name (notices)
	ID   int64         // t: request id, echoed by the response or error (≥ 0)
	Body bencode.Value // a (requests, notices) or r (responses): a dictionary; zero = empty
	Err  string        // e: the error message (errors)
	Code string        // c: the error code (errors), optional
}

// Frame is one decoded WebSocket message: a control message (Msg != nil) or
// stream data.
type Frame struct {
	Msg    *Msg
	Stream uint32
	Data   []byte // aliases the decoded buffer
}

// DecodeFrame decodes one frame with DefaultLimits.
func DecodeFrame(b []byte) (Frame, error) { return DecodeFrameWith(b, DefaultLimits) }

// DecodeFrameWith decodes one frame; the bencoded part of a control frame
// must be canonical and within lim.
func DecodeFrameWith(b []byte, lim bencode.Limits) (Frame, error) {
	if len(b) == 0 {
		return Frame{}, fmt.Errorf("%w: empty message", ErrBadFrame)
	}
	switch b[0] {
	case KindData:
		if len(b) < DataHeaderLen+1 {
			return Frame{}, fmt.Errorf("%w: data frame of %d bytes, need at least %d", ErrBadFrame, len(b), DataHeaderLen+1)
		}
		return Frame{Stream: binary.BigEndian.Uint32(b[1:5]), Data: b[DataHeaderLen:]}, nil
	case KindControl:
		m, err := decodeMsg(b[1:], lim)
		if err != nil {
			return Frame{}, err
		}
		return Frame{Msg: m}, nil
	default:
		return Frame{}, fmt.Errorf("%w: unknown frame kind 0x%02x", ErrBadFrame, b[0])
	}
}

func decodeMsg(b []byte, lim bencode.Limits) (*Msg, error) {
	lim.Lenient = false
	v, err := bencode.DecodeWith(b, lim)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	if v.Kind != bencode.Dict {
		return nil, fmt.Errorf("%w: control message is not a dictionary", ErrBadFrame)
	}
	m := &Msg{}
	y, ok := v.GetString("y")
	if !ok {
		return nil, fmt.Errorf("%w: control message without a string \"y\"", ErrBadFrame)
	}
	m.Type = y
	getID := func() error {
		id, ok := v.GetInt("t")
		if !ok || id < 0 {
			return fmt.Errorf("%w: %q message without a non-negative integer \"t\"", ErrBadFrame, y)
		}
		m.ID = id
		return nil
	}
	getBody := func(key string) error {
		if !v.Has(key) {
			return nil
		}
		d, ok := v.GetDict(key)
		if !ok {
			return fmt.Errorf("%w: %q of a %q message is not a dictionary", ErrBadFrame, key, y)
		}
		m.Body = d
		return nil
	}
	switch y {
	case TypeRequest, TypeNotice:
		op, ok := v.GetString("q")
		if !ok || op == "" || len(op) > 64 {
			return nil, fmt.Errorf("%w: %q message without an operation name \"q\"", ErrBadFrame, y)
		}
		m.Op = op
		if y == TypeRequest {
			if err := getID(); err != nil {
				return nil, err
			}
		}
		if err := getBody("a"); err != nil {
			return nil, err
		}
	case TypeResponse:
		if err := getID(); err != nil {
			return nil, err
		}
		if err := getBody("r"); err != nil {
			return nil, err
		}
	case TypeError:
		if err := getID(); err != nil {
			return nil, err
		}
		e, ok := v.GetString("e")
		if !ok {
			return nil, fmt.Errorf("%w: error message without a string \"e\"", ErrBadFrame)
		}
		m.Err = e
		if v.Has("c") {
			c, ok := v.GetString("c")
			if !ok {
				return nil, fmt.Errorf("%w: error code \"c\" is not a string", ErrBadFrame)
			}
			m.Code = c
		}
	default:
		return nil, fmt.Errorf("%w: unknown message type %q", ErrBadFrame, y)
	}
	return m, nil
}

// AppendControl appends the control frame of m to dst. Body, if set, must be
// a dictionary.
func AppendControl(dst []byte, m Msg) []byte {
	d := bencode.NewDict()
	d.Set("y", bencode.NewString(m.Type))
	switch m.Type {
	case TypeRequest, TypeNotice:
		d.Set("q", bencode.NewString(m.Op))
		if m.Type == TypeRequest {
			d.Set("t", bencode.NewInt(m.ID))
		}
		if m.Body.Kind == bencode.Dict {
			d.Set("a", m.Body)
		}
	case TypeResponse:
		d.Set("t", bencode.NewInt(m.ID))
		if m.Body.Kind == bencode.Dict {
			d.Set("r", m.Body)
		}
	case TypeError:
		d.Set("t", bencode.NewInt(m.ID))
		d.Set("e", bencode.NewString(m.Err))
		if m.Code != "" {
			d.Set("c", bencode.NewString(m.Code))
		}
	}
	dst = append(dst, KindControl)
	return bencode.AppendEncode(dst, d)
}

// AppendDataHeader appends the 5-byte header of a data frame for stream.
func AppendDataHeader(dst []byte, stream uint32) []byte {
	dst = append(dst, KindData)
	return binary.BigEndian.AppendUint32(dst, stream)
}

// AppendData appends a data frame carrying data on stream.
func AppendData(dst []byte, stream uint32, data []byte) []byte {
	return append(AppendDataHeader(dst, stream), data...)
}

// PutDataHeader writes the data-frame header for stream into b[:5], so that
// a reader can fill b[5:] in place and send b without copying.
func PutDataHeader(b []byte, stream uint32) {
	b[0] = KindData
	binary.BigEndian.PutUint32(b[1:5], stream)
}

// Request builds a request message.
func Request(id int64, op string, args bencode.Value) Msg {
	return Msg{Type: TypeRequest, Op: op, ID: id, Body: args}
}

// Response builds a response message.
func Response(id int64, result bencode.Value) Msg {
	return Msg{Type: TypeResponse, ID: id, Body: result}
}

// Error builds an error message.
func Error(id int64, code, msg string) Msg {
	return Msg{Type: TypeError, ID: id, Code: code, Err: msg}
}

// Notice builds a notice.
func Notice(name string, args bencode.Value) Msg {
	return Msg{Type: TypeNotice, Op: name, Body: args}
}
