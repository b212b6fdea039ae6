//go:build !js

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gotwister/twister/web"
)

const chromiumPath = "/usr/bin/chromium"

// moduleRoot is the repository root (web/e2e is two levels down).
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildWasm compiles ./wasm for js/wasm into dir, or returns
// $TWISTER_WASM (a prebuilt twister.wasm) if set.
func buildWasm(t testing.TB, dir string) string {
	t.Helper()
	if w := os.Getenv("TWISTER_WASM"); w != "" {
		if _, err := os.Stat(w); err != nil {
			t.Fatalf("TWISTER_WASM: %v", err)
		}
		return w
	}
	out := filepath.Join(dir, "twister.wasm")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-ldflags=-s -w", "-o", out, "./wasm")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the wasm: %v\n%s", err, b)
	}
	return out
}

// withWasm is web.FS with js/twister.wasm from the fresh build (and no
// stale pre-compressed copy).
type withWasm struct {
	fs.FS
	wasm string
}

func (w withWasm) Open(name string) (fs.File, error) {
	switch name {
	case "js/twister.wasm":
		return os.Open(w.wasm)
	case "js/twister.wasm.gz":
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	// $TWISTER_WEB_APP: a copy of web/app served instead of the embedded
	// one (edits without rebuilding; checking that a broken app fails).
	if dir := os.Getenv("TWISTER_WEB_APP"); dir != "" {
		if name == "app" {
			return os.DirFS(dir).Open(".")
		}
		if rest, ok := strings.CutPrefix(name, "app/"); ok {
			return os.DirFS(dir).Open(rest)
		}
	}
	return w.FS.Open(name)
}

// screenshotDir is $TWISTER_SCREENSHOTS or web/e2e/out.
func screenshotDir(t testing.TB) string {
	dir := os.Getenv("TWISTER_SCREENSHOTS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium with one tab.
type browser struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	console *bytes.Buffer
}

func newBrowser(t *testing.T, profile string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	var console bytes.Buffer
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) { fmt.Fprintf(&console, f+"\n", a...) }))
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v", err)
	}
	// The page's console and uncaught exceptions, for failure reports.
	chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			fmt.Fprintf(&console, "console.%s: %s\n", e.Type, strings.Join(parts, " "))
		case *cdpruntime.EventExceptionThrown:
			if d := e.ExceptionDetails; d != nil {
				desc := d.Text
				if d.Exception != nil {
					desc += " " + d.Exception.Description
				}
				fmt.Fprintf(&console, "exception: %s\n", desc)
			}
		}
	})
	return &browser{t: t, ctx: bctx, shots: screenshotDir(t), console: &console}
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("browser action: %v", err)
	}
}

func (b *browser) eval(expr string) any {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) str(expr string) string { b.t.Helper(); return fmt.Sprint(b.eval(expr)) }

// fail saves a screenshot and the page's state, then fails the test.
func (b *browser) fail(format string, a ...any) {
	b.t.Helper()
	name := "FAILED-" + strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644)
	}
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.querySelector("#main") || document.body).innerText.slice(0, 3000) +
	  "\ntoasts: " + ((document.querySelector("#toasts") || {}).innerText || "") +
	  [...document.querySelectorAll(".twister-widget, #tags")].map(w => "\nwidget: " + (w.shadowRoot ? w.shadowRoot.textContent : "") + " " + JSON.stringify(w.dataset)).join("")`))
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.twisterApi ? twisterApi.status().then(s => JSON.stringify(s)) : ""`, chromedp.EvalAwaitPromise)); err == nil && st != "" {
		state += "\nnode status: " + st
	}
	if b.console.Len() > 0 {
		state += "\nconsole:\n" + b.console.String()
	}
	b.t.Fatalf(format+"\npage: %s", append(a, state)...)
}

// wait polls a JavaScript condition until it is true.
func (b *browser) wait(what, cond string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fail("timed out after %v waiting for %s (%s; last error %v)", d, what, cond, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// route opens a page of the app (again, if it is the current one) and
// waits until it has rendered: a marker left in the old page is gone (the
// router empties #main first) and the page is no longer busy.
func (b *browser) route(hash string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { const m = document.createElement("i"); m.id = "e2e-stale"; m.hidden = true; document.querySelector("#main").append(m);
	  if (location.hash === %q) dispatchEvent(new HashChangeEvent("hashchange")); else location.hash = %q; })()`, hash, hash))
	b.wait("page "+hash, fmt.Sprintf(`location.hash === %q && !document.querySelector("#e2e-stale") && !document.querySelector("#main").hasAttribute("aria-busy")`, hash), 30*time.Second)
}

// click clicks the first element matching sel (optionally with text).
func (b *browser) click(sel, text string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const els = [...document.querySelectorAll(%q)].filter(e => !%q || e.textContent.trim() === %q);
	  if (!els.length) return false; els[0].scrollIntoView({block: "center"}); els[0].click(); return true; })()`, sel, text, text)
	b.wait("clickable "+sel+" "+text, js, 30*time.Second)
}

