//go:build !js

package webnode

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/webnode/webnodetest"
)

var testLogger = webnodetest.Logger

func userKey(user string) *keys.PrivateKey { return webnodetest.UserKey(user) }

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type testnet struct{ *webnodetest.Net }

func newTestnet(t testing.TB, users ...string) *testnet {
	return &testnet{webnodetest.New(t, users...)}
}

// testSwarmLimits are quick timers for tests.
var testSwarmLimits = swarm.Limits{ReconnectDelay: 200 * time.Millisecond, TickInterval: 50 * time.Millisecond,
	DiscoverInterval: 300 * time.Millisecond, HandshakeTimeout: 3 * time.Second}

// newWebnode starts a webnode against tn's bridge (or br, if set).
func (tn *testnet) newWebnode(br Bridge, mod func(*Config)) (*Node, *eventLog) {
	t := tn.T
	t.Helper()
	ev := &eventLog{}
	cfg := Config{Bridges: []string{tn.URL}, Bridge: br, Params: consensus.Regtest, SwarmLimits: testSwarmLimits,
		OnEvent: ev.add, Logger: testLogger("webnode"), RequestTimeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	return n, ev
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }

func (l *eventLog) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

var dhtGetOpts = dht.GetOptions{}
