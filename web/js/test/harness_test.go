//go:build !js

package browsertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// Shared by every test of the process: one wasm build, one Chromium.
var (
	wasmOnce sync.Once
	wasmDir  string
	wasmFile string
	wasmErr  error

	browserOnce   sync.Once
	browserCtx    context.Context
	browserCancel func()
	browserErr    error
	browserLog    bytes.Buffer
	browserLogMu  sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	if browserCancel != nil {
		browserCancel()
	}
	if wasmDir != "" {
		os.RemoveAll(wasmDir)
	}
	os.Exit(code)
}

// repoRoot is the module root (three levels up from web/js/test).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func needChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("headless Chromium test skipped: %s not found (apt-get install chromium)", chromiumPath)
	}
}

// sharedWasm compiles ./wasm for js/wasm once per test process.
func sharedWasm(t *testing.T) string {
	t.Helper()
	wasmOnce.Do(func() {
		if wasmDir, wasmErr = os.MkdirTemp("", "twister-wasm-"); wasmErr != nil {
			return
		}
		wasmFile = filepath.Join(wasmDir, "twister.wasm")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(goBin, "build", "-ldflags=-s -w", "-o", wasmFile, "./wasm")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			wasmErr = fmt.Errorf("building the wasm: %v\n%s", err, b)
			return
		}
		if b, err := os.ReadFile(wasmFile); err == nil {
			fmt.Fprintf(os.Stderr, "twister.wasm: %d bytes raw, %d bytes gzip -9\n", len(b), gzipSize(b))
		}
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	return wasmFile
}

func gzipSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

// site serves the JS API (web/js), the test pages, the wasm and
// wasm_exec.js on one loopback origin.
func newSite(t *testing.T) string {
	t.Helper()
	wasm := sharedWasm(t)
	mux := http.NewServeMux()
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
	return "http://" + ln.Addr().String()
}

// sharedBrowser starts headless Chromium once per test process.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	needChromium(t)
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "twister-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
			// Several pages of one test run at once: none of them may be
			// throttled as a background tab.
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
		}
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) {
			browserLogMu.Lock()
			fmt.Fprintf(&browserLog, f+"\n", a...)
			browserLogMu.Unlock()
		}))
		if _, err := chromedp.Run(bctx, chromedp.Navigate("about:blank")); err != nil {
			browserErr = err
		}
		browserCtx = bctx
		browserCancel = func() { cancelB(); cancelA(); os.RemoveAll(dir) }
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserCtx
}

// page is one tab in its own browser context (separate storage: a
// separate browser node).
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newPage opens url in a new tab with its own browser context.
func newPage(t *testing.T, name, url string) *page {
	t.Helper()
	bctx := sharedBrowser(t)
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &page{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: navigate: %v", name, err)
	}
	p.wait("the page", `window.ready === true`, 20*time.Second)
	return p
}

// eval runs a JavaScript expression (awaiting a promise) and decodes its
// JSON-serialised value into out (if not nil).
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => JSON.stringify(await (`+expr+`)))()`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(s), out); err != nil {
			p.t.Fatalf("%s: evaluate %s: decoding %q: %v", p.name, expr, s, err)
		}
	}
}

// tryEval is eval that returns the error.
func (p *page) tryEval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => JSON.stringify(await (`+expr+`)))()`, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal([]byte(s), out)
	}
	return nil
}

// wait polls cond (a JavaScript boolean expression) until it holds.
func (p *page) wait(what, cond string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		errs, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(window.errors || []).join("\n")`))
		if errs != "" {
			p.t.Fatalf("%s: page error while waiting for %s:\n%s", p.name, what, errs)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: timed out after %v waiting for %s (last error %v)", p.name, d, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start starts the node in the page with opts (merged into the defaults
// of node.js) and returns how long it took in ms.
func (p *page) start(opts map[string]any) float64 {
	p.t.Helper()
	b, _ := json.Marshal(opts)
	var ms float64
	p.eval(`startNode(`+string(b)+`)`, &ms)
	return ms
}

// status is the node's status() (the parts the tests look at).
type status struct {
	Bridges []struct {
		Bridge, State, Error string
	} `json:"bridges"`
	Posts      int    `json:"posts"`
	Received   uint64 `json:"received"`
	Sent       uint64 `json:"sent"`
	Transports struct {
		Bridge, WebRTC struct {
			Open                      int64
			Opened, BytesIn, BytesOut uint64
		}
	} `json:"transports"`
	WebRTC *struct {
		Signaling       string `json:"signaling"`
		PeerID          string `json:"peerId"`
		PeerConnections int    `json:"peerConnections"`
	} `json:"webrtc"`
}

func (p *page) status() status {
	p.t.Helper()
	var s status
	p.eval(`tw.status()`, &s)
	return s
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
