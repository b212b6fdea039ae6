package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/wire"
	"github.com/gotwister/twister/internal/vectors"
)

func TestHandshakeAndPeerInfo(t *testing.T) {
	b := startNode(t, "127.0.2.2", nil, nil)
	a := startNode(t, "127.0.2.1", nil, connectTo(b.addr))
	waitReady(t, a, 1)
	waitReady(t, b, 1)
	if a.node.ConnectionCount() != 1 || b.node.ConnectionCount() != 1 {
		t.Fatalf("connection counts %d, %d", a.node.ConnectionCount(), b.node.ConnectionCount())
	}
	waitFor(t, 5*time.Second, "peer stats", func() bool {
		pa, pb := a.node.Peers(), b.node.Peers()
		return len(pa) == 1 && len(pb) == 1 && pa[0].LastRecv > 0 && pb[0].LastRecv > 0 && pa[0].LastSend > 0 && pb[0].LastSend > 0
	})
	pa, pb := a.node.Peers()[0], b.node.Peers()[0]
	if pa.Addr != b.addr || pa.Inbound {
		t.Errorf("A's peer: addr %q inbound %v, want %q outbound", pa.Addr, pa.Inbound, b.addr)
	}
	if !strings.HasPrefix(pb.Addr, "127.0.2.1:") || !pb.Inbound {
		t.Errorf("B's peer: addr %q inbound %v, want 127.0.2.1:* inbound", pb.Addr, pb.Inbound)
	}
	for _, p := range []PeerInfo{pa, pb} {
		if p.Version != 70003 || p.SubVer != DefaultSubVersion || p.Services != "00000001" || p.StartingHeight != 0 ||
			p.BanScore != 0 || p.ConnTime == 0 || p.BytesSent == 0 || p.BytesRecv == 0 {
			t.Errorf("peer info %+v", p)
		}
		// At equal heights each side picks the other as its sync node.
		if !p.SyncNode {
			t.Errorf("peer %s is not the sync node", p.Addr)
		}
	}

	// The JSON shape is twisterd's getpeerinfo entry, key for key.
	calls := vectors.Transcript()["calls"].([]any)
	var want map[string]any
	for _, c := range calls {
		m := c.(map[string]any)
		if m["method"] == "getpeerinfo" {
			want = m["result"].([]any)[0].(map[string]any)
			break
		}
	}
	if want == nil {
		t.Fatal("no getpeerinfo in the transcript")
	}
	raw, err := json.Marshal(pa)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(raw, &got)
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("getpeerinfo key %q missing", k)
			continue
		}
		if (g == nil) != (v == nil) || jsonKind(g) != jsonKind(v) {
			t.Errorf("key %q: got %T, twisterd has %T", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("extra getpeerinfo key %q", k)
		}
	}
	pa.SyncNode = false
	raw, _ = json.Marshal(pa)
	if strings.Contains(string(raw), "syncnode") {
		t.Errorf("syncnode should be omitted when false: %s", raw)
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "other"
}

func TestSelfConnectionDropped(t *testing.T) {
	a := startNode(t, "127.0.2.3", nil, nil)
	a.node.mu.Lock()
	a.node.cfg.ConnectOnly = []string{a.addr}
	a.node.mu.Unlock()
	a.node.poke()
	waitFor(t, 10*time.Second, "self-connection detected", func() bool { return a.logs.contains("connected to self") })
	waitFor(t, 5*time.Second, "no connections", func() bool { return a.node.ConnectionCount() == 0 })
}

func TestAddNode(t *testing.T) {
	b := startNode(t, "127.0.2.5", nil, nil)
	a := startNode(t, "127.0.2.4", nil, nil)
	if err := a.node.AddNode("127.0.0.1:28709", "remove"); !errors.Is(err, ErrNodeNotAdded) || err.Error() != "Error: Node has not been added." {
		t.Fatalf("remove of unknown node: %v", err)
	}
	if err := a.node.AddNode(b.addr, "bogus"); !errors.Is(err, ErrBadAddNodeCommand) {
		t.Fatalf("bad command: %v", err)
	}
	if err := a.node.AddNode(b.addr, "add"); err != nil {
		t.Fatal(err)
	}
	if err := a.node.AddNode(b.addr, "add"); !errors.Is(err, ErrNodeAlreadyAdded) || err.Error() != "Error: Node already added" {
		t.Fatalf("second add: %v", err)
	}
	waitReady(t, a, 1)
	if got := a.node.AddedNodes(); len(got) != 1 || got[0] != b.addr {
		t.Fatalf("added nodes %v", got)
	}
	if err := a.node.AddNode(b.addr, "remove"); err != nil {
		t.Fatal(err)
	}
	// onetry connects without remembering the node.
	c := startNode(t, "127.0.2.6", nil, nil)
	if err := a.node.AddNode(c.addr, "onetry"); err != nil {
		t.Fatal(err)
	}
	waitReady(t, a, 2)
	if len(a.node.AddedNodes()) != 0 {
		t.Fatalf("onetry node was added: %v", a.node.AddedNodes())
	}
}

