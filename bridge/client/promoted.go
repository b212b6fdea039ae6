package client

import (
	"context"
	"fmt"

	"github.com/gotwister/twister/bridge/wire"
)

// Coinbase is a block's promoted message as the bridge sends it: height,
// serialized coinbase transaction and the merkle branch to the block
// header's merkle root. Nothing in it is verified: check the branch
// against a header you verified (consensus.VerifyMerkleBranch with index
// 0) and the coinbase's signature (consensus.VerifyCoinbase).
type Coinbase = wire.Coinbase

// Promoted returns the coinbases of up to count blocks of the bridge's
// best chain going down from height from (from < 0: from the tip), and the
// bridge's tip height. Bridges without the operation answer a
// *ServerError with code "unknown-op" (older bridges) or "unavailable".
func (c *Client) Promoted(ctx context.Context, from int64, count int) ([]Coinbase, int64, error) {
	args := wire.Dict("count", count)
	if from >= 0 {
		args = wire.Dict("from", from, "count", count)
	}
	r, err := c.call(ctx, wire.OpPromoted, args)
	if err != nil {
		return nil, 0, err
	}
	cbs, tip, err := wire.DecodePromoted(r)
	if err != nil {
		return nil, 0, fmt.Errorf("bridge promoted: %w", err)
	}
	return cbs, tip, nil
}

// Promoted is Client.Promoted with failover.
func (p *Pool) Promoted(ctx context.Context, from int64, count int) (cbs []Coinbase, tip int64, err error) {
	err = p.do(ctx, func(c *Client) error { cbs, tip, err = c.Promoted(ctx, from, count); return err })
	return cbs, tip, err
}
