//go:build js && wasm

package webnode

import (
	"context"
	"fmt"
	"math"
	"syscall/js"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"

	"github.com/gotwister/twister/swarm"
)

// IndexedDB object stores of an IDBStore.
const (
	idbPosts   = "posts" // key [user, k] → Uint8Array post
	idbKV      = "kv"    // key string → Uint8Array
	idbVersion = 1
)

// IDBStore is a Store in the browser's IndexedDB (js/wasm only): posts
// under the key [user, k] in one object store, the key-value part in
// another. Every write awaits its transaction's completion, so it is
// durable when it returns. Calls block the calling goroutine on IndexedDB
// events: never call it from inside a js.FuncOf callback.
type IDBStore struct {
	db      *idb.Database
	timeout time.Duration
}

// OpenIDBStore opens (creating or upgrading) the IndexedDB database name.
func OpenIDBStore(ctx context.Context, name string) (*IDBStore, error) {
	req, err := idb.Global().Open(ctx, name, idbVersion, func(db *idb.Database, oldVersion, newVersion uint) error {
		if oldVersion < 1 {
			if _, err := db.CreateObjectStore(idbPosts, idb.ObjectStoreOptions{}); err != nil {
				return err
			}
			if _, err := db.CreateObjectStore(idbKV, idb.ObjectStoreOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webnode: opening IndexedDB %q: %w", name, err)
	}
	db, err := req.Await(ctx)
	if err != nil {
		return nil, fmt.Errorf("webnode: opening IndexedDB %q: %w", name, err)
	}
	return &IDBStore{db: db, timeout: 30 * time.Second}, nil
}

// DeleteIDB deletes the IndexedDB database name (close its stores first).
func DeleteIDB(ctx context.Context, name string) error {
	req, err := idb.Global().DeleteDatabase(name)
	if err != nil {
		return err
	}
	return req.Await(ctx)
}

// Close closes the database.
func (s *IDBStore) Close() error { return s.db.Close() }

func (s *IDBStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

func postKey(user string, k int64) js.Value { return js.ValueOf([]any{user, float64(k)}) }

func toJS(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func fromJS(v js.Value) ([]byte, bool) {
	if v.IsUndefined() || v.IsNull() {
		return nil, false
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, true
}

func (s *IDBStore) put(store string, key js.Value, val []byte) error {
	ctx, cancel := s.ctx()
	defer cancel()
	txn, err := s.db.Transaction(idb.TransactionReadWrite, store)
	if err != nil {
		return err
	}
	os, err := txn.ObjectStore(store)
	if err != nil {
		return err
	}
	if _, err := os.PutKey(key, toJS(val)); err != nil {
		return err
	}
	return txn.Await(ctx)
}

func (s *IDBStore) get(store string, key js.Value) ([]byte, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	txn, err := s.db.Transaction(idb.TransactionReadOnly, store)
	if err != nil {
		return nil, false, err
	}
	os, err := txn.ObjectStore(store)
	if err != nil {
		return nil, false, err
	}
	req, err := os.Get(key)
	if err != nil {
		return nil, false, err
	}
	v, err := req.Await(ctx)
	if err != nil {
		return nil, false, err
	}
	b, ok := fromJS(v)
	return b, ok, nil
}

// Put implements swarm.PostStore.
func (s *IDBStore) Put(user string, k int64, data []byte) error {
	if k < 0 {
		return swarm.ErrBadPostNumber
	}
	if err := s.put(idbPosts, postKey(user, k), data); err != nil {
		return fmt.Errorf("webnode: IndexedDB put %s: %w", PostID(user, k), err)
	}
	return nil
}

// Get implements swarm.PostStore.
func (s *IDBStore) Get(user string, k int64) ([]byte, bool, error) {
	if k < 0 {
		return nil, false, nil
	}
	return s.get(idbPosts, postKey(user, k))
}

// Has implements swarm.PostStore.
func (s *IDBStore) Has(user string, k int64) (bool, error) {
	if k < 0 {
		return false, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	txn, err := s.db.Transaction(idb.TransactionReadOnly, idbPosts)
	if err != nil {
		return false, err
	}
	os, err := txn.ObjectStore(idbPosts)
	if err != nil {
		return false, err
	}
	req, err := os.CountKey(postKey(user, k))
	if err != nil {
		return false, err
	}
	n, err := req.Await(ctx)
	return n > 0, err
}

// List implements swarm.PostStore.
func (s *IDBStore) List(user string) ([]int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	txn, err := s.db.Transaction(idb.TransactionReadOnly, idbPosts)
	if err != nil {
		return nil, err
	}
	os, err := txn.ObjectStore(idbPosts)
	if err != nil {
		return nil, err
	}
	kr, err := idb.NewKeyRangeBound(postKey(user, 0), js.ValueOf([]any{user, math.Inf(1)}), false, false)
	if err != nil {
		return nil, err
	}
	req, err := os.GetAllKeysRange(kr, 0)
	if err != nil {
		return nil, err
	}
	keys, err := req.Await(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(keys))
	for _, key := range keys {
		out = append(out, int64(key.Index(1).Float()))
	}
	return out, nil
}

// LastK implements swarm.PostStore.
func (s *IDBStore) LastK(user string) (int64, error) {
	ks, err := s.List(user)
	if err != nil || len(ks) == 0 {
		return -1, err
	}
	return ks[len(ks)-1], nil
}

// GetKV implements Store.
func (s *IDBStore) GetKV(key string) ([]byte, bool, error) {
	return s.get(idbKV, js.ValueOf(key))
}

// PutKV implements Store.
func (s *IDBStore) PutKV(key string, val []byte) error {
	return s.put(idbKV, js.ValueOf(key), val)
}

// DeleteKV implements Store.
func (s *IDBStore) DeleteKV(key string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	txn, err := s.db.Transaction(idb.TransactionReadWrite, idbKV)
	if err != nil {
		return err
	}
	os, err := txn.ObjectStore(idbKV)
	if err != nil {
		return err
	}
	if _, err := os.Delete(js.ValueOf(key)); err != nil {
		return err
	}
	return txn.Await(ctx)
}

// Posts returns every post held for user in one cursor pass (the node
// reads a user's posts this way at start, instead of one Get each).
func (s *IDBStore) Posts(user string) (map[int64][]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	txn, err := s.db.Transaction(idb.TransactionReadOnly, idbPosts)
	if err != nil {
		return nil, err
	}
	os, err := txn.ObjectStore(idbPosts)
	if err != nil {
		return nil, err
	}
	kr, err := idb.NewKeyRangeBound(postKey(user, 0), js.ValueOf([]any{user, math.Inf(1)}), false, false)
	if err != nil {
		return nil, err
	}
	req, err := os.OpenCursorRange(kr, idb.CursorNext)
	if err != nil {
		return nil, err
	}
	out := map[int64][]byte{}
	err = req.Iter(ctx, func(c *idb.CursorWithValue) error {
		key, err := c.Key()
		if err != nil {
			return err
		}
		v, err := c.Value()
		if err != nil {
			return err
		}
		if b, ok := fromJS(v); ok {
			out[int64(key.Index(1).Float())] = b
		}
		return nil
	})
	return out, err
}
