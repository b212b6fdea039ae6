package timeline

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
)

const t0 = 1800000000

func genKey(t testing.TB) *keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustAdd(t testing.TB, ix *Index, raw []byte) *post.Post {
	t.Helper()
	p, err := ix.AddPost(raw)
	if err != nil {
		t.Fatalf("AddPost: %v", err)
	}
	return p
}

func mustPost(t testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// TestPostsSelection: the per-user selection goes by post number, the
// merge by time, and far-future posts are still returned.
func TestPostsSelection(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	ix := openIndex(t, "", Options{Clock: c.Now})
	a, b := genKey(t), genKey(t)
	// alice: k0..k4, times not in k order; k5 from the far future.
	times := []int64{t0 - 50, t0 - 10, t0 - 40, t0 - 20, t0 - 30}
	for k, tm := range times {
		mustAdd(t, ix, must(post.NewPost(a, "alice", int64(k), tm, 1, fmt.Sprintf("a%d", k), nil, nil)))
	}
	mustAdd(t, ix, must(post.NewPost(a, "alice", 5, t0+3*3600, 1, "future", nil, nil)))
	for k := range int64(3) {
		mustAdd(t, ix, must(post.NewPost(b, "bob", k, t0-15-k*10, 1, fmt.Sprintf("b%d", k), nil, nil)))
	}
	texts := func(ps []*post.Post) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.Text())
		}
		return strings.Join(s, ",")
	}
	ab := []UserRange{{User: "alice"}, {User: "bob"}}
	if got := texts(ix.Posts(10, ab, DefaultAllowed, 0)); got != "future,a1,b0,a3,b1,a4,b2,a2,a0" {
		t.Fatalf("all: %s", got)
	}
	// count 2: alice contributes k5,k4 (by number), bob b2,b1.
	if got := texts(ix.Posts(2, ab, DefaultAllowed, 0)); got != "future,b1" {
		t.Fatalf("count 2: %s", got)
	}
	if got := texts(ix.Posts(3, []UserRange{{User: "alice", MaxID: i64(3), SinceID: i64(0)}}, DefaultAllowed, 0)); got != "a1,a3,a2" {
		t.Fatalf("max 3 since 0: %s", got)
	}
	if got := texts(ix.Posts(10, []UserRange{{User: "alice", MaxID: i64(-1)}, {User: "bob", SinceID: i64(2)}}, DefaultAllowed, 0)); got != "" {
		t.Fatalf("empty ranges: %s", got)
	}
}

// TestCacheFallback: tiny caches give the same answers as a big one.
func TestCacheFallback(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	small := openIndex(t, "", Options{Clock: c.Now, CachePerUser: 2, CacheUsers: 2})
	big := openIndex(t, "", Options{Clock: c.Now})
	var users []UserRange
	for u := range 5 {
		key := genKey(t)
		name := fmt.Sprintf("user%d", u)
		users = append(users, UserRange{User: name})
		var raws [][]byte
		for k := range int64(12) {
			if k%3 == 1 {
				continue // holes
			}
			tm := t0 - int64(u*7+int(k)*13%40)
			var raw []byte
			if k%4 == 0 {
				raw = must(post.NewDM(key, name, k, tm, 1, key.PubKey(), name, "dm"))
			} else {
				raw = must(post.NewPost(key, name, k, tm, 1, fmt.Sprintf("%s/%d", name, k), nil, nil))
			}
			raws = append(raws, raw)
		}
		// Add in a shuffled order, half in a batch.
		for i := len(raws) - 1; i >= len(raws)/2; i-- {
			mustAdd(t, small, raws[i])
			mustAdd(t, big, raws[i])
		}
		for _, ix := range []*Index{small, big} {
			if _, errs := ix.AddPosts(raws[:len(raws)/2]); errors.Join(errs...) != nil {
				t.Fatal(errs)
			}
		}
	}
	for _, count := range []int{1, 2, 3, 5, 40} {
		for _, mx := range []*int64{nil, i64(9), i64(4)} {
			for _, since := range []*int64{nil, i64(2), i64(6)} {
				for _, flags := range [][2]post.Flags{{DefaultAllowed, 0}, {post.FlagDM, post.FlagDM}, {0xff, 0}} {
					var rs []UserRange
					for _, u := range users {
						rs = append(rs, UserRange{User: u.User, MaxID: mx, SinceID: since})
					}
					g := jsonOf(t, jsonPosts(small.Posts(count, rs, flags[0], flags[1])))
					w := jsonOf(t, jsonPosts(big.Posts(count, rs, flags[0], flags[1])))
					if g != w {
						t.Fatalf("count %d max %v since %v flags %v: small cache differs\n%s\n%s", count, mx, since, flags, g, w)
					}
				}
			}
		}
	}
	if got := small.NumPieces([]string{"user0"})["user0"]; got != 8 {
		t.Fatalf("NumPieces = %d, want 8", got)
	}
	if got := small.LastHave([]string{"user4"})["user4"]; got != 11 {
		t.Fatalf("LastHave = %d, want 11", got)
	}
}

