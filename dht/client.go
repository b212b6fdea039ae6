package dht

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

// Item is one verified DHT item, as the reference's dhtget returns it.
type Item struct {
	P       []byte // the signed dictionary p, bytes as signed
	SigP    []byte // 65-byte signature over P; nil for a tracker summary
	SigUser string // the signer; "" for a tracker summary
	// Decoded fields of p.
	Name     string // target.n
	Resource string // target.r
	Multi    bool   // target.t == "m"
	Seq      int64  // single items
	Height   int64
	Time     int64
	V        bencode.Value // p.v
	PValue   bencode.Value // p itself, decoded
}

// GetOptions tune Get.
type GetOptions struct {
	// MinMulti, for multi resources: end the lookup as soon as this many
	// nodes have returned data; 0 runs the lookup to the end.
	MinMulti int
	// Timeout bounds the lookup (besides ctx); 0 means Config.LookupTimeout.
	Timeout time.Duration
	// NetworkOnly leaves out items this node holds itself.
	NetworkOnly bool
	// Stats, if not nil, receives the lookup's figures.
	Stats *LookupStats
}

// Errors of the client API.
var (
	// ErrNoNodes: the node knows no other node, so nothing could be asked.
	ErrNoNodes = errors.New("dht: no known nodes")
	// ErrQueued: no node accepted the put yet (none known, or all timed
	// out). The item is kept and published as soon as nodes answer; this
	// is not a loss.
	ErrQueued = errors.New("dht: put queued until nodes are reachable")
	// ErrStale: a single item with this seq or a higher one is already
	// held.
	ErrStale = errors.New("dht: a newer or equal item is already stored")
)

func (d *DHT) withTimeout(ctx context.Context, t time.Duration) (context.Context, context.CancelFunc) {
	if t <= 0 {
		t = d.cfg.LookupTimeout
	}
	return context.WithTimeout(ctx, t)
}

// itemFrom checks a received item as twisterd's client does (p a dict,
// signature by sig_user's current key, time non-zero and at most 2 h
// ahead) and also that it is for the target asked and, for single items,
// signed by the owner with a seq.
func (d *DHT) itemFrom(di krpc.DataItem, want *krpc.DataTarget, verified map[string]bool) (Item, bool) {
	it, err := parseItem(di.P, di.SigP, di.SigUser)
	if err != nil {
		return Item{}, false
	}
	if it.target.N != want.N || it.target.R != want.R || it.target.T != want.T {
		return Item{}, false
	}
	if !it.multi && (it.sigUser != it.target.N || !it.hasSeq) {
		return Item{}, false
	}
	if it.time == 0 || it.time > d.cfg.Clock().Add(MaxFutureTime).Unix() {
		return Item{}, false
	}
	key := string(it.sigP) + string(it.rawP)
	ok, seen := verified[key]
	if !seen {
		pub, err := d.cfg.Chain.KeyAt(it.sigUser, -1)
		ok = err == nil && keys.Verify(it.rawP, it.sigP, pub) == nil
		verified[key] = ok
	}
	if !ok {
		return Item{}, false
	}
	return toItem(it), true
}

func toItem(it *parsedItem) Item {
	return Item{
		P: bytes.Clone(it.rawP), SigP: bytes.Clone(it.sigP), SigUser: it.sigUser,
		Name: it.target.N, Resource: it.target.R, Multi: it.multi,
		Seq: it.seq, Height: it.height, Time: it.time, V: it.v, PValue: it.p,
	}
}

