package timeline

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/text"
)

// Errors returned by the index. Each returned error wraps one of them or
// an error of package post (for a post that does not decode).
var (
	// ErrInvalidPost is returned by AddPost and AddMention for input that
	// is not a usable post (see also post.ErrMalformed and friends).
	ErrInvalidPost = errors.New("timeline: invalid post")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("timeline: index is closed")
	// ErrSearch is returned by Search for a bad scope or argument.
	ErrSearch = errors.New("timeline: bad search")
	// ErrNoSource is returned by Search for the profiles or users scope
	// when Options gives no source to search.
	ErrNoSource = errors.New("timeline: nothing to search for this scope")
	// ErrStore wraps failures of the underlying bbolt file.
	ErrStore = errors.New("timeline: store")
)

// KeyRing is what the index needs from the node's wallet and follow lists.
// Its methods are called while the index is locked (when a post is added
// or DMs are rescanned); they must not call the Index.
type KeyRing interface {
	// Keys returns the private keys the node holds, by name: the local
	// users' keys under their usernames and the group chats' keys under
	// their aliases ("*" followed by letters). A DM post is tried with
	// every key; the one whose MAC matches is the recipient.
	Keys() map[string]*keys.PrivateKey
	// Follows reports whether local user local follows remote. A received
	// non-group DM is kept only if its recipient follows its sender, and a
	// post's @mention of a local user counts only if that user follows the
	// author (twisterd's rules).
	Follows(local, remote string) bool
	// GroupMembers returns the local users who are members of the group
	// chat alias and do not ignore it (who left it); group messages are
	// stored in each one's conversation named by the alias.
	GroupMembers(alias string) []string
}

// GroupInvite is a decrypted group_invite: an invitation of Local into a
// group chat (when Local is a user) or a change of the group's description
// (when Local is the group's own alias, the invite having been sent to the
// group key).
type GroupInvite struct {
	Local string           // the name of the key that decrypted it
	From  string           // the inviting user (author of the DM post)
	Desc  string           // the group's description
	Key   *keys.PrivateKey // the group's private key
	WIF   string           // the key as it was sent (52-character secret)
	Time  int64            // the DM post's time
	K     int64            // the DM post's number
}

// GroupMembers is a decrypted group_members list, received with the key of
// the group chat Alias.
type GroupMembers struct {
	Alias   string
	From    string
	Members []string // non-empty names, as listed
	Time, K int64
}

// Options configure an Index. Every field is optional.
type Options struct {
	// Clock tells the time (default time.Now). It decides which posts
	// are "from the future", hashtag decay, search ages and the promoted
	// post's 8-hour rule.
	Clock func() time.Time
	// Logger receives diagnostics (default: discarded).
	Logger *slog.Logger
	// KeyRing gives the local keys, follows and group membership. Without
	// it no DM is decrypted, no mention is recorded and private favourites
	// are not shown.
	KeyRing KeyRing
	// OnGroupInvite is called, synchronously and while the index is
	// locked (it must not call the Index), when a DM carrying a
	// group_invite is decrypted. It should register the group's key in
	// the wallet (reusing the alias when the key is already known, as
	// twisterd's registerNewGroup does) and, when ev.Local is a user, make
	// that user a member; it returns the group's local alias, or "" to
	// ignore the invitation. It may be called again for the same post
	// (RescanDMs) and must be idempotent.
	OnGroupInvite func(ev GroupInvite) (alias string)
	// OnGroupMembers is called like OnGroupInvite when a group_members
	// list is decrypted with a group's key. It records the members and
	// returns those that were not members before (twisterd then starts
	// following their swarms); the index stores a "New member" notice
	// for each.
	OnGroupMembers func(ev GroupMembers) (added []string)
	// Profiles, when set, lists the cached profiles (DHT "profile" items)
	// for search scope "profiles": it calls yield for each until yield
	// returns false.
	Profiles func(yield func(user string, profile map[string]any) bool)
	// Usernames, when set, lists every registered username (from the
	// chain) for search scope "users", until yield returns false.
	Usernames func(yield func(name string) bool)
	// CachePerUser is how many of each user's newest posts are kept
	// decoded in memory (default 32).
	CachePerUser int
	// CacheUsers is how many users' caches are kept (default 2048;
	// least recently used first out).
	CacheUsers int
	// MaxSearchScan bounds the posts one Search looks at (default
	// 200000), so that a search never runs unbounded.
	MaxSearchScan int
	// Rand returns a number in [0, 1) for the promoted-message choice
	// (default math/rand/v2).
	Rand func() float64
	// NoSync skips fsync on commits: a crash of the machine may then lose
	// recent writes or damage the file, so use it only when the index can
	// be rebuilt from the posts (the native node re-adds missing posts at
	// start and rebuilds an index it cannot open).
	NoSync bool
}

