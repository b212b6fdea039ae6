//go:build !js

package webnode

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/light"
	"github.com/gotwister/twister/post"
)

// liar is a Bridge that relays to a real bridge but tampers with what it
// returns, one way at a time.
type liar struct {
	Bridge
	mu   sync.Mutex
	mode string
	tn   *testnet
}

func (l *liar) set(mode string) { l.mu.Lock(); l.mode = mode; l.mu.Unlock() }
func (l *liar) get() string     { l.mu.Lock(); defer l.mu.Unlock(); return l.mode }

func (l *liar) GetData(ctx context.Context, name, res string, multi bool, o client.GetOptions) ([]client.Item, error) {
	switch l.get() {
	case "swap-target":
		// Answer with another resource's genuine item.
		switch res {
		case "post0":
			res = "post1"
		case "profile":
			res = "status"
		}
	case "mallory-single":
		// A post item for the asked target, signed by mallory.
		p := buildItem(name, res, multi, bencode.MustFrom(map[string]any{"x": 1}), 5, 1, time.Now().Unix())
		return []client.Item{{P: p, SigP: userKey("mallory").Sign(p), SigUser: "mallory"}}, nil
	case "mallory-forged-mention":
		// A multi item correctly signed by mallory, carrying a post that
		// claims to be alice's but is signed by mallory.
		forged, err := post.NewPost(userKey("mallory"), "alice", 1, time.Now().Unix(), 1, "hi @"+name, nil, nil)
		if err != nil {
			return nil, err
		}
		v, _ := bencode.Decode(forged)
		p := buildItem(name, res, true, v, 0, 1, time.Now().Unix())
		genuine, err := l.Bridge.GetData(ctx, name, res, multi, o)
		return append(genuine, client.Item{P: p, SigP: userKey("mallory").Sign(p), SigUser: "mallory"}), err
	}
	items, err := l.Bridge.GetData(ctx, name, res, multi, o)
	for i := range items {
		it := &items[i]
		switch l.get() {
		case "alter-p":
			// Change one byte of the signed bytes (inside the value).
			it.P = bytes.Replace(it.P, []byte("Web"), []byte("Bad"), 1)
			it.P = bytes.Replace(it.P, []byte("from the"), []byte("from a  "), 1)
		case "alter-sig":
			it.SigP = slices.Clone(it.SigP)
			it.SigP[10] ^= 1
		case "claim-signer":
			it.SigUser = "mallory"
		}
	}
	return items, err
}

func (l *liar) ProveUser(ctx context.Context, name string) ([]byte, error) {
	switch l.get() {
	case "other-proof":
		return l.Bridge.ProveUser(ctx, "mallory")
	case "swapped-key":
		raw, err := l.Bridge.ProveUser(ctx, name)
		if err != nil {
			return nil, err
		}
		p, err := light.DecodeUserProof(raw)
		if err != nil {
			return nil, err
		}
		tx, err := consensus.NewRegistration(name, userKey("mallory").PubKey())
		if err != nil {
			return nil, err
		}
		if _, err := consensus.GrindRegistration(ctx, tx, consensus.Regtest.TxBits, nil); err != nil {
			return nil, err
		}
		p.Entries[0].Tx = tx
		return p.Bytes(), nil
	}
	return l.Bridge.ProveUser(ctx, name)
}

func (l *liar) Headers(ctx context.Context, from int64, count int) ([][]byte, int64, error) {
	hs, tip, err := l.Bridge.Headers(ctx, from, count)
	if err != nil || len(hs) == 0 {
		return hs, tip, err
	}
	switch l.get() {
	case "no-work":
		// The last header with its nonce changed until its proof of work
		// fails (regtest's target passes about half of all hashes).
		h, _ := consensus.DecodeHeader(hs[len(hs)-1])
		for {
			h.Nonce++
			if consensus.CheckProofOfWork(h.PoWHash(), h.Bits, consensus.Regtest.PowLimit) != nil {
				break
			}
		}
		hs[len(hs)-1] = h.AppendTo(nil)
	case "fake-chain":
		// Headers of a chain nobody mined: linked, but with easy bits
		// claimed and no proof of work behind them.
		prev, _ := consensus.DecodeHeader(hs[0])
		hs = hs[:1]
		for i := range 5 {
			h := consensus.Header{Version: 2, Height: prev.Height + 1, PrevBlock: prev.Hash(), Time: prev.Time + 600, Bits: 0x207fffff, Nonce: uint32(i)}
			for consensus.CheckProofOfWork(h.PoWHash(), h.Bits, consensus.Regtest.PowLimit) == nil {
				h.Nonce += 7
			}
			hs = append(hs, h.AppendTo(nil))
			prev = h
		}
		tip = int64(prev.Height)
	}
	return hs, tip, err
}

