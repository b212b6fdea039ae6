package wire

import (
	"encoding/binary"
	"fmt"
)

// Command names.
const (
	CmdVersion     = "version"
	CmdVerack      = "verack"
	CmdPing        = "ping"
	CmdPong        = "pong"
	CmdAddr        = "addr"
	CmdGetAddr     = "getaddr"
	CmdInv         = "inv"
	CmdGetData     = "getdata"
	CmdNotFound    = "notfound"
	CmdGetBlocks   = "getblocks"
	CmdGetHeaders  = "getheaders"
	CmdHeaders     = "headers"
	CmdBlock       = "block"
	CmdTx          = "tx"
	CmdMempool     = "mempool"
	CmdAlert       = "alert"
	CmdCheckpoint  = "cp"
	CmdDHTGetReq   = "dhtgetreq"
	CmdDHTPutReq   = "dhtputreq"
	CmdDHTGetReply = "dhtgetreply"
	CmdNoDHTProxy  = "nodhtproxy"
)

// Inventory types (CInv.type).
const (
	InvTypeError         uint32 = 0
	InvTypeTx            uint32 = 1 // MSG_TX: hash is a tx id
	InvTypeBlock         uint32 = 2 // MSG_BLOCK: hash is a block id
	InvTypeFilteredBlock uint32 = 3 // MSG_FILTERED_BLOCK (BIP 37, getdata only)
)

// DecodePayload decodes the payload of a message with the given command. An
// unknown command yields *MsgUnknown holding a copy of the payload. Decoded
// messages never alias payload.
func DecodePayload(command string, payload []byte) (Message, error) {
	m, err := decodePayload(command, payload)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	return m, nil
}

func decodePayload(cmd string, payload []byte) (Message, error) {
	d := &decoder{b: payload}
	var m Message
	switch cmd {
	case CmdVersion:
		v := &MsgVersion{}
		v.decode(d)
		return v, d.err // extra bytes after relay are ignored, as twisterd does
	case CmdVerack:
		m = &MsgVerack{}
	case CmdGetAddr:
		m = &MsgGetAddr{}
	case CmdMempool:
		m = &MsgMempool{}
	case CmdNoDHTProxy:
		m = &MsgNoDHTProxy{}
	case CmdPing:
		p := &MsgPing{}
		if !d.empty() { // before BIP 31 (version <= 60000) a ping is empty
			p.Nonce = d.u64("ping nonce")
		}
		m = p
	case CmdPong:
		m = &MsgPong{Nonce: d.u64("pong nonce")}
	case CmdAddr:
		m = &MsgAddr{Addrs: decodeAddrs(d)}
	case CmdInv:
		m = &MsgInv{Items: decodeInv(d, cmd)}
	case CmdGetData:
		m = &MsgGetData{Items: decodeInv(d, cmd)}
	case CmdNotFound:
		m = &MsgNotFound{Items: decodeInv(d, cmd)}
	case CmdGetBlocks:
		m = &MsgGetBlocks{decodeLocator(d, cmd)}
	case CmdGetHeaders:
		m = &MsgGetHeaders{decodeLocator(d, cmd)}
	case CmdHeaders:
		m = &MsgHeaders{Headers: decodeHeaders(d)}
	case CmdBlock:
		m = &MsgBlock{Raw: append([]byte{}, payload...)}
		d.b = nil
	case CmdTx:
		m = &MsgTx{Raw: append([]byte{}, payload...)}
		d.b = nil
	case CmdAlert:
		m = &MsgAlert{Raw: append([]byte{}, payload...)}
		d.b = nil
	case CmdCheckpoint:
		m = &MsgCheckpoint{
			Height:   d.i32("cp height"),
			Hash:     d.hash("cp block hash"),
			Username: d.varBytes("cp username", 0),
			Sig:      d.varBytes("cp signature", 0),
		}
	case CmdDHTGetReq:
		m = &MsgDHTGetReq{
			Username: d.varBytes("dhtgetreq username", 0),
			Resource: d.varBytes("dhtgetreq resource", 0),
			Multi:    d.boolean("dhtgetreq multi"),
			Stop:     d.boolean("dhtgetreq stop"),
		}
	case CmdDHTPutReq:
		m = &MsgDHTPutReq{
			Username: d.varBytes("dhtputreq username", 0),
			Resource: d.varBytes("dhtputreq resource", 0),
			Multi:    d.boolean("dhtputreq multi"),
			P:        d.varBytes("dhtputreq p", 0),
			SigP:     d.varBytes("dhtputreq sig_p", 0),
			SigUser:  d.varBytes("dhtputreq sig_user", 0),
		}
	case CmdDHTGetReply:
		m = &MsgDHTGetReply{
			Target: d.varBytes("dhtgetreply target", 0),
			Data:   d.varBytes("dhtgetreply data", 0),
		}
	default:
		if !ValidCommand(cmd) {
			return nil, fmt.Errorf("command %q: %w", cmd, ErrBadCommand)
		}
		return &MsgUnknown{Cmd: cmd, Payload: append([]byte{}, payload...)}, nil
	}
	if err := d.finish(cmd); err != nil {
		return nil, err
	}
	return m, nil
}

