package dht

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/resource"
)

// handleQuery answers one query (node.cpp: incoming_request()).
func (d *DHT) handleQuery(m *krpc.Msg, decodeErr error, from netip.AddrPort) {
	now := time.Now()
	d.mu.Lock()
	ok := d.limiter.allow(from.Addr(), now)
	d.mu.Unlock()
	if !ok {
		d.stats.rateLimited.Add(1)
		return
	}
	d.stats.queriesIn.Add(1)
	resp := &krpc.Msg{T: m.T, Z: krpc.TypeReply, R: &krpc.Return{ID: d.ID()}}
	if m.T == nil {
		resp.T = []byte{}
	}
	fail := func(msg string) {
		resp.Z = krpc.TypeError
		resp.E = &krpc.Error{Code: krpc.ErrorCode, Msg: msg}
		_ = d.send(resp, from)
	}
	if m.X == nil {
		fail("missing 'x'")
		return
	}
	if decodeErr != nil {
		fail("bad arguments: " + decodeErr.Error())
		return
	}
	sender := krpc.NodeInfo{ID: m.X.ID, Addr: from}
	if !VerifyNodeID(m.X.ID, from.Addr()) {
		// Tell it what its IP is, and do nothing else (§3.3).
		ip := from.Addr().Unmap()
		if ip.Is4() {
			b := ip.As4()
			resp.R.IP = b[:]
		} else {
			b := ip.As16()
			resp.R.IP = b[:]
		}
		_ = d.send(resp, from)
		return
	}
	d.nodeSeen(sender, queriedUs)

	x := m.X
	switch m.Q {
	case krpc.Ping:
	case krpc.FindNode:
		if x.FindTarget == nil {
			fail("missing 'target' key")
			return
		}
		d.writeNodes(resp.R, *x.FindTarget)
	case krpc.GetData:
		if msg := d.getData(resp.R, x, from); msg != "" {
			fail(msg)
			return
		}
	case krpc.PutData:
		if msg := d.putData(x, sender); msg != "" {
			d.stats.putsRejected.Add(1)
			fail(msg)
			return
		}
	case krpc.AnnouncePeer:
		if msg := d.announcePeer(x, sender); msg != "" {
			fail(msg)
			return
		}
	default:
		// Unknown queries with a 20-byte target or infoHash are answered
		// like findNode, for forward compatibility.
		switch {
		case x.FindTarget != nil:
			d.writeNodes(resp.R, *x.FindTarget)
		case x.InfoHash != nil:
			d.writeNodes(resp.R, *x.InfoHash)
		default:
			fail("unknown message")
			return
		}
	}
	_ = d.send(resp, from)
}

// writeNodes puts the K closest nodes to target into a reply: "nodes"
// always (possibly empty, as twisterd does), "nodes2" when there are IPv6
// ones.
func (d *DHT) writeNodes(r *krpc.Return, target krpc.ID) []krpc.NodeInfo {
	d.mu.Lock()
	ns := d.table.closest(target, d.cfg.K, true)
	d.mu.Unlock()
	v4, v6 := krpc.SplitNodes(ns)
	if v4 == nil {
		v4 = []krpc.NodeInfo{}
	}
	r.Nodes, r.Nodes2 = v4, v6
	return ns
}

// possiblyNeighbor is twisterd's check: among the 2K closest nodes we know
// to target, are there fewer than K, or are we closer than the farthest?
func (d *DHT) possiblyNeighbor(target krpc.ID) bool {
	d.mu.Lock()
	ns := d.table.closest(target, 2*d.cfg.K, true)
	d.mu.Unlock()
	if len(ns) < d.cfg.K {
		return true
	}
	return krpc.CloserTo(target, d.ID(), ns[len(ns)-1].ID)
}

