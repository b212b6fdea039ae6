package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ID is a message id, the byte after the length prefix.
type ID uint8

// Message ids of twister's swarm protocol (§4.4). Ids 12, 18 and 19 are not
// used by twister; any unknown id is decoded as an opaque payload.
const (
	Choke         ID = 0
	Unchoke       ID = 1
	Interested    ID = 2
	NotInterested ID = 3
	Have          ID = 4
	Bitfield      ID = 5
	Request       ID = 6
	Piece         ID = 7
	Cancel        ID = 8
	DHTPort       ID = 9
	HashcashNBits ID = 10 // uint16: difficulty for PEEK requests
	HashcashNonce ID = 11 // up to 9 bytes of nonce (twisterd sends 4)
	Suggest       ID = 13
	HaveAll       ID = 14
	HaveNone      ID = 15
	RejectRequest ID = 16
	AllowedFast   ID = 17
	Extended      ID = 20
)

var idNames = map[ID]string{
	Choke: "choke", Unchoke: "unchoke", Interested: "interested", NotInterested: "not_interested",
	Have: "have", Bitfield: "bitfield", Request: "request", Piece: "piece", Cancel: "cancel",
	DHTPort: "dht_port", HashcashNBits: "hashcash_nbits", HashcashNonce: "hashcash_nonce",
	Suggest: "suggest", HaveAll: "have_all", HaveNone: "have_none", RejectRequest: "reject_request",
	AllowedFast: "allowed_fast", Extended: "extended",
}

// String returns the message name, e.g. "have" or "unknown(12)".
func (id ID) String() string {
	if s, ok := idNames[id]; ok {
		return s
	}
	return fmt.Sprintf("unknown(%d)", uint8(id))
}

// Known reports whether id is one of the message ids twister uses.
func (id ID) Known() bool { _, ok := idNames[id]; return ok }

// BlockSize is the only request size twister uses: one 16 KiB block per
// piece, answered with the post's real length (§4.2).
const BlockSize = 16384

// MaxNonceLen is the longest hashcash_nonce payload twisterd accepts.
const MaxNonceLen = 9

// Message is one decoded frame. Which fields are meaningful depends on ID:
//
//	have, suggest, allowed_fast:      Index
//	request, cancel, reject_request:  Index, Begin, Length
//	piece:                            Index, Begin, Payload (the block)
//	bitfield:                         Payload (bits, most significant first)
//	dht_port:                         Port
//	hashcash_nbits:                   NBits
//	hashcash_nonce:                   Payload
//	extended:                         ExtID, Payload (bencoded for ExtID 0)
//	unknown ids:                      Payload (everything after the id)
//
// A keep-alive (zero-length frame) has KeepAlive set and no ID.
type Message struct {
	KeepAlive bool
	ID        ID
	Index     uint32
	Begin     uint32
	Length    uint32
	Port      uint16
	NBits     uint16
	ExtID     uint8
	Payload   []byte
}

// String describes m for logs, e.g. "request(2, 0, 16384)".
func (m Message) String() string {
	if m.KeepAlive {
		return "keep-alive"
	}
	switch m.ID {
	case Have, Suggest, AllowedFast:
		return fmt.Sprintf("%s(%d)", m.ID, m.Index)
	case Request, Cancel, RejectRequest:
		return fmt.Sprintf("%s(%d, %d, %d)", m.ID, m.Index, m.Begin, m.Length)
	case Piece:
		return fmt.Sprintf("piece(%d, %d, %d bytes)", m.Index, m.Begin, len(m.Payload))
	case Bitfield:
		return fmt.Sprintf("bitfield(%x)", m.Payload)
	case DHTPort:
		return fmt.Sprintf("dht_port(%d)", m.Port)
	case HashcashNBits:
		return fmt.Sprintf("hashcash_nbits(%d)", m.NBits)
	case Extended:
		return fmt.Sprintf("extended(%d, %d bytes)", m.ExtID, len(m.Payload))
	}
	if len(m.Payload) > 0 {
		return fmt.Sprintf("%s(%d bytes)", m.ID, len(m.Payload))
	}
	return m.ID.String()
}

