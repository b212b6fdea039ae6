package dht

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht/krpc"
	"github.com/gotwister/twister/resource"
)

// What a restart keeps, as twisterd keeps its session state (§3.3, §3.8:
// node-id, nodes, storage_table): the node id, the addresses of the
// routing table's nodes (to bootstrap from), and every held item with
// whether this node made it. The format is our own: a bencoded
// dictionary
//
//	{"version": 1, "id": <20 bytes>, "nodes": [<"ip:port">, …],
//	 "items": [{"p": <raw p>, "sig_p": …, "sig_user": …, "local": 0|1,
//	            "confirmed": 0|1, "published": 0|1, "stored": <unix time>}, …]}
//
// Items were checked when they arrived and the file is this node's own,
// like its post index: on load they are parsed again and expired ones
// dropped, but signatures are not verified again.

const stateVersion = 1

// maxStateNodes bounds the node addresses saved.
const maxStateNodes = 500

// SaveState writes the node's state to w.
func (d *DHT) SaveState(w io.Writer) error {
	d.mu.Lock()
	root := bencode.NewDict()
	root.Set("version", bencode.NewInt(stateVersion))
	root.Set("id", bencode.NewBytes(d.id[:]))
	var nodes []bencode.Value
	for _, n := range d.table.nodes() {
		if len(nodes) == maxStateNodes {
			break
		}
		nodes = append(nodes, bencode.NewString(n.Addr.String()))
	}
	root.Set("nodes", bencode.NewList(nodes...))
	var items []bencode.Value
	for _, list := range d.store.items {
		for _, st := range list {
			it := bencode.NewDict()
			it.Set("p", bencode.NewBytes(st.rawP))
			it.Set("sig_p", bencode.NewBytes(st.sigP))
			it.Set("sig_user", bencode.NewString(st.sigUser))
			it.Set("local", boolInt(st.local))
			it.Set("confirmed", boolInt(st.confirmed))
			it.Set("published", boolInt(st.published))
			it.Set("stored", bencode.NewInt(st.storedAt.Unix()))
			items = append(items, it)
		}
	}
	d.mu.Unlock()
	root.Set("items", bencode.NewList(items...))
	_, err := w.Write(bencode.Encode(root))
	return err
}

func boolInt(b bool) bencode.Value {
	if b {
		return bencode.NewInt(1)
	}
	return bencode.NewInt(0)
}

// LoadedState says what LoadState restored.
type LoadedState struct {
	Items, Dropped int              // items held again; items left out (malformed, expired)
	Nodes          []netip.AddrPort // saved node addresses, to bootstrap from
	KeptID         bool             // the saved node id is in use again
}

// LoadState restores a state SaveState wrote; call it before Start. The
// saved node id is used again unless Config.NodeID is set or it does not
// verify against the node's external address (§3.3). Saved nodes are
// remembered for bootstrapping: the caller passes them to Bootstrap.
func (d *DHT) LoadState(r io.Reader) (LoadedState, error) {
	var ls LoadedState
	if d.started.Load() {
		return ls, errors.New("dht: LoadState after Start")
	}
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return ls, err
	}
	root, err := bencode.DecodeWith(b, bencode.Limits{MaxDepth: 24, Lenient: true})
	if err != nil {
		return ls, fmt.Errorf("dht: state does not decode: %w", err)
	}
	if v, _ := root.GetInt("version"); v != stateVersion {
		return ls, fmt.Errorf("dht: state version %d, want %d", v, stateVersion)
	}
	now := time.Now()
	tip := d.cfg.Chain.Height()
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := root.GetBytes("id"); ok && len(id) == len(d.id) && d.cfg.NodeID == nil {
		var saved krpc.ID
		copy(saved[:], id)
		if d.idFitsAddress(saved) {
			d.setID(saved)
			d.table = newTable(d.id, d.cfg.K, d.cfg.MaxFails, now)
			ls.KeptID = true
		}
	}
	nodes, _ := root.GetList("nodes")
	for _, n := range nodes {
		if ap, err := netip.ParseAddrPort(string(n.Str)); err == nil && n.Kind == bencode.String {
			ls.Nodes = append(ls.Nodes, ap)
		}
	}
	items, _ := root.GetList("items")
	for _, v := range items {
		if err := d.loadItem(v, now, tip); err != nil {
			ls.Dropped++
			continue
		}
		ls.Items++
	}
	return ls, nil
}

// loadItem puts one saved item back in the store; d.mu is held.
func (d *DHT) loadItem(v bencode.Value, now time.Time, tip int64) error {
	rawP, _ := v.GetBytes("p")
	sigP, _ := v.GetBytes("sig_p")
	sigUser, _ := v.GetString("sig_user")
	local, _ := v.GetInt("local")
	confirmed, _ := v.GetInt("confirmed")
	published, _ := v.GetInt("published")
	storedAt, _ := v.GetInt("stored")
	p, err := bencode.DecodeWith(rawP, bencode.Limits{MaxDepth: 16, Lenient: true})
	if err != nil {
		return err
	}
	it, err := parseItem(p, sigP, sigUser)
	if err != nil {
		return err
	}
	if err := it.checkSize(); err != nil {
		return err
	}
	if len(sigP) != 65 || sigUser == "" || !bytes.Equal(it.rawP, rawP) {
		return errors.New("malformed saved item")
	}
	if resource.ShouldExpire(it.target.R, it.multi, it.height, tip) {
		return errors.New("expired")
	}
	st, err := d.store.put(it, local == 1, now, d.nextRefresh(now, confirmed == 1))
	if err != nil {
		return err
	}
	st.confirmed, st.published = confirmed == 1, published == 1
	if storedAt > 0 {
		st.storedAt = time.Unix(storedAt, 0)
	}
	return nil
}

// idFitsAddress tells whether id may be this node's: any id from a local
// address, otherwise one derived from the external (or bound) address.
func (d *DHT) idFitsAddress(id krpc.ID) bool {
	ip := d.cfg.ExternalIP
	if !ip.IsValid() || ip.IsUnspecified() {
		la, ok := toAddrPort(d.cfg.Conn.LocalAddr())
		if !ok || la.Addr().IsUnspecified() {
			return false // unknown address: keep the fresh id
		}
		ip = la.Addr()
	}
	return IsLocalAddr(ip) || VerifyNodeID(id, ip)
}
