package chain

import "github.com/gotwister/twister/chain/consensus"

// orphanPool holds blocks whose parent is not known yet, bounded in count;
// when full, the block that arrived first is dropped.
type orphanPool struct {
	max    int
	seq    uint64
	blocks map[consensus.Hash]*orphan
	byPrev map[consensus.Hash][]consensus.Hash
}

type orphan struct {
	block *consensus.Block
	seq   uint64
}

func (p *orphanPool) init(max int) {
	p.max = max
	p.blocks = map[consensus.Hash]*orphan{}
	p.byPrev = map[consensus.Hash][]consensus.Hash{}
}

func (p *orphanPool) has(h consensus.Hash) bool { _, ok := p.blocks[h]; return ok }

func (p *orphanPool) add(h consensus.Hash, b *consensus.Block) {
	if p.max <= 0 {
		return
	}
	for len(p.blocks) >= p.max {
		var oldest consensus.Hash
		first := true
		var best uint64
		for k, o := range p.blocks {
			if first || o.seq < best {
				oldest, best, first = k, o.seq, false
			}
		}
		p.remove(oldest)
	}
	p.seq++
	p.blocks[h] = &orphan{block: b, seq: p.seq}
	prev := b.Header.PrevBlock
	p.byPrev[prev] = append(p.byPrev[prev], h)
}

func (p *orphanPool) remove(h consensus.Hash) {
	o, ok := p.blocks[h]
	if !ok {
		return
	}
	delete(p.blocks, h)
	prev := o.block.Header.PrevBlock
	kids := p.byPrev[prev]
	for i, k := range kids {
		if k == h {
			kids = append(kids[:i], kids[i+1:]...)
			break
		}
	}
	if len(kids) == 0 {
		delete(p.byPrev, prev)
	} else {
		p.byPrev[prev] = kids
	}
}

// children removes and returns the orphans whose parent is h.
func (p *orphanPool) children(h consensus.Hash) []*consensus.Block {
	var out []*consensus.Block
	for _, k := range append([]consensus.Hash(nil), p.byPrev[h]...) {
		out = append(out, p.blocks[k].block)
		p.remove(k)
	}
	return out
}

// root follows parents through the pool and returns the first block whose
// parent is not an orphan (GetOrphanRoot).
func (p *orphanPool) root(h consensus.Hash) consensus.Hash {
	for {
		o, ok := p.blocks[h]
		if !ok {
			return h
		}
		if _, ok := p.blocks[o.block.Header.PrevBlock]; !ok {
			return h
		}
		h = o.block.Header.PrevBlock
	}
}
