package swarm

import (
	"errors"
	"slices"
	"sync"
)

// PostStore keeps the posts a node holds, keyed by (user, k). Put must be
// durable when it returns: the swarm announces a post to peers and reports
// it with OnPost only after Put succeeded, so nothing acknowledged is lost
// in a crash. Implementations must be safe for concurrent use.
//
// Implementations: MemStore (tests, ephemeral nodes), boltstore.Store
// (native, bbolt), and later an IndexedDB store in the browser node.
type PostStore interface {
	// Put stores post k of user. Storing the same k again replaces it;
	// the swarm never does that for a post it already holds.
	Put(user string, k int64, data []byte) error
	// Get returns post k of user; ok is false if it is not held.
	Get(user string, k int64) (data []byte, ok bool, err error)
	// Has reports whether post k of user is held.
	Has(user string, k int64) (bool, error)
	// LastK returns the highest post number held for user, or −1.
	LastK(user string) (int64, error)
	// List returns the post numbers held for user in ascending order.
	List(user string) ([]int64, error)
}

// ErrBadPostNumber is returned for a negative post number.
var ErrBadPostNumber = errors.New("swarm: negative post number")

// MemStore is an in-memory PostStore. The zero value is not usable; call
// NewMemStore.
type MemStore struct {
	mu    sync.RWMutex
	posts map[string]map[int64][]byte
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore { return &MemStore{posts: map[string]map[int64][]byte{}} }

// Put implements PostStore.
func (m *MemStore) Put(user string, k int64, data []byte) error {
	if k < 0 {
		return ErrBadPostNumber
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.posts[user]
	if u == nil {
		u = map[int64][]byte{}
		m.posts[user] = u
	}
	u[k] = slices.Clone(data)
	return nil
}

// Get implements PostStore.
func (m *MemStore) Get(user string, k int64) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.posts[user][k]
	return slices.Clone(d), ok, nil
}

// Has implements PostStore.
func (m *MemStore) Has(user string, k int64) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.posts[user][k]
	return ok, nil
}

// LastK implements PostStore.
func (m *MemStore) LastK(user string) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	last := int64(-1)
	for k := range m.posts[user] {
		last = max(last, k)
	}
	return last, nil
}

// List implements PostStore.
func (m *MemStore) List(user string) ([]int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ks := make([]int64, 0, len(m.posts[user]))
	for k := range m.posts[user] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks, nil
}