// Get looks up (name, res, single|multi) and returns the verified items:
// for a single resource only the one with the highest seq, for a multi
// resource every distinct one (by sig_p), newest height first. Items this
// node holds itself are included unless opts.NetworkOnly. For the
// "tracker" resource it returns one unsigned summary item whose v is
// {followers, values_size, values} (values as compact peers), as
// twisterd's dhtget does.
func (d *DHT) Get(ctx context.Context, name, res string, multi bool, opts GetOptions) ([]Item, error) {
	ctx, cancel := d.withTimeout(ctx, opts.Timeout)
	defer cancel()
	target := krpc.NewDataTarget(name, res, multi)
	tid := target.ID()
	if res == resource.Tracker {
		return d.getTracker(ctx, target, opts)
	}
	found := map[string]Item{}
	verified := map[string]bool{}
	withData := 0
	var mu sync.Mutex
	spec := lookupSpec{
		target: tid,
		q:      krpc.GetData,
		args:   func() *krpc.Args { return &krpc.Args{Target: target} },
		onReply: func(c *cand) bool {
			if len(c.reply.Data) > 0 {
				withData++
			}
			for _, di := range c.reply.Data {
				if it, ok := d.itemFrom(di, target, verified); ok {
					mu.Lock()
					found[string(it.SigP)] = it
					mu.Unlock()
					d.confirm(tid, it.SigP)
				}
			}
			return multi && opts.MinMulti > 0 && withData >= opts.MinMulti
		},
	}
	_, st, err := d.lookup(ctx, spec)
	if opts.Stats != nil {
		*opts.Stats = st
	}
	if !opts.NetworkOnly {
		for _, it := range d.localItems(tid) {
			if _, ok := found[string(it.SigP)]; !ok {
				found[string(it.SigP)] = it
			}
		}
	}
	if len(found) == 0 && err != nil {
		if errors.Is(err, errNoNodes) {
			return nil, ErrNoNodes
		}
		return nil, err
	}
	items := make([]Item, 0, len(found))
	for _, it := range found {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b Item) int {
		switch {
		case a.Seq != b.Seq:
			return cmpDesc(a.Seq, b.Seq)
		case a.Height != b.Height:
			return cmpDesc(a.Height, b.Height)
		case a.Time != b.Time:
			return cmpDesc(a.Time, b.Time)
		}
		return bytes.Compare(a.SigP, b.SigP)
	})
	if !multi && len(items) > 1 {
		items = items[:1]
	}
	return items, nil
}

func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// localItems returns the items held for tid, as Items.
func (d *DHT) localItems(tid krpc.ID) []Item {
	d.mu.Lock()
	list := slices.Clone(d.store.items[tid])
	d.mu.Unlock()
	var out []Item
	for _, st := range list {
		p, err := bencode.DecodeWith(st.rawP, bencode.Limits{MaxDepth: 16, Lenient: true})
		if err != nil {
			continue
		}
		it, err := parseItem(p, st.sigP, st.sigUser)
		if err != nil {
			continue
		}
		out = append(out, toItem(it))
	}
	return out
}

// confirm marks a local item as seen on another node.
func (d *DHT) confirm(tid krpc.ID, sigP []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range d.store.items[tid] {
		if st.local && !st.confirmed && bytes.Equal(st.sigP, sigP) {
			st.confirmed = true
			st.nextRefresh = d.nextRefresh(time.Now(), true)
		}
	}
}

func (d *DHT) getTracker(ctx context.Context, target *krpc.DataTarget, opts GetOptions) ([]Item, error) {
	peers, followers, st, err := d.trackerLookup(ctx, target, !opts.NetworkOnly)
	if opts.Stats != nil {
		*opts.Stats = st
	}
	if err != nil && len(peers) == 0 && followers == 0 {
		return nil, err
	}
	vals := make([]bencode.Value, 0, len(peers))
	for _, p := range peers {
		vals = append(vals, bencode.NewBytes(krpc.EncodePeer(p)))
	}
	v := bencode.NewDict()
	v.Set("followers", bencode.NewInt(followers))
	v.Set("values_size", bencode.NewInt(int64(len(peers))))
	v.Set("values", bencode.NewList(vals...))
	p := bencode.NewDict()
	p.Set("target", resource.TargetDict(target.N, target.R, target.Multi()))
	p.Set("v", v)
	return []Item{{P: bencode.Encode(p), Name: target.N, Resource: target.R, Multi: target.Multi(), V: v, PValue: p}}, nil
}

// trackerLookup runs getData on a tracker target, collecting peers (a peer
// listed as 0.0.0.0:port is the replying node itself) and the highest
// follower count.
func (d *DHT) trackerLookup(ctx context.Context, target *krpc.DataTarget, includeLocal bool) ([]netip.AddrPort, int64, LookupStats, error) {
	ih := target.ID()
	seen := map[netip.AddrPort]bool{}
	var peers []netip.AddrPort
	var followers int64
	addPeer := func(p netip.AddrPort) {
		if p.Port() == 0 || seen[p] {
			return
		}
		seen[p] = true
		peers = append(peers, p)
	}
	spec := lookupSpec{
		target: ih,
		q:      krpc.GetData,
		args:   func() *krpc.Args { return &krpc.Args{Target: target, InfoHash: &ih} },
		onReply: func(c *cand) bool {
			for _, p := range c.reply.Values {
				if p.Addr().IsUnspecified() {
					p = netip.AddrPortFrom(c.info.Addr.Addr(), p.Port())
				}
				addPeer(p)
			}
			if c.reply.Followers != nil && *c.reply.Followers > followers {
				followers = *c.reply.Followers
			}
			return false
		},
	}
	_, st, err := d.lookup(ctx, spec)
	if includeLocal {
		// The reference leaves these out, and then two nodes that
		// announce to each other never find each other.
		d.mu.Lock()
		if t, ok := d.store.torrents[ih]; ok {
			for p := range t.peers {
				if !p.Addr().IsUnspecified() {
					addPeer(p)
				}
			}
			if t.followers > followers {
				followers = t.followers
			}
		}
		d.mu.Unlock()
	}
	if errors.Is(err, errNoNodes) {
		err = ErrNoNodes
	}
	return peers, followers, st, err
}

