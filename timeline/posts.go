package timeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/post"
)

// UserRange selects the posts of one user by post number, as the objects
// of getposts and getdirectmsgs do: {username, max_id, since_id}. MaxID is
// an inclusive upper bound (default: no bound) and SinceID an exclusive
// lower bound (default −1).
type UserRange struct {
	User    string
	MaxID   *int64
	SinceID *int64
}

func (r UserRange) bounds() (maxID, sinceID int64) {
	maxID, sinceID = math.MaxInt64, -1
	if r.MaxID != nil {
		maxID = *r.MaxID
	}
	if r.SinceID != nil {
		sinceID = *r.SinceID
	}
	return maxID, sinceID
}

// DefaultAllowed is getposts' default allowed_flags: plain posts and
// retwists (USERPOST_FLAG_HOME).
const DefaultAllowed = post.FlagRT

// Posts answers getposts: for each user, the first count held posts going
// down from min(max_id, highest held) to above since_id whose flags match
// (post.Flags.Match: all their bits allowed, every required bit set);
// then all of them newest first by time (a post without time counts as
// −1), cut to count. Among equal times the higher post number comes
// first, then the user listed first; twisterd's order there depends on
// the completion order of its disk reads (the recorded transcript shows
// both orders). Posts with a time far in the future are returned, as
// twisterd does (it only logs them). The caller shows each with
// (*post.Post).JSON and may prepend PromotedFor's post. count <= 0 gives
// nothing.
func (ix *Index) Posts(count int, users []UserRange, allowed, required post.Flags) []*post.Post {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	top := ix.topPosts(count, users, allowed, required)
	out := make([]*post.Post, len(top))
	for i, c := range top {
		out[i] = c.e.post()
	}
	return out
}

// PostsJSON is Posts with each post already encoded as twisterd shows it
// (the encoding of (*post.Post).JSON, kept with the cached post, so that a
// busy getposts does not rebuild it every time).
func (ix *Index) PostsJSON(count int, users []UserRange, allowed, required post.Flags) []json.RawMessage {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	top := ix.topPosts(count, users, allowed, required)
	out := make([]json.RawMessage, len(top))
	for i, c := range top {
		if c.e.json == nil {
			b, err := json.Marshal(c.e.post().JSON())
			if err != nil { // cannot happen: only strings, integers, maps and slices
				b = []byte("null")
			}
			c.e.json = b
		}
		out[i] = c.e.json
	}
	return out
}

// topPosts selects getposts' result. ix.mu is held.
func (ix *Index) topPosts(count int, users []UserRange, allowed, required post.Flags) []cand {
	if count <= 0 || ix.closed {
		return []cand{}
	}
	// Keep the best count candidates, best first (a bounded insertion:
	// most candidates are rejected by one comparison).
	top := make([]cand, 0, min(count, 64))
	for i, r := range users {
		maxID, sinceID := r.bounds()
		ix.selectUser(r.User, count, maxID, sinceID, allowed, required, func(e *entry) {
			c := cand{e: e, user: i}
			if len(top) == count && !c.before(top[len(top)-1]) {
				return
			}
			j := len(top)
			if j < count {
				top = append(top, c)
			} else {
				j--
			}
			for ; j > 0 && c.before(top[j-1]); j-- {
				top[j] = top[j-1]
			}
			top[j] = c
		})
	}
	return top
}

// cand is a getposts candidate and the index of its user in the request.
type cand struct {
	e    *entry
	user int
}

// before orders candidates: newer time first, then higher post number,
// then the user listed first.
func (a cand) before(b cand) bool {
	if a.e.time != b.e.time {
		return a.e.time > b.e.time
	}
	if a.e.k != b.e.k {
		return a.e.k > b.e.k
	}
	return a.user < b.user
}

// selectUser is torrent::get_pieces: going down from min(maxID, last
// have) while k > sinceID, the first count posts whose flags match.
// ix.mu is held.
func (ix *Index) selectUser(user string, count int, maxID, sinceID int64, allowed, required post.Flags, fn func(*entry)) {
	st := ix.users[user]
	if st == nil || count <= 0 {
		return
	}
	hi := min(maxID, st.lastHave)
	if hi < 0 || hi <= sinceID {
		return
	}
	ix.loadCache(user, st)
	n := 0
	lowest := int64(-1)
	for _, e := range st.cache {
		lowest = e.k
		if e.k > hi {
			continue
		}
		if e.k <= sinceID || n >= count {
			return
		}
		if e.flags.Match(allowed, required) {
			fn(e)
			n++
		}
	}
	if st.complete || n >= count {
		return
	}
	from := hi
	if len(st.cache) > 0 {
		from = min(hi, lowest-1)
	}
	ix.scanStore(user, from, sinceID, func(k int64, v []byte) bool {
		flags, _, ok := storedMeta(v)
		if !ok || !flags.Match(allowed, required) {
			return true
		}
		e, err := decodeStored(k, v)
		if err != nil {
			ix.log.Warn("timeline: stored post does not decode", "user", user, "k", k, "err", err)
			return true
		}
		fn(e)
		n++
		return n < count
	})
}