// MsgVersion opens a connection (§5.3): the sender's protocol version,
// services, clock, both addresses, a nonce to detect self-connections, user
// agent, best height and whether it wants transactions relayed.
type MsgVersion struct {
	Version     int32
	Services    uint64
	Timestamp   int64      // Unix seconds
	AddrRecv    NetAddress // the receiver as seen by the sender (no time field)
	AddrFrom    NetAddress // the sender (no time field)
	Nonce       uint64
	SubVersion  string // e.g. DefaultSubVersion
	StartHeight int32
	Relay       bool
}

// Command returns "version".
func (*MsgVersion) Command() string { return CmdVersion }

// AppendPayload appends all fields, relay flag included.
func (m *MsgVersion) AppendPayload(b []byte) ([]byte, error) {
	if len(m.SubVersion) > MaxSubVersionLen {
		return nil, fmt.Errorf("version subversion of %d bytes, limit %d: %w", len(m.SubVersion), MaxSubVersionLen, ErrTooLong)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(m.Version))
	b = binary.LittleEndian.AppendUint64(b, m.Services)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Timestamp))
	b = appendNetAddress(b, m.AddrRecv, false)
	b = appendNetAddress(b, m.AddrFrom, false)
	b = binary.LittleEndian.AppendUint64(b, m.Nonce)
	b = appendVarBytes(b, []byte(m.SubVersion))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.StartHeight))
	return appendBool(b, m.Relay), nil
}

// decode follows twisterd: the fields after addr_recv are optional (old
// peers) and a missing relay flag means true.
func (m *MsgVersion) decode(d *decoder) {
	m.Version = d.i32("version number")
	m.Services = d.u64("version services")
	m.Timestamp = d.i64("version timestamp")
	m.AddrRecv = d.netAddress("version addr_recv", false)
	m.Relay = true
	if d.empty() || d.err != nil {
		return
	}
	m.AddrFrom = d.netAddress("version addr_from", false)
	m.Nonce = d.u64("version nonce")
	if d.empty() || d.err != nil {
		return
	}
	m.SubVersion = string(d.varBytes("version subversion", MaxSubVersionLen))
	if d.empty() || d.err != nil {
		return
	}
	m.StartHeight = d.i32("version start height")
	if d.empty() || d.err != nil {
		return
	}
	m.Relay = d.boolean("version relay")
}

// MsgVerack acknowledges a version message.
type MsgVerack struct{}

// Command returns "verack".
func (*MsgVerack) Command() string { return CmdVerack }

// AppendPayload appends nothing: the payload is empty.
func (*MsgVerack) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// MsgGetAddr asks for known peer addresses.
type MsgGetAddr struct{}

// Command returns "getaddr".
func (*MsgGetAddr) Command() string { return CmdGetAddr }

// AppendPayload appends nothing: the payload is empty.
func (*MsgGetAddr) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// MsgMempool asks for the ids of the peer's memory-pool transactions.
type MsgMempool struct{}

// Command returns "mempool".
func (*MsgMempool) Command() string { return CmdMempool }