// fill sets an input's value as typing would.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.wait("field "+sel, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
	  e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, sel, value), 20*time.Second)
}

// typeInto types text with the keyboard (real key events) and presses Enter.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.wait("field "+sel, fmt.Sprintf(`document.querySelector(%q)`, sel), 20*time.Second)
	b.do(chromedp.Focus(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text), pressEnter())
}

// pressEnter presses and releases Enter as a keyboard does (keyDown with
// its text, keyUp), without the separate "char" event that would insert
// a line break even when the page handles the keyDown.
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text = "\r"
				p.UnmodifiedText = "\r"
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// shot saves a full-page screenshot as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	time.Sleep(300 * time.Millisecond) // toasts and images settle
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// Phone screenshots show the screen as a person sees it; desktop ones
	// the whole page from the top.
	b.eval(`window.scrollTo(0, 0)`)
	shot := chromedp.FullScreenshot(100)
	if strings.HasPrefix(name, "phone") || strings.HasPrefix(name, "widget-02") {
		shot = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Error(err)
	}
}

func (b *browser) viewport(w, h int64, mobile bool) {
	b.t.Helper()
	if mobile {
		b.do(chromedp.EmulateViewport(w, h, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	} else {
		b.do(chromedp.EmulateViewport(w, h))
	}
}

type emulateParams struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

var emulateNetworkConditions = cdp.Command[emulateParams, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

// offline emulates a lost network in the page (navigator.onLine false,
// requests fail, service worker included) or restores it.
func (b *browser) offline(off bool) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
			return fmt.Errorf("Network.overrideNetworkState: %w", err)
		}
		// Network.emulateNetworkConditions (deprecated in newer Chromium,
		// present in Debian's 148) cuts the page's and its workers' requests.
		_, err := cdp.Call(ctx, t, emulateNetworkConditions, emulateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
		if err != nil {
			return fmt.Errorf("Network.emulateNetworkConditions: %w", err)
		}
		return nil
	}))
}

