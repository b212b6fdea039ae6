//go:build js && wasm

package webnode

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// The follow list with its private flags and the publication state of a
// user's following list (with the seq of the last list merged from the
// DHT) survive closing and reopening the IndexedDB
// database, as the node stores and reads them.
func TestFollowsInIDB(t *testing.T) {
	ctx := context.Background()
	const name = "webnode-follows"
	s, err := OpenIDBStore(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer DeleteIDB(ctx, name)
	if err := s.PutKV(kvFollows, encodeFollows([]string{"bob", "carol", "dave"}, map[string]bool{"dave": true})); err != nil {
		t.Fatal(err)
	}
	pub, _ := json.Marshal(&followPub{Seq: 1795334009, Pages: 2, Names: []string{"bob", "carol"}, Done: true, Merged: 1795334100})
	if err := s.PutKV(followPubKey("alice"), pub); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenIDBStore(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, ok, err := s.GetKV(kvFollows)
	if err != nil || !ok {
		t.Fatalf("follows after reopen: %v %v", ok, err)
	}
	users, private, err := decodeFollows(b)
	if err != nil || !slices.Equal(users, []string{"bob", "carol", "dave"}) || !maps.Equal(private, map[string]bool{"dave": true}) {
		t.Fatalf("follows after reopen: %v %v %v", users, private, err)
	}
	b, ok, err = s.GetKV(followPubKey("alice"))
	var p followPub
	if err != nil || !ok || json.Unmarshal(b, &p) != nil || p.Seq != 1795334009 || p.Pages != 2 || !p.Done || p.Merged != 1795334100 || p.seen() != 1795334100 || !slices.Equal(p.Names, []string{"bob", "carol"}) {
		t.Fatalf("publication state after reopen: %s %v %v", b, ok, err)
	}
}

// The migration of the device's follow set to the first user logging in,
// over IndexedDB.
func TestFollowsMigrationIDB(t *testing.T) {
	ctx := context.Background()
	const name = "webnode-follows-migration"
	s, err := OpenIDBStore(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer DeleteIDB(ctx, name)
	defer s.Close()
	testFollowsMigration(t, s)
}