// AppendPayload appends nothing: the payload is empty.
func (*MsgMempool) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// MsgNoDHTProxy says "I am myself DHT-proxied; do not send me DHT proxy
// requests" (§3.12).
type MsgNoDHTProxy struct{}

// Command returns "nodhtproxy".
func (*MsgNoDHTProxy) Command() string { return CmdNoDHTProxy }

// AppendPayload appends nothing: the payload is empty.
func (*MsgNoDHTProxy) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// MsgPing is a keep-alive carrying a nonce to be echoed in a pong. An empty
// ping (peers at version <= BIP0031Version) decodes with Nonce 0.
type MsgPing struct{ Nonce uint64 }

// Command returns "ping".
func (*MsgPing) Command() string { return CmdPing }

// AppendPayload appends the 8-byte nonce.
func (m *MsgPing) AppendPayload(b []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(b, m.Nonce), nil
}

// MsgPong answers a ping with its nonce.
type MsgPong struct{ Nonce uint64 }

// Command returns "pong".
func (*MsgPong) Command() string { return CmdPong }

// AppendPayload appends the 8-byte nonce.
func (m *MsgPong) AppendPayload(b []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(b, m.Nonce), nil
}

// MsgAddr lists peer addresses, each with its last-seen Time (at most
// MaxAddrEntries).
type MsgAddr struct{ Addrs []NetAddress }

// Command returns "addr".
func (*MsgAddr) Command() string { return CmdAddr }

// AppendPayload appends the count and the addresses with their times.
func (m *MsgAddr) AppendPayload(b []byte) ([]byte, error) {
	if len(m.Addrs) > MaxAddrEntries {
		return nil, fmt.Errorf("addr with %d entries, limit %d: %w", len(m.Addrs), MaxAddrEntries, ErrTooMany)
	}
	b = AppendCompactSize(b, uint64(len(m.Addrs)))
	for _, a := range m.Addrs {
		b = appendNetAddress(b, a, true)
	}
	return b, nil
}

func decodeAddrs(d *decoder) []NetAddress {
	n := d.count("addr", 4+netAddressSize, MaxAddrEntries)
	if d.err != nil {
		return nil
	}
	out := make([]NetAddress, n)
	for i := range out {
		out[i] = d.netAddress("addr entry", true)
	}
	return out
}

// InvVect names one object: its type (InvTypeTx, InvTypeBlock, ...) and its
// hash in raw byte order.
type InvVect struct {
	Type uint32
	Hash Hash
}

const invVectSize = 4 + 32

func appendInv(b []byte, cmd string, items []InvVect) ([]byte, error) {
	if len(items) > MaxInvEntries {
		return nil, fmt.Errorf("%s with %d entries, limit %d: %w", cmd, len(items), MaxInvEntries, ErrTooMany)
	}
	b = AppendCompactSize(b, uint64(len(items)))
	for _, it := range items {
		b = binary.LittleEndian.AppendUint32(b, it.Type)
		b = append(b, it.Hash[:]...)
	}
	return b, nil
}

func decodeInv(d *decoder, cmd string) []InvVect {
	n := d.count(cmd, invVectSize, MaxInvEntries)
	if d.err != nil {
		return nil
	}
	out := make([]InvVect, n)
	for i := range out {
		out[i].Type = d.u32(cmd + " type")
		out[i].Hash = d.hash(cmd + " hash")
	}
	return out
}

// MsgInv announces objects the sender has (at most MaxInvEntries).
type MsgInv struct{ Items []InvVect }

// Command returns "inv".
func (*MsgInv) Command() string { return CmdInv }

// AppendPayload appends the inventory vector.
func (m *MsgInv) AppendPayload(b []byte) ([]byte, error) { return appendInv(b, CmdInv, m.Items) }

// MsgGetData requests objects by inventory (at most MaxInvEntries).
type MsgGetData struct{ Items []InvVect }

// Command returns "getdata".
func (*MsgGetData) Command() string { return CmdGetData }

// AppendPayload appends the inventory vector.
func (m *MsgGetData) AppendPayload(b []byte) ([]byte, error) {
	return appendInv(b, CmdGetData, m.Items)
}

// MsgNotFound answers a getdata for objects the sender does not have.
type MsgNotFound struct{ Items []InvVect }