// nativePosts returns user's posts held by a native node, by k.
func nativePosts(t testing.TB, n *native, user string) map[int64]map[string]any {
	t.Helper()
	raw, err := n.call("getposts", 100, []map[string]any{{"username": user}})
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Userpost map[string]any `json:"userpost"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("getposts: %v: %s", err, raw)
	}
	out := map[int64]map[string]any{}
	for _, p := range list {
		if k, ok := p.Userpost["k"].(float64); ok {
			out[int64(k)] = p.Userpost
		}
	}
	return out
}

// lastHave is what native n (for its local user local) holds of user.
func lastHave(t testing.TB, n *native, local, user string) int64 {
	t.Helper()
	raw, err := n.call("getlasthave", local)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int64
	json.Unmarshal(raw, &m)
	if v, ok := m[user]; ok {
		return v
	}
	return -1
}

// avatarPNG writes a 200×120 test image.
func avatarPNG(t testing.TB, dir string) string {
	img := image.NewRGBA(image.Rect(0, 0, 200, 120))
	for y := range 120 {
		for x := range 200 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y * 2), 160, 255})
		}
	}
	path := filepath.Join(dir, "avatar.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWebUI runs the web client and the widget in headless Chromium
// against a local twister network: two native twisterd nodes and a bridge,
// all on loopback. The browser user "webby" is registered on native node
// A, whose key is imported into the page (dumpprivkey).
func TestWebUI(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser tests skipped: %s not found (apt-get install chromium)", chromiumPath)
	}
	start := time.Now()
	dir := t.TempDir()
	wasm := buildWasm(t, dir)
	t.Logf("wasm built in %v", time.Since(start).Round(time.Millisecond))

	tn := startNet(t)
	t.Logf("network up in %v (height %d)", time.Since(start).Round(time.Millisecond), tn.A.Chain.Height())
	// Native content: bob (node A) follows webby, so A fetches the
	// browser's posts, and dave (his public following list, in the DHT,
	// suggests dave to webby); bob posts, mentions webby and uses
	// #e2etest; carol and dave (node B) post too; bob sends webby a direct
	// message.
	tn.A.must("follow", "bob", []string{"bob", "webby", "dave"})
	tn.B.must("follow", "carol", []string{"carol", "bob"})
	tn.A.postAs("bob", "hello from bob, welcome @webby #e2etest")
	tn.A.postAs("bob", "a second post from bob about gardening")
	for i := range 20 { // more than one page of the home timeline
		tn.A.postAs("bob", fmt.Sprintf("filler post %d from bob", i+1))
	}
	tn.B.postAs("carol", "carol here on node B, hi @bob #e2etest")
	tn.B.postAs("dave", "dave's first post, from node B")
	dmK := tn.A.Node.LastHave("bob") + 1
	tn.A.must("newdirectmsg", "bob", dmK, "webby", "a secret note for webby")

	site := serve(t, siteHandler(tn, wasm))
	bridgeURL := "ws" + strings.TrimPrefix(site.URL, "http") + "/ws"

	b := newBrowser(t, filepath.Join(dir, "chromium"))
	installPageHooks(b, site.URL)
	t.Run("app", func(t *testing.T) { b.t = t; testApp(t, b, tn, site, bridgeURL, dir) })
	if t.Failed() {
		return
	}
	t.Run("unfollow", func(t *testing.T) { b.t = t; testUnfollow(t, b, tn) })
	t.Run("whotofollow", func(t *testing.T) { b.t = t; testWhoToFollow(t, b, tn) })
	t.Run("publicfollow", func(t *testing.T) { b.t = t; testPublicFollow(t, b, tn) })
	t.Run("promoted", func(t *testing.T) { b.t = t; testPromoted(t, b, tn) })
	t.Run("notifications", func(t *testing.T) { b.t = t; testNotifications(t, b, tn) })
	t.Run("mute", func(t *testing.T) { b.t = t; testMute(t, b, tn) })
	t.Run("drafts", func(t *testing.T) { b.t = t; testDrafts(t, b, tn) })
	var g groupState
	t.Run("group", func(t *testing.T) { b.t = t; g = testGroup(t, b, tn) })
	t.Run("offline", func(t *testing.T) { b.t = t; testOffline(t, b, tn, site, g) })
	t.Run("group-leave", func(t *testing.T) {
		if g.alias == "" {
			t.Skip("no group (the group subtest failed)")
		}
		b.t = t
		testGroupLeave(t, b, g)
	})
	t.Run("register", func(t *testing.T) { b.t = t; testRegister(t, b, tn) })
	// Last in the app: it moves the page to another database (device).
	t.Run("followsync", func(t *testing.T) { b.t = t; testFollowSync(t, b, tn, site.URL, bridgeURL) })
	t.Run("widget", func(t *testing.T) { testWidget(t, tn, site, bridgeURL, dir) })
	if testing.Verbose() && b.console.Len() > 0 {
		t.Logf("browser log:\n%s", b.console.String())
	}
	t.Logf("total %v; screenshots in %s", time.Since(start).Round(time.Millisecond), screenshotDir(t))
}

// siteHandler serves web.Handler (with the fresh wasm) and the bridge.
func siteHandler(tn *testNet, wasm string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", tn.Bridge)
	mux.Handle("/", web.HandlerFS(withWasm{web.FS(), wasm}))
	return mux
}

func testApp(t *testing.T, b *browser, tn *testNet, site *cuttable, bridgeURL, dir string) {
	b.do(chromedp.Navigate(site.URL + "/app/?bridge=" + bridgeURL + "&network=regtest&db=e2e"))
	b.wait("the node to start (welcome page)", `location.hash === "#/welcome" && document.querySelector("#main h1")`, 60*time.Second)
	b.shot("desktop-01-welcome")

	// Import webby's key (from twisterd's dumpprivkey) under a passphrase.
	b.route("#/import")
	b.fill("#imp-user", "webby")
	b.fill("#imp-secret", tn.Secret["webby"])
	b.fill("#imp-pass", "correct horse battery")
	b.fill("#imp-pass2", "correct horse battery")
	b.shot("desktop-02-import")
	b.click("#main form button.primary", "Import and log in")
	b.wait("logged in as webby", `document.querySelector("#whoami").textContent.includes("@webby") && location.hash === "#/home"`, 60*time.Second)
	t.Logf("key store: %s", map[bool]string{true: "the worker's (keystore package)", false: "page-side fallback (WebCrypto)"}[b.str(`String(twisterApi.workerKeys)`) == "true"])

	// Follow bob and carol from their pages.
	for _, u := range []string{"bob", "carol"} {
		b.route("#/user/" + u)
		b.click(`#main button.follow[data-user="`+u+`"]`, "Follow")
		b.wait("following "+u, `document.querySelector('#main button.follow[data-user="`+u+`"]').textContent === "Unfollow"`, 30*time.Second)
	}
	// The posts arrive from the swarms: the home timeline shows them
	// (directly, or behind the "new posts" notice).
	b.route("#/home")
	b.wait("a first page of the home timeline", `document.querySelectorAll("#main .posts article").length >= 20`, 60*time.Second)
	// Scrolling down loads older pages (maxId paging; a page is 20 posts,
	// and the 23 posts held need two).
	b.wait("bob's and carol's posts on the home timeline, verified", `(() => {
	  window.scrollTo(0, document.body.scrollHeight);
	  const n = document.querySelector("#new-posts"); if (n && !n.hidden) n.click();
	  const ok = ["bob/0", "bob/1", "carol/0"].every(id => document.querySelector('#main article.post[data-id="' + id + '"][data-verified="true"]'));
	  if (!ok && !document.querySelector("#main .posts article")) { window.__r = (window.__r || 0) + 1; if (window.__r % 20 === 0) dispatchEvent(new HashChangeEvent("hashchange")); }
	  return ok; })()`, 60*time.Second)
	if n := b.str(`String(document.querySelectorAll("#main .posts article").length)`); n != "23" {
		t.Errorf("home timeline shows %s posts after scrolling, want all 23 held", n)
	}
	b.shot("desktop-03-home")

	// Post with the keyboard: type, Enter sends.
	b.typeInto("#main form.composer textarea", "hello from the browser #e2etest @bob")
	b.wait("own post on the timeline", `document.querySelector('#main article.post[data-id="webby/0"]')`, 60*time.Second)
	waitFor(t, 60*time.Second, "the native node to receive webby/0", func() bool {
		p := nativePosts(t, tn.A, "webby")[0]
		return p != nil && p["msg"] == "hello from the browser #e2etest @bob"
	})

	// Reply to bob/0.
	b.click(`#main article.post[data-id="bob/0"] button.act.reply`, "")
	b.typeInto(`#main article.post[data-id="bob/0"] .inline-slot textarea`, "replying from chromium")
	waitFor(t, 60*time.Second, "the native node to receive the reply", func() bool {
		for _, p := range nativePosts(t, tn.A, "webby") {
			if r, ok := p["reply"].(map[string]any); ok && r["n"] == "bob" && p["msg"] != nil && strings.Contains(p["msg"].(string), "replying from chromium") {
				return true
			}
		}
		return false
	})

	// Retwist bob/1, then a commented retwist of carol/0.
	b.click(`#main article.post[data-id="bob/1"] details.menu summary`, "↻ Retwist")
	b.click(`#main article.post[data-id="bob/1"] details.menu[open] button`, "Retwist")
	b.click(`#main article.post[data-id="carol/0"] details.menu summary`, "↻ Retwist")
	b.click(`#main article.post[data-id="carol/0"] details.menu[open] button`, "Retwist with comment…")
	b.typeInto(`#main article.post[data-id="carol/0"] .inline-slot textarea`, "worth reading")
	waitFor(t, 60*time.Second, "the native node to receive both retwists", func() bool {
		plain, commented := false, false
		for _, p := range nativePosts(t, tn.A, "webby") {
			rt, ok := p["rt"].(map[string]any)
			if !ok {
				continue
			}
			if rt["n"] == "bob" && rt["k"] == float64(1) {
				plain = true
			}
			if rt["n"] == "carol" && p["msg"] == "worth reading" {
				commented = true
			}
		}
		return plain && commented
	})

	// Favourite bob/0 publicly and carol/0 privately.
	before := lastHave(t, tn.A, "bob", "webby")
	b.click(`#main article.post[data-id="bob/0"] details.menu:nth-of-type(2) summary`, "★ Favourite")
	b.click(`#main article.post[data-id="bob/0"] details.menu[open] button`, "Favourite (public)")
	b.wait("favourite confirmed", `document.querySelector("#toasts").textContent.includes("Favourited.")`, 60*time.Second)
	b.click(`#main article.post[data-id="carol/0"] details.menu:nth-of-type(2) summary`, "★ Favourite")
	b.click(`#main article.post[data-id="carol/0"] details.menu[open] button`, "Favourite privately")
	b.wait("private favourite confirmed", `document.querySelector("#toasts").textContent.includes("Favourited privately")`, 60*time.Second)
	waitFor(t, 60*time.Second, "the native node to receive both favourites", func() bool { return lastHave(t, tn.A, "bob", "webby") >= before+2 })
	kinds := b.str(`twisterApi.timeline({users: ["webby"], count: 50}).then(ps => ps.map(p => p.kind).join(","))`)
	if !strings.Contains(kinds, "fav") || !strings.Contains(kinds, "rt") || !strings.Contains(kinds, "reply") {
		t.Errorf("webby's timeline kinds %q: want a fav, an rt and a reply", kinds)
	}
	b.shot("desktop-04-after-actions")

	// Direct messages: bob's message arrives (decrypted in the worker);
	// webby answers with Enter, and native bob can read it.
	b.route("#/messages/bob")
	b.wait("bob's direct message", `[...document.querySelectorAll("#main li.msg:not(.mine)")].some(e => e.textContent.includes("a secret note for webby"))`, 60*time.Second)
	b.typeInto("#main form.composer textarea", "thanks bob, got it")
	b.wait("own message shown", `[...document.querySelectorAll("#main li.msg.mine")].some(e => e.textContent.includes("thanks bob, got it"))`, 60*time.Second)
	waitFor(t, 60*time.Second, "native bob to read webby's direct message", func() bool {
		raw, err := tn.A.call("getdirectmsgs", "bob", 10, []map[string]any{{"username": "webby"}})
		return err == nil && strings.Contains(string(raw), "thanks bob, got it")
	})
	b.shot("desktop-05-messages")
	b.route("#/messages")
	b.wait("conversation list", `document.querySelector('#main .conversations a[href="#/messages/bob"]')`, 30*time.Second)

	// Profile: name, bio and an avatar resized to 64×64 JPEG in a canvas.
	b.route("#/edit-profile")
	b.wait("profile form", `document.querySelector("#pf-fullname")`, 60*time.Second)
	b.fill("#pf-fullname", "Webby McWebface")
	b.fill("#pf-bio", "I live in a browser tab.")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#avatar-file"), []string{avatarPNG(t, dir)}))
	b.wait("avatar resized", `(() => { const i = document.querySelector(".avatar-preview img"); return i && i.src.startsWith("data:image/jpeg") && i.naturalWidth > 0 && i.naturalWidth <= 64 && i.naturalHeight <= 64; })()`, 20*time.Second)
	b.shot("desktop-06-edit-profile")
	b.click("#main form.profile-form button.primary", "Save profile")
	b.wait("profile page with the new name", `location.hash === "#/user/webby" && document.querySelector("#main h1").textContent.includes("Webby McWebface")`, 60*time.Second)
	waitFor(t, 60*time.Second, "the profile in the DHT (read by native node B)", func() bool {
		raw, err := tn.B.call("dhtget", "webby", "profile", "s")
		return err == nil && strings.Contains(string(raw), "Webby McWebface")
	})
	b.shot("desktop-07-profile")

	// Mentions of webby (bob's post, from the DHT, verified).
	b.route("#/mentions")
	b.wait("bob's mention", `document.querySelector('#main article.post[data-id="bob/0"][data-verified="true"]')`, 60*time.Second)
	b.shot("desktop-08-mentions")

	// Hashtag page: bob's, carol's and webby's #e2etest posts.
	b.route("#/tag/e2etest")
	b.wait("hashtag posts", `["bob/0", "carol/0", "webby/0"].every(id => document.querySelector('#main article.post[data-id="' + id + '"]'))`, 60*time.Second)
	b.shot("desktop-09-hashtag")

	// Thread of bob/0: the post and webby's reply below it.
	b.route("#/post/bob/0")
	b.wait("thread with the reply", `document.querySelector('#main .thread-focus article[data-id="bob/0"]') && [...document.querySelectorAll("#main .thread-down article")].some(a => a.textContent.includes("replying from chromium"))`, 60*time.Second)
	b.shot("desktop-10-thread")

	// Search: users and words over the held posts.
	b.route("#/explore?q=gardening")
	b.wait("word search hit", `document.querySelector('#main .results article.post[data-id="bob/1"]')`, 30*time.Second)
	b.shot("desktop-11-search")

	b.route("#/network")
	b.wait("network status", `document.querySelector('#main tr[data-state="connected"]') && document.querySelector('#main dd[data-stat="Posts held"]')`, 30*time.Second)
	b.shot("desktop-12-network")
	b.route("#/settings")
	b.shot("desktop-13-settings")
	// Dark theme, chosen in the settings.
	b.click(`#main input[name="theme"][value="dark"]`, "")
	b.wait("dark theme", `document.documentElement.dataset.theme === "dark"`, 5*time.Second)
	b.route("#/home")
	b.shot("desktop-13b-home-dark")
	b.route("#/settings")
	b.click(`#main input[name="theme"][value="system"]`, "")
	b.route("#/account")
	b.shot("desktop-14-account")

	// Phone width: the main screens, and nothing wider than the screen.
	b.viewport(360, 740, true)
	for _, s := range []struct{ hash, name string }{
		{"#/home", "phone-01-home"}, {"#/post/bob/0", "phone-02-thread"}, {"#/messages/bob", "phone-03-messages"},
		{"#/user/webby", "phone-04-profile"}, {"#/mentions", "phone-05-mentions"},
	} {
		b.route(s.hash)
		b.wait("content of "+s.hash, `document.querySelector("#main article.post, #main li.msg")`, 60*time.Second)
		if w := b.str(`String(document.documentElement.scrollWidth)`); w != "360" {
			t.Errorf("%s at 360 px is %s px wide", s.hash, w)
		}
		b.shot(s.name)
	}
	b.viewport(1280, 900, false)
}

