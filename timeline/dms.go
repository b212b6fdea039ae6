package timeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
)

// DMEntry is one message of a conversation as getdirectmsgs shows it. The
// field order is twisterd's (it builds these objects field by field, not
// from a sorted dictionary).
type DMEntry struct {
	ID     int64  `json:"id"`
	Time   int64  `json:"time"`
	Text   string `json:"text"`
	FromMe bool   `json:"fromMe"`
	From   string `json:"from"`
	K      int64  `json:"k"`
}

// dmRecord is a stored conversation message.
type dmRecord struct {
	Time   int64  `json:"t"`
	Text   string `json:"x"`
	FromMe bool   `json:"m,omitempty"`
	From   string `json:"f"`
	K      int64  `json:"k"`
}

func convKey(local, conv string) []byte {
	b := make([]byte, 0, len(local)+1+len(conv))
	b = append(b, local...)
	b = append(b, 0)
	return append(b, conv...)
}

func loadConv(tx *bolt.Tx, local, conv string) ([]dmRecord, error) {
	v := tx.Bucket(bDMs).Get(convKey(local, conv))
	if v == nil {
		return nil, nil
	}
	var recs []dmRecord
	if err := json.Unmarshal(v, &recs); err != nil {
		return nil, fmt.Errorf("conversation %s/%s: %w", local, conv, err)
	}
	return recs, nil
}

func saveConv(tx *bolt.Tx, local, conv string, recs []dmRecord) error {
	b, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	return tx.Bucket(bDMs).Put(convKey(local, conv), b)
}

// storeDM is twisterd's storeNewDM: the message goes before the first
// stored one whose time is not earlier (so, among equal times, later
// arrivals come first), or at the end. A message equal in time and text
// to a stored one is not stored again. (twisterd compares time and text
// only against the first stored message of the same time, so a rescan
// there can duplicate messages; here it cannot.)
func storeDM(tx *bolt.Tx, local, conv string, r dmRecord) error {
	recs, err := loadConv(tx, local, conv)
	if err != nil {
		return err
	}
	pos := len(recs)
	for i, x := range recs {
		if x.Time == r.Time && x.Text == r.Text {
			return nil
		}
		if pos == len(recs) && r.Time <= x.Time {
			pos = i
		}
	}
	recs = append(recs, dmRecord{})
	copy(recs[pos+1:], recs[pos:])
	recs[pos] = r
	return saveConv(tx, local, conv, recs)
}

