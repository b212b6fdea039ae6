package bridge_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

// TestDHTThroughBridge puts a browser-signed item through the bridge into a
// real 6-node UDP DHT, reads it back through the bridge and from a native
// node, and checks the bytes and signature arrive unchanged.
func TestDHTThroughBridge(t *testing.T) {
	dn := newDHTNet(t, 6)
	env := startBridge(t, bridge.Config{DHT: bridge.FromDHT(dn.nodes[0])}, "")
	writer, reader := dial(t, env.url), dial(t, env.url)
	if !writer.Info().Has("dht") || writer.Info().Has("chain") {
		t.Fatalf("features %v", writer.Info().Features)
	}

	p, sig := signItem("alice", "alice", resource.Profile, false, map[string]any{"fullname": "Alice"}, 1)
	queued, err := writer.PutData(ctxT(t, 10*time.Second), p, sig, "alice")
	if err != nil || queued {
		t.Fatalf("putData: queued=%v err=%v", queued, err)
	}
	items, err := reader.GetData(ctxT(t, 10*time.Second), "alice", resource.Profile, false, client.GetOptions{})
	if err != nil || len(items) != 1 {
		t.Fatalf("getData: %v %v", items, err)
	}
	if !bytes.Equal(items[0].P, p) || !bytes.Equal(items[0].SigP, sig) || items[0].SigUser != "alice" {
		t.Fatalf("item changed on the way: %q", items[0].P)
	}
	if err := keys.Verify(items[0].P, items[0].SigP, userKey("alice").PubKey()); err != nil {
		t.Fatalf("browser-side verification: %v", err)
	}
	// A native node that is not the bridge's finds it in the network.
	native, err := dn.nodes[4].Get(ctxT(t, 10*time.Second), "alice", resource.Profile, false, dht.GetOptions{NetworkOnly: true})
	if err != nil || len(native) != 1 || !bytes.Equal(native[0].P, p) {
		t.Fatalf("native get: %v %v", native, err)
	}

	// Multi items from several signers.
	for _, u := range []string{"bob", "carol"} {
		p, sig := signItem(u, "alice", resource.Mention, true, "hi from "+u, 0)
		if _, err := writer.PutData(ctxT(t, 10*time.Second), p, sig, u); err != nil {
			t.Fatalf("put mention by %s: %v", u, err)
		}
	}
	items, err = reader.GetData(ctxT(t, 10*time.Second), "alice", resource.Mention, true, client.GetOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var signers []string
	for _, it := range items {
		signers = append(signers, it.SigUser)
	}
	slices.Sort(signers)
	if !slices.Equal(signers, []string{"bob", "carol"}) {
		t.Fatalf("mention signers %v", signers)
	}

	// A forged signature is refused by the DHT and reported.
	p2, _ := signItem("alice", "alice", resource.Status, false, "x", 1)
	_, err = writer.PutData(ctxT(t, 10*time.Second), p2, userKey("bob").Sign(p2), "alice")
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != "failed" {
		t.Fatalf("forged put: %v", err)
	}
	if st := env.srv.Stats(); st.DHTErrors == 0 || st.Requests["putData"] != 4 || st.DHTNodes < 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestServeAnnounceAndSwarms runs a native swarm node and a "browser" swarm
// node whose Dialer and Listener are a bridge client, and checks posts flow
// both ways over outgoing streams (browser dials native) and incoming
// streams (native reaches the browser's served swarm through the bridge's
// listener, found in the DHT).
func TestServeAnnounceAndSwarms(t *testing.T) {
	dn := newDHTNet(t, 5)
	bridgeIP := addrOf(dn.nodes[0]).Addr().String()
	env := startBridge(t, bridge.Config{DHT: bridge.FromDHT(dn.nodes[0]), AnnounceInterval: time.Hour}, bridgeIP)
	br := dial(t, env.url)

	// Native node on its own loopback address, finding peers in the DHT.
	ln, err := net.Listen("tcp", "127.0.3.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nativeAddr := ln.Addr().String()
	native := newSwarmNode(t, swarmOpts{listener: ln, peers: dhtPeers{dn.nodes[3]}, chain: dn.chain, name: "native"})
	browser := newSwarmNode(t, swarmOpts{listener: br.Listener(), dialer: br, chain: dn.chain, name: "browser"})

	// 1. native → browser over an outgoing stream.
	for k := range int64(3) {
		if err := native.AddPost("alice", k, makePost(t, "alice", k, "native post")); err != nil {
			t.Fatal(err)
		}
	}
	if err := browser.AddPeer("alice", nativeAddr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "alice's posts at the browser node", func() bool {
		return browser.has("alice", 0) && browser.has("alice", 1) && browser.has("alice", 2)
	})
	// 2. browser → native on the same stream: a new post spreads by have.
	if err := browser.AddPost("alice", 3, makePost(t, "alice", 3, "written in the browser")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the browser's post at the native node", func() bool { return native.has("alice", 3) })

	// 3. The browser serves bob's swarm through the bridge, which
	// announces its swarm port in the DHT; the native node follows bob,
	// finds the bridge in the DHT and connects: an incoming stream.
	for k := range int64(2) {
		if err := browser.AddPost("bob", k, makePost(t, "bob", k, "bob in the browser")); err != nil {
			t.Fatal(err)
		}
	}
	if err := br.Serve(ctxT(t, 5*time.Second), "bob"); err != nil {
		t.Fatal(err)
	}
	wantPeer := env.swarm
	waitFor(t, 10*time.Second, "the bridge's announce in the DHT", func() bool {
		peers, _ := dn.nodes[2].GetPeers(ctxT(t, 5*time.Second), resource.InfoHash("bob"), "bob")
		for _, p := range peers {
			if p.String() == wantPeer {
				return true
			}
		}
		return false
	})
	if err := native.Follow("bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "bob's posts at the native node", func() bool { return native.has("bob", 0) && native.has("bob", 1) })
	if err := browser.AddPost("bob", 2, makePost(t, "bob", 2, "later")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob's new post at the native node", func() bool { return native.has("bob", 2) })

	st := env.srv.Stats()
	t.Logf("bridge stats: streams out %d in %d, incoming %v, bytes up %d down %d, announces %d",
		st.StreamsOut, st.StreamsIn, st.Incoming, st.StreamBytesUp, st.StreamBytesDn, st.Announces)
	if st.StreamsOut < 1 || st.StreamsIn < 1 || st.Incoming["handed"] < 1 || st.Announces < 1 {
		t.Errorf("stats %+v", st)
	}
	// Explicit announce needs the swarm to be served.
	if _, err := br.Announce(ctxT(t, 10*time.Second), "bob"); err != nil {
		t.Errorf("announce bob: %v", err)
	}
	var se *client.ServerError
	if _, err := br.Announce(ctxT(t, 10*time.Second), "carol"); !errors.As(err, &se) || se.Code != "bad-request" {
		t.Errorf("announce of an unserved swarm: %v", err)
	}
	peers, err := br.GetPeers(ctxT(t, 10*time.Second), "bob")
	if err != nil || !slices.ContainsFunc(peers, func(p netip.AddrPort) bool { return p.String() == wantPeer }) {
		t.Errorf("getPeers bob: %v %v", peers, err)
	}

	// Closing the client drops its serves and streams.
	br.Close()
	waitFor(t, 5*time.Second, "streams released", func() bool {
		s := env.srv.Stats()
		return s.StreamsIn == 0 && s.StreamsOut == 0 && s.ServedHashes == 0 && s.Clients == 0
	})
}

// A native peer connecting for a swarm nobody serves, or speaking another
// protocol, is refused.
func TestIncomingRefused(t *testing.T) {
	env := startBridge(t, bridge.Config{}, "127.0.3.9")
	c, err := net.Dial("tcp", env.swarm)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 10)); err == nil {
		t.Fatalf("bridge answered %d bytes to HTTP on the swarm port", n)
	}
	c.Close()
	waitFor(t, 5*time.Second, "bad handshake counted", func() bool { return env.srv.Stats().Incoming["bad_handshake"] == 1 })
}

func TestUnknownOpAndBadArgs(t *testing.T) {
	env := startBridge(t, bridge.Config{}, "")
	c := dial(t, env.url)
	var se *client.ServerError
	if _, err := c.Call(ctxT(t, 5*time.Second), "frobnicate", bencode.Value{}); !errors.As(err, &se) || se.Code != "unknown-op" {
		t.Fatalf("unknown op: %v", err)
	}
	if _, err := c.Call(ctxT(t, 5*time.Second), "open", bencode.MustFrom(map[string]any{"s": 2, "addr": "1.2.3.4:5"})); !errors.As(err, &se) || se.Code != "bad-request" {
		t.Fatalf("even stream id: %v", err)
	}
	if _, err := c.Call(ctxT(t, 5*time.Second), "getData", bencode.MustFrom(map[string]any{"n": 5})); !errors.As(err, &se) || se.Code != "unavailable" {
		t.Fatalf("getData without DHT: %v", err)
	}
	if _, _, err := c.Tip(ctxT(t, 5*time.Second)); !errors.As(err, &se) || se.Code != "unavailable" {
		t.Fatalf("tip without chain: %v", err)
	}
	if err := c.Serve(ctxT(t, 5*time.Second), "bob"); !errors.As(err, &se) || se.Code != "unavailable" {
		t.Fatalf("serve without listener: %v", err)
	}
	if _, err := c.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("ping after errors: %v", err)
	}
	if !strings.Contains(se.Error(), "serve") {
		t.Errorf("error text %q", se.Error())
	}
}