// groupState is the group chat testGroup made: its alias in the browser
// and on native node A (aliases are local).
type groupState struct{ alias, natAlias string }

// groupTexts returns "from: text" of the group's messages as native bob
// reads them.
func groupTexts(tn *testNet, natAlias string) []string {
	raw, err := tn.A.call("getdirectmsgs", "bob", 50, []map[string]any{{"username": natAlias}})
	if err != nil {
		return nil
	}
	var got map[string][]struct{ Text, From string }
	json.Unmarshal(raw, &got)
	var out []string
	for _, m := range got[natAlias] {
		out = append(out, m.From+": "+m.Text)
	}
	return out
}

// testGroup: webby creates a group chat in the browser and invites bob
// (native node A, which follows webby, so the invitation DM reaches it);
// node A registers the group, bob reads webby's group message, bob's
// answer shows in the browser live (testGroupLeave leaves it, after the
// offline test wrote to it).
func testGroup(t *testing.T, b *browser, tn *testNet) groupState {
	const desc = "e2e garden club"
	b.route("#/messages")
	b.wait("the group list", `document.querySelector("#main .msg-lists #groups-h") && !document.querySelector("#main .msg-list .loading")`, 30*time.Second)
	// An empty description is refused with a message next to the field.
	b.click("#main form.new-group button.primary", "New group")
	b.wait("the empty description refused", `document.querySelector("#main form.new-group .error").textContent.includes("Describe the group")`, 10*time.Second)
	b.typeInto("#group-desc", desc)
	b.wait("the new group's page", `location.hash.startsWith("#/group/*") && document.querySelector("#main h1").textContent === `+fmt.Sprintf("%q", desc)+` && document.querySelector("#group-invite")`, 60*time.Second)
	alias := b.str(`decodeURIComponent(location.hash.slice("#/group/".length))`)
	t.Logf("group %s in the browser", alias)

	// A bad username is refused before anything is sent.
	b.typeInto("#group-invite", "Bob!")
	b.wait("the bad username refused", `document.querySelector("#main .group-tools .error").textContent.includes("is not a username")`, 10*time.Second)
	b.fill("#group-invite", "")
	b.typeInto("#group-invite", "@bob")
	b.wait("bob in the member list", `[...document.querySelectorAll("#main p.members a")].some(a => a.textContent === "@bob") && document.querySelector("#group-invite").value === ""`, 60*time.Second)

	type groupInfo struct {
		Alias       string
		Description string
		Members     []string
	}
	// Node A knows the group under an alias of its own (aliases are local).
	var natAlias string
	var lastSeen []groupInfo
	defer func() {
		if t.Failed() {
			t.Logf("node A's groups: %+v", lastSeen)
		}
	}()
	waitFor(t, 60*time.Second, "native node A to register the group with bob in it", func() bool {
		lastSeen = nil
		var list []string
		raw, err := tn.A.call("listgroups")
		if err != nil || json.Unmarshal(raw, &list) != nil {
			return false
		}
		for _, a := range list {
			raw, err := tn.A.call("getgroupinfo", a)
			var g groupInfo
			if err != nil || json.Unmarshal(raw, &g) != nil {
				continue
			}
			lastSeen = append(lastSeen, g)
			if g.Description == desc && slices.Contains(g.Members, "bob") && slices.Contains(g.Members, "webby") {
				natAlias = a
				return true
			}
		}
		return false
	})

	// Browser → native bob.
	b.typeInto("#main form.composer textarea", "hello garden club from chromium")
	b.wait("own group message shown", `[...document.querySelectorAll("#main ol.group-messages li.msg.mine")].some(e => e.textContent.includes("hello garden club from chromium"))`, 60*time.Second)
	waitFor(t, 60*time.Second, "native bob to read webby's group message", func() bool {
		return slices.Contains(groupTexts(tn, natAlias), "webby: hello garden club from chromium")
	})
	t.Logf("group %s on node A: %v", natAlias, groupTexts(tn, natAlias))

	// Native bob → the browser, shown live with bob as the sender. Times
	// are in seconds (ties ordered by id): answer in the next second.
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0)))
	tn.A.must("newdirectmsg", "bob", tn.A.Node.LastHave("bob")+1, natAlias, "bob says hi to the club")
	b.wait("bob's group message in the browser", `[...document.querySelectorAll('#main ol.group-messages li.msg:not(.mine)[data-from="bob"]')].some(e => e.textContent.includes("bob says hi to the club") && e.querySelector(".sender"))`, 90*time.Second)
	if order := b.str(`[...document.querySelectorAll("#main ol.group-messages li.msg p")].map(p => p.textContent).join("|")`); order != "hello garden club from chromium|bob says hi to the club" {
		t.Errorf("group messages shown as %q, want webby's then bob's (oldest first)", order)
	}
	b.shot("desktop-19-group")

	// The group is listed next to the conversations.
	b.route("#/messages")
	b.wait("the group in the list", fmt.Sprintf(`document.querySelector('#main ul.groups a[data-alias=%q]')`, alias), 30*time.Second)

	// Phone width: nothing wider than the screen.
	b.viewport(360, 740, true)
	b.route("#/group/" + alias)
	b.wait("the group's messages", `document.querySelector("#main ol.group-messages li.msg")`, 30*time.Second)
	if w := b.str(`String(document.documentElement.scrollWidth)`); w != "360" {
		t.Errorf("the group page at 360 px is %s px wide", w)
	}
	b.shot("phone-07-group")
	b.viewport(1280, 900, false)
	return groupState{alias: alias, natAlias: natAlias}
}

