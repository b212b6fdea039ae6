package webnode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/text"
)

// maxFollowingPages is how many following<n> pages UserFollowing reads, as
// twisterd's web UI (twister_following.js).
const maxFollowingPages = 50

// UserFollowing returns user's public following list from the DHT single
// items following1, following2, … (each a list of names, signed by user;
// verified as every DHT item: owner's signature with the current key,
// target). It stops at the first page that is missing or empty, or whose
// seq is below the first page's (a page left over from an older, longer
// list: twisterd writes every page of one save with the same seq), and
// after 50 pages. Entries that are not valid user names are left out;
// each name appears once.
func (n *Node) UserFollowing(ctx context.Context, user string) ([]string, error) {
	fl, err := n.readFollowing(ctx, user, -1)
	if err != nil {
		return nil, err
	}
	return fl.names, nil
}

// followingList is a user's following list as read from the DHT.
type followingList struct {
	names []string // valid user names, each once, in the list's order
	seq   int64    // following1's seq; −1 when there is no following1
	pages int      // pages read that held names
}

// readFollowing reads user's following list as UserFollowing describes.
// When following1's seq is not above after, it stops there (names nil,
// seq set): the list is one the caller has seen. Each page is fetched
// within the node's RequestTimeout. On an error the names read before
// it are returned with it; a page that fails verification or is not a
// list gives an error wrapping ErrUnverified.
func (n *Node) readFollowing(ctx context.Context, user string, after int64) (followingList, error) {
	fl := followingList{seq: -1}
	if err := text.ValidUsername(user); err != nil {
		return fl, fmt.Errorf("webnode: %w", err)
	}
	fl.names = []string{}
	seen := map[string]bool{}
	for page := 1; page <= maxFollowingPages; page++ {
		pctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
		items, err := n.getItems(pctx, user, resource.Following(page), false)
		cancel()
		if err != nil {
			return fl, err
		}
		if len(items) == 0 {
			break
		}
		it := items[0]
		if page == 1 {
			fl.seq = it.Seq
			if it.Seq <= after {
				fl.names = nil
				return fl, nil
			}
		} else if it.Seq < fl.seq {
			break
		}
		if it.V.Kind != bencode.List {
			return fl, fmt.Errorf("%w: %s's following%d is a %s, not a list of names", ErrUnverified, user, page, it.V.Kind)
		}
		if len(it.V.List) == 0 {
			break
		}
		fl.pages = page
		for _, e := range it.V.List {
			if e.Kind != bencode.String {
				continue
			}
			name := string(e.Str)
			if text.ValidUsername(name) != nil || seen[name] {
				continue
			}
			seen[name] = true
			fl.names = append(fl.names, name)
		}
	}
	return fl, nil
}

// UserPostsOptions select a page of UserPosts.
type UserPostsOptions struct {
	User  string `json:"user"`
	Count int    `json:"count"` // posts to return; default 20, at most 100
	// MaxID, "user/k", starts below that post: the walk begins at its
	// lastk.
	MaxID string `json:"maxId"`
}

// maxUserPosts bounds one UserPosts call (each post may be a DHT lookup).
const maxUserPosts = 100

// UserPosts returns recent public posts of a user one need not follow,
// newest first, as twisterd's web UI shows a profile: the user's "status"
// item (the latest post) and then, post by post, the one its lastk names
// (held, or the user's "post<k>" DHT item). Every post passes
// post.Validate and must be the user's post with the number asked for.
// The walk stops after Count posts, at a post without lastk, or when a
// post is not found (expired from the DHT). A post that fails
// verification makes it fail with ErrUnverified.
func (n *Node) UserPosts(ctx context.Context, o UserPostsOptions) ([]*PostView, error) {
	user := o.User
	if err := text.ValidUsername(user); err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	if o.Count <= 0 {
		o.Count = 20
	}
	o.Count = min(o.Count, maxUserPosts)
	var next *int64
	if o.MaxID != "" {
		u, k, err := ParsePostID(o.MaxID)
		if err != nil {
			return nil, err
		}
		if u != user {
			return nil, fmt.Errorf("webnode: maxId %s is not a post of %q", o.MaxID, user)
		}
		p, err := n.getPost(ctx, user, k)
		if err != nil {
			return nil, err
		}
		next = p.LastK
	} else {
		st, err := n.status(ctx, user)
		if err != nil {
			return nil, err
		}
		if st == nil {
			return []*PostView{}, nil
		}
		if st.User != user {
			return nil, fmt.Errorf("%w: %s's status holds a post of %q", ErrUnverified, user, st.User)
		}
		out := []*PostView{viewOf(st)}
		if len(out) >= o.Count {
			return out, nil
		}
		rest, err := n.walkPosts(ctx, user, st, o.Count-1)
		return append(out, rest...), err
	}
	if next == nil {
		return []*PostView{}, nil
	}
	p, err := n.getPost(ctx, user, *next)
	if errors.Is(err, ErrNotFound) {
		return []*PostView{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []*PostView{viewOf(p)}
	if o.Count == 1 {
		return out, nil
	}
	rest, err := n.walkPosts(ctx, user, p, o.Count-1)
	return append(out, rest...), err
}

// walkPosts follows lastk from p for up to count posts.
func (n *Node) walkPosts(ctx context.Context, user string, p *post.Post, count int) ([]*PostView, error) {
	out := []*PostView{}
	for len(out) < count && p.LastK != nil {
		k := *p.LastK
		if k < 0 || k >= p.K {
			break // lastk must point back: a signed but broken chain ends here
		}
		prev, err := n.getPost(ctx, user, k)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, viewOf(prev))
		p = prev
	}
	return out, nil
}

// Conversation is a DM partner with the latest message.
type Conversation struct {
	User string  `json:"user"`
	Last *DMView `json:"last"`
}

// Conversations returns every DM partner of the logged-in user found in
// the held DMs (messages from followed users' swarms that open with the
// user's key, and the user's own copies), newest conversation first.
func (n *Node) Conversations() ([]Conversation, error) {
	n.mu.Lock()
	s := n.signer
	var cand []*post.Post
	for _, m := range n.posts {
		for _, p := range m {
			if p.DM != nil {
				cand = append(cand, p)
			}
		}
	}
	n.mu.Unlock()
	if s == nil {
		return nil, ErrNotLoggedIn
	}
	last := map[string]*DMView{}
	for _, p := range cand {
		v := n.openDM(p)
		if v == nil {
			continue
		}
		partner := v.From
		if v.Mine {
			partner = v.To
		}
		if partner == s.User() || text.ValidUsername(partner) != nil {
			continue
		}
		if cur := last[partner]; cur == nil || v.Time > cur.Time || (v.Time == cur.Time && v.ID > cur.ID) {
			last[partner] = v
		}
	}
	out := make([]Conversation, 0, len(last))
	for u, v := range last {
		out = append(out, Conversation{User: u, Last: v})
	}
	slices.SortFunc(out, func(a, b Conversation) int {
		return cmp.Or(cmp.Compare(b.Last.Time, a.Last.Time), cmp.Compare(a.User, b.User))
	})
	return out, nil
}
