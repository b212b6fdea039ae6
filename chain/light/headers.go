package light

import (
	"fmt"
	"math/big"
	"time"

	"github.com/gotwister/twister/chain/consensus"
)

// hnode is a header known to the client.
type hnode struct {
	hash   consensus.Hash
	header consensus.Header
	height int64
	parent *hnode
	work   *big.Int // work since the checkpoint
}

// HeaderChain is a tree of headers checked by the client, rooted at a
// trusted checkpoint, with the branch of most work as the best chain.
type HeaderChain struct {
	params *consensus.Params
	clock  func() time.Time
	root   *hnode
	nodes  map[consensus.Hash]*hnode
	best   []*hnode // best[i] is at height root.height+i
}

// Option changes a HeaderChain.
type Option func(*HeaderChain)

// WithClock sets the adjusted-time source used for the 2-hour future rule.
func WithClock(f func() time.Time) Option { return func(h *HeaderChain) { h.clock = f } }

// NewHeaderChain starts a header chain at params.LightCheckpoint.
func NewHeaderChain(params *consensus.Params, opts ...Option) *HeaderChain {
	return NewHeaderChainFrom(params, params.LightCheckpoint, opts...)
}

// NewHeaderChainFrom starts a header chain at a checkpoint the caller
// trusts. Its height should be 0 or a multiple of the retarget interval.
func NewHeaderChainFrom(params *consensus.Params, cp consensus.LightCheckpoint, opts ...Option) *HeaderChain {
	root := &hnode{hash: cp.Header.Hash(), header: cp.Header, height: cp.Height, work: new(big.Int)}
	hc := &HeaderChain{params: params, clock: time.Now, root: root, nodes: map[consensus.Hash]*hnode{root.hash: root}, best: []*hnode{root}}
	for _, o := range opts {
		o(hc)
	}
	return hc
}

func (hc *HeaderChain) tip() *hnode { return hc.best[len(hc.best)-1] }

// Tip returns the best header's hash and height.
func (hc *HeaderChain) Tip() (consensus.Hash, int64) { t := hc.tip(); return t.hash, t.height }

// Root returns the checkpoint the chain starts from.
func (hc *HeaderChain) Root() (consensus.Hash, int64) { return hc.root.hash, hc.root.height }

// HeaderAt returns the best-chain header at height.
func (hc *HeaderChain) HeaderAt(height int64) (consensus.Header, consensus.Hash, bool) {
	i := height - hc.root.height
	if i < 0 || i >= int64(len(hc.best)) {
		return consensus.Header{}, consensus.Hash{}, false
	}
	return hc.best[i].header, hc.best[i].hash, true
}

// Locator returns a block locator of the best chain, for getheaders.
func (hc *HeaderChain) Locator() []consensus.Hash {
	var out []consensus.Hash
	step := 1
	for i := len(hc.best) - 1; ; i -= step {
		if i <= 0 {
			return append(out, hc.root.hash)
		}
		out = append(out, hc.best[i].hash)
		if len(out) > 10 {
			step *= 2
		}
	}
}

func (hc *HeaderChain) onBest(n *hnode) bool {
	i := n.height - hc.root.height
	return i >= 0 && i < int64(len(hc.best)) && hc.best[i] == n
}

// branch is the consensus.Ancestors view of the branch ending at a node.
type branch struct {
	hc  *HeaderChain
	end *hnode
}

func (b branch) Ancestor(h int64) (*consensus.Header, bool) {
	n := b.end
	if h < b.hc.root.height || h > n.height {
		return nil, false
	}
	for n.height > h {
		if b.hc.onBest(n) {
			return &b.hc.best[h-b.hc.root.height].header, true
		}
		n = n.parent
	}
	return &n.header, true
}

// AddHeaders checks headers in order and adds them. Each must extend a
// header already known (the checkpoint or one added before) and pass the
// proof of work, the 2-hour future rule and the contextual header rules
// (bits, median time past over the headers the client holds, checkpoints,
// version, height). Headers already known are skipped. It stops at the
// first bad header and returns its rule error; the headers before it stay.
func (hc *HeaderChain) AddHeaders(hs []consensus.Header) error {
	now := hc.clock().Unix()
	for i := range hs {
		h := &hs[i]
		hash := h.Hash()
		if _, ok := hc.nodes[hash]; ok {
			continue
		}
		parent, ok := hc.nodes[h.PrevBlock]
		if !ok {
			return consensus.NewRuleError(consensus.ReasonMissingAncestor, "header %s: parent %s is unknown", hash, h.PrevBlock)
		}
		if err := consensus.CheckProofOfWork(h.PoWHash(), h.Bits, hc.params.PowLimit); err != nil {
			return consensus.NewRuleError(consensus.ReasonBadBlockPoW, "header %s: %v", hash, err)
		}
		if int64(h.Time) > now+hc.params.MaxFutureBlock {
			return consensus.NewRuleError(consensus.ReasonTimeTooNew, "header %s time %d is more than 2 h ahead", hash, h.Time)
		}
		if err := consensus.CheckHeaderContext(hc.params, h, parent.height, branch{hc, parent}); err != nil {
			return fmt.Errorf("header %s: %w", hash, err)
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

func (hc *HeaderChain) setBest(n *hnode) {
	var path []*hnode
	for m := n; !hc.onBest(m); m = m.parent {
		path = append(path, m)
	}
	fork := n.height - int64(len(path))
	hc.best = hc.best[:fork-hc.root.height+1]
	for i := len(path) - 1; i >= 0; i-- {
		hc.best = append(hc.best, path[i])
	}
}
