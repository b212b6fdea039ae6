package webnode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/bridge/wire"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/chain/light"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
)

// headerChunk is how many headers one stored KV entry holds.
const headerChunk = 2000

// lightChain is the node's view of the block chain: a header chain checked
// from the checkpoint with headers fetched from the bridge, and users' key
// histories from proofs verified against it. It implements post.Chain (and
// so keys.Resolver) for validation.
type lightChain struct {
	br      Bridge
	store   Store
	params  *consensus.Params
	clock   Clock
	timeout time.Duration
	keyTTL  time.Duration
	log     *slog.Logger
	onTip   func(int64)

	syncMu   sync.Mutex // one header sync at a time
	lastSync atomic.Int64

	mu  sync.Mutex // guards hc
	hc  *light.HeaderChain
	tip atomic.Int64

	kmu      sync.Mutex
	hist     map[string]*keyEntry
	inflight map[string]chan struct{}
}

type keyEntry struct {
	hist    keys.KeyHistory // nil: negative entry
	fetched time.Time
	err     error
}

var _ post.Chain = (*lightChain)(nil)

func newLightChain(br Bridge, st Store, p *consensus.Params, clk Clock, timeout, keyTTL time.Duration, log *slog.Logger) *lightChain {
	c := &lightChain{br: br, store: st, params: p, clock: clk, timeout: timeout, keyTTL: keyTTL, log: log,
		hist: map[string]*keyEntry{}, inflight: map[string]chan struct{}{}}
	c.hc = light.NewHeaderChain(p, light.WithClock(clk.Now))
	_, h := c.hc.Tip()
	c.tip.Store(h)
	return c
}

// Height implements post.Chain: the verified tip height.
func (c *lightChain) Height() int64 { return c.tip.Load() }

// KeyAt implements keys.Resolver with verified key histories.
func (c *lightChain) KeyAt(user string, height int64) (keys.PubKey, error) {
	h, err := c.history(user)
	if err != nil {
		return nil, err
	}
	k, ok := h.At(height)
	if !ok {
		return nil, fmt.Errorf("%w: %q at height %d", keys.ErrUnknownUser, user, height)
	}
	return k, nil
}

// RegistrationHeight implements post.Chain: the height of the user's
// latest registration or key replacement.
func (c *lightChain) RegistrationHeight(user string) (int64, error) {
	h, err := c.history(user)
	if err != nil {
		return 0, err
	}
	return h[len(h)-1].Height, nil
}

func (c *lightChain) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// load restores headers saved by earlier runs, checking them again.
func (c *lightChain) load() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; ; i++ {
		b, ok, err := c.store.GetKV(headerKey(i))
		if err != nil || !ok {
			break // (not return: the tip below must be set)
		}
		hs, err := decodeHeaders(b)
		if err == nil {
			// Checked (scrypt included) when they came from a bridge;
			// our own IndexedDB is trusted not to forge them.
			err = c.hc.AddStoredHeaders(hs)
		}
		if err != nil {
			c.log.Warn("webnode: dropping stored headers", "chunk", i, "err", err)
			for j := i; ; j++ {
				if _, ok, _ := c.store.GetKV(headerKey(j)); !ok {
					break
				}
				c.store.DeleteKV(headerKey(j))
			}
			break
		}
	}
	_, h := c.hc.Tip()
	c.tip.Store(h)
}

func headerKey(i int) string { return "headers/" + strconv.Itoa(i) }

