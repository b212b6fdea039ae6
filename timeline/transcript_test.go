package timeline

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
)

// The recorded transcript's story (twister-rpc-transcript.json), replayed
// with our own keys: the posts have the same fields, times and post
// numbers, so every result equals the recorded one once the signatures
// (which depend on the keys) are substituted.

const (
	tAlice = 1795322642 // alice's public posts
	tCarol = 1795322710 // carol's re-posted reply and retwists
	tDM    = 1795322711 // DMs and favourites
)

type story struct {
	t    *testing.T
	keys map[string]*keys.PrivateKey
	raw  map[string][]byte // "user/k" -> post
	subs *strings.Replacer // recorded signature hex -> ours
}

func newStory(t *testing.T) *story {
	s := &story{t: t, keys: map[string]*keys.PrivateKey{}, raw: map[string][]byte{}}
	for _, u := range []string{"alice", "bob", "carol", "erin"} {
		k, err := keys.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		s.keys[u] = k
	}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, c := s.keys["alice"], s.keys["carol"]
	s.raw["alice/1"] = must(post.NewPost(a, "alice", 1, tAlice, 2, "hello world", nil, nil))
	s.raw["alice/2"] = must(post.NewPost(a, "alice", 2, tAlice, 2, "hi @carol, check #twister and #golang", i64(1), nil))
	s.raw["alice/3"] = must(post.NewDM(a, "alice", 3, tDM, 2, c.PubKey(), "carol", "secret message to carol"))
	s.raw["alice/4"] = must(post.NewDM(a, "alice", 4, tDM, 2, a.PubKey(), "carol", "second DM with copy"))
	s.raw["alice/5"] = must(post.NewDM(a, "alice", 5, tDM, 2, c.PubKey(), "carol", "second DM with copy"))
	orig1, _ := post.OriginalOf(s.raw["alice/1"])
	orig2, _ := post.OriginalOf(s.raw["alice/2"])
	s.raw["carol/4"] = must(post.NewPost(c, "carol", 4, tCarol, 2, "@alice nice to meet you", nil, &post.Ref{User: "alice", K: 1}))
	s.raw["carol/5"] = must(post.NewRetwist(c, "carol", 5, tCarol, 2, orig2, "", i64(4)))
	s.raw["carol/6"] = must(post.NewRetwist(c, "carol", 6, tCarol, 2, orig1, "with a comment", i64(5)))
	s.raw["carol/7"] = must(post.NewFav(c, "carol", 7, tDM, 2, orig1, ""))
	s.raw["carol/8"] = must(post.NewPrivateFav(c, "carol", 8, tDM, 2, orig2, "secret like"))
	s.raw["carol/9"] = must(post.NewDM(c, "carol", 9, tDM, 2, a.PubKey(), "alice", "hi back alice"))

	sig := func(name string) string {
		p, err := post.Decode(s.raw[name])
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(p.SigUserpost)
	}
	wort := func(name string) string {
		p, _ := post.Decode(s.raw[name])
		return hex.EncodeToString(p.SigWort)
	}
	// The recorded signatures, from the transcript's getposts/getfavs.
	s.subs = strings.NewReplacer(
		"1f8990decb2a2ec7f41b77754a4bd9ac2dc800424de38f80eea32bcbba2d18753ea4c47ffaca5af5f6ed647064d86776859aa8447ba2c6053b3af277a6b98486fb", sig("alice/1"),
		"1f43443eeebb5b03a46468a08aaebf5d3e5aabfc0b707bba8f0ddbde2a7de326ab54e89b36b80668c1ee289118903513980b6a7a714f812b25797ea0b661fababa", sig("alice/2"),
		"1f43b87f496058d6a0eaa14d418ba1e9a2161d0148a0bc5fde91b9a304bf129d35b1af89abb38f3f32fcdbd51d5803950790b59ec77fb9432ca165fe7ed63472b3", sig("carol/4"),
		"1f80cd828a5098b7f29d843a173b9262db8084ec8df7fcbc17c56061b2eb22ac5e022b85de2cd94d92565fc73c1d1b0e21601eaf2716a49c37eea444be0e649d82", sig("carol/5"),
		"1f3073d8e5742230c4b258b88a67c82f5f43aa793cd70779c7b2f7548fd9ad72a6b8ca4605bbeb9863d1a9b3bf7fd5dcee1e5a325080eeb318d457655b13995768", sig("carol/6"),
		"1f2e1eb450138bdec9232c43b71580778a77ef4d660536e3486a360fecdc36538b6630e86f90caec733cd274e13b40d12faaa3ef03df805449dd634b681027f2a2", wort("carol/6"),
		"1fb5286044a8280c9e209f7d45be03e37f56185cd3938b17db3efeb7f9f830f00b5bf1b1af2aa301281d62d2e1a561312d1084ead13d83e01be609b0ded7b37be7", sig("carol/7"),
	)
	return s
}

