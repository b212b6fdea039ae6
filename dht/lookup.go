package dht

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/gotwister/twister/dht/krpc"
)

// LookupStats describes one iterative lookup.
type LookupStats struct {
	Queries   int // queries sent
	Responses int // replies received
	Failures  int // queries that timed out or failed
	// Rounds is the number of hops to the closest nodes found: the
	// deepest hop count among the K closest responders, where nodes from
	// the routing table are hop 1 and nodes learnt from a hop-n reply are
	// hop n+1.
	Rounds   int
	Duration time.Duration
}

const (
	candNew = iota
	candInflight
	candSlow // no answer within ShortTimeout; still listened for
	candDone
	candFailed
)

// cand is one node a lookup knows about.
type cand struct {
	info  krpc.NodeInfo
	depth int
	state int
	reply *krpc.Return
}

type lookupEvent struct {
	c    *cand
	slow bool // the short timeout fired; the query is still pending
	msg  *krpc.Msg
	err  error
}

// lookupSpec says what a lookup sends and does with replies.
type lookupSpec struct {
	target krpc.ID
	q      string
	args   func() *krpc.Args
	// onReply sees every successful reply; returning true ends the
	// lookup early.
	onReply func(c *cand) bool
}

// maxCandidates bounds the candidate list of one lookup.
const maxCandidates = 128

// errNoNodes: the routing table is empty, so there is nobody to ask.
var errNoNodes = errors.New("dht: no known nodes")

// lookup runs an iterative lookup toward spec.target (traversal_algorithm):
// Alpha queries in flight, a node that does not answer within ShortTimeout
// frees its slot (its answer is still used if it comes), and the lookup
// ends when the K closest nodes that did not fail have all answered. It
// returns those K closest responders, closest first.
func (d *DHT) lookup(ctx context.Context, spec lookupSpec) ([]*cand, LookupStats, error) {
	start := time.Now()
	var st LookupStats
	d.stats.lookups.Add(1)
	ctx, cancel := context.WithTimeout(ctx, d.cfg.LookupTimeout)
	defer cancel()
	self := d.ID()

	d.mu.Lock()
	seeds := d.table.closest(spec.target, 2*d.cfg.K, false)
	d.mu.Unlock()
	if len(seeds) == 0 {
		return nil, st, errNoNodes
	}
	k := d.cfg.K
	var cands []*cand
	ips := map[netip.Addr]bool{}
	ids := map[krpc.ID]bool{}
	add := func(n krpc.NodeInfo, depth int) {
		if n.ID == self || !n.Addr.IsValid() || n.Addr.Port() == 0 || ids[n.ID] {
			return
		}
		ip := n.Addr.Addr().Unmap()
		if ips[ip] { // restrict_search_ips: one node per IP in a lookup
			return
		}
		i, _ := slices.BinarySearchFunc(cands, n.ID, func(c *cand, id krpc.ID) int {
			if krpc.CloserTo(spec.target, c.info.ID, id) {
				return -1
			}
			return 1
		})
		if i >= maxCandidates {
			return
		}
		ids[n.ID], ips[ip] = true, true
		cands = slices.Insert(cands, i, &cand{info: krpc.NodeInfo{ID: n.ID, Addr: netip.AddrPortFrom(ip, n.Addr.Port())}, depth: depth})
		if len(cands) > maxCandidates {
			cands = cands[:maxCandidates]
		}
	}
	for _, n := range seeds {
		add(n, 1)
	}

	events := make(chan lookupEvent, 2*d.cfg.Alpha)
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	deliver := func(ev lookupEvent) {
		select {
		case events <- ev:
		case <-lctx.Done():
		}
	}
	launch := func(c *cand) {
		c.state = candInflight
		st.Queries++
		cl, err := d.startQuery(c.info.Addr, spec.q, spec.args())
		if err != nil {
			go deliver(lookupEvent{c: c, err: err})
			return
		}
		go func() {
			short := time.NewTimer(d.cfg.ShortTimeout)
			hard := time.NewTimer(d.cfg.QueryTimeout)
			defer short.Stop()
			defer hard.Stop()
			for {
				select {
				case m := <-cl.ch:
					deliver(lookupEvent{c: c, msg: m})
					return
				case <-short.C:
					deliver(lookupEvent{c: c, slow: true})
				case <-hard.C:
					d.timedOut(cl)
					deliver(lookupEvent{c: c, err: ErrTimeout})
					return
				case <-lctx.Done():
					d.forget(cl)
					return
				case <-d.done:
					d.forget(cl)
					return
				}
			}
		}()
	}

	inflight := 0 // queries not yet answered, failed or slow
	for {
		// Done when the K closest usable candidates have all answered.
		usable, done := 0, true
		for _, c := range cands {
			if c.state == candFailed || c.state == candSlow {
				continue
			}
			if c.state != candDone {
				done = false
				break
			}
			if usable++; usable >= k {
				break
			}
		}
		if done && usable > 0 {
			break
		}
		for inflight < d.cfg.Alpha {
			var n *cand
			for _, c := range cands {
				if c.state == candNew {
					n = c
					break
				}
			}
			if n == nil {
				break
			}
			launch(n)
			inflight++
		}
		if inflight == 0 {
			break // nothing in flight, nothing left to ask
		}
		var ev lookupEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			st.Duration = time.Since(start)
			d.stats.lookupMsgs.Add(int64(st.Queries))
			return d.results(cands, k, &st), st, ctx.Err()
		case <-d.done:
			st.Duration = time.Since(start)
			d.stats.lookupMsgs.Add(int64(st.Queries))
			return d.results(cands, k, &st), st, net.ErrClosed
		}
		c := ev.c
		if ev.slow {
			if c.state == candInflight {
				c.state = candSlow
				inflight--
			}
			continue
		}
		if c.state == candInflight {
			inflight--
		}
		var r *krpc.Msg
		err := ev.err
		if err == nil {
			r, err = d.reply(ev.msg, c.info.Addr)
		}
		if err != nil || r.R == nil {
			c.state = candFailed
			st.Failures++
			continue
		}
		st.Responses++
		c.state, c.reply = candDone, r.R
		now := time.Now()
		d.mu.Lock()
		for _, ns := range [][]krpc.NodeInfo{r.R.Nodes, r.R.Nodes2} {
			for _, n := range ns {
				add(n, c.depth+1)
				// Let the routing table know the node may exist
				// (libtorrent's heard_about).
				if n.ID != self && VerifyNodeID(n.ID, n.Addr.Addr()) {
					d.table.seen(n, heardAbout, now)
				}
			}
		}
		d.mu.Unlock()
		if spec.onReply != nil && spec.onReply(c) {
			break
		}
	}
	st.Duration = time.Since(start)
	d.stats.lookupMsgs.Add(int64(st.Queries))
	return d.results(cands, k, &st), st, nil
}

func (d *DHT) results(cands []*cand, k int, st *LookupStats) []*cand {
	var out []*cand
	for _, c := range cands {
		if c.state == candDone {
			out = append(out, c)
			if c.depth > st.Rounds {
				st.Rounds = c.depth
			}
			if len(out) == k {
				break
			}
		}
	}
	return out
}