// testGroupLeave: webby leaves the group after confirming.
func testGroupLeave(t *testing.T, b *browser, g groupState) {
	alias := g.alias
	b.route("#/group/" + alias)
	// Leave: asks first (Cancel keeps the group), then leaves.
	b.click("#main .group-leave button.danger", "Leave group…")
	b.click("#main .group-leave .confirm button", "Cancel")
	b.wait("still in the group", `document.querySelector("#main .group-leave button.danger").textContent === "Leave group…"`, 10*time.Second)
	b.click("#main .group-leave button.danger", "Leave group…")
	b.click("#main .group-leave .confirm button.danger", "Leave")
	b.wait("back on the messages page without the group", fmt.Sprintf(`location.hash === "#/messages" && document.querySelector("#main #groups-h") && !document.querySelector("#main .msg-list .loading") && !document.querySelector('#main ul.groups a[data-alias=%q]')`, alias), 30*time.Second)
	if got := b.str(`twisterApi.call("groups").then(gs => gs.map(g => g.alias).join(","))`); strings.Contains(got, alias) {
		t.Errorf("groups after leaving: %s", got)
	}
}

// testOffline: with the network cut, a post and a group message go to the
// outbox; the app and the held timeline reload from the service worker's
// cache and IndexedDB; back online, logging in sends both: the post
// reaches native node A, the group message native bob (a member).
func testOffline(t *testing.T, b *browser, tn *testNet, site *cuttable, g groupState) {
	t0 := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(t0).Seconds(), what) }
	b.route("#/home")
	b.wait("the service worker controlling the page with the wasm cached", `navigator.serviceWorker.controller &&
	  caches.open("twister-shell-v1").then(c => c.match(new URL("/js/twister.wasm", location.href).href)).then(r => !!r)`, 60*time.Second)
	b.wait("cached wasm", `window.__wasmCached || (caches.open("twister-shell-v1").then(c => c.match(new URL("/js/twister.wasm", location.href).href)).then(r => { window.__wasmCached = !!r; }), false)`, 30*time.Second)

	step("cached; cutting the network")
	site.SetDown(true)
	defer site.SetDown(false)
	b.offline(true)
	b.wait("the app to notice", `document.querySelector("#netstate").dataset.state === "offline"`, 20*time.Second)
	b.typeInto("#main form.composer textarea", "written on a train without network")
	b.wait("queued post", `document.querySelector("#main .outbox article.queued") && document.querySelector("#outbox-state").textContent.includes("1 waiting")`, 20*time.Second)
	b.shot("desktop-15-offline-queued")
	step("post queued")
	const groupText = "group message written offline"
	waiting := 1
	if g.alias != "" {
		// A group message written offline waits in the outbox too, shown
		// in the group's message list as not sent yet.
		b.route("#/group/" + g.alias)
		b.typeInto("#main form.composer textarea", groupText)
		b.wait("queued group message", `[...document.querySelectorAll("#main ol.group-messages li.msg.mine.queued")].some(e => e.textContent.includes(`+fmt.Sprintf("%q", groupText)+`)) &&
		  document.querySelector("#main form.composer textarea").value === "" && document.querySelector("#outbox-state").textContent.includes("2 waiting")`, 20*time.Second)
		b.shot("desktop-24-offline-group")
		waiting = 2
		step("group message queued")
		b.route("#/home")
	}
	// Reload with no network: the shell from the service worker, the
	// timeline from IndexedDB.
	b.do(chromedp.Reload())
	b.wait("the app offline with the cached timeline", `window.scrollTo(0, document.body.scrollHeight) || ["bob/0", "carol/0"].every(id => document.querySelector('#main article.post[data-id="' + id + '"]')) && document.querySelectorAll("#main .outbox article.queued").length === `+fmt.Sprint(waiting), 90*time.Second)
	step("reloaded offline; node's header height " + b.str(`twisterApi.status().then(s => String(s.height))`))
	b.shot("desktop-16-offline-reloaded")
	b.viewport(360, 740, true)
	b.shot("phone-06-offline")
	b.viewport(1280, 900, false)

	step("back online")
	// Back online: log in; the queued post is sent.
	site.SetDown(false)
	b.offline(false)
	before := lastHave(t, tn.A, "bob", "webby")
	b.route("#/login")
	b.fill("#login-pass", "correct horse battery")
	b.click("#main form button.primary", "Log in")
	b.wait("logged in again", `document.querySelector("#whoami").textContent.includes("@webby")`, 60*time.Second)
	step("logged in")
	b.wait("outbox empty", `document.querySelector("#outbox-state").hidden`, 60*time.Second)
	step("queued post sent")
	waitFor(t, 60*time.Second, "the native node to receive the post written offline", func() bool {
		if lastHave(t, tn.A, "bob", "webby") <= before {
			return false
		}
		for _, p := range nativePosts(t, tn.A, "webby") {
			if p["msg"] == "written on a train without network" {
				return true
			}
		}
		return false
	})
	if g.alias != "" {
		waitFor(t, 60*time.Second, "native bob to read the group message written offline", func() bool {
			return slices.Contains(groupTexts(tn, g.natAlias), "webby: "+groupText)
		})
		step("group message read by native bob")
		b.route("#/group/" + g.alias)
		b.wait("the group message shown as sent", `!document.querySelector("#main li.msg.queued") && [...document.querySelectorAll("#main ol.group-messages li.msg.mine")].some(e => e.textContent.includes(`+fmt.Sprintf("%q", groupText)+`))`, 30*time.Second)
	}
}

