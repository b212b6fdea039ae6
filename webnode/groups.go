package webnode

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/text"
)

// Group chats, as twisterd does them (doc/groups_draft.txt; protocol
// §2.8): a group is a key pair that is not registered on the chain; its
// local alias is "*" and 8 random lowercase letters and never goes on the
// wire. An invitation is a DM to the new member with the plaintext
// {group_invite: {desc, key: WIF secret}}; the member list is a DM to the
// group's public key with {group_members: [...]}; a description change is
// a group_invite sent to the group's key; group messages are DMs sealed to
// the group's key. Every member decrypts them with the group key.
//
// Here the logged-in user's groups live in the node's Store under
// "groups/<user>" (JSON), each group key sealed to the user's own public
// key (dm.Encrypt) so that only the Signer (the key store's session) can
// open it: nothing of a group key is stored in clear. Received invitations
// (DMs in the swarms the node runs that open with the user's key) register
// groups; messages and member lists are read from the members' swarms,
// which the node joins (without adding them to the follow list).

// EventGroupMessage is the event of a group message arriving from a
// swarm; its data is a GroupMessageEvent.
const EventGroupMessage = "groupMessage"

// GroupMessageEvent is the data of EventGroupMessage.
type GroupMessageEvent struct {
	Alias   string  `json:"alias"`
	Message *DMView `json:"message"`
}

// GroupView is a group chat as the page sees it.
type GroupView struct {
	Alias       string   `json:"alias"` // local name, "*" + 8 lowercase letters
	Description string   `json:"description"`
	Members     []string `json:"members"` // sorted
}

// Limits of group chats.
const (
	maxGroupDesc      = 512  // bytes of a description
	maxGroupMembers   = 1000 // members remembered per group
	groupMembersChunk = 150  // bytes of member names per group_members DM, as twisterd splits them
)

func groupsKey(user string) string { return "groups/" + user }

// groupRecord is a group as stored.
type groupRecord struct {
	Alias       string   `json:"alias"`
	Description string   `json:"description"`
	DescTime    int64    `json:"descTime"` // time of the post that set the description
	Members     []string `json:"members"`
	PubKey      string   `json:"pubKey"` // the group's public key, hex
	// SealedKey is the group's WIF secret sealed to the user's own key
	// (bencoded dm.Sealed); nil once the group is left.
	SealedKey []byte `json:"sealedKey,omitempty"`
	Left      bool   `json:"left,omitempty"`
	Created   int64  `json:"created"`
}

func (r *groupRecord) view() GroupView {
	m := slices.Clone(r.Members)
	slices.Sort(m)
	if m == nil {
		m = []string{}
	}
	return GroupView{Alias: r.Alias, Description: r.Description, Members: m}
}

// addMembers adds valid names to r.Members; it reports the ones added.
func (r *groupRecord) addMembers(names []string) []string {
	var added []string
	for _, m := range names {
		if text.ValidUsername(m) != nil || slices.Contains(r.Members, m) || len(r.Members) >= maxGroupMembers {
			continue
		}
		r.Members = append(r.Members, m)
		added = append(added, m)
	}
	return added
}

// groupState is the logged-in user's groups: records, the group keys
// opened with the Signer (memory only), and the messages read from held
// DM posts. Lock order: groupState.mu before Node.mu, never the reverse;
// swarm and publish calls are made without groupState.mu.
type groupState struct {
	mu     sync.Mutex
	signer Signer // whose groups are loaded; nil: none
	recs   map[string]*groupRecord
	keys   map[string]*keys.PrivateKey
	tried  map[string]map[string]bool // DM post id → aliases tried on it ("" = the signer's own key)
	opened map[string]bool            // DM post ids already understood
	msgs   map[string]map[string]*DMView
	joined map[string]bool // users whose swarms the node joined for groups
}

func newGroupState() *groupState {
	gs := &groupState{joined: map[string]bool{}}
	gs.clear()
	return gs
}

func (gs *groupState) clear() {
	gs.signer = nil
	gs.recs = map[string]*groupRecord{}
	gs.keys = map[string]*keys.PrivateKey{}
	gs.tried = map[string]map[string]bool{}
	gs.opened = map[string]bool{}
	gs.msgs = map[string]map[string]*DMView{}
}

// reset forgets the loaded groups and drops the group keys (at logout).
func (gs *groupState) reset() {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gs.clear()
}

