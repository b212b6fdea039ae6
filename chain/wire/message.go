package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Network magics ("message start" bytes, §5.1).
var (
	MainnetMagic = [4]byte{0xf0, 0xda, 0xbb, 0xd2}
	TestnetMagic = [4]byte{0x0b, 0x11, 0x09, 0x07}
	RegtestMagic = [4]byte{0xfa, 0xbf, 0xb5, 0xda}
)

// Protocol versions of twisterd (§5.2).
const (
	ProtocolVersion       int32 = 70003 // PROTOCOL_VERSION
	MinProtocolVersion    int32 = 209   // MIN_PROTO_VERSION
	AddrTimeVersion       int32 = 31402 // CADDR_TIME_VERSION: addr entries carry a time
	BIP0031Version        int32 = 60000 // ping carries a nonce above this
	MempoolVersion        int32 = 60002 // MEMPOOL_GD_VERSION
	SoftCheckpointVersion int32 = 70002 // cp relayed to peers at or above this
	DHTProxyVersion       int32 = 70003 // DHT proxy messages understood
)

// DefaultSubVersion is twisterd's user agent string.
const DefaultSubVersion = "/twisterd:0.9.40/"

// Framing and size limits.
const (
	HeaderSize  = 24 // magic[4] ‖ command[12] ‖ length u32 ‖ checksum[4]
	CommandSize = 12

	// DefaultMaxPayload is the payload limit ReadMessage applies when given
	// maxPayload <= 0. A twister block is at most 50 000 bytes, and the
	// largest legal inv (50 000 entries) is 1.8 MB.
	DefaultMaxPayload = 2 << 20
	// MaxPayloadLimit is the hard cap on any payload, read or written
	// (Bitcoin's MAX_SIZE, 32 MiB); larger maxPayload values are clamped.
	MaxPayloadLimit = MaxCompactSize

	MaxInvEntries    = 50000 // MAX_INV_SZ: inv, getdata, notfound
	MaxAddrEntries   = 1000  // addr
	MaxHeaders       = 2000  // headers reply
	MaxLocatorHashes = 500   // getblocks/getheaders locator (a real one has ~30)
	MaxSubVersionLen = 256   // version user agent
	BlockHeaderSize  = 84    // §5.7
)

// Errors, matched with errors.Is. Payload errors come wrapped in a
// *MessageError.
var (
	ErrBadMagic        = errors.New("bad network magic")
	ErrBadCommand      = errors.New("malformed command name")
	ErrPayloadTooLarge = errors.New("payload too large")
	ErrBadChecksum     = errors.New("bad payload checksum")
	ErrTruncated       = errors.New("truncated")
	ErrTooMany         = errors.New("too many entries")
	ErrTooLong         = errors.New("field too long")
	ErrTrailingBytes   = errors.New("trailing bytes")
	ErrInvalid         = errors.New("invalid value")
)

