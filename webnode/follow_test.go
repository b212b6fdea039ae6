//go:build !js

package webnode

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/resource"
)

// dhtPage reads user's following<page> from the test network's DHT (a
// native DHT node, not through the bridge): the names and the seq of the
// item of highest seq, which must be signed by user; ok is false if there
// is none.
func dhtPage(t *testing.T, tn *testnet, user string, page int) (names []string, seq int64, ok bool) {
	t.Helper()
	items, err := tn.DHTs[2].Get(ctxT(t, 10*time.Second), user, resource.Following(page), false, dhtGetOpts)
	if err != nil || len(items) == 0 {
		return nil, 0, false
	}
	best := items[0]
	for _, it := range items[1:] {
		if it.Seq > best.Seq {
			best = it
		}
	}
	if best.SigUser != user {
		t.Fatalf("%s/following%d signed by %q", user, page, best.SigUser)
	}
	if best.V.Kind != bencode.List {
		t.Fatalf("%s/following%d holds a %v, not a list", user, page, best.V.Kind)
	}
	names = []string{}
	for _, v := range best.V.List {
		if v.Kind != bencode.String {
			t.Fatalf("%s/following%d holds a %v in its list", user, page, v.Kind)
		}
		names = append(names, string(v.Str))
	}
	return names, best.Seq, true
}

