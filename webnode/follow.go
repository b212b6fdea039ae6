package webnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/text"
)

// The follow list belongs to an account on the device: each twister user
// logged in on this node has a follow set of its own (KV record
// "follows/<user>"), and when nobody is logged in (read-only browsing, the
// widget) the node uses the device's guest set (KV record "follows").
// The current set says whose swarms the node runs and whose posts make the
// timeline; logging in loads the user's set, logging out the guest set
// (Login, Logout: the swarms only the previous set needed are left).
// A node started with nobody logged in uses the set of the user logged in
// last, unless that user logged out (the KV record "follows-user": set at
// login, cleared at logout), so a returning visitor reads the timeline
// before unlocking the key; follow changes made then are that user's, and
// published at the user's next login like a failed publication.
// Before follow sets were per account there was one set per device, the
// record "follows": at the first login on a device since (recorded in the
// KV record "follows-migrated", which holds that user's name) it becomes
// the set of the user logging in and the guest set starts empty; later
// logins start from an empty set (plus their following list in the DHT).
//
// Each followed user is followed publicly (listed in the logged-in user's
// following<n> DHT items, as twister-html's default follow) or privately
// (kept on the device only, as twister-html's "private" follow). After a
// change to the public set of a logged-in user the node publishes that
// user's following1, following2, … as twisterd's web UI
// (twister_following.js: saveFollowingToDht) and the native node do:
// single items owned and signed by the user, each a list of at most 200
// names, every page of one save with the same seq, a page with fewer than
// 200 names (possibly none) ending the list, at most 50 pages. Pages a
// shorter list no longer uses are overwritten with empty lists, so no
// reader (twister-html reads on until an empty page, without comparing
// seqs) sees a stale page. The guest set is never published.
//
// A user's list may also be saved elsewhere: by twisterd, by another
// browser. As twister-html does when it loads a user, the node reads the
// logged-in user's following list from the DHT at every login (in the
// background: FollowSync, EventFollowSync) and follows publicly every
// user it names that the user's set does not hold (users followed
// privately stay private). It merges a list only when its seq is above
// that of every list this device published or merged for the user, so a
// list the device has seen never brings back a user unfollowed here
// since; and it never re-adds a user unfollowed on this device after the
// last list it saw. Nothing is published for a user before the list in
// the DHT was read: every publication reads following1 first and merges
// a newer list, so a put never replaces names saved elsewhere with a
// shorter list. A read or publication for a user who logged out (or was
// replaced by another) meanwhile changes no set and puts nothing.

const (
	// kvFollows is the guest set's record, and the device's set before
	// sets were per account (migrated at the first login since).
	kvFollows = "follows"
	// kvFollowsMigrated records that the device set was migrated: the
	// user whose set it became.
	kvFollowsMigrated = "follows-migrated"
	// kvFollowsUser is the user whose set a node started with nobody
	// logged in uses: the last logged in, "" after a logout.
	kvFollowsUser = "follows-user"
	// followingPageSize and maxFollowingPages (social.go) are twister-html's
	// _followsPerPage and _maxFollowingPages.
	followingPageSize = 200
)

// followsKey is the KV record of user's follow set; "" is the guest set.
func followsKey(user string) string {
	if user == "" {
		return kvFollows
	}
	return "follows/" + user
}

// followPubKey is where the state of user's published following list is
// kept: the seq last used, how many pages were written and the names
// last published completely.
func followPubKey(user string) string { return "followpub/" + user }

// EventFollowSync is the event sent when the reading of the logged-in
// user's following list from the DHT starts or ends; its Data is a
// FollowSync.
const EventFollowSync = "followSync"

// FollowSync states.
const (
	FollowSyncLoading = "loading" // reading the list from the DHT
	FollowSyncDone    = "done"    // read (and merged if it was newer)
	FollowSyncFailed  = "failed"  // could not be read; retried every sync interval
)

