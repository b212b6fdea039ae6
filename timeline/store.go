package timeline

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/gotwister/twister/post"
	bolt "go.etcd.io/bbolt"
)

// The index is also the node's post store: the exact bytes of every held
// post are in it (bPosts), written in the same transaction as everything
// derived from them, so a post is never held without being indexed. The
// methods here are what a swarm needs from a store (see swarm.PostStore);
// StorePost is durable when it returns unless Options.NoSync is set.

// StorePost adds post k of user, which the caller has validated, as
// AddPost does, after checking that raw is that post.
func (ix *Index) StorePost(user string, k int64, raw []byte) error {
	p, err := checkPost(bytes.Clone(raw))
	if err != nil {
		return err
	}
	if p.User != user || p.K != k {
		return fmt.Errorf("%w: post %s/%d given as %s/%d", ErrInvalidPost, p.User, p.K, user, k)
	}
	held, err := ix.addChecked([]*post.Post{p})
	if err != nil {
		return err
	}
	if !bytes.Equal(held[0].Raw, raw) {
		return fmt.Errorf("%w: another post %s/%d is already held", ErrInvalidPost, user, k)
	}
	return nil
}

// RawPost returns the exact bytes of the held post (user, k).
func (ix *Index) RawPost(user string, k int64) ([]byte, bool, error) {
	if k < 0 {
		return nil, false, nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil, false, ErrClosed
	}
	if st := ix.users[user]; st == nil {
		return nil, false, nil
	} else if st.loaded {
		for _, e := range st.cache {
			if e.k == k {
				return bytes.Clone(e.raw), true, nil
			}
		}
	}
	var raw []byte
	err := ix.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bPosts).Get(postKey(user, k))
		if v == nil {
			return nil
		}
		if len(v) < headerLen {
			return fmt.Errorf("stored post %s/%d: short record", user, k)
		}
		raw = bytes.Clone(v[headerLen:])
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return raw, raw != nil, nil
}

// PostNumbers returns the numbers of the held posts of user, ascending.
func (ix *Index) PostNumbers(user string) ([]int64, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil, ErrClosed
	}
	st := ix.users[user]
	if st == nil {
		return nil, nil
	}
	ks := make([]int64, 0, st.num)
	prefix := userPrefix(user)
	err := ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bPosts).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			ks = append(ks, int64(binary.BigEndian.Uint64(k[len(prefix):])))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	return ks, nil
}
