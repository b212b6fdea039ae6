package webnode

import (
	"slices"
	"sync"

	"github.com/gotwister/twister/swarm"
)

// MemStore is an in-memory Store: posts in a swarm.MemStore and a map for
// the key-value part. Everything is lost when the process ends.
type MemStore struct {
	*swarm.MemStore
	mu sync.RWMutex
	kv map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{MemStore: swarm.NewMemStore(), kv: map[string][]byte{}}
}

// GetKV implements Store.
func (m *MemStore) GetKV(key string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.kv[key]
	return slices.Clone(v), ok, nil
}

// PutKV implements Store.
func (m *MemStore) PutKV(key string, val []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[key] = slices.Clone(val)
	return nil
}

// DeleteKV implements Store.
func (m *MemStore) DeleteKV(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kv, key)
	return nil
}