// FollowSync is the state of the merge of the logged-in user's public
// following list from the DHT into the follow list.
type FollowSync struct {
	User  string `json:"user"`
	State string `json:"state"` // FollowSyncLoading, FollowSyncDone or FollowSyncFailed
	// Seq is the seq of the list found in the DHT (0: none); Listed is
	// how many users it names, when it was read in full (it is not when
	// this device published or merged it already: Merged is false).
	Seq    int64 `json:"seq,omitempty"`
	Listed int   `json:"listed,omitempty"`
	Merged bool  `json:"merged,omitempty"`
	// Added are the users followed because the list names them.
	Added []string `json:"added,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Follow is one entry of the follow list.
type Follow struct {
	User   string `json:"user"`
	Public bool   `json:"public"` // listed in the logged-in user's following<n>
}

// FollowResult says what a follow change did.
type FollowResult struct {
	User      string `json:"user"`
	Following bool   `json:"following"` // user is followed now
	Public    bool   `json:"public"`    // publicly (false when not followed)
	// Puts lists the DHT items written ("alice/following1", …): the
	// logged-in user's public following list was published because it
	// changed (or an earlier publication had failed).
	Puts []string `json:"puts,omitempty"`
	// PutErrors lists the puts that failed, with why, or why none was
	// made (the list in the DHT could not be read first). The change is
	// kept on the device either way; the list is published again at the
	// next change, at login and on the node's periodic retry.
	PutErrors []string `json:"putErrors,omitempty"`
	// Unpublished is true when a public follow changed while nobody is
	// logged in: the change is to the device's guest set, which is never
	// published, or (on a node started before the user logged in again)
	// to the last user's set, published at that user's next login if
	// this device published the user's list before.
	Unpublished bool `json:"unpublished,omitempty"`
}

// followRecord is the stored follow list (kvFollows). Older versions
// stored a bare JSON array of names, read as private follows (they were
// never published; the user may make them public).
type followRecord struct {
	Users   []string `json:"users"`
	Private []string `json:"private,omitempty"`
}

// decodeFollows reads a stored follow list: the names (valid user names,
// sorted, each once) and which of them are private.
func decodeFollows(b []byte) (users []string, private map[string]bool, err error) {
	var rec followRecord
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(b, &rec.Users); err != nil {
			return nil, nil, fmt.Errorf("webnode: stored follow list: %w", err)
		}
		rec.Private = rec.Users
	} else if err := json.Unmarshal(b, &rec); err != nil {
		return nil, nil, fmt.Errorf("webnode: stored follow list: %w", err)
	}
	private = map[string]bool{}
	for _, u := range rec.Users {
		if text.ValidUsername(u) == nil {
			users = append(users, u)
		}
	}
	slices.Sort(users)
	users = slices.Compact(users)
	for _, u := range rec.Private {
		if _, ok := slices.BinarySearch(users, u); ok {
			private[u] = true
		}
	}
	return users, private, nil
}

func encodeFollows(users []string, private map[string]bool) []byte {
	rec := followRecord{Users: users}
	if rec.Users == nil {
		rec.Users = []string{}
	}
	for _, u := range users {
		if private[u] {
			rec.Private = append(rec.Private, u)
		}
	}
	b, _ := json.Marshal(rec)
	return b
}

// readFollowsLocked reads the follow set of user ("": the guest set),
// migrating the device's set to user at the first login since sets are
// per account (see the top of this file). n.mu held.
func (n *Node) readFollowsLocked(user string) (follows []string, private map[string]bool, err error) {
	b, ok, err := n.store.GetKV(followsKey(user))
	if err != nil {
		return nil, nil, fmt.Errorf("webnode: reading follows: %w", err)
	}
	if !ok && user != "" {
		if b, ok, err = n.migrateFollowsLocked(user); err != nil {
			return nil, nil, err
		}
	}
	private = map[string]bool{}
	if !ok {
		return nil, private, nil
	}
	if follows, private, err = decodeFollows(b); err != nil {
		n.log.Warn("webnode: stored follow list unreadable", "user", user, "err", err)
		return nil, map[string]bool{}, nil
	}
	return follows, private, nil
}

// migrateFollowsLocked makes the device's set (the record of kvFollows)
// user's, if no user's was made from it yet, and empties the guest set;
// it returns the record moved (ok false: none). n.mu held.
func (n *Node) migrateFollowsLocked(user string) (b []byte, ok bool, err error) {
	if _, done, err := n.store.GetKV(kvFollowsMigrated); err != nil {
		return nil, false, fmt.Errorf("webnode: reading follows: %w", err)
	} else if done {
		return nil, false, nil
	}
	b, ok, err = n.store.GetKV(kvFollows)
	if err != nil {
		return nil, false, fmt.Errorf("webnode: reading follows: %w", err)
	}
	if ok {
		if err := n.store.PutKV(followsKey(user), b); err != nil {
			return nil, false, fmt.Errorf("webnode: saving follows: %w", err)
		}
	}
	if err := n.store.PutKV(kvFollowsMigrated, []byte(user)); err != nil {
		return nil, false, fmt.Errorf("webnode: saving follows: %w", err)
	}
	if ok {
		if err := n.store.PutKV(kvFollows, encodeFollows(nil, nil)); err != nil {
			n.log.Warn("webnode: emptying the guest follow set", "err", err)
		}
		n.log.Info("webnode: the device's follow set is now the user's", "user", user)
	}
	return b, ok, nil
}

// startFollowsUser is whose set a node starting with nobody logged in
// uses: the user logged in last if that user did not log out, else ""
// (the guest set).
func (n *Node) startFollowsUser() string {
	b, ok, err := n.store.GetKV(kvFollowsUser)
	if err != nil || !ok || text.ValidUsername(string(b)) != nil {
		return ""
	}
	return string(b)
}

// setFollowsUser records user as the one whose set a node started with
// nobody logged in uses ("": the guest set).
func (n *Node) setFollowsUser(user string) {
	if err := n.store.PutKV(kvFollowsUser, []byte(user)); err != nil {
		n.log.Warn("webnode: saving the logged-in user", "err", err)
	}
}

// useFollowsLocked makes user's follow set ("": the guest set) the
// current one and returns the previous one. n.mu held.
func (n *Node) useFollowsLocked(user string) (prev []string, err error) {
	follows, private, err := n.readFollowsLocked(user)
	if err != nil {
		return nil, err
	}
	prev = n.follows
	n.follows, n.private, n.followsOf = follows, private, user
	// The unfollows that a merge must not undo were the previous user's.
	n.fs.unfollowed = nil
	return prev, nil
}

// switchSwarms runs the swarms of the current set after a change of user:
// it joins those not running and leaves those of prev (the previous set)
// that neither the current set, the logged-in user, a group chat (groups
// joined for the previous user's groups stay until they are left) nor
// keep need. The swarm of a user who was logged in keeps running, as
// before.
func (n *Node) switchSwarms(prev []string, keep string) {
	gs := n.groups
	gs.mu.Lock()
	groups := maps.Clone(gs.joined)
	gs.mu.Unlock()
	need := n.swarmUsers()
	running := n.sw.Following()
	for _, u := range prev {
		if u == keep || groups[u] || slices.Contains(need, u) {
			continue
		}
		n.sw.Unfollow(u)
		if n.rtc != nil {
			n.rtc.removeRoom(u)
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
			defer cancel()
			if err := n.br.Unserve(ctx, u); err != nil {
				n.log.Debug("webnode: unserve failed", "user", u, "err", err)
			}
		}()
	}
	for _, u := range need {
		if slices.Contains(running, u) {
			continue
		}
		if err := n.joinFollowed(u); err != nil {
			n.log.Warn("webnode: joining the swarm of a followed user", "user", u, "err", err)
		}
	}
}

// followPub is the publication state of one user's following list.
type followPub struct {
	Seq   int64    `json:"seq"`   // seq of the last save (every page)
	Pages int      `json:"pages"` // pages written by that save, empty ones included
	Names []string `json:"names"` // the list last published without a failed put, or merged
	Done  bool     `json:"done"`  // Names is what the DHT holds
	// Merged is the seq of the newest list read from the DHT and merged
	// into the follow list (0: none): a list is merged only if its seq
	// is above both Seq and Merged.
	Merged int64 `json:"merged,omitempty"`
	// checked: the list in the DHT was read since the login (not kept).
	checked bool
}

// seen is the highest seq of a list this device published or merged.
func (p *followPub) seen() int64 { return max(p.Seq, p.Merged) }

// needsPublish says whether the public follows names must be put: they
// are not what the DHT holds as far as the device knows, and the device
// may publish for the user. retryOnly (login, periodic retry) publishes
// only lists this device published (or tried to) before; an empty list
// is published only over one this device published or merged (else it
// would only erase a list saved elsewhere).
func (p *followPub) needsPublish(names []string, retryOnly bool) bool {
	if p.Done && slices.Equal(p.Names, names) {
		return false
	}
	if p.Seq == 0 && (retryOnly || (len(names) == 0 && p.Merged == 0)) {
		return false
	}
	return true
}

// followingPages splits names into following<n> pages as twisterd's web UI
// does: full pages of size, then one with fewer names (possibly none) that
// ends the list, at most maxFollowingPages pages (names beyond those are
// left out). Pages up to prev, the count of the previous save, that the
// new list does not fill are empty, so that they overwrite stale names.
func followingPages(names []string, size, prev int) [][]string {
	var pages [][]string
	for len(pages) < maxFollowingPages {
		lo := len(pages) * size
		hi := min(lo+size, len(names))
		page := []string{}
		if lo < len(names) {
			page = names[lo:hi]
		}
		pages = append(pages, page)
		if len(page) < size {
			break
		}
	}
	for len(pages) < min(prev, maxFollowingPages) {
		pages = append(pages, []string{})
	}
	return pages
}

// followState is the node's follow list with the publication bookkeeping.
type followState struct {
	pubMu    sync.Mutex            // serialises publications and merges
	pub      map[string]*followPub // by user, loaded lazily; under pubMu
	pageSize int                   // followingPageSize; tests make it small
	// Under Node.mu:
	// unfollowed are the users unfollowed on this device since the last
	// read of a following list began (with the count of reads begun
	// when they were): a merge does not follow them again.
	unfollowed map[string]int64
	reads      int64       // reads of a following list begun
	sync       *FollowSync // the logged-in user's merge; nil: none
}

// Following returns the followed users, sorted.
func (n *Node) Following() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.follows)
}

// Follows returns the follow list with each entry's visibility, sorted by
// user.
func (n *Node) Follows() []Follow {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Follow, len(n.follows))
	for i, u := range n.follows {
		out[i] = Follow{User: u, Public: !n.private[u]}
	}
	return out
}

// Follow starts following user publicly: FollowUser(ctx, user, true).
// Publication problems are not errors (FollowUser reports them).
func (n *Node) Follow(ctx context.Context, user string) error {
	_, err := n.FollowUser(ctx, user, true)
	return err
}

// FollowUser follows user publicly or privately, or switches an existing
// follow between the two: the user's key is fetched and verified
// (unregistered names are refused), the follow list is saved, and the
// swarm engine joins the user's swarm to fetch, hold and serve the posts.
// When the public set changed and a user is logged in, that user's
// following<n> items are published before it returns (see FollowResult).
func (n *Node) FollowUser(ctx context.Context, user string, public bool) (*FollowResult, error) {
	if err := text.ValidUsername(user); err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	if _, err := n.chain.history(user); err != nil {
		return nil, fmt.Errorf("webnode: follow %q: %w", user, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	had := slices.Contains(n.follows, user)
	if had && n.private[user] == !public {
		n.mu.Unlock()
		return n.afterFollowChange(ctx, user, false)
	}
	follows := n.follows
	if !had {
		follows = append(slices.Clone(n.follows), user)
		slices.Sort(follows)
	}
	private := maps.Clone(n.private)
	if private == nil {
		private = map[string]bool{}
	}
	if public {
		delete(private, user)
	} else {
		private[user] = true
	}
	if err := n.store.PutKV(followsKey(n.followsOf), encodeFollows(follows, private)); err != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("webnode: saving follows: %w", err)
	}
	n.follows, n.private = follows, private
	delete(n.fs.unfollowed, user)
	n.mu.Unlock()
	if !had {
		if err := n.joinFollowed(user); err != nil {
			return nil, err
		}
	}
	return n.afterFollowChange(ctx, user, had || public)
}

// joinFollowed starts fetching, holding and serving the posts of a user
// newly followed: the held ones are indexed, the swarm engine joins the
// user's swarm and the bridge serves it to native peers.
func (n *Node) joinFollowed(user string) error {
	n.loadPosts(user)
	if err := n.sw.Follow(user); err != nil {
		return err
	}
	n.serve(user)
	if n.rtc != nil {
		n.rtc.addRoom(user)
	}
	return nil
}

// Unfollow stops following user: UnfollowUser without the result.
func (n *Node) Unfollow(ctx context.Context, user string) error {
	_, err := n.UnfollowUser(ctx, user)
	return err
}

// UnfollowUser stops following user and leaves the swarm (unless it is
// the logged-in user's own). Held posts stay in the store. A public
// follow's removal is published (following<n> without the user).
func (n *Node) UnfollowUser(ctx context.Context, user string) (*FollowResult, error) {
	n.mu.Lock()
	i := slices.Index(n.follows, user)
	if i < 0 {
		n.mu.Unlock()
		return n.afterFollowChange(ctx, user, false)
	}
	follows := slices.Delete(slices.Clone(n.follows), i, i+1)
	private := maps.Clone(n.private)
	delete(private, user)
	if err := n.store.PutKV(followsKey(n.followsOf), encodeFollows(follows, private)); err != nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("webnode: saving follows: %w", err)
	}
	wasPublic := !n.private[user]
	n.follows, n.private = follows, private
	if n.fs.unfollowed == nil {
		n.fs.unfollowed = map[string]int64{}
	}
	n.fs.unfollowed[user] = n.fs.reads
	own := n.signer != nil && n.signer.User() == user
	n.mu.Unlock()
	if !own {
		n.sw.Unfollow(user)
		if n.rtc != nil {
			n.rtc.removeRoom(user)
		}
		if err := n.br.Unserve(ctx, user); err != nil {
			n.log.Debug("webnode: unserve failed", "user", user, "err", err)
		}
	}
	return n.afterFollowChange(ctx, user, wasPublic)
}

// afterFollowChange publishes the logged-in user's following list if it
// is not what was last published, and says where user stands.
// publicChanged: the change added or removed a public follow.
func (n *Node) afterFollowChange(ctx context.Context, user string, publicChanged bool) (*FollowResult, error) {
	res := &FollowResult{User: user}
	s := n.currentSigner()
	n.mu.Lock()
	res.Following = slices.Contains(n.follows, user)
	res.Public = res.Following && !n.private[user]
	n.mu.Unlock()
	if s == nil {
		res.Unpublished = publicChanged
		return res, nil
	}
	// Bounded: the change is kept whatever happens, and a failed
	// publication is retried (Login, the sync loop).
	ctx, cancel := context.WithTimeout(ctx, 2*n.cfg.RequestTimeout)
	defer cancel()
	res.Puts, res.PutErrors = n.publishFollowing(ctx, s, false)
	return res, nil
}

// publicFollows returns the users user follows publicly, sorted; ok is
// false when the current set is not user's (user logged out meanwhile).
func (n *Node) publicFollows(user string) (names []string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.followsOf != user || n.signer == nil || n.signer.User() != user {
		return nil, false
	}
	out := []string{}
	for _, u := range n.follows {
		if !n.private[u] {
			out = append(out, u)
		}
	}
	return out, true
}

// errSwitched says why nothing was published or merged for a user.
func errSwitched(user string) error {
	return fmt.Errorf("webnode: %s is no longer logged in", user)
}

// loadFollowPub returns the publication state of user. fs.pubMu held.
func (n *Node) loadFollowPub(user string) *followPub {
	if p := n.fs.pub[user]; p != nil {
		return p
	}
	p := &followPub{}
	if b, ok, err := n.store.GetKV(followPubKey(user)); err == nil && ok {
		if err := json.Unmarshal(b, p); err != nil {
			n.log.Warn("webnode: stored following publication state unreadable", "user", user, "err", err)
			p = &followPub{}
		}
	}
	p.Pages = max(p.Pages, 0)
	n.fs.pub[user] = p
	return p
}

func (n *Node) saveFollowPub(user string, p *followPub) error {
	b, _ := json.Marshal(p)
	if err := n.store.PutKV(followPubKey(user), b); err != nil {
		return fmt.Errorf("webnode: saving the following publication state: %w", err)
	}
	return nil
}

// publishFollowing puts s's following<n> items when the public follow
// list differs from what the DHT holds as far as the device knows (see
// followPub.needsPublish; retryOnly: login and the periodic retry). It
// reads the list in the DHT first (mergeFollowingLocked): a newer list
// saved elsewhere is merged into the follow list, and nothing is put if
// the list cannot be read. It returns the puts made and the failed ones
// (or why nothing could be put).
func (n *Node) publishFollowing(ctx context.Context, s Signer, retryOnly bool) (puts, errs []string) {
	n.fs.pubMu.Lock()
	defer n.fs.pubMu.Unlock()
	user := s.User()
	st := n.loadFollowPub(user)
	names, ok := n.publicFollows(user)
	if !ok {
		return nil, []string{errSwitched(user).Error()}
	}
	if st.checked && !st.needsPublish(names, retryOnly) {
		return nil, nil
	}
	// Whatever the device holds, the list in the DHT is read before
	// anything is put.
	if err := n.mergeFollowingLocked(ctx, s, st, false); err != nil {
		return nil, []string{err.Error()}
	}
	if names, ok = n.publicFollows(user); !ok {
		return nil, []string{errSwitched(user).Error()}
	}
	if !st.needsPublish(names, retryOnly) {
		return nil, nil
	}
	seq := max(st.seen()+1, n.clock.Now().Unix())
	pages := followingPages(names, n.fs.pageSize, st.Pages)
	st.Seq, st.Pages, st.Done = seq, max(st.Pages, len(pages)), false
	if err := n.saveFollowPub(user, st); err != nil {
		return nil, []string{err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*n.cfg.RequestTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, page := range pages {
		res := resource.Following(i + 1)
		puts = append(puts, user+"/"+res)
		l := make([]bencode.Value, len(page))
		for j, name := range page {
			l[j] = bencode.NewString(name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.putItem(ctx, s, put{name: user, res: res, seq: seq}, bencode.NewList(l...)); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s/%s: %v", user, res, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(errs)
	if len(errs) > 0 {
		// Perhaps refused for its seq (a save elsewhere): read the list
		// again before the next attempt.
		st.checked = false
		return puts, errs
	}
	// Every page past the list's end is empty now.
	st.Names, st.Done = names, true
	st.Pages = len(followingPages(names, n.fs.pageSize, 0))
	if err := n.saveFollowPub(user, st); err != nil {
		errs = append(errs, err.Error())
	}
	return puts, errs
}

// mergeFollowingLocked reads s's following list from the DHT and, if its
// seq is above that of every list this device published or merged for
// the user, follows publicly each user it names that is not followed
// here, except those unfollowed here after the last list the device saw
// (followState.unfollowed, and the names of that list no longer
// followed); they join their swarms as any follow. A list whose reading
// fails verification counts as ending there. login says the read is the
// one of a login: its outcome is the FollowSync state (and event); later
// reads change it only when they add users or fail, or after a
// failure. fs.pubMu held.
func (n *Node) mergeFollowingLocked(ctx context.Context, s Signer, st *followPub, login bool) error {
	user := s.User()
	n.mu.Lock()
	n.fs.reads++
	read := n.fs.reads
	n.mu.Unlock()
	// forget drops the unfollows made before this read began: the list
	// read is what the device has seen now. n.mu held.
	forget := func() {
		maps.DeleteFunc(n.fs.unfollowed, func(_ string, r int64) bool { return r < read })
	}
	fl, err := n.readFollowing(ctx, user, st.seen())
	if errors.Is(err, ErrUnverified) {
		n.log.Warn("webnode: own following list partly unreadable", "user", user, "err", err)
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("webnode: reading %s's following list in the DHT: %w", user, err)
		n.setFollowSync(s, &FollowSync{User: user, State: FollowSyncFailed, Error: err.Error()}, login)
		return err
	}
	fs := &FollowSync{User: user, State: FollowSyncDone, Seq: max(fl.seq, 0)}
	if fl.names == nil || fl.seq <= st.seen() {
		// None in the DHT, or one this device published or merged.
		n.mu.Lock()
		forget()
		n.mu.Unlock()
		st.checked = true
		n.setFollowSync(s, fs, login)
		return nil
	}
	fs.Listed, fs.Merged = len(fl.names), true
	n.mu.Lock()
	if n.signer != s || n.followsOf != user {
		// Logged out (or another user in) during the read: the list is
		// not merged into another set, and is read again at the next
		// login.
		n.mu.Unlock()
		return errSwitched(user)
	}
	skip := map[string]bool{}
	for u := range n.fs.unfollowed {
		skip[u] = true
	}
	followed := make(map[string]bool, len(n.follows))
	for _, u := range n.follows {
		followed[u] = true
	}
	for _, u := range st.Names {
		if !followed[u] {
			skip[u] = true
		}
	}
	follows := slices.Clone(n.follows)
	for _, u := range fl.names { // each name once (readFollowing)
		if !skip[u] && !followed[u] {
			fs.Added = append(fs.Added, u)
			follows = append(follows, u)
		}
	}
	slices.Sort(follows)
	slices.Sort(fs.Added)
	if len(fs.Added) > 0 {
		if err := n.store.PutKV(followsKey(user), encodeFollows(follows, n.private)); err != nil {
			n.mu.Unlock()
			err = fmt.Errorf("webnode: saving follows: %w", err)
			n.setFollowSync(s, &FollowSync{User: user, State: FollowSyncFailed, Error: err.Error()}, login)
			return err
		}
		n.follows = follows
	}
	forget()
	n.mu.Unlock()
	for _, u := range fs.Added {
		if err := n.joinFollowed(u); err != nil {
			n.log.Warn("webnode: joining the swarm of a user of the following list", "user", u, "err", err)
		}
	}
	names := slices.Clone(fl.names)
	slices.Sort(names)
	st.Merged, st.Names, st.Done = fl.seq, names, true
	st.Pages = max(st.Pages, fl.pages)
	st.checked = true
	if err := n.saveFollowPub(user, st); err != nil {
		n.log.Warn("webnode: saving the following list state", "user", user, "err", err)
	}
	n.setFollowSync(s, fs, login)
	return nil
}

// setFollowSync makes fs the FollowSync state and sends it as an event,
// if s is still the logged-in user. A read after the login's that
// succeeds without adding anyone keeps a successful state as it is (what
// the login's read found).
func (n *Node) setFollowSync(s Signer, fs *FollowSync, login bool) {
	n.mu.Lock()
	prev := n.fs.sync
	if n.signer != s || (!login && fs.State == FollowSyncDone && len(fs.Added) == 0 && prev != nil && prev.State == FollowSyncDone) {
		n.mu.Unlock()
		return
	}
	n.fs.sync = fs
	n.mu.Unlock()
	n.emit(EventFollowSync, *fs)
}

// FollowSync returns the state of the merge of the logged-in user's
// following list from the DHT, or nil when nobody is logged in.
func (n *Node) FollowSync() *FollowSync {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fs.sync == nil || n.signer == nil {
		return nil
	}
	fs := *n.fs.sync
	fs.Added = slices.Clone(fs.Added)
	return &fs
}

// syncFollowingAtLogin reads s's following list from the DHT and merges
// it (mergeFollowingLocked), then publishes the follow list if this
// device has a publication of the user's to complete. Login runs it in
// the background; FollowSync says how far it is.
func (n *Node) syncFollowingAtLogin(ctx context.Context, s Signer) {
	n.fs.pubMu.Lock()
	st := n.loadFollowPub(s.User())
	st.checked = false
	err := n.mergeFollowingLocked(ctx, s, st, true)
	n.fs.pubMu.Unlock()
	if err != nil {
		n.log.Debug("webnode: following list at login", "user", s.User(), "err", err)
		return // retried by the sync loop
	}
	if _, errs := n.publishFollowing(ctx, s, true); len(errs) > 0 {
		n.log.Debug("webnode: publishing the following list", "user", s.User(), "errors", errs)
	}
}

// retryFollowing reads the logged-in user's following list if that
// failed since the login, and publishes the follow list if an earlier
// publication from this device failed.
func (n *Node) retryFollowing(ctx context.Context) {
	s := n.currentSigner()
	if s == nil {
		return
	}
	if _, errs := n.publishFollowing(ctx, s, true); len(errs) > 0 {
		n.log.Debug("webnode: publishing the following list", "user", s.User(), "errors", errs)
	}
}