func (s *story) add(ix *Index, names ...string) {
	s.t.Helper()
	for _, n := range names {
		if _, err := ix.AddPost(s.raw[n]); err != nil {
			s.t.Fatalf("%s: %v", n, err)
		}
	}
}

// recorded returns the result of the i-th recorded call of method, with
// the signatures made ours.
func (s *story) recorded(method string, i int) string {
	s.t.Helper()
	calls := transcriptCalls(method)
	return s.subs.Replace(jsonOf(s.t, calls[i]["result"]))
}

// nodeC is carol's node after the recorded story: carol follows alice, bob
// and carol; it holds alice's posts 1-5 and carol's 4-9.
func (s *story) nodeC(c *clock) (*Index, *ring) {
	r := newRing()
	r.add("carol", s.keys["carol"])
	r.follow("carol", "alice", "bob", "carol")
	ix := openIndex(s.t, "", Options{Clock: c.Now, KeyRing: r})
	if err := ix.AddSentDM("carol", "alice", 9, tDM, "hi back alice"); err != nil {
		s.t.Fatal(err)
	}
	s.add(ix, "carol/4", "carol/5", "carol/6", "carol/7", "carol/8", "carol/9",
		"alice/1", "alice/2", "alice/3", "alice/4", "alice/5")
	return ix, r
}

