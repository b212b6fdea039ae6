package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

// FromDHT adapts a running *dht.DHT to the bridge's DHT interface. Items
// are passed on with the exact bytes the DHT received (Item.P, SigP,
// SigUser); a put that no node accepted yet (dht.ErrQueued) reports
// queued = true.
func FromDHT(d *dht.DHT) DHT { return dhtAdapter{d} }

type dhtAdapter struct{ d *dht.DHT }

func (a dhtAdapter) Get(ctx context.Context, name, res string, multi bool, o GetOptions) ([]Item, error) {
	items, err := a.d.Get(ctx, name, res, multi, dht.GetOptions{MinMulti: o.MinMulti, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = Item{P: it.P, SigP: it.SigP, SigUser: it.SigUser}
	}
	return out, nil
}

func (a dhtAdapter) PutSigned(ctx context.Context, rawP, sigP []byte, sigUser string) (bool, error) {
	err := a.d.PutSigned(ctx, rawP, sigP, sigUser)
	if errors.Is(err, dht.ErrQueued) {
		return true, nil
	}
	return false, err
}

func (a dhtAdapter) Announce(ctx context.Context, ih resource.Target, name string, port int) error {
	return a.d.Announce(ctx, ih, name, port)
}

func (a dhtAdapter) GetPeers(ctx context.Context, ih resource.Target, name string) ([]netip.AddrPort, error) {
	return a.d.GetPeers(ctx, ih, name)
}

func (a dhtAdapter) Nodes() int { return a.d.Stats().Nodes }

// FromChain adapts a *chain.Chain. SubmitTx decodes the transaction, puts
// it in the chain's memory pool (chain.AcceptTx runs every check a node
// applies) and then hands it to relay, which carries it into the P2P
// network (the chain/p2p layer's broadcast); relay may be nil when the
// bridge's chain has no P2P connection (the transaction then only waits in
// the local pool).
func FromChain(c *chain.Chain, relay func(tx *consensus.Tx) error) ChainSource {
	return chainAdapter{c, relay}
}

type chainAdapter struct {
	c     *chain.Chain
	relay func(tx *consensus.Tx) error
}

func (a chainAdapter) Tip() (int64, [32]byte) {
	t := a.c.Tip()
	return t.Height, t.Hash
}

func (a chainAdapter) Headers(from int64, count int) ([][]byte, error) {
	tip := a.c.Height()
	if from > tip {
		return nil, fmt.Errorf("%w: height %d is above the tip %d", ErrNotFound, from, tip)
	}
	out := make([][]byte, 0, min(int64(count), tip-from+1))
	for h := from; h <= tip && len(out) < count; h++ {
		hd, err := a.c.HeaderByHeight(h)
		if errors.Is(err, chain.ErrNotFound) {
			break // the chain reorganised to a shorter branch meanwhile
		}
		if err != nil {
			return nil, err
		}
		b := hd.Serialize()
		out = append(out, b[:])
	}
	return out, nil
}

func (a chainAdapter) ProveUser(name string) ([]byte, error) {
	p, err := a.c.ProveUser(name)
	if errors.Is(err, keys.ErrUnknownUser) {
		return nil, fmt.Errorf("%w: user %q is not registered", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}

func (a chainAdapter) SubmitTx(raw []byte) error {
	tx, err := consensus.DecodeTx(raw)
	if err != nil {
		return fmt.Errorf("bad transaction: %w", err)
	}
	if err := a.c.AcceptTx(tx); err != nil {
		return err
	}
	if a.relay != nil {
		return a.relay(tx)
	}
	return nil
}