// Index is the local post index. Its methods are safe for concurrent use.
type Index struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
	users  map[string]*userState
	lru    *list.List // of string (user), front = most recently used
	tags   map[string]tagScore

	// promoted ("spam") message state, kept in memory like twisterd.
	promo      promoState
	preferLang string

	// Word index writes wait here (see words.go); their keys are also in
	// bWordsDue, written with the post, so a crash loses none.
	wordsDue   [][]byte
	wordsTimer *time.Timer
}

type userState struct {
	lastHave int64 // highest k held, -1 if none
	num      int64 // number of posts held
	// cache holds the newest posts, highest k first, when loaded.
	cache    []*entry
	loaded   bool
	complete bool // cache holds every post of the user
	elem     *list.Element
}

// entry is one held post with what selection needs. Entries kept in a
// user's cache hold the post's bytes but not its decoded form (a decoded
// post is several times larger; a node following a thousand users keeps
// tens of thousands of entries): post() decodes them when needed.
type entry struct {
	k, time int64 // time is -1 when the post has none, as twisterd reads it
	flags   post.Flags
	raw     []byte     // the post's exact bytes
	dec     *post.Post // the decoded post, nil in cached entries
	json    []byte     // PostsJSON's encoding, made on first use (under ix.mu)
}

// post returns the decoded post. raw decoded once already when the entry
// was made (decodeStored, newEntry), and decoding is deterministic.
func (e *entry) post() *post.Post {
	if e.dec != nil {
		return e.dec
	}
	p, err := post.Decode(e.raw)
	if err != nil {
		panic("timeline: a held post no longer decodes: " + err.Error())
	}
	return p
}

// compact returns the entry as a cache keeps it: without the decoded post.
func (e *entry) compact() *entry {
	return &entry{k: e.k, time: e.time, flags: e.flags, raw: e.raw, json: e.json}
}

// Bucket names.
var (
	bPosts       = []byte("posts")       // user\0 be64(k) -> header + raw post
	bUsers       = []byte("users")       // user -> be64(lastHave) be64(num)
	bDMPosts     = []byte("dmposts")     // user\0 be64(k) -> "" (posts with a dm)
	bDMs         = []byte("dms")         // local\0 conversation -> JSON records
	bMentions    = []byte("mentions")    // local\0 be64(id) -> raw post
	bMentionKeys = []byte("mentionkeys") // local\0 author;time -> be64(id)
	bTags        = []byte("hashtags")    // tag -> f64 score, be64 asOf
	bWords       = []byte("words")       // word\0 be64(time^sign) user\0 be64(k) -> ""
	bWordsDue    = []byte("wordsdue")    // user\0 be64(k) -> "" (posts whose words are not in bWords yet)
	bSpam        = []byte("spam")        // be64(height) -> JSON spam record
	bMeta        = []byte("meta")

	allBuckets = [][]byte{bPosts, bUsers, bDMPosts, bDMs, bMentions, bMentionKeys, bTags, bWords, bWordsDue, bSpam, bMeta}
)

