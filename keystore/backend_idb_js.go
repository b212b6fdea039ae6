//go:build js && wasm

package keystore

import (
	"context"
	"fmt"
	"syscall/js"

	"github.com/hack-pad/go-indexeddb/idb"
)

// IndexedDB layout of an IDBBackend: one object store of string keys and
// Uint8Array values.
const (
	idbObjectStore = "keystore"
	idbVersion     = 1
)

// IDBBackend is a Backend in the browser's IndexedDB (js/wasm builds
// only): one object store, "keystore", in a database of the caller's
// choosing, string keys, Uint8Array values. Each Put and Delete awaits
// its transaction's completion, so it is durable when it returns; a single
// put is atomic. Calls block the calling goroutine on IndexedDB events:
// never call them from inside a js.FuncOf callback.
type IDBBackend struct {
	db *idb.Database
}

// OpenIDB opens (creating or upgrading) the IndexedDB database name. It
// fails with a clear error where there is no IndexedDB (Node without a
// polyfill, some private browsing modes).
func OpenIDB(ctx context.Context, name string) (b *IDBBackend, err error) {
	defer func() {
		// idb.Global panics when the global indexedDB is missing.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("keystore: IndexedDB is not available: %v", r)
		}
	}()
	req, err := idb.Global().Open(ctx, name, idbVersion, func(db *idb.Database, oldVersion, newVersion uint) error {
		if oldVersion < 1 {
			if _, err := db.CreateObjectStore(idbObjectStore, idb.ObjectStoreOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: opening IndexedDB %q: %w", name, err)
	}
	db, err := req.Await(ctx)
	if err != nil {
		return nil, fmt.Errorf("keystore: opening IndexedDB %q: %w", name, err)
	}
	return &IDBBackend{db: db}, nil
}

// DeleteIDB deletes the IndexedDB database name; close its backends first.
func DeleteIDB(ctx context.Context, name string) error {
	req, err := idb.Global().DeleteDatabase(name)
	if err != nil {
		return err
	}
	return req.Await(ctx)
}

// Close closes the database connection.
func (b *IDBBackend) Close() error { return b.db.Close() }

func (b *IDBBackend) objectStore(mode idb.TransactionMode) (*idb.Transaction, *idb.ObjectStore, error) {
	txn, err := b.db.Transaction(mode, idbObjectStore)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: IndexedDB transaction: %w", err)
	}
	os, err := txn.ObjectStore(idbObjectStore)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: IndexedDB object store: %w", err)
	}
	return txn, os, nil
}

func bytesToJS(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// Get implements Backend. A value that is not a Uint8Array (written by
// something else) is reported as ErrCorrupt.
func (b *IDBBackend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	_, os, err := b.objectStore(idb.TransactionReadOnly)
	if err != nil {
		return nil, false, err
	}
	req, err := os.Get(js.ValueOf(key))
	if err != nil {
		return nil, false, fmt.Errorf("keystore: IndexedDB get: %w", err)
	}
	v, err := req.Await(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("keystore: IndexedDB get: %w", err)
	}
	if v.IsUndefined() {
		return nil, false, nil
	}
	if !v.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, true, corrupt("IndexedDB value of %q is a %s, not a Uint8Array", key, v.Type())
	}
	out := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(out, v)
	return out, true, nil
}

// Put implements Backend.
func (b *IDBBackend) Put(ctx context.Context, key string, val []byte) error {
	txn, os, err := b.objectStore(idb.TransactionReadWrite)
	if err != nil {
		return err
	}
	if _, err := os.PutKey(js.ValueOf(key), bytesToJS(val)); err != nil {
		return fmt.Errorf("keystore: IndexedDB put: %w", err)
	}
	if err := txn.Await(ctx); err != nil {
		return fmt.Errorf("keystore: IndexedDB put: %w", err)
	}
	return nil
}

// Delete implements Backend.
func (b *IDBBackend) Delete(ctx context.Context, key string) error {
	txn, os, err := b.objectStore(idb.TransactionReadWrite)
	if err != nil {
		return err
	}
	if _, err := os.Delete(js.ValueOf(key)); err != nil {
		return fmt.Errorf("keystore: IndexedDB delete: %w", err)
	}
	if err := txn.Await(ctx); err != nil {
		return fmt.Errorf("keystore: IndexedDB delete: %w", err)
	}
	return nil
}

// Keys implements Backend; keys that are not strings are skipped.
func (b *IDBBackend) Keys(ctx context.Context) ([]string, error) {
	_, os, err := b.objectStore(idb.TransactionReadOnly)
	if err != nil {
		return nil, err
	}
	req, err := os.GetAllKeys()
	if err != nil {
		return nil, fmt.Errorf("keystore: IndexedDB keys: %w", err)
	}
	vals, err := req.Await(ctx)
	if err != nil {
		return nil, fmt.Errorf("keystore: IndexedDB keys: %w", err)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v.Type() == js.TypeString {
			out = append(out, v.String())
		}
	}
	return out, nil
}

var _ Backend = (*IDBBackend)(nil)
