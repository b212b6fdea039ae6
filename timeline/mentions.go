package timeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/text"
)

// mentionsFromPostTx is processReceivedPost: a held post that is not a DM
// or private favourite and @mentions (in its "msg") a local user who
// follows its author is added to that user's mentions.
func (ix *Index) mentionsFromPostTx(tx *bolt.Tx, p *post.Post) error {
	ring := ix.opts.KeyRing
	if ring == nil || p.IsPrivate() {
		return nil
	}
	names := text.Mentions(p.Msg)
	if len(names) == 0 {
		return nil
	}
	ks := ring.Keys()
	for _, m := range names {
		if _, local := ks[m]; !local || isGroupAlias(m) || !ring.Follows(m, p.User) {
			continue
		}
		if err := addMentionTx(tx, m, p); err != nil {
			return err
		}
	}
	return nil
}

// mentionKey identifies a recorded mention: local\0 author;k. (twisterd
// uses author;time, which drops a second post mentioning the same user in
// the same second; the post number names the post itself.)
func mentionKey(local string, p *post.Post) []byte {
	return []byte(local + "\x00" + p.User + ";" + strconv.FormatInt(p.K, 10))
}

func addMentionTx(tx *bolt.Tx, local string, p *post.Post) error {
	mk := mentionKey(local, p)
	keys := tx.Bucket(bMentionKeys)
	if keys.Get(mk) != nil {
		return nil
	}
	id := mentionCount(tx, local)
	if err := tx.Bucket(bMentions).Put(postKey(local, id), p.Raw); err != nil {
		return err
	}
	return keys.Put(mk, be64(id))
}

// mentionCount is the number of mentions stored for local.
func mentionCount(tx *bolt.Tx, local string) int64 {
	c := tx.Bucket(bMentions).Cursor()
	prefix := userPrefix(local)
	k, _ := c.Seek(postKey(local, math.MaxInt64))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k[len(prefix):])) + 1
}

// AddMention records a post mentioning the local user, for example one
// found under the user's DHT "mention" resource (twisterd only records
// mentions from the swarms of users it follows; AddPost does that
// automatically). The post must decode; the node should have checked its
// signature. A post already recorded (same author and post number) is
// ignored.
func (ix *Index) AddMention(local string, raw []byte) error {
	if local == "" || strings.IndexByte(local, 0) >= 0 {
		return fmt.Errorf("%w: bad local user %q", ErrInvalidPost, local)
	}
	p, err := post.Decode(bytes.Clone(raw))
	if err != nil {
		return err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	if err := ix.db.Update(func(tx *bolt.Tx) error { return addMentionTx(tx, local, p) }); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Mentions answers getmentions: the local user's recorded mentions with
// ids max(since_id+1, 0) … max, where max = min(max_id, n−1) and
// since_id is raised to max − count (twisterd's window), in the order they
// were recorded; those with no time, a time <= 0 or more than two hours
// ahead are skipped (keeping their ids). Each is the post's JSON plus its
// "id".
func (ix *Index) Mentions(local string, count int, maxID, sinceID *int64) []any {
	out := []any{}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return out
	}
	now := ix.now()
	ix.db.View(func(tx *bolt.Tx) error {
		n := mentionCount(tx, local)
		hi, lo := UserRange{MaxID: maxID, SinceID: sinceID}.bounds()
		hi = min(hi, n-1)
		lo = max(lo, hi-int64(count))
		b := tx.Bucket(bMentions)
		for i := max(lo+1, 0); i <= hi; i++ {
			v := b.Get(postKey(local, i))
			if v == nil {
				continue
			}
			p, err := post.Decode(bytes.Clone(v))
			if err != nil {
				continue
			}
			if !p.HasTime || p.Time <= 0 || p.Time > now+post.MaxTimeInFuture {
				continue
			}
			m := p.JSON().(map[string]any)
			m["id"] = i
			out = append(out, m)
		}
		return nil
	})
	return out
}