const schemaVersion = 1

// Open opens (creating if needed) the index stored in the file at path.
func Open(path string, opts Options) (*Index, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CachePerUser <= 0 {
		opts.CachePerUser = 32
	}
	if opts.CacheUsers <= 0 {
		opts.CacheUsers = 2048
	}
	if opts.MaxSearchScan <= 0 {
		opts.MaxSearchScan = 200000
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrStore, path, err)
	}
	ix := &Index{
		db: db, opts: opts, log: opts.Logger,
		users: map[string]*userState{}, lru: list.New(), tags: map[string]tagScore{},
		preferLang: "[en]",
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get([]byte("version")); v == nil {
			if err := meta.Put([]byte("version"), be64(schemaVersion)); err != nil {
				return err
			}
		} else if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) != schemaVersion {
			return fmt.Errorf("unknown schema version %x", v)
		}
		if err := tx.Bucket(bUsers).ForEach(func(k, v []byte) error {
			if len(v) != 16 {
				return fmt.Errorf("user %q: corrupt statistics", k)
			}
			ix.users[string(k)] = &userState{
				lastHave: int64(binary.BigEndian.Uint64(v)),
				num:      int64(binary.BigEndian.Uint64(v[8:])),
			}
			return nil
		}); err != nil {
			return err
		}
		if err := ix.loadTags(tx); err != nil {
			return err
		}
		return tx.Bucket(bWordsDue).ForEach(func(k, _ []byte) error {
			ix.wordsDue = append(ix.wordsDue, bytes.Clone(k))
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrStore, path, err)
	}
	// Posts stored before a crash whose words were not indexed yet.
	ix.mu.Lock()
	ix.flushWordsLocked()
	ix.mu.Unlock()
	return ix, nil
}

// Close closes the file. Later calls fail with ErrClosed.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.flushWordsLocked()
	ix.closed = true
	if err := ix.db.Close(); err != nil {
		return fmt.Errorf("%w: close: %w", ErrStore, err)
	}
	return nil
}

func (ix *Index) now() int64 { return ix.opts.Clock().Unix() }

func be64(n int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return b[:]
}

// postKey is user\0 be64(k); k >= 0 keeps the order numeric.
func postKey(user string, k int64) []byte {
	b := make([]byte, 0, len(user)+9)
	b = append(b, user...)
	b = append(b, 0)
	return append(b, be64(k)...)
}

func userPrefix(user string) []byte { return append([]byte(user), 0) }

// The posts bucket value: flags (4 bytes), has-time (1), time (8), raw.
const headerLen = 13

func encodeStored(p *post.Post) []byte {
	b := make([]byte, headerLen, headerLen+len(p.Raw))
	binary.BigEndian.PutUint32(b, uint32(p.Flags))
	if p.HasTime {
		b[4] = 1
		binary.BigEndian.PutUint64(b[5:], uint64(p.Time))
	}
	return append(b, p.Raw...)
}

// storedMeta reads the header of a stored post.
func storedMeta(v []byte) (flags post.Flags, t int64, ok bool) {
	if len(v) < headerLen {
		return 0, 0, false
	}
	t = -1
	if v[4] == 1 {
		t = int64(binary.BigEndian.Uint64(v[5:]))
	}
	return post.Flags(binary.BigEndian.Uint32(v)), t, true
}

// decodeStored decodes a stored post into an entry.
func decodeStored(k int64, v []byte) (*entry, error) {
	flags, t, ok := storedMeta(v)
	if !ok {
		return nil, errors.New("short record")
	}
	raw := bytes.Clone(v[headerLen:])
	p, err := post.Decode(raw)
	if err != nil {
		return nil, err
	}
	return &entry{k: k, time: t, flags: flags, raw: raw, dec: p}, nil
}

