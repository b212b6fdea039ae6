package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gotwister/twister/swarm/boltstore"
	"github.com/gotwister/twister/timeline"
)

// postStore lets the swarms keep their posts in the timeline index: one
// bbolt file and one fsynced transaction per post, holding the post's
// bytes with everything indexed from them, so a post is never held but
// missing from timelines, and is kept once.
type postStore struct{ ix *timeline.Index }

func (s postStore) Put(user string, k int64, data []byte) error { return s.ix.StorePost(user, k, data) }

func (s postStore) Get(user string, k int64) ([]byte, bool, error) { return s.ix.RawPost(user, k) }

func (s postStore) Has(user string, k int64) (bool, error) {
	_, ok, err := s.ix.RawPost(user, k)
	return ok, err
}

func (s postStore) LastK(user string) (int64, error) { return s.ix.LastHave([]string{user})[user], nil }

func (s postStore) List(user string) ([]int64, error) { return s.ix.PostNumbers(user) }

// Users returns the users of whom posts are held.
func (s postStore) Users() ([]string, error) { return s.ix.Users(), nil }

// importOldPosts moves the posts of a data directory written by an
// earlier version (a separate posts.db beside the index) into the index,
// then renames posts.db to posts.db.imported.
func (n *Node) importOldPosts(dir string) error {
	path := filepath.Join(dir, "posts.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := boltstore.Open(path)
	if err != nil {
		return fmt.Errorf("cannot open the old post store %s: %w", path, err)
	}
	users, err := old.Users()
	added := 0
	for _, u := range users {
		if err != nil {
			break
		}
		var ks []int64
		if ks, err = old.List(u); err != nil {
			break
		}
		var batch [][]byte
		for _, k := range ks {
			if data, ok, gerr := old.Get(u, k); gerr == nil && ok {
				batch = append(batch, data)
			}
		}
		ps, errs := n.net.Index.AddPosts(batch)
		for i, p := range ps {
			if p != nil {
				added++
			} else if errors.Is(errs[i], timeline.ErrStore) {
				err = errs[i]
			}
		}
	}
	old.Close()
	if err != nil {
		return fmt.Errorf("cannot import the posts of %s: %w", path, err)
	}
	n.log.Info("posts of the old post store imported into the index", "posts", added, "from", path)
	return os.Rename(path, path+".imported")
}
