package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/gotwister/twister/chain/consensus"
	bolt "go.etcd.io/bbolt"
)

// TipChange describes a move of the best chain: the blocks taken off the
// old branch (tip first) and those put on (ascending), as delivered to
// Subscribe callbacks.
type TipChange struct {
	OldTip, NewTip       consensus.Hash
	OldHeight, NewHeight int64
	Disconnected         []consensus.Hash
	Connected            []consensus.Hash
}

// ProcessBlock validates a block received from a peer or mined locally and
// adds it to the chain (src/main.cpp: ProcessBlock(), AcceptBlock(),
// SetBestChain(), ConnectBlock()):
//
//   - the context-free rules (size, proof of work, time, coinbase, tx
//     rules, duplicates, merkle root) and, for a fork below the last
//     checkpoint, the minimum-work rule;
//   - a block whose parent is unknown is kept in the orphan pool and
//     orphan is true (ask the sender for OrphanRoot's ancestors);
//   - otherwise the header rules against its parent (bits, median time,
//     checkpoints, version, height), then the block is stored and, if its
//     branch has more work than the best chain, the chain reorganises to it,
//     checking the username rules of every block connected;
//   - orphans waiting for this block are then processed in turn.
//
// A refused block gives a *consensus.RuleError; test its reason with
// errors.Is(err, consensus.ReasonXxx).
func (c *Chain) ProcessBlock(b *consensus.Block) (orphan bool, err error) {
	c.mu.Lock()
	if c.db == nil {
		c.mu.Unlock()
		return false, ErrClosed
	}
	var changes []TipChange
	orphan, err = c.processBlock(b, &changes)
	c.pendMu.Lock()
	c.pending = append(c.pending, changes...)
	c.pendMu.Unlock()
	c.mu.Unlock()
	c.flush()
	return orphan, err
}

// flush delivers the queued tip changes in order. Changes are queued under
// the chain lock and delivered after it is released, so callbacks may read
// the chain.
func (c *Chain) flush() {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	c.pendMu.Lock()
	changes := c.pending
	c.pending = nil
	c.pendMu.Unlock()
	c.deliver(changes)
}

func (c *Chain) processBlock(b *consensus.Block, changes *[]TipChange) (bool, error) {
	h := b.Hash()
	if n, ok := c.index[h]; ok {
		return false, consensus.NewRuleError(consensus.ReasonDuplicateBlock, "already have block %s at height %d", h, n.height)
	}
	if c.orphans.has(h) {
		return false, consensus.NewRuleError(consensus.ReasonDuplicateBlock, "already have block %s (orphan)", h)
	}
	if err := consensus.CheckBlockSanity(c.params, b, c.now()); err != nil {
		return false, err
	}
	if err := c.checkpointWork(b); err != nil {
		return false, err
	}
	parent, ok := c.index[b.Header.PrevBlock]
	if !ok {
		if b.Header.PrevBlock.IsZero() {
			return false, consensus.NewRuleError(consensus.ReasonBadPrevBlock, "block %s has no parent and is not this network's genesis block", h)
		}
		c.orphans.add(h, b)
		return true, nil
	}
	if err := c.accept(b, h, parent, changes); err != nil {
		return false, err
	}
	queue := []consensus.Hash{h}
	for len(queue) > 0 {
		ph := queue[0]
		queue = queue[1:]
		pn := c.index[ph]
		for _, ob := range c.orphans.children(ph) {
			oh := ob.Hash()
			if err := c.accept(ob, oh, pn, changes); err != nil {
				c.cfg.Logger.Info("orphan block refused", "block", oh, "err", err)
				continue
			}
			queue = append(queue, oh)
		}
	}
	return false, nil
}

// checkpointWork refuses forks that branch off before the tip with less
// work than could possibly have been done since the last checkpoint
// (ProcessBlock()'s ComputeMinWork check).
func (c *Chain) checkpointWork(b *consensus.Block) error {
	if b.Header.PrevBlock == c.tip().hash {
		return nil
	}
	var cp *node
	for i := len(c.params.Checkpoints) - 1; i >= 0 && cp == nil; i-- {
		cp = c.index[c.params.Checkpoints[i].Hash]
	}
	if cp == nil {
		return nil
	}
	delta := int64(b.Header.Time) - int64(cp.header.Time)
	if delta < 0 {
		return consensus.NewRuleError(consensus.ReasonTooLittleWork, "block time %d is before the last checkpoint's %d", b.Header.Time, cp.header.Time)
	}
	required := consensus.CompactToTarget(consensus.ComputeMinWork(c.params, cp.header.Bits, delta))
	if consensus.CompactToTarget(b.Header.Bits).Cmp(required) > 0 {
		return consensus.NewRuleError(consensus.ReasonTooLittleWork, "block bits %08x are easier than possible since the last checkpoint", b.Header.Bits)
	}
	return nil
}

