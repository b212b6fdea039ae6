package node

import (
	"context"
	"time"

	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/resource"
)

// Neighbour swarms (paper §9, twister-core ThreadSessionAlerts): when this
// node answers a tracker lookup for a user and is probably one of the DHT
// nodes closest to that user's tracker target, it joins the user's swarm
// too, so that the DHT neighbours of a user also hold and serve that user's
// posts. The joined swarms form a bounded list; the oldest is left when a
// new one comes in. A user is checked at most once an hour, and joined only
// if its "status" resource exists (it has posted).

// MaxNeighborSwarms bounds how many swarms a node joins as a DHT neighbour.
const MaxNeighborSwarms = 16

const neighborRecheck = time.Hour

// neighborRetry is how soon a user without a status is looked at again.
const neighborRetry = 5 * time.Second

// onTrackerQuery is the DHT's hook for tracker getData queries it answers.
func (n *Node) onTrackerQuery(name string, _ krpc.ID, possiblyNeighbor bool) {
	if !possiblyNeighbor || name == "" || n.ctx.Err() != nil {
		return
	}
	if n.Wallet.Has(name) || n.net.follows.followedByAnyoneElse("", name) {
		return // already held as a followed or local user
	}
	n.mu.Lock()
	if n.neighborChecked == nil {
		n.neighborChecked = map[string]time.Time{}
	}
	if t, ok := n.neighborChecked[name]; ok && time.Since(t) < neighborRecheck {
		n.mu.Unlock()
		return
	}
	n.neighborChecked[name] = time.Now()
	for _, u := range n.neighbors {
		if u == name {
			n.mu.Unlock()
			return
		}
	}
	n.mu.Unlock()
	if !n.Chain.UserExists(name) {
		return
	}
	n.checkNeighbor(name, 3)
}

// checkNeighbor joins name's swarm if its status exists, looking again a
// few times when it does not yet (the author's own first announce races its
// status put).
func (n *Node) checkNeighbor(name string, retries int) {
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	items, err := n.net.DHT.Get(ctx, name, resource.Status, false, dht.GetOptions{Timeout: 10 * time.Second})
	if err != nil || len(items) == 0 {
		if retries > 0 {
			time.AfterFunc(neighborRetry, func() {
				if n.ctx.Err() == nil {
					n.checkNeighbor(name, retries-1)
				}
			})
		}
		return
	}
	n.mu.Lock()
	for _, u := range n.neighbors {
		if u == name {
			n.mu.Unlock()
			return
		}
	}
	var evict string
	if len(n.neighbors) >= n.maxNeighbors() {
		evict, n.neighbors = n.neighbors[0], n.neighbors[1:]
	}
	n.neighbors = append(n.neighbors, name)
	n.mu.Unlock()
	if evict != "" && !n.Wallet.Has(evict) && !n.net.follows.followedByAnyoneElse("", evict) {
		n.net.Swarm.Unfollow(evict)
	}
	if err := n.net.Swarm.Follow(name); err != nil {
		n.log.Debug("joining a neighbour swarm", "user", name, "err", err)
		return
	}
	n.log.Info("joined swarm as a DHT neighbour", "user", name)
}

func (n *Node) maxNeighbors() int {
	if n.cfg.MaxNeighborSwarms > 0 {
		return n.cfg.MaxNeighborSwarms
	}
	return MaxNeighborSwarms
}

// Neighbors lists the swarms joined as a DHT neighbour, oldest first.
func (n *Node) Neighbors() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.neighbors...)
}
