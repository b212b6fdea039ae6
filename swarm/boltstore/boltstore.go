// Package boltstore is the native node's swarm.PostStore: every post held,
// keyed by (user, k), in one bbolt file. Each Put is one bbolt transaction
// committed with fsync, so a post acknowledged by the swarm survives a
// crash or power loss.
package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/swarm"
)

var postsBucket = []byte("posts")

// Store is a swarm.PostStore backed by bbolt. Layout: bucket "posts" →
// one sub-bucket per user name → key = k as 8-byte big-endian → post bytes.
type Store struct {
	db *bolt.DB
}

var _ swarm.PostStore = (*Store)(nil)

// Open opens (creating if needed) the store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(postsBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

func key(k int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(k)) }

var errEmptyUser = errors.New("boltstore: empty user name")

// Put implements swarm.PostStore; the post is fsynced when it returns.
func (s *Store) Put(user string, k int64, data []byte) error {
	if k < 0 {
		return swarm.ErrBadPostNumber
	}
	if user == "" {
		return errEmptyUser
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(postsBucket).CreateBucketIfNotExists([]byte(user))
		if err != nil {
			return err
		}
		return b.Put(key(k), data)
	})
}

func (s *Store) view(user string, fn func(b *bolt.Bucket) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if user == "" {
			return nil
		}
		b := tx.Bucket(postsBucket).Bucket([]byte(user))
		if b == nil {
			return nil
		}
		return fn(b)
	})
}

// Get implements swarm.PostStore.
func (s *Store) Get(user string, k int64) (data []byte, ok bool, err error) {
	if k < 0 {
		return nil, false, nil
	}
	err = s.view(user, func(b *bolt.Bucket) error {
		if v := b.Get(key(k)); v != nil {
			data, ok = append([]byte{}, v...), true
		}
		return nil
	})
	return data, ok, err
}

// Has implements swarm.PostStore.
func (s *Store) Has(user string, k int64) (ok bool, err error) {
	if k < 0 {
		return false, nil
	}
	err = s.view(user, func(b *bolt.Bucket) error {
		ok = b.Get(key(k)) != nil
		return nil
	})
	return ok, err
}

// LastK implements swarm.PostStore.
func (s *Store) LastK(user string) (last int64, err error) {
	last = -1
	err = s.view(user, func(b *bolt.Bucket) error {
		if k, _ := b.Cursor().Last(); len(k) == 8 {
			last = int64(binary.BigEndian.Uint64(k))
		}
		return nil
	})
	return last, err
}

// List implements swarm.PostStore.
func (s *Store) List(user string) (ks []int64, err error) {
	ks = []int64{}
	err = s.view(user, func(b *bolt.Bucket) error {
		return b.ForEach(func(k, _ []byte) error {
			if len(k) == 8 {
				ks = append(ks, int64(binary.BigEndian.Uint64(k)))
			}
			return nil
		})
	})
	return ks, err
}

// Users lists the users of whom the store holds posts, sorted.
func (s *Store) Users() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(postsBucket).ForEachBucket(func(name []byte) error {
			out = append(out, string(name))
			return nil
		})
	})
	return out, err
}
