// Package storetest is the conformance suite every swarm.PostStore
// implementation runs (memory, bbolt, and later the browser's IndexedDB).
package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gotwister/twister/swarm"
)

// Run checks the PostStore contract on a fresh, empty store from open.
func Run(t *testing.T, open func(t *testing.T) swarm.PostStore) {
	t.Run("empty", func(t *testing.T) {
		s := open(t)
		if k, err := s.LastK("alice"); err != nil || k != -1 {
			t.Errorf("LastK of unknown user = %d, %v; want -1", k, err)
		}
		if ks, err := s.List("alice"); err != nil || len(ks) != 0 {
			t.Errorf("List = %v, %v", ks, err)
		}
		if _, ok, err := s.Get("alice", 1); ok || err != nil {
			t.Errorf("Get on empty store: %v %v", ok, err)
		}
		if ok, err := s.Has("alice", 0); ok || err != nil {
			t.Errorf("Has on empty store: %v %v", ok, err)
		}
	})
	t.Run("put-get", func(t *testing.T) {
		s := open(t)
		posts := map[int64][]byte{0: []byte("zero"), 1: []byte("one"), 7: []byte("seven"), 300: []byte("d3:big"), 70000: {0, 1, 2}}
		for k, d := range posts {
			if err := s.Put("alice", k, d); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Put("bob", 5, []byte("bob5")); err != nil {
			t.Fatal(err)
		}
		for k, d := range posts {
			got, ok, err := s.Get("alice", k)
			if err != nil || !ok || !bytes.Equal(got, d) {
				t.Errorf("Get(alice, %d) = %q %v %v", k, got, ok, err)
			}
			if ok, _ := s.Has("alice", k); !ok {
				t.Errorf("Has(alice, %d) = false", k)
			}
		}
		if ok, _ := s.Has("alice", 5); ok {
			t.Error("bob's post visible under alice")
		}
		if k, _ := s.LastK("alice"); k != 70000 {
			t.Errorf("LastK = %d", k)
		}
		if k, _ := s.LastK("bob"); k != 5 {
			t.Errorf("LastK(bob) = %d", k)
		}
		ks, _ := s.List("alice")
		if !slices.Equal(ks, []int64{0, 1, 7, 300, 70000}) {
			t.Errorf("List = %v", ks)
		}
		// Returned slices are copies.
		got, _, _ := s.Get("alice", 1)
		got[0] = 'X'
		if again, _, _ := s.Get("alice", 1); string(again) != "one" {
			t.Errorf("store aliased a returned slice: %q", again)
		}
		if err := s.Put("alice", -1, []byte("x")); err == nil {
			t.Error("negative k accepted")
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 25 {
					if err := s.Put(fmt.Sprintf("u%d", g), int64(k), []byte{byte(k)}); err != nil {
						t.Error(err)
						return
					}
					s.LastK(fmt.Sprintf("u%d", g))
				}
			}()
		}
		wg.Wait()
		for g := range 4 {
			if ks, _ := s.List(fmt.Sprintf("u%d", g)); len(ks) != 25 {
				t.Errorf("u%d holds %d posts", g, len(ks))
			}
		}
	})
}