// Every kind of lie from a bridge or a peer ends in an error (or, for a
// list, in the lying entry being left out), never in a wrong post or key.
func TestLyingSources(t *testing.T) {
	tn := newTestnet(t, "alice", "webby", "mallory")
	alice := tn.NewNative(2, 1, true)
	for k := range int64(3) {
		if err := alice.AddPost("alice", k, tn.MakePost("alice", k, "genuine")); err != nil {
			t.Fatal(err)
		}
	}
	// An honest webnode publishes webby's posts and profile.
	honest, _ := tn.newWebnode(nil, nil)
	if err := honest.LoginSecret(ctxT(t, 10*time.Second), "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"hello from the browser @alice", "second"} {
		if r, err := honest.Post(ctxT(t, 20*time.Second), msg); err != nil || len(r.PutErrors) > 0 {
			t.Fatalf("post: %+v %v", r, err)
		}
	}
	if _, err := honest.SetProfile(ctxT(t, 20*time.Second), ProfileUpdate{Fields: map[string]string{"fullname": "Web By"}}); err != nil {
		t.Fatal(err)
	}

	pool, err := client.NewPool([]string{tn.URL}, client.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := &liar{Bridge: pool, tn: tn}
	n, _ := tn.newWebnode(l, nil)
	ctx := ctxT(t, 60*time.Second)

	// The honest answers, as a baseline.
	if pr, err := n.Profile(ctx, "webby"); err != nil || pr.Fields["fullname"] != "Web By" {
		t.Fatalf("honest profile: %+v %v", pr, err)
	}
	if p, err := n.GetPost(ctx, "webby", 0); err != nil || p.Text != "hello from the browser @alice" {
		t.Fatalf("honest post: %+v %v", p, err)
	}

	// DHT items altered, mis-signed, mis-attributed or for another target.
	for _, mode := range []string{"alter-p", "alter-sig", "claim-signer", "swap-target", "mallory-single"} {
		l.set(mode)
		if pr, err := n.Profile(ctx, "webby"); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: profile accepted: %+v %v", mode, pr, err)
		}
		if p, err := n.GetPost(ctx, "webby", 0); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: post accepted: %+v %v", mode, p, err)
		}
	}
	// Login reads the status item; a lie there only loses the hint.
	for _, mode := range []string{"alter-p", "alter-sig", "claim-signer", "swap-target", "mallory-single"} {
		l.set(mode)
		if err := n.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
			t.Errorf("%s: login: %v", mode, err)
		}
	}
	// A forged post inside a correctly signed multi item is left out.
	l.set("mallory-forged-mention")
	ms, err := n.Mentions(ctx, "alice")
	if err != nil || len(ms) != 1 || ms[0].User != "webby" {
		t.Errorf("mentions with a forgery: %+v %v", ms, err)
	}

	// A wrong key claimed for a name: another user's proof, or alice's
	// proof with mallory's key in the registration.
	for _, mode := range []string{"other-proof", "swapped-key"} {
		l.set(mode)
		n.chain.refresh("alice", 0)
		if err := n.Follow(ctx, "alice"); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: follow: %v", mode, err)
		}
		n.chain.refresh("mallory", 0)
		if err := n.LoginSecret(ctx, "alice", userKey("mallory").Secret()); err == nil {
			t.Errorf("%s: mallory logged in as alice", mode)
		}
		if k, err := n.chain.KeyAt("alice", -1); err == nil && !k.Equal(userKey("alice").PubKey()) {
			t.Fatalf("%s: the node believes a wrong key for alice", mode)
		}
	}
	l.set("")
	n.chain.refresh("alice", 0)
	if err := n.Follow(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if len(n.Following()) != 1 {
		t.Errorf("following %v", n.Following())
	}

	// Headers without the work, or a chain nobody mined.
	for _, mode := range []string{"no-work", "fake-chain"} {
		l2 := &liar{Bridge: mustPool(t, tn.URL), tn: tn, mode: mode}
		m, err := New(Config{Bridge: l2, Params: consensus.Regtest, SwarmLimits: testSwarmLimits})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Start(ctx)
		if !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: start: %v", mode, err)
		}
		if m.Height() >= tn.Chain.Height() {
			t.Errorf("%s: height %d accepted", mode, m.Height())
		}
		m.Close()
	}
}

func mustPool(t *testing.T, url string) *client.Pool {
	p, err := client.NewPool([]string{url}, client.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A peer serving a forged post in the swarm is caught: the piece is
// rejected, the peer penalised, and the post never appears.
func TestForgedPieceFromPeer(t *testing.T) {
	tn := newTestnet(t, "alice", "mallory")
	alice := tn.NewNative(2, 1, true)
	forger := tn.NewNative(3, 2, false)
	for k := range int64(3) {
		if err := alice.AddPost("alice", k, tn.MakePost("alice", k, "genuine")); err != nil {
			t.Fatal(err)
		}
	}
	forged, err := post.NewPost(userKey("mallory"), "alice", 3, time.Now().Unix(), 1, "forged", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := forger.AddPost("alice", 3, forged); err != nil {
		t.Fatal(err)
	}
	n, _ := tn.newWebnode(nil, nil)
	if err := n.Follow(ctxT(t, 10*time.Second), "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the forged piece rejected", func() bool { return n.Swarm().Stats().Rejected >= 1 })
	waitFor(t, 20*time.Second, "alice's genuine posts", func() bool {
		tl, _ := n.Timeline(TimelineOptions{})
		return len(tl) == 3
	})
	tl, _ := n.Timeline(TimelineOptions{})
	for _, v := range tl {
		if v.K == 3 || v.Text != "genuine" {
			t.Errorf("timeline holds %+v", v)
		}
	}
	if _, ok, _ := n.store.Get("alice", 3); ok {
		t.Error("the forged post was stored")
	}
	if _, err := n.validate("alice", 3, forged); !errors.Is(err, ErrUnverified) || !errors.Is(err, post.ErrBadSignature) {
		t.Errorf("validate forged: %v", err)
	}
}
