package swarm_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gotwister/twister/swarm"
)

func TestNewRequiresValidators(t *testing.T) {
	if _, err := swarm.New(swarm.Config{Store: swarm.NewMemStore()}); err == nil {
		t.Error("New without Validate succeeded")
	}
	v := newValidator(10, "a")
	if _, err := swarm.New(swarm.Config{Validate: v.validate, ValidPostNumber: v.validPostNumber}); err == nil {
		t.Error("New without Store succeeded")
	}
}

func TestAddPostLocal(t *testing.T) {
	n := newNode(t, "127.0.0.1", nodeOpts{users: []string{"alice"}, limit: 10})
	key := testKey("alice")
	if got := n.LastHave("alice"); got != -1 {
		t.Errorf("LastHave before any post = %d", got)
	}
	p3 := signPost(key, "alice", 3, "three")
	if err := n.AddPost("alice", 3, p3); err != nil {
		t.Fatal(err)
	}
	if err := n.AddPost("alice", 3, p3); err != nil {
		t.Errorf("re-adding identical post: %v", err)
	}
	if err := n.AddPost("alice", 3, signPost(key, "alice", 3, "other")); err == nil {
		t.Error("conflicting post accepted")
	}
	if err := n.AddPost("alice", 4, signPost(testKey("mallory"), "alice", 4, "forged")); err == nil {
		t.Error("forged post accepted")
	}
	if err := n.AddPost("alice", 11, signPost(key, "alice", 11, "over")); err == nil {
		t.Error("over-limit post accepted")
	}
	if got := n.LastHave("alice"); got != 3 {
		t.Errorf("LastHave = %d", got)
	}
	if got := n.NumPieces("alice"); got != 5 {
		t.Errorf("NumPieces = %d, want 5 (k+2, never a seed)", got)
	}
	if d, ok := n.Post("alice", 3); !ok || !bytes.Equal(d, p3) {
		t.Error("Post(3) differs")
	}
	if _, ok := n.gotAt("alice", 3); !ok {
		t.Error("OnPost not called for AddPost")
	}
	if f := n.Following(); len(f) != 1 || f[0] != "alice" {
		t.Errorf("Following = %v", f)
	}
	n.Unfollow("alice")
	if d, ok := n.Post("alice", 3); !ok || !bytes.Equal(d, p3) {
		t.Error("post gone after Unfollow")
	}
	if got := n.LastHave("alice"); got != 3 {
		t.Errorf("LastHave after Unfollow = %d (from the store)", got)
	}
}

// TestMesh: an author with 20 followers where only 2 followers are connected
// to the author; the others form a ring with chords. Old posts reach
// everyone, a new post floods to every follower, a late follower connected
// to a single follower catches up.
func TestMesh(t *testing.T) {
	const user, followers = "author", 20
	key := testKey(user)
	opts := nodeOpts{users: []string{user}}
	author := newNode(t, "127.0.1.1", opts)
	fs := make([]*node, followers)
	for i := range fs {
		fs[i] = newNode(t, fmt.Sprintf("127.0.1.%d", i+2), opts)
	}
	for k := int64(1); k <= 5; k++ {
		if err := author.AddPost(user, k, signPost(key, user, k, fmt.Sprintf("old post %d", k))); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		must(f.Follow(user)) // before anyone dials: a node refuses swarms it does not follow
	}
	must(author.AddPeer(user, fs[0].addr))
	must(author.AddPeer(user, fs[10].addr))
	for i, f := range fs {
		must(f.AddPeer(user, fs[(i+1)%followers].addr))
		if i%3 == 0 {
			must(f.AddPeer(user, fs[(i+7)%followers].addr))
		}
	}
	all := func(k int64) func() bool {
		return func() bool {
			for _, f := range fs {
				if _, ok := f.gotAt(user, k); !ok {
					return false
				}
			}
			return true
		}
	}
	for k := int64(1); k <= 5; k++ {
		waitFor(t, 20*time.Second, fmt.Sprintf("old post %d at every follower", k), all(k))
	}
	if n := len(author.Peers(user)); n != 2 {
		t.Errorf("author has %d peers, want 2 (the mesh must do the work)", n)
	}
	start := time.Now()
	p6 := signPost(key, user, 6, "a new post floods")
	must(author.AddPost(user, 6, p6))
	waitFor(t, 10*time.Second, "new post at every follower", all(6))
	var last time.Duration
	for _, f := range fs {
		at, _ := f.gotAt(user, 6)
		last = max(last, at.Sub(start))
		if d, ok := f.Post(user, 6); !ok || !bytes.Equal(d, p6) {
			t.Fatal("follower holds different bytes")
		}
		if f.LastHave(user) != 6 || f.NumPieces(user) < 8 {
			t.Errorf("follower LastHave %d NumPieces %d", f.LastHave(user), f.NumPieces(user))
		}
	}
	t.Logf("post 6 reached all %d followers in %v", followers, last)

	late := newNode(t, "127.0.1.40", opts)
	must(late.AddPeer(user, fs[15].addr))
	waitFor(t, 20*time.Second, "late follower catching up", func() bool {
		for k := int64(1); k <= 6; k++ {
			if _, ok := late.gotAt(user, k); !ok {
				return false
			}
		}
		return true
	})
	st := late.Stats()
	if st.PiecesReceived != 6 || st.Penalties != 0 || st.Rejected != 0 {
		t.Errorf("late follower stats %+v", st)
	}
	for _, f := range append(fs, author) {
		if st := f.Stats(); st.Penalties != 0 || st.Rejected != 0 {
			t.Errorf("honest node penalised someone: %+v", st)
		}
	}
	ps := late.Peers(user)
	if len(ps) != 1 || ps[0].Client != "gotwister/0.1" || !ps[0].Fast || !ps[0].Peek {
		t.Errorf("late follower peers %+v", ps)
	}
}
