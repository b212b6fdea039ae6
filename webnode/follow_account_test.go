//go:build !js

package webnode

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Two accounts on one browser node keep their own follow sets: alice
// follows carol publicly and logs out; bob logs in, his following list
// saved elsewhere (erin) is merged into his set only, and he follows
// dave: his set, his following1, his timeline and the swarms hold dave
// and erin, never carol; alice logs in again: her set is carol alone,
// her following1 still lists only carol (and at her next follow change
// carol and frank, nothing of bob's), her timeline shows none of bob's
// follows. A follow made logged out is the guest set's; a node restarted
// after a logout uses the guest set, one restarted after a session that
// did not log out the set of that session's user.
func TestFollowsPerAccount(t *testing.T) {
	tn := newTestnet(t, "alice", "bob", "carol", "dave", "erin", "frank")
	posts := tn.NewNative(2, 1, true)
	for _, u := range []string{"carol", "dave", "erin"} {
		if err := posts.AddPost(u, 0, tn.MakePost(u, 0, u+" writes")); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t, 150*time.Second)
	// bob's list saved on another device.
	o, _ := tn.newWebnode(nil, nil)
	if err := o.LoginSecret(ctx, "bob", userKey("bob").Secret()); err != nil {
		t.Fatal(err)
	}
	waitFollowSync(t, o, "bob")
	if _, err := o.FollowUser(ctx, "erin", true); err != nil {
		t.Fatal(err)
	}
	wantPages(t, tn, "bob", []string{"erin"})
	o.Close()

	store := NewMemStore()
	w, _ := tn.newWebnode(nil, func(c *Config) { c.Store = store })
	wantFollows := func(what string, want ...Follow) {
		t.Helper()
		if got := w.Follows(); !slices.Equal(got, want) {
			t.Fatalf("%s: follows %+v, want %+v", what, got, want)
		}
		var users []string
		for _, f := range want {
			users = append(users, f.User)
		}
		if got := w.Following(); !slices.Equal(got, users) {
			t.Fatalf("%s: following %v, want %v", what, got, users)
		}
		if got := w.Status().Following; !slices.Equal(got, append([]string{}, users...)) {
			t.Fatalf("%s: status following %v, want %v", what, got, users)
		}
	}
	notInSwarms := func(what string, users ...string) {
		t.Helper()
		running := w.Swarm().Following()
		for _, u := range users {
			if slices.Contains(running, u) {
				t.Errorf("%s: the node still runs %s's swarm (%v)", what, u, running)
			}
		}
	}
	timelineOf := func(what string, want ...string) {
		t.Helper()
		waitFor(t, 30*time.Second, what+": timeline of ["+strings.Join(want, " ")+"]", func() bool {
			us, _ := timelineUsers(w)
			return slices.Equal(us, want)
		})
	}

	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	waitFollowSync(t, w, "alice")
	r, err := w.FollowUser(ctx, "carol", true)
	wantResult(t, r, err, "carol", true, true, "alice/following1")
	seqA := wantPages(t, tn, "alice", []string{"carol"})
	timelineOf("alice", "carol")

	w.Logout()
	wantFollows("logged out (guest set)")
	notInSwarms("logged out", "carol")

	if err := w.LoginSecret(ctx, "bob", userKey("bob").Secret()); err != nil {
		t.Fatal(err)
	}
	if fs := waitFollowSync(t, w, "bob"); !fs.Merged || !slices.Equal(fs.Added, []string{"erin"}) {
		t.Errorf("bob's following list at login: %+v", fs)
	}
	wantFollows("bob logged in", Follow{"erin", true})
	r, err = w.FollowUser(ctx, "dave", true)
	wantResult(t, r, err, "dave", true, true, "bob/following1")
	wantFollows("bob followed dave", Follow{"dave", true}, Follow{"erin", true})
	wantPages(t, tn, "bob", []string{"dave", "erin"})
	timelineOf("bob", "dave", "erin")
	notInSwarms("bob logged in", "carol")
	if _, seq, _ := dhtPage(t, tn, "alice", 1); seq != seqA {
		t.Errorf("alice's following1 put again (seq %d → %d) while bob was logged in", seqA, seq)
	}

	w.Logout()
	wantFollows("bob logged out (guest set)")
	notInSwarms("bob logged out", "dave", "erin")
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	wantFollows("alice back", Follow{"carol", true})
	if fs := waitFollowSync(t, w, "alice"); fs.Merged || len(fs.Added) > 0 || fs.Seq != seqA {
		t.Errorf("alice's following list at her second login: %+v (seq %d)", fs, seqA)
	}
	wantFollows("alice back, her list read", Follow{"carol", true})
	if got := wantPages(t, tn, "alice", []string{"carol"}); got != seqA {
		t.Errorf("alice's following1 put again at her login (seq %d → %d)", seqA, got)
	}
	timelineOf("alice back", "carol")
	notInSwarms("alice back", "dave", "erin")
	r, err = w.FollowUser(ctx, "frank", true)
	wantResult(t, r, err, "frank", true, true, "alice/following1")
	wantPages(t, tn, "alice", []string{"carol", "frank"})
	wantPages(t, tn, "bob", []string{"dave", "erin"})

	// A follow made logged out is the guest's, not published.
	w.Logout()
	r, err = w.FollowUser(ctx, "dave", true)
	wantResult(t, r, err, "dave", true, true)
	if !r.Unpublished {
		t.Errorf("a guest follow is not reported unpublished: %+v", r)
	}
	wantFollows("guest follows dave", Follow{"dave", true})
	timelineOf("guest", "dave")
	w.Close()
	w, _ = tn.newWebnode(nil, func(c *Config) { c.Store = store })
	wantFollows("restarted logged out", Follow{"dave", true})
	if err := w.LoginSecret(ctx, "bob", userKey("bob").Secret()); err != nil {
		t.Fatal(err)
	}
	wantFollows("bob after a restart", Follow{"dave", true}, Follow{"erin", true})
	waitFollowSync(t, w, "bob")
	// Restarted with bob logged in last (not logged out): his set, so
	// the timeline reads before he unlocks his key.
	w.Close()
	w, _ = tn.newWebnode(nil, func(c *Config) { c.Store = store })
	wantFollows("restarted after bob's session", Follow{"dave", true}, Follow{"erin", true})
	timelineOf("restarted after bob's session", "dave", "erin")
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	wantFollows("alice after bob's session", Follow{"carol", true}, Follow{"frank", true})
	notInSwarms("alice after bob's session", "dave", "erin")
	waitFollowSync(t, w, "alice")
	wantPages(t, tn, "alice", []string{"carol", "frank"})
	wantPages(t, tn, "bob", []string{"dave", "erin"})
}

