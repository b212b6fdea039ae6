package webnode

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
)

// bareNode is a Node with only what the follow sets need: a store.
func bareNode(st Store) *Node {
	return &Node{store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), private: map[string]bool{},
		fs: followState{pub: map[string]*followPub{}, pageSize: followingPageSize}}
}

// useFollows switches n to user's set and returns it.
func useFollows(t *testing.T, n *Node, user string) ([]string, map[string]bool) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.useFollowsLocked(user); err != nil {
		t.Fatalf("follow set of %q: %v", user, err)
	}
	if n.followsOf != user {
		t.Fatalf("current set is %q's after switching to %q", n.followsOf, user)
	}
	return slices.Clone(n.follows), maps.Clone(n.private)
}

// testFollowsMigration: the device's follow set of an earlier version
// (the record "follows") is the guest set until the first login, then
// becomes the set of the user logging in (its private flags kept) and the
// guest set is empty; other users start empty, and the migration is made
// once: guest follows made after it stay the guest's, and a later login
// of a new user does not take them.
func testFollowsMigration(t *testing.T, st Store) {
	if err := st.PutKV(kvFollows, encodeFollows([]string{"bob", "carol"}, map[string]bool{"carol": true})); err != nil {
		t.Fatal(err)
	}
	n := bareNode(st)
	want := func(user string, users []string, private ...string) {
		t.Helper()
		got, priv := useFollows(t, n, user)
		wantPriv := map[string]bool{}
		for _, u := range private {
			wantPriv[u] = true
		}
		if !slices.Equal(got, users) || !maps.Equal(priv, wantPriv) {
			t.Fatalf("%q's set: %v private %v; want %v private %v", user, got, priv, users, wantPriv)
		}
	}
	want("", []string{"bob", "carol"}, "carol") // before any login: the device's set
	want("alice", []string{"bob", "carol"}, "carol")
	if b, ok, err := st.GetKV(kvFollowsMigrated); err != nil || !ok || string(b) != "alice" {
		t.Fatalf("migration record: %q %v %v", b, ok, err)
	}
	if b, ok, _ := st.GetKV(followsKey("alice")); !ok || len(b) == 0 {
		t.Fatal("alice's set not stored under her own key")
	}
	want("", nil)
	want("bob", nil)
	// A follow made as a guest stays the guest's.
	if err := st.PutKV(kvFollows, encodeFollows([]string{"dave"}, nil)); err != nil {
		t.Fatal(err)
	}
	want("erin", nil)
	want("", []string{"dave"})
	want("alice", []string{"bob", "carol"}, "carol")
	// A set of the first version (a bare array, private follows) migrates
	// the same way on a device where nobody logged in since.
	st2 := NewMemStore()
	if err := st2.PutKV(kvFollows, []byte(`["frank","bob"]`)); err != nil {
		t.Fatal(err)
	}
	n = bareNode(st2)
	want("bob", []string{"bob", "frank"}, "bob", "frank")
	want("", nil)
}

func TestFollowsMigration(t *testing.T) { testFollowsMigration(t, NewMemStore()) }

// Each user's set is kept under its own record and read back as saved.
func TestFollowsPerUserRecords(t *testing.T) {
	st := NewMemStore()
	n := bareNode(st)
	useFollows(t, n, "alice") // migrates nothing: no device set
	if err := st.PutKV(followsKey("alice"), encodeFollows([]string{"carol"}, nil)); err != nil {
		t.Fatal(err)
	}
	if err := st.PutKV(followsKey("bob"), encodeFollows([]string{"dave"}, map[string]bool{"dave": true})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user    string
		follows []string
		private bool
	}{{"alice", []string{"carol"}, false}, {"bob", []string{"dave"}, true}, {"", nil, false}, {"alice", []string{"carol"}, false}} {
		got, priv := useFollows(t, n, c.user)
		if !slices.Equal(got, c.follows) || len(priv) > 0 != c.private {
			t.Errorf("%q's set: %v private %v", c.user, got, priv)
		}
	}
	if followsKey("alice") == kvFollows || followsKey("alice") == followPubKey("alice") || followsKey("") != kvFollows {
		t.Errorf("follow set records collide: %q %q %q", followsKey("alice"), followsKey(""), followPubKey("alice"))
	}
}
