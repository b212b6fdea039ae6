//go:build !js

package webnode

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
)

func names(vs ...string) bencode.Value {
	l := make([]bencode.Value, len(vs))
	for i, v := range vs {
		l[i] = bencode.NewString(v)
	}
	return bencode.NewList(l...)
}

func ids(vs []*PostView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

// UserFollowing reads another user's following<n> pages and UserPosts
// walks a user's posts back from "status" through lastk, both verified
// from the real DHT; a lying bridge gets ErrUnverified.
func TestUserFollowingAndPosts(t *testing.T) {
	tn := newTestnet(t, "alice", "webby", "bob", "carol", "mallory")
	w, _ := tn.newWebnode(nil, nil)
	ctx := ctxT(t, 90*time.Second)
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	// alice: posts 0 and 1, a DM (2 and its copy 3), a retwist-free post 4.
	for _, msg := range []string{"first", "second"} {
		if r, err := w.Post(ctx, msg); err != nil || len(r.PutErrors) > 0 {
			t.Fatalf("post: %+v %v", r, err)
		}
	}
	if _, err := w.DM(ctx, "bob", "psst"); err != nil {
		t.Fatal(err)
	}
	if r, err := w.Post(ctx, "fifth"); err != nil || r.Post.K != 4 || *r.Post.LastK != 1 {
		t.Fatalf("post 4: %+v %v", r, err)
	}
	s := w.currentSigner()
	for page, v := range map[int]bencode.Value{
		1: names("bob", "carol", "Bad Name", "bob"),
		2: names("webby"),
	} {
		if err := w.putItem(ctx, s, put{name: "alice", res: resource.Following(page), seq: 5}, v); err != nil {
			t.Fatal(err)
		}
	}
	// A page left from an older, longer list (lower seq) ends the list.
	if err := w.putItem(ctx, s, put{name: "alice", res: resource.Following(3), seq: 4}, names("mallory")); err != nil {
		t.Fatal(err)
	}

	r, _ := tn.newWebnode(nil, nil) // follows nobody, not logged in
	got, err := r.UserFollowing(ctx, "alice")
	if err != nil || !slices.Equal(got, []string{"bob", "carol", "webby"}) {
		t.Fatalf("alice's following: %v %v", got, err)
	}
	if got, err := r.UserFollowing(ctx, "bob"); err != nil || len(got) != 0 {
		t.Fatalf("bob's following (none put): %v %v", got, err)
	}
	if _, err := r.UserFollowing(ctx, "Not A Name"); err == nil {
		t.Error("a bad user name was accepted")
	}

	posts, err := r.UserPosts(ctx, UserPostsOptions{User: "alice"})
	if err != nil || !slices.Equal(ids(posts), []string{"alice/4", "alice/1", "alice/0"}) {
		t.Fatalf("alice's posts: %v %v", ids(posts), err)
	}
	for _, p := range posts {
		if !p.Verified || p.User != "alice" || p.Kind != "post" {
			t.Errorf("post %+v", p)
		}
	}
	if posts[0].Text != "fifth" || posts[2].Text != "first" {
		t.Errorf("texts %q %q", posts[0].Text, posts[2].Text)
	}
	if posts, err := r.UserPosts(ctx, UserPostsOptions{User: "alice", Count: 2}); err != nil || !slices.Equal(ids(posts), []string{"alice/4", "alice/1"}) {
		t.Errorf("count 2: %v %v", ids(posts), err)
	}
	if posts, err := r.UserPosts(ctx, UserPostsOptions{User: "alice", MaxID: "alice/4", Count: 5}); err != nil || !slices.Equal(ids(posts), []string{"alice/1", "alice/0"}) {
		t.Errorf("maxId alice/4: %v %v", ids(posts), err)
	}
	if posts, err := r.UserPosts(ctx, UserPostsOptions{User: "alice", MaxID: "alice/0"}); err != nil || len(posts) != 0 {
		t.Errorf("maxId alice/0: %v %v", ids(posts), err)
	}
	if _, err := r.UserPosts(ctx, UserPostsOptions{User: "alice", MaxID: "bob/1"}); err == nil {
		t.Error("a maxId of another user was accepted")
	}
	if posts, err := r.UserPosts(ctx, UserPostsOptions{User: "carol"}); err != nil || len(posts) != 0 {
		t.Errorf("carol never posted: %v %v", ids(posts), err)
	}

	// A lying bridge: every item altered, re-signed by another user or
	// attributed to one.
	l := &liar{Bridge: mustPool(t, tn.URL), tn: tn}
	m, _ := tn.newWebnode(l, nil)
	for _, mode := range []string{"alter-sig", "claim-signer", "mallory-single"} {
		l.set(mode)
		if got, err := m.UserFollowing(ctx, "alice"); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: following accepted: %v %v", mode, got, err)
		}
		if got, err := m.UserPosts(ctx, UserPostsOptions{User: "alice"}); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: posts accepted: %v %v", mode, ids(got), err)
		}
	}
	l.set("")
	if got, err := m.UserFollowing(ctx, "alice"); err != nil || len(got) != 3 {
		t.Errorf("honest again: %v %v", got, err)
	}
}

// Conversations lists the DM partners from held DMs, newest first:
// messages from followed users' swarms opened with our key and our own
// copies.
func TestConversations(t *testing.T) {
	tn := newTestnet(t, "alice", "bob", "webby")
	alice := tn.NewNative(2, 1, true)
	bob := tn.NewNative(3, 2, true)
	now := time.Now().Unix()
	h := tn.Chain.Height() - 1
	mk := func(from string, k, at int64, to, txt string) []byte {
		b, err := post.NewDM(userKey(from), from, k, at, h, userKey(to).PubKey(), to, txt)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := alice.AddPost("alice", 0, mk("alice", 0, now-300, "webby", "hi webby, alice here")); err != nil {
		t.Fatal(err)
	}
	if err := alice.AddPost("alice", 1, mk("alice", 1, now-250, "bob", "bob only")); err != nil {
		t.Fatal(err)
	}
	if err := bob.AddPost("bob", 0, mk("bob", 0, now-200, "webby", "bob to webby")); err != nil {
		t.Fatal(err)
	}
	n, _ := tn.newWebnode(nil, nil)
	ctx := ctxT(t, 60*time.Second)
	if _, err := n.Conversations(); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("conversations logged out: %v", err)
	}
	if err := n.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := n.Follow(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the DMs from alice's and bob's swarms", func() bool {
		c, _ := n.Conversations()
		return len(c) == 2
	})
	c, _ := n.Conversations()
	if c[0].User != "bob" || c[0].Last.Text != "bob to webby" || c[1].User != "alice" || c[1].Last.Text != "hi webby, alice here" {
		t.Fatalf("conversations %+v %+v", c[0], c[1])
	}
	// webby answers alice: the own copy makes alice's conversation the newest.
	time.Sleep(1100 * time.Millisecond)
	if _, err := n.DM(ctx, "alice", "hello alice"); err != nil {
		t.Fatal(err)
	}
	c, _ = n.Conversations()
	if len(c) != 2 || c[0].User != "alice" || !c[0].Last.Mine || c[0].Last.Text != "hello alice" {
		t.Fatalf("after the answer: %+v", c)
	}
	// The DM alice sent to bob does not open with webby's key.
	for _, x := range c {
		if x.Last.Text == "bob only" {
			t.Error("a DM to bob shows up")
		}
	}
}
