package bridge

import (
	"errors"
	"fmt"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/chain"
	"github.com/gotwister/twister/chain/consensus"
)

// PromotedSource is an optional extension of a ChainSource: the promoted
// operation (promoted ("spam") messages, the coinbases of recent blocks)
// works when the Config's Chain implements it, and answers "unavailable"
// otherwise. FromChain's adapter implements it.
type PromotedSource interface {
	// Coinbases returns, for up to count blocks of the best chain going
	// down from height from (the tip if from is above it), each block's
	// coinbase transaction and the merkle branch that links its id to the
	// block header's merkle root.
	Coinbases(from int64, count int) ([]wire.Coinbase, error)
}

var _ PromotedSource = chainAdapter{}

// Coinbases implements PromotedSource.
func (a chainAdapter) Coinbases(from int64, count int) ([]wire.Coinbase, error) {
	from = min(from, a.c.Height())
	var out []wire.Coinbase
	for h := from; h >= 0 && len(out) < count; h-- {
		b, err := a.c.BlockByHeight(h)
		if errors.Is(err, chain.ErrNotFound) {
			continue // the chain reorganised to a shorter branch meanwhile
		}
		if err != nil {
			return nil, err
		}
		if len(b.Txs) == 0 {
			continue
		}
		txids := make([]consensus.Hash, len(b.Txs))
		for i, tx := range b.Txs {
			txids[i] = tx.Hash()
		}
		br := consensus.MerkleBranch(txids, 0)
		cb := wire.Coinbase{Height: h, Tx: b.Txs[0].Bytes(), Branch: make([][32]byte, len(br))}
		for i, x := range br {
			cb.Branch[i] = x
		}
		out = append(out, cb)
	}
	return out, nil
}

// opPromoted answers promoted {from?, count?} → {blocks: [{h, tx, br}…],
// tip}: the coinbases of up to count (default 10, at most
// wire.MaxPromotedBlocks) best-chain blocks going down from height from
// (default and cap: the tip), with merkle branches, for the browser to
// check against its own headers.
func (ss *session) opPromoted(m *wire.Msg, a *wire.Args) {
	s := ss.s
	src, ok := s.cfg.Chain.(PromotedSource)
	if s.cfg.Chain == nil || !ok {
		ss.fail(m, wire.CodeUnavailable, "this bridge has no block chain with blocks to read promoted messages from")
		return
	}
	from, count := a.Int("from", false), a.Int("count", false)
	if err := a.Err(); err != nil {
		ss.fail(m, wire.CodeBadRequest, err.Error())
		return
	}
	tip, _ := s.cfg.Chain.Tip()
	if !a.Has("from") {
		from = tip
	}
	if !a.Has("count") {
		count = 10
	}
	if from < 0 || count < 1 {
		ss.fail(m, wire.CodeBadRequest, "promoted needs from ≥ 0 and count ≥ 1")
		return
	}
	count = min(count, wire.MaxPromotedBlocks)
	if !ss.reserve(m) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer ss.release()
		cbs, err := src.Coinbases(min(from, tip), int(count))
		if err != nil {
			ss.answer(m, bencode.Value{}, fmt.Errorf("reading blocks: %w", err), &s.m.chainErrors)
			return
		}
		ss.answer(m, wire.PromotedResult(cbs, tip), nil, nil)
	}()
}
