package dht

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/dht/memnet"
	"github.com/gotwister/twister/resource"
)

// putCase sends one putData and checks the answer.
func TestPutDataRules(t *testing.T) {
	ks, ch := users(t, "alice", "bob")
	now := time.Now().Unix()
	srv := startNode(t, listenUDP(t, "127.0.4.1"), ch, nil)
	to := addrOf(srv)
	c := newRawClient(t, "127.0.4.2")

	put := func(p bencode.Value, sig []byte, user string, tok []byte) *krpc.Msg {
		t.Helper()
		if tok == nil {
			tg, _ := p.GetDict("target")
			n, _ := tg.GetString("n")
			r, _ := tg.GetString("r")
			tt, _ := tg.GetString("t")
			tok = c.token(to, n, r, tt == "m")
		}
		return c.ask(to, krpc.PutData, &krpc.Args{Token: tok, P: &p, SigP: sig, SigUser: []byte(user)})
	}
	stored := func(name, res string, multi bool) []krpc.DataItem {
		t.Helper()
		r := c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget(name, res, multi)})
		if r.R == nil {
			t.Fatalf("getData failed: %+v", r.E)
		}
		return r.R.Data
	}
	wantErr := func(name string, r *krpc.Msg, msg string) {
		t.Helper()
		if r.Z != krpc.TypeError || r.E == nil || r.E.Code != 203 || r.E.Msg != msg {
			t.Errorf("%s: got z=%s e=%+v, want error 203 %q", name, r.Z, r.E, msg)
		}
	}
	wantOK := func(name string, r *krpc.Msg) {
		t.Helper()
		if r.Z != krpc.TypeReply || r.R == nil || r.R.ID != srv.ID() {
			t.Errorf("%s: got z=%s e=%+v, want a plain reply", name, r.Z, r.E)
		}
	}
	prof := func(s string) bencode.Value { return bencode.MustFrom(map[string]any{"fullname": s}) }

	// A valid single put is stored.
	p, sig := signedP(ks["alice"], "alice", resource.Profile, false, prof("v5"), 5, 100, now)
	wantOK("valid", put(p, sig, "alice", nil))
	if d := stored("alice", resource.Profile, false); len(d) != 1 || !bytes.Equal(d[0].SigP, sig) {
		t.Fatalf("valid put not stored: %v", d)
	}
	held := sig

	// Each rule broken once.
	forged := bytes.Clone(sig)
	forged[10] ^= 1
	p6, sig6 := signedP(ks["alice"], "alice", resource.Profile, false, prof("v6"), 6, 100, now)
	wantErr("forged signature", put(p6, forged, "alice", nil), "invalid signature")
	wantErr("signed by another key", put(p6, sig6, "bob", nil), "invalid signature")
	wantErr("unregistered signer", put(p6, sig6, "mallory", nil), "invalid signature")
	pb, sigb := signedP(ks["bob"], "alice", resource.Profile, false, prof("bob's"), 7, 100, now)
	wantErr("wrong owner for single", put(pb, sigb, "bob", nil), "only owner is allowed")
	wantErr("bad token", put(p6, sig6, "alice", []byte{1, 2, 3, 4}), "invalid token")
	otherTok := c.token(to, "alice", resource.Status, false)
	wantErr("token for another target", put(p6, sig6, "alice", otherTok), "invalid token")
	pf, sigf := signedP(ks["alice"], "alice", resource.Profile, false, prof("future"), 8, 100, now+7200+120)
	wantErr("future time", put(pf, sigf, "alice", nil), "time > GetAdjustedTime")
	ph, sigh := signedP(ks["alice"], "alice", resource.Profile, false, prof("high"), 9, 102, now)
	wantErr("height above tip+1", put(ph, sigh, "alice", nil), "height > getBestHeight")
	big := bencode.NewString(strings.Repeat("x", MaxSingleSize))
	pz, sigz := signedP(ks["alice"], "alice", resource.Avatar, false, big, 1, 100, now)
	wantErr("oversized single", put(pz, sigz, "alice", nil), "message too big")
	bigm := bencode.NewString(strings.Repeat("x", MaxMultiSize))
	pm, sigm := signedP(ks["bob"], "alice", resource.Mention, true, bigm, 0, 100, now)
	wantErr("oversized multi", put(pm, sigm, "bob", nil), "message too big")
	pr, sigr := signedP(ks["alice"], "alice", strings.Repeat("r", 33), false, prof("x"), 1, 100, now)
	wantErr("long resource", put(pr, sigr, "alice", nil), "resource name too big")
	pn, sign := signedP(ks["alice"], "alice", resource.Status, true, prof("x"), 0, 100, now)
	// t=m with the seq removed but marked single: rebuild as single without seq.
	tg := krpc.NewDataTarget("alice", resource.Status, false)
	pn.Set("target", mustDecode(t, tg.Bytes()))
	pn.Raw = bencode.Encode(pn)
	sign = ks["alice"].Sign(pn.Raw)
	wantErr("single without seq", put(pn, sign, "alice", nil), "seq is required for single")
	p4 := pn.Bytes()
	p4 = bytes.Replace(p4, []byte("1:t1:se"), []byte("1:t1:s1:xi1ee"), 1)
	p4v := mustDecode(t, p4)
	wantErr("target with 4 keys", put(p4v, ks["alice"].Sign(p4), "alice", c.token(to, "alice", resource.Status, false)), "target dict size != 3")

	// Replayed and lower seq are not stored (silently, like twisterd).
	wantOK("replay", put(p, sig, "alice", nil))
	p3, sig3 := signedP(ks["alice"], "alice", resource.Profile, false, prof("v3"), 3, 100, now)
	wantOK("lower seq", put(p3, sig3, "alice", nil))
	p5b, sig5b := signedP(ks["alice"], "alice", resource.Profile, false, prof("v5b"), 5, 100, now)
	wantOK("equal seq", put(p5b, sig5b, "alice", nil))
	if d := stored("alice", resource.Profile, false); len(d) != 1 || !bytes.Equal(d[0].SigP, held) {
		t.Fatalf("stale put replaced the item")
	}
	// A higher seq replaces it.
	wantOK("higher seq", put(p6, sig6, "alice", nil))
	if d := stored("alice", resource.Profile, false); len(d) != 1 || !bytes.Equal(d[0].SigP, sig6) {
		t.Fatalf("higher seq not stored")
	}
	// Nothing that was rejected got stored.
	if d := stored("alice", resource.Avatar, false); d != nil {
		t.Errorf("oversized avatar stored")
	}

	// justtoken: a target we hold answers with an empty data list.
	r := c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("alice", resource.Profile, false), JustToken: krpc.Int(1)})
	if r.R.Data == nil || len(r.R.Data) != 0 || len(r.R.Token) != 4 {
		t.Errorf("justtoken reply data=%v token=%x", r.R.Data, r.R.Token)
	}
	// Bad getData targets.
	r = c.ask(to, krpc.GetData, &krpc.Args{Target: &krpc.DataTarget{N: "a", R: "b", T: "x"}})
	wantErr("bad t", r, "invalid target.t value")
}