// accept checks b against its parent, stores it and moves the best chain
// to it when it has more work.
func (c *Chain) accept(b *consensus.Block, h consensus.Hash, parent *node, changes *[]TipChange) error {
	if parent.status == statusFailed {
		return consensus.NewRuleError(consensus.ReasonBadPrevBlock, "parent %s of block %s is invalid", parent.hash, h)
	}
	if err := consensus.CheckHeaderContext(c.params, &b.Header, parent.height, ancestry{c, parent}); err != nil {
		return err
	}
	n := &node{
		hash: h, header: b.Header, height: parent.height + 1, parent: parent,
		work:    new(big.Int).Add(parent.work, consensus.Work(b.Header.Bits)),
		nTx:     uint32(len(b.Txs)),
		chainTx: parent.chainTx + uint64(len(b.Txs)),
	}
	raw := b.Bytes()
	store := func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketBlocks).Put(h[:], raw); err != nil {
			return err
		}
		return tx.Bucket(bucketNodes).Put(h[:], encodeNode(n))
	}
	if n.work.Cmp(c.tip().work) <= 0 {
		if err := c.db.Update(store); err != nil {
			return fmt.Errorf("chain: store block %s: %w", h, err)
		}
		c.index[h] = n
		return nil
	}
	res, bad, err := c.switchTo(n, store, map[consensus.Hash]*consensus.Block{h: b})
	if err == nil {
		c.index[h] = n
		c.applySwitch(res, changes)
		return nil
	}
	if bad == nil {
		return err
	}
	// A block of the new branch broke a username rule: the transaction
	// was rolled back. Keep the new block (marked invalid if it descends
	// from the bad one), remember the failure, and settle on the best
	// valid branch.
	c.index[h] = n
	if ferr := c.markFailed(bad, store); ferr != nil {
		return ferr
	}
	if rerr := c.recoverBest(changes); rerr != nil {
		return rerr
	}
	if bad != n {
		return consensus.NewRuleError(consensus.ReasonBadPrevBlock, "block %s descends from invalid block %s: %v", h, bad.hash, err)
	}
	return err
}

