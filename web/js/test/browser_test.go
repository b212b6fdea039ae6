//go:build !js

package browsertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/webnode/webnodetest"
)

const chromiumPath = "/usr/bin/chromium"

// repoRoot is the module root (three levels up from web/js/test).
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// buildWasm compiles ./wasm for js/wasm into dir (GOFLAGS and the rest of
// the environment are inherited).
func buildWasm(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "twister.wasm")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "build", "-ldflags=-s -w", "-o", out, "./wasm")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the wasm: %v\n%s", err, b)
	}
	return out
}

func gzipSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

// TestBrowserNode runs the browser node in headless Chromium against a
// real regtest network on loopback: the page logs in, follows a native
// user with 1,000 posts and shows them all verified; then it posts and the
// native node receives the post; then the page is opened again (wasm
// cached, posts in IndexedDB) and its timeline timed.
func TestBrowserNode(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("headless Chromium test skipped: %s not found (apt-get install chromium)", chromiumPath)
	}
	dir := t.TempDir()
	wasmFile := buildWasm(t, dir)
	wasmBytes, err := os.ReadFile(wasmFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("twister.wasm: %d bytes raw, %d bytes gzip -9", len(wasmBytes), gzipSize(wasmBytes))

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

	// One origin serves the page, the worker, the wasm and the bridge.
	mux := http.NewServeMux()
	mux.Handle("/ws", tn.Bridge)
	mux.HandleFunc("/twister.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeFile(w, r, wasmFile)
	})
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
	})
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(repoRoot(t), "web", "js"))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	origin := "http://" + ln.Addr().String()
	bridgeURL := "ws://" + ln.Addr().String() + "/ws"

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	var console bytes.Buffer
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) { fmt.Fprintf(&console, f+"\n", a...) }))
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
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
	if testing.Verbose() && console.Len() > 0 {
		t.Logf("browser log:\n%s", console.String())
	}
}
