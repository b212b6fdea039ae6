package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/timeline"
)

// networks holds the DHT, the swarms and the local post index.
type networks struct {
	dhtConn net.PacketConn
	DHT     *dht.DHT
	swarmLn net.Listener
	Swarm   *swarm.Swarm
	Posts   postStore
	Index   *timeline.Index

	follows *followStore
	trackMu sync.Mutex
	tracked map[resource.Target]string // info-hash → user, for announces
}

// openNetworks binds the DHT's UDP socket and the swarm's TCP listener on
// the DHT port and opens the post store and index.
func (n *Node) openNetworks() error {
	dir := n.cfg.NetDir()
	addr := net.JoinHostPort(n.cfg.BindAddr(), strconv.Itoa(n.cfg.DHTPort()))
	var err error
	if n.net.dhtConn, err = net.ListenPacket("udp", addr); err != nil {
		return fmt.Errorf("cannot listen for the DHT on udp %s: %w", addr, err)
	}
	if n.cfg.Listen {
		if n.net.swarmLn, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("cannot listen for swarms on tcp %s: %w", addr, err)
		}
	}
	if n.net.follows, err = openFollows(filepath.Join(dir, "following.json")); err != nil {
		return err
	}
	n.net.tracked = map[resource.Target]string{}
	// The index is also the post store (see postStore): it is synced on
	// every commit, since what it holds cannot be rebuilt.
	indexPath := filepath.Join(dir, "index.db")
	if n.net.Index, err = timeline.Open(indexPath, n.indexOptions()); err != nil {
		return fmt.Errorf("cannot open the post index: %w", err)
	}
	n.net.Posts = postStore{n.net.Index}
	if err := n.importOldPosts(dir); err != nil {
		return err
	}
	// The DHT reads only twister-shaped datagrams (bencoded dictionaries);
	// the rest is left for a uTP implementation (none yet: see README).
	demux := dht.NewDemux(n.net.dhtConn, nil)
	n.net.DHT, err = dht.New(dht.Config{Conn: demux, Chain: n.Chain, Logger: n.log.With("sub", "dht"), OnTrackerQuery: n.onTrackerQuery})
	if err != nil {
		return fmt.Errorf("cannot start the DHT: %w", err)
	}
	bindIP := netip.Addr{}
	if n.cfg.Bind != "" {
		bindIP, _ = netip.ParseAddr(n.cfg.Bind)
	}
	n.net.Swarm, err = swarm.New(swarm.Config{
		Listener: n.net.swarmLn,
		Dialer:   swarm.TCPDialer{LocalAddr: bindIP},
		Store:    n.net.Posts,
		Validate: func(user string, k int64, data []byte) error {
			_, err := post.Validate(data, user, k, n.Chain)
			if err != nil && n.chainBehind() && chainDependent(err) {
				return fmt.Errorf("%w: %w", swarm.ErrNotYet, err)
			}
			return err
		},
		// While the chain is behind, a post number that looks too high
		// may be fine once the blocks are in: an honest peer is not
		// banned for it (its pieces are checked when they arrive).
		ValidPostNumber: func(user string, k int64) bool {
			return post.CheckPostNumber(n.Chain, user, k) == nil || n.chainBehind()
		},
		Peers:        peerSource{n},
		AnnouncePort: n.cfg.DHTPort(),
		DHTPort:      uint16(n.cfg.DHTPort()),
		// One connection per followed user and peer: twisterd's 800 would
		// stop a node following more than 800 users with one peer each.
		Limits: swarm.Limits{MaxConnections: 4000},
		Logger: n.log.With("sub", "swarm"),
	})
	if err != nil {
		return fmt.Errorf("cannot start the swarms: %w", err)
	}
	n.net.Swarm.OnPost(n.onPost)
	n.statsHook = append(n.statsHook, func(st *netStats) {
		ds := n.net.DHT.Stats()
		ss := n.net.Swarm.Stats()
		st.dhtNodes = ds.Nodes
		st.torrents = ss.Torrents
		st.swarmPeers = ss.Peers
		st.bytesIn += int64(ss.BytesReceived)
		st.bytesOut += int64(ss.BytesSent)
	})
	n.onWalletChange = append(n.onWalletChange, func() {
		if err := n.net.Index.RescanDMs(); err != nil {
			n.log.Warn("rescanning direct messages", "err", err)
		}
	})
	return nil
}

