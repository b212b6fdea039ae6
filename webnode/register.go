package webnode

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
)

// TxSender is a bridge that relays registration transactions into the
// twister P2P network (the bridge's sendTx operation). *client.Pool and
// *client.Client implement it; Register needs the node's Bridge to.
type TxSender interface {
	SendTx(ctx context.Context, raw []byte) error
}

// Events of a registration (Event.Kind), emitted through Config.OnEvent as
// well as to RegisterOptions' callbacks.
const (
	// EventRegisterProgress carries a RegisterProgress while the
	// registration's proof of work is ground, about every 250 ms.
	EventRegisterProgress = "registerProgress"
	// EventRegisterStatus carries a RegisterStatus at each step.
	EventRegisterStatus = "registerStatus"
)

// The steps of a registration (RegisterStatus.Status), in order.
const (
	RegisterGrinding  = "grinding"  // the name is free: proof of work started
	RegisterSent      = "sent"      // the transaction went to the bridge
	RegisterConfirmed = "confirmed" // proven in a block with one more on top
)

// Registration errors (wrapped; use errors.Is).
var (
	// ErrNameTaken: the name is registered to another key, either before
	// any work was spent (a verified proof from the bridge) or, when a
	// bridge claimed the name was free, at confirmation.
	ErrNameTaken = errors.New("webnode: the username is already registered")
	// ErrNotConfirmed: the registration did not appear in the verified
	// chain within RegisterOptions.MaxWaitBlocks blocks of being sent.
	ErrNotConfirmed = errors.New("webnode: the registration was not confirmed")
	// ErrNoTxRelay: the node's bridge cannot relay transactions.
	ErrNoTxRelay = errors.New("webnode: the bridge cannot relay transactions")
)

// RegisterProgress reports the proof-of-work search.
type RegisterProgress struct {
	User      string  `json:"user"`
	Tried     uint64  `json:"tried"`     // nonces tried so far
	Rate      float64 `json:"rate"`      // hashes per second so far
	ElapsedMs int64   `json:"elapsedMs"` // since grinding started
	// Expected is the mean number of tries for the target (2^24 on
	// mainnet); the search ends at a random point, so it is a guide only.
	Expected float64 `json:"expected"`
	Done     bool    `json:"done"` // the last event: the nonce is found
}

// RegisterStatus reports a step of a registration.
type RegisterStatus struct {
	User   string `json:"user"`
	Status string `json:"status"`           // RegisterGrinding, RegisterSent or RegisterConfirmed
	TxID   string `json:"txid,omitempty"`   // from "sent" on
	Height int64  `json:"height,omitempty"` // "confirmed": the registration's block
	Tip    int64  `json:"tip"`              // the verified header tip
}

// RegisterOptions tune Register. The zero value is the default.
type RegisterOptions struct {
	// OnProgress and OnStatus, if set, receive the same reports as the
	// EventRegisterProgress and EventRegisterStatus events.
	OnProgress func(RegisterProgress)
	OnStatus   func(RegisterStatus)
	// ProgressInterval is the least time between two progress reports;
	// default 250 ms. (The search checks the time every 65,536 tries.)
	ProgressInterval time.Duration
	// PollInterval is how often headers and the name's proof are fetched
	// while waiting for the confirmation; default 10 s.
	PollInterval time.Duration
	// MaxWaitBlocks is how many verified blocks past the tip at sending
	// may pass without the registration before giving up with
	// ErrNotConfirmed; default 24.
	MaxWaitBlocks int64
	// Bits is the proof-of-work target in compact form; 0 means the
	// network's (Params.TxBits). A harder target is allowed (tests and
	// demonstrations of the progress display), an easier one is refused.
	Bits uint32
}

// Registration is the result of a confirmed registration.
type Registration struct {
	User    string `json:"user"`
	PubKey  string `json:"pubKey"`
	TxID    string `json:"txid"`
	Nonce   uint32 `json:"nonce"`
	Tried   uint64 `json:"tried"`   // nonces tried (nonce + 1)
	GrindMs int64  `json:"grindMs"` // time spent on the proof of work
	Height  int64  `json:"height"`  // block holding the registration
	Tip     int64  `json:"tip"`     // verified tip at confirmation
}

