package timeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/text"
)

// SearchOptions are search's optional fourth parameter.
type SearchOptions struct {
	// Username restricts "messages" and "favorites" to one user's posts
	// (for a retwist with a comment, the retwister's too) and names the
	// local user whose conversations "directmsgs" searches (required
	// there).
	Username string
	// Mode is "exact" (default: the text as one substring), "all" (every
	// space-separated word of the text as a substring) or "any" (at least
	// one). Other values mean "exact", as in twisterd.
	Mode string
	// Case is "sensitive" (default) or "insensitive".
	Case string
	// AgeMin and AgeMax, in days, keep posts at least AgeMin and at most
	// AgeMax days old.
	AgeMin, AgeMax *int64
}

// matcher is twisterd's TextSearch.
type matcher struct {
	keywords         []string
	mode             string
	insensitive      bool
	timeMin, timeMax int64
}

func newMatcher(keyword string, o SearchOptions, now int64) *matcher {
	m := &matcher{mode: "exact", insensitive: o.Case == "insensitive", timeMin: math.MinInt64, timeMax: math.MaxInt64}
	if o.Mode == "all" || o.Mode == "any" {
		m.mode = o.Mode
	}
	if o.AgeMin != nil {
		m.timeMax = now - *o.AgeMin*24*3600
	}
	if o.AgeMax != nil {
		m.timeMin = now - *o.AgeMax*24*3600
	}
	if m.mode == "exact" {
		m.keywords = []string{keyword}
	} else {
		for _, w := range strings.Split(keyword, " ") {
			if w != "" {
				m.keywords = append(m.keywords, w)
			}
		}
	}
	if m.insensitive {
		for i, w := range m.keywords {
			m.keywords[i] = text.Lower(w)
		}
	}
	return m
}

func (m *matcher) matchText(msg string) bool {
	if len(m.keywords) == 0 {
		return false
	}
	if m.insensitive {
		msg = text.Lower(msg)
	}
	switch m.mode {
	case "all":
		for _, w := range m.keywords {
			if !strings.Contains(msg, w) {
				return false
			}
		}
		return true
	case "any":
		for _, w := range m.keywords {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
	return strings.Contains(msg, m.keywords[0])
}

func (m *matcher) matchTime(t int64) bool { return t >= m.timeMin && t <= m.timeMax }

// quickReject is twisterd's fast check on the raw post bytes.
func (m *matcher) quickReject(raw []byte) bool {
	return len(m.keywords) == 0 || (!m.insensitive && m.mode != "any" && !bytes.Contains(raw, []byte(m.keywords[0])))
}

// matchPost is matchRawMessage: for a retwist the original is searched
// (its author, time and text) and the comment too (with the retwister's
// name and time).
func (m *matcher) matchPost(p *post.Post, username string) bool {
	user, t, msg := p.User, p.Time, p.Text()
	if !p.HasTime {
		t = 0
	}
	var comment, rtUser string
	var rtTime int64
	if p.RT != nil {
		user, t, msg = p.RT.User, max(p.RT.Time, 0), p.RT.Text()
		comment, rtUser = p.Text(), p.User
		if comment != "" {
			rtTime = p.Time
		}
	}
	if username != "" && user != username && (comment == "" || rtUser != username) {
		return false
	}
	if !m.matchTime(t) && (rtTime == 0 || !m.matchTime(rtTime)) {
		return false
	}
	return m.matchText(msg) || m.matchText(comment)
}

// Search answers twisterd's search over local data. scope is one of:
//   - "messages": held public posts (plain posts and retwists) whose text
//     (or a retwist's original or comment) matches, newest first, as post
//     JSON; at most Options.MaxSearchScan posts are looked at (twisterd
//     also searches its DHT store; the node holds that elsewhere);
//   - "directmsgs": the conversations of opts.Username, newest first, as
//     {"from", "fromMe" (0|1), "k", "remoteUser", "text", "time"};
//   - "profiles": Options.Profiles' profiles whose bio, fullname, location
//     or url matches, by username, as {"profile", "username"};
//   - "users": Options.Usernames' names containing the (lower-cased)
//     text, shortest first then by name (at most 10·MaxSearchScan names
//     are looked at);
//   - "hashtags": the hashtags with a trending score containing the
//     lower-cased text, shortest first then by name;
//   - "favorites": the getfavs items of opts.Username (or of every user
//     held) whose favourited text or comment matches, newest first;
//   - "words" (not in twisterd): the local word index, see WordPosts; mode
//     "any" finds posts with any of the words, otherwise all.
//
// Matching follows twisterd's TextSearch (see SearchOptions). An empty
// text, a bad count or an unknown scope is an error. The result is a []any
// (or []string) ready for encoding/json.
func (ix *Index) Search(scope, keyword string, count int, opts SearchOptions) (any, error) {
	if keyword == "" {
		return nil, fmt.Errorf("%w: Empty <text> parameter", ErrSearch)
	}
	out := []any{}
	now := ix.now()
	switch scope {
	case "messages":
		return ix.searchMessages(newMatcher(keyword, opts, now), opts.Username, count), nil
	case "directmsgs":
		return ix.searchDMs(newMatcher(keyword, opts, now), opts.Username, count), nil
	case "profiles":
		if ix.opts.Profiles == nil {
			return nil, fmt.Errorf("%w: no profile source configured", ErrNoSource)
		}
		return ix.searchProfiles(newMatcher(keyword, opts, now), count), nil
	case "users":
		if ix.opts.Usernames == nil {
			return nil, fmt.Errorf("%w: no username source configured", ErrNoSource)
		}
		kw := strings.ToLower(keyword) // twisterd lower-cases ASCII only here
		var names []string
		scanned := 0
		ix.opts.Usernames(func(n string) bool {
			scanned++
			if strings.Contains(n, kw) {
				names = append(names, n)
			}
			return scanned < 10*ix.opts.MaxSearchScan
		})
		return shortestFirst(names, count), nil
	case "hashtags":
		kw := text.Lower(keyword)
		ix.mu.Lock()
		var tags []string
		for tag := range ix.tags {
			if strings.Contains(tag, kw) {
				tags = append(tags, tag)
			}
		}
		ix.mu.Unlock()
		return shortestFirst(tags, count), nil
	case "favorites":
		return ix.searchFavs(newMatcher(keyword, opts, now), opts.Username, count), nil
	case "words":
		for _, p := range ix.WordPosts(strings.Split(keyword, " "), opts.Mode != "any", count) {
			out = append(out, p.JSON())
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: Unknown <scope> value", ErrSearch)
}

func shortestFirst(names []string, count int) []string {
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) < len(names[j])
		}
		return names[i] < names[j]
	})
	if len(names) > count {
		names = names[:max(count, 0)]
	}
	if names == nil {
		names = []string{}
	}
	return names
}

