package dht

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

// Protocol limits (§3.7).
const (
	MaxSingleSize   = 8192 // bytes of p for a single item
	MaxMultiSize    = 768  // bytes of p for a multi item
	MaxResourceLen  = 32
	MaxMultiEntries = 32
	MaxFutureTime   = 2 * time.Hour // MAX_TIME_IN_FUTURE
	maxTrackerName  = 50
)

// PutError is a putData rejection; Msg is the text sent in error 203,
// the same as twisterd's.
type PutError struct{ Msg string }

// Error implements error.
func (e *PutError) Error() string { return "dht: put rejected: " + e.Msg }

func putErr(format string, args ...any) error { return &PutError{Msg: fmt.Sprintf(format, args...)} }

// parsedItem is a signed item whose fields have been checked for shape.
type parsedItem struct {
	rawP    []byte
	p       bencode.Value
	sigP    []byte
	sigUser string
	target  *krpc.DataTarget
	tid     krpc.ID
	multi   bool
	seq     int64
	hasSeq  bool
	height  int64
	time    int64
	v       bencode.Value
}

// parseItem checks the shape of p (§3.7 step 1): v present, time and
// height integers, target a dictionary of strings n, r, t, seq an optional
// integer.
func parseItem(p bencode.Value, sigP []byte, sigUser string) (*parsedItem, error) {
	if p.Kind != bencode.Dict {
		return nil, putErr("'p' is not a dictionary")
	}
	it := &parsedItem{rawP: p.Bytes(), p: p, sigP: sigP, sigUser: sigUser}
	var ok bool
	if it.v, ok = p.Get("v"); !ok {
		return nil, putErr("missing 'v' key")
	}
	if it.time, ok = p.GetInt("time"); !ok {
		return nil, putErr("missing 'time' key")
	}
	if it.height, ok = p.GetInt("height"); !ok {
		return nil, putErr("missing 'height' key")
	}
	if s, present := p.Get("seq"); present {
		if s.Kind != bencode.Int {
			return nil, putErr("'seq' is not an integer")
		}
		it.seq, it.hasSeq = s.Int, true
	}
	tg, ok := p.GetDict("target")
	if !ok {
		return nil, putErr("missing 'target' key")
	}
	t := &krpc.DataTarget{Keys: len(tg.Dict), Raw: tg.Bytes()}
	if t.N, ok = tg.GetString("n"); !ok {
		return nil, putErr("missing 'n' key in target")
	}
	if t.R, ok = tg.GetString("r"); !ok {
		return nil, putErr("missing 'r' key in target")
	}
	if t.T, ok = tg.GetString("t"); !ok {
		return nil, putErr("missing 't' key in target")
	}
	it.target, it.tid, it.multi = t, t.ID(), t.T == "m"
	return it, nil
}

// checkSize is §3.7 step 2 and 3.
func (it *parsedItem) checkSize() error {
	max := MaxSingleSize
	if it.multi {
		max = MaxMultiSize
	}
	if len(it.rawP) > max || len(it.rawP) == 0 {
		return putErr("message too big")
	}
	if it.target.Keys != 3 {
		return putErr("target dict size != 3")
	}
	return nil
}

// checkRest is §3.7 steps 5 to 10 (the token, step 4, is the server's).
func (it *parsedItem) checkRest(chain Chain, now time.Time) error {
	pub, err := chain.KeyAt(it.sigUser, -1)
	if err != nil || keys.Verify(it.rawP, it.sigP, pub) != nil {
		return putErr("invalid signature")
	}
	if !it.multi && it.sigUser != it.target.N {
		return putErr("only owner is allowed")
	}
	if len(it.target.R) > MaxResourceLen {
		return putErr("resource name too big")
	}
	if !it.multi && (!it.hasSeq || it.seq < 0) {
		return putErr("seq is required for single")
	}
	if tip := chain.Height(); tip > 0 && it.height > tip+1 {
		return putErr("height > getBestHeight")
	}
	if it.time > now.Add(MaxFutureTime).Unix() {
		return putErr("time > GetAdjustedTime")
	}
	return nil
}

// stored is one item held by this node.
type stored struct {
	rawP    []byte
	sigP    []byte
	sigUser string
	name    string
	res     string
	multi   bool
	seq     int64
	height  int64
	vRaw    []byte
	target  *krpc.DataTarget // as received, and its id (the store's key)
	tid     krpc.ID
	local   bool // created by this node (Put / PutSigned)
	// confirmed: seen on another node (local items) or received from the
	// network (others' items).
	confirmed   bool
	published   bool // a local item some node accepted at least once
	storedAt    time.Time
	nextRefresh time.Time
	refreshing  bool
}

func (s *stored) size() int64 { return int64(len(s.rawP) + len(s.sigP) + len(s.sigUser)) }

type peerEntry struct {
	added time.Time
	seed  bool
}

type torrent struct {
	name      string
	followers int64
	peers     map[netip.AddrPort]peerEntry
}

// store holds items and tracker peers. Not safe for concurrent use: the
// DHT holds its lock.
type store struct {
	lim       Limits
	items     map[krpc.ID][]*stored
	count     int
	bytes     int64
	perSigner map[string]int
	torrents  map[krpc.ID]*torrent
}

