package bridge_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/light"
	"github.com/gotwister/twister/keys"
)

// regChain opens a real regtest chain with an adjustable clock.
func regChain(t *testing.T) (*chain.Chain, func() time.Time) {
	var now atomic.Int64
	now.Store(1795320000)
	clock := func() time.Time { return time.Unix(now.Add(60), 0) }
	c, err := chain.Open(t.TempDir(), consensus.Regtest, chain.WithClock(clock), chain.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clock
}

func registration(t *testing.T, name string, k *keys.PrivateKey) *consensus.Tx {
	tx, err := consensus.NewRegistration(name, k.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consensus.GrindRegistration(context.Background(), tx, consensus.Regtest.TxBits, nil); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestChainThroughBridge: a light client in the "browser" syncs headers
// through the bridge, registers a user with sendTx, and verifies the
// user's proof against its own header chain.
func TestChainThroughBridge(t *testing.T) {
	ch, clock := regChain(t)
	var relayed []*consensus.Tx
	var mu sync.Mutex
	env := startBridge(t, bridge.Config{Chain: bridge.FromChain(ch, func(tx *consensus.Tx) error {
		mu.Lock()
		relayed = append(relayed, tx)
		mu.Unlock()
		return nil
	})}, "")
	c := dial(t, env.url)
	ctx := ctxT(t, 30*time.Second)

	key := userKey("erin")
	tx := registration(t, "erin", key)
	if err := c.SendTx(ctx, tx.Bytes()); err != nil {
		t.Fatal(err)
	}
	if len(relayed) != 1 || relayed[0].Username() != "erin" {
		t.Fatalf("relayed %v", relayed)
	}
	var se *client.ServerError
	if err := c.SendTx(ctx, []byte{1, 2, 3}); !errors.As(err, &se) || se.Code != "failed" {
		t.Fatalf("garbage tx: %v", err)
	}
	for range 3 {
		if _, err := ch.MineBlock(ctx, "", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	height, hash, err := c.Tip(ctx)
	if err != nil || height != 3 {
		t.Fatalf("tip %d %v", height, err)
	}
	if want := ch.Tip().Hash; string(hash) != string(want[:]) {
		t.Fatal("tip hash differs")
	}

	lc := light.NewHeaderChain(consensus.Regtest, light.WithClock(clock))
	raw, tip, err := c.Headers(ctx, 1, 100)
	if err != nil || len(raw) != 3 || tip != 3 {
		t.Fatalf("headers: %d %d %v", len(raw), tip, err)
	}
	var hs []consensus.Header
	for _, r := range raw {
		h, err := consensus.DecodeHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	if err := lc.AddHeaders(hs); err != nil {
		t.Fatal(err)
	}
	if _, h := lc.Tip(); h != 3 {
		t.Fatalf("light tip %d", h)
	}
	proofBytes, err := c.ProveUser(ctx, "erin")
	if err != nil {
		t.Fatal(err)
	}
	proof, err := light.DecodeUserProof(proofBytes)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := lc.VerifyUserProof(proof)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := hist.At(3); !ok || !k.Equal(key.PubKey()) {
		t.Fatalf("proved key %x", k)
	}
	if _, err := c.ProveUser(ctx, "nobody-here"); !errors.As(err, &se) || se.Code != "not-found" {
		t.Fatalf("unknown user: %v", err)
	}
	if _, _, err := c.Headers(ctx, 50, 10); !errors.As(err, &se) || se.Code != "not-found" {
		t.Fatalf("headers above tip: %v", err)
	}
	if st := env.srv.Stats(); st.ChainHeight != 3 || st.ChainErrors != 1 {
		t.Errorf("chain height %d errors %d", st.ChainHeight, st.ChainErrors)
	}
}
