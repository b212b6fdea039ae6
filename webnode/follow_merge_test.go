//go:build !js

package webnode

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge/client"
	"github.com/gotwister/twister/resource"
)

// followSyncs returns the FollowSync events of l, in order.
func (l *eventLog) followSyncs() []FollowSync {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []FollowSync
	for _, e := range l.ev {
		if e.Kind == EventFollowSync {
			out = append(out, e.Data.(FollowSync))
		}
	}
	return out
}

// timelineUsers returns the users with posts in n's timeline and the
// number of posts.
func timelineUsers(n *Node) ([]string, int) {
	tl, _ := n.Timeline(TimelineOptions{Count: 100})
	var us []string
	for _, p := range tl {
		if !slices.Contains(us, p.User) {
			us = append(us, p.User)
		}
	}
	slices.Sort(us)
	return us, len(tl)
}

// A twisterd user's public follows (the follow RPC publishes following1)
// are found by a browser node logged in with the same key: at login it
// reads the list from the DHT and follows every user in it publicly,
// fetches their posts from their swarms, publishes nothing it need not;
// an unfollow in the browser is then published over twisterd's list,
// which twisterd's dhtget reads without the user and with the others.
func TestFollowingMergedFromTwisterd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a native twisterd")
	}
	tn := newTestnet(t, "nat", "bob", "carol", "dave")
	posts := tn.NewNative(2, 1, true)
	for _, u := range []string{"bob", "carol", "dave"} {
		if err := posts.AddPost(u, 0, tn.MakePost(u, 0, u+" writes on a native node")); err != nil {
			t.Fatal(err)
		}
	}
	d := startTwisterd(t, tn, "127.0.97.5")
	d.rpc(nil, "importprivkey", userKey("nat").Secret(), "nat")
	d.rpc(nil, "follow", "nat", []string{"bob", "carol", "dave"})
	d.wantPage("nat", 1, []string{"bob", "carol", "dave"})
	natSeq := wantPages(t, tn, "nat", []string{"bob", "carol", "dave"})

	w, ev := tn.newWebnode(nil, nil)
	ctx := ctxT(t, 120*time.Second)
	start := time.Now()
	if err := w.LoginSecret(ctx, "nat", userKey("nat").Secret()); err != nil {
		t.Fatal(err)
	}
	if fs := w.FollowSync(); fs == nil || fs.User != "nat" || (fs.State != FollowSyncLoading && fs.State != FollowSyncDone) {
		t.Errorf("follow sync right after the login: %+v", fs)
	}
	want := []Follow{{"bob", true}, {"carol", true}, {"dave", true}}
	waitFor(t, 5*time.Second, "twisterd's follows in the browser node", func() bool { return slices.Equal(w.Follows(), want) })
	t.Logf("twisterd's following list merged %v after the login", time.Since(start).Round(time.Millisecond))
	fs := waitFollowSync(t, w, "nat")
	if !fs.Merged || fs.Seq != natSeq || fs.Listed != 3 || !slices.Equal(fs.Added, []string{"bob", "carol", "dave"}) {
		t.Errorf("follow sync: %+v (twisterd's seq %d)", fs, natSeq)
	}
	if st := w.Status(); st.FollowSync == nil || st.FollowSync.State != FollowSyncDone || !slices.Equal(st.Following, []string{"bob", "carol", "dave"}) {
		t.Errorf("status: %+v", st)
	}
	if evs := ev.followSyncs(); len(evs) != 2 || evs[0].State != FollowSyncLoading || evs[1].State != FollowSyncDone || !slices.Equal(evs[1].Added, fs.Added) {
		t.Errorf("followSync events %+v", evs)
	}
	waitFor(t, 30*time.Second, "the followed users' posts in the timeline", func() bool {
		us, n := timelineUsers(w)
		return slices.Equal(us, []string{"bob", "carol", "dave"}) && n == 3
	})
	t.Logf("their posts fetched %v after the login", time.Since(start).Round(time.Millisecond))
	// The merge itself publishes nothing: the list in the DHT is
	// twisterd's.
	if _, seq, _ := dhtPage(t, tn, "nat", 1); seq != natSeq {
		t.Errorf("following1 put again at login (seq %d → %d)", natSeq, seq)
	}

	r, err := w.UnfollowUser(ctx, "carol")
	wantResult(t, r, err, "carol", false, false, "nat/following1")
	if seq := wantPages(t, tn, "nat", []string{"bob", "dave"}); seq <= natSeq {
		t.Errorf("browser's seq %d not above twisterd's %d", seq, natSeq)
	}
	d.wantPage("nat", 1, []string{"bob", "dave"})
	if got := w.Follows(); !slices.Equal(got, []Follow{{"bob", true}, {"dave", true}}) {
		t.Errorf("follows after unfollowing carol: %+v", got)
	}
}