func mustDecode(t testing.TB, b []byte) bencode.Value {
	t.Helper()
	v, err := bencode.DecodeWith(b, bencode.Limits{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMultiRules(t *testing.T) {
	ks, ch := users(t, "alice", "bob", "carol")
	now := time.Now().Unix()
	srv := startNode(t, listenUDP(t, "127.0.5.1"), ch, nil)
	to := addrOf(srv)
	c := newRawClient(t, "127.0.5.2")
	tok := c.token(to, "alice", resource.Replies(1), true)
	put := func(signer string, v string, height int64) {
		p, sig := signedP(ks[signer], "alice", resource.Replies(1), true, bencode.NewString(v), 0, height, now)
		r := c.ask(to, krpc.PutData, &krpc.Args{Token: tok, P: &p, SigP: sig, SigUser: []byte(signer)})
		if r.Z != krpc.TypeReply {
			t.Fatalf("multi put refused: %+v", r.E)
		}
	}
	// Anyone registered may add; the same v twice (even by another signer
	// or at another height) is kept once.
	put("bob", "reply one", 50)
	put("carol", "reply one", 60)
	put("bob", "reply one", 50)
	put("carol", "reply two", 70)
	data := c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("alice", resource.Replies(1), true)}).R.Data
	if len(data) != 2 {
		t.Fatalf("%d entries, want 2", len(data))
	}
	if h, _ := data[0].P.GetInt("height"); h != 70 {
		t.Errorf("newest height not first: %d", h)
	}
	// At most 32, newest heights kept.
	for i := 0; i < 40; i++ {
		put("bob", fmt.Sprintf("r%d", i), int64(i))
	}
	data = c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("alice", resource.Replies(1), true)}).R.Data
	srv.mu.Lock()
	n := len(srv.store.items[krpc.ID(resource.TargetFor("alice", resource.Replies(1), true))])
	srv.mu.Unlock()
	if n != MaxMultiEntries {
		t.Errorf("holding %d entries, want 32", n)
	}
	if len(data) == 0 || len(data) > MaxMultiEntries {
		t.Errorf("reply has %d entries", len(data))
	}
	last, _ := data[len(data)-1].P.GetInt("height")
	first, _ := data[0].P.GetInt("height")
	if first != 70 || last < 8 {
		t.Errorf("heights %d..%d", first, last)
	}
}

