package dht

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/memnet"
	"github.com/gotwister/twister/resource"
)

// TestIDFollowsExternalAddress runs nodes on public addresses (in memory):
// one believes a wrong external address, so its id does not fit the
// address the others see. They refuse its queries and tell it its
// address; once three of them did, it derives its id from that address
// again (§3.3) and its puts are accepted.
func TestIDFollowsExternalAddress(t *testing.T) {
	ks, ch := users(t, "alice")
	nw := memnet.New(memnet.Config{})
	var peers []*DHT
	for i := range 4 {
		conn, err := nw.Listen(netip.AddrPortFrom(netip.AddrFrom4([4]byte{1, 0, 0, byte(i + 1)}), 4000))
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, startNode(t, conn, ch, nil))
	}
	for _, p := range peers[1:] {
		if err := p.Bootstrap(ctxT(t, 5*time.Second), addrOf(peers[0])); err != nil {
			t.Fatal(err)
		}
	}
	real := netip.MustParseAddr("2.0.0.9")
	conn, err := nw.Listen(netip.AddrPortFrom(real, 4000))
	if err != nil {
		t.Fatal(err)
	}
	lost := startNode(t, conn, ch, func(c *Config) { c.ExternalIP = netip.MustParseAddr("9.9.9.9") })
	if VerifyNodeID(lost.ID(), real) {
		t.Fatal("test setup: the id already fits the real address")
	}
	// Bootstrapping fails at first: every node refuses the id.
	for range 3 {
		for _, p := range peers {
			lost.Bootstrap(ctxT(t, 2*time.Second), addrOf(p))
			if VerifyNodeID(lost.ID(), real) {
				break
			}
		}
	}
	if !VerifyNodeID(lost.ID(), real) {
		t.Fatalf("id %x still does not fit %v after the votes %v", lost.ID(), real, lost.ExternalIPVotes())
	}
	if err := lost.Bootstrap(ctxT(t, 5*time.Second), addrOf(peers[0])); err != nil {
		t.Fatalf("bootstrap with the new id: %v", err)
	}
	if err := lost.Put(ctxT(t, 5*time.Second), ks["alice"], "alice", "alice", resource.Profile, false, bencode.NewString("p"), 1, 99); err != nil {
		t.Fatalf("put with the new id: %v", err)
	}
	items, err := peers[2].Get(ctxT(t, 5*time.Second), "alice", resource.Profile, false, GetOptions{NetworkOnly: true})
	if err != nil || len(items) != 1 {
		t.Errorf("the item put with the new id: %v %v", items, err)
	}
}