// Command returns "notfound".
func (*MsgNotFound) Command() string { return CmdNotFound }

// AppendPayload appends the inventory vector.
func (m *MsgNotFound) AppendPayload(b []byte) ([]byte, error) {
	return appendInv(b, CmdNotFound, m.Items)
}

// BlockLocator is the body of getblocks and getheaders: a version (the
// sender's protocol version), block ids from the sender's tip backwards
// (at most MaxLocatorHashes), and the id to stop at (zero = as many as
// allowed).
type BlockLocator struct {
	Version  int32
	Locator  []Hash
	HashStop Hash
}

func (l *BlockLocator) appendTo(b []byte, cmd string) ([]byte, error) {
	if len(l.Locator) > MaxLocatorHashes {
		return nil, fmt.Errorf("%s locator with %d hashes, limit %d: %w", cmd, len(l.Locator), MaxLocatorHashes, ErrTooMany)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(l.Version))
	b = AppendCompactSize(b, uint64(len(l.Locator)))
	for _, h := range l.Locator {
		b = append(b, h[:]...)
	}
	return append(b, l.HashStop[:]...), nil
}

func decodeLocator(d *decoder, cmd string) (l BlockLocator) {
	l.Version = d.i32(cmd + " version")
	n := d.count(cmd+" locator", 32, MaxLocatorHashes)
	if d.err != nil {
		return l
	}
	l.Locator = make([]Hash, n)
	for i := range l.Locator {
		l.Locator[i] = d.hash(cmd + " locator hash")
	}
	l.HashStop = d.hash(cmd + " hash_stop")
	return l
}

// MsgGetBlocks asks for an inv of the block ids following the locator.
type MsgGetBlocks struct{ BlockLocator }

// Command returns "getblocks".
func (*MsgGetBlocks) Command() string { return CmdGetBlocks }

// AppendPayload appends version, locator and hash_stop.
func (m *MsgGetBlocks) AppendPayload(b []byte) ([]byte, error) {
	return m.appendTo(b, CmdGetBlocks)
}

// MsgGetHeaders asks for a headers message following the locator.
type MsgGetHeaders struct{ BlockLocator }

// Command returns "getheaders".
func (*MsgGetHeaders) Command() string { return CmdGetHeaders }

// AppendPayload appends version, locator and hash_stop.
func (m *MsgGetHeaders) AppendPayload(b []byte) ([]byte, error) {
	return m.appendTo(b, CmdGetHeaders)
}

// MsgHeaders carries up to MaxHeaders raw 84-byte block headers (§5.7). On
// the wire each is a block with no transactions: header ‖ 0x00.
type MsgHeaders struct{ Headers [][BlockHeaderSize]byte }

// Command returns "headers".
func (*MsgHeaders) Command() string { return CmdHeaders }

// AppendPayload appends the count and each header followed by a zero tx
// count.
func (m *MsgHeaders) AppendPayload(b []byte) ([]byte, error) {
	if len(m.Headers) > MaxHeaders {
		return nil, fmt.Errorf("headers with %d entries, limit %d: %w", len(m.Headers), MaxHeaders, ErrTooMany)
	}
	b = AppendCompactSize(b, uint64(len(m.Headers)))
	for i := range m.Headers {
		b = append(b, m.Headers[i][:]...)
		b = append(b, 0)
	}
	return b, nil
}

func decodeHeaders(d *decoder) [][BlockHeaderSize]byte {
	n := d.count("headers", BlockHeaderSize+1, MaxHeaders)
	if d.err != nil {
		return nil
	}
	out := make([][BlockHeaderSize]byte, n)
	for i := range out {
		if h := d.take("headers header", BlockHeaderSize); h != nil {
			copy(out[i][:], h)
		}
		if ntx := d.compactSize("headers tx count"); d.err == nil && ntx != 0 {
			d.failf("headers: header %d carries a tx count of %d, want 0: %w", i, ntx, ErrInvalid)
		}
	}
	return out
}

// MsgBlock carries one serialized block (header ‖ CompactSize ‖ txs),
// uninterpreted here.
type MsgBlock struct{ Raw []byte }

// Command returns "block".
func (*MsgBlock) Command() string { return CmdBlock }

