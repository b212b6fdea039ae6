package chain

import (
	"fmt"
	"math/big"

	"github.com/gotwister/twister/chain/consensus"
	bolt "go.etcd.io/bbolt"
)

// BlockInfo describes a stored block as the index knows it.
type BlockInfo struct {
	Hash      consensus.Hash
	Header    consensus.Header
	Height    int64
	ChainWork *big.Int // cumulative work of its branch
	NumTx     int
	TxNumBase uint64         // global number of its first transaction (§2.11)
	MainChain bool           // on the best chain
	Invalid   bool           // broke a rule when connected (or descends from such a block)
	Next      consensus.Hash // next block on the best chain (zero at the tip or off the best chain)
}

func (c *Chain) info(n *node) *BlockInfo {
	bi := &BlockInfo{
		Hash: n.hash, Header: n.header, Height: n.height, ChainWork: new(big.Int).Set(n.work),
		NumTx: int(n.nTx), TxNumBase: n.chainTx - uint64(n.nTx), MainChain: c.onMain(n),
		Invalid: n.status == statusFailed,
	}
	if bi.MainChain && n.height+1 < int64(len(c.main)) {
		bi.Next = c.main[n.height+1].hash
	}
	return bi
}

// Tip returns the best block.
func (c *Chain) Tip() *BlockInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.info(c.tip())
}

// Height returns the height of the best block (getblockcount).
func (c *Chain) Height() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tip().height
}

// BlockInfo returns what the index knows of a stored block.
func (c *Chain) BlockInfo(h consensus.Hash) (*BlockInfo, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok {
		return nil, fmt.Errorf("%w: block %s", ErrNotFound, h)
	}
	return c.info(n), nil
}

// HaveBlock tells whether a block is stored or waiting in the orphan pool
// (for inv handling).
func (c *Chain) HaveBlock(h consensus.Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.index[h]
	return ok || c.orphans.has(h)
}

// IsOrphan tells whether a block waits in the orphan pool.
func (c *Chain) IsOrphan(h consensus.Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.orphans.has(h)
}

// OrphanRoot returns the earliest orphan ancestor of an orphan block: the
// block whose parent the node should ask peers for (PushGetBlocks).
func (c *Chain) OrphanRoot(h consensus.Hash) consensus.Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.orphans.root(h)
}

// HashByHeight returns the hash of the best-chain block at height
// (getblockhash).
func (c *Chain) HashByHeight(height int64) (consensus.Hash, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if height < 0 || height >= int64(len(c.main)) {
		return consensus.Hash{}, fmt.Errorf("%w: height %d (best height %d)", ErrNotFound, height, len(c.main)-1)
	}
	return c.main[height].hash, nil
}

// HeaderByHeight returns the header of the best-chain block at height.
func (c *Chain) HeaderByHeight(height int64) (consensus.Header, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if height < 0 || height >= int64(len(c.main)) {
		return consensus.Header{}, fmt.Errorf("%w: height %d (best height %d)", ErrNotFound, height, len(c.main)-1)
	}
	return c.main[height].header, nil
}

// HeaderByHash returns a stored block's header and height.
func (c *Chain) HeaderByHash(h consensus.Hash) (consensus.Header, int64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.index[h]
	if !ok {
		return consensus.Header{}, 0, fmt.Errorf("%w: block %s", ErrNotFound, h)
	}
	return n.header, n.height, nil
}

// BlockByHash returns a stored block (on any branch).
func (c *Chain) BlockByHash(h consensus.Hash) (*consensus.Block, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.index[h]; !ok {
		return nil, fmt.Errorf("%w: block %s", ErrNotFound, h)
	}
	return c.readBlock(h)
}

// RawBlock returns a stored block's serialization (for `block` messages
// and getblock <hash> false).
func (c *Chain) RawBlock(h consensus.Hash) ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.db == nil {
		return nil, ErrClosed
	}
	var out []byte
	err := c.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBlocks).Get(h[:])
		if v == nil {
			return fmt.Errorf("%w: block %s", ErrNotFound, h)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// BlockByHeight returns the best-chain block at height.
func (c *Chain) BlockByHeight(height int64) (*consensus.Block, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if height < 0 || height >= int64(len(c.main)) {
		return nil, fmt.Errorf("%w: height %d (best height %d)", ErrNotFound, height, len(c.main)-1)
	}
	return c.readBlock(c.main[height].hash)
}

func (c *Chain) readBlock(h consensus.Hash) (*consensus.Block, error) {
	if c.db == nil {
		return nil, ErrClosed
	}
	var b *consensus.Block
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		b, err = readBlock(tx, h)
		return err
	})
	return b, err
}

// Locator returns a block locator of the best chain: the tip, going back
// one block at a time for 10 blocks then doubling the step, ending with
// the genesis block (CBlockLocator).
func (c *Chain) Locator() []consensus.Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []consensus.Hash
	step := int64(1)
	for h := c.tip().height; ; h -= step {
		if h <= 0 {
			out = append(out, c.main[0].hash)
			return out
		}
		out = append(out, c.main[h].hash)
		if len(out) > 10 {
			step *= 2
		}
	}
}

// locate returns the height of the first locator hash on the best chain
// (0, the genesis block, if none is).
func (c *Chain) locate(locator []consensus.Hash) int64 {
	for _, h := range locator {
		if n, ok := c.index[h]; ok && c.onMain(n) {
			return n.height
		}
	}
	return 0
}

// HashesAfter answers getblocks: the hashes of the best-chain blocks after
// the first locator hash found on the best chain (after the genesis block
// if none is), at most max of them, ending early after stop (zero: no
// stop).
func (c *Chain) HashesAfter(locator []consensus.Hash, stop consensus.Hash, max int) []consensus.Hash {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []consensus.Hash
	for h := c.locate(locator) + 1; h < int64(len(c.main)) && len(out) < max; h++ {
		out = append(out, c.main[h].hash)
		if c.main[h].hash == stop {
			break
		}
	}
	return out
}

// HeadersAfter answers getheaders like HashesAfter, with headers.
func (c *Chain) HeadersAfter(locator []consensus.Hash, stop consensus.Hash, max int) []consensus.Header {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []consensus.Header
	for h := c.locate(locator) + 1; h < int64(len(c.main)) && len(out) < max; h++ {
		out = append(out, c.main[h].header)
		if c.main[h].hash == stop {
			break
		}
	}
	return out
}

// NextBits returns the bits the next block on the best chain must carry.
func (c *Chain) NextBits() uint32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	tip := c.tip()
	bits, err := consensus.NextBits(c.params, tip.height, &tip.header, ancestry{c, tip})
	if err != nil {
		// The full chain holds every ancestor.
		panic(err)
	}
	return bits
}

// MedianTimePast returns the median time of the last 11 best-chain blocks;
// a new block's time must be greater.
func (c *Chain) MedianTimePast() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return consensus.MedianTimePast(c.params, c.tip().height, ancestry{c, c.tip()})
}
