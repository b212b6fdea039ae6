package node

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// registerUsers creates, registers and mines the given users on n, leaving
// the chain two blocks past their registration so they can post.
func registerUsers(t *testing.T, n *testNode, users ...string) {
	t.Helper()
	for _, u := range users {
		n.must("createwalletuser", u)
		n.must("sendnewusertransaction", u)
	}
	h := n.Chain.Height()
	n.must("setgenerate", true, 2)
	waitFor(t, 20*time.Second, "two blocks", func() bool { return n.Chain.Height() >= h+2 })
}

func TestSocialRPCSingleNode(t *testing.T) {
	n := startNode(t, "127.0.4.10")
	registerUsers(t, n, "alice", "carol")

	p1 := decode[map[string]any](t, n.must("newpostmsg", "alice", 1, "hello world"))
	up := p1["userpost"].(map[string]any)
	if up["msg"] != "hello world" || up["n"] != "alice" || up["k"].(float64) != 1 {
		t.Fatalf("post %v", p1)
	}
	if _, ok := up["lastk"]; ok {
		t.Fatal("first post has lastk")
	}
	if sig, _ := p1["sig_userpost"].(string); len(sig) != 130 {
		t.Fatalf("sig %q", sig)
	}
	p2 := decode[map[string]any](t, n.must("newpostmsg", "alice", 2, "hi @carol, check #twister and #golang"))
	if p2["userpost"].(map[string]any)["lastk"].(float64) != 1 {
		t.Fatal("lastk")
	}
	// Bad input: reused k, 141 characters, unknown user, wrong types.
	n.mustErr(-8, "newpostmsg", "alice", 1, "dup")
	n.mustErr(-8, "newpostmsg", "alice", 3, strings.Repeat("x", 141))
	n.mustErr(-32603, "newpostmsg", "nosuch", 1, "x")
	n.mustErr(-1, "newpostmsg", "alice", "three", "x")
	n.mustErr(-1, "newpostmsg", "alice")
	n.mustErr(-8, "newpostmsg", "alice", 999, "too far")

	reply := decode[map[string]any](t, n.must("newpostmsg", "carol", 1, "@alice nice to meet you", "alice", 1))
	if r := reply["userpost"].(map[string]any)["reply"].(map[string]any); r["n"] != "alice" || r["k"].(float64) != 1 {
		t.Fatalf("reply %v", reply)
	}
	rt := decode[map[string]any](t, n.must("newrtmsg", "carol", 2, p2))
	if rt["userpost"].(map[string]any)["rt"].(map[string]any)["k"].(float64) != 2 {
		t.Fatalf("rt %v", rt)
	}
	rtc := decode[map[string]any](t, n.must("newrtmsg", "carol", 3, p1, "commented RT"))
	if _, ok := rtc["sig_wort"]; !ok {
		t.Fatal("commented RT without sig_wort")
	}
	n.mustErr(-8, "newrtmsg", "carol", 9, map[string]any{"foo": 1})
	forged := decode[map[string]any](t, n.must("newpostmsg", "alice", 3, "original"))
	forged["userpost"].(map[string]any)["msg"] = "tampered"
	n.mustErr(-8, "newrtmsg", "carol", 9, forged)
	n.must("newfavmsg", "carol", 4, p1)
	n.must("newfavmsg", "carol", 5, p2, true, "private fav comment")

	n.must("follow", "carol", []string{"alice", "carol"})
	n.mustErr(-1, "follow", "carol", "alice")
	n.mustErr(-11, "follow", "nosuchuser", []string{"alice"})
	if f := decode[[]string](t, n.must("getfollowing", "carol")); strings.Join(f, ",") != "alice,carol" {
		t.Fatalf("following %v", f)
	}
	posts := decode[[]map[string]any](t, n.must("getposts", 20, []map[string]any{{"username": "alice"}, {"username": "carol"}}))
	if len(posts) < 6 {
		t.Fatalf("getposts %d posts", len(posts))
	}
	for _, p := range posts {
		if p["userpost"].(map[string]any)["fav"] != nil {
			t.Fatal("favourite in default getposts")
		}
	}
	n.mustErr(-1, "getposts", 5, map[string]any{"username": "alice"})
	lh := decode[map[string]int64](t, n.must("getlasthave", "carol"))
	if lh["alice"] != 3 || lh["carol"] != 5 {
		t.Fatalf("lasthave %v", lh)
	}

	// Direct messages both ways, on one node.
	n.must("follow", "alice", []string{"carol"})
	n.must("newdirectmsg", "alice", 4, "carol", "secret message to carol")
	n.must("newdirectmsg", "carol", 6, "alice", "hi back alice")
	n.mustErr(-32603, "newdirectmsg", "alice", 5, "nosuchuser", "x")
	waitFor(t, 5*time.Second, "DMs", func() bool {
		d := decode[map[string][]map[string]any](t, n.must("getdirectmsgs", "carol", 10, []map[string]any{{"username": "alice"}}))
		return len(d["alice"]) == 2
	})
	d := decode[map[string][]map[string]any](t, n.must("getdirectmsgs", "carol", 10, []map[string]any{{"username": "alice"}}))
	sameKeys(t, "dm entry", d["alice"][0], "id", "time", "text", "fromMe", "from", "k")

	m := decode[[]map[string]any](t, n.must("getmentions", "carol", 10))
	if len(m) == 0 {
		t.Fatal("no mention of carol")
	}
	favs := decode[[]map[string]any](t, n.must("getfavs", "carol", 10))
	if len(favs) != 2 {
		t.Fatalf("favs %d", len(favs))
	}
	sp := decode[[]any](t, n.must("getspamposts", 10))
	if len(sp) == 0 {
		t.Fatal("no spam posts")
	}
	if got := decode[[]string](t, n.must("search", "users", "a", 10)); len(got) == 0 {
		t.Fatal("search users")
	}
	n.mustErr(-1, "search", "nosuchscope", "x", 10)

	// Groups.
	alias := decode[string](t, n.must("creategroup", "golden test group"))
	if !strings.HasPrefix(alias, "*") || len(alias) != 9 {
		t.Fatalf("alias %q", alias)
	}
	n.must("newgroupinvite", "alice", 10, alias, []string{"carol"})
	info := decode[map[string]any](t, n.must("getgroupinfo", alias))
	sameKeys(t, "getgroupinfo", info, "alias", "description", "members")
	n.mustErr(-32603, "getgroupinfo", "*nosuchgroup")
	n.must("leavegroup", "alice", alias)

	// Short URLs and peeks.
	su := decode[[]string](t, n.must("newshorturl", "alice", 20, "https://example.org/a/very/long/url"))
	dec := decode[[]string](t, n.must("decodeshorturl", su[0], 5))
	if dec[0] != "https://example.org/a/very/long/url" {
		t.Fatalf("decodeshorturl %v", dec)
	}
	n.mustErr(-32700, "decodeshorturl", "nottwist", 5)
	if msg := decode[string](t, n.must("peekpost", "alice", 1, "msg")); msg != "hello world" {
		t.Fatal(msg)
	}
	n.mustErr(-24, "peekpost", "alice", 99, "*", 1)

	// DHT on a node alone: the put is kept and served locally.
	n.must("dhtput", "alice", "profile", "s", map[string]any{"fullname": "Alice Example", "bio": "golden"}, "alice", 1)
	n.mustErr(-4, "dhtput", "carol", "profile", "s", map[string]any{"fullname": "x"}, "alice", 1)
	n.mustErr(-8, "dhtput", "alice", "profile", "x", "v", "alice", 1)
	n.mustErr(-8, "dhtget", "alice", "profile", "q")
	var got []any
	waitFor(t, 5*time.Second, "local profile", func() bool {
		got = decode[[]any](t, n.must("dhtget", "alice", "profile", "s", 500))
		return len(got) == 1
	})
	item := got[0].(map[string]any)
	sameKeys(t, "dhtget item", item, "p", "sig_p", "sig_user")
	b, _ := json.Marshal(item["p"])
	if !strings.Contains(string(b), `"fullname":"Alice Example"`) {
		t.Fatalf("profile %s", b)
	}
}

// TestFollowingPagesShrink: a public following list that shrinks below a
// page empties the pages it no longer fills (following2 after going from
// 250 names to 190), so no reader finds unfollowed names there.
func TestFollowingPagesShrink(t *testing.T) {
	n := startNode(t, "127.0.7.5")
	registerUsers(t, n, "pager")
	var names []string
	for i := range 250 {
		names = append(names, fmt.Sprintf("followed%03d", i))
	}
	n.must("follow", "pager", names)
	page := func(k int) []any {
		got := decode[[]map[string]any](t, n.must("dhtget", "pager", fmt.Sprintf("following%d", k), "s"))
		if len(got) == 0 {
			return nil
		}
		l, _ := got[0]["p"].(map[string]any)["v"].([]any)
		return l
	}
	waitFor(t, 10*time.Second, "two pages", func() bool { return len(page(1)) == 200 && len(page(2)) == 50 })
	n.must("unfollow", "pager", names[190:])
	waitFor(t, 10*time.Second, "page 1 with 190 names and page 2 emptied", func() bool { return len(page(1)) == 190 && len(page(2)) == 0 })
	if got := page(2); got == nil {
		t.Error("following2 vanished instead of being emptied")
	}
}