func newEntry(p *post.Post) *entry {
	t := int64(-1)
	if p.HasTime {
		t = p.Time
	}
	return &entry{k: p.K, time: t, flags: p.Flags, raw: p.Raw, dec: p}
}

// checkPost decodes a post given to AddPost.
func checkPost(raw []byte) (*post.Post, error) {
	p, err := post.Decode(raw)
	if err != nil {
		return nil, err
	}
	if err := text.ValidUsername(p.User); err != nil {
		return nil, fmt.Errorf("%w: author: %w", ErrInvalidPost, err)
	}
	if p.K < 0 {
		return nil, fmt.Errorf("%w: post number %d is negative", ErrInvalidPost, p.K)
	}
	return p, nil
}

// AddPost adds a post, which the node has already validated as piece
// p.K of the swarm of p.User (post.Validate), and indexes it: by user and
// post number, by time, by flags; its words and hashtags (trending
// scores); @mentions of local users who follow the author; and, for a DM,
// the decrypted message in the recipient's conversation (see KeyRing and
// the group callbacks). Adding a post whose (user, k) is already held
// keeps the first one, as a swarm keeps the first piece, and returns it.
// A post that does not decode returns an error and changes nothing.
func (ix *Index) AddPost(raw []byte) (*post.Post, error) {
	ps, errs := ix.AddPosts([][]byte{raw})
	return ps[0], errs[0]
}

// AddPosts adds several posts in one transaction (much faster than one
// AddPost each when syncing a swarm). It returns, for each input, the held
// post or the error, as AddPost would.
func (ix *Index) AddPosts(raws [][]byte) ([]*post.Post, []error) {
	out := make([]*post.Post, len(raws))
	errs := make([]error, len(raws))
	var todo []*post.Post
	var at []int
	for i, raw := range raws {
		p, err := checkPost(bytes.Clone(raw)) // detached from the caller's buffer
		if err != nil {
			errs[i] = err
			continue
		}
		todo = append(todo, p)
		at = append(at, i)
	}
	if len(todo) == 0 {
		return out, errs
	}
	held, err := ix.addChecked(todo)
	for j, i := range at {
		out[i], errs[i] = held[j], err
	}
	return out, errs
}

// addChecked adds decoded posts in one transaction and returns, for each,
// the held post (the one given, or the one held before with its number).
func (ix *Index) addChecked(todo []*post.Post) ([]*post.Post, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return make([]*post.Post, len(todo)), ErrClosed
	}
	var after []func()
	held := make([]*post.Post, len(todo))
	err := ix.db.Update(func(tx *bolt.Tx) error {
		after = after[:0]
		b := &batch{stats: map[string][2]int64{}, tags: map[string]tagScore{}}
		seen := map[string]*post.Post{}
		for j, p := range todo {
			key := postKey(p.User, p.K)
			if q := seen[string(key)]; q != nil {
				held[j] = q
				continue
			}
			if v := tx.Bucket(bPosts).Get(key); v != nil {
				e, err := decodeStored(p.K, v)
				if err != nil {
					return fmt.Errorf("stored post %s/%d: %w", p.User, p.K, err)
				}
				held[j] = e.dec
				continue
			}
			seen[string(key)] = p
			held[j] = p
			fn, err := ix.addTx(tx, b, p, key)
			if err != nil {
				return err
			}
			after = append(after, fn...)
		}
		return nil
	})
	if err != nil {
		return make([]*post.Post, len(todo)), fmt.Errorf("%w: %w", ErrStore, err)
	}
	for _, fn := range after {
		fn()
	}
	return held, nil
}

// batch holds what one write transaction changed but the in-memory state
// does not show yet.
type batch struct {
	stats map[string][2]int64 // user -> lastHave, num
	tags  map[string]tagScore
}

