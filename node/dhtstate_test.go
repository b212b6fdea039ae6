package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
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