// startNetworks starts the DHT and the swarms and follows what the local
// users follow.
func (n *Node) startNetworks() error {
	saved := n.loadDHTState()
	if err := n.net.DHT.Start(); err != nil {
		return err
	}
	go n.every(stateSaveInterval, func() {
		if err := n.saveDHTState(); err != nil {
			n.log.Warn("DHT state", "err", err)
		}
	})
	if err := n.net.Swarm.Start(); err != nil {
		return err
	}
	for _, u := range n.net.follows.all() {
		if err := n.net.Swarm.Follow(u); err != nil {
			n.log.Warn("following", "user", u, "err", err)
		}
	}
	boot := saved
	for _, a := range append(append([]string{}, n.cfg.AddNode...), n.cfg.Connect...) {
		if ap, err := resolveAddrPort(a, n.params.DefaultPort); err == nil {
			boot = append(boot, netip.AddrPortFrom(ap.Addr(), ap.Port()+LibtorrentPortOffset))
		}
	}
	for _, a := range n.cfg.DHTBootstrap {
		if ap, err := resolveAddrPort(a, uint16(n.cfg.DHTPort())); err == nil {
			boot = append(boot, ap)
		}
	}
	go n.every(2*time.Minute, func() { n.fetchMentions(n.ctx) })
	if len(boot) > 0 {
		go func() {
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			defer cancel()
			// Nodes started together may ping one another before the
			// other's socket is up: retry soon (0.5 s, 1 s, 2 s, …) rather
			// than wait for the DHT's own retry.
			for wait := 500 * time.Millisecond; ; wait *= 2 {
				err := n.net.DHT.Bootstrap(ctx, boot...)
				if err == nil || !errors.Is(err, dht.ErrNoNodes) || n.net.DHT.Stats().Nodes > 0 {
					if err != nil {
						n.log.Info("DHT bootstrap", "err", err)
					}
					return
				}
				select {
				case <-ctx.Done():
					n.log.Info("DHT bootstrap", "err", err)
					return
				case <-time.After(wait):
				}
			}
		}()
	}
	return nil
}

func (n *Node) closeNetworks() {
	if n.net.Swarm != nil {
		n.net.Swarm.Close()
	}
	if n.net.DHT != nil {
		if n.net.DHT.Started() {
			if err := n.saveDHTState(); err != nil {
				n.log.Warn("DHT state", "err", err)
			}
		}
		n.net.DHT.Close()
	}
	if n.net.dhtConn != nil {
		n.net.dhtConn.Close()
	}
	if n.net.swarmLn != nil {
		n.net.swarmLn.Close()
	}
	if n.net.Index != nil {
		n.net.Index.Close()
	}
}

func resolveAddrPort(s string, defPort uint16) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, defPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, strconv.Itoa(int(defPort))
	}
	// Names are resolved only when given; tests and make run use IPs.
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve %s", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a, _ := netip.AddrFromSlice(ips[0])
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

// chainBehind tells whether a peer has announced blocks beyond our tip
// (the chain is still downloading).
func (n *Node) chainBehind() bool {
	if n.P2P == nil {
		return false
	}
	known, best := n.P2P.Progress()
	return best > known
}

// chainDependent tells whether a post was refused for something the
// blocks not received yet may change: its author's registration or key,
// its post number's limit, its height.
func chainDependent(err error) bool {
	return errors.Is(err, post.ErrUnregistered) || errors.Is(err, post.ErrPostNumber) ||
		errors.Is(err, post.ErrHeight) || errors.Is(err, post.ErrBadSignature)
}

// onPost sees every post the swarms store (ours and received ones),
// already indexed by the store (postStore). The index records mentions of
// local users whose keys it can use; while the wallet is locked it cannot,
// so they are recorded here.
func (n *Node) onPost(user string, k int64, data []byte) {
	if !bytes.Contains(data, []byte("@")) {
		return
	}
	p, err := post.Decode(data)
	if err != nil {
		return
	}
	// A post by a followed user that mentions a local user is a mention.
	for _, m := range p.Mentions() {
		if n.Wallet.Has(m) && n.net.follows.has(m, user) {
			n.net.Index.AddMention(m, data)
		}
	}
}

