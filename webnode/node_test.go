//go:build !js

package webnode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
)

// A webnode following a native user gets the user's posts from the native
// swarm node through the bridge, verified, in its timeline; posts, replies,
// retwists, DMs and profile changes made in the webnode reach the native
// node and the DHT.
func TestWebnodeWithNativeNetwork(t *testing.T) {
	tn := newTestnet(t, "alice", "webby", "carol")
	alice := tn.NewNative(2, 1, true)
	for k := range int64(3) {
		if err := alice.AddPost("alice", k, tn.MakePost("alice", k, fmt.Sprintf("alice says %d #gotwister", k))); err != nil {
			t.Fatal(err)
		}
	}

	n, ev := tn.newWebnode(nil, nil)
	if h := n.Height(); h != tn.Chain.Height() {
		t.Fatalf("webnode height %d, chain %d", h, tn.Chain.Height())
	}
	if err := n.Follow(ctxT(t, 10*time.Second), "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "alice's posts in the webnode's timeline", func() bool {
		tl, _ := n.Timeline(TimelineOptions{})
		return len(tl) == 3
	})
	tl, _ := n.Timeline(TimelineOptions{})
	for _, v := range tl {
		if !v.Verified || v.User != "alice" || !strings.HasPrefix(v.Text, "alice says") || v.Kind != "post" {
			t.Errorf("timeline entry %+v", v)
		}
	}
	if ev.count(EventNewPost) != 3 {
		t.Errorf("%d newPost events", ev.count(EventNewPost))
	}
	// Paging.
	page, err := n.Timeline(TimelineOptions{Count: 1, MaxID: tl[0].ID})
	if err != nil || len(page) != 1 || page[0].ID != tl[1].ID {
		t.Errorf("maxId page: %v %v", page, err)
	}
	page, err = n.Timeline(TimelineOptions{SinceID: tl[1].ID})
	if err != nil || len(page) != 1 || page[0].ID != tl[0].ID {
		t.Errorf("sinceId page: %v %v", page, err)
	}
	if _, err := n.Timeline(TimelineOptions{MaxID: "nobody/9"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown cursor: %v", err)
	}
	// A new native post spreads to the webnode by have.
	if err := alice.AddPost("alice", 3, tn.MakePost("alice", 3, "live")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "alice's live post", func() bool {
		tl, _ := n.Timeline(TimelineOptions{Count: 1})
		return len(tl) == 1 && tl[0].K == 3
	})

	// Login: a wrong key is refused.
	if err := n.LoginSecret(ctxT(t, 10*time.Second), "webby", userKey("carol").Secret()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("login with carol's key as webby: %v", err)
	}
	if _, err := n.Post(ctxT(t, 5*time.Second), "x"); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("post before login: %v", err)
	}
	if err := n.LoginSecret(ctxT(t, 10*time.Second), "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}

	// The native node follows webby: it finds the bridge in the DHT and
	// gets webby's posts from the webnode over an incoming stream.
	if err := alice.Follow("webby"); err != nil {
		t.Fatal(err)
	}
	res, err := n.Post(ctxT(t, 20*time.Second), "hello from the browser @alice #gotwister")
	if err != nil {
		t.Fatal(err)
	}
	if res.Post.K != 0 || len(res.PutErrors) != 0 {
		t.Fatalf("post result %+v", res)
	}
	if !slices.Contains(res.Puts, "alice/mention") || !slices.Contains(res.Puts, "gotwister/hashtag") || !slices.Contains(res.Puts, "webby/post0") {
		t.Errorf("puts %v", res.Puts)
	}
	waitFor(t, 30*time.Second, "webby's post at the native node", func() bool { return alice.Has("webby", 0) })
	got, _ := alice.Post("webby", 0)
	if p, err := post.Validate(got, "webby", 0, tn.Chain); err != nil || p.Text() != "hello from the browser @alice #gotwister" {
		t.Fatalf("native node holds %v, %v", p, err)
	}
	// The DHT holds post0 and status, readable by any native DHT node.
	items, err := tn.DHTs[3].Get(ctxT(t, 10*time.Second), "webby", resource.Post(0), false, dhtGetOpts)
	if err != nil || len(items) != 1 {
		t.Fatalf("native DHT get webby/post0: %v %v", items, err)
	}

	// Reply, retwist, favourites.
	rep, err := n.Reply(ctxT(t, 20*time.Second), "alice", 1, "a reply")
	if err != nil || rep.Post.Reply == nil || rep.Post.Reply.User != "alice" || *rep.Post.LastK != 0 {
		t.Fatalf("reply %+v %v", rep, err)
	}
	rt, err := n.Retwist(ctxT(t, 20*time.Second), "alice", 2, "worth it")
	if err != nil || rt.Post.RT == nil || rt.Post.RT.K != 2 || len(rt.PutErrors) != 0 {
		t.Fatalf("retwist %+v %v", rt, err)
	}
	fav, err := n.Favorite(ctxT(t, 20*time.Second), "alice", 0, FavoriteOptions{})
	if err != nil || fav.Post.Kind != "fav" {
		t.Fatalf("fav %+v %v", fav, err)
	}
	pfav, err := n.Favorite(ctxT(t, 20*time.Second), "alice", 0, FavoriteOptions{Private: true})
	if err != nil || pfav.Post.Kind != "pfav" {
		t.Fatalf("pfav %+v %v", pfav, err)
	}
	waitFor(t, 20*time.Second, "webby's posts 1-4 at the native node", func() bool {
		return alice.Has("webby", 1) && alice.Has("webby", 2) && alice.Has("webby", 3) && alice.Has("webby", 4)
	})
	replies, err := n.Replies(ctxT(t, 10*time.Second), "alice", 1)
	if err != nil || len(replies) != 1 || replies[0].ID != rep.Post.ID {
		t.Errorf("replies: %v %v", replies, err)
	}

	// Mentions and hashtags from the DHT, verified.
	ms, err := n.Mentions(ctxT(t, 10*time.Second), "alice")
	if err != nil || len(ms) != 1 || ms[0].ID != "webby/0" {
		t.Errorf("mentions of alice: %v %v", ms, err)
	}
	hs, err := n.Hashtag(ctxT(t, 10*time.Second), "#GoTwister")
	if err != nil || len(hs) != 1 {
		t.Errorf("hashtag: %v %v", hs, err)
	}

	// Direct messages: webby → alice is sealed to alice's key; a DM from
	// alice to webby (in alice's swarm) is opened with webby's key.
	sent, err := n.DM(ctxT(t, 20*time.Second), "alice", "psst")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "webby's DM at the native node", func() bool { return alice.Has("webby", 5) })
	raw, _ := alice.Post("webby", 5)
	p, _ := post.Decode(raw)
	if pt, err := p.OpenDM(userKey("alice")); err != nil || pt.Text != "psst" || pt.To != "alice" {
		t.Errorf("alice opens webby's DM: %+v %v", pt, err)
	}
	if _, err := p.OpenDM(userKey("webby")); err == nil {
		t.Error("the DM to alice opens with webby's key")
	}
	dmPost, err := post.NewDM(userKey("alice"), "alice", 4, time.Now().Unix(), tn.Chain.Height()-1, userKey("webby").PubKey(), "webby", "hi webby")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.AddPost("alice", 4, dmPost); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "alice's DM at the webnode", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.posts["alice"][4] != nil
	})
	if ev.count(EventDM) != 2 { // our own copy and alice's
		t.Errorf("%d dm events", ev.count(EventDM))
	}
	conv, err := n.DMs("alice")
	if err != nil || len(conv) != 2 {
		t.Fatalf("conversation: %+v %v", conv, err)
	}
	texts := []string{conv[0].Text, conv[1].Text}
	slices.Sort(texts)
	if !slices.Equal(texts, []string{"hi webby", "psst"}) || sent.To != "alice" {
		t.Errorf("conversation texts %v", texts)
	}
	// The timeline shows no DM or private favourite.
	tl, _ = n.Timeline(TimelineOptions{Count: 100})
	for _, v := range tl {
		if v.Kind == "dm" || v.Kind == "pfav" {
			t.Errorf("private post in timeline: %+v", v)
		}
	}

	// Profile: set, then read back verified through the DHT.
	pr, err := n.Profile(ctxT(t, 10*time.Second), "webby")
	if err != nil || pr.Seq != -1 {
		t.Fatalf("empty profile: %+v %v", pr, err)
	}
	avatar := "data:image/png;base64,iVBORw0KGgo="
	if _, err := n.SetProfile(ctxT(t, 20*time.Second), ProfileUpdate{Fields: map[string]string{"fullname": "Web By", "bio": "in a browser", "url": ""}, Avatar: &avatar}); err != nil {
		t.Fatal(err)
	}
	pr, err = n.Profile(ctxT(t, 10*time.Second), "webby")
	if err != nil || pr.Fields["fullname"] != "Web By" || pr.Avatar != avatar || pr.Seq != 0 || len(pr.Fields) != 2 {
		t.Fatalf("profile: %+v %v", pr, err)
	}
	if _, err := n.SetProfile(ctxT(t, 20*time.Second), ProfileUpdate{Fields: map[string]string{"fullname": "Webby 2"}}); err != nil {
		t.Fatal(err)
	}
	pr, err = n.Profile(ctxT(t, 10*time.Second), "webby")
	if err != nil || pr.Fields["fullname"] != "Webby 2" || pr.Seq != 1 {
		t.Fatalf("profile after update: %+v %v", pr, err)
	}

	st := n.Status()
	if st.User != "webby" || !slices.Equal(st.Following, []string{"alice"}) || st.Height != tn.Chain.Height() || st.Peers == 0 {
		t.Errorf("status %+v", st)
	}
	if len(st.Bridges) != 1 || st.Bridges[0].State != "connected" {
		t.Errorf("bridges %+v", st.Bridges)
	}

	// Unfollow is persisted; a second node on the same store starts with
	// the follow list and the held posts (timeline before any network).
	if err := n.Unfollow(ctxT(t, 5*time.Second), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := n.Follow(ctxT(t, 5*time.Second), "alice"); err != nil {
		t.Fatal(err)
	}
	store := n.store
	n.Close()
	n2, _ := tn.newWebnode(nil, func(c *Config) { c.Store = store })
	if f := n2.Following(); !slices.Equal(f, []string{"alice"}) {
		t.Errorf("restored follows %v", f)
	}
	tl2, _ := n2.Timeline(TimelineOptions{Count: 100})
	if len(tl2) < 4 {
		t.Errorf("restored timeline has %d posts", len(tl2))
	}
	if err := n2.LoginSecret(ctxT(t, 10*time.Second), "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	res, err = n2.Post(ctxT(t, 20*time.Second), "after restart")
	if err != nil || res.Post.K != 7 || res.Post.LastK == nil || *res.Post.LastK != 2 {
		t.Fatalf("post after restart: %+v %v", res, err)
	}
}

// Following an unregistered name fails; so does a bad name.
func TestFollowUnknown(t *testing.T) {
	tn := newTestnet(t, "alice")
	n, _ := tn.newWebnode(nil, nil)
	if err := n.Follow(ctxT(t, 10*time.Second), "nobody"); !errors.Is(err, keys.ErrUnknownUser) {
		t.Errorf("follow nobody: %v", err)
	}
	if err := n.Follow(ctxT(t, 10*time.Second), "Bad Name"); err == nil {
		t.Error("follow of an invalid name accepted")
	}
	if f := n.Following(); len(f) != 0 {
		t.Errorf("following %v", f)
	}
}