// markFailed marks bad and every indexed descendant invalid, in memory and
// in the store (extra, if not nil, runs in the same transaction).
func (c *Chain) markFailed(bad *node, extra func(*bolt.Tx) error) error {
	var marked []*node
	for _, n := range c.index {
		if n.height >= bad.height && c.ancestor(n, bad.height) == bad {
			n.status = statusFailed
			marked = append(marked, n)
		}
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		for _, n := range marked {
			if err := tx.Bucket(bucketNodes).Put(n.hash[:], encodeNode(n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("chain: record invalid block %s: %w", bad.hash, err)
	}
	c.cfg.Logger.Warn("invalid block", "block", bad.hash, "height", bad.height, "marked", len(marked))
	return nil
}

// recoverBest moves the best chain to the valid branch with the most work,
// marking blocks that fail on the way.
func (c *Chain) recoverBest(changes *[]TipChange) error {
	for {
		best := c.tip()
		for _, n := range c.index {
			if n.status == statusValid && n.work.Cmp(best.work) > 0 {
				best = n
			}
		}
		if best == c.tip() {
			return nil
		}
		res, bad, err := c.switchTo(best, nil, nil)
		if err == nil {
			c.applySwitch(res, changes)
			return nil
		}
		if bad == nil {
			return err
		}
		if err := c.markFailed(bad, nil); err != nil {
			return err
		}
	}
}

// switchResult is what a committed switch of the best chain changed.
type switchResult struct {
	fork         *node
	oldTip       *node
	target       *node
	disconnected []*consensus.Block // tip first
	connected    []*consensus.Block // ascending
	connNodes    []*node
	discNodes    []*node
}

// errRule marks the rule error that rolled a switch back.
type errRule struct {
	node *node
	err  error
}

func (e *errRule) Error() string { return e.err.Error() }

// switchTo makes target the tip in one bbolt transaction: it disconnects
// the old branch down to the fork, connects the new one checking the
// username rules, and moves main, users and tip. extra runs first in the
// same transaction. On a rule failure, it returns the failing node and
// the rule error, and nothing is written.
func (c *Chain) switchTo(target *node, extra func(*bolt.Tx) error, have map[consensus.Hash]*consensus.Block) (*switchResult, *node, error) {
	res := &switchResult{oldTip: c.tip(), target: target}
	fork := target
	for !c.onMain(fork) {
		fork = fork.parent
	}
	res.fork = fork
	for n := c.tip(); n != fork; n = n.parent {
		res.discNodes = append(res.discNodes, n)
	}
	for n := target; n != fork; n = n.parent {
		res.connNodes = append(res.connNodes, n)
	}
	for i, j := 0, len(res.connNodes)-1; i < j; i, j = i+1, j-1 {
		res.connNodes[i], res.connNodes[j] = res.connNodes[j], res.connNodes[i]
	}
	var failed *node
	err := c.db.Update(func(tx *bolt.Tx) error {
		res.disconnected, res.connected = nil, nil
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		for _, n := range res.discNodes {
			blk, err := readBlock(tx, n.hash)
			if err != nil {
				return err
			}
			if err := disconnectBlock(tx, n, blk); err != nil {
				return err
			}
			res.disconnected = append(res.disconnected, blk)
		}
		st := boltUsers{tx}
		for _, n := range res.connNodes {
			blk := have[n.hash]
			if blk == nil {
				var err error
				if blk, err = readBlock(tx, n.hash); err != nil {
					return err
				}
			}
			if err := consensus.CheckBlockUsers(blk, st); err != nil {
				failed = n
				return &errRule{node: n, err: err}
			}
			if err := connectBlock(tx, n, blk); err != nil {
				return err
			}
			res.connected = append(res.connected, blk)
		}
		return tx.Bucket(bucketMeta).Put(keyTip, target.hash[:])
	})
	if err != nil {
		var re *errRule
		if errors.As(err, &re) {
			return nil, failed, re.err
		}
		return nil, nil, fmt.Errorf("chain: switch to block %s: %w", target.hash, err)
	}
	return res, nil, nil
}

// connectBlock records a block's registrations and puts it on the best
// chain (ConnectBlock()'s index writes).
func connectBlock(tx *bolt.Tx, n *node, b *consensus.Block) error {
	for i, t := range b.Txs {
		if i == 0 {
			continue
		}
		name := t.Username()
		es, err := readUser(tx, name)
		if err != nil {
			return err
		}
		es = append(es, userEntry{Height: n.height, TxIndex: uint32(i), TxID: t.Hash(), Key: t.Key()})
		if err := writeUser(tx, name, es); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMain).Put(heightKey(n.height), n.hash[:])
}

// disconnectBlock undoes connectBlock: each registration of the block is
// the last entry of its name's history and is removed.
func disconnectBlock(tx *bolt.Tx, n *node, b *consensus.Block) error {
	for i := len(b.Txs) - 1; i >= 1; i-- {
		name := b.Txs[i].Username()
		es, err := readUser(tx, name)
		if err != nil {
			return err
		}
		if len(es) == 0 || es[len(es)-1].Height != n.height {
			return fmt.Errorf("chain: username index of %q does not end at block %s (height %d)", name, n.hash, n.height)
		}
		if err := writeUser(tx, name, es[:len(es)-1]); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMain).Delete(heightKey(n.height))
}

// applySwitch updates memory after a committed switch.
func (c *Chain) applySwitch(res *switchResult, changes *[]TipChange) {
	c.main = c.main[:res.fork.height+1]
	c.main = append(c.main, res.connNodes...)
	ch := TipChange{OldTip: res.oldTip.hash, OldHeight: res.oldTip.height, NewTip: res.target.hash, NewHeight: res.target.height}
	for _, n := range res.discNodes {
		ch.Disconnected = append(ch.Disconnected, n.hash)
	}
	for _, n := range res.connNodes {
		ch.Connected = append(ch.Connected, n.hash)
	}
	if len(res.discNodes) > 0 {
		c.cfg.Logger.Info("reorganise", "fork", res.fork.hash, "disconnect", len(res.discNodes), "connect", len(res.connNodes))
	}
	c.updateMempool(res.connected, res.disconnected)
	*changes = append(*changes, ch)
}

// Subscribe registers f to be called after every change of the best chain,
// in order, outside the chain's lock, before the ProcessBlock (or
// MineBlock) that caused it returns. f may read the chain but must not call
// ProcessBlock or MineBlock synchronously. The returned function
// cancels the subscription.
func (c *Chain) Subscribe(f func(TipChange)) (cancel func()) {
	c.subsMu.Lock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = f
	c.subsMu.Unlock()
	return func() {
		c.subsMu.Lock()
		delete(c.subs, id)
		c.subsMu.Unlock()
	}
}

func (c *Chain) deliver(changes []TipChange) {
	if len(changes) == 0 {
		return
	}
	c.subsMu.Lock()
	fs := make([]func(TipChange), 0, len(c.subs))
	for _, f := range c.subs {
		fs = append(fs, f)
	}
	c.subsMu.Unlock()
	for _, ch := range changes {
		for _, f := range fs {
			f(ch)
		}
	}
}
