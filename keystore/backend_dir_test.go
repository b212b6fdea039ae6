//go:build !js

package keystore

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

func TestDirBackendFiles(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	b, err := NewDirBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, b)
	if err := s.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassphrase(ctx, "gotest", "pw", "pw2"); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "account%2Fgotest" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %q, want just account%%2Fgotest (no temporary files)", names)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(filepath.Join(dir, ents[0].Name()))
		di, _ := os.Stat(dir)
		if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
			t.Errorf("modes: file %v, dir %v; want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
		}
	}
	// Foreign and temporary files are not keys.
	for _, name := range []string{".tmp-123", "README.txt", "account%2fx", "bad%zz", "x%4"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	ks, err := b.Keys(ctx)
	if err != nil || len(ks) != 1 || ks[0] != "account/gotest" {
		t.Errorf("Keys = %q, %v", ks, err)
	}
	if infos, err := s.Accounts(ctx); err != nil || len(infos) != 1 {
		t.Errorf("Accounts = %+v, %v", infos, err)
	}
}

func TestEscapeKey(t *testing.T) {
	var all strings.Builder
	for c := 0; c < 256; c++ {
		all.WriteByte(byte(c))
	}
	for _, k := range []string{"account/alice", "a", "..", ".", "%", "%41", "A/B\\C:D", all.String()} {
		name := escapeKey(k)
		if strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\:.") {
			t.Errorf("escapeKey(%q) = %q is not a safe file name", k, name)
		}
		back, ok := unescapeKey(name)
		if !ok || back != k {
			t.Errorf("unescapeKey(escapeKey(%q)) = %q, %v", k, back, ok)
		}
	}
	for _, name := range []string{".tmp-1", "%2f", "%", "%4", "%G0", "A"} {
		if k, ok := unescapeKey(name); ok {
			t.Errorf("unescapeKey(%q) = %q, want refusal", name, k)
		}
	}
	names := []string{escapeKey("b"), escapeKey("a/b"), escapeKey("a")}
	sort.Strings(names)
	if names[0] == names[1] || names[1] == names[2] {
		t.Error("distinct keys share a file name")
	}
}
