package node

import (
	"fmt"
	"testing"
	"time"
)

// TestNeighborJoinsSwarm: a node that is a DHT neighbour of a user's tracker
// joins that user's swarm when asked for its peers, and then holds the
// user's posts although none of its users follows them (paper §9).
func TestNeighborJoinsSwarm(t *testing.T) {
	a := startNode(t, "127.0.5.11")
	join := []string{fmt.Sprintf("-addnode=127.0.5.11:%d", a.cfg.Port), fmt.Sprintf("-dhtnode=127.0.5.11:%d", a.cfg.DHTPort())}
	b := startNode(t, "127.0.5.12", join...)
	c := startNode(t, "127.0.5.13", join...)
	registerUsers(t, a, "alice")
	b.must("createwalletuser", "bob")
	b.must("sendnewusertransaction", "bob")
	waitFor(t, 10*time.Second, "bob's registration at A", func() bool { return a.Chain.MempoolSize() == 1 })
	a.must("setgenerate", true, 2)
	waitFor(t, 20*time.Second, "chain on all nodes", func() bool {
		return b.Chain.UserExists("bob") && c.Chain.UserExists("bob") && c.Chain.Height() == a.Chain.Height()
	})
	waitFor(t, 15*time.Second, "DHT tables", func() bool {
		return a.net.DHT.Stats().Nodes >= 2 && b.net.DHT.Stats().Nodes >= 2 && c.net.DHT.Stats().Nodes >= 2
	})
	a.must("newpostmsg", "alice", 1, "first")
	a.must("newpostmsg", "alice", 2, "second")
	// alice's status must be in the DHT before anyone asks for her peers.
	waitFor(t, 10*time.Second, "alice's status in the DHT", func() bool {
		return len(decode[[]any](t, c.must("dhtget", "alice", "status", "s", 1000))) == 1
	})
	b.must("follow", "bob", []string{"alice"})
	waitFor(t, 40*time.Second, "C joins alice's swarm as a neighbour", func() bool {
		for _, u := range c.Neighbors() {
			if u == "alice" {
				return true
			}
		}
		return false
	})
	waitFor(t, 20*time.Second, "C holds alice's posts", func() bool { return c.LastHave("alice") == 2 })
	if f := decode[[]string](t, c.must("listwalletusers")); len(f) != 0 {
		t.Fatal("C has local users")
	}
}
