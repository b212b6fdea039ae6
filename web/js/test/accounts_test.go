//go:build !js

package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/chain/consensus"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/node"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/webnode"
	"github.com/gotwister/twister/webnode/webnodetest"
)

// The wasm build (sharedWasm), TestMain, repoRoot and chromiumPath are
// in harness_test.go. These tests run their own Chromium processes, one
// per profile directory: a profile is a device, and it keeps its
// IndexedDB across page loads (the returning visitor).

// serveNet serves the page, worker, wasm and tn's bridge from one origin.
func serveNet(t *testing.T, tn *webnodetest.Net, wasm string) (origin, bridgeURL string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", tn.Bridge)
	mux.HandleFunc("/twister.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeFile(w, r, wasm)
	})
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
	})
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(repoRoot(), "web", "js"))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String(), "ws://" + ln.Addr().String() + "/ws"
}

// browser is one headless Chromium with its own profile (its own
// IndexedDB: another device).
type browser struct {
	t       *testing.T
	name    string
	ctx     context.Context
	console *bytes.Buffer
}

func newBrowser(t *testing.T, name, profile string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	var console bytes.Buffer
	var mu sync.Mutex
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) {
		mu.Lock()
		fmt.Fprintf(&console, f+"\n", a...)
		mu.Unlock()
	}))
	t.Cleanup(cancelB)
	ctx, cancel := context.WithTimeout(bctx, 5*time.Minute)
	t.Cleanup(cancel)
	return &browser{t: t, name: name, ctx: ctx, console: &console}
}

// open navigates to the accounts page and waits until the node started.
func (b *browser) open(pageURL string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(pageURL)); err != nil {
		b.t.Fatalf("%s: navigate: %v", b.name, err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		phase, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`window.state ? state.phase : ""`))
		if err == nil && phase == "ready" {
			return
		}
		if phase == "error" {
			b.t.Fatalf("%s: page error: %s", b.name, b.str(`state.errors.join("\n")`))
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: the page did not start (%v)", b.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// json evaluates a (possibly promise-valued) expression and decodes its
// JSON into out.
func (b *browser) json(expr string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => JSON.stringify(await (`+expr+`)))()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(s), out); err != nil {
			b.t.Fatalf("%s: %s: decoding %q: %v", b.name, expr, s, err)
		}
	}
}

// str evaluates a (possibly promise-valued) expression to a string.
func (b *browser) str(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => String(await (`+expr+`)))()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
	return s
}

// rejection evaluates a promise that must reject and returns its message.
func (b *browser) rejection(expr string) string {
	b.t.Helper()
	s := b.str(`(` + expr + `).then(() => "RESOLVED", (e) => "REJECTED: " + e.message)`)
	if !strings.HasPrefix(s, "REJECTED: ") {
		b.t.Fatalf("%s: %s resolved; it should have been refused", b.name, expr)
	}
	return strings.TrimPrefix(s, "REJECTED: ")
}

