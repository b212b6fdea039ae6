//go:build !js

package webnodetest

import (
	"context"
	"sync/atomic"
	"time"
)

// AutoMine is the network's miner for registration tests: every interval
// it checks the chain's mempool, and when it holds transactions (a
// registration relayed by the bridge's sendTx) it mines a block with them
// and then `after` more blocks on top, as a twisterd miner with
// setgenerate would. It stops when the test ends. Mined reports the
// blocks mined so far.
func (tn *Net) AutoMine(interval time.Duration, after int) *Miner {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Miner{done: make(chan struct{})}
	tn.T.Cleanup(func() { cancel(); <-m.done })
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		owed := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if tn.Chain.MempoolSize() > 0 {
				owed = after + 1
			}
			if owed == 0 {
				continue
			}
			if _, err := tn.Chain.MineBlock(ctx, "", nil, ""); err != nil {
				if ctx.Err() == nil {
					tn.T.Errorf("auto-mine: %v", err)
				}
				return
			}
			owed--
			m.mined.Add(1)
		}
	}()
	return m
}

// Miner is a running AutoMine.
type Miner struct {
	done  chan struct{}
	mined atomic.Int64
}

// Mined is the number of blocks mined so far.
func (m *Miner) Mined() int64 { return m.mined.Load() }
