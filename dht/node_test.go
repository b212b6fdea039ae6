package dht

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

func TestNodeIDPrefixVectors(t *testing.T) {
	cases, ok := vectors.Path(vectors.Derived(), "derived_by_spec", "dht_node_id_prefix", "cases").([]any)
	if !ok || len(cases) == 0 {
		t.Fatal("no dht_node_id_prefix cases")
	}
	for _, c := range cases {
		m := c.(map[string]any)
		ip := netip.MustParseAddr(m["ip"].(string))
		r := byte(m["id19"].(float64))
		p := NodeIDPrefix(ip, r)
		if got := hex.EncodeToString(p[:]); got != m["prefix_hex"].(string) {
			t.Errorf("%s r=%d: prefix %s, want %s", ip, r, got, m["prefix_hex"])
		}
		var id krpc.ID
		copy(id[:4], p[:])
		id[19] = r
		if !VerifyNodeID(id, ip) {
			t.Errorf("%s: id with the vector prefix does not verify", ip)
		}
		id[0] ^= 1
		if VerifyNodeID(id, ip) {
			t.Errorf("%s: wrong prefix verifies", ip)
		}
	}
	for i := 0; i < 50; i++ {
		ip := netip.AddrFrom4([4]byte{byte(60 + i), 2, 3, byte(i)})
		id := GenerateNodeID(ip)
		if !VerifyNodeID(id, ip) {
			t.Fatalf("generated id %s does not verify for %s", id, ip)
		}
		if VerifyNodeID(id, netip.AddrFrom4([4]byte{byte(60 + i), 200, 3, byte(i)})) {
			t.Errorf("id for %s verifies for another address", ip)
		}
	}
	v6 := netip.MustParseAddr("2001:db8:1:2::5")
	if !VerifyNodeID(GenerateNodeID(v6), v6) {
		t.Error("IPv6 id does not verify")
	}
	for _, s := range []string{"127.0.1.7", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.3.3", "::1"} {
		if !VerifyNodeID(krpc.ID{1, 2, 3}, netip.MustParseAddr(s)) {
			t.Errorf("%s is not exempt", s)
		}
	}
	if VerifyNodeID(krpc.ID{1, 2, 3}, netip.MustParseAddr("8.8.8.8")) || IsLocalAddr(netip.MustParseAddr("172.32.0.1")) {
		t.Error("public address treated as local")
	}
}

func TestTokens(t *testing.T) {
	now := time.Now()
	tk := newTokens(now)
	ip, target := netip.MustParseAddr("1.2.3.4"), krpc.ID{7}
	tok := tk.generate(ip, target)
	if len(tok) != 4 || !tk.verify(tok, ip, target) {
		t.Fatal("fresh token rejected")
	}
	if tk.verify(tok, netip.MustParseAddr("1.2.3.5"), target) || tk.verify(tok, ip, krpc.ID{8}) || tk.verify(tok[:3], ip, target) {
		t.Error("token accepted for another ip/target")
	}
	tk.rotate(now)
	if !tk.verify(tok, ip, target) {
		t.Error("token of the previous secret rejected")
	}
	tk.rotate(now)
	if tk.verify(tok, ip, target) {
		t.Error("token two rotations old accepted")
	}
	// The construction: first 4 bytes of SHA1(ip string ‖ secret LE ‖ target).
	if got := tokenFor(0x01020304, ip, target); !bytes.Equal(got, sha1First4([]byte("1.2.3.4\x04\x03\x02\x01"), target[:])) {
		t.Errorf("token construction %x", got)
	}
}

func sha1First4(parts ...[]byte) []byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)[:4]
}

func TestTwoNodesLoopback(t *testing.T) {
	ks, ch := users(t, "alice")
	a := startNode(t, listenUDP(t, "127.0.2.1"), ch, nil)
	b := startNode(t, listenUDP(t, "127.0.2.2"), ch, nil)
	if err := b.Bootstrap(ctxT(t, 5*time.Second), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	if a.Stats().Nodes != 1 || b.Stats().Nodes != 1 {
		t.Fatalf("tables: a %d b %d", a.Stats().Nodes, b.Stats().Nodes)
	}
	v := bencode.MustFrom(map[string]any{"fullname": "Alice"})
	if err := b.Put(ctxT(t, 5*time.Second), ks["alice"], "alice", "alice", resource.Profile, false, v, 1, 100); err != nil {
		t.Fatal(err)
	}
	items, err := a.Get(ctxT(t, 5*time.Second), "alice", resource.Profile, false, GetOptions{})
	if err != nil || len(items) != 1 {
		t.Fatalf("get: %v %d", err, len(items))
	}
	if fn, _ := items[0].V.GetString("fullname"); fn != "Alice" || items[0].Seq != 1 || items[0].SigUser != "alice" {
		t.Errorf("item %+v", items[0])
	}
	// Only from the network: a holds it, b must fetch it from a.
	items, err = b.Get(ctxT(t, 5*time.Second), "alice", resource.Profile, false, GetOptions{NetworkOnly: true})
	if err != nil || len(items) != 1 {
		t.Fatalf("network get: %v %d", err, len(items))
	}
	// Put skips verifying what it just signed only when the key is the
	// one the chain holds for the signer: any other key is refused.
	other, _ := keys.GenerateKey()
	err = b.Put(ctxT(t, 5*time.Second), other, "alice", "alice", resource.Profile, false, bencode.MustFrom(map[string]any{"fullname": "Mallory"}), 2, 100)
	var pe *PutError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "invalid signature") {
		t.Errorf("put signed by a key that is not alice's: %v, want invalid signature", err)
	}
	if items, _ := b.Get(ctxT(t, 5*time.Second), "alice", resource.Profile, false, GetOptions{}); len(items) != 1 || items[0].Seq != 1 {
		t.Errorf("after the refused put: %+v", items)
	}
}