func (b *browser) waitFor(what string, d time.Duration, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: timed out after %v waiting for %s", b.name, d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// idbDump reads every value of every object store of every IndexedDB
// database of the page's origin with plain JavaScript (no twister code):
// [{db, store, key, hex}] with the value's bytes in hex (Uint8Array as is,
// strings as UTF-8, anything else as JSON).
const idbDump = `(async () => {
  const out = [];
  const hex = (u8) => Array.from(u8, (x) => x.toString(16).padStart(2, "0")).join("");
  const bytesOf = (v) => {
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (typeof v === "string") return new TextEncoder().encode(v);
    return new TextEncoder().encode(JSON.stringify(v));
  };
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => {
      const r = indexedDB.open(info.name);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name).objectStore(name);
      const [ks, vs] = await Promise.all([store.getAllKeys(), store.getAll()].map((r) =>
        new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); })));
      ks.forEach((k, i) => out.push({ db: info.name, store: name, key: String(k), hex: hex(bytesOf(vs[i])) }));
    }
    db.close();
  }
  return out;
})()`

type idbValue struct {
	DB, Store, Key, Hex string
}

// twisterd is a native twister node (package node) with its JSON-RPC.
type twisterd struct {
	*node.Node
	t   *testing.T
	url string
}

func startTwisterd(t *testing.T, addr string) *twisterd {
	t.Helper()
	port := func() int {
		for {
			l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
			if err != nil {
				t.Fatal(err)
			}
			p := l.Addr().(*net.TCPAddr).Port
			l.Close()
			if p+node.LibtorrentPortOffset > 65535 {
				continue
			}
			u, err := net.ListenPacket("udp", net.JoinHostPort(addr, fmt.Sprint(p+node.LibtorrentPortOffset)))
			if err != nil {
				continue
			}
			u.Close()
			return p
		}
	}
	cfg, err := node.ParseArgs([]string{"-regtest", "-datadir=" + t.TempDir(), "-rpcuser=u", "-rpcpassword=p",
		"-bind=" + addr, "-rpcbind=" + addr, fmt.Sprintf("-port=%d", port()), fmt.Sprintf("-rpcport=%d", port())}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &twisterd{Node: n, t: t, url: "http://" + n.RPCAddr() + "/"}
}

// rpc calls a JSON-RPC method and decodes the result into out (numbers
// as json.Number).
func (d *twisterd) rpc(out any, method string, params ...any) {
	d.t.Helper()
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	req, _ := http.NewRequest("POST", d.url, bytes.NewReader(body))
	req.SetBasicAuth("u", "p")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		d.t.Fatalf("twisterd %s: %v", method, err)
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		d.t.Fatalf("twisterd %s: %v", method, err)
	}
	if r.Error != nil {
		d.t.Fatalf("twisterd %s %v: error %d %s", method, params, r.Error.Code, r.Error.Message)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(r.Result))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			d.t.Fatalf("twisterd %s: result %s: %v", method, r.Result, err)
		}
	}
}