func (n *Node) currentSigner() Signer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.signer
}

// loadGroupsLocked makes gs hold s's groups, reading them from the store
// and opening their keys with s, unless they are loaded already.
func (n *Node) loadGroupsLocked(s Signer) error {
	gs := n.groups
	if gs.signer == s {
		return nil
	}
	gs.clear()
	b, ok, err := n.store.GetKV(groupsKey(s.User()))
	if err != nil {
		return fmt.Errorf("webnode: reading groups: %w", err)
	}
	var recs []*groupRecord
	if ok {
		if recs, err = decodeGroups(b); err != nil {
			n.log.Warn("webnode: stored groups unreadable", "user", s.User(), "err", err)
		}
	}
	for _, r := range recs {
		gs.recs[r.Alias] = r
		if r.Left || r.SealedKey == nil {
			continue
		}
		k, err := openGroupKey(s, r)
		if err != nil {
			n.log.Warn("webnode: group key does not open", "alias", r.Alias, "err", err)
			continue
		}
		gs.keys[r.Alias] = k
	}
	gs.signer = s
	return nil
}

// decodeGroups reads stored group records, keeping those with a valid
// alias (once each) and valid member names.
func decodeGroups(b []byte) ([]*groupRecord, error) {
	var recs []*groupRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, err
	}
	out := recs[:0]
	seen := map[string]bool{}
	for _, r := range recs {
		if r == nil || !validGroupAlias(r.Alias) || seen[r.Alias] {
			continue
		}
		seen[r.Alias] = true
		ms := r.Members
		r.Members = nil
		r.addMembers(ms)
		out = append(out, r)
	}
	return out, nil
}

func validGroupAlias(a string) bool {
	if len(a) != 9 || a[0] != '*' {
		return false
	}
	for _, c := range []byte(a[1:]) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// sealGroupKey seals k's WIF secret to s's own public key.
func sealGroupKey(s Signer, k *keys.PrivateKey) ([]byte, error) {
	sl, err := dm.Encrypt(s.PubKey(), []byte(k.Secret()))
	if err != nil {
		return nil, err
	}
	return bencode.Encode(sl.Value()), nil
}

func openGroupKey(s Signer, r *groupRecord) (*keys.PrivateKey, error) {
	v, err := bencode.Decode(r.SealedKey)
	if err != nil {
		return nil, err
	}
	sl, err := dm.ParseSealed(v)
	if err != nil {
		return nil, err
	}
	wif, err := s.Decrypt(sl)
	if err != nil {
		return nil, err
	}
	k, err := keys.ParseSecret(string(wif))
	if err != nil {
		return nil, err
	}
	if k.PubKey().Hex() != r.PubKey {
		return nil, errors.New("the sealed key is not the group's")
	}
	return k, nil
}

func (n *Node) saveGroupsLocked() error {
	gs := n.groups
	if gs.signer == nil {
		return ErrNotLoggedIn
	}
	recs := make([]*groupRecord, 0, len(gs.recs))
	for _, r := range gs.recs {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *groupRecord) int { return cmp.Compare(a.Alias, b.Alias) })
	b, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	if err := n.store.PutKV(groupsKey(gs.signer.User()), b); err != nil {
		return fmt.Errorf("webnode: saving groups: %w", err)
	}
	return nil
}

// newGroupAlias returns an unused "*" + 8 random lowercase letters.
func (gs *groupState) newGroupAlias() string {
	for {
		b := []byte{'*'}
		for range 8 {
			i, err := rand.Int(rand.Reader, big.NewInt(26))
			if err != nil {
				panic(err) // crypto/rand does not fail
			}
			b = append(b, byte('a'+i.Int64()))
		}
		if gs.recs[string(b)] == nil {
			return string(b)
		}
	}
}

// heldDMs returns the held DM posts that are not plain DMs to the signer.
func (n *Node) heldDMs() []*post.Post {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*post.Post
	for _, m := range n.posts {
		for _, p := range m {
			if p.DM == nil {
				continue
			}
			if _, plain := n.dms[PostID(p.User, p.K)]; plain {
				continue
			}
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *post.Post) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.User, b.User), cmp.Compare(a.K, b.K))
	})
	return out
}