// testRegister creates a new account in the browser's key store, shows
// the key backup step, registers the name (proof of work in the worker,
// the transaction relayed by the bridge to node A, which mines it) and
// logs in. It needs the worker's key store; without it the page says
// account creation is unavailable, and the test checks that instead.
func testRegister(t *testing.T, b *browser, tn *testNet) {
	b.route("#/create")
	if b.str(`String(twisterApi.workerKeys)`) != "true" {
		b.wait("the explanation", `document.querySelector("#main").textContent.includes("does not have yet")`, 10*time.Second)
		t.Skip("the worker has no key store (accounts/createAccount/register): account creation is not testable")
	}
	// Node A mines whenever a transaction waits, plus one block on top.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if tn.A.Chain.MempoolSize() > 0 {
				tn.A.call("setgenerate", true, 1)
				tn.A.call("setgenerate", true, 1)
			}
		}
	}()
	b.fill("#new-user", "newbie")
	b.fill("#new-pass", "a new passphrase")
	b.fill("#new-pass2", "a new passphrase")
	b.click("#main form button.primary", "Create my key")
	b.wait("the backup step", `document.querySelector("#main code.secret") && document.querySelector("#main code.secret").textContent.length >= 51`, 60*time.Second)
	b.shot("desktop-17-backup-key")
	b.click("#backed-up", "")
	b.click("#main button.primary", "Register @newbie")
	b.wait("registration progress", `document.querySelector("#reg-progress")`, 10*time.Second)
	b.shot("desktop-18-registering")
	b.wait("registered and logged in as newbie", `document.querySelector("#whoami").textContent.includes("@newbie")`, 90*time.Second)
	if !tn.A.Chain.UserExists("newbie") {
		t.Error("native node A does not know newbie")
	}
	b.wait("edit profile after registering", `location.hash === "#/edit-profile"`, 10*time.Second)
	// Both accounts are in the key store now.
	if got := b.str(`twisterApi.accounts().then(a => a.map(x => x.user).join(","))`); got != "newbie,webby" {
		t.Errorf("accounts %q, want newbie,webby", got)
	}
}