// TestRelayRegistrationThreeNodes: a registration made on C travels over
// the hub B to the miner A, is mined there, and every chain then knows
// the user's key.
func TestRelayRegistrationThreeNodes(t *testing.T) {
	b := startNode(t, "127.0.2.11", nil, nil)
	a := startNode(t, "127.0.2.10", nil, connectTo(b.addr))
	c := startNode(t, "127.0.2.12", nil, connectTo(b.addr))
	waitReady(t, b, 2)
	waitReady(t, a, 1)
	waitReady(t, c, 1)

	miner, err := NewMiner(MinerConfig{Chain: a.chain, Broadcast: a.node.BroadcastBlock, Peers: a.node.ConnectionCount})
	if err != nil {
		t.Fatal(err)
	}
	defer miner.Close()

	key := mustKey(t)
	tx := registration(t, consensus.Regtest, "alice", key)
	h, err := c.node.BroadcastTx(tx.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if h != tx.Hash() {
		t.Fatalf("BroadcastTx returned %s, want %s", h, tx.Hash())
	}
	for _, n := range []*testNode{a, b} {
		waitFor(t, 10*time.Second, "registration in "+n.ip+"'s memory pool", func() bool {
			_, ok := n.chain.MempoolTx(h)
			return ok
		})
	}
	// The mempool message lists it.
	r := dialRaw(t, "127.0.2.13", b.addr)
	r.handshake(0)
	r.send(&wire.MsgMempool{})
	inv := r.expect(wire.CmdInv).(*wire.MsgInv)
	if len(inv.Items) != 1 || inv.Items[0].Type != wire.InvTypeTx || consensus.Hash(inv.Items[0].Hash) != h {
		t.Fatalf("mempool answer %+v", inv.Items)
	}

	miner.SetProcLimit(1)
	miner.SetGenerate(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := miner.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !miner.Generate() {
		t.Error("getgenerate turned false after the regtest block")
	}
	blk, err := a.chain.BlockByHeight(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.Txs) != 2 || blk.Txs[1].Hash() != h {
		t.Fatalf("block 1 does not carry the registration: %d txs", len(blk.Txs))
	}
	for _, n := range []*testNode{a, b, c} {
		waitFor(t, 10*time.Second, n.ip+" at height 1", func() bool { return n.chain.Height() == 1 })
		got, err := n.chain.KeyAt("alice", -1)
		if err != nil || !got.Equal(key.PubKey()) {
			t.Fatalf("%s: KeyAt(alice) = %x, %v", n.ip, got, err)
		}
		if n.chain.MempoolSize() != 0 {
			t.Errorf("%s: memory pool still holds %d", n.ip, n.chain.MempoolSize())
		}
	}
	// A registration of the same name from another key is refused
	// everywhere, without penalising the relaying peer.
	dup := registration(t, consensus.Regtest, "alice", mustKey(t))
	if _, err := c.node.BroadcastTx(dup.Bytes()); !errors.Is(err, consensus.ReasonBadReplacement) && !errors.Is(err, consensus.ReasonDuplicateName) {
		t.Fatalf("duplicate name broadcast: %v", err)
	}
}

// TestForkHeavierChainWins: two nodes mine apart, then connect; both end
// on the branch with more work.
func TestForkHeavierChainWins(t *testing.T) {
	a := startNode(t, "127.0.2.20", nil, nil)
	b := startNode(t, "127.0.2.21", nil, nil)
	// A's branch registers a user that B's heavier branch does not have.
	k := mustKey(t)
	if err := a.chain.AcceptTx(registration(t, consensus.Regtest, "forkuser", k)); err != nil {
		t.Fatal(err)
	}
	mineN(t, a.chain, 3)
	mineN(t, b.chain, 5)
	if _, err := a.chain.KeyAt("forkuser", -1); err != nil {
		t.Fatal(err)
	}
	want := tipHash(b.chain)
	if err := a.node.AddNode(b.addr, "add"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testNode{a, b} {
		waitFor(t, 20*time.Second, n.ip+" on the heavier branch", func() bool { return tipHash(n.chain) == want })
	}
	if _, err := a.chain.KeyAt("forkuser", -1); err == nil {
		t.Error("the user of the lighter branch survived the reorganisation")
	}
	// Its registration went back to A's memory pool; mining it on the
	// new best chain makes it everybody's.
	if a.chain.MempoolSize() != 1 {
		t.Fatalf("A's memory pool has %d transactions, want the resurrected registration", a.chain.MempoolSize())
	}
	mineN(t, a.chain, 1)
	waitFor(t, 20*time.Second, "B to get A's block", func() bool { return b.chain.Height() == 6 })
	if got, err := b.chain.KeyAt("forkuser", -1); err != nil || !got.Equal(k.PubKey()) {
		t.Fatalf("B: KeyAt(forkuser) = %x, %v", got, err)
	}
}

// TestLateNodeSyncs: a node started after 700 blocks downloads them all
// (two getblocks batches, joined by the hashContinue inv).
func TestLateNodeSyncs(t *testing.T) {
	a := startNode(t, "127.0.2.30", nil, nil)
	mineN(t, a.chain, 700)
	b := startNode(t, "127.0.2.31", nil, connectTo(a.addr))
	start := time.Now()
	waitFor(t, 45*time.Second, "B synced", func() bool { return b.chain.Height() == 700 })
	t.Logf("synced 700 blocks in %v", time.Since(start))
	if tipHash(b.chain) != tipHash(a.chain) {
		t.Fatal("tips differ")
	}
	known, best := b.node.Progress()
	if known != 700 || best != 700 {
		t.Fatalf("Progress = %d, %d", known, best)
	}
	// A block mined now is announced and fetched.
	mineN(t, a.chain, 1)
	waitFor(t, 10*time.Second, "B at 701", func() bool { return b.chain.Height() == 701 })
}

// TestServeBlocksAndHeaders drives a node with a hand-written peer: the
// getblocks limit and hashContinue, getheaders, getdata and notfound,
// ping/pong and getaddr.
func TestServeBlocksAndHeaders(t *testing.T) {
	a := startNode(t, "127.0.2.40", nil, nil)
	mineN(t, a.chain, 600)
	r := dialRaw(t, "127.0.2.41", a.addr)
	v := r.handshake(0)
	if v.StartHeight != 600 || v.Version != wire.ProtocolVersion || v.Nonce == 0 || v.SubVersion != DefaultSubVersion {
		t.Fatalf("node's version %+v", v)
	}
	if got := v.AddrFrom.AddrPort().String(); got != a.addr {
		t.Errorf("version addr_from %s, want the listener %s", got, a.addr)
	}
	genesis := wire.Hash(consensus.Regtest.GenesisHash)

	r.send(&wire.MsgGetBlocks{BlockLocator: wire.BlockLocator{Version: wire.ProtocolVersion, Locator: []wire.Hash{genesis}}})
	inv := r.expect(wire.CmdInv).(*wire.MsgInv)
	if len(inv.Items) != 500 {
		t.Fatalf("getblocks answered %d ids, want 500", len(inv.Items))
	}
	h1, _ := a.chain.HashByHeight(1)
	h500, _ := a.chain.HashByHeight(500)
	if consensus.Hash(inv.Items[0].Hash) != h1 || consensus.Hash(inv.Items[499].Hash) != h500 {
		t.Fatal("getblocks answer is not blocks 1..500")
	}
	// Asking for block 500 (hashContinue) brings the block, then our tip.
	r.send(&wire.MsgGetData{Items: []wire.InvVect{inv.Items[499]}})
	blk := r.expect(wire.CmdBlock).(*wire.MsgBlock)
	b500, err := consensus.DecodeBlock(blk.Raw)
	if err != nil || b500.Hash() != h500 {
		t.Fatalf("block 500: %v", err)
	}
	cont := r.expect(wire.CmdInv).(*wire.MsgInv)
	if len(cont.Items) != 1 || consensus.Hash(cont.Items[0].Hash) != tipHash(a.chain) {
		t.Fatalf("continue inv %+v", cont.Items)
	}
	// getblocks with a stop hash ends before it. (Ask beyond the first
	// answer: blocks already announced to a peer are not announced again.)
	h10, _ := a.chain.HashByHeight(10)
	h550, _ := a.chain.HashByHeight(550)
	h560, _ := a.chain.HashByHeight(560)
	r.send(&wire.MsgGetBlocks{BlockLocator: wire.BlockLocator{Version: wire.ProtocolVersion, Locator: []wire.Hash{wire.Hash(h550)}, HashStop: wire.Hash(h560)}})
	inv = r.expect(wire.CmdInv).(*wire.MsgInv)
	if len(inv.Items) != 9 {
		t.Fatalf("getblocks 550..stop 560 answered %d ids, want 551..559", len(inv.Items))
	}

	r.send(&wire.MsgGetHeaders{BlockLocator: wire.BlockLocator{Version: wire.ProtocolVersion, Locator: []wire.Hash{genesis}}})
	hs := r.expect(wire.CmdHeaders).(*wire.MsgHeaders)
	if len(hs.Headers) != 600 {
		t.Fatalf("getheaders answered %d headers", len(hs.Headers))
	}
	r.send(&wire.MsgGetHeaders{BlockLocator: wire.BlockLocator{Version: wire.ProtocolVersion, HashStop: wire.Hash(h10)}})
	hs = r.expect(wire.CmdHeaders).(*wire.MsgHeaders)
	if len(hs.Headers) != 1 {
		t.Fatalf("null-locator getheaders answered %d headers", len(hs.Headers))
	}
	if hdr, _ := consensus.DecodeHeader(hs.Headers[0][:]); hdr.Hash() != h10 {
		t.Fatal("null-locator getheaders did not return the stop block")
	}

	unknown := wire.InvVect{Type: wire.InvTypeTx, Hash: wire.Hash{1, 2, 3}}
	r.send(&wire.MsgGetData{Items: []wire.InvVect{unknown}})
	nf := r.expect(wire.CmdNotFound).(*wire.MsgNotFound)
	if len(nf.Items) != 1 || nf.Items[0] != unknown {
		t.Fatalf("notfound %+v", nf.Items)
	}
	r.send(&wire.MsgPing{Nonce: 0xfeedface})
	if pong := r.expect(wire.CmdPong).(*wire.MsgPong); pong.Nonce != 0xfeedface {
		t.Fatalf("pong nonce %x", pong.Nonce)
	}

	// getaddr: the node knows a peer that connected to it from its
	// listening address.
	b := startNode(t, "127.0.2.42", nil, connectTo(a.addr))
	waitReady(t, b, 1)
	r.send(&wire.MsgGetAddr{})
	addr := r.expect(wire.CmdAddr).(*wire.MsgAddr)
	found := false
	for _, na := range addr.Addrs {
		found = found || na.AddrPort().String() == b.addr
	}
	if !found {
		t.Fatalf("addr answer %v lacks %s", addr.Addrs, b.addr)
	}
}

// TestInvalidBlockBansPeer: a peer sending a block with a valid proof of
// work but a wrong merkle root is disconnected and its address banned; a
// peer sending a transaction without its proof of work is scored.
func TestInvalidBlockBansPeer(t *testing.T) {
	a := startNode(t, "127.0.2.50", nil, nil)
	mineN(t, a.chain, 2)

	// Scored but not banned: a registration with a failing proof of work
	// (50 points, twisterd's value).
	r := dialRaw(t, "127.0.2.51", a.addr)
	r.handshake(0)
	bad := registration(t, consensus.Regtest, "mallory", mustKey(t))
	for consensus.CheckTxPoW(consensus.Regtest, bad) == nil {
		bad.Nonce++
	}
	r.send(&wire.MsgTx{Raw: bad.Bytes()})
	waitFor(t, 5*time.Second, "ban score 50", func() bool {
		for _, p := range a.node.Peers() {
			if strings.HasPrefix(p.Addr, "127.0.2.51:") && p.BanScore == 50 {
				return true
			}
		}
		return false
	})

	// A bad block: valid PoW, wrong merkle root.
	blk, err := a.chain.NewBlockTemplate("", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	blk.Header.MerkleRoot[0] ^= 1
	if err := consensus.SolveBlock(context.Background(), blk, consensus.Regtest.PowLimit); err != nil {
		t.Fatal(err)
	}
	evil := dialRaw(t, "127.0.2.52", a.addr)
	evil.handshake(2)
	evil.send(&wire.MsgBlock{Raw: blk.Bytes()})
	evil.expectClosed()
	ip := netip.MustParseAddr("127.0.2.52")
	waitFor(t, 5*time.Second, "ban", func() bool { return a.node.Banned(ip) })
	if a.chain.Height() != 2 || a.chain.HaveBlock(blk.Hash()) {
		t.Fatal("the invalid block was stored")
	}
	// A new connection from the banned address is refused at once.
	again := dialRaw(t, "127.0.2.52", a.addr)
	again.send(&wire.MsgVersion{Version: wire.ProtocolVersion, Nonce: 7, StartHeight: 0})
	again.expectClosed()
	// Others are still served, and the scored peer is still connected.
	ok := dialRaw(t, "127.0.2.53", a.addr)
	ok.handshake(0)
	if a.node.Banned(netip.MustParseAddr("127.0.2.51")) {
		t.Fatal("the scored peer was banned")
	}
}

func TestMessagesBeforeVersionScored(t *testing.T) {
	a := startNode(t, "127.0.2.55", nil, func(c *Config) { c.BanScore = 3 })
	r := dialRaw(t, "127.0.2.56", a.addr)
	for range 3 {
		r.send(&wire.MsgPing{Nonce: 1})
	}
	r.expectClosed()
	if !a.node.Banned(netip.MustParseAddr("127.0.2.56")) {
		t.Fatal("peer not banned after three messages before version")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	a := startNode(t, "127.0.2.57", nil, func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	r := dialRaw(t, "127.0.2.58", a.addr)
	start := time.Now()
	r.expectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

func TestObsoleteVersionRefused(t *testing.T) {
	a := startNode(t, "127.0.2.59", nil, nil)
	r := dialRaw(t, "127.0.2.60", a.addr)
	r.send(&wire.MsgVersion{Version: 200, Nonce: 9})
	r.expectClosed()
}

func TestOrphanAskedForParents(t *testing.T) {
	// A node receiving only the newest block of a peer's longer chain
	// stores it as an orphan and asks that peer for the blocks between.
	src := openChain(t)
	mineN(t, src, 5)
	a := startNode(t, "127.0.2.61", nil, nil)
	r := dialRaw(t, "127.0.2.62", a.addr)
	r.handshake(0)
	raw, err := src.RawBlock(tipHash(src))
	if err != nil {
		t.Fatal(err)
	}
	r.send(&wire.MsgBlock{Raw: raw})
	for {
		gb := r.expect(wire.CmdGetBlocks).(*wire.MsgGetBlocks)
		if consensus.Hash(gb.HashStop) == tipHash(src) {
			break
		}
	}
	if !a.chain.IsOrphan(tipHash(src)) {
		t.Fatal("block not kept as an orphan")
	}
	// Serve blocks 1..4 and the orphan connects.
	for h := int64(1); h <= 4; h++ {
		raw, _ := src.BlockByHeight(h)
		r.send(&wire.MsgBlock{Raw: raw.Bytes()})
	}
	waitFor(t, 10*time.Second, "orphan connected", func() bool { return a.chain.Height() == 5 })
}

// TestStalledSyncFallsBackToHeaders: a peer that claims blocks but leaves
// getblocks unanswered is asked for headers, and the blocks they list are
// fetched by getdata.
func TestStalledSyncFallsBackToHeaders(t *testing.T) {
	src := openChain(t)
	mineN(t, src, 5)
	a := startNode(t, "127.0.2.63", nil, func(c *Config) { c.StallTimeout = 300 * time.Millisecond })
	r := dialRaw(t, "127.0.2.64", a.addr)
	r.handshake(5)
	r.expect(wire.CmdGetBlocks) // left unanswered
	gh := r.expect(wire.CmdGetHeaders).(*wire.MsgGetHeaders)
	if len(gh.Locator) != 1 || consensus.Hash(gh.Locator[0]) != consensus.Regtest.GenesisHash {
		t.Fatalf("getheaders locator %v", gh.Locator)
	}
	hs := &wire.MsgHeaders{}
	for h := int64(1); h <= 5; h++ {
		hdr, _ := src.HeaderByHeight(h)
		hs.Headers = append(hs.Headers, hdr.Serialize())
	}
	r.send(hs)
	gd := r.expect(wire.CmdGetData).(*wire.MsgGetData)
	if len(gd.Items) != 5 {
		t.Fatalf("getdata for %d blocks, want 5", len(gd.Items))
	}
	for _, it := range gd.Items {
		raw, err := src.RawBlock(consensus.Hash(it.Hash))
		if err != nil {
			t.Fatal(err)
		}
		r.send(&wire.MsgBlock{Raw: raw})
	}
	waitFor(t, 10*time.Second, "height 5", func() bool { return a.chain.Height() == 5 })
	if tipHash(a.chain) != tipHash(src) {
		t.Fatal("wrong tip")
	}
}

func TestTimeOffsetMedian(t *testing.T) {
	c := openChain(t)
	n, err := New(Config{Chain: c})
	if err != nil {
		t.Fatal(err)
	}
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 4, byte(i)}) }
	for i := 1; i <= 3; i++ {
		n.addTimeSample(ip(i), 100)
	}
	if n.TimeOffset() != 0 {
		t.Fatal("offset applied with fewer than 5 samples")
	}
	n.addTimeSample(ip(1), 5000) // same address: ignored
	n.addTimeSample(ip(4), 120)  // samples 0,100,100,100,120
	if n.TimeOffset() != 100*time.Second {
		t.Fatalf("offset %v, want 100s", n.TimeOffset())
	}
	if d := n.AdjustedTime().Sub(time.Now()); d < 99*time.Second || d > 101*time.Second {
		t.Fatalf("adjusted time off by %v", d)
	}
	for i := 5; i <= 12; i++ {
		n.addTimeSample(ip(i), 2*60*60) // two hours: median too far, not applied
	}
	if n.TimeOffset() != 0 {
		t.Fatalf("offset %v applied beyond 70 minutes", n.TimeOffset())
	}
}

// TestAddressGossip: a node that knows only B learns A's address from B's
// getaddr answer and connects to it from its address book.
func TestAddressGossip(t *testing.T) {
	a := startNode(t, "127.0.2.70", nil, func(c *Config) { c.MaxOutbound = -1 })
	b := startNode(t, "127.0.2.71", nil, func(c *Config) { c.AddNodes = []string{a.addr}; c.MaxOutbound = -1 })
	waitReady(t, b, 1)
	c := startNode(t, "127.0.2.72", nil, func(c *Config) { c.AddNodes = []string{b.addr} })
	waitFor(t, 15*time.Second, "C connected to A", func() bool {
		for _, p := range c.node.Peers() {
			if p.Addr == a.addr && !p.Inbound {
				return true
			}
		}
		return false
	})
}

// TestMempoolAnnouncedOnConnect checks that a transaction made while a
// node had no peers reaches a peer that connects later: the pool is
// announced once the handshake is done.
func TestMempoolAnnouncedOnConnect(t *testing.T) {
	a := startNode(t, "127.0.9.61", nil, nil)
	tx := registration(t, consensus.Regtest, "lonely", mustKey(t))
	h, err := a.node.BroadcastTx(tx.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b := startNode(t, "127.0.9.62", nil, connectTo(a.addr))
	waitReady(t, b, 1)
	waitFor(t, 10*time.Second, "the earlier registration in the new peer's memory pool", func() bool {
		_, ok := b.chain.MempoolTx(h)
		return ok
	})
}

// TestSyncWhileMining starts a node against a peer that mines while the
// link is set up. A block announced to the new node before our version
// reached it was once dropped by it and remembered here as known, so its
// download stalled until the headers fallback (StallTimeout): each round
// must finish well before that.
func TestSyncWhileMining(t *testing.T) {
	for i := range 8 {
		a := startNode(t, fmt.Sprintf("127.0.9.%d", 100+i), nil, nil)
		mineN(t, a.chain, 2)
		b := startNode(t, fmt.Sprintf("127.0.9.%d", 120+i), nil, connectTo(a.addr))
		start := time.Now()
		for j := range 12 {
			mineN(t, a.chain, 1)
			time.Sleep(time.Duration(j%4) * time.Millisecond)
		}
		waitFor(t, 20*time.Second, "the new node synced", func() bool { return b.chain.Height() == 14 })
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("round %d: synced in %v: the download stalled", i, took)
		}
		if b.logs.contains("before version") {
			t.Errorf("round %d: the new node got a message before our version", i)
		}
		b.node.Close()
		a.node.Close()
	}
}
