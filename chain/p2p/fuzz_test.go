package p2p

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/wire"
)

// fuzzCommands are the commands a fuzz input can pick by index.
var fuzzCommands = []string{
	wire.CmdVersion, wire.CmdVerack, wire.CmdAddr, wire.CmdGetAddr, wire.CmdInv, wire.CmdGetData,
	wire.CmdNotFound, wire.CmdGetBlocks, wire.CmdGetHeaders, wire.CmdHeaders, wire.CmdTx, wire.CmdBlock,
	wire.CmdMempool, wire.CmdPing, wire.CmdPong, wire.CmdAlert, wire.CmdCheckpoint, wire.CmdDHTGetReq,
	wire.CmdDHTPutReq, wire.CmdDHTGetReply, wire.CmdNoDHTProxy, "filterload",
}

// fuzzInput encodes messages the way FuzzPeerMessage reads them: a flags
// byte (bit 0: inbound peer, bit 1: handshake already done), then per
// message a command index, a u16 little-endian payload length and the
// payload.
func fuzzInput(flags byte, msgs ...wire.Message) []byte {
	out := []byte{flags}
	for _, m := range msgs {
		idx := -1
		for i, c := range fuzzCommands {
			if c == m.Command() {
				idx = i
			}
		}
		payload, err := m.AppendPayload(nil)
		if err != nil || idx < 0 || len(payload) > 0xffff {
			panic("fuzzInput: cannot encode " + m.Command())
		}
		out = append(out, byte(idx))
		out = binary.LittleEndian.AppendUint16(out, uint16(len(payload)))
		out = append(out, payload...)
	}
	return out
}

// FuzzPeerMessage feeds decoded-but-arbitrary messages to a peer of a
// node over a real regtest chain (three blocks and a pooled registration):
// whatever they say, handling them and serving the getdata they queue must
// not panic.
func FuzzPeerMessage(f *testing.F) {
	c := openChain(f)
	mineN(f, c, 3)
	reg := registration(f, consensus.Regtest, "fuzzer", mustKey(f))
	if err := c.AcceptTx(reg); err != nil {
		f.Fatal(err)
	}
	n, err := New(Config{Chain: c, MaxOutbound: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	if err := n.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })

	g := wire.Hash(consensus.Regtest.GenesisHash)
	f.Add(fuzzInput(1, &wire.MsgVersion{Version: wire.ProtocolVersion, Nonce: 5, SubVersion: "/x/", StartHeight: 9, Relay: true}, &wire.MsgVerack{}))
	f.Add(fuzzInput(3, &wire.MsgGetBlocks{BlockLocator: wire.BlockLocator{Version: 70003, Locator: []wire.Hash{g}}},
		&wire.MsgGetData{Items: []wire.InvVect{{Type: wire.InvTypeBlock, Hash: g}, {Type: wire.InvTypeTx, Hash: wire.Hash(reg.Hash())}}}))
	f.Add(fuzzInput(2, &wire.MsgBlock{Raw: consensus.Regtest.GenesisBlock.Bytes()}, &wire.MsgTx{Raw: reg.Bytes()}, &wire.MsgMempool{}))
	f.Add(fuzzInput(0, &wire.MsgPing{Nonce: 1}, &wire.MsgInv{Items: []wire.InvVect{{Type: wire.InvTypeBlock, Hash: wire.Hash{1}}}}))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		a, b := net.Pipe()
		defer b.Close()
		go io.Copy(io.Discard, b)
		p := newPeer(n, a, data[0]&1 != 0, "", "fuzz", netip.MustParseAddrPort("127.0.3.1:1"))
		if data[0]&2 != 0 {
			p.gotVersion, p.version, p.relayTxs, p.services = true, wire.ProtocolVersion, true, wire.NodeNetwork
		}
		n.mu.Lock()
		n.peers[p] = struct{}{}
		n.mu.Unlock()
		defer p.close(nil)
		rest := data[1:]
		for len(rest) >= 3 && !p.isClosed() {
			cmd := fuzzCommands[int(rest[0])%len(fuzzCommands)]
			l := min(int(binary.LittleEndian.Uint16(rest[1:3])), len(rest)-3)
			payload := rest[3 : 3+l]
			rest = rest[3+l:]
			msg, err := wire.DecodePayload(cmd, payload)
			if err != nil {
				continue
			}
			if err := p.handle(msg); err != nil {
				return
			}
			p.qmu.Lock()
			items := p.getQueue
			p.getQueue = nil
			p.qmu.Unlock()
			p.serveGetData(items)
		}
	})
}