// CheckNameFree tells whether user can be registered: the name must pass
// consensus.CheckUsername and the bridge must have no proof of a
// registration. A verified proof means ErrNameTaken; a proof that fails
// verification is an ErrUnverified error (the bridge is lying or out of
// date), as is any answer but "not found". A bridge can hide a
// registration (nobody can prove that a name is not registered), which
// Register notices at confirmation.
func (n *Node) CheckNameFree(ctx context.Context, user string) error {
	if err := consensus.CheckUsername(user); err != nil {
		return fmt.Errorf("webnode: %w", err)
	}
	hist, _, err := n.chain.fetchHistory(user, false)
	switch {
	case errors.Is(err, keys.ErrUnknownUser):
		return nil
	case err != nil:
		return fmt.Errorf("webnode: cannot tell whether %q is free: %w", user, err)
	}
	n.chain.remember(user, hist)
	last := hist[len(hist)-1]
	return fmt.Errorf("%w: %q belongs to key %s since block %d", ErrNameTaken, user, last.Key.Hex(), last.Height)
}

// remember caches a verified key history (as history would).
func (c *lightChain) remember(user string, h keys.KeyHistory) {
	c.kmu.Lock()
	c.hist[user] = &keyEntry{hist: h, fetched: c.clock.Now()}
	c.kmu.Unlock()
}

// expectedTries is the mean number of hashes needed to meet target:
// 2^256 / (target + 1).
func expectedTries(target *big.Int) float64 {
	t, _ := new(big.Float).SetInt(new(big.Int).Add(target, big.NewInt(1))).Float64()
	return math.Ldexp(1, 256) / t
}