func TestTranscriptNodeC(t *testing.T) {
	s := newStory(t)
	c := &clock{}
	c.set(tDM + 60)
	ix, _ := s.nodeC(c)
	ac := []UserRange{{User: "alice"}, {User: "carol"}}

	// getposts [20, alice, carol]: same posts; equal times may come in
	// another order (twisterd's depends on its disk reads).
	got := postsJSON(t, ix.Posts(20, ac, DefaultAllowed, 0))
	var want []string
	for _, x := range transcriptCalls("getposts")[0]["result"].([]any) {
		want = append(want, s.subs.Replace(jsonOf(t, x)))
	}
	if len(got) != len(want) {
		t.Fatalf("getposts: %d posts, want %d", len(got), len(want))
	}
	gs, ws := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(gs)
	sort.Strings(ws)
	if strings.Join(gs, "\n") != strings.Join(ws, "\n") {
		t.Fatalf("getposts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(got[0], `"k":6`) || !strings.Contains(got[4], `"k":1,"msg":"hello world"`) {
		t.Fatalf("getposts order:\n%s", strings.Join(got, "\n"))
	}
	// getposts with max_id / since_id, and with count 2: exact.
	if g, w := jsonOf(t, jsonPosts(ix.Posts(20, []UserRange{{User: "alice", MaxID: i64(1)}, {User: "carol", SinceID: i64(5)}}, DefaultAllowed, 0))), s.recorded("getposts", 1); g != w {
		t.Fatalf("getposts max/since:\n%s\nwant\n%s", g, w)
	}
	if g, w := jsonOf(t, jsonPosts(ix.Posts(2, ac, DefaultAllowed, 0))), s.recorded("getposts", 2); g != w {
		t.Fatalf("getposts count 2:\n%s\nwant\n%s", g, w)
	}
	if g, w := jsonOf(t, jsonPosts(ix.Posts(5, []UserRange{{User: "nosuchuser"}}, DefaultAllowed, 0))), s.recorded("getposts", 3); g != w {
		t.Fatalf("getposts unknown user: %s, want %s", g, w)
	}

	// getdirectmsgs carol/alice: exact, including the order of equal
	// times (later arrivals first, the sent DM stored first).
	dms := ix.DirectMsgs("carol", 10, []UserRange{{User: "alice"}})
	if g, w := canon(t, dms), s.recorded("getdirectmsgs", 0); g != w {
		t.Fatalf("getdirectmsgs:\n%s\nwant\n%s", g, w)
	}
	// twisterd writes the DM fields in this order (not sorted).
	if g := jsonOf(t, dms); !strings.HasPrefix(g, `{"alice":[{"id":0,"time":1795322711,"text":"second DM with copy","fromMe":false,"from":"alice","k":5},`) {
		t.Fatalf("getdirectmsgs field order: %s", g)
	}

	// getmentions: alice/2 mentions carol.
	for i, args := range [][2]*int64{{nil, nil}, {i64(100), i64(-1)}} {
		if g, w := jsonOf(t, ix.Mentions("carol", 10, args[0], args[1])), s.recorded("getmentions", i); g != w {
			t.Fatalf("getmentions %d:\n%s\nwant\n%s", i, g, w)
		}
	}

	// getfavs, all and since_id 7.
	if g, w := jsonOf(t, ix.Favs("carol", 10, nil, nil)), s.recorded("getfavs", 0); g != w {
		t.Fatalf("getfavs:\n%s\nwant\n%s", g, w)
	}
	if g, w := jsonOf(t, ix.Favs("carol", 10, nil, i64(7))), s.recorded("getfavs", 1); g != w {
		t.Fatalf("getfavs since 7:\n%s\nwant\n%s", g, w)
	}

	// getlasthave / getnumpieces for carol's follows.
	follows := []string{"alice", "bob", "carol"}
	if g, w := jsonOf(t, ix.LastHave(follows)), s.recorded("getlasthave", 1); g != w {
		t.Fatalf("getlasthave: %s, want %s", g, w)
	}
	if g, w := jsonOf(t, ix.LastHave([]string{"alice"})), s.recorded("getlasthave", 2); g != w {
		t.Fatalf("getlasthave alice: %s, want %s", g, w)
	}
	if g, w := jsonOf(t, ix.NumPieces(follows)), s.recorded("getnumpieces", 1); g != w {
		t.Fatalf("getnumpieces: %s, want %s", g, w)
	}

	// search users "a".
	ix.opts.Usernames = func(yield func(string) bool) {
		for _, n := range []string{"alice", "bob", "carol", "erin"} {
			if !yield(n) {
				return
			}
		}
	}
	res, err := ix.Search("users", "a", 10, SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, res), s.recorded("search", 0); g != w {
		t.Fatalf("search users: %s, want %s", g, w)
	}
	if _, err := ix.Search("nosuchscope", "x", 10, SearchOptions{}); !errors.Is(err, ErrSearch) || !strings.Contains(err.Error(), "Unknown <scope> value") {
		t.Fatalf("bad scope: %v", err)
	}
}

// canon is the JSON of x with object keys sorted (as the transcript,
// decoded into maps, gives them).
func canon(t *testing.T, x any) string {
	var v any
	if err := json.Unmarshal([]byte(jsonOf(t, x)), &v); err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, v)
}

func jsonPosts(ps []*post.Post) []any {
	out := []any{}
	for _, p := range ps {
		out = append(out, p.JSON())
	}
	return out
}

