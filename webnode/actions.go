package webnode

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/resource"
	"github.com/gotwister/twister/text"
)

// Login makes s the node's signer after checking that its public key is
// user's current key on the chain (from a freshly verified proof). The
// node joins the user's own swarm (holding and serving the user's posts)
// and learns the next post number from the posts held and the user's
// verified "status" item in the DHT. The user's follow set becomes the
// current one (follow.go: sets are per account): the node joins the swarms
// of the users it holds and leaves those only the previous set needed.
// In the background it reads the user's public following list from the
// DHT and follows the users it names (a list saved by twisterd or another
// device; FollowSync tells the progress); then, if this device published
// the user's following list before and the public follows differ from it
// now (a failed put), it is published again.
func (n *Node) Login(ctx context.Context, s Signer) error {
	user := s.User()
	if err := text.ValidUsername(user); err != nil {
		return fmt.Errorf("webnode: %w", err)
	}
	n.chain.refresh(user, 0)
	pub, err := n.chain.KeyAt(user, -1)
	if err != nil {
		return fmt.Errorf("webnode: login %q: %w", user, err)
	}
	if !pub.Equal(s.PubKey()) {
		return fmt.Errorf("%w: %q", ErrWrongKey, user)
	}
	n.loadPosts(user)
	n.mu.Lock()
	var prevUser string
	if n.signer != nil {
		prevUser = n.signer.User()
	}
	prev, err := n.useFollowsLocked(user)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	n.signer = s
	n.setFollowsUser(user)
	n.fs.sync = &FollowSync{User: user, State: FollowSyncLoading}
	n.nextK, n.lastPublicK = 0, -1
	n.dms, n.notForMe = map[string]*DMView{}, map[string]bool{}
	for _, p := range n.posts[user] {
		n.noteOwn(p)
	}
	n.mu.Unlock()
	if st, err := n.status(ctx, user); err == nil && st != nil {
		n.mu.Lock()
		n.noteOwn(st)
		n.mu.Unlock()
	} else if err != nil {
		n.log.Debug("webnode: status lookup at login", "user", user, "err", err)
	}
	if err := n.sw.Follow(user); err != nil {
		return err
	}
	n.serve(user)
	if n.rtc != nil {
		n.rtc.addRoom(user)
	}
	n.switchSwarms(prev, prevUser)
	n.groupsLogin() // load the user's group chats, join their members' swarms (groups.go)
	// The user's following list in the DHT is merged into the follow
	// list; then a list this device failed to publish for the user (or
	// changed while logged out since) is put (follow.go).
	n.emit(EventFollowSync, FollowSync{User: user, State: FollowSyncLoading})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.syncFollowingAtLogin(n.ctx, s)
	}()
	return nil
}

// LoginSecret is Login with a KeySigner for a WIF secret key held in
// memory.
func (n *Node) LoginSecret(ctx context.Context, user, secret string) error {
	s, err := NewKeySigner(user, secret)
	if err != nil {
		return err
	}
	return n.Login(ctx, s)
}

// Logout forgets the signer (its own swarm keeps running until the node
// closes, unless unfollowed) and makes the device's guest follow set the
// current one, also for the next start: the swarms only the user's set
// needed are left.
func (n *Node) Logout() {
	n.mu.Lock()
	var prevUser string
	if n.signer != nil {
		prevUser = n.signer.User()
	}
	prev, err := n.useFollowsLocked("")
	if err != nil {
		n.log.Warn("webnode: guest follow set unreadable", "err", err)
		prev = n.follows
		n.follows, n.private, n.followsOf, n.fs.unfollowed = nil, map[string]bool{}, "", nil
	}
	n.signer = nil
	n.setFollowsUser("")
	n.fs.sync = nil
	n.dms, n.notForMe = map[string]*DMView{}, map[string]bool{}
	n.mu.Unlock()
	n.groups.reset() // wipes the group keys from memory (groups.go)
	if n.isStarted() {
		n.switchSwarms(prev, prevUser)
	}
}

// User returns the logged-in user, or "".
func (n *Node) User() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.signer == nil {
		return ""
	}
	return n.signer.User()
}