// GetPeers returns the swarm peers announced for a user's torrent: a
// getData lookup on (name, "tracker", m) collecting "values", plus the
// peers this node itself holds for the info-hash. infoHash must be the
// name's (resource.InfoHash(name)).
func (d *DHT) GetPeers(ctx context.Context, infoHash resource.Target, name string) ([]netip.AddrPort, error) {
	if name == "" || resource.InfoHash(name) != infoHash {
		return nil, fmt.Errorf("dht: info-hash %x is not the tracker target of %q", infoHash, name)
	}
	ctx, cancel := d.withTimeout(ctx, 0)
	defer cancel()
	peers, _, _, err := d.trackerLookup(ctx, krpc.NewDataTarget(name, resource.Tracker, true), true)
	if err != nil && len(peers) == 0 {
		return nil, err
	}
	return peers, nil
}

// Announce tells the nodes closest to a user's torrent that this node is a
// peer on port: a getData lookup on (name, "tracker", m) for tokens, then
// announcePeer to at most K of the closest token holders. The node also
// records itself (as 0.0.0.0:port, with the name) so that its own tracker
// replies list it, as twisterd does. It returns nil when at least one node
// accepted.
func (d *DHT) Announce(ctx context.Context, infoHash resource.Target, name string, port int) error {
	if name == "" || resource.InfoHash(name) != infoHash {
		return fmt.Errorf("dht: info-hash %x is not the tracker target of %q", infoHash, name)
	}
	if port <= 0 || port > 65535 {
		return fmt.Errorf("dht: invalid port %d", port)
	}
	ih := krpc.ID(infoHash)
	d.mu.Lock()
	d.store.addPeer(ih, name, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), false, 0, time.Now())
	d.mu.Unlock()
	ctx, cancel := d.withTimeout(ctx, 0)
	defer cancel()
	target := krpc.NewDataTarget(name, resource.Tracker, true)
	res, _, err := d.lookup(ctx, lookupSpec{
		target: ih,
		q:      krpc.GetData,
		args:   func() *krpc.Args { return &krpc.Args{Target: target, InfoHash: &ih} },
	})
	if errors.Is(err, errNoNodes) {
		return ErrNoNodes
	}
	n := d.sendToTokenHolders(ctx, res, func(tok []byte) *krpc.Args {
		return &krpc.Args{InfoHash: &ih, Port: krpc.Int(int64(port)), Seed: krpc.Int(0), Token: tok}
	}, krpc.AnnouncePeer)
	if n == 0 {
		if err == nil {
			err = errors.New("no node accepted the announce")
		}
		return fmt.Errorf("dht: announce %s: %w", name, err)
	}
	return nil
}

// sendToTokenHolders sends the query built by mk to at most K responders
// that gave a token, in parallel, and counts the non-error replies.
func (d *DHT) sendToTokenHolders(ctx context.Context, res []*cand, mk func(tok []byte) *krpc.Args, q string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, sent := 0, 0
	for _, c := range res {
		if c.reply == nil || len(c.reply.Token) == 0 || sent >= d.cfg.K {
			continue
		}
		sent++
		wg.Add(1)
		go func(c *cand) {
			defer wg.Done()
			if _, err := d.query(ctx, c.info.Addr, q, mk(c.reply.Token)); err == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			} else {
				d.log.Debug("dht: "+q+" refused", "node", c.info.Addr, "err", err)
			}
		}(c)
	}
	wg.Wait()
	return accepted
}

