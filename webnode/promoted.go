package webnode

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/text"
)

// PromotedBridge is the optional Bridge method PromotedPosts needs: the
// bridge's promoted operation (*client.Pool has it).
type PromotedBridge interface {
	Promoted(ctx context.Context, from int64, count int) ([]client.Coinbase, int64, error)
}

var _ PromotedBridge = (*client.Pool)(nil)

// ErrNoPromoted is returned by PromotedPosts when the bridge cannot serve
// promoted messages (no such operation, or a chain without blocks).
var ErrNoPromoted = errors.New("webnode: the bridge serves no promoted messages")

// PromotedOptions select the blocks PromotedPosts reads.
type PromotedOptions struct {
	// From is the height to start from going down; 0 or beyond the
	// verified tip means the verified tip.
	From int64 `json:"from"`
	// Count is how many blocks to read; default 20, at most 50.
	Count int `json:"count"`
}

// PromotedPosts returns the promoted ("spam") messages of recent blocks
// (protocol §2.10, §5.9) as posts of kind "promoted", newest first, each
// block's message once (a message repeated by the next older block is
// left out, as twisterd's getspamposts does). Nothing from the bridge is
// trusted: each coinbase must link through its merkle branch to the
// merkle root of the header at its height in the node's verified header
// chain, be a coinbase (a non-empty message of 1 to 140 code points of
// UTF-8), and, unless its user is "nobody", carry a signature by the key
// its user had registered at that height (consensus.VerifyCoinbase with
// a verified proof). The post's time is the verified header's time, k and
// height the block's height. Entries that fail are left out; if every
// entry fails, the error says why (wrapping ErrUnverified).
func (n *Node) PromotedPosts(ctx context.Context, o PromotedOptions) ([]*PostView, error) {
	pb, ok := n.br.(PromotedBridge)
	if !ok {
		return nil, ErrNoPromoted
	}
	if o.Count <= 0 {
		o.Count = 20
	}
	o.Count = min(o.Count, 50)
	tip := n.chain.Height()
	from := o.From
	if from <= 0 || from > tip {
		from = tip
	}
	cbs, bridgeTip, err := pb.Promoted(ctx, from, o.Count)
	if err != nil {
		var se *client.ServerError
		if errors.As(err, &se) && (se.Code == "unknown-op" || se.Code == "unavailable") {
			return nil, fmt.Errorf("%w: %s", ErrNoPromoted, se.Msg)
		}
		return nil, fmt.Errorf("webnode: promoted: %w", err)
	}
	if bridgeTip > tip {
		n.chain.maybeSync(10 * time.Second)
	}
	out := []*PostView{}
	var firstErr error
	last := ""
	for _, cb := range cbs {
		v, err := n.verifyPromoted(cb)
		if err != nil {
			n.log.Debug("webnode: dropping promoted message", "height", cb.Height, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if key := v.User + "\x00" + v.Text; key != last {
			out = append(out, v)
			last = key
		}
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// verifyPromoted checks one coinbase against the verified headers and
// the chain's keys and makes its view.
func (n *Node) verifyPromoted(cb client.Coinbase) (*PostView, error) {
	bad := func(format string, args ...any) (*PostView, error) {
		return nil, fmt.Errorf("%w: promoted message of block %d: %s", ErrUnverified, cb.Height, fmt.Sprintf(format, args...))
	}
	n.chain.mu.Lock()
	hd, _, ok := n.chain.hc.HeaderAt(cb.Height)
	n.chain.mu.Unlock()
	if !ok {
		return bad("no verified header at that height")
	}
	tx, err := consensus.DecodeTx(cb.Tx)
	if err != nil {
		return bad("%v", err)
	}
	branch := make([]consensus.Hash, len(cb.Branch))
	for i, h := range cb.Branch {
		branch[i] = h
	}
	if !consensus.VerifyMerkleBranch(tx.Hash(), branch, 0, hd.MerkleRoot) {
		return bad("its merkle branch does not lead to the header's merkle root")
	}
	if !tx.IsCoinbase() {
		return bad("the transaction is not a coinbase")
	}
	pm := consensus.ParseCoinbase(tx)
	if !utf8.ValidString(pm.Text) || pm.Text == "" || utf8.RuneCountInString(pm.Text) > consensus.MaxPromotedMessageChars {
		return bad("the message is not 1 to %d code points of UTF-8", consensus.MaxPromotedMessageChars)
	}
	if pm.User != consensus.NobodyUser {
		if err := text.ValidUsername(pm.User); err != nil {
			return bad("user %q: %v", pm.User, err)
		}
		key, kerr := n.chain.KeyAt(pm.User, cb.Height)
		if kerr != nil && !errors.Is(kerr, keys.ErrUnknownUser) {
			return nil, fmt.Errorf("webnode: promoted message of block %d: key of %q: %w", cb.Height, pm.User, kerr)
		}
		if err := consensus.VerifyCoinbase(tx, key, key != nil); err != nil {
			return bad("%v", err)
		}
	}
	k := cb.Height
	if k == 0 {
		k = 1 // twisterd's formatSpamPost
	}
	up := map[string]any{"n": pm.User, "k": k, "time": int64(hd.Time), "height": cb.Height, "msg": pm.Text}
	return &PostView{
		ID: PostID(pm.User, k), User: pm.User, K: k, Time: int64(hd.Time), Height: cb.Height,
		Kind: "promoted", Text: pm.Text, Mentions: text.Mentions(pm.Text), Hashtags: text.Hashtags(pm.Text),
		Verified: true, Userpost: map[string]any{"userpost": up, "sig_userpost": ""},
	}, nil
}
