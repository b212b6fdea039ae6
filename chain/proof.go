package chain

import (
	"fmt"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/light"
	"github.com/gotwister/twister/keys"
)

// ProveUser returns every registration of name on the best chain (the
// first registration and each key replacement) with merkle branches to
// their blocks, for a light client (light.HeaderChain.VerifyUserProof).
// It returns keys.ErrUnknownUser for a name that is not registered; that
// answer cannot be proven (see package light).
func (c *Chain) ProveUser(name string) (*light.UserProof, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	es, err := c.userEntries(name)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: %q", keys.ErrUnknownUser, name)
	}
	p := &light.UserProof{Name: name}
	for _, e := range es {
		n := c.main[e.Height]
		b, err := c.readBlock(n.hash)
		if err != nil {
			return nil, err
		}
		if int(e.TxIndex) >= len(b.Txs) || b.Txs[e.TxIndex].Hash() != e.TxID {
			return nil, fmt.Errorf("chain: registration of %q is not at %s:%d", name, n.hash, e.TxIndex)
		}
		p.Entries = append(p.Entries, light.ProofEntry{
			Height:    e.Height,
			BlockHash: n.hash,
			TxIndex:   int(e.TxIndex),
			Tx:        b.Txs[e.TxIndex],
			Branch:    consensus.MerkleBranch(b.TxHashes(), int(e.TxIndex)),
		})
	}
	return p, nil
}
