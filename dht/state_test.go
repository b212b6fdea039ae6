package dht

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/resource"
)

// TestStateSurvivesRestart saves a node's state and starts a new node on
// the same address from it: same id, the items it held (its own and those
// others stored on it) served again, its own still refreshed, its
// neighbour known to bootstrap from, and items expired meanwhile dropped.
func TestStateSurvivesRestart(t *testing.T) {
	ks, ch := users(t, "alice", "bob")
	ch.height.Store(7000)
	a := startNode(t, listenUDP(t, "127.0.2.5"), ch, nil)
	b := startNode(t, listenUDP(t, "127.0.2.6"), ch, nil)
	if err := b.Bootstrap(ctxT(t, 5*time.Second), addrOf(a)); err != nil {
		t.Fatal(err)
	}
	put := func(d *DHT, user, name, res string, multi bool, v string, seq, height int64) {
		t.Helper()
		if err := d.Put(ctxT(t, 5*time.Second), ks[user], user, name, res, multi, bencode.NewString(v), seq, height); err != nil {
			t.Fatalf("put %s/%s: %v", name, res, err)
		}
	}
	put(b, "bob", "bob", resource.Profile, false, "bob's profile", 3, 7000)
	put(b, "bob", "bob", resource.Post(1), false, "an old post", 1, 100)
	put(a, "alice", "tag", resource.Hashtag, true, "alice on #tag", 0, 7000)
	put(a, "alice", "alice", resource.Status, false, "alice's status", 7, 7000)
	id := b.ID()
	before := b.Stats().StoredItems

	var buf bytes.Buffer
	if err := b.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	b.Close()
	// Meanwhile the chain grew: the post at height 100 expires (§3.8),
	// the rest does not.
	ch.height.Store(100 + 8640 + 10)

	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addrOf(b))) // the same address and port
	if err != nil {
		t.Fatal(err)
	}
	b2, err := New(Config{Conn: conn, Chain: ch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Close() })
	ls, err := b2.LoadState(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !ls.KeptID || b2.ID() != id {
		t.Errorf("id not kept: %v", ls.KeptID)
	}
	if ls.Items != before-1 || ls.Dropped != 1 {
		t.Errorf("loaded %d items, dropped %d; held %d before (one expired)", ls.Items, ls.Dropped, before)
	}
	if len(ls.Nodes) != 1 || ls.Nodes[0] != addrOf(a) {
		t.Errorf("saved nodes %v, want %v", ls.Nodes, addrOf(a))
	}
	if err := b2.Start(); err != nil {
		t.Fatal(err)
	}
	held := func(name, res string, multi bool) []*stored {
		tg := resource.TargetDict(name, res, multi)
		id := (&krpc.DataTarget{Raw: tg.Bytes()}).ID()
		b2.mu.Lock()
		defer b2.mu.Unlock()
		return b2.store.items[id]
	}
	for _, q := range []struct {
		name, res  string
		multi      bool
		want       string
		local, pub bool
	}{{"bob", resource.Profile, false, "bob's profile", true, true}, {"tag", resource.Hashtag, true, "alice on #tag", false, false},
		{"alice", resource.Status, false, "alice's status", false, false}} {
		sts := held(q.name, q.res, q.multi)
		if len(sts) != 1 || !bytes.Contains(sts[0].vRaw, []byte(q.want)) || sts[0].local != q.local || sts[0].published != q.pub {
			t.Errorf("%s/%s after the restart: %d items", q.name, q.res, len(sts))
		}
	}
	if len(held("bob", resource.Post(1), false)) != 0 {
		t.Errorf("the expired post is still held")
	}
	// Served to others again: a now answers from b2.
	if err := b2.Bootstrap(ctxT(t, 5*time.Second), ls.Nodes...); err != nil {
		t.Fatal(err)
	}
	items, err := a.Get(ctxT(t, 5*time.Second), "bob", resource.Profile, false, GetOptions{NetworkOnly: true})
	if err != nil || len(items) != 1 || items[0].Seq != 3 {
		t.Errorf("bob's profile from the restarted node: %+v %v", items, err)
	}
	// A put of an older profile is still refused: the seq came back too.
	err = b2.Put(ctxT(t, 5*time.Second), ks["bob"], "bob", "bob", resource.Profile, false, bencode.NewString("older"), 2, 8000)
	if err == nil {
		t.Error("a profile with a lower seq replaced the restored one")
	}
	if _, err := b2.LoadState(bytes.NewReader(buf.Bytes())); err == nil {
		t.Error("LoadState after Start accepted")
	}
}

// FuzzLoadState: a damaged state file gives an error or a partial load,
// never a panic.
func FuzzLoadState(f *testing.F) {
	ks, ch := users(f, "alice")
	d := startNode(f, listenUDP(f, "127.0.2.8"), ch, nil)
	if err := d.Put(context.Background(), ks["alice"], "alice", "alice", resource.Profile, false, bencode.NewString("p"), 1, 99); err != nil && !errors.Is(err, ErrQueued) {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.SaveState(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("d7:versioni1ee"))
	f.Add([]byte("d5:itemsld1:p3:abcee7:versioni1ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := New(Config{Conn: nopConn{}, Chain: ch})
		if err != nil {
			t.Fatal(err)
		}
		n.LoadState(bytes.NewReader(b))
	})
}

// nopConn is a PacketConn that is never read (the fuzzed node never starts).
type nopConn struct{}

func (nopConn) ReadFrom([]byte) (int, net.Addr, error)    { return 0, nil, net.ErrClosed }
func (nopConn) WriteTo(p []byte, _ net.Addr) (int, error) { return len(p), nil }
func (nopConn) LocalAddr() net.Addr                       { return &net.UDPAddr{IP: net.IPv4(127, 0, 2, 9), Port: 1} }
func (nopConn) Close() error                              { return nil }
func (nopConn) SetReadDeadline(time.Time) error           { return nil }