// Register registers user with the public key pub, as twisterd's
// sendnewusertransaction does, from the browser: it checks that the name
// is valid and free (CheckNameFree: no work is spent on a taken name),
// grinds the registration's proof of work here (cancellable through ctx;
// progress about every ProgressInterval), sends the transaction through
// the bridge (sendTx), and then waits until the name's proof, verified
// against the light chain's headers, shows pub as the user's key and the
// verified tip is at least one block above the registration — what
// twisterd requires before the user's first post. Status reports mark
// each step ("grinding", "sent", "confirmed").
//
// A bridge that lies cannot make Register report success: if it claimed a
// taken name was free, the verified proof shows another key and Register
// fails with ErrNameTaken; headers without proof of work fail with
// ErrUnverified; a registration that never shows up fails with
// ErrNotConfirmed after MaxWaitBlocks verified blocks.
func (n *Node) Register(ctx context.Context, user string, pub keys.PubKey, o RegisterOptions) (*Registration, error) {
	if _, err := keys.ParsePubKey(pub); err != nil {
		return nil, fmt.Errorf("webnode: register %q: %w", user, err)
	}
	sender, ok := n.br.(TxSender)
	if !ok {
		return nil, ErrNoTxRelay
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 250 * time.Millisecond
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 10 * time.Second
	}
	if o.MaxWaitBlocks <= 0 {
		o.MaxWaitBlocks = 24
	}
	params := n.cfg.Params
	bits := o.Bits
	if bits == 0 {
		bits = params.TxBits
	}
	target := consensus.CompactToTarget(bits)
	if target.Sign() <= 0 || target.Cmp(consensus.CompactToTarget(params.TxBits)) > 0 {
		return nil, fmt.Errorf("webnode: register %q: bits %08x are not a target at least as hard as the network's %08x", user, bits, params.TxBits)
	}
	if err := n.CheckNameFree(ctx, user); err != nil {
		return nil, err
	}
	tx, err := consensus.NewRegistration(user, pub)
	if err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	status := func(st RegisterStatus) {
		st.User, st.Tip = user, n.chain.Height()
		n.emit(EventRegisterStatus, st)
		if o.OnStatus != nil {
			o.OnStatus(st)
		}
	}
	progress := func(p RegisterProgress) {
		n.emit(EventRegisterProgress, p)
		if o.OnProgress != nil {
			o.OnProgress(p)
		}
	}

	// The proof of work. Between batches of 65,536 tries the loop yields
	// to the event loop (yieldToHost), so the worker keeps answering other
	// requests meanwhile.
	status(RegisterStatus{Status: RegisterGrinding})
	expected := expectedTries(target)
	start := time.Now()
	var last time.Time
	report := func(tried uint64, done bool) {
		el := time.Since(start)
		p := RegisterProgress{User: user, Tried: tried, ElapsedMs: el.Milliseconds(), Expected: expected, Done: done}
		if s := el.Seconds(); s > 0 {
			p.Rate = float64(tried) / s
		}
		progress(p)
	}
	nonce, err := consensus.GrindRegistration(ctx, tx, bits, func(tried uint64) {
		// Called every 65,536 tries (about 0.1 s in wasm): let the
		// worker's event loop deliver other requests and cancellation.
		yieldToHost()
		if now := time.Now(); last.IsZero() || now.Sub(last) >= o.ProgressInterval {
			last = now
			report(tried, false)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("webnode: register %q: proof of work: %w", user, err)
	}
	grind := time.Since(start)
	report(uint64(nonce)+1, true)
	if err := consensus.CheckTxPoW(params, tx); err != nil {
		return nil, fmt.Errorf("webnode: register %q: %w", user, err)
	}
	reg := &Registration{User: user, PubKey: pub.Hex(), TxID: tx.Hash().String(), Nonce: nonce,
		Tried: uint64(nonce) + 1, GrindMs: grind.Milliseconds()}

	// Send it through the bridge, which relays it into the P2P network.
	sctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	err = sender.SendTx(sctx, tx.Bytes())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("webnode: the bridge did not take the registration of %q: %w", user, err)
	}
	sentTip := n.chain.Height()
	status(RegisterStatus{Status: RegisterSent, TxID: reg.TxID})

	// Wait for the confirmation, trusting only verified headers and
	// proofs.
	for {
		if err := n.chain.sync(ctx); err != nil {
			if errors.Is(err, ErrUnverified) {
				return nil, fmt.Errorf("webnode: waiting for the registration of %q: %w", user, err)
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("webnode: register %q: %w", user, ctx.Err())
			}
			n.log.Debug("webnode: header sync while registering", "user", user, "err", err)
		}
		hist, _, err := n.chain.fetchHistory(user, false)
		tip := n.chain.Height()
		switch {
		case err == nil:
			got := hist[len(hist)-1]
			if !got.Key.Equal(pub) {
				n.chain.remember(user, hist)
				return nil, fmt.Errorf("%w: the verified proof of %q shows key %s (block %d), not ours: someone else registered it (or the bridge claimed it was free)",
					ErrNameTaken, user, got.Key.Hex(), got.Height)
			}
			if tip >= got.Height+1 {
				n.chain.remember(user, hist)
				reg.Height, reg.Tip = got.Height, tip
				status(RegisterStatus{Status: RegisterConfirmed, TxID: reg.TxID, Height: got.Height})
				return reg, nil
			}
		case errors.Is(err, keys.ErrUnknownUser):
			if tip > sentTip+o.MaxWaitBlocks {
				return nil, fmt.Errorf("%w: %q is not in the verified chain %d blocks after it was sent (the transaction may have been dropped, or the bridge hides it); try again",
					ErrNotConfirmed, user, tip-sentTip)
			}
		case errors.Is(err, ErrUnverified):
			return nil, fmt.Errorf("webnode: waiting for the registration of %q: %w", user, err)
		default:
			n.log.Debug("webnode: proof while registering", "user", user, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("webnode: register %q: %w", user, ctx.Err())
		case <-time.After(o.PollInterval):
		}
	}
}
