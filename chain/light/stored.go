package light

import (
	"fmt"
	"math/big"

	"github.com/gotwister/twister/chain/consensus"
)

// AddStoredHeaders re-adds headers that this client checked with
// AddHeaders earlier and kept in its own storage (the browser node's
// IndexedDB), to start fast: it applies every rule AddHeaders applies —
// links to a known header, required bits, median time past, checkpoints,
// version, height, the 2-hour future rule — except the scrypt proof of
// work, which costs about 0.6 ms per header in WebAssembly (minutes for a
// chain of a few hundred thousand blocks) and was already checked when the
// header arrived from the network.
//
// Use it only for headers from storage that no one but this client can
// write (a same-origin IndexedDB: whoever can write there can also run
// code in the page). Headers from a bridge or a peer always go through
// AddHeaders. Like AddHeaders, it stops at the first bad header and keeps
// the ones before it.
func (hc *HeaderChain) AddStoredHeaders(hs []consensus.Header) error {
	now := hc.clock().Unix()
	for i := range hs {
		h := &hs[i]
		hash := h.Hash()
		if _, ok := hc.nodes[hash]; ok {
			continue
		}
		parent, ok := hc.nodes[h.PrevBlock]
		if !ok {
			return consensus.NewRuleError(consensus.ReasonMissingAncestor, "stored header %s: parent %s is unknown", hash, h.PrevBlock)
		}
		if int64(h.Time) > now+hc.params.MaxFutureBlock {
			return consensus.NewRuleError(consensus.ReasonTimeTooNew, "stored header %s time %d is more than 2 h ahead", hash, h.Time)
		}
		if err := consensus.CheckHeaderContext(hc.params, h, parent.height, branch{hc, parent}); err != nil {
			return fmt.Errorf("stored header %s: %w", hash, err)
		}
		n := &hnode{hash: hash, header: *h, height: parent.height + 1, parent: parent,
			work: new(big.Int).Add(parent.work, consensus.Work(h.Bits))}
		hc.nodes[hash] = n
		if n.work.Cmp(hc.tip().work) > 0 {
			hc.setBest(n)
		}
	}
	return nil
}
