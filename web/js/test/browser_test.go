//go:build !js

package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/webnode/webnodetest"
)

// TestBrowserNode runs the browser node in headless Chromium against a
// real regtest network on loopback: the page logs in, follows a native
// user with 1,000 posts and shows them all verified; then it posts and the
// native node receives the post; then the page is opened again (wasm
// cached, posts in IndexedDB) and its timeline timed.
func TestBrowserNode(t *testing.T) {
	needChromium(t)
	if wasm, err := os.ReadFile(sharedWasm(t)); err == nil {
		t.Logf("twister.wasm: %d bytes raw, %d bytes gzip -9", len(wasm), gzipSize(wasm))
	}

	// The network: alice posts 1,000 times (post numbers up to 999 need
	// the tip 490 blocks past her registration).
	const nPosts = 1000
	tn := webnodetest.New(t, "alice", "webby")
	tn.Mine(490)
	alice := tn.NewNative(2, 1, true)
	for k := range int64(nPosts) {
		if err := alice.AddPost("alice", k, tn.MakePost("alice", k, fmt.Sprintf("post %d from a native node", k))); err != nil {
			t.Fatal(err)
		}
	}

	origin := newSite(t)
	bridgeURL := tn.URL
	bctx := sharedBrowser(t)
	// A tab of its own browser context: IndexedDB and the HTTP cache last
	// across the navigations below, and nothing is shared with other tests.
	tctx, cancelT := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer cancelT()
	ctx, cancel := context.WithTimeout(tctx, 4*time.Minute)
	defer cancel()

	eval := func(expr string, out any) {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		if out != nil {
			b := fmt.Sprint(v)
			if p, ok := out.(*string); ok {
				*p = b
			}
		}
	}
	num := func(expr string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	waitPage := func(what, cond string, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
			if err == nil && ok {
				return
			}
			errs, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.state ? state.errors.join("\n") : ""`))
			if errs != "" {
				t.Fatalf("page error while waiting for %s:\n%s", what, errs)
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s (last error %v)", d, what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	q := url.Values{"bridge": {bridgeURL}, "db": {"e2e"}, "user": {"webby"},
		"secret": {webnodetest.UserKey("webby").Secret()}, "follow": {"alice"}, "expect": {fmt.Sprint(nPosts)}}
	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/test/index.html?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	waitPage("the node to start, log in and follow", `window.state && state.phase === "ready"`, 90*time.Second)
	waitPage("alice's 1,000 posts rendered", fmt.Sprintf(`window.state && state.rendered >= %d`, nPosts), 120*time.Second)
	bad := num(`document.querySelectorAll('#timeline li:not([data-verified="true"]), #timeline li:not([data-user="alice"])').length`)
	if n := num(`document.querySelectorAll('#timeline li').length`); n != nPosts || bad != 0 {
		t.Fatalf("%v posts rendered, %v not verified alice posts", n, bad)
	}
	var first string
	eval(`document.querySelector('#timeline li').textContent`, &first)
	if first != fmt.Sprintf("alice: post %d from a native node", nPosts-1) {
		t.Errorf("newest post rendered as %q", first)
	}
	started, follow, full := num(`state.t.started`), num(`state.t.follow`), num(`state.t.full`)
	t.Logf("first visit: node started %.0f ms after navigation; 1,000 posts fetched through the bridge, verified and rendered %.0f ms after follow", started, full-follow)
	var rv string
	eval(`tw.reverify().then(r => JSON.stringify(r))`, &rv)
	t.Logf("re-verifying the held posts in the worker: %s", rv)

	// The page posts; the native node, following webby, receives it.
	if err := alice.Follow("webby"); err != nil {
		t.Fatal(err)
	}
	var res string
	eval(`tw.post("hello from chromium #e2e").then(r => JSON.stringify(r))`, &res)
	if !strings.Contains(res, `"id":"webby/0"`) {
		t.Fatalf("post result %s", res)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !alice.Has("webby", 0) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the browser's post at the native node")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, _ := alice.Post("webby", 0)
	if p, err := post.Validate(got, "webby", 0, tn.Chain); err != nil || p.Text() != "hello from chromium #e2e" {
		t.Fatalf("native node holds %v, %v", p, err)
	}

	// Open the page again: the wasm comes from the HTTP cache and the
	// timeline from IndexedDB, before any network lookups.
	q2 := url.Values{"bridge": {bridgeURL}, "db": {"e2e"}}
	for i := range 2 {
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/test/index.html?"+q2.Encode())); err != nil {
			t.Fatal(err)
		}
		waitPage("the reopened page", `window.state && state.phase === "ready"`, 60*time.Second)
		fc, fr := num(`state.firstCount`), num(`state.t.firstRender`)
		if fc < nPosts {
			t.Fatalf("reopened page rendered %v posts from the store", fc)
		}
		t.Logf("reopen %d (wasm cached, posts in IndexedDB): %v posts rendered %.0f ms after navigation", i+1, fc, fr)
	}
}
