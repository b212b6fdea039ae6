// Package wire encodes and decodes the peer wire protocol of twister's
// per-user post swarms: libtorrent's BitTorrent protocol with the protocol
// string "twister protocollll", the Fast and extension (BEP 10) messages,
// and twister's hashcash "PEEK" messages 10 and 11 (protocol spec §4.4, §4.7).
// Decoders enforce size limits and never panic; every frame is a 4-byte
// big-endian length followed by a message id and its payload.
package wire

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// Protocol is the protocol string of twister's swarm handshake.
const Protocol = "twister protocollll"

// HandshakeLen is the length of a handshake: 1 + 19 + 8 + 20 + 20.
const HandshakeLen = 1 + len(Protocol) + 8 + 20 + 20

// Reserved-byte feature bits (byte index, mask).
const (
	reservedExtByte  = 5
	ReservedExt      = 0x10 // byte 5: extension protocol (BEP 10)
	reservedFlagByte = 7
	ReservedDHT      = 0x01 // byte 7: dht_port message
	ReservedFast     = 0x04 // byte 7: Fast extension (BEP 6)
	ReservedPeek     = 0x10 // byte 7: twister PEEK / hashcash messages
)

// DefaultReserved are the reserved bytes twisterd sends and we send:
// extension protocol, DHT, Fast and PEEK (00 00 00 00 00 10 00 15).
var DefaultReserved = [8]byte{0, 0, 0, 0, 0, ReservedExt, 0, ReservedDHT | ReservedFast | ReservedPeek}

// Reserved holds the 8 reserved handshake bytes.
type Reserved [8]byte

// Extensions reports the extension-protocol bit (BEP 10).
func (r Reserved) Extensions() bool { return r[reservedExtByte]&ReservedExt != 0 }

// DHT reports the DHT bit (the peer understands dht_port).
func (r Reserved) DHT() bool { return r[reservedFlagByte]&ReservedDHT != 0 }

// Fast reports the Fast-extension bit (have_all, have_none, reject, allowed_fast).
func (r Reserved) Fast() bool { return r[reservedFlagByte]&ReservedFast != 0 }

// Peek reports twister's PEEK/hashcash bit (messages 10 and 11).
func (r Reserved) Peek() bool { return r[reservedFlagByte]&ReservedPeek != 0 }

// Handshake is the first thing each side of a swarm connection sends.
type Handshake struct {
	Reserved Reserved
	InfoHash [20]byte // the user's info-hash, resource.InfoHash(user)
	PeerID   [20]byte
}

// ErrHandshake is wrapped by every handshake decoding error.
var ErrHandshake = errors.New("wire: bad handshake")

// AppendHandshake appends the 68-byte encoding of h to dst.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(Protocol)))
	dst = append(dst, Protocol...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// ParseHandshake decodes a handshake from exactly HandshakeLen bytes.
func ParseHandshake(b []byte) (Handshake, error) {
	var h Handshake
	if len(b) != HandshakeLen {
		return h, fmt.Errorf("%w: %d bytes, want %d", ErrHandshake, len(b), HandshakeLen)
	}
	if b[0] != byte(len(Protocol)) || string(b[1:1+len(Protocol)]) != Protocol {
		return h, fmt.Errorf("%w: protocol string %q is not %q", ErrHandshake, safePrefix(b), Protocol)
	}
	p := 1 + len(Protocol)
	copy(h.Reserved[:], b[p:p+8])
	copy(h.InfoHash[:], b[p+8:p+28])
	copy(h.PeerID[:], b[p+28:p+48])
	return h, nil
}

func safePrefix(b []byte) []byte {
	n := int(b[0])
	if n > len(b)-1 {
		n = len(b) - 1
	}
	if n > 32 {
		n = 32
	}
	return b[1 : 1+n]
}

// ReadHandshake reads and decodes one handshake. It reads the protocol
// prefix first, so a peer speaking another protocol is refused after 20 bytes.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var buf [HandshakeLen]byte
	if _, err := io.ReadFull(r, buf[:1+len(Protocol)]); err != nil {
		return Handshake{}, fmt.Errorf("%w: reading protocol string: %w", ErrHandshake, err)
	}
	if buf[0] != byte(len(Protocol)) || string(buf[1:1+len(Protocol)]) != Protocol {
		return Handshake{}, fmt.Errorf("%w: protocol string %q is not %q", ErrHandshake, safePrefix(buf[:1+len(Protocol)]), Protocol)
	}
	if _, err := io.ReadFull(r, buf[1+len(Protocol):]); err != nil {
		return Handshake{}, fmt.Errorf("%w: reading reserved, info-hash and peer id: %w", ErrHandshake, err)
	}
	return ParseHandshake(buf[:])
}

// WriteHandshake writes h.
func WriteHandshake(w io.Writer, h Handshake) error {
	_, err := w.Write(AppendHandshake(make([]byte, 0, HandshakeLen), h))
	return err
}

// PeerIDPrefix is the prefix of our peer ids, in libtorrent's Azureus style
// ("-" + client code + version + "-"): GT = gotwister, version 0.0.0.1.
// twisterd's own prefix is "-TW1000-"; it accepts any 20 bytes from peers.
const PeerIDPrefix = "-GT0001-"

const urlSafe = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.!~*()"

// NewPeerID returns PeerIDPrefix followed by 12 random URL-safe characters,
// the layout libtorrent uses for "-TW1000-" ids.
func NewPeerID() [20]byte {
	var id [20]byte
	copy(id[:], PeerIDPrefix)
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic("wire: crypto/rand failed: " + err.Error())
	}
	for i, b := range rnd {
		id[len(PeerIDPrefix)+i] = urlSafe[int(b)%len(urlSafe)]
	}
	return id
}
