package timeline

import (
	"bytes"
	"encoding/binary"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/text"
)

// Hashtag trending constants (twister-core src/twister.cpp).
const (
	// HashtagHalfLife is how long a hashtag's vote takes to halve.
	HashtagHalfLife = 8 * 3600
	// HashtagExpiration: a hashtag whose score fell below the value of
	// one vote this old (0.5^21) is forgotten.
	HashtagExpiration = 7 * 24 * 3600
)

var hashtagCritical = math.Pow(0.5, HashtagExpiration/HashtagHalfLife)

// tagScore is a decayed score valid at time asOf.
type tagScore struct {
	score float64
	asOf  int64
}

// at returns the score decayed to time now.
func (s tagScore) at(now int64) float64 {
	if now <= s.asOf {
		return s.score
	}
	return s.score * math.Pow(0.5, float64(now-s.asOf)/HashtagHalfLife)
}

func (s tagScore) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, math.Float64bits(s.score))
	binary.BigEndian.PutUint64(b[8:], uint64(s.asOf))
	return b
}

func (ix *Index) loadTags(tx *bolt.Tx) error {
	now := ix.now()
	b := tx.Bucket(bTags)
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 16 {
			stale = append(stale, bytes.Clone(k))
			return nil
		}
		s := tagScore{math.Float64frombits(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))}
		if s.at(now) < hashtagCritical || math.IsNaN(s.score) {
			stale = append(stale, bytes.Clone(k))
			return nil
		}
		ix.tags[string(k)] = s
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// trendingText is the text whose hashtags count for trending: twisterd
// counts the "msg" of the original for a retwist and the post's own msg
// otherwise, for posts stored as DHT "post" items (neither favourites nor
// private posts). Here msg2 is included.
func trendingText(p *post.Post) string {
	switch {
	case p.IsPrivate() || p.Fav != nil:
		return ""
	case p.RT != nil:
		return p.RT.Text()
	}
	return p.Text()
}

// countHashtagsTx adds the post's vote to its hashtags: 0.5^(age/8 h) with
// age = now − post time (a post from the future counts as now), as
// twisterd's updateSeenHashtags does.
func (ix *Index) countHashtagsTx(tx *bolt.Tx, b *batch, p *post.Post) (func(), error) {
	tags := text.Hashtags(trendingText(p))
	if len(tags) == 0 || !p.HasTime {
		return func() {}, nil
	}
	now := ix.now()
	t := min(p.Time, now)
	vote := math.Pow(0.5, float64(now-t)/HashtagHalfLife)
	if vote < hashtagCritical {
		return func() {}, nil
	}
	bucket := tx.Bucket(bTags)
	for _, tag := range tags {
		if tag == "" || len(tag) > 200 {
			continue
		}
		s, ok := b.tags[tag]
		if !ok {
			s = ix.tags[tag]
		}
		s = tagScore{s.at(now) + vote, now}
		b.tags[tag] = s
		if err := bucket.Put([]byte(tag), s.encode()); err != nil {
			return nil, err
		}
	}
	return func() {
		for tag, s := range b.tags {
			ix.tags[tag] = s
		}
	}, nil
}

// TrendingHashtags answers gettrendinghashtags: up to count hashtags with
// the highest decayed scores, highest first (ties by name). Scores come
// from the held posts (twisterd counts the single "post" DHT items its node
// stores instead, so its list differs, and it shows only one of several
// hashtags with exactly equal scores; here all are shown).
func (ix *Index) TrendingHashtags(count int) []string {
	out := []string{}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	now := ix.now()
	type ts struct {
		tag   string
		score float64
	}
	var all []ts
	for tag, s := range ix.tags {
		if v := s.at(now); v >= hashtagCritical {
			all = append(all, ts{tag, v})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].tag < all[j].tag
	})
	for i := 0; i < len(all) && i < count; i++ {
		out = append(out, all[i].tag)
	}
	return out
}