// TestAddPostBadInput: garbage is refused and changes nothing; the same
// (user, k) keeps its first post.
func TestAddPostBadInput(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	ix := openIndex(t, "", Options{Clock: c.Now})
	a := genKey(t)
	first := must(post.NewPost(a, "alice", 1, t0, 1, "hello #first", nil, nil))
	mustAdd(t, ix, first)
	state := func() string {
		return jsonOf(t, []any{ix.Users(), ix.NumPieces([]string{"alice"}), ix.LastHave([]string{"alice"}),
			jsonPosts(ix.Posts(10, []UserRange{{User: "alice"}}, 0xff, 0)), ix.TrendingHashtags(5)})
	}
	before := state()
	flipped := bytes.Clone(first)
	flipped[len(flipped)-3] = 'x'
	badUser := must(post.NewPost(a, "alice", 2, t0, 1, "x", nil, nil))
	badUser = bytes.Replace(badUser, []byte("1:n5:alice"), []byte("1:n5:Alice"), 1)
	negK, _ := post.Draft{User: "alice", K: 0, Time: t0, Height: 1, Text: "x"}.Userpost()
	negK.Set("k", bencode.NewInt(-1))
	nk := bencode.NewDict()
	nk.Set("sig_userpost", bencode.NewBytes(a.Sign(bencode.Encode(negK))))
	nk.Set("userpost", negK)
	for name, raw := range map[string][]byte{
		"empty": nil, "garbage": []byte("not bencode"), "list": []byte("le"),
		"truncated": first[:len(first)-1], "trailing": append(bytes.Clone(first), 'x'),
		"flipped": flipped, "uppercase user": badUser, "negative k": bencode.Encode(nk),
		"too big": bytes.Repeat([]byte("a"), 3000),
	} {
		p, err := ix.AddPost(raw)
		if err == nil || p != nil {
			t.Errorf("%s: accepted (%v)", name, p)
		}
	}
	if _, err := ix.AddPost([]byte("garbage")); !errors.Is(err, post.ErrMalformed) {
		t.Errorf("garbage: %v, want post.ErrMalformed", err)
	}
	if after := state(); after != before {
		t.Fatalf("bad input changed the index:\n%s\n%s", after, before)
	}
	// The same k again with other content: the first is kept.
	dup := must(post.NewPost(a, "alice", 1, t0, 1, "dup #second", i64(1), nil))
	p, err := ix.AddPost(dup)
	if err != nil || !bytes.Equal(p.Raw, first) {
		t.Fatalf("duplicate: %v, %q", err, p.Raw)
	}
	ps, errs := ix.AddPosts([][]byte{dup, []byte("x"), first})
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || !bytes.Equal(ps[0].Raw, first) || ps[1] != nil {
		t.Fatalf("AddPosts: %v", errs)
	}
	if after := state(); after != before {
		t.Fatalf("duplicates changed the index:\n%s\n%s", after, before)
	}
	if p, ok := ix.Post("alice", 1); !ok || !bytes.Equal(p.Raw, first) {
		t.Fatal("Post(alice, 1)")
	}
	if ix.Has("alice", 2) || ix.Has("bob", 1) || ix.Has("alice", -1) {
		t.Fatal("Has reports a missing post")
	}
}

