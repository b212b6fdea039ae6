package wallet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWallet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.json")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := w.Create("alice", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create("alice", false); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := w.Create("bob", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace unknown: %v", err)
	}
	r, err := w.Create("alice", true)
	if err != nil {
		t.Fatal(err)
	}
	w.Create("erin", false)
	if got := strings.Join(w.Users(), ","); got != "erin,alice" {
		t.Fatalf("users %s", got)
	}
	// Reopen: same keys.
	w2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := w2.Key("alice")
	if err != nil || k2.Secret() != k.Secret() {
		t.Fatalf("reopen: %v", err)
	}
	r2, _ := w2.Replacement("alice")
	if r2.Secret() != r.Secret() {
		t.Fatal("replacement lost")
	}

	// Encrypt: no secret left in the file, locked until unlocked.
	if err := w2.Encrypt("correct horse"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), k.Secret()) || strings.Contains(string(raw), r.Secret()) {
		t.Fatal("secret stored in clear after encryptwallet")
	}
	if _, err := w2.Key("alice"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if err := w2.Unlock("wrong", time.Minute); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong pass: %v", err)
	}
	if err := w2.Unlock("correct horse", time.Minute); err != nil {
		t.Fatal(err)
	}
	if k3, err := w2.Key("alice"); err != nil || k3.Secret() != k.Secret() {
		t.Fatalf("unlocked: %v", err)
	}
	// New users are sealed too.
	n, err := w2.Create("carol", false)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(path)
	if strings.Contains(string(raw), n.Secret()) {
		t.Fatal("new secret in clear")
	}
	// Timeout locks again.
	w2.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := w2.Key("alice"); !errors.Is(err, ErrLocked) {
		t.Fatalf("after timeout: %v", err)
	}
	w2.now = time.Now
	if err := w2.ChangePassphrase("correct horse", "battery staple"); err != nil {
		t.Fatal(err)
	}
	w3, _ := Open(path)
	if err := w3.Unlock("correct horse", time.Minute); !errors.Is(err, ErrPassphrase) {
		t.Fatal("old passphrase still works")
	}
	if err := w3.Unlock("battery staple", time.Minute); err != nil {
		t.Fatal(err)
	}
	if k4, err := w3.Key("carol"); err != nil || k4.Secret() != n.Secret() {
		t.Fatalf("carol after change: %v", err)
	}
	if err := w3.PromoteReplacement("alice"); err != nil {
		t.Fatal(err)
	}
	if k5, _ := w3.Key("alice"); k5.Secret() != r.Secret() {
		t.Fatal("promote")
	}
}

func TestCorruptWallet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt: %v", err)
	}
}

func TestGroups(t *testing.T) {
	w, _ := Open(filepath.Join(t.TempDir(), "w.json"))
	w.Create("alice", false)
	gk, _ := w.Create("*abcdefgh", false)
	if err := w.SetGroup("*abcdefgh", nil, "desc", []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	g, ok := w.Group("*abcdefgh")
	if !ok || g.Description != "desc" || len(g.Members) != 1 {
		t.Fatalf("group %+v", g)
	}
	if k, _ := w.Key("*abcdefgh"); k.Secret() != gk.Secret() {
		t.Fatal("group key")
	}
	if strings.Join(w.Users(), ",") != "alice" || strings.Join(w.Groups(), ",") != "*abcdefgh" {
		t.Fatal("listing")
	}
}