// addTx writes a new post and everything derived from it; the returned
// functions update the in-memory state once the transaction committed.
func (ix *Index) addTx(tx *bolt.Tx, b *batch, p *post.Post, key []byte) ([]func(), error) {
	if err := tx.Bucket(bPosts).Put(key, encodeStored(p)); err != nil {
		return nil, err
	}
	var after []func()
	// Statistics (getlasthave, getnumpieces).
	last, num := int64(-1), int64(0)
	if s, ok := b.stats[p.User]; ok {
		last, num = s[0], s[1]
	} else if st := ix.users[p.User]; st != nil {
		last, num = st.lastHave, st.num
	}
	last, num = max(last, p.K), num+1
	b.stats[p.User] = [2]int64{last, num}
	v := append(be64(last), be64(num)...)
	if err := tx.Bucket(bUsers).Put([]byte(p.User), v); err != nil {
		return nil, err
	}
	e := newEntry(p)
	after = append(after, func() {
		st := ix.users[p.User]
		if st == nil {
			st = &userState{}
			ix.users[p.User] = st
		}
		st.lastHave, st.num = last, num
		st.insertCached(e.compact(), ix.opts.CachePerUser)
	})
	if err := ix.wordsDueTx(tx, p, key); err != nil {
		return nil, err
	}
	fn, err := ix.countHashtagsTx(tx, b, p)
	if err != nil {
		return nil, err
	}
	after = append(after, fn)
	if err := ix.mentionsFromPostTx(tx, p); err != nil {
		return nil, err
	}
	if p.DM != nil {
		if err := tx.Bucket(bDMPosts).Put(key, nil); err != nil {
			return nil, err
		}
		if err := ix.processDMTx(tx, p); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// insertCached puts a newly added post into a loaded cache.
func (st *userState) insertCached(e *entry, capacity int) {
	if !st.loaded {
		return
	}
	i := 0
	for i < len(st.cache) && st.cache[i].k > e.k {
		i++
	}
	if i == len(st.cache) && !st.complete {
		return // older than everything cached: it belongs to the uncached part
	}
	st.cache = append(st.cache, nil)
	copy(st.cache[i+1:], st.cache[i:])
	st.cache[i] = e
	if len(st.cache) > capacity {
		st.cache = st.cache[:capacity]
		st.complete = false
	}
}

// Has tells whether the post (user, k) is held.
func (ix *Index) Has(user string, k int64) bool {
	_, ok := ix.Post(user, k)
	return ok
}

// Post returns the held post (user, k).
func (ix *Index) Post(user string, k int64) (*post.Post, bool) {
	if k < 0 {
		return nil, false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil, false
	}
	if st := ix.users[user]; st != nil && st.loaded {
		for _, e := range st.cache {
			if e.k == k {
				return e.post(), true
			}
		}
	}
	var p *post.Post
	ix.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bPosts).Get(postKey(user, k)); v != nil {
			if e, err := decodeStored(k, v); err == nil {
				p = e.post()
			}
		}
		return nil
	})
	return p, p != nil
}

// Users returns the users of whom at least one post is held, sorted.
func (ix *Index) Users() []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]string, 0, len(ix.users))
	for u := range ix.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// LastHave returns, for each user, the highest post number held (−1 when
// none), as getlasthave reports for the users a local user follows (the
// caller passes that list, or the users given to the RPC).
func (ix *Index) LastHave(users []string) map[string]int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make(map[string]int64, len(users))
	for _, u := range users {
		out[u] = -1
		if st := ix.users[u]; st != nil {
			out[u] = st.lastHave
		}
	}
	return out
}

// NumPieces returns, for each user, the number of posts held (0 when
// none), as getnumpieces reports. twisterd says −1 for a user whose swarm
// it has not started; the caller knows which swarms run and may apply that.
func (ix *Index) NumPieces(users []string) map[string]int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make(map[string]int64, len(users))
	for _, u := range users {
		out[u] = 0
		if st := ix.users[u]; st != nil {
			out[u] = st.num
		}
	}
	return out
}
