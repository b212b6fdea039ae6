//go:build js && wasm

package webnode

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/storetest"
)

var dbSeq atomic.Int32

func openTestIDB(t *testing.T) *IDBStore {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := fmt.Sprintf("webnode-test-%d", dbSeq.Add(1))
	s, err := OpenIDBStore(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		DeleteIDB(context.Background(), name)
	})
	return s
}

// The IndexedDB store passes the swarm store suite and the KV checks
// (under Node with fake-indexeddb, or in a browser).
func TestIDBStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) swarm.PostStore { return openTestIDB(t) })
	testKV(t, openTestIDB(t))
}

// Data survives closing and reopening the database.
func TestIDBStoreReopen(t *testing.T) {
	ctx := context.Background()
	s, err := OpenIDBStore(ctx, "webnode-reopen")
	if err != nil {
		t.Fatal(err)
	}
	defer DeleteIDB(ctx, "webnode-reopen")
	if err := s.Put("alice", 3, []byte("post three")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKV("follows", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenIDBStore(ctx, "webnode-reopen")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, ok, err := s.Get("alice", 3); !ok || err != nil || string(d) != "post three" {
		t.Fatalf("after reopen: %q %v %v", d, ok, err)
	}
	if v, ok, _ := s.GetKV("follows"); !ok || string(v) != "x" {
		t.Fatalf("kv after reopen: %q", v)
	}
	if err := s.Put("alice", 10, []byte("ten")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("alicia", 1, []byte("other user")); err != nil {
		t.Fatal(err)
	}
	all, err := s.Posts("alice")
	if err != nil || len(all) != 2 || string(all[3]) != "post three" || string(all[10]) != "ten" {
		t.Fatalf("Posts(alice) = %v, %v", all, err)
	}
}