func TestVectorItemAndPutFormat(t *testing.T) {
	ks, ch := users(t)
	ch.height.Store(100)
	vf := vectors.Verified()
	clock := func() time.Time { return time.Unix(1795319393, 0) }
	a := startNode(t, listenUDP(t, "127.0.3.1"), ch, func(c *Config) { c.Clock = clock })
	b := startNode(t, listenUDP(t, "127.0.3.2"), ch, func(c *Config) { c.Clock = clock })
	if err := b.Bootstrap(ctxT(t, 5*time.Second), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	// dhtputraw of the verified item, then dhtget on the other node.
	raw := vectors.Hex(vf, "derived_checks", "dht_put", "dhtputraw_hex")
	env, err := bencode.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := env.Get("p")
	sig, _ := env.GetBytes("sig_p")
	user, _ := env.GetString("sig_user")
	if err := a.PutSigned(ctxT(t, 5*time.Second), p.Raw, sig, user); err != nil {
		t.Fatal(err)
	}
	items, err := b.Get(ctxT(t, 5*time.Second), "gotest", "post1", false, GetOptions{NetworkOnly: true})
	if err != nil || len(items) != 1 {
		t.Fatalf("get: %v %d", err, len(items))
	}
	it := items[0]
	want := vectors.Path(vf, "derived_checks", "dht_put", "dhtget_result").([]any)[0].(map[string]any)
	wp := want["p"].(map[string]any)
	if it.Height != int64(wp["height"].(float64)) || it.Seq != int64(wp["seq"].(float64)) || it.Time != int64(wp["time"].(float64)) ||
		it.Name != "gotest" || it.Resource != "post1" || it.Multi || hex.EncodeToString(it.SigP) != want["sig_p"] || it.SigUser != want["sig_user"] {
		t.Errorf("item %+v differs from dhtget result %v", it, want)
	}
	if !bytes.Equal(it.P, p.Raw) {
		t.Error("raw p changed in transit")
	}

	// Put builds p exactly as twisterd did for the captured profile.
	v := bencode.MustFrom(map[string]any{"fullname": "Go Test", "bio": "vector profile"})
	if err := a.Put(ctxT(t, 5*time.Second), ks["gotest"], "gotest", "gotest", resource.Profile, false, v, 1, 100); err != nil {
		t.Fatal(err)
	}
	items, err = b.Get(ctxT(t, 5*time.Second), "gotest", resource.Profile, false, GetOptions{NetworkOnly: true})
	if err != nil || len(items) != 1 {
		t.Fatalf("get profile: %v %d", err, len(items))
	}
	if wantP := vectors.Hex(vf, "dht_items", "profile_put", "p_bencoded_hex_from_capture"); !bytes.Equal(items[0].P, wantP) {
		t.Errorf("p = %q\nwant %q", items[0].P, wantP)
	}
	// The daemon's own signature over those bytes passes every check; it
	// is refused only because an item with the same seq is held.
	if err := b.PutSigned(ctxT(t, 5*time.Second), items[0].P, vectors.Hex(vf, "dht_items", "profile_put", "sig_p_hex"), "gotest"); !errors.Is(err, ErrStale) {
		t.Errorf("daemon's profile item: %v, want ErrStale", err)
	}
}

// TestPutReusesTokens checks Config.TokenReuse: a second put to the same
// target goes to the nodes the first one found without a new lookup and
// is stored there; once those tokens are no longer valid (the holder
// rotated its secret twice) the put falls back to a lookup and still
// lands.
func TestPutReusesTokens(t *testing.T) {
	ks, ch := users(t, "alice")
	a := startNode(t, listenUDP(t, "127.0.2.3"), ch, nil)
	b := startNode(t, listenUDP(t, "127.0.2.4"), ch, nil)
	if err := b.Bootstrap(ctxT(t, 5*time.Second), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	put := func(seq int64) {
		t.Helper()
		v := bencode.NewString(fmt.Sprintf("status %d", seq))
		if err := b.Put(ctxT(t, 5*time.Second), ks["alice"], "alice", "alice", resource.Status, false, v, seq, 100); err != nil {
			t.Fatalf("put %d: %v", seq, err)
		}
		items, err := a.Get(ctxT(t, 5*time.Second), "alice", resource.Status, false, GetOptions{})
		if err != nil || len(items) != 1 || items[0].Seq != seq {
			t.Fatalf("after put %d the other node holds %+v (%v)", seq, items, err)
		}
	}
	put(1)
	lookups := b.Stats().Lookups
	put(2)
	put(3)
	if got := b.Stats().Lookups; got != lookups {
		t.Errorf("puts to the same target ran %d new lookups, want none", got-lookups)
	}
	a.mu.Lock()
	a.tokens.rotate(time.Now())
	a.tokens.rotate(time.Now())
	a.mu.Unlock()
	put(4)
	if got := b.Stats().Lookups; got != lookups+1 {
		t.Errorf("after the tokens expired: %d new lookups, want 1", got-lookups)
	}
	put(5)
	if got := b.Stats().Lookups; got != lookups+1 {
		t.Errorf("the fresh tokens were not reused: %d lookups", got-lookups)
	}
}