// peerSource plugs the DHT's tracker into the swarms.
type peerSource struct{ n *Node }

func (s peerSource) Peers(ctx context.Context, user string, ih resource.Target) ([]netip.AddrPort, error) {
	s.n.net.trackMu.Lock()
	s.n.net.tracked[ih] = user
	s.n.net.trackMu.Unlock()
	return s.n.net.DHT.GetPeers(ctx, ih, user)
}

func (s peerSource) Announce(ctx context.Context, ih resource.Target, port int) error {
	s.n.net.trackMu.Lock()
	user := s.n.net.tracked[ih]
	s.n.net.trackMu.Unlock()
	return s.n.net.DHT.Announce(ctx, ih, user, port)
}

// keyRing gives the index the wallet's keys for DM decryption.
type keyRing struct{ n *Node }

func (r keyRing) Keys() map[string]*keys.PrivateKey {
	out := map[string]*keys.PrivateKey{}
	for _, u := range append(r.n.Wallet.Users(), r.n.Wallet.Groups()...) {
		if k, err := r.n.Wallet.Key(u); err == nil {
			out[u] = k
		}
	}
	return out
}

func (r keyRing) Follows(local, remote string) bool { return r.n.net.follows.has(local, remote) }

func (r keyRing) GroupMembers(alias string) []string {
	g, ok := r.n.Wallet.Group(alias)
	if !ok || g.Ignored {
		return nil
	}
	var out []string
	for _, m := range g.Members {
		if r.n.Wallet.Has(m) {
			out = append(out, m)
		}
	}
	return out
}

// followStore keeps each local user's following list in a JSON file,
// written atomically.
type followStore struct {
	mu   sync.Mutex
	path string
	m    map[string][]string
}

func openFollows(path string) (*followStore, error) {
	f := &followStore{path: path, m: map[string][]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &f.m); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	return f, nil
}

func (f *followStore) save() error {
	b, _ := json.Marshal(f.m)
	tmp := f.path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	fh.Close()
	return os.Rename(tmp, f.path)
}

func (f *followStore) get(local string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.m[local]...)
}

func (f *followStore) has(local, remote string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.m[local] {
		if u == remote {
			return true
		}
	}
	return false
}

// add appends users (keeping order, no duplicates) and returns the new ones.
func (f *followStore) add(local string, users []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var added []string
	for _, u := range users {
		dup := false
		for _, have := range f.m[local] {
			if have == u {
				dup = true
				break
			}
		}
		if !dup {
			f.m[local] = append(f.m[local], u)
			added = append(added, u)
		}
	}
	return added, f.save()
}

func (f *followStore) remove(local string, users []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	drop := map[string]bool{}
	for _, u := range users {
		drop[u] = true
	}
	kept := f.m[local][:0]
	for _, u := range f.m[local] {
		if !drop[u] {
			kept = append(kept, u)
		}
	}
	f.m[local] = kept
	return f.save()
}

// all lists every user followed by any local user.
func (f *followStore) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[string]bool{}
	for _, l := range f.m {
		for _, u := range l {
			set[u] = true
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// followedByAnyoneElse tells whether some local user other than local
// still follows user (so its swarm stays joined).
func (f *followStore) followedByAnyoneElse(local, user string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for l, list := range f.m {
		if l == local {
			continue
		}
		for _, u := range list {
			if u == user {
				return true
			}
		}
	}
	return false
}

// LastHave is the number of the newest post of user this node holds (−1
// when none), the k a new post of a local user should follow.
func (n *Node) LastHave(user string) int64 { return n.net.Swarm.LastHave(user) }

func (n *Node) indexOptions() timeline.Options {
	return timeline.Options{
		Logger:         n.log,
		KeyRing:        keyRing{n},
		OnGroupInvite:  n.onGroupInvite,
		OnGroupMembers: n.onGroupMembers,
		Usernames: func(yield func(string) bool) {
			for _, u := range n.Chain.ListUsernames("", 1<<20) {
				if !yield(u) {
					return
				}
			}
		},
		Profiles: n.cachedProfiles,
	}
}
