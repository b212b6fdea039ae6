//go:build js && wasm

package keystore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall/js"
	"testing"

	"github.com/hack-pad/go-indexeddb/idb"
)

type namedBackend struct {
	name string
	open func(t *testing.T) Backend
}

var idbSeq atomic.Int64

// openTestIDB opens a fresh IndexedDB database, deleted after the test.
func openTestIDB(t *testing.T) *IDBBackend {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("keystore-test-%d", idbSeq.Add(1))
	b, err := OpenIDB(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if err := DeleteIDB(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return b
}

func testBackends() []namedBackend {
	return []namedBackend{
		{"mem", func(*testing.T) Backend { return NewMemBackend() }},
		{"idb", func(t *testing.T) Backend { return openTestIDB(t) }},
	}
}

func TestIDBPersistsAcrossConnections(t *testing.T) {
	ctx := context.Background()
	name := fmt.Sprintf("keystore-persist-%d", idbSeq.Add(1))
	b1, err := OpenIDB(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	s1 := openStore(t, b1)
	if err := s1.Import(ctx, "gotest", testKey().wif, "pw"); err != nil {
		t.Fatal(err)
	}
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err := OpenIDB(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		b2.Close()
		DeleteIDB(ctx, name)
	}()
	s2 := openStore(t, b2)
	if got, err := s2.Export(ctx, "gotest", "pw"); err != nil || got != testKey().wif {
		t.Errorf("after reopening: %q, %v", got, err)
	}
}

func TestIDBForeignValueIsCorrupt(t *testing.T) {
	// A value that is not a Uint8Array (written by other code) is the
	// account's corruption, not a crash, and other accounts still work.
	ctx := context.Background()
	b := openTestIDB(t)
	s := openStore(t, b)
	if _, err := s.Create(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	txn, err := b.db.Transaction(idb.TransactionReadWrite, idbObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	os, err := txn.ObjectStore(idbObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.PutKey(js.ValueOf(recordKey("bob")), js.ValueOf("a string, not bytes")); err != nil {
		t.Fatal(err)
	}
	if err := txn.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlock(ctx, "bob", "pw"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Unlock(bob) = %v, want ErrCorrupt", err)
	}
	if _, err := s.Create(ctx, "bob", "pw"); err == nil {
		t.Error("Create overwrote the foreign value")
	}
	infos, err := s.Accounts(ctx)
	if err != nil || len(infos) != 2 || infos[0].Err != nil || !errors.Is(infos[1].Err, ErrCorrupt) {
		t.Errorf("Accounts = %+v, %v", infos, err)
	}
	if _, err := s.Unlock(ctx, "alice", "pw"); err != nil {
		t.Errorf("Unlock(alice): %v", err)
	}
	if err := s.Delete(ctx, "bob"); err != nil {
		t.Errorf("Delete(bob): %v", err)
	}
}
