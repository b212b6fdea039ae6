//go:build !js

package browsertest

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/dht"
	"github.com/gotwister/twister/dm"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/webnode/webnodetest"
)

// benchPosts is how many posts each way the delivery measurements time:
// 30 with TWISTER_BROWSER_BENCH=1, else a quick 5.
func benchPosts() int {
	if os.Getenv("TWISTER_BROWSER_BENCH") != "" {
		return 30
	}
	return 5
}

func secret(user string) string { return webnodetest.UserKey(user).Secret() }

// deliveries has from post n times and times each post until the newPost
// event in to (both pages' clocks are this machine's): the post's time is
// taken in from just before tw.post, the arrival in to's event handler.
func deliveries(t *testing.T, from, to *page, n int, label string) []float64 {
	t.Helper()
	var ms []float64
	for i := range n {
		var r struct {
			T  float64 `json:"t"`
			ID string  `json:"id"`
		}
		from.eval(fmt.Sprintf(`(async () => { const t = now(); const r = await tw.post(%s); return {t, id: r.post.id}; })()`,
			js(fmt.Sprintf("%s %d", label, i))), &r)
		to.wait("post "+r.ID, fmt.Sprintf(`arrived(%s) > 0`, js(r.ID)), 30*time.Second)
		var at float64
		to.eval(fmt.Sprintf(`arrived(%s)`, js(r.ID)), &at)
		ms = append(ms, at-r.T)
	}
	return ms
}

