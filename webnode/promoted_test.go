//go:build !js

package webnode

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain/consensus"
)

// promoLiar relays to a real bridge and tampers with promoted answers.
type promoLiar struct {
	*client.Pool
	mu     sync.Mutex
	mode   string
	forged *consensus.Block // served on top of the real chain in "forged-block"
}

func (l *promoLiar) set(mode string) { l.mu.Lock(); l.mode = mode; l.mu.Unlock() }
func (l *promoLiar) get() string     { l.mu.Lock(); defer l.mu.Unlock(); return l.mode }

func (l *promoLiar) Headers(ctx context.Context, from int64, count int) ([][]byte, int64, error) {
	hs, tip, err := l.Pool.Headers(ctx, from, count)
	if l.forged != nil && err == nil && int64(l.forged.Header.Height) == tip+1 {
		hs = append(hs, l.forged.Header.AppendTo(nil))
		tip++
	}
	return hs, tip, err
}

func (l *promoLiar) Promoted(ctx context.Context, from int64, count int) ([]client.Coinbase, int64, error) {
	cbs, tip, err := l.Pool.Promoted(ctx, from, count)
	if err != nil {
		return nil, 0, err
	}
	switch l.get() {
	case "alter-text":
		for i := range cbs {
			tx, err := consensus.DecodeTx(cbs[i].Tx)
			if err != nil {
				return nil, 0, err
			}
			tx.Message = consensus.AppendPush(nil, []byte("buy now"))
			cbs[i].Tx = tx.Bytes()
		}
	case "shift-height":
		for i := range cbs {
			cbs[i].Height--
		}
	case "forged-block":
		cbs = append([]client.Coinbase{{Height: int64(l.forged.Header.Height), Tx: l.forged.Txs[0].Bytes(), Branch: [][32]byte{}}}, cbs...)
	case "forged-only":
		cbs = []client.Coinbase{{Height: int64(l.forged.Header.Height), Tx: l.forged.Txs[0].Bytes(), Branch: [][32]byte{}}}
	}
	return cbs, tip, nil
}

// PromotedPosts returns blocks' promoted messages verified against the
// node's own headers and the users' keys; a bridge that alters them,
// moves them to other blocks or serves a block whose coinbase another key
// signed gets them left out (ErrUnverified when nothing is left).
func TestPromotedPosts(t *testing.T) {
	tn := newTestnet(t, "alice", "bob", "mallory")
	ctx := ctxT(t, 60*time.Second)
	for _, b := range []struct{ user, msg string }{
		{"alice", "alice promotes #gotwister [en]"}, {"", ""}, {"bob", "bob's ad"}, {"bob", "bob's ad"},
	} {
		key := userKey(b.user)
		if b.user == "" {
			key = nil
		}
		if _, err := tn.Chain.MineBlock(ctx, b.user, key, b.msg); err != nil {
			t.Fatal(err)
		}
	}
	if tn.Chain.Height() != 8 {
		t.Fatalf("height %d", tn.Chain.Height())
	}
	n, _ := tn.newWebnode(nil, nil)
	ps, err := n.PromotedPosts(ctx, PromotedOptions{Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Heights 8 down to 4; block 7 repeats block 8's message.
	if got := ids(ps); !slices.Equal(got, []string{"bob/8", "nobody/6", "alice/5", "nobody/4"}) {
		t.Fatalf("promoted %v", got)
	}
	for _, p := range ps {
		hd, err := tn.Chain.HeaderByHeight(p.Height)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Verified || p.Kind != "promoted" || p.Time != int64(hd.Time) || p.K != p.Height {
			t.Errorf("promoted post %+v", p)
		}
	}
	if ps[2].Text != "alice promotes #gotwister [en]" || !slices.Equal(ps[2].Hashtags, []string{"gotwister"}) {
		t.Errorf("alice's: %+v", ps[2])
	}
	if ps[1].Text != consensus.DefaultPromotedMessage {
		t.Errorf("nobody's: %q", ps[1].Text)
	}
	up := ps[2].Userpost.(map[string]any)
	if up["sig_userpost"] != "" || up["userpost"].(map[string]any)["n"] != "alice" {
		t.Errorf("userpost %v", up)
	}
	if ps, err := n.PromotedPosts(ctx, PromotedOptions{From: 5, Count: 1}); err != nil || !slices.Equal(ids(ps), []string{"alice/5"}) {
		t.Errorf("from 5: %v %v", ids(ps), err)
	}

	// A block on top of the real chain with valid work whose coinbase
	// claims alice but is signed by mallory (the chain would never
	// accept it; a bridge can still serve its header).
	forged, err := tn.Chain.NewBlockTemplate("", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := consensus.NewCoinbase("forged by mallory", "alice", userKey("mallory"), [4]byte{1, 2, 3, 4}, 7)
	if err != nil {
		t.Fatal(err)
	}
	forged.Txs = []*consensus.Tx{cb}
	forged.Header.MerkleRoot = forged.ComputeMerkleRoot()
	if err := consensus.SolveBlock(ctx, forged, consensus.Regtest.PowLimit); err != nil {
		t.Fatal(err)
	}
	l := &promoLiar{Pool: mustPool(t, tn.URL), forged: forged}
	m, _ := tn.newWebnode(l, nil)
	if m.Height() != 9 {
		t.Fatalf("the forged header was not taken: height %d", m.Height())
	}
	for _, mode := range []string{"alter-text", "shift-height", "forged-only"} {
		l.set(mode)
		if ps, err := m.PromotedPosts(ctx, PromotedOptions{Count: 5}); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: accepted %v %v", mode, ids(ps), err)
		} else if mode == "forged-only" && !strings.Contains(err.Error(), "signed") {
			t.Errorf("forged-only: %v", err)
		}
	}
	l.set("forged-block")
	ps, err = m.PromotedPosts(ctx, PromotedOptions{Count: 5})
	if err != nil || !slices.Equal(ids(ps), []string{"bob/8", "nobody/6", "alice/5", "nobody/4"}) {
		t.Errorf("forged block among genuine ones: %v %v", ids(ps), err)
	}

	// A bridge without the operation.
	o, _ := tn.newWebnode(&liar{Bridge: mustPool(t, tn.URL), tn: tn}, nil)
	if _, err := o.PromotedPosts(ctx, PromotedOptions{}); !errors.Is(err, ErrNoPromoted) {
		t.Errorf("bridge without promoted: %v", err)
	}
}