// wantPages waits until user's following1… in the DHT are exactly pages
// (all with one seq, and no page after them, unless more is set: pages
// beyond those given may exist) and returns their seq.
func wantPages(t *testing.T, tn *testnet, user string, pages ...[]string) int64 {
	t.Helper()
	var seq int64
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		last = ""
		seq = -1
		for i, want := range pages {
			got, s, found := dhtPage(t, tn, user, i+1)
			last += fmt.Sprintf(" following%d=%v(seq %d, found %v)", i+1, got, s, found)
			if !found || !slices.Equal(got, want) || (seq >= 0 && s != seq) {
				ok = false
				break
			}
			seq = s
		}
		if ok {
			if got, s, found := dhtPage(t, tn, user, len(pages)+1); found && (len(got) > 0 || s >= seq) {
				t.Fatalf("%s/following%d is %v (seq %d) after a list of %d pages", user, len(pages)+1, got, s, len(pages))
			}
			return seq
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's following pages in the DHT:%s; want %v", user, last, pages)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// twisterdPage waits until a native twisterd reads user's following<page>
// with its dhtget RPC as exactly want, signed by user.
func (d *twisterd) wantPage(user string, page int, want []string) {
	d.t.Helper()
	var last any
	deadline := time.Now().Add(20 * time.Second)
	for {
		var items []struct {
			P struct {
				V   []string
				Seq int64
			}
			SigUser string `json:"sig_user"`
		}
		d.rpc(&items, "dhtget", user, fmt.Sprintf("following%d", page), "s")
		if len(items) == 1 && items[0].SigUser == user && slices.Equal(items[0].P.V, want) {
			return
		}
		last = items
		if time.Now().After(deadline) {
			d.t.Fatalf("twisterd's dhtget %s following%d: %+v; want %v", user, page, last, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantResult(t *testing.T, r *FollowResult, err error, user string, following, public bool, puts ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	if r.User != user || r.Following != following || r.Public != public || len(r.PutErrors) > 0 || !slices.Equal(r.Puts, puts) {
		t.Fatalf("result %+v; want user %s following %v public %v puts %v", r, user, following, public, puts)
	}
}

// A browser user's public follows are published as following<n> items
// with twisterd's format, private ones are not, unfollows and switches
// are republished, emptied pages are overwritten, and a native twisterd
// reads the same lists with dhtget; the flags and the seq survive a
// restart, and a save from elsewhere with a higher seq is gone past.
func TestFollowingPublished(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a native twisterd")
	}
	tn := newTestnet(t, "alice", "bob", "carol", "dave", "erin", "frank")
	d := startTwisterd(t, tn, "127.0.97.3")
	store := NewMemStore()
	w, _ := tn.newWebnode(nil, func(c *Config) { c.Store = store })
	ctx := ctxT(t, 150*time.Second)
	start := time.Now()

	// Logged out: kept on the device, nothing published.
	r, err := w.FollowUser(ctx, "erin", true)
	wantResult(t, r, err, "erin", true, true)
	if !r.Unpublished {
		t.Errorf("a public follow while logged out is not reported unpublished: %+v", r)
	}
	r, err = w.UnfollowUser(ctx, "erin")
	wantResult(t, r, err, "erin", false, false)
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	if _, _, found := dhtPage(t, tn, "alice", 1); found {
		t.Fatal("alice/following1 put before any follow while logged in")
	}

	r, err = w.FollowUser(ctx, "carol", true)
	wantResult(t, r, err, "carol", true, true, "alice/following1")
	seq1 := wantPages(t, tn, "alice", []string{"carol"})
	if now := time.Now().Unix(); seq1 < now-60 || seq1 > now+1 {
		t.Errorf("seq %d: want the time (%d) as the native node", seq1, now)
	}

	// Private: nothing put, the public list unchanged.
	r, err = w.FollowUser(ctx, "dave", false)
	wantResult(t, r, err, "dave", true, false)
	if got := wantPages(t, tn, "alice", []string{"carol"}); got != seq1 {
		t.Errorf("following1 put again (seq %d → %d) for a private follow", seq1, got)
	}
	if !slices.Equal(w.Following(), []string{"carol", "dave"}) {
		t.Errorf("following %v", w.Following())
	}

	r, err = w.FollowUser(ctx, "bob", true)
	wantResult(t, r, err, "bob", true, true, "alice/following1")
	seq2 := wantPages(t, tn, "alice", []string{"bob", "carol"})
	if seq2 <= seq1 {
		t.Errorf("seq %d after %d", seq2, seq1)
	}
	d.wantPage("alice", 1, []string{"bob", "carol"})
	if got := w.Follows(); !slices.Equal(got, []Follow{{"bob", true}, {"carol", true}, {"dave", false}}) {
		t.Errorf("follows %+v", got)
	}

	// Unfollowing a public follow removes it.
	r, err = w.UnfollowUser(ctx, "carol")
	wantResult(t, r, err, "carol", false, false, "alice/following1")
	seq3 := wantPages(t, tn, "alice", []string{"bob"})
	d.wantPage("alice", 1, []string{"bob"})

	// Switching dave to public and back.
	r, err = w.FollowUser(ctx, "dave", true)
	wantResult(t, r, err, "dave", true, true, "alice/following1")
	wantPages(t, tn, "alice", []string{"bob", "dave"})
	d.wantPage("alice", 1, []string{"bob", "dave"})
	r, err = w.FollowUser(ctx, "dave", false)
	wantResult(t, r, err, "dave", true, false, "alice/following1")
	seq4 := wantPages(t, tn, "alice", []string{"bob"})
	if seq4 <= seq3 {
		t.Errorf("seq %d after %d", seq4, seq3)
	}
	// Unfollowing a private follow publishes nothing.
	r, err = w.UnfollowUser(ctx, "dave")
	wantResult(t, r, err, "dave", false, false)

	// The last public follow gone: following1 is emptied, not left.
	r, err = w.UnfollowUser(ctx, "bob")
	wantResult(t, r, err, "bob", false, false, "alice/following1")
	wantPages(t, tn, "alice", []string{})
	d.wantPage("alice", 1, []string{})

	// Several pages (2 names a page here; 200 in twister).
	w.fs.pubMu.Lock()
	w.fs.pageSize = 2
	w.fs.pubMu.Unlock()
	for _, u := range []string{"bob", "carol", "dave", "erin", "frank"} {
		if _, err := w.FollowUser(ctx, u, true); err != nil {
			t.Fatal(err)
		}
	}
	wantPages(t, tn, "alice", []string{"bob", "carol"}, []string{"dave", "erin"}, []string{"frank"})
	d.wantPage("alice", 3, []string{"frank"})
	// Changes made on a node restarted before alice logs in again (her
	// set, alice not logged out) are published at her next login, and
	// the pages the shorter list no longer fills are overwritten with
	// empty ones (twister-html reads on after a non-empty page).
	w.Close()
	w, _ = tn.newWebnode(nil, func(c *Config) { c.Store = store })
	w.fs.pubMu.Lock()
	w.fs.pageSize = 2
	w.fs.pubMu.Unlock()
	for _, u := range []string{"dave", "erin"} {
		r, err := w.UnfollowUser(ctx, u)
		wantResult(t, r, err, u, false, false)
		if !r.Unpublished {
			t.Errorf("unfollowing %s logged out: %+v", u, r)
		}
	}
	r, err = w.FollowUser(ctx, "frank", false)
	wantResult(t, r, err, "frank", true, false)
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	seq5 := wantPages(t, tn, "alice", []string{"bob", "carol"}, []string{}, []string{})
	d.wantPage("alice", 2, []string{})
	d.wantPage("alice", 3, []string{})
	other, _ := tn.newWebnode(nil, nil)
	if got, err := other.UserFollowing(ctx, "alice"); err != nil || !slices.Equal(got, []string{"bob", "carol"}) {
		t.Errorf("another browser node reads alice's following as %v %v", got, err)
	}
	t.Logf("publications checked in %v", time.Since(start).Round(time.Millisecond))

	// A restart keeps the flags; a save made elsewhere with a higher seq
	// (another device) is gone past at the next publication.
	w.Close()
	w2, _ := tn.newWebnode(nil, func(c *Config) { c.Store = store })
	if got := w2.Follows(); !slices.Equal(got, []Follow{{"bob", true}, {"carol", true}, {"frank", false}}) {
		t.Fatalf("follows after a restart: %+v", got)
	}
	w2.fs.pubMu.Lock()
	w2.fs.pageSize = 2
	w2.fs.pubMu.Unlock()
	if err := w2.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	// The login's read of the list finds the one published here: nothing
	// to merge.
	if fs := waitFollowSync(t, w2, "alice"); fs.Merged || len(fs.Added) > 0 || fs.Seq != seq5 {
		t.Errorf("login read of alice's own list: %+v (seq %d)", fs, seq5)
	}
	elsewhere := seq5 + 10000
	if err := w2.putItem(ctx, w2.currentSigner(), put{name: "alice", res: resource.Following(1), seq: elsewhere}, names("erin")); err != nil {
		t.Fatal(err)
	}
	wantPages(t, tn, "alice", []string{"erin"})
	// The next publication reads the newer list first and merges it:
	// erin (unfollowed here before the list of seq5 was published, so
	// not a name dropped since) is followed publicly.
	r, err = w2.FollowUser(ctx, "frank", true)
	wantResult(t, r, err, "frank", true, true, "alice/following1", "alice/following2", "alice/following3")
	if got := wantPages(t, tn, "alice", []string{"bob", "carol"}, []string{"erin", "frank"}, []string{}); got <= elsewhere {
		t.Errorf("seq %d is not past the other save's %d", got, elsewhere)
	}
	if got := w2.Follows(); !slices.Equal(got, []Follow{{"bob", true}, {"carol", true}, {"erin", true}, {"frank", true}}) {
		t.Errorf("follows after merging a list saved elsewhere: %+v", got)
	}
	if fs := w2.FollowSync(); fs == nil || fs.State != FollowSyncDone || !fs.Merged || fs.Seq != elsewhere || !slices.Equal(fs.Added, []string{"erin"}) {
		t.Errorf("follow sync after the merge at a publication: %+v", fs)
	}
	d.wantPage("alice", 1, []string{"bob", "carol"})
	d.wantPage("alice", 2, []string{"erin", "frank"})
}

// waitFollowSync waits until w's read of user's following list since the
// login has ended and returns its state, which must be FollowSyncDone.
func waitFollowSync(t *testing.T, w *Node, user string) *FollowSync {
	t.Helper()
	var fs *FollowSync
	waitFor(t, 20*time.Second, user+"'s following list read at login", func() bool {
		fs = w.FollowSync()
		return fs != nil && fs.User == user && fs.State != FollowSyncLoading
	})
	if fs.State != FollowSyncDone {
		t.Fatalf("reading %s's following list: %+v", user, fs)
	}
	return fs
}

// refusePuts is a bridge whose DHT puts fail while refuse is set; it
// counts the puts passed on.
type refusePuts struct {
	Bridge
	refuse atomic.Bool
	puts   atomic.Int32
}

func (r *refusePuts) PutData(ctx context.Context, p, sigP []byte, sigUser string) (bool, error) {
	if r.refuse.Load() {
		return false, errors.New("test: puts refused")
	}
	r.puts.Add(1)
	return r.Bridge.PutData(ctx, p, sigP, sigUser)
}

// A publication that fails is reported and kept on the device, and the
// retry (run at login and by the sync loop) puts the list once the
// bridge takes puts again; with nothing changed it puts nothing.
func TestFollowingRetried(t *testing.T) {
	tn := newTestnet(t, "alice", "bob")
	br := &refusePuts{Bridge: mustPool(t, tn.URL)}
	w, _ := tn.newWebnode(br, nil)
	ctx := ctxT(t, 60*time.Second)
	if err := w.LoginSecret(ctx, "alice", userKey("alice").Secret()); err != nil {
		t.Fatal(err)
	}
	br.refuse.Store(true)
	r, err := w.FollowUser(ctx, "bob", true)
	if err != nil || !r.Following || !r.Public || !slices.Equal(r.PutErrors, []string{"alice/following1: test: puts refused"}) {
		t.Fatalf("follow with puts refused: %+v %v", r, err)
	}
	if !slices.Equal(w.Following(), []string{"bob"}) {
		t.Fatalf("following %v", w.Following())
	}
	if _, _, found := dhtPage(t, tn, "alice", 1); found {
		t.Fatal("following1 in the DHT although its put was refused")
	}
	br.refuse.Store(false)
	w.retryFollowing(ctx)
	wantPages(t, tn, "alice", []string{"bob"})
	n := br.puts.Load()
	w.retryFollowing(ctx)
	if got := br.puts.Load(); got != n {
		t.Errorf("a retry with nothing to publish made %d puts", got-n)
	}
}