// Constructors for the messages the engine sends.

// MsgHave announces piece k.
func MsgHave(k uint32) Message { return Message{ID: Have, Index: k} }

// MsgRequest asks for piece k: (k, 0, BlockSize) as twister always does.
func MsgRequest(k uint32) Message {
	return Message{ID: Request, Index: k, Length: BlockSize}
}

// MsgPiece answers a request with the post's bytes.
func MsgPiece(k, begin uint32, data []byte) Message {
	return Message{ID: Piece, Index: k, Begin: begin, Payload: data}
}

// MsgBitfield sends the given bitfield bytes.
func MsgBitfield(bits []byte) Message { return Message{ID: Bitfield, Payload: bits} }

// MsgSimple is a message without payload (choke, unchoke, interested,
// not_interested, have_all, have_none).
func MsgSimple(id ID) Message { return Message{ID: id} }

// Limits bound what ReadMessage accepts. The zero value means the defaults.
type Limits struct {
	// MaxBitfield is the largest bitfield payload in bytes; 0 means
	// DefaultMaxBitfield. A twister post-number limit of 2·(tip−reg)+20
	// keeps real bitfields far below it.
	MaxBitfield int
	// MaxPayload bounds extended messages and unknown ids; 0 means
	// DefaultMaxPayload.
	MaxPayload int
}

// Default limits.
const (
	DefaultMaxBitfield = 1 << 17 // 1,048,576 posts
	DefaultMaxPayload  = 1 << 16
	// MaxPieceFrame is the longest piece frame: id, index, begin, one block.
	MaxPieceFrame = 1 + 8 + BlockSize
)

func (l Limits) maxBitfield() int {
	if l.MaxBitfield > 0 {
		return l.MaxBitfield
	}
	return DefaultMaxBitfield
}

func (l Limits) maxPayload() int {
	if l.MaxPayload > 0 {
		return l.MaxPayload
	}
	return DefaultMaxPayload
}

// maxFrame is the longest frame (after the length prefix) any id may have.
func (l Limits) maxFrame() int {
	m := MaxPieceFrame
	if b := 1 + l.maxBitfield(); b > m {
		m = b
	}
	if p := 1 + l.maxPayload(); p > m {
		m = p
	}
	return m
}

// Errors wrapped by ReadMessage.
var (
	ErrTooLong   = errors.New("wire: message too long")
	ErrMalformed = errors.New("wire: malformed message")
)

// frameLimit returns the allowed payload length range (after the id) of id.
func frameLimit(id ID, lim Limits) (min, max int) {
	switch id {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return 0, 0
	case Have, Suggest, AllowedFast:
		return 4, 4
	case Request, Cancel, RejectRequest:
		return 12, 12
	case Piece:
		return 8, 8 + BlockSize
	case Bitfield:
		return 0, lim.maxBitfield()
	case DHTPort, HashcashNBits:
		return 2, 2
	case HashcashNonce:
		return 0, MaxNonceLen
	case Extended:
		return 1, lim.maxPayload()
	}
	return 0, lim.maxPayload()
}