// Put signs and publishes an item: p = {height, seq (single only),
// target: {n: name, r: res, t}, time: Clock(), v}, signed by key as
// sigUser. See PutSigned for what happens next.
func (d *DHT) Put(ctx context.Context, key *keys.PrivateKey, sigUser, name, res string, multi bool, v bencode.Value, seq int64, height int64) error {
	if v.Kind == bencode.Invalid {
		return errors.New("dht: put without a value")
	}
	p := bencode.NewDict()
	p.Set("height", bencode.NewInt(height))
	if !multi {
		p.Set("seq", bencode.NewInt(seq))
	}
	p.Set("target", resource.TargetDict(name, res, multi))
	p.Set("time", bencode.NewInt(d.cfg.Clock().Unix()))
	p.Set("v", v)
	raw := bencode.Encode(p)
	return d.PutSigned(ctx, raw, key.Sign(raw), sigUser)
}

// PutSigned publishes an item signed elsewhere (dhtputraw). It runs the
// same checks a receiving node does (except the token and the neighbour
// check), keeps the item locally as unconfirmed, then does a getData
// lookup with justtoken=1 and sends putData to at most K of the closest
// token holders. It returns nil when at least one node accepted, and an
// error wrapping ErrQueued when none could (no nodes known, or all timed
// out): the item is then retried every UnconfirmedInterval and as soon as
// nodes appear. Rejections (bad signature, wrong owner, stale seq, …) are
// returned as *PutError or ErrStale and nothing is kept.
func (d *DHT) PutSigned(ctx context.Context, rawP, sigP []byte, sigUser string) error {
	p, err := bencode.DecodeWith(rawP, bencode.Limits{MaxDepth: 16, Lenient: true})
	if err != nil {
		return &PutError{Msg: "p does not decode: " + err.Error()}
	}
	it, err := parseItem(p, sigP, sigUser)
	if err != nil {
		return err
	}
	if err := it.checkSize(); err != nil {
		return err
	}
	if err := it.checkRest(d.cfg.Chain, d.cfg.Clock()); err != nil {
		return err
	}
	now := time.Now()
	d.mu.Lock()
	st, err := d.store.put(it, true, now, d.nextRefresh(now, false))
	if errors.Is(err, errNotNewer) {
		// Publishing the very item we hold again is fine.
		for _, o := range d.store.items[it.tid] {
			if bytes.Equal(o.sigP, it.sigP) || (it.multi && bytes.Equal(o.vRaw, it.v.Bytes())) {
				st, err = o, nil
				break
			}
		}
		if err != nil {
			err = ErrStale
		}
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := d.withTimeout(ctx, 0)
	defer cancel()
	if d.publish(ctx, st, false) > 0 {
		return nil
	}
	return fmt.Errorf("dht: put %s/%s: %w", it.target.N, it.target.R, ErrQueued)
}

// publish sends a held item to the closest nodes and returns how many
// accepted it. With checkConfirm the lookup asks for the data itself (no
// justtoken) to learn whether another node already holds the item.
func (d *DHT) publish(ctx context.Context, st *stored, checkConfirm bool) int {
	target, tid := st.target, st.tid
	spec := lookupSpec{target: tid, q: krpc.GetData}
	if checkConfirm {
		spec.args = func() *krpc.Args { return &krpc.Args{Target: target} }
		spec.onReply = func(c *cand) bool {
			for _, di := range c.reply.Data {
				if bytes.Equal(di.SigP, st.sigP) {
					d.confirm(tid, st.sigP)
				}
			}
			return false
		}
	} else {
		spec.args = func() *krpc.Args { return &krpc.Args{Target: target, JustToken: krpc.Int(1)} }
	}
	mk := func(tok []byte) *krpc.Args {
		return &krpc.Args{Token: tok, P: ptr(rawValue(st.rawP)), SigP: st.sigP, SigUser: []byte(st.sigUser)}
	}
	n := 0
	if !checkConfirm {
		if held := d.recentHolders(tid); held != nil {
			if n = d.sendToTokenHolders(ctx, held, mk, krpc.PutData); n == 0 {
				d.forgetHolders(tid)
			}
		}
	}
	if n == 0 {
		res, _, _ := d.lookup(ctx, spec)
		n = d.sendToTokenHolders(ctx, res, mk, krpc.PutData)
		if n > 0 && !checkConfirm {
			d.keepHolders(tid, res)
		}
	}
	if n > 0 {
		d.mu.Lock()
		st.published = true
		d.mu.Unlock()
	}
	return n
}

// maxHeldTargets bounds the targets whose token holders are kept.
const maxHeldTargets = 4096

// recentHolders returns the token holders a put to target found within
// Config.TokenReuse, or nil.
func (d *DHT) recentHolders(target krpc.ID) []*cand {
	if d.cfg.TokenReuse < 0 {
		return nil
	}
	d.holdersMu.Lock()
	defer d.holdersMu.Unlock()
	h, ok := d.holders[target]
	if !ok || time.Since(h.at) > d.cfg.TokenReuse {
		return nil
	}
	return h.cands
}

// keepHolders remembers the token holders a put's lookup found.
func (d *DHT) keepHolders(target krpc.ID, cands []*cand) {
	if d.cfg.TokenReuse < 0 {
		return
	}
	d.holdersMu.Lock()
	defer d.holdersMu.Unlock()
	if d.holders == nil {
		d.holders = map[krpc.ID]heldTokens{}
	}
	if len(d.holders) >= maxHeldTargets {
		now := time.Now()
		for id, h := range d.holders {
			if now.Sub(h.at) > d.cfg.TokenReuse {
				delete(d.holders, id)
			}
		}
		for id := range d.holders {
			if len(d.holders) < maxHeldTargets {
				break
			}
			delete(d.holders, id)
		}
	}
	var slim []*cand // address and token only
	for _, c := range cands {
		if c.reply != nil && len(c.reply.Token) > 0 && len(slim) < d.cfg.K {
			slim = append(slim, &cand{info: c.info, reply: &krpc.Return{Token: c.reply.Token}})
		}
	}
	d.holders[target] = heldTokens{cands: slim, at: time.Now()}
}

// forgetHolders drops the token holders kept for target (none accepted
// the last put: tokens expired or nodes gone).
func (d *DHT) forgetHolders(target krpc.ID) {
	d.holdersMu.Lock()
	delete(d.holders, target)
	d.holdersMu.Unlock()
}

func ptr[T any](v T) *T { return &v }

// rawValue wraps already-encoded bytes so the KRPC encoder writes them as
// they are.
func rawValue(b []byte) bencode.Value { return bencode.Value{Kind: bencode.Dict, Raw: b} }

// Bootstrap pings the given addresses and then looks up the node's own id
// to fill the routing table. The addresses are remembered: when the table
// empties, they are tried again. It returns ErrNoNodes if none answered.
func (d *DHT) Bootstrap(ctx context.Context, addrs ...netip.AddrPort) error {
	d.mu.Lock()
	for _, a := range addrs {
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		if !slices.Contains(d.boot, a) {
			d.boot = append(d.boot, a)
		}
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func(a netip.AddrPort) {
			defer wg.Done()
			// A bootstrap node answers at once or is not there (yet): do
			// not wait the full query timeout for it.
			pctx, cancel := context.WithTimeout(ctx, 2*d.cfg.ShortTimeout)
			defer cancel()
			_, _ = d.query(pctx, netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), krpc.Ping, &krpc.Args{})
		}(a)
	}
	wg.Wait()
	if err := d.refreshTable(ctx, d.ID()); err != nil {
		if errors.Is(err, errNoNodes) {
			return ErrNoNodes
		}
		return err
	}
	// The self-lookup fills the buckets near our id; one lookup into each
	// of the four far buckets (the large ones, half to one sixteenth of
	// the id space) fills the rest, as the periodic bucket refresh would.
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_ = d.refreshTable(ctx, randomIDInBucket(d.ID(), i))
		}(i)
	}
	wg.Wait()
	return nil
}

// refreshTable runs a findNode lookup toward target; replies fill the
// routing table.
func (d *DHT) refreshTable(ctx context.Context, target krpc.ID) error {
	ctx, cancel := d.withTimeout(ctx, 0)
	defer cancel()
	_, _, err := d.lookup(ctx, lookupSpec{
		target: target,
		q:      krpc.FindNode,
		args:   func() *krpc.Args { t := target; return &krpc.Args{FindTarget: &t} },
	})
	return err
}

// AddNode pings addr in the background; if it answers it enters the
// routing table.
func (d *DHT) AddNode(addr netip.AddrPort) {
	d.goTracked(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.QueryTimeout)
		defer cancel()
		_, _ = d.query(ctx, netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), krpc.Ping, &krpc.Args{})
	})
}

// goTracked runs f in a goroutine that Close waits for; nothing is started
// after Close.
func (d *DHT) goTracked(f func()) bool {
	d.mu.Lock()
	if d.closed() {
		d.mu.Unlock()
		return false
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}