// MessageError reports a message whose frame was intact (magic, length and
// checksum fine) but whose payload did not decode. The stream is still in
// sync, so a peer may ignore the message (as twisterd does) or penalise the
// sender.
type MessageError struct {
	Command string
	Payload []byte
	Err     error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("wire: decoding %q message (%d bytes): %v", e.Command, len(e.Payload), e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// Message is one P2P message: its command name and its payload encoding.
// Decoding is by command name in DecodePayload.
type Message interface {
	// Command is the command name (at most 12 printable ASCII bytes).
	Command() string
	// AppendPayload appends the serialized payload to dst; it fails if the
	// message breaks a protocol limit (e.g. more than MaxAddrEntries).
	AppendPayload(dst []byte) ([]byte, error)
}

// Checksum returns the frame checksum of payload: the first four bytes of
// SHA256d(payload).
func Checksum(payload []byte) [4]byte {
	h1 := sha256.Sum256(payload)
	h2 := sha256.Sum256(h1[:])
	return [4]byte(h2[:4])
}

// ValidCommand reports whether cmd can be a command name: 1 to 12 bytes,
// each printable ASCII (0x20..0x7e).
func ValidCommand(cmd string) bool {
	if len(cmd) == 0 || len(cmd) > CommandSize {
		return false
	}
	for i := 0; i < len(cmd); i++ {
		if cmd[i] < 0x20 || cmd[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseCommand extracts the command from its 12-byte NUL-padded field with
// the reference's rule: printable ASCII up to the first NUL, only NULs after.
func parseCommand(field []byte) (string, error) {
	n := bytes.IndexByte(field, 0)
	if n < 0 {
		n = len(field)
	}
	for _, c := range field[n:] {
		if c != 0 {
			return "", fmt.Errorf("wire: command %q: non-NUL byte after NUL padding: %w", field, ErrBadCommand)
		}
	}
	if n == 0 {
		return "", fmt.Errorf("wire: empty command: %w", ErrBadCommand)
	}
	for _, c := range field[:n] {
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("wire: command %q: byte 0x%02x is not printable ASCII: %w", field[:n], c, ErrBadCommand)
		}
	}
	return string(field[:n]), nil
}

// EncodeMessage returns the complete frame (header and payload) of msg for
// the network with the given magic.
func EncodeMessage(magic [4]byte, msg Message) ([]byte, error) {
	if msg == nil {
		return nil, errors.New("wire: nil message")
	}
	cmd := msg.Command()
	if !ValidCommand(cmd) {
		return nil, fmt.Errorf("wire: command %q: %w", cmd, ErrBadCommand)
	}
	frame := make([]byte, HeaderSize, HeaderSize+64)
	frame, err := msg.AppendPayload(frame)
	if err != nil {
		return nil, fmt.Errorf("wire: encoding %q: %w", cmd, err)
	}
	payload := frame[HeaderSize:]
	if len(payload) > MaxPayloadLimit {
		return nil, fmt.Errorf("wire: %q payload of %d bytes exceeds %d: %w", cmd, len(payload), MaxPayloadLimit, ErrPayloadTooLarge)
	}
	copy(frame[0:4], magic[:])
	copy(frame[4:4+CommandSize], cmd) // rest of the field stays NUL
	binary.LittleEndian.PutUint32(frame[16:20], uint32(len(payload)))
	sum := Checksum(payload)
	copy(frame[20:24], sum[:])
	return frame, nil
}

// WriteMessage writes msg as one frame to w, in a single Write call.
func WriteMessage(w io.Writer, magic [4]byte, msg Message) error {
	frame, err := EncodeMessage(magic, msg)
	if err != nil {
		return err
	}
	if _, err := w.Write(frame); err != nil {
		return fmt.Errorf("wire: writing %q: %w", msg.Command(), err)
	}
	return nil
}

// ReadMessage reads one frame from r and decodes it. maxPayload bounds the
// payload length (<= 0 means DefaultMaxPayload; values above MaxPayloadLimit
// are clamped); an oversized length is rejected before the payload is read.
//
// A clean end of stream before the first header byte returns io.EOF itself.
// Framing errors (ErrBadMagic, ErrBadCommand, ErrPayloadTooLarge,
// ErrBadChecksum, a short read) leave the stream out of sync: close the
// connection. A payload that does not decode returns a *MessageError and the
// next frame can still be read. Unknown commands return *MsgUnknown.
func ReadMessage(r io.Reader, magic [4]byte, maxPayload int) (Message, error) {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	if maxPayload > MaxPayloadLimit {
		maxPayload = MaxPayloadLimit
	}
	var hdr [HeaderSize]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("wire: reading message header (got %d of %d bytes): %w", n, HeaderSize, err)
	}
	if [4]byte(hdr[0:4]) != magic {
		return nil, fmt.Errorf("wire: message starts with %x, want network magic %x: %w", hdr[0:4], magic[:], ErrBadMagic)
	}
	cmd, err := parseCommand(hdr[4:16])
	if err != nil {
		return nil, err
	}
	length := binary.LittleEndian.Uint32(hdr[16:20])
	if uint64(length) > uint64(maxPayload) {
		return nil, fmt.Errorf("wire: %q payload of %d bytes exceeds limit %d: %w", cmd, length, maxPayload, ErrPayloadTooLarge)
	}
	payload, err := readPayload(r, int(length))
	if err != nil {
		return nil, fmt.Errorf("wire: reading %q payload (got %d of %d bytes): %w", cmd, len(payload), length, err)
	}
	if sum := Checksum(payload); [4]byte(hdr[20:24]) != sum {
		return nil, fmt.Errorf("wire: %q payload checksum is %x, header says %x: %w", cmd, sum[:], hdr[20:24], ErrBadChecksum)
	}
	msg, err := decodePayload(cmd, payload)
	if err != nil {
		return nil, &MessageError{Command: cmd, Payload: payload, Err: err}
	}
	return msg, nil
}

// readPayload reads exactly n bytes. It allocates in 64 KiB steps as data
// arrives, so a peer announcing a large length without sending it cannot
// make us allocate the whole length up front.
func readPayload(r io.Reader, n int) ([]byte, error) {
	const step = 64 << 10
	buf := make([]byte, 0, min(n, step))
	for len(buf) < n {
		want := min(n-len(buf), step)
		buf = slices.Grow(buf, want)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}