// gateBridge holds back the reads of following1 while blocked (counting
// the reads waiting) and fails DHT puts while refuse is set.
type gateBridge struct {
	Bridge
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	waiting atomic.Int32
	refuse  atomic.Bool
}

func (g *gateBridge) block() { g.mu.Lock(); g.gate = make(chan struct{}); g.mu.Unlock() }

func (g *gateBridge) release() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gateBridge) GetData(ctx context.Context, name, res string, multi bool, o client.GetOptions) ([]client.Item, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil && res == resource.Following(1) {
		g.waiting.Add(1)
		select {
		case <-gate:
			g.waiting.Add(-1)
		case <-ctx.Done():
			g.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
	return g.Bridge.GetData(ctx, name, res, multi, o)
}

func (g *gateBridge) PutData(ctx context.Context, p, sigP []byte, sigUser string) (bool, error) {
	if g.refuse.Load() {
		return false, errors.New("test: puts refused")
	}
	return g.Bridge.PutData(ctx, p, sigP, sigUser)
}

// The merge of a user's list saved on another device (browser node o)
// into this device's (w) follow list: follow changes made while it is
// read wait for it and are kept (a user unfollowed meanwhile is not
// followed again, one followed privately stays private); a list the
// device published itself never brings back a user unfollowed since,
// even when that unfollow's publication failed; a newer list from the
// other device is merged, but not a user unfollowed on this device after
// the last list it saw; and the other device merges this one's list
// before it publishes, so neither overwrites the other's additions.
func TestFollowingMergeRules(t *testing.T) {
	tn := newTestnet(t, "alice", "bob", "carol", "dave", "erin", "frank")
	ctx := ctxT(t, 120*time.Second)
	secret := userKey("alice").Secret()
	o, _ := tn.newWebnode(nil, nil)
	if err := o.LoginSecret(ctx, "alice", secret); err != nil {
		t.Fatal(err)
	}
	waitFollowSync(t, o, "alice")
	for _, u := range []string{"bob", "carol", "dave"} {
		if _, err := o.FollowUser(ctx, u, true); err != nil {
			t.Fatal(err)
		}
	}
	seqO := wantPages(t, tn, "alice", []string{"bob", "carol", "dave"})

	// w, logged out: carol private, dave public (not published).
	g := &gateBridge{Bridge: mustPool(t, tn.URL)}
	store := NewMemStore()
	w, ev := tn.newWebnode(g, func(c *Config) { c.Store = store })
	if _, err := w.FollowUser(ctx, "carol", false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.FollowUser(ctx, "dave", true); err != nil {
		t.Fatal(err)
	}
	// The read of the list held back: changes made meanwhile.
	g.block()
	if err := w.LoginSecret(ctx, "alice", secret); err != nil {
		t.Fatal(err)
	}
	if fs := w.FollowSync(); fs == nil || fs.State != FollowSyncLoading {
		t.Fatalf("follow sync while the read is held back: %+v", fs)
	}
	type result struct {
		r   *FollowResult
		err error
	}
	unf, fol := make(chan result, 1), make(chan result, 1)
	go func() { r, err := w.UnfollowUser(ctx, "dave"); unf <- result{r, err} }()
	waitFor(t, 5*time.Second, "dave unfollowed on the device", func() bool { return !slices.Contains(w.Following(), "dave") })
	go func() { r, err := w.FollowUser(ctx, "frank", true); fol <- result{r, err} }()
	waitFor(t, 5*time.Second, "frank followed on the device", func() bool { return slices.Contains(w.Following(), "frank") })
	waitFor(t, 5*time.Second, "the read of following1 under way", func() bool { return g.waiting.Load() > 0 })
	select {
	case res := <-unf:
		t.Fatalf("the unfollow published before the list was read: %+v %v", res.r, res.err)
	case res := <-fol:
		t.Fatalf("the follow published before the list was read: %+v %v", res.r, res.err)
	case <-time.After(300 * time.Millisecond):
	}
	if got := w.Follows(); !slices.Equal(got, []Follow{{"carol", false}, {"frank", true}}) {
		t.Fatalf("follows before the merge: %+v", got)
	}
	if _, seq, _ := dhtPage(t, tn, "alice", 1); seq != seqO {
		t.Fatalf("following1 put (seq %d → %d) before the list was read", seqO, seq)
	}
	g.release()
	for _, c := range []chan result{unf, fol} {
		res := <-c
		if res.err != nil || len(res.r.PutErrors) > 0 {
			t.Fatalf("follow change: %+v %v", res.r, res.err)
		}
	}
	wantFollows := func(what string, want ...Follow) {
		t.Helper()
		if got := w.Follows(); !slices.Equal(got, want) {
			t.Fatalf("%s: follows %+v, want %+v", what, got, want)
		}
	}
	wantFollows("after the merge", Follow{"bob", true}, Follow{"carol", false}, Follow{"frank", true})
	seqW := wantPages(t, tn, "alice", []string{"bob", "frank"})
	if seqW <= seqO {
		t.Errorf("seq %d not above the other device's %d", seqW, seqO)
	}
	added := false
	for _, fs := range ev.followSyncs() {
		if fs.State == FollowSyncDone && fs.Merged && fs.Seq == seqO && slices.Equal(fs.Added, []string{"bob"}) {
			added = true
		}
	}
	if !added {
		t.Errorf("no followSync event reports bob added from the list of seq %d: %+v", seqO, ev.followSyncs())
	}
	if fs := waitFollowSync(t, w, "alice"); fs.State != FollowSyncDone {
		t.Errorf("follow sync %+v", fs)
	}

	// An unfollow whose publication fails: the list in the DHT is still
	// the one w published, which the next login does not merge again.
	g.refuse.Store(true)
	r, err := w.UnfollowUser(ctx, "frank")
	if err != nil || r.Following || len(r.PutErrors) == 0 {
		t.Fatalf("unfollow with puts refused: %+v %v", r, err)
	}
	g.refuse.Store(false)
	w.Logout()
	if err := w.LoginSecret(ctx, "alice", secret); err != nil {
		t.Fatal(err)
	}
	if fs := waitFollowSync(t, w, "alice"); fs.Merged || fs.Seq != seqW || len(fs.Added) > 0 {
		t.Errorf("login over w's own list: %+v (seq %d)", fs, seqW)
	}
	wantFollows("after logging in again", Follow{"bob", true}, Follow{"carol", false})
	// The login completes the failed publication.
	seqW2 := wantPages(t, tn, "alice", []string{"bob"})

	// Restarted (what it remembers is in its store) before alice logs in
	// again, w unfollows bob in her set; o follows erin: o reads w's
	// newer list first (nothing to add: bob) and publishes its own
	// follows with erin, above w's seq. w's next login merges that list
	// without bob (unfollowed here since w saw its last list); carol
	// stays private, so w's publication leaves her out.
	w.Close()
	w, _ = tn.newWebnode(nil, func(c *Config) { c.Store = store })
	if r, err := w.UnfollowUser(ctx, "bob"); err != nil || !r.Unpublished {
		t.Fatalf("unfollow before logging in: %+v %v", r, err)
	}
	r, err = o.FollowUser(ctx, "erin", true)
	wantResult(t, r, err, "erin", true, true, "alice/following1")
	seqO2 := wantPages(t, tn, "alice", []string{"bob", "carol", "dave", "erin"})
	if seqO2 <= seqW2 {
		t.Errorf("o's seq %d not above w's %d", seqO2, seqW2)
	}
	if err := w.LoginSecret(ctx, "alice", secret); err != nil {
		t.Fatal(err)
	}
	fs := waitFollowSync(t, w, "alice")
	if !fs.Merged || fs.Seq != seqO2 || fs.Listed != 4 || !slices.Equal(fs.Added, []string{"dave", "erin"}) {
		t.Errorf("login over o's newer list: %+v (seq %d)", fs, seqO2)
	}
	wantFollows("after merging o's newer list", Follow{"carol", false}, Follow{"dave", true}, Follow{"erin", true})
	if seq := wantPages(t, tn, "alice", []string{"dave", "erin"}); seq <= seqO2 {
		t.Errorf("w's seq %d not above o's %d", seq, seqO2)
	}
	if got := o.Follows(); !slices.Equal(got, []Follow{{"bob", true}, {"carol", true}, {"dave", true}, {"erin", true}}) {
		t.Errorf("o's follows: %+v", got)
	}
}