// Words returns the words of a message as the word index stores them: the
// message is split on text.Delimiters, a leading '#' or '@' is dropped, the
// rest lower-cased (text.Lower); words of 2 to 64 bytes are kept, each
// once. Hashtags and mentions are thus words too.
func Words(msg string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(msg, func(r rune) bool {
		return r < utf8.RuneSelf && strings.IndexByte(text.Delimiters, byte(r)) >= 0
	}) {
		w = text.Lower(strings.TrimLeft(w, "#@"))
		if len(w) < 2 || len(w) > 64 || strings.IndexByte(w, 0) >= 0 || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// postWords are the words of a post's text and, for a retwist, of the
// original's text.
func postWords(p *post.Post) []string {
	if p.IsPrivate() {
		return nil
	}
	s := p.Text()
	if p.RT != nil {
		s += " " + p.RT.Text()
	}
	if p.Fav != nil {
		s += " " + p.Fav.Text()
	}
	return Words(s)
}

// wordKey is word\0 be64(time with the sign bit flipped) user\0 be64(k),
// so that a word's posts sort oldest to newest.
func wordKey(word string, t int64, user string, k int64) []byte {
	b := make([]byte, 0, len(word)+len(user)+18)
	b = append(b, word...)
	b = append(b, 0)
	b = append(b, be64(int64(uint64(t)^(1<<63)))...)
	b = append(b, user...)
	b = append(b, 0)
	return append(b, be64(k)...)
}

func (ix *Index) indexWordsTx(tx *bolt.Tx, p *post.Post) error {
	b := tx.Bucket(bWords)
	t := int64(-1)
	if p.HasTime {
		t = p.Time
	}
	for _, w := range postWords(p) {
		if err := b.Put(wordKey(w, t, p.User, p.K), nil); err != nil {
			return err
		}
	}
	return nil
}

// WordPosts searches the local word index (the words of every held public
// post, retwists and favourites included, see Words): the newest posts
// holding all the given words (any of them when all is false), up to
// count, looking at no more than Options.MaxSearchScan index entries.
// Words are normalised as Words does.
func (ix *Index) WordPosts(words []string, all bool, count int) []*post.Post {
	out := []*post.Post{}
	var ws []string
	seen := map[string]bool{}
	for _, w := range words {
		for _, x := range Words(w) {
			if !seen[x] {
				seen[x] = true
				ws = append(ws, x)
			}
		}
	}
	if len(ws) == 0 || count <= 0 {
		return out
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return out
	}
	ix.flushWordsLocked() // posts added since the last batch are searchable too
	type ref struct {
		t    int64
		user string
		k    int64
	}
	budget := ix.opts.MaxSearchScan
	found := map[ref]bool{}
	var sel []ref
	ix.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bWords)
		c := b.Cursor()
		// Walk each word's list newest first; with all, only the first
		// word's list, checking the others by key.
		for wi, w := range ws {
			if all && wi > 0 {
				break
			}
			prefix := append([]byte(w), 0)
			k, _ := c.Seek(append([]byte(w), 1))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
			n := 0
			for ; k != nil && bytes.HasPrefix(k, prefix) && budget > 0 && n < count; k, _ = c.Prev() {
				budget--
				rest := k[len(prefix):]
				if len(rest) < 8+1+8 {
					continue
				}
				t := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
				r := ref{t, string(rest[8 : len(rest)-9]), int64(binary.BigEndian.Uint64(rest[len(rest)-8:]))}
				if found[r] {
					continue
				}
				ok := true
				for _, w2 := range ws[1:] {
					if all && b.Get(wordKey(w2, r.t, r.user, r.k)) == nil {
						ok = false
						break
					}
				}
				if ok {
					found[r] = true
					sel = append(sel, r)
					n++
				}
			}
		}
		return nil
	})
	sort.Slice(sel, func(i, j int) bool {
		if sel[i].t != sel[j].t {
			return sel[i].t > sel[j].t
		}
		if sel[i].user != sel[j].user {
			return sel[i].user < sel[j].user
		}
		return sel[i].k > sel[j].k
	})
	ix.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bPosts)
		for _, r := range sel {
			if len(out) >= count {
				break
			}
			if v := b.Get(postKey(r.user, r.k)); v != nil {
				if e, err := decodeStored(r.k, v); err == nil {
					out = append(out, e.post())
				}
			}
		}
		return nil
	})
	return out
}
