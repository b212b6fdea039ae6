package chain

import (
	"cmp"
	"slices"

	"github.com/gotwister/twister/chain/consensus"
	bolt "go.etcd.io/bbolt"
)

// mempool holds registrations waiting for a block, in arrival order, at
// most one per username.
type mempool struct {
	max    int
	seq    uint64
	txs    map[consensus.Hash]*poolTx
	byUser map[string]consensus.Hash
}

type poolTx struct {
	tx  *consensus.Tx
	seq uint64
}

func (p *mempool) init(max int) {
	p.max = max
	p.txs = map[consensus.Hash]*poolTx{}
	p.byUser = map[string]consensus.Hash{}
}

func (p *mempool) remove(h consensus.Hash) {
	if pt, ok := p.txs[h]; ok {
		delete(p.txs, h)
		delete(p.byUser, pt.tx.Username())
	}
}

// AcceptTx puts a registration or key replacement into the memory pool
// after the checks of CTxMemPool::accept(): the transaction rules (with the
// registration proof of work), not a coinbase, version ≤ 1 and size below
// 700 bytes, not already pooled, and for a name already registered only a
// key replacement signed by the current key. One pending registration per
// name is kept (the first seen).
func (c *Chain) AcceptTx(tx *consensus.Tx) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		return ErrClosed
	}
	return c.acceptTx(tx)
}

func (c *Chain) acceptTx(tx *consensus.Tx) error {
	if err := consensus.CheckTransaction(c.params, tx); err != nil {
		return err
	}
	if tx.IsCoinbase() {
		return consensus.NewRuleError(consensus.ReasonNonStandard, "a promoted message is only valid in a block")
	}
	if tx.Version > consensus.TxVersion {
		return consensus.NewRuleError(consensus.ReasonNonStandard, "transaction version %d", tx.Version)
	}
	if n := tx.SerializeSize(); n >= consensus.MaxStandardTxSize {
		return consensus.NewRuleError(consensus.ReasonNonStandard, "transaction has %d bytes", n)
	}
	h := tx.Hash()
	if _, ok := c.pool.txs[h]; ok {
		return consensus.NewRuleError(consensus.ReasonDuplicateTx, "transaction %s is already in the memory pool", h)
	}
	name := tx.Username()
	if other, ok := c.pool.byUser[name]; ok {
		return consensus.NewRuleError(consensus.ReasonDuplicateName, "a registration of %q (%s) is already pending", name, other)
	}
	if err := c.db.View(func(btx *bolt.Tx) error {
		reg, ok, err := boltUsers{btx}.Registration(name)
		if err != nil || !ok {
			return err
		}
		return consensus.VerifyReplacement(tx, reg.Key)
	}); err != nil {
		return err
	}
	if len(c.pool.txs) >= c.pool.max {
		return consensus.NewRuleError(consensus.ReasonNonStandard, "memory pool is full (%d transactions)", len(c.pool.txs))
	}
	c.pool.seq++
	c.pool.txs[h] = &poolTx{tx: tx.Clone(), seq: c.pool.seq}
	c.pool.byUser[name] = h
	return nil
}

// updateMempool drops the transactions a tip change mined or made invalid
// and offers again those of disconnected blocks.
func (c *Chain) updateMempool(connected, disconnected []*consensus.Block) {
	for _, b := range connected {
		for _, tx := range b.Txs[1:] {
			c.pool.remove(tx.Hash())
		}
	}
	var stale []consensus.Hash
	_ = c.db.View(func(btx *bolt.Tx) error {
		st := boltUsers{btx}
		for h, pt := range c.pool.txs {
			reg, ok, err := st.Registration(pt.tx.Username())
			if err != nil || (ok && consensus.VerifyReplacement(pt.tx, reg.Key) != nil) {
				stale = append(stale, h)
			}
		}
		return nil
	})
	for _, h := range stale {
		c.pool.remove(h)
	}
	for _, b := range disconnected {
		for _, tx := range b.Txs[1:] {
			_ = c.acceptTx(tx) // a resurrected tx may no longer be valid
		}
	}
}

// MempoolTxs returns the pooled transactions in arrival order.
func (c *Chain) MempoolTxs() []*consensus.Tx {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.mempoolSorted()
}

func (c *Chain) mempoolSorted() []*consensus.Tx {
	pts := make([]*poolTx, 0, len(c.pool.txs))
	for _, pt := range c.pool.txs {
		pts = append(pts, pt)
	}
	sortBySeq(pts)
	out := make([]*consensus.Tx, len(pts))
	for i, pt := range pts {
		out[i] = pt.tx.Clone()
	}
	return out
}

func sortBySeq(pts []*poolTx) {
	slices.SortFunc(pts, func(a, b *poolTx) int { return cmp.Compare(a.seq, b.seq) })
}

// MempoolTx returns a pooled transaction by id.
func (c *Chain) MempoolTx(h consensus.Hash) (*consensus.Tx, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	pt, ok := c.pool.txs[h]
	if !ok {
		return nil, false
	}
	return pt.tx.Clone(), true
}

// MempoolSize returns the number of pooled transactions.
func (c *Chain) MempoolSize() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.pool.txs)
}