// scanGroupsLocked runs every held DM post not yet understood through the
// group keys and, for invitations, the signer's key, until no new group
// key turns up. It reports whether membership changed.
func (n *Node) scanGroupsLocked() (changed bool) {
	for range 8 {
		more := false
		for _, p := range n.heldDMs() {
			_, _, c := n.processGroupDMLocked(p)
			more = more || c
		}
		if !more {
			return changed
		}
		changed = true
	}
	return changed
}

// processGroupDMLocked tries the group keys (and then, for an invitation,
// the signer's key) on a DM post once each. It returns the group message
// it carries, if any, and whether a group or member was added.
func (n *Node) processGroupDMLocked(p *post.Post) (v *DMView, alias string, changed bool) {
	gs := n.groups
	if gs.signer == nil || p.DM == nil {
		return nil, "", false
	}
	id := PostID(p.User, p.K)
	if gs.opened[id] {
		return nil, "", false
	}
	t := gs.tried[id]
	if t == nil {
		t = map[string]bool{}
		gs.tried[id] = t
	}
	aliases := make([]string, 0, len(gs.keys))
	for a := range gs.keys {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	for _, a := range aliases {
		if t[a] {
			continue
		}
		t[a] = true
		plain, err := dm.Decrypt(gs.keys[a], *p.DM)
		if err != nil {
			continue
		}
		gs.opened[id] = true
		delete(gs.tried, id)
		v, changed := n.groupPlaintextLocked(a, p, plain)
		return v, a, changed
	}
	if !t[""] {
		t[""] = true
		plain, err := gs.signer.Decrypt(*p.DM)
		if err != nil {
			return nil, "", false
		}
		pt, err := dm.ParsePlaintext(plain)
		if err != nil || pt.Kind != dm.KindGroupInvite {
			return nil, "", false
		}
		gs.opened[id] = true
		delete(gs.tried, id)
		return nil, "", n.registerInviteLocked(p, pt.Invite)
	}
	return nil, "", false
}

// groupPlaintextLocked acts on a DM opened with the key of group alias.
func (n *Node) groupPlaintextLocked(alias string, p *post.Post, plain []byte) (*DMView, bool) {
	gs := n.groups
	rec := gs.recs[alias]
	pt, err := dm.ParsePlaintext(plain)
	if err != nil || rec == nil {
		return nil, false
	}
	switch pt.Kind {
	case dm.KindGroupMembers:
		if len(rec.addMembers(pt.Members)) > 0 {
			n.saveGroupsLocked()
			return nil, true
		}
		return nil, false
	case dm.KindGroupInvite:
		// A description change, sent to the group's key.
		if p.Time >= rec.DescTime && len(pt.Invite.Desc) <= maxGroupDesc {
			rec.Description, rec.DescTime = pt.Invite.Desc, p.Time
			n.saveGroupsLocked()
		}
		return nil, false
	}
	if pt.Text == "" {
		return nil, false
	}
	v := &DMView{ID: PostID(p.User, p.K), From: p.User, To: alias, Time: p.Time, Text: pt.Text, Mine: p.User == gs.signer.User()}
	if gs.msgs[alias] == nil {
		gs.msgs[alias] = map[string]*DMView{}
	}
	gs.msgs[alias][v.ID] = v
	return v, false
}

// registerInviteLocked registers the group of an invitation sealed to the
// signer (twisterd's registerNewGroup): a new group gets a new alias and
// its key, stored sealed; an invitation to a known group updates its
// description. A group the user left stays left.
func (n *Node) registerInviteLocked(p *post.Post, inv dm.GroupInvite) bool {
	gs := n.groups
	k, err := keys.ParseSecret(inv.Key)
	if err != nil || len(inv.Desc) > maxGroupDesc {
		n.log.Debug("webnode: unusable group invitation", "from", p.User, "err", err)
		return false
	}
	me := gs.signer.User()
	pub := k.PubKey().Hex()
	for _, r := range gs.recs {
		if r.PubKey != pub {
			continue
		}
		if r.Left {
			return false
		}
		if p.Time >= r.DescTime {
			r.Description, r.DescTime = inv.Desc, p.Time
		}
		r.addMembers([]string{me})
		changed := false
		if gs.keys[r.Alias] == nil {
			if r.SealedKey, err = sealGroupKey(gs.signer, k); err != nil {
				return false
			}
			gs.keys[r.Alias] = k
			changed = true
		}
		n.saveGroupsLocked()
		return changed
	}
	sealed, err := sealGroupKey(gs.signer, k)
	if err != nil {
		return false
	}
	r := &groupRecord{Alias: gs.newGroupAlias(), Description: inv.Desc, DescTime: p.Time, Members: []string{me},
		PubKey: pub, SealedKey: sealed, Created: n.clock.Now().Unix()}
	gs.recs[r.Alias] = r
	gs.keys[r.Alias] = k
	n.saveGroupsLocked()
	n.log.Debug("webnode: joined group", "alias", r.Alias, "from", p.User)
	return true
}

// refreshGroups loads the signer's groups if needed, reads the held DMs,
// joins the swarms of members not followed and reads again what they
// brought from the store. It returns the signer.
func (n *Node) refreshGroups() (Signer, error) {
	s := n.currentSigner()
	if s == nil {
		return nil, ErrNotLoggedIn
	}
	gs := n.groups
	for range 4 {
		gs.mu.Lock()
		if err := n.loadGroupsLocked(s); err != nil {
			gs.mu.Unlock()
			return nil, err
		}
		n.scanGroupsLocked()
		join := n.membersToJoinLocked()
		gs.mu.Unlock()
		if len(join) == 0 {
			break
		}
		for _, u := range join {
			n.joinGroupSwarm(u)
		}
	}
	if n.currentSigner() != s {
		return nil, ErrNotLoggedIn
	}
	return s, nil
}

// membersToJoinLocked lists members of the groups not left whose swarms
// the node does not run (never joined, or left by an unfollow), and marks
// those not followed as joined for groups.
func (n *Node) membersToJoinLocked() []string {
	gs := n.groups
	running := n.sw.Following()
	own := n.swarmUsers()
	var out []string
	for _, r := range gs.recs {
		if r.Left {
			continue
		}
		for _, m := range r.Members {
			if slices.Contains(running, m) || slices.Contains(out, m) {
				continue
			}
			if !slices.Contains(own, m) {
				gs.joined[m] = true
			}
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// joinGroupSwarm runs user's swarm (fetching, holding and serving the
// posts) without following the user.
func (n *Node) joinGroupSwarm(user string) {
	n.loadPosts(user)
	if err := n.sw.Follow(user); err != nil {
		n.log.Debug("webnode: joining a group member's swarm", "user", user, "err", err)
		return
	}
	n.serve(user)
	if n.rtc != nil {
		n.rtc.addRoom(user)
	}
}

// leaveGroupSwarms stops the swarms joined for groups whose users are no
// longer members of any group not left, unless followed or logged in.
func (n *Node) leaveGroupSwarms(ctx context.Context) {
	gs := n.groups
	gs.mu.Lock()
	needed := map[string]bool{}
	for _, r := range gs.recs {
		if !r.Left {
			for _, m := range r.Members {
				needed[m] = true
			}
		}
	}
	var leave []string
	for u := range gs.joined {
		if !needed[u] {
			delete(gs.joined, u)
			leave = append(leave, u)
		}
	}
	gs.mu.Unlock()
	running := n.swarmUsers()
	for _, u := range leave {
		if slices.Contains(running, u) {
			continue
		}
		n.sw.Unfollow(u)
		if n.rtc != nil {
			n.rtc.removeRoom(u)
		}
		if err := n.br.Unserve(ctx, u); err != nil {
			n.log.Debug("webnode: unserve failed", "user", u, "err", err)
		}
	}
}

// groupsLogin loads the new signer's groups in the background.
func (n *Node) groupsLogin() {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if _, err := n.refreshGroups(); err != nil && !errors.Is(err, ErrNotLoggedIn) {
			n.log.Warn("webnode: loading groups", "err", err)
		}
	}()
}

// groupDM is called for every new DM post that is not a plain DM to the
// signer: a group invitation, member list or message.
func (n *Node) groupDM(p *post.Post) {
	s := n.currentSigner()
	if s == nil {
		return
	}
	gs := n.groups
	gs.mu.Lock()
	if gs.signer != s {
		gs.mu.Unlock()
		return // not loaded yet: the loading scan will read it
	}
	v, alias, changed := n.processGroupDMLocked(p)
	gs.mu.Unlock()
	if v != nil {
		n.emit(EventGroupMessage, GroupMessageEvent{Alias: alias, Message: v})
	}
	if changed {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.refreshGroups()
		}()
	}
}

// sendSealed publishes a DM post carrying plaintext sealed to pub, signed
// by the logged-in user (who must be s).
func (n *Node) sendSealed(ctx context.Context, s Signer, pub keys.PubKey, plaintext []byte) (*PostView, error) {
	signer, k, _, err := n.reserve()
	if err != nil {
		return nil, err
	}
	if signer != s {
		return nil, ErrNotLoggedIn
	}
	sealed, err := dm.Encrypt(pub, plaintext)
	if err != nil {
		return nil, err
	}
	data, err := signDraft(s, post.Draft{User: s.User(), K: k, Time: n.clock.Now().Unix(), Height: n.postHeight(), DM: &sealed})
	if err != nil {
		return nil, fmt.Errorf("webnode: %w", err)
	}
	res, err := n.publish(ctx, s, data, nil)
	if err != nil {
		return nil, err
	}
	return res.Post, nil
}

// group returns the record and key of a group the signer is in.
func (n *Node) group(s Signer, alias string) (GroupView, *keys.PrivateKey, error) {
	gs := n.groups
	gs.mu.Lock()
	defer gs.mu.Unlock()
	r := gs.recs[alias]
	if gs.signer != s || r == nil || r.Left {
		return GroupView{}, nil, fmt.Errorf("%w: group %q", ErrNotFound, alias)
	}
	k := gs.keys[alias]
	if k == nil {
		return GroupView{}, nil, fmt.Errorf("webnode: the key of group %q does not open with this account's key", alias)
	}
	return r.view(), k, nil
}

// CreateGroup creates a group chat with a new key pair and returns its
// alias. The user is its only member until GroupInvite; the key is stored
// sealed to the user's key, and an invitation sealed to the user's own
// key (with the member list [user] sent to the group) goes to the user's
// swarm, so the user's other devices learn the group too.
func (n *Node) CreateGroup(ctx context.Context, description string) (string, error) {
	if len(description) > maxGroupDesc {
		return "", fmt.Errorf("webnode: a group description has at most %d bytes", maxGroupDesc)
	}
	s, err := n.refreshGroups()
	if err != nil {
		return "", err
	}
	k, err := keys.GenerateKey()
	if err != nil {
		return "", err
	}
	sealed, err := sealGroupKey(s, k)
	if err != nil {
		return "", err
	}
	gs := n.groups
	gs.mu.Lock()
	if gs.signer != s {
		gs.mu.Unlock()
		return "", ErrNotLoggedIn
	}
	now := n.clock.Now().Unix()
	r := &groupRecord{Alias: gs.newGroupAlias(), Description: description, DescTime: now, Members: []string{s.User()},
		PubKey: k.PubKey().Hex(), SealedKey: sealed, Created: now}
	gs.recs[r.Alias] = r
	gs.keys[r.Alias] = k
	err = n.saveGroupsLocked()
	gs.mu.Unlock()
	if err != nil {
		return "", err
	}
	if _, err := n.sendSealed(ctx, s, s.PubKey(), dm.GroupInvite{Desc: description, Key: k.Secret()}.Encode()); err != nil {
		return r.Alias, fmt.Errorf("webnode: group %s created, but its invitation to oneself: %w", r.Alias, err)
	}
	if _, err := n.sendSealed(ctx, s, k.PubKey(), dm.GroupMembers{s.User()}.Encode()); err != nil {
		return r.Alias, fmt.Errorf("webnode: group %s created, but its member list: %w", r.Alias, err)
	}
	return r.Alias, nil
}

// Groups returns the group chats of the logged-in user (not the ones
// left), sorted by alias.
func (n *Node) Groups() ([]GroupView, error) {
	s, err := n.refreshGroups()
	if err != nil {
		return nil, err
	}
	gs := n.groups
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.signer != s {
		return nil, ErrNotLoggedIn
	}
	out := []GroupView{}
	for _, r := range gs.recs {
		if !r.Left {
			out = append(out, r.view())
		}
	}
	slices.SortFunc(out, func(a, b GroupView) int { return cmp.Compare(a.Alias, b.Alias) })
	return out, nil
}

// GroupInvite invites members into group alias: each gets a DM sealed to
// the member's verified current key with {group_invite: {desc, key}}, and
// the whole member list goes to the group's key ({group_members: [...]},
// split as twisterd does). It returns the group.
func (n *Node) GroupInvite(ctx context.Context, alias string, members []string) (*GroupView, error) {
	s, err := n.refreshGroups()
	if err != nil {
		return nil, err
	}
	g, k, err := n.group(s, alias)
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, errors.New("webnode: whom to invite?")
	}
	pubs := make([]keys.PubKey, len(members))
	for i, m := range members {
		if err := text.ValidUsername(m); err != nil {
			return nil, fmt.Errorf("webnode: %w", err)
		}
		if pubs[i], err = n.chain.KeyAt(m, -1); err != nil {
			return nil, fmt.Errorf("webnode: key of %q: %w", m, err)
		}
	}
	invite := dm.GroupInvite{Desc: g.Description, Key: k.Secret()}.Encode()
	for i := range members {
		if _, err := n.sendSealed(ctx, s, pubs[i], invite); err != nil {
			return nil, fmt.Errorf("webnode: inviting %q: %w", members[i], err)
		}
	}
	all := slices.Clone(g.Members)
	for _, m := range append([]string{s.User()}, members...) {
		if !slices.Contains(all, m) {
			all = append(all, m)
		}
	}
	for _, chunk := range memberChunks(all) {
		if _, err := n.sendSealed(ctx, s, k.PubKey(), dm.GroupMembers(chunk).Encode()); err != nil {
			return nil, fmt.Errorf("webnode: sending the member list: %w", err)
		}
	}
	gs := n.groups
	gs.mu.Lock()
	if r := gs.recs[alias]; r != nil && gs.signer == s {
		r.addMembers(all)
		n.saveGroupsLocked()
		g = r.view()
	}
	gs.mu.Unlock()
	if _, err := n.refreshGroups(); err != nil {
		return nil, err
	}
	return &g, nil
}

// memberChunks splits names into lists of about groupMembersChunk bytes.
func memberChunks(names []string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, m := range names {
		if len(cur) > 0 && size+len(m) > groupMembersChunk {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, m)
		size += len(m)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// GroupMessage sends txt to group alias: a DM sealed to the group's key
// ({msg, to: alias}) in the user's swarm, which every member reads.
func (n *Node) GroupMessage(ctx context.Context, alias, txt string) (*DMView, error) {
	if txt == "" {
		return nil, errors.New("webnode: empty message")
	}
	s, err := n.refreshGroups()
	if err != nil {
		return nil, err
	}
	_, k, err := n.group(s, alias)
	if err != nil {
		return nil, err
	}
	pv, err := n.sendSealed(ctx, s, k.PubKey(), dm.Message{Msg: txt, To: alias}.Encode())
	if err != nil {
		return nil, err
	}
	v := &DMView{ID: pv.ID, From: s.User(), To: alias, Time: pv.Time, Text: txt, Mine: true}
	gs := n.groups
	gs.mu.Lock()
	if gs.signer == s {
		if gs.msgs[alias] == nil {
			gs.msgs[alias] = map[string]*DMView{}
		}
		gs.msgs[alias][v.ID] = v
		gs.opened[v.ID] = true
	}
	gs.mu.Unlock()
	return v, nil
}

// GroupMessages returns the messages of group alias held by the node
// (from the members' swarms and one's own), oldest first.
func (n *Node) GroupMessages(alias string) ([]*DMView, error) {
	s, err := n.refreshGroups()
	if err != nil {
		return nil, err
	}
	gs := n.groups
	gs.mu.Lock()
	defer gs.mu.Unlock()
	r := gs.recs[alias]
	if gs.signer != s || r == nil || r.Left {
		return nil, fmt.Errorf("%w: group %q", ErrNotFound, alias)
	}
	out := []*DMView{}
	for _, v := range gs.msgs[alias] {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *DMView) int { return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// LeaveGroup stops reading group alias, as twisterd's leavegroup: the
// group is kept as left (later invitations to it are ignored), its key is
// forgotten, and the swarms joined only for it are left. Nothing is sent.
func (n *Node) LeaveGroup(ctx context.Context, alias string) error {
	s, err := n.refreshGroups()
	if err != nil {
		return err
	}
	gs := n.groups
	gs.mu.Lock()
	r := gs.recs[alias]
	if gs.signer != s || r == nil || r.Left {
		gs.mu.Unlock()
		return fmt.Errorf("%w: group %q", ErrNotFound, alias)
	}
	r.Left, r.SealedKey = true, nil
	delete(gs.keys, alias)
	delete(gs.msgs, alias)
	err = n.saveGroupsLocked()
	gs.mu.Unlock()
	if err != nil {
		return err
	}
	n.leaveGroupSwarms(ctx)
	return nil
}