// TestDirectMessages covers following, ordering, ids and windows.
func TestDirectMessages(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	r := newRing()
	a, b, cr := genKey(t), genKey(t), genKey(t)
	r.add("bob", b)
	r.follow("bob", "alice")
	ix := openIndex(t, "", Options{Clock: c.Now, KeyRing: r})
	mustAdd(t, ix, must(post.NewDM(a, "alice", 1, t0-30, 1, b.PubKey(), "bob", "one")))
	mustAdd(t, ix, must(post.NewDM(a, "alice", 3, t0-10, 1, b.PubKey(), "bob", "three")))
	mustAdd(t, ix, must(post.NewDM(a, "alice", 2, t0-20, 1, b.PubKey(), "bob", "two")))
	// carol is not followed by bob: dropped.
	mustAdd(t, ix, must(post.NewDM(cr, "carol", 1, t0, 1, b.PubKey(), "bob", "spam")))
	// An old-format DM (raw text plaintext).
	s, err := dm.Encrypt(b.PubKey(), []byte("old format"))
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, ix, must(post.NewSealedDM(a, "alice", 4, t0-5, 1, s)))
	// bob's own reply, stored at sending time.
	if err := ix.AddSentDM("bob", "alice", 7, t0-1, "reply"); err != nil {
		t.Fatal(err)
	}
	if err := ix.AddSentDM("bob", "alice", 7, t0-1, "reply"); err != nil {
		t.Fatal(err)
	}
	text := func(m map[string][]DMEntry, user string) string {
		var s []string
		for _, e := range m[user] {
			s = append(s, fmt.Sprintf("%d:%s", e.ID, e.Text))
		}
		return strings.Join(s, ",")
	}
	got := ix.DirectMsgs("bob", 10, []UserRange{{User: "alice"}, {User: "carol"}})
	if text(got, "alice") != "0:one,1:two,2:three,3:old format,4:reply" || got["carol"] != nil {
		t.Fatalf("bob's DMs: %s", jsonOf(t, got))
	}
	if e := got["alice"][4]; !e.FromMe || e.From != "bob" || e.K != 7 {
		t.Fatalf("sent DM: %+v", e)
	}
	if e := got["alice"][1]; e.FromMe || e.From != "alice" || e.K != 2 || e.Time != t0-20 {
		t.Fatalf("received DM: %+v", e)
	}
	for _, tc := range []struct {
		count      int
		max, since *int64
		want       string
	}{
		{2, nil, nil, "3:old format,4:reply"},
		{10, i64(2), nil, "0:one,1:two,2:three"},
		{1, i64(2), nil, "2:three"},
		{10, nil, i64(2), "3:old format,4:reply"},
		{10, i64(3), i64(1), "2:three,3:old format"},
		{0, nil, nil, ""},
		{10, i64(-1), nil, ""},
	} {
		m := ix.DirectMsgs("bob", tc.count, []UserRange{{User: "alice", MaxID: tc.max, SinceID: tc.since}})
		if g := text(m, "alice"); g != tc.want {
			t.Errorf("count %d max %v since %v: %s, want %s", tc.count, tc.max, tc.since, g, tc.want)
		}
	}
	// Once bob follows carol, a rescan picks her DM up, and nothing is
	// duplicated.
	r.follow("bob", "carol")
	if err := ix.RescanDMs(); err != nil {
		t.Fatal(err)
	}
	got = ix.DirectMsgs("bob", 10, []UserRange{{User: "alice"}, {User: "carol"}})
	if text(got, "alice") != "0:one,1:two,2:three,3:old format,4:reply" || text(got, "carol") != "0:spam" {
		t.Fatalf("after rescan: %s", jsonOf(t, got))
	}
	// Another local key (alice's) reads nothing: the DMs are sealed to
	// bob.
	r.add("alice", a)
	r.follow("alice", "alice")
	if err := ix.RescanDMs(); err != nil {
		t.Fatal(err)
	}
	if got := ix.DirectMsgs("alice", 10, []UserRange{{User: "bob"}}); len(got) != 0 {
		t.Fatalf("alice: %s", jsonOf(t, got))
	}
	// search directmsgs.
	res, err := ix.Search("directmsgs", "O", 10, SearchOptions{Username: "bob", Case: "insensitive"})
	if err != nil {
		t.Fatal(err)
	}
	if g := jsonOf(t, res); g != `[{"from":"alice","fromMe":0,"k":4,"remoteUser":"alice","text":"old format","time":1799999995},{"from":"alice","fromMe":0,"k":2,"remoteUser":"alice","text":"two","time":1799999980},{"from":"alice","fromMe":0,"k":1,"remoteUser":"alice","text":"one","time":1799999970}]` {
		t.Fatalf("search directmsgs: %s", g)
	}
	if res, _ := ix.Search("directmsgs", "reply", 10, SearchOptions{Username: "nobody"}); jsonOf(t, res) != "[]" {
		t.Fatalf("search directmsgs of nobody: %s", jsonOf(t, res))
	}
}