func newStore(lim Limits) *store {
	return &store{lim: lim, items: map[krpc.ID][]*stored{}, perSigner: map[string]int{}, torrents: map[krpc.ID]*torrent{}}
}

var errStoreFull = errors.New("dht: storage limit reached")

// errNotNewer is returned when a single item does not have a higher seq
// than the one held, or a multi item repeats a held value.
var errNotNewer = errors.New("dht: item is not newer than the stored one")

// put stores an item (§3.8): a single replaces the held one only with a
// strictly greater seq; a multi entry is added unless its raw v repeats
// one held, newest height first, at most 32. Local items bypass the
// storage limits.
func (s *store) put(it *parsedItem, local bool, now time.Time, next time.Time) (*stored, error) {
	st := &stored{
		rawP: bytes.Clone(it.rawP), sigP: bytes.Clone(it.sigP), sigUser: it.sigUser,
		name: it.target.N, res: it.target.R, multi: it.multi,
		seq: it.seq, height: it.height, vRaw: bytes.Clone(it.v.Bytes()),
		target: &krpc.DataTarget{N: it.target.N, R: it.target.R, T: it.target.T, Keys: it.target.Keys, Raw: bytes.Clone(it.target.Raw)}, tid: it.tid,
		local: local, confirmed: !local, storedAt: now, nextRefresh: next,
	}
	list := s.items[it.tid]
	if !local {
		if s.count >= s.lim.MaxItems || s.bytes+st.size() > s.lim.MaxBytes {
			return nil, errStoreFull
		}
		if s.perSigner[it.sigUser] >= s.lim.MaxPerSigner {
			return nil, errStoreFull
		}
	}
	if !it.multi {
		if len(list) > 0 {
			old := list[0]
			if it.seq <= old.seq {
				return nil, errNotNewer
			}
			s.drop(old)
		}
		s.items[it.tid] = []*stored{st}
		s.add(st)
		return st, nil
	}
	for _, o := range list {
		if bytes.Equal(o.vRaw, st.vRaw) {
			if local && !o.local {
				o.local, o.confirmed = true, true
			}
			return nil, errNotNewer
		}
	}
	i := 0
	for i < len(list) && list[i].height >= st.height {
		i++
	}
	if i >= MaxMultiEntries {
		return nil, errNotNewer // older than every one of 32 held entries
	}
	list = slices.Insert(list, i, st)
	s.add(st)
	for len(list) > MaxMultiEntries {
		s.drop(list[len(list)-1])
		list = list[:len(list)-1]
	}
	s.items[it.tid] = list
	return st, nil
}

func (s *store) add(st *stored) {
	s.count++
	s.bytes += st.size()
	s.perSigner[st.sigUser]++
}

func (s *store) drop(st *stored) {
	s.count--
	s.bytes -= st.size()
	if s.perSigner[st.sigUser]--; s.perSigner[st.sigUser] <= 0 {
		delete(s.perSigner, st.sigUser)
	}
}

// expire removes items that resource.ShouldExpire says are expired.
func (s *store) expire(tip int64) {
	for tid, list := range s.items {
		kept := list[:0]
		for _, st := range list {
			if resource.ShouldExpire(st.res, st.multi, st.height, tip) {
				s.drop(st)
				continue
			}
			kept = append(kept, st)
		}
		if len(kept) == 0 {
			delete(s.items, tid)
		} else {
			s.items[tid] = kept
		}
	}
}

// addPeer records an announce (§3.7 announcePeer).
func (s *store) addPeer(ih krpc.ID, name string, ap netip.AddrPort, seed bool, followers int64, now time.Time) {
	t, ok := s.torrents[ih]
	if !ok {
		if len(s.torrents) >= s.lim.MaxTorrents {
			// Evict the torrent with the fewest peers, as libtorrent does.
			var victim krpc.ID
			fewest := -1
			for k, v := range s.torrents {
				if fewest < 0 || len(v.peers) < fewest {
					victim, fewest = k, len(v.peers)
				}
			}
			delete(s.torrents, victim)
		}
		t = &torrent{peers: map[netip.AddrPort]peerEntry{}}
		s.torrents[ih] = t
	}
	if name != "" && t.name == "" {
		if len(name) > maxTrackerName {
			name = name[:maxTrackerName]
		}
		t.name = name
	}
	if followers != 0 {
		t.followers = followers
	}
	if _, ok := t.peers[ap]; !ok && len(t.peers) >= s.lim.MaxPeersPerTorrent {
		var oldest netip.AddrPort
		var ot time.Time
		for k, v := range t.peers {
			if ot.IsZero() || v.added.Before(ot) {
				oldest, ot = k, v.added
			}
		}
		delete(t.peers, oldest)
	}
	t.peers[ap] = peerEntry{added: now, seed: seed}
}

// purgePeers drops peers older than ttl and torrents left without peers.
func (s *store) purgePeers(now time.Time, ttl time.Duration) {
	for ih, t := range s.torrents {
		for ap, p := range t.peers {
			if now.Sub(p.added) > ttl {
				delete(t.peers, ap)
			}
		}
		if len(t.peers) == 0 {
			delete(s.torrents, ih)
		}
	}
}

func (s *store) peerCount() int {
	n := 0
	for _, t := range s.torrents {
		n += len(t.peers)
	}
	return n
}
