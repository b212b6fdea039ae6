package chain

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	bolt "go.etcd.io/bbolt"
)

// NewBlockTemplate assembles the next block on the best chain, unsolved
// (src/main.cpp: CreateNewBlock()): a coinbase with the promoted message
// msg (the default text if empty) from user ("nobody" if empty), signed
// with key unless the user is "nobody"; then the pooled registrations
// still valid on the tip, one per name, in arrival order, up to the
// configured block size; version 2, the next height, time
// max(median time past + 1, now) and the required bits. key must be the
// current key of user.
func (c *Chain) NewBlockTemplate(user string, key *keys.PrivateKey, msg string) (*consensus.Block, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.db == nil {
		return nil, ErrClosed
	}
	if user == "" {
		user = consensus.NobodyUser
	}
	if user != consensus.NobodyUser {
		if key == nil {
			return nil, fmt.Errorf("chain: promoted message by %q needs its key", user)
		}
		es, err := c.userEntries(user)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			return nil, fmt.Errorf("chain: promoted message user %q is not registered", user)
		}
		if key.PubKey().ID() != es[len(es)-1].Key.ID() {
			return nil, fmt.Errorf("chain: the key given is not %q's current key", user)
		}
	}
	var salt [4]byte
	if _, err := io.ReadFull(c.cfg.Rand, salt[:]); err != nil {
		return nil, fmt.Errorf("chain: coinbase salt: %w", err)
	}
	cb, err := consensus.NewCoinbase(msg, user, key, salt, 1)
	if err != nil {
		return nil, err
	}
	b := &consensus.Block{Txs: []*consensus.Tx{cb}}
	size := 1000
	users := map[string]bool{}
	err = c.db.View(func(btx *bolt.Tx) error {
		st := boltUsers{btx}
		for _, tx := range c.mempoolSorted() {
			name := tx.Username()
			if users[name] {
				continue
			}
			if err := consensus.CheckRegistrationAgainst(tx, st); err != nil {
				continue
			}
			n := tx.SerializeSize()
			if size+n >= c.cfg.BlockMaxSize {
				continue
			}
			users[name] = true
			size += n
			b.Txs = append(b.Txs, tx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tip := c.tip()
	anc := ancestry{c, tip}
	bits, err := consensus.NextBits(c.params, tip.height, &tip.header, anc)
	if err != nil {
		return nil, err
	}
	t := max(consensus.MedianTimePast(c.params, tip.height, anc)+1, c.now())
	b.Header = consensus.Header{
		Version:    consensus.BlockVersion,
		Height:     int32(tip.height + 1),
		PrevBlock:  tip.hash,
		MerkleRoot: b.ComputeMerkleRoot(),
		Time:       uint32(t),
		Bits:       bits,
	}
	return b, nil
}

// MineBlock assembles a block with NewBlockTemplate, grinds its scrypt
// proof of work and submits it with ProcessBlock, returning it. If the best
// chain moves while grinding it starts over on the new tip. It returns
// ctx.Err() when cancelled.
func (c *Chain) MineBlock(ctx context.Context, user string, key *keys.PrivateKey, msg string) (*consensus.Block, error) {
	for {
		b, err := c.NewBlockTemplate(user, key, msg)
		if err != nil {
			return nil, err
		}
		mctx, cancel := context.WithCancel(ctx)
		stop := c.Subscribe(func(ch TipChange) {
			if ch.NewTip != b.Header.PrevBlock {
				cancel()
			}
		})
		// The tip may have moved between the template and the subscription.
		if c.Tip().Hash != b.Header.PrevBlock {
			cancel()
		}
		err = consensus.SolveBlock(mctx, b, c.params.PowLimit)
		stop()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, context.Canceled) {
				continue // stale tip
			}
			return nil, err
		}
		if _, err := c.ProcessBlock(b); err != nil {
			return nil, err
		}
		return b, nil
	}
}