// TestGroupChat: invitation, members, group messages and description
// changes, through the wallet callbacks.
func TestGroupChat(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	r := newRing()
	alice, bob, carol := genKey(t), genKey(t), genKey(t)
	group := genKey(t)
	r.add("bob", bob)
	r.add("carol", carol)
	members := map[string]bool{}
	var invites []GroupInvite
	opts := Options{Clock: c.Now, KeyRing: r,
		OnGroupInvite: func(ev GroupInvite) string {
			invites = append(invites, ev)
			if ev.Key == nil || !bytes.Equal(ev.Key.Bytes(), group.Bytes()) {
				t.Errorf("invite key mismatch")
			}
			r.add("*grpalias", ev.Key)
			if ev.Local != "*grpalias" {
				r.mu.Lock()
				if !contains(r.groups["*grpalias"], ev.Local) {
					r.groups["*grpalias"] = append(r.groups["*grpalias"], ev.Local)
				}
				r.mu.Unlock()
			}
			return "*grpalias"
		},
		OnGroupMembers: func(ev GroupMembers) []string {
			var added []string
			for _, m := range ev.Members {
				if !members[m] {
					members[m] = true
					added = append(added, m)
				}
			}
			return added
		},
	}
	ix := openIndex(t, "", opts)
	invite := dm.GroupInvite{Desc: "our group", Key: group.Secret()}.Encode()
	s, _ := dm.Encrypt(bob.PubKey(), invite)
	// bob does not follow alice yet: twisterd drops any non-group DM from
	// a user not followed, invitations included.
	mustAdd(t, ix, must(post.NewSealedDM(alice, "alice", 1, t0-100, 1, s)))
	if len(invites) != 0 {
		t.Fatal("invite from a user bob does not follow was processed")
	}
	r.follow("bob", "alice")
	if err := ix.RescanDMs(); err != nil {
		t.Fatal(err)
	}
	if len(invites) != 1 || invites[0].Local != "bob" || invites[0].From != "alice" || invites[0].Desc != "our group" || invites[0].K != 1 {
		t.Fatalf("invites: %+v", invites)
	}
	// Members list and a message sent to the group key.
	s, _ = dm.Encrypt(group.PubKey(), dm.GroupMembers{"alice", "bob", "", "dave"}.Encode())
	mustAdd(t, ix, must(post.NewSealedDM(alice, "alice", 2, t0-90, 1, s)))
	mustAdd(t, ix, must(post.NewDM(alice, "alice", 3, t0-80, 1, group.PubKey(), "*alicesalias", "hello group")))
	// Description change: an invite sent to the group key.
	s, _ = dm.Encrypt(group.PubKey(), dm.GroupInvite{Desc: "new desc", Key: group.Secret()}.Encode())
	mustAdd(t, ix, must(post.NewSealedDM(alice, "alice", 4, t0-70, 1, s)))
	// carol is not a member: nothing for her even though the key is in
	// the wallet.
	got := ix.DirectMsgs("bob", 10, []UserRange{{User: "*grpalias"}})
	var lines []string
	for _, e := range got["*grpalias"] {
		lines = append(lines, fmt.Sprintf("%d %s %v %d %s", e.ID, e.From, e.FromMe, e.K, e.Text))
	}
	want := []string{
		"0 alice false 1 *** Invited by 'alice' to group: our group",
		// Equal times: each later notice goes first, as in twisterd.
		"1 alice false 2 *** New member 'dave' invited by 'alice'",
		"2 alice false 2 *** New member 'bob' invited by 'alice'",
		"3 alice false 2 *** New member 'alice' invited by 'alice'",
		"4 alice false 3 hello group",
		"5 alice false 4 *** 'alice' changed group description to: new desc",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("group conversation:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if got := ix.DirectMsgs("carol", 10, []UserRange{{User: "*grpalias"}}); len(got) != 0 {
		t.Fatalf("carol: %s", jsonOf(t, got))
	}
	// A rescan re-runs the callbacks but stores nothing twice.
	if err := ix.RescanDMs(); err != nil {
		t.Fatal(err)
	}
	if n := len(ix.DirectMsgs("bob", 10, []UserRange{{User: "*grpalias"}})["*grpalias"]); n != 6 {
		t.Fatalf("after rescan: %d messages", n)
	}
	// A group invite with a broken key is dropped without calling back.
	s, _ = dm.Encrypt(bob.PubKey(), dm.GroupInvite{Desc: "x", Key: "notakey"}.Encode())
	n := len(invites)
	mustAdd(t, ix, must(post.NewSealedDM(alice, "alice", 5, t0-60, 1, s)))
	if len(invites) != n {
		t.Fatal("broken invite called back")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// TestMentions: followed authors only, ids, time filter, AddMention.
func TestMentions(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	r := newRing()
	a, b, cr := genKey(t), genKey(t), genKey(t)
	r.add("bob", b)
	r.follow("bob", "alice")
	ix := openIndex(t, "", Options{Clock: c.Now, KeyRing: r})
	mustAdd(t, ix, must(post.NewPost(a, "alice", 1, t0-10, 1, "hi @Bob!", nil, nil)))
	mustAdd(t, ix, must(post.NewPost(cr, "carol", 1, t0-5, 1, "hi @bob from carol", nil, nil)))       // not followed
	mustAdd(t, ix, must(post.NewPost(a, "alice", 2, t0+3*3600, 1, "@bob from the future", nil, nil))) // kept, not shown
	mustAdd(t, ix, must(post.NewPost(a, "alice", 3, t0-3, 1, "no mention of bob", nil, nil)))
	mustAdd(t, ix, must(post.NewDM(a, "alice", 4, t0-2, 1, b.PubKey(), "bob", "@bob secret")))
	// A mention found in the DHT (carol's post), and a duplicate.
	carolPost := must(post.NewPost(cr, "carol", 2, t0-1, 1, "dht @bob", nil, nil))
	for range 2 {
		if err := ix.AddMention("bob", carolPost); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.AddMention("bob", []byte("junk")); err == nil {
		t.Fatal("junk mention accepted")
	}
	ids := func(ms []any) string {
		var s []string
		for _, m := range ms {
			mm := m.(map[string]any)
			s = append(s, fmt.Sprintf("%d:%s", mm["id"], mm["userpost"].(map[string]any)["msg"]))
		}
		return strings.Join(s, ",")
	}
	if got := ids(ix.Mentions("bob", 10, nil, nil)); got != "0:hi @Bob!,2:dht @bob" {
		t.Fatalf("mentions: %s", got)
	}
	if got := ids(ix.Mentions("bob", 1, nil, nil)); got != "2:dht @bob" {
		t.Fatalf("mentions count 1: %s", got)
	}
	if got := ids(ix.Mentions("bob", 10, i64(1), nil)); got != "0:hi @Bob!" {
		t.Fatalf("mentions max 1: %s", got)
	}
	c.set(t0 + 2*3600) // the future post is now within two hours
	if got := ids(ix.Mentions("bob", 10, nil, i64(0))); got != "1:@bob from the future,2:dht @bob" {
		t.Fatalf("mentions since 0: %s", got)
	}
	if got := ix.Mentions("alice", 10, nil, nil); len(got) != 0 {
		t.Fatal("alice has mentions")
	}
}

// TestTrendingDecay checks the 8-hour half-life against an injected clock.
func TestTrendingDecay(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	path := t.TempDir() + "/tl.db"
	ix := openIndex(t, path, Options{Clock: c.Now})
	a := genKey(t)
	k := int64(0)
	add := func(tm int64, msg string) {
		mustAdd(t, ix, must(post.NewPost(a, "alice", k, tm, 1, msg, nil, nil)))
		k++
	}
	add(t0, "#Now")
	add(t0-8*3600, "#old #old")           // 0.5 (each tag once per post)
	add(t0-16*3600, "#older")             // 0.25
	add(t0-16*3600, "#older")             // 0.5 in all
	add(t0+3600, "#future counts as now") // 1
	if got := ix.TrendingHashtags(10); strings.Join(got, ",") != "future,now,old,older" {
		t.Fatalf("trending: %v", got)
	}
	score := func(tag string) float64 {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		return ix.tags[tag].at(c.Now().Unix())
	}
	for tag, want := range map[string]float64{"now": 1, "old": 0.5, "older": 0.5, "future": 1} {
		if got := score(tag); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: %v, want %v", tag, got, want)
		}
	}
	c.set(t0 + 8*3600)
	add(t0+8*3600, "#old")
	if got := score("old"); math.Abs(got-1.25) > 1e-9 {
		t.Fatalf("old after 8 h and a new vote: %v, want 1.25", got)
	}
	if got := ix.TrendingHashtags(2); strings.Join(got, ",") != "old,future" {
		t.Fatalf("trending top 2: %v", got)
	}
	if got := ix.TrendingHashtags(0); len(got) != 0 {
		t.Fatal("count 0")
	}
	// Search hashtags: shortest first.
	res, err := ix.Search("hashtags", "OL", 10, SearchOptions{})
	if err != nil || jsonOf(t, res) != `["old","older"]` {
		t.Fatalf("search hashtags: %v %s", err, jsonOf(t, res))
	}
	// Scores survive a restart.
	ix.Close()
	ix = openIndex(t, path, Options{Clock: c.Now})
	if got := ix.TrendingHashtags(2); strings.Join(got, ",") != "old,future" {
		t.Fatalf("after reopen: %v", got)
	}
	// A week and a day later everything has expired (0.5^21).
	c.set(t0 + 8*24*3600)
	if got := ix.TrendingHashtags(10); len(got) != 0 {
		t.Fatalf("after 8 days: %v", got)
	}
	ix.Close()
	ix = openIndex(t, path, Options{Clock: c.Now})
	if len(ix.tags) != 0 {
		t.Fatalf("expired tags kept on reopen: %v", ix.tags)
	}
}

// TestPromoted checks the one-every-8-hours rule and the language choice.
func TestPromoted(t *testing.T) {
	c := &clock{}
	c.set(t0)
	coin := 0.9
	ix := openIndex(t, "", Options{Clock: c.Now, Rand: func() float64 { return coin }})
	now := time.Unix(t0, 0)
	if _, ok := ix.PromotedFor(now, 10); ok {
		t.Fatal("promoted post without a message")
	}
	ix.ReceivedSpam("miner", "buy stickers [en]", 9)
	ix.ReceivedSpam("miner2", "compre adesivos [pt]", 10) // pending already: kept out
	p, ok := ix.PromotedFor(now, 10)
	if !ok || jsonOf(t, p) != `{"sig_userpost":"","userpost":{"height":9,"k":9,"msg":"buy stickers [en]","n":"miner","time":1800000000}}` {
		t.Fatalf("promoted: %v %s", ok, jsonOf(t, p))
	}
	ix.ReceivedSpam("miner2", "second [en]", 11)
	if _, ok := ix.PromotedFor(now.Add(8*time.Hour), 12); ok {
		t.Fatal("a second promoted post within 8 hours")
	}
	// A preferred-language message replaces the pending one half the time.
	coin = 0.1
	ix.ReceivedSpam("miner3", "third [en] [pt]", 12) // two tags: not preferred
	ix.ReceivedSpam("miner4", "fourth [en]", 13)
	p, ok = ix.PromotedFor(now.Add(8*time.Hour+time.Second), 14)
	if !ok || p["userpost"].(map[string]any)["msg"] != "fourth [en]" {
		t.Fatalf("after 8 h: %v %v", ok, p)
	}
	if ix.PreferredSpamLang() != "[en]" {
		t.Fatal("default language")
	}
	ix.SetPreferredSpamLang("[pt]")
	ix.ReceivedSpam("genesis", "genesis msg [pt]", 0)
	p, ok = ix.PromotedFor(now.Add(17*time.Hour), 20)
	if !ok || jsonOf(t, p) != `{"sig_userpost":"","userpost":{"height":20,"k":1,"msg":"genesis msg [pt]","n":"genesis","time":1800061200}}` {
		t.Fatalf("genesis promoted: %s", jsonOf(t, p))
	}
}

// TestSearch covers the messages, favorites, profiles, users and words
// scopes and the matching options.
func TestSearch(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	r := newRing()
	a, b := genKey(t), genKey(t)
	r.add("bob", b)
	ix := openIndex(t, "", Options{Clock: c.Now, KeyRing: r,
		Profiles: func(yield func(string, map[string]any) bool) {
			for _, p := range []struct {
				user string
				prof map[string]any
			}{
				{"zed", map[string]any{"fullname": "Zed Go", "bio": "gopher"}},
				{"amy", map[string]any{"location": "Gotham"}},
				{"bob", map[string]any{"url": "http://x"}},
			} {
				if !yield(p.user, p.prof) {
					return
				}
			}
		},
	})
	day := int64(24 * 3600)
	a1 := must(post.NewPost(a, "alice", 1, t0-10*day, 1, "Hello old World", nil, nil))
	a2 := must(post.NewPost(a, "alice", 2, t0-day/2, 1, "hello new world #golang", nil, nil))
	mustAdd(t, ix, a1)
	mustAdd(t, ix, a2)
	o1, _ := post.OriginalOf(a1)
	mustAdd(t, ix, must(post.NewRetwist(b, "bob", 1, t0-100, 1, o1, "", nil)))
	mustAdd(t, ix, must(post.NewRetwist(b, "bob", 2, t0-50, 1, o1, "bob says goodbye", nil)))
	mustAdd(t, ix, must(post.NewDM(a, "alice", 3, t0, 1, b.PubKey(), "bob", "hello secret")))
	mustAdd(t, ix, must(post.NewFav(b, "bob", 3, t0-40, 1, o1, "nice hello")))
	mustAdd(t, ix, must(post.NewPrivateFav(b, "bob", 4, t0-30, 1, post.Original(o1), "private world")))

	ks := func(res any) string {
		var s []string
		for _, x := range res.([]any) {
			up := x.(map[string]any)["userpost"].(map[string]any)
			s = append(s, fmt.Sprintf("%s/%d", up["n"], up["k"]))
		}
		return strings.Join(s, ",")
	}
	search := func(scope, kw string, count int, o SearchOptions) any {
		t.Helper()
		res, err := ix.Search(scope, kw, count, o)
		if err != nil {
			t.Fatalf("search %s %q: %v", scope, kw, err)
		}
		return res
	}
	ci := "insensitive"
	for _, tc := range []struct {
		kw   string
		o    SearchOptions
		want string
	}{
		// Case-sensitive: "Hello" in alice/1 and in the original of the
		// retwists does not match.
		{"hello", SearchOptions{}, "alice/2"},
		{"hello", SearchOptions{Case: ci}, "bob/2,bob/1,alice/2,alice/1"},
		{"world hello", SearchOptions{Mode: "all", Case: ci}, "bob/2,bob/1,alice/2,alice/1"},
		{"world hello", SearchOptions{}, ""},
		{"goodbye nothing", SearchOptions{Mode: "any"}, "bob/2"},
		// At least a day old: the original's time counts for a retwist.
		{"world", SearchOptions{AgeMin: i64(1), Case: ci}, "bob/2,bob/1,alice/1"},
		// At most a day old: bob/2 by its comment's time.
		{"world", SearchOptions{AgeMax: i64(1), Case: ci}, "bob/2,alice/2"},
		{"world", SearchOptions{Username: "alice", Case: ci}, "alice/2,alice/1"},
		// bob's swarm: only the retwist with a comment is his.
		{"world", SearchOptions{Username: "bob", Case: ci}, "bob/2"},
		{"secret", SearchOptions{}, ""}, // DMs are not searched
	} {
		if got := ks(search("messages", tc.kw, 10, tc.o)); got != tc.want {
			t.Errorf("messages %q %+v: %s, want %s", tc.kw, tc.o, got, tc.want)
		}
	}
	if got := ks(search("messages", "world", 1, SearchOptions{Case: ci})); got != "bob/2" {
		t.Errorf("count 1: %s", got)
	}
	// favorites: public and private ones of bob (private decrypted).
	if got := ks(search("favorites", "world", 10, SearchOptions{})); got != "bob/4" {
		t.Fatalf("favorites, case-sensitive: %s", got)
	}
	if got := ks(search("favorites", "world", 10, SearchOptions{Case: ci})); got != "bob/4,bob/3" {
		t.Fatalf("favorites: %s", got)
	}
	if got := ks(search("favorites", "private", 10, SearchOptions{Username: "bob"})); got != "bob/4" {
		t.Fatalf("favorites by comment: %s", got)
	}
	if got := ks(search("favorites", "world", 10, SearchOptions{Username: "alice"})); got != "" {
		t.Fatalf("favorites of alice: %s", got)
	}
	// profiles.
	if got := jsonOf(t, search("profiles", "Go", 10, SearchOptions{})); got != `[{"profile":{"location":"Gotham"},"username":"amy"},{"profile":{"bio":"gopher","fullname":"Zed Go"},"username":"zed"}]` {
		t.Fatalf("profiles: %s", got)
	}
	if got := jsonOf(t, search("profiles", "go", 1, SearchOptions{Case: "insensitive"})); got != `[{"profile":{"location":"Gotham"},"username":"amy"}]` {
		t.Fatalf("profiles count 1: %s", got)
	}
	// words (local word index).
	// bob/4 is a private favourite: not indexed.
	if got := ks(search("words", "World hello", 10, SearchOptions{})); got != "bob/3,bob/2,bob/1,alice/2,alice/1" {
		t.Fatalf("words: %s", got)
	}
	if got := ks(search("words", "golang goodbye", 10, SearchOptions{Mode: "any"})); got != "bob/2,alice/2" {
		t.Fatalf("words any: %s", got)
	}
	if got := ks(search("words", "golang goodbye", 10, SearchOptions{})); got != "" {
		t.Fatalf("words all: %s", got)
	}
	// Errors.
	if _, err := ix.Search("messages", "", 10, SearchOptions{}); !errors.Is(err, ErrSearch) {
		t.Fatalf("empty text: %v", err)
	}
	if _, err := ix.Search("users", "a", 10, SearchOptions{}); !errors.Is(err, ErrNoSource) {
		t.Fatalf("users without source: %v", err)
	}
}

// TestBoundedSearch: a search stops after MaxSearchScan posts.
func TestBoundedSearch(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	ix := openIndex(t, "", Options{Clock: c.Now, MaxSearchScan: 5})
	a := genKey(t)
	var raws [][]byte
	for k := range int64(20) {
		raws = append(raws, must(post.NewPost(a, "alice", k, t0-k, 1, "needle", nil, nil)))
	}
	if _, errs := ix.AddPosts(raws); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	res, _ := ix.Search("messages", "needle", 100, SearchOptions{})
	if n := len(res.([]any)); n != 5 {
		t.Fatalf("bounded search found %d", n)
	}
	if n := len(ix.WordPosts([]string{"needle"}, true, 100)); n != 5 {
		t.Fatalf("bounded word search found %d", n)
	}
}

// TestConcurrentUse adds and queries from several goroutines (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	must := mustPost(t)
	c := &clock{}
	c.set(t0)
	r := newRing()
	ix := openIndex(t, "", Options{Clock: c.Now, KeyRing: r, CachePerUser: 4, CacheUsers: 2})
	const users, per = 4, 15
	raws := make([][][]byte, users)
	var names []UserRange
	ks := make([]*keys.PrivateKey, users)
	for u := range ks {
		ks[u] = genKey(t)
	}
	for u := range users {
		key := ks[u]
		name := fmt.Sprintf("u%d", u)
		r.add(name, key)
		r.follow(name, "u0", "u1", "u2", "u3")
		names = append(names, UserRange{User: name})
		for k := range int64(per) {
			if k%5 == 4 {
				raws[u] = append(raws[u], must(post.NewDM(key, name, k, t0-k, 1, ks[0].PubKey(), "u0", fmt.Sprintf("dm %d", k))))
				continue
			}
			raws[u] = append(raws[u], must(post.NewPost(key, name, k, t0-k, 1, fmt.Sprintf("@u0 #t%d word", k), nil, nil)))
		}
	}
	done := make(chan error, users+2)
	for u := range users {
		go func() {
			for _, raw := range raws[u] {
				if _, err := ix.AddPost(raw); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		go func() {
			for range 50 {
				ix.Posts(10, names, DefaultAllowed, 0)
				ix.PostsJSON(10, names, 0xff, 0)
				ix.Mentions("u0", 10, nil, nil)
				ix.DirectMsgs("u0", 10, names)
				ix.TrendingHashtags(5)
				ix.Search("messages", "word", 5, SearchOptions{})
				ix.WordPosts([]string{"word"}, true, 5)
			}
			done <- nil
		}()
	}
	for range users + 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := ix.NumPieces([]string{"u3"})["u3"]; n != per {
		t.Fatalf("NumPieces = %d", n)
	}
	if n := len(ix.Posts(100, names, 0xff, 0)); n != users*per {
		t.Fatalf("%d posts held", n)
	}
	if n := len(ix.Mentions("u0", 100, nil, nil)); n != users*12 {
		t.Fatalf("%d mentions", n)
	}
	// u0 receives 3 DMs from each user (u0's own: copies to self, filed
	// under "u0" as the payload names u0).
	if got := ix.DirectMsgs("u0", 100, names); len(got["u1"]) != 3 || len(got["u3"]) != 3 || len(got["u0"]) != 3 || !got["u0"][0].FromMe {
		t.Fatalf("DMs: %s", jsonOf(t, got))
	}
}
