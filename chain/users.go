package chain

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	bolt "go.etcd.io/bbolt"
)

func (c *Chain) userEntries(name string) ([]userEntry, error) {
	if c.db == nil {
		return nil, ErrClosed
	}
	var es []userEntry
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		es, err = readUser(tx, name)
		return err
	})
	return es, err
}

// KeyAt returns the key user had at height: that of the newest
// registration or replacement in a best-chain block at or below height; a
// negative height means the tip (§1.5). It implements keys.Resolver and
// returns keys.ErrUnknownUser when the name has no key at that height.
func (c *Chain) KeyAt(user string, height int64) (keys.PubKey, error) {
	h, err := c.KeyHistory(user)
	if err != nil {
		return nil, err
	}
	k, ok := h.At(height)
	if !ok {
		return nil, fmt.Errorf("%w: %q at height %d", keys.ErrUnknownUser, user, height)
	}
	if len(k) == 0 {
		return nil, fmt.Errorf("chain: %q registered an unparsable key", user)
	}
	return k, nil
}

// KeyHistory returns every key user has had, each with the height of the
// block that registered it, ascending; keys.ErrUnknownUser if none.
func (c *Chain) KeyHistory(user string) (keys.KeyHistory, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	es, err := c.userEntries(user)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: %q", keys.ErrUnknownUser, user)
	}
	h := make(keys.KeyHistory, len(es))
	for i, e := range es {
		h[i] = keys.KeyEntry{Height: e.Height, Key: e.Key}
	}
	return h, nil
}

// RegistrationHeight returns the height of the block holding user's
// current registration (or latest key replacement).
func (c *Chain) RegistrationHeight(user string) (int64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	es, err := c.userEntries(user)
	if err != nil {
		return 0, err
	}
	if len(es) == 0 {
		return 0, fmt.Errorf("%w: %q", keys.ErrUnknownUser, user)
	}
	return es[len(es)-1].Height, nil
}

// UserExists tells whether user is registered on the best chain.
func (c *Chain) UserExists(user string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	es, err := c.userEntries(user)
	return err == nil && len(es) > 0
}

// RegistrationTx returns the transaction of user's current registration
// and the hash of the block holding it (getrawtransaction <username>).
func (c *Chain) RegistrationTx(user string) (*consensus.Tx, consensus.Hash, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	es, err := c.userEntries(user)
	if err != nil {
		return nil, consensus.Hash{}, err
	}
	if len(es) == 0 {
		return nil, consensus.Hash{}, fmt.Errorf("%w: %q", keys.ErrUnknownUser, user)
	}
	e := es[len(es)-1]
	n := c.main[e.Height]
	b, err := c.readBlock(n.hash)
	if err != nil {
		return nil, consensus.Hash{}, err
	}
	if int(e.TxIndex) >= len(b.Txs) {
		return nil, consensus.Hash{}, fmt.Errorf("chain: registration of %q points past block %s", user, n.hash)
	}
	return b.Txs[e.TxIndex], n.hash, nil
}

// ListUsernames returns up to max registered names starting with prefix,
// in byte order (listusernamespartial).
func (c *Chain) ListUsernames(prefix string, max int) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	if c.db == nil || max <= 0 {
		return out
	}
	_ = c.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketUsers).Cursor()
		p := []byte(prefix)
		for k, _ := cur.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(out) < max; k, _ = cur.Next() {
			out = append(out, string(k))
		}
		return nil
	})
	return out
}

// UsernameToTxNum returns the global number of user's current registration
// transaction: the count of all transactions (coinbases included) in the
// best chain before it (src/main.cpp: UsernameToTxNum(), used by short
// URLs, §2.11).
func (c *Chain) UsernameToTxNum(user string) (uint64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	es, err := c.userEntries(user)
	if err != nil {
		return 0, err
	}
	if len(es) == 0 {
		return 0, fmt.Errorf("%w: %q", keys.ErrUnknownUser, user)
	}
	e := es[len(es)-1]
	n := c.main[e.Height]
	return n.chainTx - uint64(n.nTx) + uint64(e.TxIndex), nil
}

// TxNumToUsername is the inverse of UsernameToTxNum: the username of the
// transaction with that global number, as tx.Username() reads it ("" for
// a mined coinbase, "nobody" for the genesis coinbase whose userName is a
// single push).
func (c *Chain) TxNumToUsername(num uint64) (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if num >= c.tip().chainTx {
		return "", fmt.Errorf("%w: transaction number %d (chain has %d)", ErrNotFound, num, c.tip().chainTx)
	}
	i := sort.Search(len(c.main), func(i int) bool { return c.main[i].chainTx > num })
	n := c.main[i]
	b, err := c.readBlock(n.hash)
	if err != nil {
		return "", err
	}
	return b.Txs[num-(n.chainTx-uint64(n.nTx))].Username(), nil
}

var _ keys.Resolver = (*Chain)(nil)