// TestTranscriptNodeA: alice's side of the conversation, where her copy to
// self is missing because she does not follow herself.
func TestTranscriptNodeA(t *testing.T) {
	s := newStory(t)
	c := &clock{}
	c.set(tDM + 60)
	r := newRing()
	r.add("alice", s.keys["alice"])
	r.add("erin", s.keys["erin"])
	r.follow("alice", "carol")
	ix := openIndex(t, "", Options{Clock: c.Now, KeyRing: r})
	// newdirectmsg alice 3 carol (no copy_self): stored at sending time.
	if err := ix.AddSentDM("alice", "carol", 3, tDM, "secret message to carol"); err != nil {
		t.Fatal(err)
	}
	s.add(ix, "alice/1", "alice/2", "alice/3", "alice/4", "alice/5", "carol/9")
	for i, args := range []struct {
		user  string
		maxID *int64
	}{{"carol", nil}, {"carol", i64(0)}, {"nosuchuser", nil}} {
		got := canon(t, ix.DirectMsgs("alice", 10, []UserRange{{User: args.user, MaxID: args.maxID}}))
		if want := s.recorded("getdirectmsgs", i+1); got != want {
			t.Fatalf("getdirectmsgs %d:\n%s\nwant\n%s", i+1, got, want)
		}
	}
	// Once alice follows herself, a rescan finds her copy.
	r.follow("alice", "alice")
	if err := ix.RescanDMs(); err != nil {
		t.Fatal(err)
	}
	got := ix.DirectMsgs("alice", 10, []UserRange{{User: "carol"}})["carol"]
	if len(got) != 3 || got[0].K != 4 || !got[0].FromMe || got[0].Text != "second DM with copy" {
		t.Fatalf("after self-follow and rescan: %s", jsonOf(t, got))
	}
	// getfavs of a user with none.
	if g, w := jsonOf(t, ix.Favs("alice", 10, nil, nil)), s.recorded("getfavs", 2); g != w {
		t.Fatalf("getfavs alice: %s, want %s", g, w)
	}
}

// TestTranscriptSpamPosts: getspamposts over the recorded chain: the
// genesis message at height 0 and the default promoted message in blocks
// 1-3 (consecutive duplicates collapse to the highest).
func TestTranscriptSpamPosts(t *testing.T) {
	c := &clock{}
	c.set(tDM)
	ix := openIndex(t, "", Options{Clock: c.Now})
	genesis := "The Times 09/Jul/2013 Globo caught bribing Receita Federal employee to rob R$615M worth tax evasion documents."
	promo := "Promoted posts are needed to run the network infrastructure. If you want to help, start generating blocks and advertise. [en]"
	for _, b := range []struct {
		h, t int64
		msg  string
	}{{0, 1296688602, genesis}, {1, 1795322600, promo}, {2, 1795322610, promo}, {3, 1795322615, promo}} {
		if err := ix.AddSpam(b.h, "nobody", b.msg, b.t); err != nil {
			t.Fatal(err)
		}
	}
	calls := transcriptCalls("getspamposts")
	if g, w := jsonOf(t, ix.SpamPosts(10, nil, nil, 3)), jsonOf(t, calls[0]["result"]); g != w {
		t.Fatalf("getspamposts:\n%s\nwant\n%s", g, w)
	}
	if g, w := jsonOf(t, ix.SpamPosts(10, i64(100), i64(0), 3)), jsonOf(t, calls[1]["result"]); g != w {
		t.Fatalf("getspamposts 100 0:\n%s\nwant\n%s", g, w)
	}
	if g := jsonOf(t, ix.SpamPosts(1, nil, nil, 3)); !strings.Contains(g, `"k":3`) || strings.Contains(g, "Globo") {
		t.Fatalf("count 1: %s", g)
	}
	// A reorganisation drops blocks 2 and 3: block 1's message is shown.
	if err := ix.RemoveSpamFrom(2); err != nil {
		t.Fatal(err)
	}
	if g := jsonOf(t, ix.SpamPosts(10, nil, nil, 1)); !strings.Contains(g, `"height":1,"k":1,"msg":"Promoted`) || !strings.Contains(g, `"height":1,"k":1,"msg":"The Times`) {
		t.Fatalf("after reorg: %s", g)
	}
}