// ReadMessage reads one frame. Oversized frames are refused after reading
// the 5-byte header, before any payload is buffered.
func ReadMessage(r io.Reader, lim Limits) (Message, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return Message{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 {
		return Message{KeepAlive: true}, nil
	}
	if uint64(n) > uint64(lim.maxFrame()) {
		return Message{}, fmt.Errorf("%w: frame of %d bytes (limit %d)", ErrTooLong, n, lim.maxFrame())
	}
	if _, err := io.ReadFull(r, hdr[4:5]); err != nil {
		return Message{}, fmt.Errorf("%w: frame cut short: %w", ErrMalformed, noEOF(err))
	}
	id := ID(hdr[4])
	plen := int(n) - 1
	lo, hi := frameLimit(id, lim)
	if plen > hi {
		if hi == lo {
			return Message{}, fmt.Errorf("%w: %s payload is %d bytes, want %d", ErrMalformed, id, plen, lo)
		}
		return Message{}, fmt.Errorf("%w: %s payload of %d bytes (limit %d)", ErrTooLong, id, plen, hi)
	}
	if plen < lo {
		return Message{}, fmt.Errorf("%w: %s payload is %d bytes, want at least %d", ErrMalformed, id, plen, lo)
	}
	payload := make([]byte, plen)
	if _, err := io.ReadFull(r, payload); err != nil {
		return Message{}, fmt.Errorf("%w: %s payload cut short: %w", ErrMalformed, id, noEOF(err))
	}
	return decodePayload(id, payload), nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodePayload interprets a payload whose length frameLimit accepted.
func decodePayload(id ID, p []byte) Message {
	m := Message{ID: id}
	be := binary.BigEndian
	switch id {
	case Have, Suggest, AllowedFast:
		m.Index = be.Uint32(p)
	case Request, Cancel, RejectRequest:
		m.Index, m.Begin, m.Length = be.Uint32(p), be.Uint32(p[4:]), be.Uint32(p[8:])
	case Piece:
		m.Index, m.Begin, m.Payload = be.Uint32(p), be.Uint32(p[4:]), p[8:]
	case DHTPort:
		m.Port = be.Uint16(p)
	case HashcashNBits:
		m.NBits = be.Uint16(p)
	case Extended:
		m.ExtID, m.Payload = p[0], p[1:]
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
	default: // bitfield, hashcash_nonce, unknown ids
		m.Payload = p
	}
	return m
}

// ParseMessage decodes one frame from the start of b and returns it with
// the number of bytes it used.
func ParseMessage(b []byte, lim Limits) (Message, int, error) {
	r := &sliceReader{b: b}
	m, err := ReadMessage(r, lim)
	if err == io.EOF && len(b) > 0 {
		err = fmt.Errorf("%w: frame cut short: %w", ErrMalformed, io.ErrUnexpectedEOF)
	}
	return m, r.off, err
}

type sliceReader struct {
	b   []byte
	off int
}

func (s *sliceReader) Read(p []byte) (int, error) {
	if s.off >= len(s.b) {
		return 0, io.EOF
	}
	n := copy(p, s.b[s.off:])
	s.off += n
	return n, nil
}

// AppendMessage appends the frame of m (length prefix included) to dst.
func AppendMessage(dst []byte, m Message) []byte {
	if m.KeepAlive {
		return append(dst, 0, 0, 0, 0)
	}
	be := binary.BigEndian
	var body []byte
	var tmp [12]byte
	switch m.ID {
	case Have, Suggest, AllowedFast:
		be.PutUint32(tmp[:], m.Index)
		body = tmp[:4]
	case Request, Cancel, RejectRequest:
		be.PutUint32(tmp[:], m.Index)
		be.PutUint32(tmp[4:], m.Begin)
		be.PutUint32(tmp[8:], m.Length)
		body = tmp[:12]
	case Piece:
		be.PutUint32(tmp[:], m.Index)
		be.PutUint32(tmp[4:], m.Begin)
		body = tmp[:8]
	case DHTPort:
		be.PutUint16(tmp[:], m.Port)
		body = tmp[:2]
	case HashcashNBits:
		be.PutUint16(tmp[:], m.NBits)
		body = tmp[:2]
	case Extended:
		tmp[0] = m.ExtID
		body = tmp[:1]
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
	}
	extra := 0
	switch m.ID {
	case Piece, Extended, Bitfield, HashcashNonce:
		extra = len(m.Payload)
	default:
		if !m.ID.Known() {
			extra = len(m.Payload)
		}
	}
	dst = be.AppendUint32(dst, uint32(1+len(body)+extra))
	dst = append(dst, byte(m.ID))
	dst = append(dst, body...)
	if extra > 0 {
		dst = append(dst, m.Payload...)
	}
	return dst
}

// WriteMessage writes the frame of m.
func WriteMessage(w io.Writer, m Message) error {
	_, err := w.Write(AppendMessage(nil, m))
	return err
}