// A resource this node is not near is silently not stored.
func TestPutNotNearIgnored(t *testing.T) {
	ks, ch := users(t, "alice")
	target := resource.TargetFor("alice", resource.Profile, false)
	far := krpc.ID(target)
	far[0] ^= 0x80 // our id is as far from the target as can be
	srv := startNode(t, listenUDP(t, "127.0.6.1"), ch, func(c *Config) { c.NodeID = &far })
	// Fill its table with 16 nodes closer to the target than it.
	srv.mu.Lock()
	for i := 0; i < 16; i++ {
		id := krpc.ID(target)
		id[19] ^= byte(i + 1)
		srv.table.seen(krpc.NodeInfo{ID: id, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 7, byte(i + 1)}), 9)}, answered, time.Now())
	}
	srv.mu.Unlock()
	c := newRawClient(t, "127.0.6.2")
	to := addrOf(srv)
	p, sig := signedP(ks["alice"], "alice", resource.Profile, false, bencode.NewString("x"), 1, 100, time.Now().Unix())
	r := c.ask(to, krpc.PutData, &krpc.Args{Token: c.token(to, "alice", resource.Profile, false), P: &p, SigP: sig, SigUser: []byte("alice")})
	if r.Z != krpc.TypeReply {
		t.Fatalf("not-near put answered with %+v", r.E)
	}
	if st := srv.Stats(); st.StoredItems != 0 {
		t.Errorf("not-near put stored")
	}
	if len(c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("alice", resource.Profile, false)}).R.Nodes) != 8 {
		t.Error("getData reply does not carry K nodes")
	}
}

