package timeline

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PromotedInterval is the least time between two promoted posts prepended
// to getposts results.
const PromotedInterval = 8 * time.Hour

type spamRecord struct {
	User string `json:"u"`
	Msg  string `json:"m"`
	Time int64  `json:"t"`
}

type promoState struct {
	msg, user string
	height    int64
	last      int64 // when the last promoted post was shown (UNIX seconds)
}

// SpamPost formats a promoted message as the pseudo-post twisterd's
// formatSpamPost makes: {"sig_userpost": "", "userpost": {"n": user,
// "k": height (1 when height is 0), "time": blockTime (now when 0),
// "height": height (the tip when 0), "msg": msg}}.
func SpamPost(user, msg string, height, blockTime, tip, now int64) map[string]any {
	k := height
	if height == 0 {
		k, height = 1, tip
	}
	if blockTime == 0 {
		blockTime = now
	}
	return map[string]any{
		"sig_userpost": "",
		"userpost": map[string]any{
			"n": user, "k": k, "time": blockTime, "height": height, "msg": msg,
		},
	}
}

// AddSpam stores the promoted message of the block at height (the
// coinbase's spam message and user, and the block's time), replacing what
// was stored for that height. The node calls it for every block it
// connects; call RemoveSpamFrom on a reorganisation.
func (ix *Index) AddSpam(height int64, user, msg string, blockTime int64) error {
	if height < 0 {
		return fmt.Errorf("timeline: spam height %d is negative", height)
	}
	b, err := json.Marshal(spamRecord{user, msg, blockTime})
	if err != nil {
		return err
	}
	return ix.update(func(tx *bolt.Tx) error { return tx.Bucket(bSpam).Put(be64(height), b) })
}

// RemoveSpamFrom forgets the promoted messages of blocks at height and
// above (blocks disconnected by a reorganisation).
func (ix *Index) RemoveSpamFrom(height int64) error {
	return ix.update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bSpam).Cursor()
		for k, _ := c.Seek(be64(max(height, 0))); k != nil; k, _ = c.Seek(be64(max(height, 0))) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (ix *Index) update(fn func(tx *bolt.Tx) error) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	if err := ix.db.Update(fn); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// SpamPosts answers getspamposts: going down from max_id (the tip when
// nil, else min(max_id, tip)) while the height is above since_id (−1 when
// nil; lower values count as −1), the stored promoted messages, skipping
// one equal to the previous one kept (consecutive duplicates), up to
// count; returned lowest height first, as SpamPost pseudo-posts. (The RPC
// maps a max_id of −1 to nil.)
func (ix *Index) SpamPosts(count int, maxID, sinceID *int64, tip int64) []any {
	out := []any{}
	hi, lo := tip, int64(-1)
	if maxID != nil {
		hi = min(*maxID, tip)
	}
	if sinceID != nil {
		lo = max(*sinceID, -1)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed || hi < 0 {
		return out
	}
	now := ix.now()
	var rev []any
	ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bSpam).Cursor()
		k, v := c.Seek(be64(hi))
		if k == nil {
			k, v = c.Last()
		} else if int64(binary.BigEndian.Uint64(k)) > hi {
			k, v = c.Prev()
		}
		last := ""
		for ; k != nil && len(rev) < count; k, v = c.Prev() {
			h := int64(binary.BigEndian.Uint64(k))
			if h <= lo {
				break
			}
			var r spamRecord
			if json.Unmarshal(v, &r) != nil {
				continue
			}
			if r.Msg == last {
				continue
			}
			last = r.Msg
			rev = append(rev, SpamPost(r.User, r.Msg, h, r.Time, tip, now))
		}
		return nil
	})
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out
}

// SetPreferredSpamLang sets the language tag (such as "[en]", the
// default) that ReceivedSpam prefers (setpreferredspamlang).
func (ix *Index) SetPreferredSpamLang(lang string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.preferLang = lang
}

// PreferredSpamLang returns the preferred language tag.
func (ix *Index) PreferredSpamLang() string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.preferLang
}

// ReceivedSpam offers the promoted message of a newly connected block
// (height) as the next promoted post, as twisterd's receivedSpamMessage:
// it is taken when none is pending, or, with probability 1/2, when it
// carries exactly one "[" and contains the preferred language tag (a tag
// of more than 2 characters).
func (ix *Index) ReceivedSpam(user, msg string, height int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	single := strings.Index(msg, "[") == strings.LastIndex(msg, "[")
	sameLang := len(ix.preferLang) > 2 && single && strings.Contains(msg, ix.preferLang)
	if ix.promo.msg == "" || (sameLang && ix.opts.Rand() < 0.5) {
		ix.promo.msg, ix.promo.user, ix.promo.height = msg, user, height
	}
}

// PromotedFor returns the promoted post getposts prepends at time now, if
// any: the pending message from ReceivedSpam, at most once every
// PromotedInterval (not cumulative). Returning it consumes it. tip fills
// the height of a message from the genesis block. The state is kept in
// memory only, as in twisterd.
func (ix *Index) PromotedFor(now time.Time, tip int64) (map[string]any, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	t := now.Unix()
	if ix.promo.msg == "" || t <= ix.promo.last+int64(PromotedInterval/time.Second) {
		return nil, false
	}
	ix.promo.last = t
	p := SpamPost(ix.promo.user, ix.promo.msg, ix.promo.height, 0, tip, t)
	ix.promo.msg, ix.promo.user = "", ""
	return p, true
}