// status returns user's latest public post from the verified "status"
// DHT item, or nil if there is none.
func (n *Node) status(ctx context.Context, user string) (*post.Post, error) {
	items, err := n.getItems(ctx, user, resource.Status, false)
	if err != nil {
		return nil, err
	}
	var best *post.Post
	for _, it := range items {
		p, err := n.postInItem(it)
		if err == nil && p.User == user && (best == nil || p.K > best.K) {
			best = p
		}
	}
	return best, nil
}

// getItems fetches (name, res) from the DHT and keeps the items that pass
// VerifyItem; a single resource yields at most the item of highest seq.
func (n *Node) getItems(ctx context.Context, name, res string, multi bool) ([]*Item, error) {
	raw, err := n.br.GetData(ctx, name, res, multi, client.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("webnode: getData %s/%s: %w", name, res, err)
	}
	now := n.clock.Now()
	var out []*Item
	var firstErr error
	for _, r := range raw {
		it, err := VerifyItem(n.chain, r, name, res, multi, now)
		if err != nil {
			n.log.Debug("webnode: dropping DHT item", "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out = append(out, it)
	}
	if !multi && len(out) > 1 {
		best := slices.MaxFunc(out, func(a, b *Item) int { return cmp.Compare(a.Seq, b.Seq) })
		out = []*Item{best}
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// postInItem validates the post carried as the value of a DHT item.
func (n *Node) postInItem(it *Item) (*post.Post, error) {
	if it.V.Kind != bencode.Dict {
		return nil, fmt.Errorf("%w: DHT item value is not a post", ErrUnverified)
	}
	data := it.V.Bytes()
	d, err := post.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnverified, err)
	}
	return n.validate(d.User, d.K, data)
}

// signer returns the logged-in signer and reserves the next post number.
func (n *Node) reserve() (Signer, int64, *int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.signer == nil {
		return nil, 0, nil, ErrNotLoggedIn
	}
	k := n.nextK
	n.nextK++
	var lastk *int64
	if n.lastPublicK >= 0 {
		l := n.lastPublicK
		lastk = &l
	}
	return n.signer, k, lastk, nil
}

// postHeight is the height written into new posts and DHT items: the
// verified tip − 1, as twisterd writes it.
func (n *Node) postHeight() int64 { return max(n.chain.Height()-1, 0) }

// signDraft signs d with s as post.Draft.Sign does with a key.
func signDraft(s Signer, d post.Draft) ([]byte, error) {
	up, err := d.Userpost()
	if err != nil {
		return nil, err
	}
	out := bencode.NewDict()
	if d.RT != nil && d.Text != "" {
		w := up
		w.Delete("rt")
		w.Delete("sig_rt")
		out.Set("sig_wort", bencode.NewBytes(s.Sign(bencode.Encode(w))))
	}
	out.Set("sig_userpost", bencode.NewBytes(s.Sign(bencode.Encode(up))))
	out.Set("userpost", up)
	b := bencode.Encode(out)
	if _, err := post.Decode(b); err != nil {
		return nil, err
	}
	return b, nil
}

// PublishResult is a new post and what became of its DHT puts.
type PublishResult struct {
	Post *PostView `json:"post"`
	// Puts lists the DHT resources written ("alice/post7", "bob/mention"…).
	Puts []string `json:"puts"`
	// PutErrors lists the puts that failed, with why (the post itself is
	// in the swarm regardless).
	PutErrors []string `json:"putErrors,omitempty"`
}

type put struct {
	name, res string
	multi     bool
	seq       int64
}

// publish adds a signed post of the signer to its swarm (validated like
// any other post, then announced to peers) and writes the DHT resources.
func (n *Node) publish(ctx context.Context, s Signer, data []byte, puts []put) (*PublishResult, error) {
	user := s.User()
	p, err := n.validate(user, mustK(data), data)
	if err != nil {
		return nil, fmt.Errorf("webnode: own post failed validation: %w", err)
	}
	if err := n.sw.AddPost(user, p.K, data); err != nil {
		return nil, err
	}
	n.index(p) // also done by onPost; needed when AddPost found it held
	res := &PublishResult{Post: viewOf(p)}
	v := bencode.Value{Kind: bencode.Dict}
	if dv, err := bencode.Decode(data); err == nil {
		v = dv
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pt := range puts {
		res.Puts = append(res.Puts, pt.name+"/"+pt.res)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.putItem(ctx, s, pt, v); err != nil {
				mu.Lock()
				res.PutErrors = append(res.PutErrors, fmt.Sprintf("%s/%s: %v", pt.name, pt.res, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(res.PutErrors)
	return res, nil
}

func mustK(data []byte) int64 {
	if p, err := post.Decode(data); err == nil {
		return p.K
	}
	return -1
}

// putItem signs p for pt with s and has the bridge put it.
func (n *Node) putItem(ctx context.Context, s Signer, pt put, v bencode.Value) error {
	p := buildItem(pt.name, pt.res, pt.multi, v, pt.seq, n.postHeight(), n.clock.Now().Unix())
	if pt.multi && len(p) > maxMultiItem {
		return fmt.Errorf("item of %d bytes is over the %d-byte multi limit", len(p), maxMultiItem)
	}
	if !pt.multi && len(p) > maxSingleItem {
		return fmt.Errorf("item of %d bytes is over the %d-byte limit", len(p), maxSingleItem)
	}
	_, err := n.br.PutData(ctx, p, s.Sign(p), s.User())
	return err
}

// publicPuts are the DHT writes of a public post k (twisterd's newpostmsg
// and newrtmsg): post<k> and status under the author, plus a mention for
// every @user and a hashtag for every #tag of its text.
func publicPuts(user string, k int64, txt string) []put {
	ps := []put{{name: user, res: resource.Post(k), seq: 1}, {name: user, res: resource.Status, seq: k}}
	for _, m := range text.Mentions(txt) {
		ps = append(ps, put{name: m, res: resource.Mention, multi: true})
	}
	for _, h := range text.Hashtags(txt) {
		ps = append(ps, put{name: h, res: resource.Hashtag, multi: true})
	}
	return ps
}

func (n *Node) notePublic(k int64) {
	n.mu.Lock()
	n.lastPublicK = max(n.lastPublicK, k)
	n.mu.Unlock()
}

// Post publishes a new post with txt (split into msg/msg2 past 140 code
// points).
func (n *Node) Post(ctx context.Context, txt string) (*PublishResult, error) {
	return n.post(ctx, txt, nil)
}

// Reply publishes a reply to post k of user; it is also put under
// (user, "replies<k>") in the DHT.
func (n *Node) Reply(ctx context.Context, user string, k int64, txt string) (*PublishResult, error) {
	if err := text.ValidUsername(user); err != nil || k < 0 {
		return nil, fmt.Errorf("webnode: reply to %q/%d: bad post reference", user, k)
	}
	return n.post(ctx, txt, &post.Ref{User: user, K: k})
}

func (n *Node) post(ctx context.Context, txt string, reply *post.Ref) (*PublishResult, error) {
	s, k, lastk, err := n.reserve()
	if err != nil {
		return nil, err
	}
	d := post.Draft{User: s.User(), K: k, Time: n.clock.Now().Unix(), Height: n.postHeight(), Text: txt, LastK: lastk, Reply: reply}
	data, err := signDraft(s, d)
	if err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	puts := publicPuts(s.User(), k, txt)
	if reply != nil {
		puts = append(puts, put{name: reply.User, res: resource.Replies(reply.K), multi: true})
	}
	n.notePublic(k)
	return n.publish(ctx, s, data, puts)
}

// GetPost returns post k of user, verified: from the posts held, or from
// the user's "post<k>" item in the DHT.
func (n *Node) GetPost(ctx context.Context, user string, k int64) (*PostView, error) {
	p, err := n.getPost(ctx, user, k)
	if err != nil {
		return nil, err
	}
	return viewOf(p), nil
}

func (n *Node) getPost(ctx context.Context, user string, k int64) (*post.Post, error) {
	n.mu.Lock()
	p := n.posts[user][k]
	n.mu.Unlock()
	if p != nil {
		return p, nil
	}
	items, err := n.getItems(ctx, user, resource.Post(k), false)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		p, err := n.postInItem(it)
		if err != nil {
			return nil, err
		}
		if p.User != user || p.K != k {
			return nil, fmt.Errorf("%w: post%d of %q holds post %d of %q", ErrUnverified, k, user, p.K, p.User)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: post %s", ErrNotFound, PostID(user, k))
}

// Retwist publishes a retwist of post k of user, with an optional comment
// (signed again without the retwist as sig_wort). DHT: post<k>, status,
// (user, "rts<k>") and the comment's mentions and hashtags.
func (n *Node) Retwist(ctx context.Context, user string, k int64, comment string) (*PublishResult, error) {
	orig, err := n.getPost(ctx, user, k)
	if err != nil {
		return nil, err
	}
	if orig.IsPrivate() {
		return nil, fmt.Errorf("webnode: post %s is private", PostID(user, k))
	}
	s, myK, lastk, err := n.reserve()
	if err != nil {
		return nil, err
	}
	o := orig.Original()
	d := post.Draft{User: s.User(), K: myK, Time: n.clock.Now().Unix(), Height: n.postHeight(), Text: comment, LastK: lastk, RT: &o}
	data, err := signDraft(s, d)
	if err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	puts := append(publicPuts(s.User(), myK, comment), put{name: user, res: resource.Rts(k), multi: true})
	n.notePublic(myK)
	return n.publish(ctx, s, data, puts)
}

// FavoriteOptions tune Favorite.
type FavoriteOptions struct {
	Private bool   `json:"private"` // seal the favourite to one's own key
	Comment string `json:"comment"`
}

// Favorite publishes a favourite of post k of user: public (an embedded
// copy others can see) or private (sealed to the user's own key).
// Favourites go to the swarm only (no post<k> or status, as twisterd);
// a public favourite's comment is put under its mentions and hashtags.
func (n *Node) Favorite(ctx context.Context, user string, k int64, o FavoriteOptions) (*PublishResult, error) {
	orig, err := n.getPost(ctx, user, k)
	if err != nil {
		return nil, err
	}
	s, myK, _, err := n.reserve()
	if err != nil {
		return nil, err
	}
	og := orig.Original()
	d := post.Draft{User: s.User(), K: myK, Time: n.clock.Now().Unix(), Height: n.postHeight(), Text: o.Comment, Fav: &og}
	if o.Private {
		pt := dm.PrivateFav{Comment: o.Comment, SigUserpost: og.Sig, Userpost: og.Userpost}.Encode()
		sealed, err := dm.Encrypt(s.PubKey(), pt)
		if err != nil {
			return nil, err
		}
		d.Text, d.Fav, d.PFav = "", nil, &sealed
	}
	data, err := signDraft(s, d)
	if err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	var puts []put
	if !o.Private {
		// twisterd dispatches the mentions and hashtags of a public
		// favourite's comment.
		puts = publicPuts(s.User(), myK, o.Comment)[2:]
	}
	return n.publish(ctx, s, data, puts)
}

// DM sends a direct message to user, sealed to the user's verified current
// key, plus a copy sealed to the sender's own key (next post number) so
// the conversation can be read back. Both go to the sender's swarm only.
func (n *Node) DM(ctx context.Context, to, txt string) (*DMView, error) {
	if err := text.ValidUsername(to); err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	if txt == "" {
		return nil, errors.New("webnode: empty message")
	}
	toKey, err := n.chain.KeyAt(to, -1)
	if err != nil {
		return nil, fmt.Errorf("webnode: key of %q: %w", to, err)
	}
	s, k, _, err := n.reserve()
	if err != nil {
		return nil, err
	}
	now := n.clock.Now().Unix()
	msg := dm.Message{Msg: txt, To: to}.Encode()
	var view *DMView
	for i, pub := range []keys.PubKey{toKey, s.PubKey()} {
		kk := k
		if i == 1 {
			if _, kk, _, err = n.reserve(); err != nil {
				return nil, err
			}
		}
		sealed, err := dm.Encrypt(pub, msg)
		if err != nil {
			return nil, err
		}
		data, err := signDraft(s, post.Draft{User: s.User(), K: kk, Time: now, Height: n.postHeight(), DM: &sealed})
		if err != nil {
			return nil, fmt.Errorf("webnode: %w", err)
		}
		if _, err := n.publish(ctx, s, data, nil); err != nil {
			return nil, err
		}
		if i == 0 {
			view = &DMView{ID: PostID(s.User(), kk), From: s.User(), To: to, Time: now, Text: txt, Mine: true}
		}
	}
	return view, nil
}

// openDM decrypts a DM post held by the node with the signer's key: a
// message from another user addressed to the signer, or the signer's own
// copy. nil if it is not for the signer (or nobody is logged in).
func (n *Node) openDM(p *post.Post) *DMView {
	id := PostID(p.User, p.K)
	n.mu.Lock()
	s := n.signer
	if v, ok := n.dms[id]; ok || s == nil || n.notForMe[id] {
		n.mu.Unlock()
		return v
	}
	n.mu.Unlock()
	b, err := s.Decrypt(*p.DM)
	var pt dm.Plaintext
	if err == nil {
		pt, err = dm.ParsePlaintext(b)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.signer != s {
		return nil
	}
	if err != nil || (pt.Kind != dm.KindText && pt.Kind != dm.KindMessage) {
		// Not sealed to our key, or a group invite/member list (group
		// chats are not supported yet).
		n.notForMe[id] = true
		return nil
	}
	v := &DMView{ID: id, From: p.User, To: pt.To, Time: p.Time, Text: pt.Text, Mine: p.User == s.User()}
	if v.To == "" && !v.Mine {
		v.To = s.User() // old plain-text format: no "to"
	}
	n.dms[id] = v
	return v
}

// DMs returns the conversation between the logged-in user and user,
// oldest first: messages from user's swarm that open with the signer's key
// and the signer's own copies addressed to user.
func (n *Node) DMs(user string) ([]*DMView, error) {
	n.mu.Lock()
	s := n.signer
	if s == nil {
		n.mu.Unlock()
		return nil, ErrNotLoggedIn
	}
	var cand []*post.Post
	for _, u := range []string{user, s.User()} {
		for _, p := range n.posts[u] {
			if p.DM != nil {
				cand = append(cand, p)
			}
		}
	}
	n.mu.Unlock()
	var out []*DMView
	for _, p := range cand {
		v := n.openDM(p)
		if v == nil {
			continue
		}
		if (v.From == user && !v.Mine) || (v.Mine && v.To == user) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *DMView) int {
		if c := cmp.Compare(a.Time, b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Profile is a user's profile from the DHT, verified.
type Profile struct {
	User      string            `json:"user"`
	Fields    map[string]string `json:"fields"` // fullname, bio, location, url, tox, bitmessage…
	Avatar    string            `json:"avatar,omitempty"`
	Seq       int64             `json:"seq"`       // of the profile item; −1 if none
	AvatarSeq int64             `json:"avatarSeq"` // −1 if none
	// Cached is true when the DHT could not be asked and this is the copy
	// verified earlier.
	Cached bool `json:"cached,omitempty"`
}

func profileKey(user string) string { return "profile/" + user }

// Profile fetches user's "profile" and "avatar" single items, verified
// (owner's signature, target, highest seq), and caches them.
func (n *Node) Profile(ctx context.Context, user string) (*Profile, error) {
	if err := text.ValidUsername(user); err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	pr := &Profile{User: user, Fields: map[string]string{}, Seq: -1, AvatarSeq: -1}
	var errs []error
	items, err := n.getItems(ctx, user, resource.Profile, false)
	if err != nil {
		errs = append(errs, err)
	}
	for _, it := range items {
		pr.Seq = it.Seq
		if it.V.Kind == bencode.Dict {
			for _, kv := range it.V.Dict {
				if kv.Value.Kind == bencode.String {
					pr.Fields[kv.Key] = string(kv.Value.Str)
				}
			}
		}
	}
	items, err = n.getItems(ctx, user, resource.Avatar, false)
	if err != nil {
		errs = append(errs, err)
	}
	for _, it := range items {
		pr.AvatarSeq = it.Seq
		if it.V.Kind == bencode.String {
			pr.Avatar = string(it.V.Str)
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			if errors.Is(e, ErrUnverified) {
				return nil, e
			}
		}
		if b, ok, _ := n.store.GetKV(profileKey(user)); ok {
			var c Profile
			if json.Unmarshal(b, &c) == nil {
				c.Cached = true
				return &c, nil
			}
		}
		return nil, errors.Join(errs...)
	}
	if b, err := json.Marshal(pr); err == nil {
		n.store.PutKV(profileKey(user), b)
	}
	return pr, nil
}

// ProfileUpdate is what SetProfile writes; nil leaves that item alone.
type ProfileUpdate struct {
	Fields map[string]string `json:"fields"` // empty values are left out, as the web UI does
	Avatar *string           `json:"avatar"` // a data: URI
}

// SetProfile signs and puts the logged-in user's profile and/or avatar
// item with the next sequence number after the highest seen.
func (n *Node) SetProfile(ctx context.Context, u ProfileUpdate) (*Profile, error) {
	n.mu.Lock()
	s := n.signer
	n.mu.Unlock()
	if s == nil {
		return nil, ErrNotLoggedIn
	}
	cur, err := n.Profile(ctx, s.User())
	if err != nil || cur.Cached {
		return nil, fmt.Errorf("webnode: reading the current profile first: %v", err)
	}
	if u.Fields != nil {
		d := bencode.NewDict()
		for k, v := range u.Fields {
			if v != "" {
				d.Set(k, bencode.NewString(v))
			}
		}
		if err := n.putItem(ctx, s, put{name: s.User(), res: resource.Profile, seq: cur.Seq + 1}, d); err != nil {
			return nil, fmt.Errorf("webnode: putting profile: %w", err)
		}
		cur.Seq++
		cur.Fields = map[string]string{}
		for _, kv := range d.Dict {
			cur.Fields[kv.Key] = string(kv.Value.Str)
		}
	}
	if u.Avatar != nil {
		if err := n.putItem(ctx, s, put{name: s.User(), res: resource.Avatar, seq: cur.AvatarSeq + 1}, bencode.NewString(*u.Avatar)); err != nil {
			return nil, fmt.Errorf("webnode: putting avatar: %w", err)
		}
		cur.AvatarSeq++
		cur.Avatar = *u.Avatar
	}
	if b, err := json.Marshal(cur); err == nil {
		n.store.PutKV(profileKey(s.User()), b)
	}
	return cur, nil
}

// postsFromMulti reads a multi resource of posts and keeps those that
// verify (item signature by the post's author, post validation) and pass
// keep; newest first, each post once.
func (n *Node) postsFromMulti(ctx context.Context, name, res string, keep func(*post.Post) bool) ([]*PostView, error) {
	items, err := n.getItems(ctx, name, res, true)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ps []*post.Post
	for _, it := range items {
		p, err := n.postInItem(it)
		if err != nil {
			n.log.Debug("webnode: dropping post from DHT", "resource", name+"/"+res, "err", err)
			continue
		}
		id := PostID(p.User, p.K)
		if p.User != it.Signer || seen[id] || !keep(p) {
			continue
		}
		seen[id] = true
		ps = append(ps, p)
	}
	slices.SortFunc(ps, newer)
	out := make([]*PostView, len(ps))
	for i, p := range ps {
		out[i] = viewOf(p)
	}
	return out, nil
}

// Mentions returns verified posts mentioning user (the logged-in user if
// empty) from the DHT's "mention" list.
func (n *Node) Mentions(ctx context.Context, user string) ([]*PostView, error) {
	if user == "" {
		if user = n.User(); user == "" {
			return nil, ErrNotLoggedIn
		}
	}
	user = text.Lower(user)
	return n.postsFromMulti(ctx, user, resource.Mention, func(p *post.Post) bool { return slices.Contains(p.Mentions(), user) })
}

// Hashtag returns verified posts with #tag from the DHT's "hashtag" list.
func (n *Node) Hashtag(ctx context.Context, tag string) ([]*PostView, error) {
	tag = text.Lower(trimHash(tag))
	if tag == "" {
		return nil, errors.New("webnode: empty hashtag")
	}
	return n.postsFromMulti(ctx, tag, resource.Hashtag, func(p *post.Post) bool { return slices.Contains(p.Hashtags(), tag) })
}

func trimHash(s string) string {
	if len(s) > 0 && s[0] == '#' {
		return s[1:]
	}
	return s
}

// Replies returns verified replies to post k of user from the DHT's
// "replies<k>" list.
func (n *Node) Replies(ctx context.Context, user string, k int64) ([]*PostView, error) {
	return n.postsFromMulti(ctx, user, resource.Replies(k), func(p *post.Post) bool {
		return p.Reply != nil && p.Reply.User == user && p.Reply.K == k
	})
}

// isStarted says whether the node runs: started and not closed.
func (n *Node) isStarted() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.started && !n.closed
}