// A read of a user's following list that ends after the user logged out
// and another logged in merges nothing into the other's set, and is not
// taken as read: the user's next login merges it.
func TestFollowsMergeAfterSwitch(t *testing.T) {
	tn := newTestnet(t, "alice", "bob", "erin")
	ctx := ctxT(t, 60*time.Second)
	o, _ := tn.newWebnode(nil, nil)
	if err := o.LoginSecret(ctx, "bob", userKey("bob").Secret()); err != nil {
		t.Fatal(err)
	}
	waitFollowSync(t, o, "bob")
	if _, err := o.FollowUser(ctx, "erin", true); err != nil {
		t.Fatal(err)
	}
	wantPages(t, tn, "bob", []string{"erin"})

	g := &gateBridge{Bridge: mustPool(t, tn.URL)}
	w, _ := tn.newWebnode(g, nil)
	g.block()
	if err := w.LoginSecret(ctx, "bob", userKey("bob").Secret()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "bob's following1 read under way", func() bool { return g.waiting.Load() > 0 })
	w.Logout()
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	g.release()
	waitFollowSync(t, w, "alice")
	waitFor(t, 5*time.Second, "the reads to end", func() bool { return g.waiting.Load() == 0 })
	time.Sleep(200 * time.Millisecond) // bob's read, if it merged, would have by now
	if got := w.Follows(); len(got) != 0 {
		t.Fatalf("alice's follows after bob's list was read: %+v", got)
	}
	if slices.Contains(w.Swarm().Following(), "erin") {
		t.Error("erin's swarm joined for alice")
	}
	w.Logout()
	if err := w.LoginSecret(ctx, "bob", userKey("bob").Secret()); err != nil {
		t.Fatal(err)
	}
	if fs := waitFollowSync(t, w, "bob"); !fs.Merged || !slices.Equal(fs.Added, []string{"erin"}) {
		t.Errorf("bob's next login: %+v", fs)
	}
	if got := w.Follows(); !slices.Equal(got, []Follow{{"erin", true}}) {
		t.Errorf("bob's follows: %+v", got)
	}
}