// scanStore calls fn for the stored posts of user with lo < k <= hi,
// highest first, until fn returns false.
func (ix *Index) scanStore(user string, hi, lo int64, fn func(k int64, v []byte) bool) {
	if hi < 0 || hi <= lo {
		return
	}
	prefix := userPrefix(user)
	ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bPosts).Cursor()
		k, v := c.Seek(postKey(user, hi))
		if k == nil {
			k, v = c.Last()
		} else if !bytes.Equal(k, postKey(user, hi)) {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Prev() {
			n := int64(binary.BigEndian.Uint64(k[len(prefix):]))
			if n <= lo || !fn(n, v) {
				return nil
			}
		}
		return nil
	})
}

// loadCache makes sure the newest posts of user are in memory and marks
// the user as recently used. ix.mu is held.
func (ix *Index) loadCache(user string, st *userState) {
	if st.loaded {
		ix.lru.MoveToFront(st.elem)
		return
	}
	capacity := ix.opts.CachePerUser
	st.cache = st.cache[:0]
	ix.scanStore(user, math.MaxInt64, -1, func(k int64, v []byte) bool {
		e, err := decodeStored(k, v)
		if err != nil {
			ix.log.Warn("timeline: stored post does not decode", "user", user, "k", k, "err", err)
			return true
		}
		st.cache = append(st.cache, e.compact())
		return len(st.cache) < capacity
	})
	st.loaded = true
	st.complete = len(st.cache) < capacity || int64(len(st.cache)) == st.num
	st.elem = ix.lru.PushFront(user)
	for ix.lru.Len() > ix.opts.CacheUsers {
		old := ix.lru.Back()
		ix.lru.Remove(old)
		if o := ix.users[old.Value.(string)]; o != nil {
			o.cache, o.loaded, o.complete, o.elem = nil, false, false, nil
		}
	}
}

// Favs answers getfavs: the local user's own public and private
// favourites (posts whose flags are FlagFav or FlagPFav), selected by
// post number like Posts (count, max_id, since_id), without those with no
// time or a time more than two hours ahead, newest first. A public one is
// the post's JSON plus "isPrivate": 0; a private one is decrypted with the
// local user's key and shown as twisterd rebuilds it:
// {"isPrivate": 1, "userpost": {"fav", "sig_fav", "n", "k", "msg"
// (the comment), "time", "height"}} with no signature. Private favourites
// that cannot be decrypted (no KeyRing, no key) are left out.
func (ix *Index) Favs(local string, count int, maxID, sinceID *int64) []any {
	out := []any{}
	if count <= 0 {
		return out
	}
	var key = ix.keyOf(local)
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return out
	}
	hi, lo := UserRange{MaxID: maxID, SinceID: sinceID}.bounds()
	var sel []*entry
	ix.selectUser(local, count, hi, lo, post.FlagPFav, post.FlagFav, func(e *entry) { sel = append(sel, e) })
	ix.mu.Unlock()

	now := ix.now()
	type fav struct {
		time, k int64
		v       any
	}
	var favs []fav
	for _, e := range sel {
		p := e.post()
		if p.FromFuture(now) {
			continue
		}
		switch {
		case p.Fav != nil:
			m := p.JSON().(map[string]any)
			m["isPrivate"] = int64(0)
			favs = append(favs, fav{p.Time, p.K, m})
		case p.PFav != nil:
			if key == nil {
				ix.log.Debug("timeline: no key to open private favourite", "user", local)
				continue
			}
			pf, err := p.OpenPrivateFav(key)
			if err != nil {
				ix.log.Debug("timeline: private favourite does not open", "user", local, "k", p.K, "err", err)
				continue
			}
			favs = append(favs, fav{p.Time, p.K, privateFavJSON(p, pf)})
		}
	}
	sort.SliceStable(favs, func(i, j int) bool {
		if favs[i].time != favs[j].time {
			return favs[i].time > favs[j].time
		}
		return favs[i].k > favs[j].k
	})
	for i := 0; i < len(favs) && i < count; i++ {
		out = append(out, favs[i].v)
	}
	return out
}

// privateFavJSON rebuilds a decrypted private favourite as getfavs shows
// it.
func privateFavJSON(p *post.Post, pf dm.PrivateFav) any {
	up := bencode.NewDict()
	up.Set("fav", pf.Userpost)
	up.Set("sig_fav", bencode.NewBytes(pf.SigUserpost))
	up.Set("n", bencode.NewString(p.User))
	up.Set("k", bencode.NewInt(p.K))
	up.Set("msg", bencode.NewString(pf.Comment))
	up.Set("time", bencode.NewInt(p.Time))
	up.Set("height", bencode.NewInt(p.Height))
	v := bencode.NewDict()
	v.Set("isPrivate", bencode.NewInt(1))
	v.Set("userpost", up)
	return post.PostToJSON(v)
}
