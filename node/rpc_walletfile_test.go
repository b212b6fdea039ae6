package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWalletDumpAndBackup: dumpwallet writes twisterd's format, which
// importwallet on another node reads back (same keys, same names, group
// keys too); backupwallet copies the wallet file; relative paths, a
// locked wallet and lines without a username are refused.
func TestWalletDumpAndBackup(t *testing.T) {
	a := startNode(t, "127.0.7.10")
	registerUsers(t, a, "dumped")
	alias := decode[string](t, a.must("creategroup", "dump group"))
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.txt")
	a.must("dumpwallet", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := decode[string](t, a.must("dumpprivkey", "dumped"))
	if !strings.Contains(string(b), secret+" ") || !strings.Contains(string(b), " username=dumped # addr=1") || !strings.HasSuffix(string(b), "# End of dump\n") {
		t.Fatalf("dump:\n%s", b)
	}

	c := startNode(t, "127.0.7.11")
	c.must("importwallet", path)
	if got := decode[string](t, c.must("dumpprivkey", "dumped")); got != secret {
		t.Errorf("imported secret %q, want %q", got, secret)
	}
	if !c.Wallet.Has(alias) {
		t.Errorf("group key %s not imported", alias)
	}
	c.must("importwallet", path) // again: keys already present are skipped

	os.WriteFile(path, []byte(secret+" 2020-01-01T00:00:00Z noname=1\n"), 0o600)
	c.mustErr(-4, "importwallet", path)
	c.mustErr(-8, "importwallet", "relative.txt")
	c.mustErr(-8, "dumpwallet", "relative.txt")
	c.mustErr(-8, "importwallet", filepath.Join(dir, "missing.txt"))

	a.must("backupwallet", dir)
	if _, err := os.Stat(filepath.Join(dir, "wallet.json")); err != nil {
		entries, _ := os.ReadDir(dir)
		t.Errorf("backupwallet into a directory: %v (%v)", err, entries)
	}
	a.mustErr(-8, "backupwallet", "relative")

	a.must("encryptwallet", "a passphrase")
	a.mustErr(-13, "dumpwallet", filepath.Join(dir, "locked.txt"))
}

// TestDumpStringEscapes: names round-trip through twisterd's escaping.
func TestDumpStringEscapes(t *testing.T) {
	for _, s := range []string{"plain", "with space", "100%", "ünï", "%zz", "end%4"} {
		if got := decodeDumpString(encodeDumpString(s)); got != s {
			t.Errorf("%q → %q → %q", s, encodeDumpString(s), got)
		}
	}
	if got := decodeDumpString("a%20b%zz"); got != "a b%zz" {
		t.Errorf("decode %q", got)
	}
}

// TestWalletTxListings: twisterd's wallet never holds a transaction, so
// its listings are empty and no txid is found; parameters are checked the
// same way.
func TestWalletTxListings(t *testing.T) {
	n := startNode(t, "127.0.7.15")
	mineBlocks(t, n, 3)
	if got := string(n.must("listtransactions")); got != "[]" {
		t.Errorf("listtransactions %s", got)
	}
	n.must("listtransactions", "*", 5, 1)
	n.mustErr(-8, "listtransactions", "*", -1)
	n.mustErr(-8, "listtransactions", "*", 1, -1)
	best := decode[string](t, n.must("getbestblockhash"))
	since := decode[map[string]any](t, n.must("listsinceblock"))
	if since["lastblock"] != best || len(since["transactions"].([]any)) != 0 {
		t.Errorf("listsinceblock %v, best %s", since, best)
	}
	h2 := decode[string](t, n.must("getblockhash", 2))
	if got := decode[map[string]any](t, n.must("listsinceblock", best, 2))["lastblock"]; got != h2 {
		t.Errorf("listsinceblock with 2 confirmations: lastblock %v, want %s", got, h2)
	}
	if got := decode[map[string]any](t, n.must("listsinceblock", "", 99))["lastblock"]; got != strings.Repeat("0", 64) {
		t.Errorf("listsinceblock beyond genesis: %v", got)
	}
	n.mustErr(-8, "listsinceblock", "", 0)
	n.mustErr(-5, "gettransaction", best)
}
