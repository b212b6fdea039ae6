package node

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTwoNodesEndToEnd is the node issue's end-to-end check over real
// sockets: two nodes on distinct loopback addresses share the chain over
// P2P, posts over the swarm and profiles over the DHT.
func TestTwoNodesEndToEnd(t *testing.T) {
	a := startNode(t, "127.0.5.1")
	b := startNode(t, "127.0.5.2",
		fmt.Sprintf("-addnode=127.0.5.1:%d", a.cfg.Port),
		fmt.Sprintf("-dhtnode=127.0.5.1:%d", a.cfg.DHTPort()))
	waitFor(t, 10*time.Second, "P2P connection", func() bool {
		return decode[int](t, a.must("getconnectioncount")) == 1 && decode[int](t, b.must("getconnectioncount")) == 1
	})
	peers := decode[[]map[string]any](t, b.must("getpeerinfo"))
	sameKeys(t, "getpeerinfo", peers[0], keysOf(transcriptResult(t, "getpeerinfo", "leaf A").([]any)[0].(map[string]any))...)

	// alice on A, bob on B; registrations travel to A's miner.
	a.must("createwalletuser", "alice")
	a.must("sendnewusertransaction", "alice")
	b.must("createwalletuser", "bob")
	b.must("sendnewusertransaction", "bob")
	waitFor(t, 10*time.Second, "bob's registration at A", func() bool { return a.Chain.MempoolSize() == 2 })
	a.must("setgenerate", true, 2)
	waitFor(t, 20*time.Second, "two blocks on both nodes", func() bool { return a.Chain.Height() == 2 && b.Chain.Height() == 2 })
	if got := decode[string](t, b.must("dumppubkey", "alice")); got == "" {
		t.Fatal("B does not know alice's key")
	}
	waitFor(t, 15*time.Second, "DHT nodes", func() bool {
		return decode[map[string]any](t, a.must("getinfo"))["dht_nodes"].(float64) >= 1 &&
			decode[map[string]any](t, b.must("getinfo"))["dht_nodes"].(float64) >= 1
	})

	// bob follows alice before she posts.
	b.must("follow", "bob", []string{"alice", "bob"})
	a.must("follow", "alice", []string{"alice", "bob"})
	time.Sleep(300 * time.Millisecond)

	posted := time.Now()
	a.must("newpostmsg", "alice", 1, "hello from node A")
	var seen time.Duration
	waitFor(t, 10*time.Second, "alice's post at B", func() bool {
		ps := decode[[]map[string]any](t, b.must("getposts", 10, []map[string]any{{"username": "alice"}}))
		if len(ps) == 1 {
			seen = time.Since(posted)
			return true
		}
		return false
	})
	t.Logf("first post reached the follower in %v", seen)
	if seen > 2*time.Second {
		t.Errorf("post took %v to reach the follower (want ≤ 2 s)", seen)
	}
	a.must("newpostmsg", "alice", 2, "a reply", "alice", 1)
	p1 := decode[map[string]any](t, a.must("peekpost", "alice", 1))
	a.must("newrtmsg", "alice", 3, p1)
	a.must("newpostmsg", "alice", 4, "hey @bob, welcome #twister")
	start := time.Now()
	waitFor(t, 5*time.Second, "all of alice's posts at B", func() bool {
		return decode[map[string]int64](t, b.must("getnumpieces", "bob"))["alice"] == 4
	})
	t.Logf("three more posts reached the follower in %v", time.Since(start))
	ps := decode[[]map[string]any](t, b.must("getposts", 10, []map[string]any{{"username": "alice"}}))
	if len(ps) != 4 {
		t.Fatalf("B sees %d posts", len(ps))
	}
	if ps[0]["userpost"].(map[string]any)["k"].(float64) != 4 {
		t.Fatal("getposts not newest first")
	}

	// Profile through the DHT.
	a.must("dhtput", "alice", "profile", "s", map[string]any{"fullname": "Alice Example", "bio": "node A"}, "alice", 1)
	var prof []map[string]any
	waitFor(t, 10*time.Second, "alice's profile at B", func() bool {
		prof = decode[[]map[string]any](t, b.must("dhtget", "alice", "profile", "s", 2000))
		return len(prof) == 1
	})
	v := prof[0]["p"].(map[string]any)["v"].(map[string]any)
	if v["fullname"] != "Alice Example" {
		t.Fatalf("profile %v", v)
	}

	// A mention of bob by a followed user, and a DM to bob.
	waitFor(t, 5*time.Second, "mention at B", func() bool {
		return len(decode[[]any](t, b.must("getmentions", "bob", 10))) >= 1
	})
	a.must("newdirectmsg", "alice", 5, "bob", "a secret for bob")
	waitFor(t, 5*time.Second, "DM at B", func() bool {
		d := decode[map[string][]map[string]any](t, b.must("getdirectmsgs", "bob", 10, []map[string]any{{"username": "alice"}}))
		return len(d["alice"]) == 1 && d["alice"][0]["text"] == "a secret for bob" && d["alice"][0]["fromMe"] == false
	})

	// And back: bob posts, alice (following bob) sees it, and a DM back.
	b.must("newpostmsg", "bob", 1, "hi @alice from node B")
	waitFor(t, 5*time.Second, "bob's post at A", func() bool {
		return len(decode[[]any](t, a.must("getposts", 10, []map[string]any{{"username": "bob"}}))) == 1
	})
	b.must("newdirectmsg", "bob", 2, "alice", "thanks alice")
	waitFor(t, 5*time.Second, "DM at A", func() bool {
		d := decode[map[string][]map[string]any](t, a.must("getdirectmsgs", "alice", 10, []map[string]any{{"username": "bob"}}))
		return len(d["bob"]) == 2
	})
	raw, _ := json.Marshal(decode[any](t, a.must("getdirectmsgs", "alice", 10, []map[string]any{{"username": "bob"}})))
	if !strings.Contains(string(raw), "thanks alice") {
		t.Fatalf("DMs %s", raw)
	}
}