// AddSentDM records a direct message a local user has just sent without a
// copy to self, as twisterd's newdirectmsg does: the post is encrypted to
// the recipient and the sender cannot read it back, so the node stores
// the text at sending time. It is appended to the conversation (to is the
// recipient or the group alias) with fromMe true; adding the same (k) again
// does nothing.
func (ix *Index) AddSentDM(from, to string, k, time int64, text string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	err := ix.db.Update(func(tx *bolt.Tx) error {
		recs, err := loadConv(tx, from, to)
		if err != nil {
			return err
		}
		for _, x := range recs {
			if x.From == from && x.K == k && x.FromMe {
				return nil
			}
		}
		recs = append(recs, dmRecord{Time: time, Text: text, FromMe: true, From: from, K: k})
		return saveConv(tx, from, to, recs)
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// processDMTx is processReceivedDM for a post holding a dm: the first key
// of the KeyRing (by name) whose MAC matches opens it, and the message is
// stored by twisterd's rules:
//   - the recipient ("to") is the key's name; fromMe is sender == to, so
//     a copy to self is fromMe, and a group message never is;
//   - a non-group message is dropped unless the recipient follows the
//     sender (Follows(to, from)). This is why, in the recorded transcript,
//     alice's copy-to-self DM is missing from her own conversation: alice
//     did not follow herself, so the copy (from alice, to alice) was
//     dropped, and newdirectmsg with copy_self stores nothing at sending
//     time. A user who follows herself (as the web UI makes every user do)
//     sees her copies;
//   - a {msg, to} plaintext gives the text and, for a copy to self, the
//     conversation partner; any other plaintext is the text itself;
//   - group_invite and group_members plaintexts go to the callbacks and
//     store twisterd's "***" notices;
//   - the message is stored under the partner (the sender for a received
//     message, the payload's "to" for a copy to self), or, for a group,
//     under the alias for every local member.
func (ix *Index) processDMTx(tx *bolt.Tx, p *post.Post) error {
	ring := ix.opts.KeyRing
	if ring == nil || p.DM == nil {
		return nil
	}
	ks := ring.Keys()
	names := make([]string, 0, len(ks))
	for n := range ks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		key := ks[name]
		if key == nil {
			continue
		}
		plain, err := dm.Decrypt(key, *p.DM)
		if err != nil {
			if !errors.Is(err, dm.ErrMAC) {
				ix.log.Debug("timeline: DM does not decrypt", "user", p.User, "k", p.K, "err", err)
			}
			continue
		}
		return ix.storeReceivedDM(tx, ring, p, name, plain)
	}
	return nil
}

func isGroupAlias(name string) bool { return strings.HasPrefix(name, "*") }

func (ix *Index) storeReceivedDM(tx *bolt.Tx, ring KeyRing, p *post.Post, name string, plain []byte) error {
	from, k, t := p.User, p.K, p.Time
	to := name
	fromMe := from == to
	isGroup := isGroupAlias(name)
	if !isGroup && !ring.Follows(to, from) {
		ix.log.Debug("timeline: DM dropped: recipient does not follow sender", "from", from, "to", to)
		return nil
	}
	pt, err := dm.ParsePlaintext(plain)
	if err != nil {
		ix.log.Debug("timeline: DM plaintext dropped", "from", from, "k", k, "err", err)
		return nil
	}
	msg := string(plain)
	switch pt.Kind {
	case dm.KindGroupInvite:
		return ix.groupInviteTx(tx, ring, GroupInvite{Local: name, From: from, Desc: pt.Invite.Desc, WIF: pt.Invite.Key, Time: t, K: k})
	case dm.KindGroupMembers:
		if isGroup {
			return ix.groupMembersTx(tx, ring, GroupMembers{Alias: name, From: from, Members: pt.Members, Time: t, K: k})
		}
		if pt.To != "" || pt.Text != "" {
			msg, to = pt.Text, pt.To
		}
	case dm.KindMessage:
		msg, to = pt.Text, pt.To
	}
	if msg == "" || to == "" {
		return nil
	}
	r := dmRecord{Time: t, Text: msg, FromMe: fromMe, From: from, K: k}
	if isGroup {
		return storeGroupDM(tx, ring, name, r)
	}
	conv := from
	if fromMe {
		conv = to
	}
	return storeDM(tx, name, conv, r)
}

// storeGroupDM stores r in the conversation alias of every local member.
func storeGroupDM(tx *bolt.Tx, ring KeyRing, alias string, r dmRecord) error {
	for _, m := range ring.GroupMembers(alias) {
		if err := storeDM(tx, m, alias, r); err != nil {
			return err
		}
	}
	return nil
}

// groupInviteTx is registerNewGroup.
func (ix *Index) groupInviteTx(tx *bolt.Tx, ring KeyRing, ev GroupInvite) error {
	key, err := keys.ParseSecret(ev.WIF)
	if err != nil {
		ix.log.Debug("timeline: group invite with a bad key", "from", ev.From, "err", err)
		return nil
	}
	ev.Key = key
	if ix.opts.OnGroupInvite == nil {
		return nil
	}
	alias := ix.opts.OnGroupInvite(ev)
	if alias == "" {
		return nil
	}
	r := dmRecord{Time: ev.Time, From: ev.From, K: ev.K}
	if ev.Local == alias {
		r.Text = "*** '" + ev.From + "' changed group description to: " + ev.Desc
		return storeGroupDM(tx, ring, alias, r)
	}
	for _, m := range ring.GroupMembers(alias) {
		if m == ev.Local {
			r.Text = "*** Invited by '" + ev.From + "' to group: " + ev.Desc
			return storeDM(tx, m, alias, r)
		}
	}
	return nil
}

// groupMembersTx is notifyNewGroupMember for each listed member.
func (ix *Index) groupMembersTx(tx *bolt.Tx, ring KeyRing, ev GroupMembers) error {
	if ix.opts.OnGroupMembers == nil {
		return nil
	}
	for _, m := range ix.opts.OnGroupMembers(ev) {
		r := dmRecord{Time: ev.Time, From: ev.From, K: ev.K,
			Text: "*** New member '" + m + "' invited by '" + ev.From + "'"}
		if err := storeGroupDM(tx, ring, ev.Alias, r); err != nil {
			return err
		}
	}
	return nil
}

// RescanDMs runs every held DM post through the decryption again
// (rescandirectmsgs; also to be called after a key is added to the
// wallet, such as a group's). Messages already stored are not duplicated.
func (ix *Index) RescanDMs() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	err := ix.db.Update(func(tx *bolt.Tx) error {
		posts := tx.Bucket(bPosts)
		var keys [][]byte
		tx.Bucket(bDMPosts).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
		for _, key := range keys {
			v := posts.Get(key)
			if v == nil || len(key) < 9 {
				continue
			}
			e, err := decodeStored(int64(binary.BigEndian.Uint64(key[len(key)-8:])), v)
			if err != nil {
				ix.log.Warn("timeline: stored DM post does not decode", "key", key, "err", err)
				continue
			}
			if err := ix.processDMTx(tx, e.post()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// DirectMsgs answers getdirectmsgs: for each requested remote user (or
// group alias) with whom local has a conversation, at most countPerUser
// messages ending at max_id, oldest first. Precisely, as twisterd: with n
// messages, max = min(max_id, n−1), since = max(since_id, max −
// countPerUser), and the ids max(since+1, 0) … max are returned. Ids number
// a conversation's messages from 0 in stored order (time order; see
// storeDM), so they shift when an older message arrives late, as in
// twisterd. Users with no messages in range are left out; the result may
// be empty ({} in JSON).
func (ix *Index) DirectMsgs(local string, countPerUser int, users []UserRange) map[string][]DMEntry {
	out := map[string][]DMEntry{}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return out
	}
	ix.db.View(func(tx *bolt.Tx) error {
		for _, r := range users {
			if r.User == "" {
				continue
			}
			recs, err := loadConv(tx, local, r.User)
			if err != nil {
				ix.log.Warn("timeline: conversation unreadable", "err", err)
				continue
			}
			if len(recs) == 0 {
				continue
			}
			maxID, sinceID := r.bounds()
			maxID = min(maxID, int64(len(recs))-1)
			sinceID = max(sinceID, maxID-int64(countPerUser))
			var msgs []DMEntry
			for i := max(sinceID+1, 0); i <= maxID; i++ {
				x := recs[i]
				msgs = append(msgs, DMEntry{ID: i, Time: x.Time, Text: x.Text, FromMe: x.FromMe, From: x.From, K: x.K})
			}
			if len(msgs) > 0 {
				out[r.User] = msgs
			}
		}
		return nil
	})
	return out
}

// conversations calls fn for every conversation of local.
func (ix *Index) conversations(tx *bolt.Tx, local string, fn func(conv string, recs []dmRecord)) {
	prefix := append([]byte(local), 0)
	c := tx.Bucket(bDMs).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var recs []dmRecord
		if err := json.Unmarshal(v, &recs); err != nil {
			continue
		}
		fn(string(k[len(prefix):]), recs)
	}
}

// keyOf returns the KeyRing's key for name, or nil.
func (ix *Index) keyOf(name string) *keys.PrivateKey {
	if ix.opts.KeyRing == nil {
		return nil
	}
	return ix.opts.KeyRing.Keys()[name]
}
