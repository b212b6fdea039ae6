package timeline

import (
	"strings"
	"testing"

	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/post"
)

// The daemon-made posts of the vectors: gotest k2..k8, k10 and gotest2 k2.
var daemonNames = []string{
	"d_post_k2", "d_reply_k3", "d_rt_k4", "d_rtc_k5", "d_fav_k6",
	"d_pfav_k7", "d_dm_k8", "d_dm_copyself_k9_10", "d_post_gotest2_k2",
}

const vecNow = 1795319400 // a few seconds after the vectors' posts

// vectorIndex holds every daemon post, with gotest and gotest2 local.
func vectorIndex(t testing.TB, path string, selfFollow bool) (*Index, *ring) {
	t.Helper()
	r := newRing()
	r.add("gotest", vectorKey(t, "gotest"))
	r.add("gotest2", vectorKey(t, "gotest2"))
	r.follow("gotest2", "gotest")
	r.follow("gotest", "gotest2")
	if selfFollow {
		r.follow("gotest", "gotest")
	}
	c := &clock{}
	c.set(vecNow)
	ix := openIndex(t, path, Options{Clock: c.Now, KeyRing: r})
	return ix, r
}

func addDaemonPosts(t *testing.T, ix *Index) {
	t.Helper()
	for _, name := range daemonNames {
		p, err := ix.AddPost(daemonPost(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, want := jsonOf(t, p.JSON()), daemonJSON(t, name); got != want {
			t.Fatalf("%s: JSON %s, want %s", name, got, want)
		}
	}
}

func postsJSON(t *testing.T, ps []*post.Post) []string {
	var out []string
	for _, p := range ps {
		out = append(out, jsonOf(t, p.JSON()))
	}
	return out
}

func wantPosts(t *testing.T, got []*post.Post, names ...string) {
	t.Helper()
	g := postsJSON(t, got)
	if len(g) != len(names) {
		t.Fatalf("got %d posts, want %d (%v):\n%s", len(g), len(names), names, strings.Join(g, "\n"))
	}
	for i, n := range names {
		if g[i] != daemonJSON(t, n) {
			t.Fatalf("post %d: got\n%s\nwant %s:\n%s", i, g[i], n, daemonJSON(t, n))
		}
	}
}

func TestDaemonPostsTimeline(t *testing.T) {
	ix, _ := vectorIndex(t, "", false)
	addDaemonPosts(t, ix)
	both := []UserRange{{User: "gotest"}, {User: "gotest2"}}

	// Default flags: plain posts, replies and retwists only (no fav, pfav,
	// DM); newest first, equal times by k descending then user order.
	wantPosts(t, ix.Posts(20, both, DefaultAllowed, 0),
		"d_rtc_k5", "d_rt_k4", "d_reply_k3", "d_post_k2", "d_post_gotest2_k2")
	wantPosts(t, ix.Posts(2, both, DefaultAllowed, 0), "d_rtc_k5", "d_rt_k4")
	// PostsJSON gives the same encodings (twice: the second from the
	// cached encodings).
	for range 2 {
		raw := ix.PostsJSON(20, both, 0xff, 0)
		ps := ix.Posts(20, both, 0xff, 0)
		if len(raw) != 9 || len(ps) != 9 {
			t.Fatalf("PostsJSON: %d, Posts: %d", len(raw), len(ps))
		}
		for i := range raw {
			if string(raw[i]) != jsonOf(t, ps[i].JSON()) {
				t.Fatalf("PostsJSON[%d] = %s", i, raw[i])
			}
		}
	}
	// Required RT.
	wantPosts(t, ix.Posts(20, both, DefaultAllowed, post.FlagRT), "d_rtc_k5", "d_rt_k4")
	// DMs only.
	wantPosts(t, ix.Posts(20, both, post.FlagDM, post.FlagDM), "d_dm_copyself_k9_10", "d_dm_k8")
	// Favourites (public and private), as getfavs selects them.
	wantPosts(t, ix.Posts(20, both, post.FlagPFav, post.FlagFav), "d_pfav_k7", "d_fav_k6")
	// Everything.
	if n := len(ix.Posts(20, both, 0xff, 0)); n != 9 {
		t.Fatalf("all flags: %d posts, want 9", n)
	}
	// max_id inclusive, since_id exclusive, per user.
	wantPosts(t, ix.Posts(20, []UserRange{{User: "gotest", MaxID: i64(4), SinceID: i64(2)}, {User: "gotest2", SinceID: i64(2)}}, DefaultAllowed, 0),
		"d_rt_k4", "d_reply_k3")
	// The per-user count is applied before merging, in post-number order.
	wantPosts(t, ix.Posts(1, []UserRange{{User: "gotest2"}, {User: "nosuchuser"}}, DefaultAllowed, 0), "d_post_gotest2_k2")
	if got := ix.Posts(0, both, DefaultAllowed, 0); len(got) != 0 {
		t.Fatal("count 0 returned posts")
	}

	// Statistics.
	if got := jsonOf(t, ix.LastHave([]string{"gotest", "gotest2", "nobody"})); got != `{"gotest":10,"gotest2":2,"nobody":-1}` {
		t.Fatalf("LastHave = %s", got)
	}
	if got := jsonOf(t, ix.NumPieces([]string{"gotest", "gotest2", "nobody"})); got != `{"gotest":8,"gotest2":1,"nobody":0}` {
		t.Fatalf("NumPieces = %s", got)
	}

	// DM k8 is for gotest2, who follows gotest.
	if got := jsonOf(t, ix.DirectMsgs("gotest2", 10, []UserRange{{User: "gotest"}})); got != `{"gotest":[{"id":0,"time":1795319393,"text":"secret hi gotest2","fromMe":false,"from":"gotest","k":8}]}` {
		t.Fatalf("gotest2's DMs: %s", got)
	}
	// The copy to self (k10) is dropped: gotest does not follow gotest.
	if got := jsonOf(t, ix.DirectMsgs("gotest", 10, []UserRange{{User: "gotest2"}})); got != `{}` {
		t.Fatalf("gotest's DMs without self-follow: %s", got)
	}

	// Mentions of gotest2 by gotest (followed): k2 and the reply k3.
	ms := ix.Mentions("gotest2", 10, nil, nil)
	if len(ms) != 2 {
		t.Fatalf("mentions: %s", jsonOf(t, ms))
	}
	for i, name := range []string{"d_post_k2", "d_reply_k3"} {
		m := ms[i].(map[string]any)
		if m["id"] != int64(i) {
			t.Fatalf("mention %d has id %v", i, m["id"])
		}
		delete(m, "id")
		if jsonOf(t, m) != daemonJSON(t, name) {
			t.Fatalf("mention %d: %s", i, jsonOf(t, m))
		}
	}
	if got := ix.Mentions("gotest", 10, nil, nil); len(got) != 0 {
		t.Fatalf("gotest is mentioned by nobody: %s", jsonOf(t, got))
	}

	// Favourites of gotest: the private one decrypted, then the public.
	favs := ix.Favs("gotest", 10, nil, nil)
	if len(favs) != 2 {
		t.Fatalf("favs: %s", jsonOf(t, favs))
	}
	orig := vectors.Path(vectors.Verified(), "daemon_posts", "d_post_gotest2_k2", "rpc_json").(map[string]any)
	wantPriv := jsonOf(t, map[string]any{
		"isPrivate": 1,
		"userpost": map[string]any{
			"fav": orig["userpost"], "sig_fav": orig["sig_userpost"],
			"n": "gotest", "k": 7, "msg": "private fav comment", "time": 1795319393, "height": 100,
		},
	})
	if got := jsonOf(t, favs[0]); got != wantPriv {
		t.Fatalf("private fav:\n%s\nwant\n%s", got, wantPriv)
	}
	pub := vectors.Path(vectors.Verified(), "daemon_posts", "d_fav_k6", "rpc_json").(map[string]any)
	pub["isPrivate"] = 0
	if got := jsonOf(t, favs[1]); got != jsonOf(t, pub) {
		t.Fatalf("public fav:\n%s\nwant\n%s", got, jsonOf(t, pub))
	}
	if got := ix.Favs("gotest", 10, nil, i64(6)); len(got) != 1 || got[0].(map[string]any)["isPrivate"] != int64(1) {
		t.Fatalf("favs since 6: %s", jsonOf(t, got))
	}
	if got := ix.Favs("gotest2", 10, nil, nil); len(got) != 0 {
		t.Fatalf("gotest2 has no favs: %s", jsonOf(t, got))
	}

	// Trending: #twistertest in gotest/2, gotest2/2 and the two retwists
	// of gotest2/2.
	if got := ix.TrendingHashtags(10); len(got) != 1 || got[0] != "twistertest" {
		t.Fatalf("trending: %v", got)
	}

	// Words.
	wantPosts(t, ix.WordPosts([]string{"TwisterD"}, true, 10), "d_post_k2")
	wantPosts(t, ix.WordPosts([]string{"first public"}, true, 10), "d_fav_k6", "d_rtc_k5", "d_rt_k4", "d_post_gotest2_k2")
	wantPosts(t, ix.WordPosts([]string{"reply", "commented"}, false, 10), "d_rtc_k5", "d_reply_k3")
}

// TestCopyToSelf: with self-follow (what the web UI sets up), the copy to
// self is decrypted by the sender and filed under the partner.
func TestCopyToSelf(t *testing.T) {
	ix, _ := vectorIndex(t, "", true)
	addDaemonPosts(t, ix)
	got := ix.DirectMsgs("gotest", 10, []UserRange{{User: "gotest2"}})
	msgs := got["gotest2"]
	if len(msgs) != 1 {
		t.Fatalf("DMs: %s", jsonOf(t, got))
	}
	m := msgs[0]
	if m.ID != 0 || !m.FromMe || m.From != "gotest" || m.K != 10 || m.Time != 1795319393 || m.Text == "" {
		t.Fatalf("copy to self: %+v", m)
	}
}

// TestReopen finds everything again after closing and reopening the file.
func TestReopen(t *testing.T) {
	path := t.TempDir() + "/tl.db"
	ix, _ := vectorIndex(t, path, true)
	addDaemonPosts(t, ix)
	if err := ix.AddSpam(3, "nobody", "promo", 1795319000); err != nil {
		t.Fatal(err)
	}
	both := []UserRange{{User: "gotest"}, {User: "gotest2"}}
	snapshot := func(ix *Index) string {
		return jsonOf(t, []any{
			postsJSON(t, ix.Posts(20, both, 0xff, 0)),
			ix.DirectMsgs("gotest", 10, []UserRange{{User: "gotest2"}}),
			ix.DirectMsgs("gotest2", 10, []UserRange{{User: "gotest"}}),
			ix.Mentions("gotest2", 10, nil, nil),
			ix.Favs("gotest", 10, nil, nil),
			ix.TrendingHashtags(10),
			ix.LastHave([]string{"gotest", "gotest2"}),
			ix.NumPieces([]string{"gotest", "gotest2"}),
			ix.SpamPosts(10, nil, nil, 3),
			ix.WordPosts([]string{"hello"}, true, 5)[0].JSON(),
			ix.Users(),
		})
	}
	before := snapshot(ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.AddPost(daemonPost("d_post_k2")); err == nil {
		t.Fatal("AddPost after Close succeeded")
	}
	ix2, _ := vectorIndex(t, path, true)
	if after := snapshot(ix2); after != before {
		t.Fatalf("after reopen:\n%s\nbefore:\n%s", after, before)
	}
	// Re-adding everything changes nothing (idempotent).
	addDaemonPosts(t, ix2)
	if after := snapshot(ix2); after != before {
		t.Fatalf("after re-adding:\n%s\nbefore:\n%s", after, before)
	}
}