type timed struct {
	t     int64
	user  string
	k     int64
	value any
}

func newestFirst(xs []timed, count int) []any {
	sort.Slice(xs, func(i, j int) bool {
		if xs[i].t != xs[j].t {
			return xs[i].t > xs[j].t
		}
		if xs[i].user != xs[j].user {
			return xs[i].user < xs[j].user
		}
		return xs[i].k > xs[j].k
	})
	out := []any{}
	for i := 0; i < len(xs) && i < count; i++ {
		out = append(out, xs[i].value)
	}
	return out
}

func (ix *Index) searchMessages(m *matcher, username string, count int) []any {
	var hits []timed
	// The scan runs in its own read transaction, without the index lock,
	// so that posts keep being added meanwhile. (A Close meanwhile makes
	// View fail: the search then finds nothing.)
	ix.mu.Lock()
	closed := ix.closed
	ix.mu.Unlock()
	if closed {
		return []any{}
	}
	budget := ix.opts.MaxSearchScan
	ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bPosts).Cursor()
		// With a username, only that user's swarm is searched, as in
		// twisterd.
		var prefix []byte
		k, v := c.First()
		if username != "" {
			prefix = userPrefix(username)
			k, v = c.Seek(prefix)
		}
		for ; k != nil && budget > 0 && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			budget--
			flags, _, ok := storedMeta(v)
			if !ok || !flags.Match(DefaultAllowed, 0) || m.quickReject(v[headerLen:]) {
				continue
			}
			n := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
			e, err := decodeStored(n, v)
			if err != nil || !m.matchPost(e.dec, username) {
				continue
			}
			hits = append(hits, timed{e.time, e.dec.User, e.k, e.dec.JSON()})
		}
		return nil
	})
	return newestFirst(hits, count)
}

func (ix *Index) searchDMs(m *matcher, local string, count int) []any {
	var hits []timed
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed || local == "" {
		return []any{}
	}
	ix.db.View(func(tx *bolt.Tx) error {
		ix.conversations(tx, local, func(conv string, recs []dmRecord) {
			for _, r := range recs {
				if !m.matchText(r.Text) || !m.matchTime(r.Time) {
					continue
				}
				fromMe := int64(0)
				if r.FromMe {
					fromMe = 1
				}
				hits = append(hits, timed{r.Time, conv, r.K, map[string]any{
					"remoteUser": conv, "text": r.Text, "time": r.Time,
					"fromMe": fromMe, "from": r.From, "k": r.K,
				}})
			}
		})
		return nil
	})
	return newestFirst(hits, count)
}

func (ix *Index) searchProfiles(m *matcher, count int) []any {
	found := map[string]map[string]any{}
	scanned := 0
	ix.opts.Profiles(func(user string, prof map[string]any) bool {
		scanned++
		for _, f := range []string{"bio", "fullname", "location", "url"} {
			if s, ok := prof[f].(string); ok && m.matchText(s) {
				if _, dup := found[user]; !dup {
					found[user] = prof
				}
				break
			}
		}
		return scanned < ix.opts.MaxSearchScan
	})
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []any{}
	for i := 0; i < len(names) && i < count; i++ {
		out = append(out, map[string]any{"username": names[i], "profile": found[names[i]]})
	}
	return out
}

func (ix *Index) searchFavs(m *matcher, username string, count int) []any {
	users := []string{username}
	if username == "" {
		users = ix.Users()
	}
	var hits []timed
	scanned := 0
	for _, u := range users {
		if scanned >= ix.opts.MaxSearchScan {
			break
		}
		favs := ix.Favs(u, ix.opts.MaxSearchScan-scanned, nil, nil)
		scanned += len(favs) + 1
		for _, f := range favs {
			fm, _ := f.(map[string]any)
			up, _ := fm["userpost"].(map[string]any)
			if up == nil {
				continue
			}
			comment, _ := up["msg"].(string)
			var msg string
			if fav, ok := up["fav"].(map[string]any); ok {
				msg, _ = fav["msg"].(string)
				if m2, ok := fav["msg2"].(string); ok {
					msg += m2
				}
			}
			t, _ := up["time"].(int64)
			k, _ := up["k"].(int64)
			if (m.matchText(msg) || m.matchText(comment)) && m.matchTime(t) {
				hits = append(hits, timed{t, u, k, f})
			}
		}
	}
	return newestFirst(hits, count)
}