func TestQueriesAndErrors(t *testing.T) {
	_, ch := users(t)
	srv := startNode(t, listenUDP(t, "127.0.8.1"), ch, nil)
	to := addrOf(srv)
	c := newRawClient(t, "127.0.8.2")
	if r := c.ask(to, krpc.Ping, &krpc.Args{}); r.Z != krpc.TypeReply || r.R.ID != srv.ID() || string(r.V) != krpc.Version {
		t.Errorf("ping: %+v", r)
	}
	r := c.ask(to, krpc.FindNode, &krpc.Args{FindTarget: &krpc.ID{1}})
	if r.R == nil || r.R.Nodes == nil {
		t.Errorf("findNode reply without nodes: %+v", r)
	}
	// The raw client is now in the table: findNode from elsewhere finds it.
	c2 := newRawClient(t, "127.0.8.3")
	r = c2.ask(to, krpc.FindNode, &krpc.Args{FindTarget: &c.id})
	if len(r.R.Nodes) != 2 || r.R.Nodes[0].ID != c.id {
		t.Errorf("findNode nodes %v", r.R.Nodes)
	}
	r = c.ask(to, "getPeers", &krpc.Args{InfoHash: &krpc.ID{3}})
	if r.Z != krpc.TypeReply || r.R.Nodes == nil {
		t.Errorf("unknown query with infoHash not answered like findNode: %+v", r)
	}
	wantE := func(r *krpc.Msg, msg string) {
		t.Helper()
		if r.Z != krpc.TypeError || r.E == nil || r.E.Code != 203 || !strings.Contains(r.E.Msg, msg) {
			t.Errorf("got %+v %+v, want error %q", r.R, r.E, msg)
		}
	}
	wantE(c.ask(to, "frobnicate", &krpc.Args{}), "unknown message")
	wantE(c.ask(to, krpc.FindNode, &krpc.Args{}), "missing 'target'")
	wantE(c.askRaw(to, []byte("d1:q4:ping1:t2:xy1:xd2:id3:abce1:z1:qe"), []byte("xy")), "bad arguments")
	wantE(c.ask(to, krpc.AnnouncePeer, &krpc.Args{InfoHash: &krpc.ID{1}, Port: krpc.Int(5), Token: []byte("abcd")}), "invalid token")

	// announcePeer with a token, then getData on the tracker target.
	ih := krpc.ID(resource.InfoHash("alice"))
	tok := c.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("alice", resource.Tracker, true), InfoHash: &ih}).R.Token
	wantE(c.ask(to, krpc.AnnouncePeer, &krpc.Args{InfoHash: &ih, Port: krpc.Int(70000), Token: tok}), "invalid port")
	if r := c.ask(to, krpc.AnnouncePeer, &krpc.Args{InfoHash: &ih, Port: krpc.Int(4321), Seed: krpc.Int(0), Token: tok}); r.Z != krpc.TypeReply {
		t.Fatalf("announce refused: %+v", r.E)
	}
	r = c2.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("alice", resource.Tracker, true), InfoHash: &ih})
	if len(r.R.Values) != 1 || r.R.Values[0] != netip.MustParseAddrPort("127.0.8.2:4321") || r.R.Followers == nil || r.R.N != nil {
		t.Errorf("tracker reply values=%v followers=%v n=%q", r.R.Values, r.R.Followers, r.R.N)
	}
	// An untracked info-hash: values present and empty, no followers.
	r = c2.ask(to, krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("bob", resource.Tracker, true)})
	if r.R.Values == nil || len(r.R.Values) != 0 || r.R.Followers != nil {
		t.Errorf("empty tracker reply values=%v followers=%v", r.R.Values, r.R.Followers)
	}
}