func (d *DHT) getData(r *krpc.Return, x *krpc.Args, from netip.AddrPort) string {
	t := x.Target
	if t == nil {
		return "missing 'target' key"
	}
	if t.Keys != 3 {
		return "target dict size != 3"
	}
	if t.T != "s" && t.T != "m" {
		return "invalid target.t value"
	}
	tid := t.ID()
	d.mu.Lock()
	r.Token = d.tokens.generate(from.Addr(), tid)
	d.mu.Unlock()
	d.writeNodes(r, tid)
	justToken := x.JustToken != nil && *x.JustToken != 0

	if t.R == resource.Tracker {
		d.mu.Lock()
		r.Values = []netip.AddrPort{}
		if tr, ok := d.store.torrents[tid]; ok {
			if tr.name != "" {
				r.N = []byte(tr.name)
			}
			r.Followers = krpc.Int(tr.followers)
			for ap := range tr.peers {
				r.Values = append(r.Values, ap)
			}
			if len(r.Values) > d.cfg.Limits.MaxPeersReply {
				rand.Shuffle(len(r.Values), func(i, j int) { r.Values[i], r.Values[j] = r.Values[j], r.Values[i] })
				r.Values = r.Values[:d.cfg.Limits.MaxPeersReply]
			}
		}
		d.mu.Unlock()
		if h := d.cfg.OnTrackerQuery; h != nil {
			neighbor := d.possiblyNeighbor(tid)
			go h(t.N, tid, neighbor)
		}
		return ""
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	list, ok := d.store.items[tid]
	if !ok {
		return ""
	}
	r.Data = []krpc.DataItem{}
	if justToken {
		return ""
	}
	budget := d.cfg.Limits.MaxReplyBytes
	for _, st := range list {
		sz := len(st.rawP) + len(st.sigP) + len(st.sigUser) + 40
		if sz > budget && len(r.Data) > 0 {
			break
		}
		budget -= sz
		r.Data = append(r.Data, krpc.DataItem{
			P:       rawValue(st.rawP),
			SigP:    st.sigP,
			SigUser: st.sigUser,
		})
	}
	return ""
}

// putData applies §3.7's checks in order and stores the item; it returns
// the error text to send, or "" (also when the item was silently not
// stored).
func (d *DHT) putData(x *krpc.Args, sender krpc.NodeInfo) string {
	if x.Token == nil {
		return "missing 'token' key"
	}
	if x.SigP == nil {
		return "missing 'sig_p' key"
	}
	if x.SigUser == nil {
		return "missing 'sig_user' key"
	}
	if x.P == nil {
		return "missing 'p' key"
	}
	it, err := parseItem(*x.P, x.SigP, string(x.SigUser))
	if err != nil {
		return err.(*PutError).Msg
	}
	if err := it.checkSize(); err != nil {
		return err.(*PutError).Msg
	}
	d.mu.Lock()
	tokOK := d.tokens.verify(x.Token, sender.Addr.Addr(), it.tid)
	d.mu.Unlock()
	if !tokOK {
		return "invalid token"
	}
	if err := it.checkRest(d.cfg.Chain, d.cfg.Clock()); err != nil {
		return err.(*PutError).Msg
	}
	// The token proves the sender's address: it may enter the table.
	d.nodeSeen(sender, answered)
	if !d.possiblyNeighbor(it.tid) {
		d.log.Debug("dht: putData for a target we are not near; ignored", "target", it.target.N+"/"+it.target.R)
		return ""
	}
	now := time.Now()
	d.mu.Lock()
	if _, err := d.store.put(it, false, now, d.nextRefresh(now, true)); err == nil {
		d.stats.putsStored.Add(1)
	}
	d.mu.Unlock()
	return ""
}

func (d *DHT) announcePeer(x *krpc.Args, sender krpc.NodeInfo) string {
	if x.InfoHash == nil {
		return "missing 'infoHash' key"
	}
	if x.Port == nil {
		return "missing 'port' key"
	}
	if x.Token == nil {
		return "missing 'token' key"
	}
	port := *x.Port
	if x.ImpliedPort != nil && *x.ImpliedPort != 0 {
		port = int64(sender.Addr.Port())
	}
	if port < 0 || port >= 65536 {
		return "invalid port"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.tokens.verify(x.Token, sender.Addr.Addr(), *x.InfoHash) {
		return "invalid token"
	}
	d.table.seen(sender, answered, time.Now())
	seed := x.Seed != nil && *x.Seed != 0
	d.store.addPeer(*x.InfoHash, string(x.N), netip.AddrPortFrom(sender.Addr.Addr(), uint16(port)), seed, 0, time.Now())
	return ""
}
