package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/gotwister/twister/internal/vectors"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func genesisHeader(t testing.TB) [BlockHeaderSize]byte {
	t.Helper()
	h := vectors.Hex(vectors.Derived(), "verified", "genesis_mainnet", "header_hex_84_bytes")
	if len(h) != BlockHeaderSize {
		t.Fatalf("genesis header vector has %d bytes", len(h))
	}
	return [BlockHeaderSize]byte(h)
}

func hashOf(b byte) (h Hash) {
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

func testVersion() *MsgVersion {
	return &MsgVersion{
		Version:     ProtocolVersion,
		Services:    NodeNetwork,
		Timestamp:   1400000000,
		AddrRecv:    NewNetAddress(netip.MustParseAddrPort("127.0.0.1:28333"), NodeNetwork),
		AddrFrom:    NewNetAddress(netip.MustParseAddrPort("10.0.0.2:18444"), NodeNetwork),
		Nonce:       0x0102030405060708,
		SubVersion:  DefaultSubVersion,
		StartHeight: 100,
		Relay:       true,
	}
}

// versionFrameHex was written field by field from §5.2/§5.3 (checksum
// computed separately with Python's hashlib).
const versionFrameHex = `
f0dabbd2                                  magic (mainnet)
76657273696f6e0000000000                  "version" NUL-padded to 12
67000000                                  payload length 103
a05fc8ed                                  SHA256d(payload)[:4]
73110100                                  version 70003
0100000000000000                          services NODE_NETWORK
004e725300000000                          time 1400000000
0100000000000000                          addr_recv services
00000000000000000000ffff7f000001 6ead     ::ffff:127.0.0.1 port 28333 (BE)
0100000000000000                          addr_from services
00000000000000000000ffff0a000002 480c     ::ffff:10.0.0.2 port 18444 (BE)
0807060504030201                          nonce
11 2f7477697374657264 3a302e392e34302f    varstr "/twisterd:0.9.40/"
64000000                                  start_height 100
01                                        relay
`

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		var hexPart []string
		for _, f := range strings.Fields(line) {
			if _, err := hex.DecodeString(f); err != nil {
				break
			}
			hexPart = append(hexPart, f)
		}
		out = append(out, strings.Join(hexPart, ""))
	}
	return strings.Join(out, "")
}

func TestVersionKnownBytes(t *testing.T) {
	want := mustHex(t, stripComments(versionFrameHex))
	got, err := EncodeMessage(MainnetMagic, testVersion())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("version frame\n got %x\nwant %x", got, want)
	}
	m, err := ReadMessage(bytes.NewReader(want), MainnetMagic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, testVersion()) {
		t.Fatalf("decoded %+v", m)
	}
	v := m.(*MsgVersion)
	if v.AddrRecv.String() != "127.0.0.1:28333" || v.AddrFrom.AddrPort() != netip.MustParseAddrPort("10.0.0.2:18444") {
		t.Fatalf("addresses %v %v", v.AddrRecv, v.AddrFrom)
	}
}

