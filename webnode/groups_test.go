//go:build !js

package webnode

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/webnode/webnodetest"
)

// sealedPost builds post k of from carrying plaintext sealed to pub.
func sealedPost(t *testing.T, tn *testnet, from string, k int64, pub keys.PubKey, plaintext []byte) []byte {
	t.Helper()
	s, err := dm.Encrypt(pub, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	b, err := post.NewSealedDM(userKey(from), from, k, time.Now().Unix(), tn.Chain.Height()-1, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openAt decrypts post k of user held by a native node with key.
func openAt(t *testing.T, nat *webnodetest.Native, user string, k int64, key *keys.PrivateKey) (dm.Plaintext, error) {
	t.Helper()
	raw, ok := nat.Post(user, k)
	if !ok {
		t.Fatalf("%s/%d is not held", user, k)
	}
	p, err := post.Decode(raw)
	if err != nil || p.DM == nil {
		t.Fatalf("%s/%d: not a DM: %v", user, k, err)
	}
	b, err := dm.Decrypt(key, *p.DM)
	if err != nil {
		return dm.Plaintext{}, err
	}
	return dm.ParsePlaintext(b)
}

func texts(vs []*DMView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.From + ": " + v.Text
	}
	return out
}

// Group chats with native swarm peers: an invitation in a followed swarm
// registers the group (key stored sealed, never in clear), the member
// list and messages are read from the members' swarms (joined without
// following), messages go out sealed to the group key, the groups survive
// a restart, logout forgets the keys, and a group made here invites
// others as twisterd does.
func TestGroupChats(t *testing.T) {
	tn := newTestnet(t, "alice", "webby", "bob")
	aliceN := tn.NewNative(2, 1, true)
	bobN := tn.NewNative(3, 2, true)
	if err := aliceN.Follow("webby"); err != nil {
		t.Fatal(err)
	}
	gk, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	webbyPub := userKey("webby").PubKey()
	for k, pt := range map[int64][]byte{
		0: dm.GroupInvite{Desc: "the gang", Key: gk.Secret()}.Encode(),
		1: dm.GroupMembers{"alice", "webby", "bob"}.Encode(),
		2: dm.Message{Msg: "hello group", To: "*aliceali"}.Encode(),
	} {
		pub := gk.PubKey()
		if k == 0 {
			pub = webbyPub
		}
		if err := aliceN.AddPost("alice", k, sealedPost(t, tn, "alice", k, pub, pt)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bobN.AddPost("bob", 0, sealedPost(t, tn, "bob", 0, gk.PubKey(), dm.Message{Msg: "bob here", To: "*bobsname"}.Encode())); err != nil {
		t.Fatal(err)
	}

	st := NewMemStore()
	n, ev := tn.newWebnode(nil, func(c *Config) { c.Store = st })
	ctx := ctxT(t, 120*time.Second)
	if _, err := n.Groups(); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("groups logged out: %v", err)
	}
	if err := n.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	if err := n.Follow(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	var alias string
	waitFor(t, 30*time.Second, "the group from alice's invitation", func() bool {
		gs, _ := n.Groups()
		if len(gs) == 1 && len(gs[0].Members) == 3 {
			alias = gs[0].Alias
			return true
		}
		return false
	})
	gs, _ := n.Groups()
	if g := gs[0]; g.Description != "the gang" || !slices.Equal(g.Members, []string{"alice", "bob", "webby"}) ||
		len(g.Alias) != 9 || g.Alias[0] != '*' {
		t.Fatalf("group %+v", g)
	}
	waitFor(t, 30*time.Second, "messages from alice's and bob's swarms", func() bool {
		ms, _ := n.GroupMessages(alias)
		return len(ms) == 2
	})
	ms, _ := n.GroupMessages(alias)
	if got := texts(ms); !slices.Contains(got, "alice: hello group") || !slices.Contains(got, "bob: bob here") || ms[0].To != alias {
		t.Fatalf("messages %v", got)
	}
	t.Logf("messages %v", texts(ms))
	if !slices.Equal(n.Following(), []string{"alice"}) || !slices.Contains(n.Swarm().Following(), "bob") {
		t.Errorf("following %v, swarms %v", n.Following(), n.Swarm().Following())
	}
	// A live message arrives as an event.
	if err := bobN.AddPost("bob", 1, sealedPost(t, tn, "bob", 1, gk.PubKey(), dm.Message{Msg: "live", To: "*bobsname"}.Encode())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the live group message event", func() bool { return ev.count(EventGroupMessage) >= 1 })

	// webby writes to the group: alice's node gets a post that opens with
	// the group key.
	v, err := n.GroupMessage(ctx, alias, "webby says hi")
	if err != nil || !v.Mine || v.To != alias {
		t.Fatalf("group message: %+v %v", v, err)
	}
	_, k, _ := ParsePostID(v.ID)
	waitFor(t, 30*time.Second, "webby's group message at alice's node", func() bool { return aliceN.Has("webby", k) })
	if pt, err := openAt(t, aliceN, "webby", k, gk); err != nil || pt.Kind != dm.KindMessage || pt.Text != "webby says hi" {
		t.Fatalf("webby's group message opened with the group key: %+v %v", pt, err)
	}

	// Nothing of the group key is stored in clear.
	st.mu.RLock()
	for key, val := range st.kv {
		if bytes.Contains(val, []byte(gk.Secret())) || bytes.Contains(val, gk.Bytes()) {
			t.Errorf("store entry %q holds the group key", key)
		}
	}
	st.mu.RUnlock()

	// Logout forgets the keys.
	n.Logout()
	if len(n.groups.keys) != 0 {
		t.Error("group keys kept after logout")
	}
	if _, err := n.GroupMessages(alias); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("messages logged out: %v", err)
	}

	// A restart on the same store: the group and its messages are back.
	n.Close()
	n2, _ := tn.newWebnode(nil, func(c *Config) { c.Store = st })
	if err := n2.LoginSecret(ctx, "webby", userKey("webby").Secret()); err != nil {
		t.Fatal(err)
	}
	gs, err = n2.Groups()
	if err != nil || len(gs) != 1 || gs[0].Alias != alias || gs[0].Description != "the gang" {
		t.Fatalf("groups after restart: %+v %v", gs, err)
	}
	waitFor(t, 30*time.Second, "the messages after restart", func() bool {
		ms, _ := n2.GroupMessages(alias)
		return len(ms) >= 4
	})

	// A group made here: invitations sealed to each member, the member
	// list to the group key, as twisterd's newgroupinvite.
	mine, err := n2.CreateGroup(ctx, "webby's own")
	if err != nil || len(mine) != 9 || mine == alias {
		t.Fatalf("create: %q %v", mine, err)
	}
	g, err := n2.GroupInvite(ctx, mine, []string{"alice"})
	if err != nil || !slices.Equal(g.Members, []string{"alice", "webby"}) {
		t.Fatalf("invite: %+v %v", g, err)
	}
	if _, err := n2.GroupInvite(ctx, mine, []string{"nosuchuser"}); err == nil {
		t.Error("an unregistered invitee was accepted")
	}
	// webby's posts: k…: self-invite, members [webby], (message), invite to alice, members.
	var invite dm.Plaintext
	var newKey *keys.PrivateKey
	waitFor(t, 30*time.Second, "the invitation at alice's node", func() bool {
		for k := int64(0); k < 12; k++ {
			if !aliceN.Has("webby", k) {
				continue
			}
			if pt, err := openAt(t, aliceN, "webby", k, userKey("alice")); err == nil && pt.Kind == dm.KindGroupInvite {
				invite = pt
				newKey, _ = keys.ParseSecret(pt.Invite.Key)
				return true
			}
		}
		return false
	})
	if invite.Invite.Desc != "webby's own" || newKey == nil {
		t.Fatalf("invitation %+v", invite)
	}
	waitFor(t, 30*time.Second, "the member list at alice's node", func() bool {
		for k := int64(0); k < 12; k++ {
			if !aliceN.Has("webby", k) {
				continue
			}
			if pt, err := openAt(t, aliceN, "webby", k, newKey); err == nil && pt.Kind == dm.KindGroupMembers &&
				slices.Contains(pt.Members, "alice") && slices.Contains(pt.Members, "webby") {
				return true
			}
		}
		return false
	})

	// Leaving: the group goes, bob's swarm (joined for the first group
	// only) is left.
	if err := n2.LeaveGroup(ctx, alias); err != nil {
		t.Fatal(err)
	}
	if gs, _ := n2.Groups(); len(gs) != 1 || gs[0].Alias != mine {
		t.Errorf("groups after leaving: %+v", gs)
	}
	if _, err := n2.GroupMessages(alias); !errors.Is(err, ErrNotFound) {
		t.Errorf("messages of a left group: %v", err)
	}
	if slices.Contains(n2.Swarm().Following(), "bob") {
		t.Errorf("bob's swarm still runs: %v", n2.Swarm().Following())
	}
	// Another invitation to the left group is ignored.
	if err := aliceN.AddPost("alice", 3, sealedPost(t, tn, "alice", 3, webbyPub, dm.GroupInvite{Desc: "come back", Key: gk.Secret()}.Encode())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "alice's new post", func() bool { _, ok, _ := st.Get("alice", 3); return ok })
	if gs, _ := n2.Groups(); len(gs) != 1 {
		t.Errorf("a left group came back: %+v", gs)
	}
}