// testWidget embeds the widget in a plain page served from a second
// origin and checks bob's posts appear, verified.
func testWidget(t *testing.T, tn *testNet, site *cuttable, bridgeURL, dir string) {
	page := fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A blog</title>
<style>body { font: 18px/1.5 Georgia, serif; max-width: 40em; margin: 2em auto; background: #fdfcf8; color: #222; }</style></head>
<body><h1>My static blog</h1><p>Here is what bob says on twister:</p>
<div class="twister-widget"></div>
<script src="%s/widget/widget.js" data-bridge="%s" data-user="bob" data-network="regtest" data-count="3" data-memory="true"></script>
<h2>And #e2etest</h2>
<div id="tags"></div>
<script src="%s/widget/widget.js" data-bridge="%s" data-hashtag="e2etest" data-network="regtest" data-count="5" data-memory="true" data-target="#tags"></script>
</body></html>`, site.URL, bridgeURL, site.URL, bridgeURL)
	other := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	if other.URL == site.URL {
		t.Fatal("the widget page must be on another origin")
	}
	b := newBrowser(t, filepath.Join(dir, "chromium-widget"))
	b.viewport(900, 900, false)
	b.do(chromedp.Navigate(other.URL + "/"))
	q := `document.querySelector(".twister-widget").shadowRoot`
	if testing.Verbose() {
		defer func() { t.Logf("widget page log:\n%s", b.console.String()) }()
	}
	b.wait("bob's posts in the widget, verified", fmt.Sprintf(`(() => { const r = %s; if (!r) return false;
	  const li = [...r.querySelectorAll('li[data-user="bob"]')];
	  return li.length >= 2 && li.every(e => e.dataset.verified === "true" && e.querySelector(".verified")); })()`, q), 90*time.Second)
	if e := b.str(`document.querySelector(".twister-widget").dataset.error || ""`); e != "" {
		t.Fatalf("widget error: %s", e)
	}
	b.wait("the hashtag widget", `(() => { const r = document.querySelector("#tags").shadowRoot; return r && r.querySelectorAll('li[data-verified="true"]').length >= 2; })()`, 90*time.Second)
	text := b.str(`[...` + q + `.querySelectorAll("li")].map(e => e.textContent).join("\n")`)
	latest, latestK := "", int64(-1)
	for k, p := range nativePosts(t, tn.A, "bob") {
		if msg, ok := p["msg"].(string); ok && k > latestK {
			latest, latestK = msg, k
		}
	}
	if !strings.Contains(text, latest) || strings.Count(text, "✓ verified") != 3 {
		t.Errorf("widget shows %q, want bob's 3 latest posts (the latest: %q), each verified", text, latest)
	}
	b.shot("widget-01-desktop")
	b.viewport(360, 740, true)
	b.shot("widget-02-phone")
}