// TestBrowserAccounts covers keys in the browser end to end, in headless
// Chromium against a real regtest network on loopback (chain, DHT,
// bridge, a native swarm node, a mining loop, and a native twisterd):
//
//	(a) browser A creates an account and registers it, the proof-of-work
//	    progress and the steps shown on the page; it unlocks and posts;
//	(e) a wrong passphrase is refused with the error shown;
//	(d) IndexedDB, read with plain JavaScript, holds no raw key;
//	(b) browser B (another profile: another device) imports the key and
//	    posts as the same user; the native node verifies both posts;
//	(c) a key from twisterd's dumpprivkey is imported, registered and
//	    unlocked in the browser, and the browser's exportKey goes into
//	    twisterd's importprivkey and signs a post there that verifies
//	    against the browser's registration;
//
// and it measures the registration PoW rate, unlock time and the start of
// a returning visitor (online and offline).
func TestBrowserAccounts(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("headless Chromium test skipped: %s not found (apt-get install chromium)", chromiumPath)
	}
	wasm := sharedWasm(t)
	dir := t.TempDir()

	// The network, with 1,500 blocks of headers for the light chain to
	// check and keep, and alice posting from a native node.
	tn := webnodetest.New(t, "alice")
	tn.Mine(1500)
	tn.AutoMine(200*time.Millisecond, 1)
	native := tn.NewNative(2, 1, true)
	for k := range int64(5) {
		if err := native.AddPost("alice", k, tn.MakePost("alice", k, fmt.Sprintf("alice's post %d", k))); err != nil {
			t.Fatal(err)
		}
	}
	origin, bridgeURL := serveNet(t, tn, wasm)
	pageURL := func(bridge, db, keystore string) string {
		return origin + "/test/accounts.html?" + url.Values{"bridge": {bridge}, "db": {db}, "keystore": {keystore}}.Encode()
	}
	verified := func(user string, k int64, text string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !native.Has(user, k) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s/%d at the native node", user, k)
			}
			time.Sleep(50 * time.Millisecond)
		}
		raw, _ := native.Post(user, k)
		if p, err := post.Validate(raw, user, k, tn.Chain); err != nil || p.Text() != text {
			t.Fatalf("native node holds %s/%d: %v, %v", user, k, p, err)
		}
	}

	a := newBrowser(t, "browser A", filepath.Join(dir, "profileA"))
	t0 := time.Now()
	a.open(pageURL(bridgeURL, "nodeA", "keysA"))
	var firstStart float64
	a.json(`state.t.start`, &firstStart)
	t.Logf("first visit: start (worker, wasm, node, %d headers checked from the bridge) %.0f ms in the page, %v in all",
		tn.Chain.Height(), firstStart, time.Since(t0).Round(time.Millisecond))

	var bench struct {
		Hashes               uint64
		Ms                   int64
		Rate                 float64
		MainnetMedianSeconds float64
	}
	a.json(`tw.benchmarkPoW(1 << 21)`, &bench)
	t.Logf("registration PoW in Chromium's wasm: %d SHA256d in %d ms = %.0f hashes/s; mainnet (2^24 expected tries): median %.1f s, mean %.1f s",
		bench.Hashes, bench.Ms, bench.Rate, bench.MainnetMedianSeconds, float64(1<<24)/bench.Rate)

	// (a) Sign-up with the progress shown. Regtest's own target passes
	// half of all hashes; a harder one gives progress to show. It is
	// chosen for the new key (computed natively, the same search) so that
	// the search takes 2^19 to 2^22 tries: several progress reports, a few
	// seconds at most.
	var su struct {
		Acct struct{ User, Secret, PubKey string }
		Reg  webnode.Registration
	}
	var bits uint32
	var wantTries uint64
	for attempt := 0; bits == 0; attempt++ {
		if attempt == 5 {
			t.Fatal("no key with a usable proof-of-work length in 5 attempts")
		}
		if attempt > 0 {
			a.json(`tw.deleteAccount("carol")`, nil)
		}
		a.json(`page.create("carol", "carol's passphrase")`, &su.Acct)
		bits, wantTries = pickBits(t, "carol", su.Acct.PubKey)
	}
	start := time.Now()
	a.json(fmt.Sprintf(`page.register("carol", {bits: %d, pollMs: 200})`, bits), &su.Reg)
	t.Logf("(a) carol created and registered in %v: bits %08x, %d tries in %d ms, block %d, tip %d", time.Since(start).Round(time.Millisecond),
		bits, su.Reg.Tried, su.Reg.GrindMs, su.Reg.Height, su.Reg.Tip)
	if su.Reg.Tried != wantTries {
		t.Fatalf("the browser's search took %d tries, the native one %d", su.Reg.Tried, wantTries)
	}
	k, err := keys.ParseSecret(su.Acct.Secret)
	if err != nil || len(su.Acct.Secret) != 52 || k.PubKey().Hex() != su.Acct.PubKey || su.Reg.PubKey != su.Acct.PubKey {
		t.Fatalf("createAccount gave %+v (%v)", su.Acct, err)
	}
	if got, err := tn.Chain.KeyAt("carol", -1); err != nil || got.Hex() != su.Acct.PubKey {
		t.Fatalf("the chain has carol's key %v (%v)", got, err)
	}
	var progress []webnode.RegisterProgress
	var status []webnode.RegisterStatus
	a.json(`state.progress`, &progress)
	a.json(`state.status`, &status)
	var steps []string
	for _, s := range status {
		steps = append(steps, s.Status)
	}
	if strings.Join(steps, ",") != "grinding,sent,confirmed" || status[2].Height != su.Reg.Height || status[1].TxID != su.Reg.TxID {
		t.Fatalf("status events %+v", status)
	}
	if len(progress) == 0 || !progress[len(progress)-1].Done || progress[len(progress)-1].Tried != su.Reg.Tried {
		t.Fatalf("progress events %+v, registration %+v", progress, su.Reg)
	}
	intermediate := len(progress) - 1
	if intermediate == 0 {
		t.Fatalf("%d tries but no progress event before the end", su.Reg.Tried)
	}
	for i, p := range progress[:intermediate] {
		if p.User != "carol" || p.Tried == 0 || p.Tried >= su.Reg.Tried || p.Rate <= 0 || (i > 0 && p.ElapsedMs-progress[i-1].ElapsedMs < 200) {
			t.Fatalf("progress event %d: %+v", i, p)
		}
	}
	if v := a.str(`document.getElementById("pow").value`); v != "1" {
		t.Fatalf("progress bar at %s", v)
	}
	if s := a.str(`document.getElementById("regStatus").textContent`); s != "confirmed" {
		t.Fatalf("status line %q", s)
	}
	if s := a.str(`document.getElementById("powText").textContent`); !strings.Contains(s, "hashes/s") {
		t.Fatalf("progress text %q", s)
	}
	if len(progress) > 1 {
		p := progress[len(progress)-2]
		t.Logf("(a) %d progress events shown; the last before the end: %d tries in %d ms (%.0f hashes/s)", len(progress), p.Tried, p.ElapsedMs, p.Rate)
	}

	// (e) A wrong passphrase is refused, with the error on the page.
	msg := a.rejection(`page.unlock("carol", "not carol's passphrase")`)
	shown := a.str(`document.getElementById("error").textContent`)
	if !strings.Contains(msg, "wrong passphrase") || !strings.Contains(shown, "wrong passphrase") {
		t.Fatalf("wrong passphrase: rejected with %q, shown %q", msg, shown)
	}
	if u := a.str(`tw.status().then((s) => s.user)`); u != "" {
		t.Fatalf("logged in as %q after a wrong passphrase", u)
	}
	if m := a.rejection(`tw.exportKey("carol", "guess")`); !strings.Contains(m, "wrong passphrase") {
		t.Fatalf("export with a wrong passphrase: %q", m)
	}
	t.Logf("(e) shown: %q", shown)

	// Unlock (scrypt N=2^16 + login with a verified proof), timed in the
	// page; exportKey alone is the scrypt part.
	var unlockMs, decryptMs []float64
	for i := range 3 {
		if i > 0 {
			a.json(`tw.lock()`, nil)
		}
		var un struct {
			User, PubKey string
			Ms, PageMs   float64
		}
		a.json(`page.unlock("carol", "carol's passphrase")`, &un)
		if un.User != "carol" || un.PubKey != su.Acct.PubKey {
			t.Fatalf("unlock: %+v", un)
		}
		unlockMs = append(unlockMs, un.PageMs)
		var ms float64
		a.json(`(async () => { const t0 = performance.now(); await tw.exportKey("carol", "carol's passphrase"); return performance.now() - t0; })()`, &ms)
		decryptMs = append(decryptMs, ms)
	}
	t.Logf("unlock in Chromium (page measurement, scrypt 2^16 + login): %s ms; scrypt alone (exportKey): %s ms", fmtMs(unlockMs), fmtMs(decryptMs))
	if u := a.str(`tw.status().then((s) => s.user)`); u != "carol" {
		t.Fatalf("status user %q", u)
	}

	// Locked: nothing signs any more.
	a.json(`tw.lock()`, nil)
	if m := a.rejection(`tw.post("while locked")`); !strings.Contains(m, "not logged in") {
		t.Fatalf("posting while locked: %q", m)
	}
	a.json(`page.unlock("carol", "carol's passphrase")`, nil)

	// A registration can be cancelled, and the worker answers other
	// calls while it grinds (about 2^32 tries: it would run for hours).
	a.json(`page.create("slowpoke", "pass")`, nil)
	a.json(`(window.slow = page.register("slowpoke", {bits: 0x1d00ffff}).then(() => "done", (e) => e.message), true)`, nil)
	a.waitFor("slowpoke's progress", 30*time.Second, func() bool {
		return a.str(`state.progress.filter((p) => p.user === "slowpoke").length >= 2`) == "true"
	})
	var during []float64
	for range 5 {
		var ms float64
		a.json(`(async () => { const t0 = performance.now(); await tw.status(); return performance.now() - t0; })()`, &ms)
		during = append(during, ms)
	}
	if r := a.str(`tw.cancelRegister("slowpoke")`); r != "true" {
		t.Fatalf("cancelRegister: %s", r)
	}
	if m := a.str(`window.slow`); !strings.Contains(m, "cancelled") {
		t.Fatalf("cancelled registration: %q", m)
	}
	if r := a.str(`tw.cancelRegister("slowpoke")`); r != "false" {
		t.Fatalf("cancelRegister with nothing running: %s", r)
	}
	a.json(`tw.deleteAccount("slowpoke")`, nil)
	sort.Float64s(during)
	t.Logf("while grinding, status() answered in %s ms; cancelRegister stopped it", fmtMs(during))

	// A damaged record is listed with its error and loses nothing else.
	a.json(`new Promise((ok, fail) => {
		const r = indexedDB.open("keysA");
		r.onsuccess = () => {
			const tx = r.result.transaction("keystore", "readwrite");
			tx.objectStore("keystore").put(new TextEncoder().encode('{"v":1,"user":"broken"'), "account/broken");
			tx.oncomplete = () => { r.result.close(); ok(true); };
			tx.onerror = () => fail(tx.error);
		};
		r.onerror = () => fail(r.error);
	})`, nil)
	var accts []webnode.AccountView
	a.json(`page.listAccounts()`, &accts)
	if len(accts) != 2 || accts[0].User != "broken" || !strings.Contains(accts[0].Error, "corrupt") ||
		accts[1].User != "carol" || accts[1].Error != "" || accts[1].PubKey != su.Acct.PubKey {
		t.Fatalf("accounts with a damaged record: %+v", accts)
	}
	if m := a.rejection(`tw.unlock("broken", "x")`); !strings.Contains(m, "corrupt") {
		t.Fatalf("unlocking a damaged record: %q", m)
	}
	a.json(`tw.exportKey("carol", "carol's passphrase")`, nil)
	a.json(`tw.deleteAccount("broken")`, nil)
	t.Logf("damaged record listed as %q; carol unaffected; deleted", accts[0].Error)

	// A posts; the native node (following carol) receives and verifies.
	if err := native.Follow("carol"); err != nil {
		t.Fatal(err)
	}
	var pa webnode.PublishResult
	a.json(`tw.post("hello from browser A")`, &pa)
	verified("carol", pa.Post.K, "hello from browser A")
	a.json(`tw.follow("alice")`, nil)
	a.waitFor("alice's posts in A's timeline", 60*time.Second, func() bool {
		return a.str(`tw.timeline().then((ps) => ps.filter((p) => p.user === "alice" && p.verified).length)`) == "5"
	})

	// (d) IndexedDB holds no raw key: every value of every database,
	// read with plain JavaScript, searched for the key in every encoding.
	var dump []idbValue
	a.json(idbDump, &dump)
	checkNoKey(t, dump, k)
	var rec map[string]any
	for _, v := range dump {
		if v.DB == "keysA" && v.Key == "account/carol" {
			b, _ := hex.DecodeString(v.Hex)
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatalf("key store record %q: %v", b, err)
			}
			t.Logf("(d) keysA/%s/%s: %s", v.Store, v.Key, b)
		}
	}
	wantFields := []string{"aead", "created", "ct", "kdf", "nonce", "pub", "sum", "user", "v"}
	if got := sortedKeys(rec); !slices.Equal(got, wantFields) || rec["pub"] != su.Acct.PubKey {
		t.Fatalf("key store record fields %v", got)
	}
	t.Logf("(d) %d IndexedDB values in %d databases checked: no raw key, hex, WIF or base64 of it", len(dump), countDBs(dump))

	// (b) Another device: browser B imports carol's key under its own
	// passphrase and posts as carol.
	b := newBrowser(t, "browser B", filepath.Join(dir, "profileB"))
	b.open(pageURL(bridgeURL, "nodeB", "keysB"))
	if n := b.str(`tw.accounts().then((a) => a.length)`); n != "0" {
		t.Fatalf("browser B starts with %s accounts: profiles are not separate", n)
	}
	b.json(`tw.importKey("carol", `+jsString(su.Acct.Secret)+`, "B's own passphrase")`, nil)
	b.json(`page.unlock("carol", "B's own passphrase")`, nil)
	var pb webnode.PublishResult
	b.json(`tw.post("hello from device B")`, &pb)
	if pb.Post.K <= pa.Post.K {
		t.Fatalf("device B posted k=%d after A's k=%d", pb.Post.K, pa.Post.K)
	}
	verified("carol", pb.Post.K, "hello from device B")
	t.Logf("(b) device B posted carol/%d; the native node verified it", pb.Post.K)
	b.json(`tw.changePassphrase("carol", "B's own passphrase", "B's new passphrase")`, nil)
	if m := b.rejection(`tw.exportKey("carol", "B's own passphrase")`); !strings.Contains(m, "wrong passphrase") {
		t.Fatalf("old passphrase after the change: %q", m)
	}
	if got := b.str(`tw.exportKey("carol", "B's new passphrase")`); got != su.Acct.Secret {
		t.Fatal("the key changed with the passphrase")
	}
	var dumpB []idbValue
	b.json(idbDump, &dumpB)
	checkNoKey(t, dumpB, k)

	// (c) twisterd → browser: a key from dumpprivkey is imported,
	// registered from the page and unlocked.
	d := startTwisterd(t, "127.0.44.1")
	d.rpc(nil, "createwalletuser", "dave")
	var daveSecret string
	d.rpc(&daveSecret, "dumpprivkey", "dave")
	a.json(`tw.importKey("dave", `+jsString(daveSecret)+`, "dave's passphrase")`, nil)
	var dreg webnode.Registration
	a.json(`tw.register("dave", {pollMs: 200})`, &dreg)
	a.json(`page.unlock("dave", "dave's passphrase")`, nil)
	dk, _ := keys.ParseSecret(daveSecret)
	if u := a.str(`tw.status().then((s) => s.user)`); u != "dave" || dreg.PubKey != dk.PubKey().Hex() {
		t.Fatalf("dave's twisterd key in the browser: user %q, registered %s", u, dreg.PubKey)
	}
	t.Logf("(c) twisterd's dumpprivkey for dave imported, registered at block %d and unlocked in the browser", dreg.Height)

	// (c) browser → twisterd: carol's exported key signs a post there.
	exported := a.str(`tw.exportKey("carol", "carol's passphrase")`)
	if exported != su.Acct.Secret {
		t.Fatal("exportKey does not return the created key")
	}
	d.rpc(nil, "importprivkey", exported, "carol", false, true)
	var back string
	d.rpc(&back, "dumpprivkey", "carol")
	if back != exported {
		t.Fatalf("twisterd's dumpprivkey after importprivkey: %q", back)
	}
	d.rpc(nil, "sendnewusertransaction", "carol")
	for d.Chain.Height() < su.Reg.Height+2 {
		if _, err := d.Chain.MineBlock(context.Background(), "", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	for tn.Chain.Height() < d.Chain.Height() {
		tn.Mine(1)
	}
	kd := pb.Post.K + 1
	var got any
	d.rpc(&got, "newpostmsg", "carol", kd, "signed by twisterd with the browser's key")
	v, err := post.PostFromJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	p, err := post.Validate(bencode.Encode(v), "carol", kd, tn.Chain)
	if err != nil || p.Text() != "signed by twisterd with the browser's key" {
		t.Fatalf("twisterd's post with the imported key against the browser's registration: %v %v", p, err)
	}
	t.Logf("(c) carol's key exported from the browser went into twisterd (importprivkey) and signed carol/%d there, valid on the browser's chain", kd)

	// Returning visitor: the same profile opens the page again. Headers,
	// proofs and posts come from IndexedDB.
	height := a.str(`tw.status().then((s) => s.height)`)
	var starts []float64
	for range 2 {
		a.open(pageURL(bridgeURL, "nodeA", "keysA"))
		var ms float64
		a.json(`state.t.start`, &ms)
		starts = append(starts, ms)
	}
	// Offline (no bridge answers): the same, plus reading and unlocking
	// from the store alone.
	offline := "ws://127.0.0.1:9/ws"
	var offStarts []float64
	for range 2 {
		a.open(pageURL(offline, "nodeA", "keysA"))
		var ms float64
		a.json(`state.t.start`, &ms)
		offStarts = append(offStarts, ms)
	}
	if h := a.str(`tw.status().then((s) => s.height)`); h != height {
		t.Fatalf("offline returning visitor at height %s, was %s", h, height)
	}
	// Follow lists are per account and dave logged in last: carol, who
	// follows alice, unlocks from the store alone, and her timeline is
	// read from it.
	a.json(`page.unlock("carol", "carol's passphrase")`, nil)
	if n := a.str(`tw.timeline().then((ps) => ps.filter((p) => p.user === "alice" && p.verified).length)`); n != "5" {
		t.Fatalf("offline timeline has %s of alice's posts", n)
	}
	// The same profile (wasm cached alike) with an empty store, offline:
	// the cost of the worker and the node without anything to load.
	var freshStarts []float64
	for i := range 2 {
		a.open(pageURL(offline, fmt.Sprint("empty", i), fmt.Sprint("emptykeys", i)))
		var ms float64
		a.json(`state.t.start`, &ms)
		freshStarts = append(freshStarts, ms)
	}
	t.Logf("returning visitor (%s headers, proofs, posts in IndexedDB): start %s ms online, %s ms offline; an empty store offline: %s ms (first visit online: %.0f ms)",
		height, fmtMs(starts), fmtMs(offStarts), fmtMs(freshStarts), firstStart)
	if testing.Verbose() {
		t.Logf("browser A log:\n%s", a.console.String())
	}
}

// pickBits returns a registration target (compact bits, at least as hard
// as regtest's) under which user's registration with pubHex takes 2^19 to
// 2^22 tries, and that number; 0 if there is none among 2^18..2^23
// expected tries.
func pickBits(t *testing.T, user, pubHex string) (uint32, uint64) {
	t.Helper()
	pub, err := keys.ParsePubKeyHex(pubHex)
	if err != nil {
		t.Fatal(err)
	}
	for _, bits := range []uint32{0x1e3fffff, 0x1e1fffff, 0x1e0fffff, 0x1e07ffff, 0x1e03ffff, 0x1e01ffff} {
		tx, err := consensus.NewRegistration(user, pub)
		if err != nil {
			t.Fatal(err)
		}
		nonce, err := consensus.GrindRegistration(context.Background(), tx, bits, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tries := uint64(nonce) + 1; tries >= 1<<19 {
			if tries > 1<<22 {
				return 0, 0
			}
			return bits, tries
		}
	}
	return 0, 0
}

// checkNoKey fails if any stored value holds k in a recognisable form:
// the 32 raw bytes, their hex, the WIF secret, base64 of the key or of
// its WIF payload.
func checkNoKey(t *testing.T, dump []idbValue, k *keys.PrivateKey) {
	t.Helper()
	raw := k.Bytes()
	payload := append(append([]byte{0x80}, raw...), 1)
	needles := map[string][]byte{
		"raw key":             raw,
		"hex key":             []byte(hex.EncodeToString(raw)),
		"HEX key":             []byte(strings.ToUpper(hex.EncodeToString(raw))),
		"WIF secret":          []byte(k.Secret()),
		"base64 key":          []byte(base64.StdEncoding.EncodeToString(raw)),
		"base64url key":       []byte(base64.RawURLEncoding.EncodeToString(raw)),
		"base64 WIF payload":  []byte(base64.StdEncoding.EncodeToString(payload)),
		"hex WIF payload":     []byte(hex.EncodeToString(payload)),
		"raw key (16 bytes)":  raw[:16],
		"raw key (last half)": raw[16:],
	}
	if len(dump) == 0 {
		t.Fatal("IndexedDB dump is empty")
	}
	for _, v := range dump {
		b, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatal(err)
		}
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Fatalf("IndexedDB %s/%s/%s holds the %s", v.DB, v.Store, v.Key, what)
			}
		}
	}
}

func countDBs(dump []idbValue) int {
	m := map[string]bool{}
	for _, v := range dump {
		m[v.DB] = true
	}
	return len(m)
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func fmtMs(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}