// AppendPayload appends the raw block.
func (m *MsgBlock) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Raw...), nil }

// MsgTx carries one serialized transaction (§5.4), uninterpreted here.
type MsgTx struct{ Raw []byte }

// Command returns "tx".
func (*MsgTx) Command() string { return CmdTx }

// AppendPayload appends the raw transaction.
func (m *MsgTx) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Raw...), nil }

// MsgAlert carries a Bitcoin-format alert (serialized payload and signature),
// uninterpreted here.
type MsgAlert struct{ Raw []byte }

// Command returns "alert".
func (*MsgAlert) Command() string { return CmdAlert }

// AppendPayload appends the raw alert.
func (m *MsgAlert) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Raw...), nil }

// MsgCheckpoint is a soft-checkpoint vote "cp" (§5.11): a trusted user's
// signature over the block id at a height.
type MsgCheckpoint struct {
	Height   int32
	Hash     Hash // block id, raw byte order
	Username []byte
	Sig      []byte // 65-byte compact signature
}

// Command returns "cp".
func (*MsgCheckpoint) Command() string { return CmdCheckpoint }

// AppendPayload appends height, hash, username and signature.
func (m *MsgCheckpoint) AppendPayload(b []byte) ([]byte, error) {
	b = binary.LittleEndian.AppendUint32(b, uint32(m.Height))
	b = append(b, m.Hash[:]...)
	b = appendVarBytes(b, m.Username)
	return appendVarBytes(b, m.Sig), nil
}

// MsgDHTGetReq asks a DHT proxy to start (or, with Stop, to stop) a getData
// for (Username, Resource, single/multi) on its UDP DHT (§3.12).
type MsgDHTGetReq struct {
	Username []byte
	Resource []byte
	Multi    bool
	Stop     bool
}

// Command returns "dhtgetreq".
func (*MsgDHTGetReq) Command() string { return CmdDHTGetReq }

// AppendPayload appends username, resource, multi and stop.
func (m *MsgDHTGetReq) AppendPayload(b []byte) ([]byte, error) {
	b = appendVarBytes(b, m.Username)
	b = appendVarBytes(b, m.Resource)
	b = appendBool(b, m.Multi)
	return appendBool(b, m.Stop), nil
}

// MsgDHTPutReq asks a DHT proxy to putData a signed item (§3.12).
type MsgDHTPutReq struct {
	Username []byte
	Resource []byte
	Multi    bool
	P        []byte // bencoded "p" dictionary
	SigP     []byte
	SigUser  []byte
}

// Command returns "dhtputreq".
func (*MsgDHTPutReq) Command() string { return CmdDHTPutReq }

// AppendPayload appends the target fields, then p, sig_p and sig_user.
func (m *MsgDHTPutReq) AppendPayload(b []byte) ([]byte, error) {
	b = appendVarBytes(b, m.Username)
	b = appendVarBytes(b, m.Resource)
	b = appendBool(b, m.Multi)
	b = appendVarBytes(b, m.P)
	b = appendVarBytes(b, m.SigP)
	return appendVarBytes(b, m.SigUser), nil
}

// MsgDHTGetReply returns DHT results to a proxied client (§3.12): Target is
// the 20-byte target hash (as a length-prefixed vector) and Data a bencoded
// list of items; empty Data means done / no data.
type MsgDHTGetReply struct {
	Target []byte
	Data   []byte
}

// Command returns "dhtgetreply".
func (*MsgDHTGetReply) Command() string { return CmdDHTGetReply }

// AppendPayload appends target and data as length-prefixed vectors.
func (m *MsgDHTGetReply) AppendPayload(b []byte) ([]byte, error) {
	b = appendVarBytes(b, m.Target)
	return appendVarBytes(b, m.Data), nil
}

// MsgUnknown is a message with a command this package does not interpret
// (including BIP 37 filter messages); the peer can ignore it. It also lets a
// caller send arbitrary commands.
type MsgUnknown struct {
	Cmd     string
	Payload []byte
}

// Command returns Cmd.
func (m *MsgUnknown) Command() string { return m.Cmd }

// AppendPayload appends Payload unchanged.
func (m *MsgUnknown) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Payload...), nil }