// Over memnet with public addresses, where node ids are enforced.
func TestNodeIDEnforcement(t *testing.T) {
	_, ch := users(t)
	nw := memnet.New(memnet.Config{})
	listen := func(s string) *memnet.Conn {
		c, err := nw.Listen(netip.MustParseAddrPort(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	srv := startNode(t, listen("8.8.8.8:1000"), ch, nil)
	if !VerifyNodeID(srv.ID(), netip.MustParseAddr("8.8.8.8")) {
		t.Fatal("id not derived from the bound public address")
	}
	bad := GenerateNodeID(netip.MustParseAddr("9.9.9.9"))
	liar := startNode(t, listen("8.8.4.4:1000"), ch, func(c *Config) { c.NodeID = &bad; c.QueryTimeout = time.Second })
	good := startNode(t, listen("1.1.1.1:1000"), ch, nil)

	_, err := liar.query(ctxT(t, 3*time.Second), addrOf(srv), krpc.FindNode, &krpc.Args{FindTarget: &krpc.ID{}})
	if err != ErrIDRejected {
		t.Fatalf("query with a misfit id: %v, want ErrIDRejected", err)
	}
	if v := liar.ExternalIPVotes(); v[netip.MustParseAddr("8.8.4.4")] != 1 {
		t.Errorf("votes %v", v)
	}
	if srv.Stats().Nodes != 0 || liar.Stats().Nodes != 0 {
		t.Error("misfit node entered a table")
	}
	// The raw reply carries only id and ip.
	m := &krpc.Msg{T: []byte("zz"), Z: krpc.TypeQuery, Q: krpc.FindNode, X: &krpc.Args{ID: bad, FindTarget: &krpc.ID{}}}
	probe := listen("8.8.4.5:1000")
	probe.WriteTo(m.Encode(), net.UDPAddrFromAddrPort(addrOf(srv)))
	buf := make([]byte, 2048)
	probe.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := probe.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	sid := srv.ID()
	if got := string(buf[:n]); got != "d1:rd2:id20:"+string(sid[:])+"2:ip4:\x08\x08\x04\x05e1:t2:zz1:v4:LT\x01\x001:z1:re" {
		t.Errorf("misfit reply %q", got)
	}
	if _, err := good.query(ctxT(t, 3*time.Second), addrOf(srv), krpc.Ping, &krpc.Args{}); err != nil {
		t.Fatal(err)
	}
	if srv.Stats().Nodes != 1 || good.Stats().Nodes != 1 {
		t.Error("well-formed node not added")
	}
}

// A reply is matched by transaction id and the queried address; one from
// another address is ignored (§11.12).
func TestReplyFromOtherAddressIgnored(t *testing.T) {
	_, ch := users(t)
	nw := memnet.New(memnet.Config{})
	listen := func(s string) *memnet.Conn {
		c, err := nw.Listen(netip.MustParseAddrPort(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	q := startNode(t, listen("10.5.0.1:1"), ch, func(c *Config) { c.QueryTimeout = 500 * time.Millisecond })
	target := listen("10.5.0.2:1") // silent node being queried
	spoof := listen("10.5.0.3:1")
	done := make(chan error, 1)
	go func() {
		_, err := q.query(context.Background(), target.AddrPort(), krpc.Ping, &krpc.Args{})
		done <- err
	}()
	buf := make([]byte, 1500)
	target.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := target.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krpc.Decode(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	reply := &krpc.Msg{T: m.T, Z: krpc.TypeReply, R: &krpc.Return{ID: krpc.ID{9}}}
	spoof.WriteTo(reply.Encode(), q.LocalAddr())
	if err := <-done; err != ErrTimeout {
		t.Errorf("query answered from another address: %v, want ErrTimeout", err)
	}
	if q.Stats().Dropped == 0 {
		t.Error("spoofed reply not counted as dropped")
	}
}

func TestOnTrackerQuery(t *testing.T) {
	_, ch := users(t)
	got := make(chan string, 1)
	srv := startNode(t, listenUDP(t, "127.0.11.1"), ch, func(c *Config) {
		c.OnTrackerQuery = func(name string, ih krpc.ID, neighbor bool) {
			if ih == krpc.ID(resource.InfoHash(name)) && neighbor {
				got <- name
			}
		}
	})
	c := newRawClient(t, "127.0.11.2")
	c.ask(addrOf(srv), krpc.GetData, &krpc.Args{Target: krpc.NewDataTarget("carol", resource.Tracker, true)})
	select {
	case n := <-got:
		if n != "carol" {
			t.Errorf("hook got %q", n)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("OnTrackerQuery not called")
	}
}
