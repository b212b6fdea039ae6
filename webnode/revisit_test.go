//go:build !js

package webnode

import (
	"fmt"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
)

// A returning visitor starts from its store: the headers (without their
// scrypt checked again), the verified proofs and the held posts; with no
// bridge reachable it still has its tip, the keys it knew and its
// timeline, and it can log in.
func TestReturningVisitor(t *testing.T) {
	tn := newTestnet(t, "alice", "webby")
	tn.Mine(300)
	alice := tn.NewNative(2, 1, true)
	for k := range int64(3) {
		if err := alice.AddPost("alice", k, tn.MakePost("alice", k, fmt.Sprint("post ", k))); err != nil {
			t.Fatal(err)
		}
	}
	st := NewMemStore()
	n, _ := tn.newWebnode(nil, func(c *Config) { c.Store = st })
	ctx := ctxT(t, 30*time.Second)
	if err := n.Follow(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := n.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "alice's posts", func() bool { tl, _ := n.Timeline(TimelineOptions{}); return len(tl) == 3 })
	tip := n.Height()
	if tip != tn.Chain.Height() {
		t.Fatalf("tip %d, chain %d", tip, tn.Chain.Height())
	}
	n.Close()

	// Offline: nothing listens at the bridge's address.
	start := time.Now()
	m, err := New(Config{Bridges: []string{"ws://127.0.0.1:9/ws"}, Store: st, Params: consensus.Regtest,
		SwarmLimits: testSwarmLimits, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("offline restart with %d stored headers: %v", tip, time.Since(start))
	if m.Height() != tip {
		t.Fatalf("offline restart at height %d, was %d", m.Height(), tip)
	}
	tl, err := m.Timeline(TimelineOptions{})
	if err != nil || len(tl) != 3 || tl[0].User != "alice" {
		t.Fatalf("offline timeline: %v %v", tl, err)
	}
	if err := m.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
		t.Fatalf("offline login from the stored proof: %v", err)
	}
	if err := m.LoginSecret(ctx, "webby", userKey("alice").Secret()); err == nil {
		t.Fatal("offline login with a wrong key")
	}
}
