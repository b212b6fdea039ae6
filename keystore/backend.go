package keystore

import (
	"context"
	"sort"
	"sync"
)

// Backend is where a Store keeps its records: a flat map from string keys
// to byte values. Implementations: MemBackend (tests, ephemeral use),
// DirBackend (a directory of files, native builds) and IDBBackend (the
// browser's IndexedDB, js/wasm builds).
//
// Contract: Put is atomic per key (a later Get sees the old value or the
// new one, never a mix or a truncation) and durable when it returns; Get
// returns ok=false and no error for a missing key; Delete of a missing key
// is not an error; Keys lists every key present, in any order. Values
// returned by Get belong to the caller.
type Backend interface {
	Get(ctx context.Context, key string) (val []byte, ok bool, err error)
	Put(ctx context.Context, key string, val []byte) error
	Delete(ctx context.Context, key string) error
	Keys(ctx context.Context) ([]string, error)
}

// MemBackend is a Backend in memory (gone when the process ends). It
// copies values in and out. The zero value is not ready: use
// NewMemBackend.
type MemBackend struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemBackend returns an empty in-memory backend.
func NewMemBackend() *MemBackend { return &MemBackend{m: map[string][]byte{}} }

// Get implements Backend.
func (b *MemBackend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[key]
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), v...), true, nil
}

// Put implements Backend.
func (b *MemBackend) Put(ctx context.Context, key string, val []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = append([]byte(nil), val...)
	return nil
}

// Delete implements Backend.
func (b *MemBackend) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
	return nil
}

// Keys implements Backend; the keys come sorted.
func (b *MemBackend) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.m))
	for k := range b.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
