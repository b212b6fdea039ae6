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
