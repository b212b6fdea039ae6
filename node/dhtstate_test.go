package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDHTStateAcrossRestart: an item put while the node knows no other
// node (queued) is still held, and still queued for publication, after a
// stop and a start; a damaged state file is set aside.
func TestDHTStateAcrossRestart(t *testing.T) {
	const addr = "127.0.7.4"
	dir := t.TempDir()
	port, rpcPort := freePort(t, addr), freePort(t, addr)
	fixed := []string{fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort)}
	n := startNodeIn(t, dir, addr, fixed...)
	registerUsers(t, n, "keeper")
	n.must("dhtput", "keeper", "profile", "s", map[string]any{"fullname": "Keeper"}, "keeper", 1)
	id := n.net.DHT.ID()
	n.Close()
	if _, err := os.Stat(filepath.Join(dir, "regtest", dhtStateFile)); err != nil {
		t.Fatalf("no state file after stop: %v", err)
	}

	n = startNodeIn(t, dir, addr, fixed...)
	got := decode[[]map[string]any](t, n.must("dhtget", "keeper", "profile", "s"))
	if len(got) != 1 || got[0]["p"].(map[string]any)["v"].(map[string]any)["fullname"] != "Keeper" {
		t.Fatalf("profile after restart: %v", got)
	}
	if n.net.DHT.ID() != id {
		t.Error("node id changed across the restart")
	}
	if q := n.net.DHT.Stats().Queued; q != 1 {
		t.Errorf("%d items queued for publication after the restart, want 1", q)
	}
	n.Close()

	os.WriteFile(filepath.Join(dir, "regtest", dhtStateFile), []byte("garbage"), 0o600)
	n = startNodeIn(t, dir, addr, fixed...)
	if _, err := os.Stat(filepath.Join(dir, "regtest", dhtStateFile+".bad")); err != nil {
		t.Errorf("the damaged state was not set aside: %v", err)
	}
	n.Close()
}

// TestBootstrapRetriedSoon: a node whose DHT bootstrap node is not up yet
// (nodes started together) joins it within seconds of it coming up, not
// at the DHT's own retry a maintenance tick or a minute later.
func TestBootstrapRetriedSoon(t *testing.T) {
	const aAddr, bAddr = "127.0.7.13", "127.0.7.14"
	port, rpcPort := freePort(t, aAddr), freePort(t, aAddr)
	b := startNode(t, bAddr, fmt.Sprintf("-dhtnode=%s:%d", aAddr, port+LibtorrentPortOffset))
	time.Sleep(1200 * time.Millisecond) // b's first bootstrap finds nobody
	startNodeIn(t, t.TempDir(), aAddr, fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort))
	start := time.Now()
	waitFor(t, 10*time.Second, "b's DHT to know a", func() bool { return b.net.DHT.Stats().Nodes > 0 })
	if took := time.Since(start); took > 3500*time.Millisecond {
		t.Errorf("b joined %v after a came up", took)
	}
}