func TestHeadersFrameKnownBytes(t *testing.T) {
	g := vectors.Derived()
	hdr := genesisHeader(t)
	// The header is the one whose SHA256d is the mainnet genesis id.
	h1 := sha256.Sum256(hdr[:])
	id := Hash(sha256.Sum256(h1[:]))
	if id.String() != vectors.Str(g, "verified", "genesis_mainnet", "block_hash_display") {
		t.Fatalf("genesis id %v", id)
	}
	want := mustHex(t, "f0dabbd2"+"686561646572730000000000"+"56000000"+"e18f8f1f"+
		"01"+hex.EncodeToString(hdr[:])+"00")
	got, err := EncodeMessage(MainnetMagic, &MsgHeaders{Headers: [][BlockHeaderSize]byte{hdr}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("headers frame\n got %x\nwant %x", got, want)
	}
	m, err := ReadMessage(bytes.NewReader(want), MainnetMagic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if hs := m.(*MsgHeaders).Headers; len(hs) != 1 || hs[0] != hdr {
		t.Fatalf("decoded %x", hs)
	}
}

func TestEmptyPayloadFrame(t *testing.T) {
	// The checksum of an empty payload is the well-known 5df6e0e2.
	want := mustHex(t, "fabfb5da 76657261636b000000000000 00000000 5df6e0e2")
	got, err := EncodeMessage(RegtestMagic, &MsgVerack{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("verack frame %x", got)
	}
}

func allMessages(t testing.TB) []Message {
	hdr := genesisHeader(t)
	block := vectors.Hex(vectors.Derived(), "verified", "genesis_mainnet", "block_hex")
	tx := vectors.Hex(vectors.Derived(), "verified", "genesis_mainnet", "coinbase_tx_hex")
	v6 := NewNetAddress(netip.MustParseAddrPort("[2001:db8::1]:28333"), NodeNetwork)
	v6.Time = 1700000000
	v4 := NewNetAddress(netip.MustParseAddrPort("192.0.2.7:1234"), 0)
	v4.Time = 1
	manyInv := make([]InvVect, MaxInvEntries)
	for i := range manyInv {
		manyInv[i] = InvVect{Type: InvTypeTx, Hash: hashOf(byte(i))}
	}
	manyHeaders := make([][BlockHeaderSize]byte, MaxHeaders)
	for i := range manyHeaders {
		manyHeaders[i] = hdr
	}
	return []Message{
		testVersion(),
		&MsgVersion{Version: 209, SubVersion: "", Relay: false},
		&MsgVerack{},
		&MsgPing{Nonce: 0xdeadbeefcafef00d},
		&MsgPong{Nonce: 42},
		&MsgAddr{Addrs: []NetAddress{v6, v4}},
		&MsgAddr{Addrs: []NetAddress{}},
		&MsgGetAddr{},
		&MsgInv{Items: []InvVect{{InvTypeTx, hashOf(1)}, {InvTypeBlock, hashOf(2)}}},
		&MsgInv{Items: manyInv},
		&MsgGetData{Items: []InvVect{{InvTypeBlock, hashOf(3)}}},
		&MsgNotFound{Items: []InvVect{{InvTypeFilteredBlock, hashOf(4)}}},
		&MsgGetBlocks{BlockLocator{Version: ProtocolVersion, Locator: []Hash{hashOf(5), hashOf(6)}}},
		&MsgGetHeaders{BlockLocator{Version: ProtocolVersion, Locator: []Hash{}, HashStop: hashOf(7)}},
		&MsgHeaders{Headers: [][BlockHeaderSize]byte{hdr, hdr}},
		&MsgHeaders{Headers: manyHeaders},
		&MsgBlock{Raw: block},
		&MsgTx{Raw: tx},
		&MsgMempool{},
		&MsgAlert{Raw: []byte{1, 2, 3}},
		&MsgCheckpoint{Height: 18000, Hash: hashOf(8), Username: []byte("mf1"), Sig: bytes.Repeat([]byte{0x1f}, 65)},
		&MsgDHTGetReq{Username: []byte("gotest"), Resource: []byte("tracker"), Multi: true, Stop: false},
		&MsgDHTGetReq{Username: []byte("gotest"), Resource: []byte("profile"), Stop: true},
		&MsgDHTPutReq{Username: []byte("gotest"), Resource: []byte("status"), P: []byte("d1:v1:xe"), SigP: []byte{1, 2}, SigUser: []byte("gotest")},
		&MsgDHTGetReply{Target: bytes.Repeat([]byte{0xcd}, 20), Data: []byte("le")},
		&MsgDHTGetReply{Target: bytes.Repeat([]byte{0xcd}, 20), Data: []byte{}},
		&MsgNoDHTProxy{},
		&MsgUnknown{Cmd: "filterclear", Payload: []byte{}},
		&MsgUnknown{Cmd: "a command 12", Payload: []byte("raw")},
	}
}

// normalize maps nil slices to empty ones so that DeepEqual compares content.
func normalize(m Message) Message {
	switch v := m.(type) {
	case *MsgDHTGetReq:
		c := *v
		c.Username, c.Resource = nz(c.Username), nz(c.Resource)
		return &c
	case *MsgDHTPutReq:
		c := *v
		c.Username, c.Resource, c.P, c.SigP, c.SigUser = nz(c.Username), nz(c.Resource), nz(c.P), nz(c.SigP), nz(c.SigUser)
		return &c
	case *MsgDHTGetReply:
		c := *v
		c.Target, c.Data = nz(c.Target), nz(c.Data)
		return &c
	case *MsgCheckpoint:
		c := *v
		c.Username, c.Sig = nz(c.Username), nz(c.Sig)
		return &c
	}
	return m
}

func nz(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func TestRoundTripEveryMessage(t *testing.T) {
	for _, magic := range [][4]byte{MainnetMagic, RegtestMagic} {
		for _, m := range allMessages(t) {
			frame, err := EncodeMessage(magic, m)
			if err != nil {
				t.Fatalf("%s: %v", m.Command(), err)
			}
			var buf bytes.Buffer
			if err := WriteMessage(&buf, magic, m); err != nil || !bytes.Equal(buf.Bytes(), frame) {
				t.Fatalf("%s: WriteMessage differs from EncodeMessage (%v)", m.Command(), err)
			}
			got, err := ReadMessage(bytes.NewReader(frame), magic, 0)
			if err != nil {
				t.Fatalf("%s: %v", m.Command(), err)
			}
			if got.Command() != m.Command() {
				t.Fatalf("command %q, want %q", got.Command(), m.Command())
			}
			if !reflect.DeepEqual(normalize(got), normalize(m)) {
				t.Fatalf("%s: round trip\n got %+v\nwant %+v", m.Command(), got, m)
			}
			again, _ := EncodeMessage(magic, got)
			if !bytes.Equal(again, frame) {
				t.Fatalf("%s: re-encoding differs", m.Command())
			}
		}
	}
}

func TestStreamOfMessages(t *testing.T) {
	var buf bytes.Buffer
	msgs := allMessages(t)
	for _, m := range msgs {
		if err := WriteMessage(&buf, MainnetMagic, m); err != nil {
			t.Fatal(err)
		}
	}
	// Read back through a reader that returns one byte at a time.
	r := io.Reader(&oneByteReader{&buf})
	for _, m := range msgs {
		got, err := ReadMessage(r, MainnetMagic, 0)
		if err != nil {
			t.Fatalf("%s: %v", m.Command(), err)
		}
		if got.Command() != m.Command() {
			t.Fatalf("got %s want %s", got.Command(), m.Command())
		}
	}
	if _, err := ReadMessage(r, MainnetMagic, 0); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// frame builds a frame by hand, with a correct checksum unless sum is given.
func frame(magic [4]byte, cmd string, payload []byte, sum ...byte) []byte {
	b := append([]byte{}, magic[:]...)
	var c [CommandSize]byte
	copy(c[:], cmd)
	b = append(b, c[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	if sum == nil {
		s := Checksum(payload)
		sum = s[:]
	}
	b = append(b, sum...)
	return append(b, payload...)
}

func TestFramingErrors(t *testing.T) {
	good := frame(MainnetMagic, "ping", make([]byte, 8))
	cases := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"bad magic", good, 0, ErrBadMagic},
		{"bad checksum", frame(MainnetMagic, "ping", make([]byte, 8), 1, 2, 3, 4), 0, ErrBadChecksum},
		{"oversize", frame(MainnetMagic, "block", make([]byte, 101)), 100, ErrPayloadTooLarge},
		{"over default", append(frame(MainnetMagic, "block", nil)[:16], 0x01, 0x00, 0x20, 0x00, 0, 0, 0, 0), 0, ErrPayloadTooLarge},
		{"truncated header", good[:10], 0, io.ErrUnexpectedEOF},
		{"truncated payload", good[:len(good)-3], 0, io.ErrUnexpectedEOF},
		{"control char", frame(MainnetMagic, "pi\nng", nil), 0, ErrBadCommand},
		{"garbage after NUL", frame(MainnetMagic, "ping\x00x", nil), 0, ErrBadCommand},
		{"empty command", frame(MainnetMagic, "", nil), 0, ErrBadCommand},
		{"high byte", frame(MainnetMagic, "p\xffng", nil), 0, ErrBadCommand},
	}
	for _, c := range cases {
		magic := MainnetMagic
		if c.name == "bad magic" {
			magic = RegtestMagic
		}
		_, err := ReadMessage(bytes.NewReader(c.in), magic, c.max)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		var me *MessageError
		if errors.As(err, &me) {
			t.Errorf("%s: framing error reported as MessageError: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// failingReader fails the test if more than limit bytes are read: an
// oversized length must be rejected before the payload is consumed.
type failingReader struct {
	t     *testing.T
	r     io.Reader
	limit int
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.limit -= n
	if f.limit < 0 {
		f.t.Fatal("payload read although its length exceeds the limit")
	}
	return n, err
}

func TestOversizeNotRead(t *testing.T) {
	in := frame(MainnetMagic, "tx", make([]byte, 1000))
	_, err := ReadMessage(&failingReader{t, &oneByteReader{bytes.NewReader(in)}, HeaderSize}, MainnetMagic, 999)
	if !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatal(err)
	}
	if _, err := ReadMessage(bytes.NewReader(in), MainnetMagic, 1000); err != nil {
		t.Fatalf("payload at the limit: %v", err)
	}
}

func TestPayloadErrors(t *testing.T) {
	cs := func(n uint64) []byte { return AppendCompactSize(nil, n) }
	inv1 := append([]byte{1, 0, 0, 0}, make([]byte, 32)...)
	hdr := genesisHeader(t)
	cases := []struct {
		cmd     string
		payload []byte
		want    error
	}{
		{"inv", append(cs(2), inv1...), ErrTruncated},
		{"inv", cs(MaxInvEntries + 1), ErrTooMany},
		{"getdata", append(cs(1), inv1[:20]...), ErrTruncated},
		{"notfound", append(cs(1), append(inv1, 9)...), ErrTrailingBytes},
		{"addr", cs(MaxAddrEntries + 1), ErrTooMany},
		{"addr", append(cs(1), make([]byte, 29)...), ErrTruncated},
		{"headers", cs(MaxHeaders + 1), ErrTooMany},
		{"headers", append(append(cs(1), hdr[:]...), 1), ErrInvalid},
		{"headers", append(cs(1), hdr[:]...), ErrTruncated},
		{"getblocks", append([]byte{0x73, 0x11, 1, 0}, cs(MaxLocatorHashes+1)...), ErrTooMany},
		{"getheaders", append(append([]byte{0x73, 0x11, 1, 0}, cs(0)...), make([]byte, 31)...), ErrTruncated},
		{"verack", []byte{0}, ErrTrailingBytes},
		{"mempool", []byte{0}, ErrTrailingBytes},
		{"pong", []byte{1, 2, 3}, ErrTruncated},
		{"ping", []byte{1, 2, 3}, ErrTruncated},
		{"cp", append(make([]byte, 36), 0xfe, 0, 0, 0, 0x10), ErrInvalid},             // length > MaxCompactSize
		{"cp", append(make([]byte, 36), 0xfe, 0xff, 0xff, 0, 0), ErrTruncated},        // length past the end
		{"dhtgetreq", append(append(cs(1), 'a'), cs(0)...), ErrTruncated},             // missing bools
		{"dhtputreq", append(append(cs(1), 'a'), 5, 'b'), ErrTruncated},               // short resource
		{"dhtgetreply", append(cs(20), make([]byte, 20)...), ErrTruncated},            // missing data
		{"version", []byte{0x73, 0x11, 1, 0, 1}, ErrTruncated},                        // cut in services
		{"version", append(testVersionPayload(t)[:80], 0xfd, 0x01, 0x01), ErrTooLong}, // 257-byte subversion
	}
	for _, c := range cases {
		in := frame(MainnetMagic, c.cmd, c.payload)
		_, err := ReadMessage(bytes.NewReader(in), MainnetMagic, 0)
		var me *MessageError
		if !errors.As(err, &me) || me.Command != c.cmd {
			t.Errorf("%s %x: got %v, want a MessageError", c.cmd, c.payload, err)
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s %x: got %v, want %v", c.cmd, c.payload, err, c.want)
		}
		if _, err := DecodePayload(c.cmd, c.payload); !errors.Is(err, c.want) {
			t.Errorf("DecodePayload %s: %v", c.cmd, err)
		}
	}
}

func testVersionPayload(t testing.TB) []byte {
	p, err := testVersion().AppendPayload(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStreamContinuesAfterPayloadError(t *testing.T) {
	var in []byte
	in = append(in, frame(MainnetMagic, "inv", []byte{5})...)
	in = append(in, frame(MainnetMagic, "pong", []byte{9, 0, 0, 0, 0, 0, 0, 0})...)
	r := bytes.NewReader(in)
	_, err := ReadMessage(r, MainnetMagic, 0)
	var me *MessageError
	if !errors.As(err, &me) || !bytes.Equal(me.Payload, []byte{5}) {
		t.Fatalf("first: %v", err)
	}
	m, err := ReadMessage(r, MainnetMagic, 0)
	if err != nil || m.(*MsgPong).Nonce != 9 {
		t.Fatalf("second: %v %v", m, err)
	}
}

func TestVersionOptionalFields(t *testing.T) {
	full := testVersionPayload(t)
	// Only up to addr_recv (46 bytes): accepted, relay defaults to true.
	m, err := DecodePayload(CmdVersion, full[:46])
	if err != nil {
		t.Fatal(err)
	}
	v := m.(*MsgVersion)
	if v.Version != ProtocolVersion || !v.Relay || v.Nonce != 0 || v.AddrRecv.Port != 28333 {
		t.Fatalf("short version %+v", v)
	}
	// Without the relay byte: relay true.
	m, err = DecodePayload(CmdVersion, full[:len(full)-1])
	if err != nil || !m.(*MsgVersion).Relay || m.(*MsgVersion).StartHeight != 100 {
		t.Fatalf("no relay: %+v %v", m, err)
	}
	// relay = 0 and trailing bytes from a newer peer (ignored).
	p := append(append([]byte{}, full[:len(full)-1]...), 0, 0xaa, 0xbb)
	m, err = DecodePayload(CmdVersion, p)
	if err != nil || m.(*MsgVersion).Relay {
		t.Fatalf("relay false: %+v %v", m, err)
	}
	// Cut inside addr_from: an error.
	if _, err := DecodePayload(CmdVersion, full[:50]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("cut addr_from: %v", err)
	}
}

func TestEmptyPing(t *testing.T) {
	m, err := ReadMessage(bytes.NewReader(frame(MainnetMagic, "ping", nil)), MainnetMagic, 0)
	if err != nil || m.(*MsgPing).Nonce != 0 {
		t.Fatalf("%v %v", m, err)
	}
}

func TestUnknownCommand(t *testing.T) {
	in := frame(MainnetMagic, "filterload", []byte{1, 2, 3})
	m, err := ReadMessage(bytes.NewReader(in), MainnetMagic, 0)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := m.(*MsgUnknown)
	if !ok || u.Cmd != "filterload" || !bytes.Equal(u.Payload, []byte{1, 2, 3}) {
		t.Fatalf("%#v", m)
	}
	// Decoded payloads never alias the input.
	in[len(in)-1] = 9
	if u.Payload[2] != 3 {
		t.Fatal("payload aliases the frame")
	}
}

func TestEncodeLimits(t *testing.T) {
	cases := []Message{
		&MsgAddr{Addrs: make([]NetAddress, MaxAddrEntries+1)},
		&MsgInv{Items: make([]InvVect, MaxInvEntries+1)},
		&MsgGetData{Items: make([]InvVect, MaxInvEntries+1)},
		&MsgNotFound{Items: make([]InvVect, MaxInvEntries+1)},
		&MsgHeaders{Headers: make([][BlockHeaderSize]byte, MaxHeaders+1)},
		&MsgGetBlocks{BlockLocator{Locator: make([]Hash, MaxLocatorHashes+1)}},
		&MsgGetHeaders{BlockLocator{Locator: make([]Hash, MaxLocatorHashes+1)}},
		&MsgVersion{SubVersion: strings.Repeat("x", MaxSubVersionLen+1)},
	}
	for _, m := range cases {
		if _, err := EncodeMessage(MainnetMagic, m); err == nil {
			t.Errorf("%s over its limit encoded", m.Command())
		}
	}
	for _, cmd := range []string{"", "thirteen_char", "tab\there", "é"} {
		if _, err := EncodeMessage(MainnetMagic, &MsgUnknown{Cmd: cmd}); !errors.Is(err, ErrBadCommand) {
			t.Errorf("command %q: %v", cmd, err)
		}
	}
	if _, err := EncodeMessage(MainnetMagic, nil); err == nil {
		t.Error("nil message encoded")
	}
}

func TestCompactSize(t *testing.T) {
	cases := []struct {
		n   uint64
		hex string
	}{
		{0, "00"}, {0xfc, "fc"}, {0xfd, "fdfd00"}, {0xffff, "fdffff"},
		{0x10000, "fe00000100"}, {MaxCompactSize, "fe00000002"},
	}
	for _, c := range cases {
		b := AppendCompactSize(nil, c.n)
		if hex.EncodeToString(b) != c.hex {
			t.Errorf("encode %d = %x, want %s", c.n, b, c.hex)
		}
		n, size, err := ReadCompactSize(append(b, 0xaa))
		if err != nil || n != c.n || size != len(b) {
			t.Errorf("decode %s = %d,%d,%v", c.hex, n, size, err)
		}
	}
	if got := hex.EncodeToString(AppendCompactSize(nil, 1<<32)); got != "ff0000000001000000" {
		t.Errorf("encode 2^32 = %s", got)
	}
	// Non-minimal encodings are accepted, as Bitcoin 0.8 did.
	for _, h := range []string{"fd0500", "fe05000000", "ff0500000000000000"} {
		if n, _, err := ReadCompactSize(mustHex(t, h)); err != nil || n != 5 {
			t.Errorf("non-minimal %s = %d %v", h, n, err)
		}
	}
	for _, h := range []string{"fe01000002", "ffffffffffffffffff", "ff0000000001000000"} {
		if _, _, err := ReadCompactSize(mustHex(t, h)); !errors.Is(err, ErrInvalid) {
			t.Errorf("too large %s: %v", h, err)
		}
	}
	for _, h := range []string{"", "fd00", "fe000000", "ff00000000000000"} {
		if _, _, err := ReadCompactSize(mustHex(t, h)); !errors.Is(err, ErrTruncated) {
			t.Errorf("truncated %q: %v", h, err)
		}
	}
}

func TestNetAddress(t *testing.T) {
	a := NewNetAddress(netip.MustParseAddrPort("1.2.3.4:80"), 1)
	want := [16]byte{10: 0xff, 11: 0xff, 12: 1, 13: 2, 14: 3, 15: 4}
	if a.IP != want || a.String() != "1.2.3.4:80" {
		t.Fatalf("%x %v", a.IP, a)
	}
	b := NewNetAddress(netip.MustParseAddrPort("[2001:db8::5]:28333"), 0)
	if b.String() != "[2001:db8::5]:28333" {
		t.Fatal(b)
	}
	enc := appendNetAddress(nil, a, true)
	if hex.EncodeToString(enc) != "00000000"+"0100000000000000"+"00000000000000000000ffff01020304"+"0050" {
		t.Fatalf("encoded %x", enc)
	}
}

func TestHashString(t *testing.T) {
	g := vectors.Derived()
	raw := vectors.Hex(g, "verified", "genesis_mainnet", "block_hash_raw")
	if got := Hash(raw).String(); got != vectors.Str(g, "verified", "genesis_mainnet", "block_hash_display") {
		t.Fatal(got)
	}
}

func TestErrorMessagesAreClear(t *testing.T) {
	_, err := ReadMessage(bytes.NewReader(frame(MainnetMagic, "inv", []byte{2})), MainnetMagic, 0)
	msg := err.Error()
	for _, want := range []string{`"inv"`, "2 entries", "truncated"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, "wire:") != 1 {
		t.Errorf("error %q repeats the package prefix", msg)
	}
}

func BenchmarkReadMessageInv(b *testing.B) {
	items := make([]InvVect, 500)
	f, _ := EncodeMessage(MainnetMagic, &MsgInv{Items: items})
	b.SetBytes(int64(len(f)))
	r := bytes.NewReader(f)
	for b.Loop() {
		r.Reset(f)
		if _, err := ReadMessage(r, MainnetMagic, 0); err != nil {
			b.Fatal(err)
		}
	}
}
