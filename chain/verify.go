package chain

import (
	"bytes"
	"fmt"

	"github.com/gotwister/twister/chain/consensus"
	bolt "go.etcd.io/bbolt"
)

// CheckConsistency verifies the store against itself, as after a crash:
// every best-chain block from the tip down to the genesis block is indexed,
// stored, links to its parent and is recorded under its height; no height
// above the tip is recorded; and the username histories equal those
// rebuilt from the best chain's blocks. It reads the whole chain.
func (c *Chain) CheckConsistency() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.db == nil {
		return ErrClosed
	}
	return c.db.View(func(tx *bolt.Tx) error {
		tipHash := consensus.Hash(tx.Bucket(bucketMeta).Get(keyTip))
		if tipHash != c.tip().hash {
			return fmt.Errorf("chain: stored tip %s differs from memory %s", tipHash, c.tip().hash)
		}
		want := map[string][]userEntry{}
		mainB := tx.Bucket(bucketMain)
		nodes := tx.Bucket(bucketNodes)
		var child *consensus.Block
		for h := c.tip().height; h >= 0; h-- {
			n := c.main[h]
			if got := mainB.Get(heightKey(h)); !bytes.Equal(got, n.hash[:]) {
				return fmt.Errorf("chain: height %d records %x, best chain has %s", h, got, n.hash)
			}
			rec := nodes.Get(n.hash[:])
			if rec == nil {
				return fmt.Errorf("chain: block %s at height %d is not in the stored index", n.hash, h)
			}
			sn, err := decodeNode(rec)
			if err != nil {
				return err
			}
			if sn.height != h || sn.status != statusValid {
				return fmt.Errorf("chain: stored index of %s says height %d status %d", n.hash, sn.height, sn.status)
			}
			b, err := readBlock(tx, n.hash)
			if err != nil {
				return err
			}
			if b.Hash() != n.hash || b.ComputeMerkleRoot() != b.Header.MerkleRoot {
				return fmt.Errorf("chain: stored block %s does not match its hash or merkle root", n.hash)
			}
			if child != nil && child.Header.PrevBlock != n.hash {
				return fmt.Errorf("chain: block at height %d does not link to %s", h+1, n.hash)
			}
			child = b
			if h == 0 {
				continue
			}
			for i := len(b.Txs) - 1; i >= 1; i-- {
				t := b.Txs[i]
				want[t.Username()] = append(want[t.Username()], userEntry{Height: h, TxIndex: uint32(i), TxID: t.Hash(), Key: t.Key()})
			}
		}
		if k, _ := mainB.Cursor().Last(); k != nil && int64(bytesToHeight(k)) != c.tip().height {
			return fmt.Errorf("chain: heights recorded up to %d, tip is at %d", bytesToHeight(k), c.tip().height)
		}
		users := tx.Bucket(bucketUsers)
		if n := users.Stats().KeyN; n != len(want) {
			return fmt.Errorf("chain: %d usernames stored, best chain registers %d", n, len(want))
		}
		for name, rev := range want {
			got, err := readUser(tx, name)
			if err != nil {
				return err
			}
			if len(got) != len(rev) {
				return fmt.Errorf("chain: %q has %d stored registrations, best chain has %d", name, len(got), len(rev))
			}
			for i := range got {
				w := rev[len(rev)-1-i]
				if got[i].Height != w.Height || got[i].TxIndex != w.TxIndex || got[i].TxID != w.TxID || !got[i].Key.Equal(w.Key) {
					return fmt.Errorf("chain: registration %d of %q differs from the best chain", i, name)
				}
			}
		}
		return nil
	})
}

func bytesToHeight(k []byte) int64 {
	var h int64
	for _, b := range k {
		h = h<<8 | int64(b)
	}
	return h
}