func decodeHeaders(b []byte) ([]consensus.Header, error) {
	if len(b)%consensus.HeaderSize != 0 {
		return nil, fmt.Errorf("%d bytes of headers", len(b))
	}
	hs := make([]consensus.Header, 0, len(b)/consensus.HeaderSize)
	for ; len(b) > 0; b = b[consensus.HeaderSize:] {
		h, err := consensus.DecodeHeader(b[:consensus.HeaderSize])
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// sync fetches headers from the bridge until it reaches the bridge's tip,
// checking every header (proof of work, links, difficulty, time) from the
// checkpoint. A bridge serving bad headers gets an ErrUnverified error and
// none of its bad headers are kept.
func (c *lightChain) sync(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	defer c.lastSync.Store(c.clock.Now().UnixNano())
	overlap := int64(6) // refetch a few headers: a short reorg links again
	start := c.tip.Load()
	changedFrom := start
	for round := 0; round < 10000; round++ {
		_, root := c.hc.Root()
		from := max(c.tip.Load()+1-overlap, root+1)
		raw, bridgeTip, err := c.br.Headers(ctx, from, headerChunk)
		if err != nil {
			var se *client.ServerError
			if errors.As(err, &se) && se.Code == wire.CodeNotFound {
				return nil // nothing above our tip
			}
			return fmt.Errorf("webnode: fetching headers: %w", err)
		}
		hs := make([]consensus.Header, 0, len(raw))
		for _, b := range raw {
			h, err := consensus.DecodeHeader(b)
			if err != nil {
				return fmt.Errorf("%w: header from bridge: %w", ErrUnverified, err)
			}
			hs = append(hs, h)
		}
		before := c.tip.Load()
		c.mu.Lock()
		err = c.hc.AddHeaders(hs)
		_, tip := c.hc.Tip()
		c.mu.Unlock()
		c.tip.Store(tip)
		changedFrom = min(changedFrom, from-1)
		if err != nil {
			if errors.Is(err, consensus.ReasonMissingAncestor) && overlap < 4*headerChunk && from > root+1 {
				overlap *= 4 // the bridge's chain forked deeper: look further back
				continue
			}
			c.persist(changedFrom)
			return fmt.Errorf("%w: headers from bridge: %w", ErrUnverified, err)
		}
		if len(hs) == 0 || tip >= bridgeTip || (tip == before && from > before) {
			break
		}
		overlap = 1
	}
	if tip := c.tip.Load(); tip != start {
		c.persist(changedFrom)
		if c.onTip != nil {
			c.onTip(tip)
		}
	}
	return nil
}

// maybeSync syncs unless a sync finished less than minAge ago.
func (c *lightChain) maybeSync(minAge time.Duration) error {
	if last := c.lastSync.Load(); last != 0 && c.clock.Now().Sub(time.Unix(0, last)) < minAge {
		return nil
	}
	ctx, cancel := c.ctx()
	defer cancel()
	return c.sync(ctx)
}

// persist rewrites the stored header chunks from height from on.
func (c *lightChain) persist(from int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, root := c.hc.Root()
	_, tip := c.hc.Tip()
	from = max(from, root+1)
	for chunk := int((from - root - 1) / headerChunk); ; chunk++ {
		lo := root + 1 + int64(chunk)*headerChunk
		if lo > tip {
			// A reorg to a shorter branch may leave a stale chunk.
			if _, ok, _ := c.store.GetKV(headerKey(chunk)); ok {
				c.store.DeleteKV(headerKey(chunk))
				continue
			}
			return
		}
		var b []byte
		for h := lo; h < lo+headerChunk && h <= tip; h++ {
			hd, _, _ := c.hc.HeaderAt(h)
			b = hd.AppendTo(b)
		}
		if err := c.store.PutKV(headerKey(chunk), b); err != nil {
			c.log.Warn("webnode: storing headers", "err", err)
			return
		}
	}
}

// history returns user's verified key history, from memory, the store
// (checked again) or a fresh proof from the bridge.
func (c *lightChain) history(user string) (keys.KeyHistory, error) {
	for {
		c.kmu.Lock()
		e := c.hist[user]
		now := c.clock.Now()
		if e != nil {
			fresh := now.Sub(e.fetched) < c.keyTTL
			if e.hist != nil && fresh {
				c.kmu.Unlock()
				return e.hist, nil
			}
			if e.hist == nil && now.Sub(e.fetched) < time.Minute {
				c.kmu.Unlock()
				return nil, e.err
			}
		}
		if wait, busy := c.inflight[user]; busy {
			c.kmu.Unlock()
			<-wait
			continue
		}
		done := make(chan struct{})
		c.inflight[user] = done
		c.kmu.Unlock()

		hist, fetched, err := c.fetchHistory(user, e == nil)
		c.kmu.Lock()
		delete(c.inflight, user)
		close(done)
		switch {
		case err == nil:
			c.hist[user] = &keyEntry{hist: hist, fetched: fetched}
		case e != nil && e.hist != nil && !errors.Is(err, ErrUnverified) && !errors.Is(err, keys.ErrUnknownUser):
			// The bridge is unreachable: keep using the stale history.
			e.fetched = now.Add(time.Minute - c.keyTTL) // retry in a minute
			hist, err = e.hist, nil
		case errors.Is(err, keys.ErrUnknownUser):
			c.hist[user] = &keyEntry{fetched: now, err: err}
		}
		c.kmu.Unlock()
		return hist, err
	}
}

// refresh forgets user's cached history if it is older than minAge, so
// the next use fetches a new proof (after a signature failure: the user
// may have replaced the key).
func (c *lightChain) refresh(user string, minAge time.Duration) bool {
	c.kmu.Lock()
	defer c.kmu.Unlock()
	e := c.hist[user]
	if e == nil || c.clock.Now().Sub(e.fetched) < minAge {
		return false
	}
	e.fetched = time.Time{}
	return true
}

func proofKey(user string) string { return "proof/" + user }

// fetchHistory gets and verifies user's proof: from the store on first use
// (if still valid against our headers), else from the bridge.
func (c *lightChain) fetchHistory(user string, tryStore bool) (keys.KeyHistory, time.Time, error) {
	if tryStore {
		if b, ok, err := c.store.GetKV(proofKey(user)); err == nil && ok && len(b) > 8 {
			at := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
			if h, err := c.verifyProof(user, b[8:]); err == nil {
				return h, at, nil
			}
		}
	}
	ctx, cancel := c.ctx()
	defer cancel()
	raw, err := c.br.ProveUser(ctx, user)
	if err != nil {
		var se *client.ServerError
		if errors.As(err, &se) && se.Code == wire.CodeNotFound {
			return nil, time.Time{}, fmt.Errorf("%w: %q (bridge: %s)", keys.ErrUnknownUser, user, se.Msg)
		}
		return nil, time.Time{}, fmt.Errorf("webnode: proof of %q: %w", user, err)
	}
	h, err := c.verifyProof(user, raw)
	if err != nil && errors.Is(err, light.ErrBadProof) {
		// Perhaps the registration is in a block we have no header of yet.
		if serr := c.sync(ctx); serr == nil {
			h, err = c.verifyProof(user, raw)
		}
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	now := c.clock.Now()
	rec := binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))
	c.store.PutKV(proofKey(user), append(rec, raw...))
	return h, now, nil
}

func (c *lightChain) verifyProof(user string, raw []byte) (keys.KeyHistory, error) {
	p, err := light.DecodeUserProof(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: proof of %q: %w", ErrUnverified, user, err)
	}
	if p.Name != user {
		return nil, fmt.Errorf("%w: %w: proof is for %q, not %q", ErrUnverified, light.ErrBadProof, p.Name, user)
	}
	c.mu.Lock()
	h, err := c.hc.VerifyUserProof(p)
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: proof of %q: %w", ErrUnverified, user, err)
	}
	return h, nil
}