// pct returns the p-th percentile (nearest rank) of v.
func pct(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func report(t *testing.T, what string, v []float64) {
	t.Logf("%s: %d posts, p50 %.0f ms, p99 %.0f ms, min %.0f ms, max %.0f ms", what, len(v), pct(v, 50), pct(v, 99), slices.Min(v), slices.Max(v))
}

// twoBrowsers starts alice's and bob's nodes in two pages (separate
// browser contexts: separate nodes), logged in.
func twoBrowsers(t *testing.T, tn *webnodetest.Net, opts map[string]any) (a, b *page) {
	origin := newSite(t)
	a = newPage(t, "A", origin+"/test/node.html")
	b = newPage(t, "B", origin+"/test/node.html")
	a.start(opts)
	b.start(opts)
	a.eval(fmt.Sprintf(`tw.login("alice", %s)`, js(secret("alice"))), nil)
	b.eval(fmt.Sprintf(`tw.login("bob", %s)`, js(secret("bob"))), nil)
	return a, b
}

// (a) Browser A posts and browser B, following A's user, shows it: over
// WebRTC between the two pages, with the bridge refusing every swarm dial
// so that nothing else can carry it. Then the other way round (A follows
// B), and delivery times both ways.
func TestBrowserWebRTC(t *testing.T) {
	needChromium(t)
	tn := webnodetest.New(t, "alice", "bob")
	tn.Mine(40) // room for the posts of the measurement
	tn.BlockDials.Store(true)
	a, b := twoBrowsers(t, tn, map[string]any{"bridges": []string{tn.URL}, "signaling": tn.SignalURL, "webrtc": true})

	a.eval(`tw.post("hello over WebRTC")`, nil)
	b.eval(`tw.follow("alice")`, nil)
	b.wait("alice's first post at B", `arrived("alice/0") > 0`, 40*time.Second)
	var tl []struct{ ID, Text string }
	b.eval(`tw.timeline({users: ["alice"]})`, &tl)
	if len(tl) != 1 || tl[0].Text != "hello over WebRTC" {
		t.Fatalf("B's timeline of alice: %+v", tl)
	}
	n := benchPosts()
	ab := deliveries(t, a, b, n, "A to B over WebRTC")
	a.eval(`tw.follow("bob")`, nil)
	b.eval(`tw.post("hello back")`, nil)
	a.wait("bob's first post at A", `arrived("bob/0") > 0`, 40*time.Second)
	ba := deliveries(t, b, a, n, "B to A over WebRTC")
	report(t, "delivery A→B over WebRTC", ab)
	report(t, "delivery B→A over WebRTC", ba)
	report(t, "delivery over WebRTC, both ways", append(ab, ba...))

	for _, p := range []*page{a, b} {
		st := p.status()
		t.Logf("%s: transports %+v, webrtc %+v", p.name, st.Transports, st.WebRTC)
		if st.WebRTC == nil || st.WebRTC.Signaling != "connected" || st.WebRTC.PeerConnections != 1 {
			t.Errorf("%s: webrtc status %+v", p.name, st.WebRTC)
		}
		if st.Transports.Bridge.Opened != 0 {
			t.Errorf("%s: %d bridge swarm streams; the bridge path was closed", p.name, st.Transports.Bridge.Opened)
		}
		if st.Transports.WebRTC.Open != 2 || st.Transports.WebRTC.BytesIn == 0 {
			t.Errorf("%s: webrtc transport %+v, want 2 channels with traffic", p.name, st.Transports.WebRTC)
		}
		if st.Received < uint64(n) {
			t.Errorf("%s: received %d pieces", p.name, st.Received)
		}
	}
}

// (a) The same with WebRTC disabled: B gets A's posts through the bridge
// (and the native swarm behind it, where a native node follows alice too).
func TestBrowserBridgePath(t *testing.T) {
	needChromium(t)
	tn := webnodetest.New(t, "alice", "bob")
	tn.Mine(40)
	native := tn.NewNative(2, 1, true)
	if err := native.Follow("alice"); err != nil {
		t.Fatal(err)
	}
	a, b := twoBrowsers(t, tn, map[string]any{"bridges": []string{tn.URL}})
	a.eval(`tw.post("hello through the bridge")`, nil)
	b.eval(`tw.follow("alice")`, nil)
	b.wait("alice's first post at B", `arrived("alice/0") > 0`, 40*time.Second)
	n := benchPosts()
	ab := deliveries(t, a, b, n, "A to B through the bridge")
	a.eval(`tw.follow("bob")`, nil)
	b.eval(`tw.post("hello back")`, nil)
	a.wait("bob's first post at A", `arrived("bob/0") > 0`, 40*time.Second)
	ba := deliveries(t, b, a, n, "B to A through the bridge")
	report(t, "delivery A→B through the bridge", ab)
	report(t, "delivery B→A through the bridge", ba)
	report(t, "delivery through the bridge, both ways", append(ab, ba...))
	deadline := time.Now().Add(20 * time.Second)
	for !native.Has("alice", int64(n)) {
		if time.Now().After(deadline) {
			t.Fatal("the native node following alice did not get her posts")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range []*page{a, b} {
		st := p.status()
		t.Logf("%s: transports %+v", p.name, st.Transports)
		if st.WebRTC != nil || st.Transports.WebRTC.Opened != 0 {
			t.Errorf("%s: WebRTC in use: %+v %+v", p.name, st.WebRTC, st.Transports.WebRTC)
		}
		if st.Transports.Bridge.BytesIn == 0 {
			t.Errorf("%s: no bridge swarm traffic: %+v", p.name, st.Transports.Bridge)
		}
	}
}

// (b) A native node's user (carol) and a browser user (webby) follow each
// other and exchange posts and direct messages both ways; (c) a profile
// set in the browser is read from the DHT by a native DHT node.
func TestBrowserNativeUser(t *testing.T) {
	needChromium(t)
	tn := webnodetest.New(t, "carol", "webby")
	tn.Mine(10)
	carol := tn.NewNative(2, 1, true)
	if err := carol.AddPost("carol", 0, tn.MakePost("carol", 0, "carol from a native node")); err != nil {
		t.Fatal(err)
	}
	if err := carol.Follow("webby"); err != nil {
		t.Fatal(err)
	}
	origin := newSite(t)
	w := newPage(t, "webby", origin+"/test/node.html")
	w.start(map[string]any{"bridges": []string{tn.URL}})
	w.eval(fmt.Sprintf(`tw.login("webby", %s)`, js(secret("webby"))), nil)
	w.eval(`tw.follow("carol")`, nil)
	w.wait("carol's post in the browser", `arrived("carol/0") > 0`, 30*time.Second)

	// Browser → native: a post.
	var res struct{ Post struct{ ID string } }
	w.eval(`tw.post("webby from chromium")`, &res)
	_, k, _ := cutID(t, res.Post.ID)
	waitNative(t, "webby's post at carol's node", func() bool { return carol.Has("webby", k) })
	if data, _ := carol.Post("webby", k); true {
		p, err := post.Validate(data, "webby", k, tn.Chain)
		if err != nil || p.Text() != "webby from chromium" {
			t.Fatalf("native node holds %v, %v", p, err)
		}
	}

	// Native → browser: a direct message sealed to webby's key.
	dmPost, err := post.NewDM(webnodetest.UserKey("carol"), "carol", 1, time.Now().Unix(), tn.Chain.Height()-1,
		webnodetest.UserKey("webby").PubKey(), "webby", "psst webby, carol here")
	if err != nil {
		t.Fatal(err)
	}
	if err := carol.AddPost("carol", 1, dmPost); err != nil {
		t.Fatal(err)
	}
	w.wait("carol's DM in the browser", `events.some(e => e.ev === "dm" && e.data.from === "carol" && e.data.text === "psst webby, carol here")`, 30*time.Second)
	var conv []struct {
		From, To, Text string
		Mine           bool
	}
	w.eval(`tw.dms("carol")`, &conv)
	if len(conv) != 1 || conv[0].From != "carol" || conv[0].Text != "psst webby, carol here" {
		t.Fatalf("conversation with carol: %+v", conv)
	}

	// Browser → native: a direct message carol's key opens.
	var sent struct{ ID string }
	w.eval(`tw.dm("carol", "psst carol, from chromium")`, &sent)
	_, dk, _ := cutID(t, sent.ID)
	waitNative(t, "webby's DM at carol's node", func() bool { return carol.Has("webby", dk) })
	data, _ := carol.Post("webby", dk)
	p, err := post.Validate(data, "webby", dk, tn.Chain)
	if err != nil || p.DM == nil {
		t.Fatalf("webby's DM at the native node: %v %v", p, err)
	}
	pt, err := dm.Decrypt(webnodetest.UserKey("carol"), *p.DM)
	if err != nil {
		t.Fatalf("carol cannot open webby's DM: %v", err)
	}
	if m, err := dm.ParsePlaintext(pt); err != nil || m.Text != "psst carol, from chromium" || m.To != "carol" {
		t.Fatalf("DM plaintext %+v %v", m, err)
	}

	// (c) A profile set in the browser, read by a native DHT node.
	w.eval(`tw.setProfile({fields: {fullname: "Web By", bio: "set in chromium"}})`, nil)
	ctx := t.Context()
	var got bencode.Value
	waitNative(t, "webby's profile in the DHT", func() bool {
		items, err := tn.DHTs[3].Get(ctx, "webby", "profile", false, dht.GetOptions{Timeout: 3 * time.Second})
		for _, it := range items {
			if it.SigUser != "webby" {
				continue
			}
			if d, err := bencode.Decode(it.P); err == nil {
				if v, ok := d.Get("v"); ok {
					got = v
					return true
				}
			}
		}
		_ = err
		return false
	})
	if fn, _ := got.GetString("fullname"); fn != "Web By" {
		t.Fatalf("profile read natively: %v", got)
	}
	if bio, _ := got.GetString("bio"); bio != "set in chromium" {
		t.Fatalf("profile read natively: %v", got)
	}
}

// (d) A bridge is killed and the browser continues through the other one:
// posts keep arriving.
func TestBrowserFailover(t *testing.T) {
	needChromium(t)
	tn := webnodetest.New(t, "alice")
	alice := tn.NewNative(2, 1, true)
	if err := alice.AddPost("alice", 0, tn.MakePost("alice", 0, "before the failover")); err != nil {
		t.Fatal(err)
	}
	b2 := tn.AddBridge(1, 5)
	origin := newSite(t)
	w := newPage(t, "W", origin+"/test/node.html")
	w.start(map[string]any{"bridges": []string{b2.URL, tn.URL}})
	w.eval(`tw.follow("alice")`, nil)
	w.wait("alice's post through the first bridge", `arrived("alice/0") > 0`, 30*time.Second)
	st := w.status()
	if !bridgeState(st, b2.URL, "connected") {
		t.Fatalf("bridges before the failover: %+v", st.Bridges)
	}
	b2.Kill()
	killed := time.Now()
	if err := alice.AddPost("alice", 1, tn.MakePost("alice", 1, "after the failover")); err != nil {
		t.Fatal(err)
	}
	w.wait("alice's post after the failover", `arrived("alice/1") > 0`, 40*time.Second)
	t.Logf("post after the failover arrived %v after the bridge was killed", time.Since(killed).Round(time.Millisecond))
	st = w.status()
	if !bridgeState(st, tn.URL, "connected") || bridgeState(st, b2.URL, "connected") {
		t.Fatalf("bridges after the failover: %+v", st.Bridges)
	}
	if err := alice.AddPost("alice", 2, tn.MakePost("alice", 2, "and another")); err != nil {
		t.Fatal(err)
	}
	w.wait("a second post after the failover", `arrived("alice/2") > 0`, 30*time.Second)
}

func bridgeState(st status, url, state string) bool {
	for _, b := range st.Bridges {
		if b.Bridge == url {
			return b.State == state
		}
	}
	return false
}

func cutID(t *testing.T, id string) (string, int64, bool) {
	t.Helper()
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '/' {
			k, err := strconv.ParseInt(id[i+1:], 10, 64)
			if err != nil {
				t.Fatalf("post id %q", id)
			}
			return id[:i], k, true
		}
	}
	t.Fatalf("post id %q", id)
	return "", 0, false
}

func waitNative(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
