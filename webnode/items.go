package webnode

import (
	"bytes"
	"fmt"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/resource"
)

// DHT item limits (§3.7).
const (
	maxSingleItem = 8192
	maxMultiItem  = 768
	maxItemFuture = 2 * time.Hour
)

// Item is a DHT item that passed VerifyItem.
type Item struct {
	Signer string        // sig_user, whose current key signed p
	Seq    int64         // single items: the sequence number
	Time   int64         // p.time
	Height int64         // p.height
	V      bencode.Value // the value, with its received bytes (V.Raw)
	SigP   []byte
}

// VerifyItem checks one DHT item received for (name, res, single|multi):
// p is canonical bencode of at most 8192 (single) or 768 (multi) bytes
// with integer time and height and a value v; its target dictionary has
// exactly the keys n, r, t and hashes to the target asked for; sig_p
// verifies over the received p bytes with the signer's current key from
// the resolver; a single item is signed by its owner (sig_user == name)
// and carries a seq ≥ 0; time is non-zero and at most 2 h ahead of now.
// Every failure wraps ErrUnverified.
func VerifyItem(r keys.Resolver, it client.Item, name, res string, multi bool, now time.Time) (*Item, error) {
	bad := func(format string, args ...any) (*Item, error) {
		return nil, fmt.Errorf("%w: DHT item %s/%s signed by %q: %s", ErrUnverified, name, res, it.SigUser, fmt.Sprintf(format, args...))
	}
	limit := maxSingleItem
	if multi {
		limit = maxMultiItem
	}
	if len(it.P) == 0 || len(it.P) > limit {
		return bad("p has %d bytes (limit %d)", len(it.P), limit)
	}
	p, err := bencode.Decode(it.P)
	if err != nil {
		return bad("p: %v", err)
	}
	if p.Kind != bencode.Dict {
		return bad("p is not a dictionary")
	}
	tg, ok := p.GetDict("target")
	if !ok || len(tg.Dict) != 3 {
		return bad("target is not a dictionary of 3 entries")
	}
	want := resource.TargetDict(name, res, multi)
	if !bytes.Equal(tg.Bytes(), bencode.Encode(want)) || resource.TargetOf(tg.Bytes()) != resource.TargetFor(name, res, multi) {
		return bad("target %s is not the one asked for", tg)
	}
	out := &Item{Signer: it.SigUser, SigP: it.SigP}
	if out.Time, ok = p.GetInt("time"); !ok || out.Time == 0 {
		return bad("no time")
	}
	if out.Time > now.Add(maxItemFuture).Unix() {
		return bad("time %d is more than 2 h ahead", out.Time)
	}
	if out.Height, ok = p.GetInt("height"); !ok {
		return bad("no height")
	}
	if out.V, ok = p.Get("v"); !ok {
		return bad("no value")
	}
	if !multi {
		if it.SigUser != name {
			return bad("a single item must be signed by its owner %q", name)
		}
		if out.Seq, ok = p.GetInt("seq"); !ok || out.Seq < 0 {
			return bad("no seq")
		}
	}
	if it.SigUser == "" || len(it.SigP) == 0 {
		return bad("unsigned")
	}
	if err := keys.VerifyUser(r, it.SigUser, -1, it.P, it.SigP); err != nil {
		return bad("sig_p: %v", err)
	}
	return out, nil
}

// buildItem makes the p dictionary of a DHT put as twisterd's dhtPutData
// does: {height, [seq], target, time, v}.
func buildItem(name, res string, multi bool, v bencode.Value, seq, height, now int64) []byte {
	d := bencode.NewDict()
	d.Set("height", bencode.NewInt(height))
	if !multi {
		d.Set("seq", bencode.NewInt(seq))
	}
	d.Set("target", resource.TargetDict(name, res, multi))
	d.Set("time", bencode.NewInt(now))
	d.Set("v", v)
	return bencode.Encode(d)
}
