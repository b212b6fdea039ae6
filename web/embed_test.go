package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

// TestFSHasTheClient checks that the embedded tree holds every file the
// service worker caches and the widget, and hides dist/.
func TestFSHasTheClient(t *testing.T) {
	for _, name := range []string{"app/index.html", "app/app.js", "app/api.js", "app/dom.js", "app/local.js",
		"app/posts.js", "app/state.js", "app/style.css", "app/manifest.json", "app/icons/icon.svg",
		"app/icons/icon-192.png", "app/icons/icon-512.png", "sw.js", "widget/widget.js", "widget/README.md",
		"js/twister.js", "js/worker.js"} {
		if _, err := fs.Stat(FS(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := fs.Stat(FS(), "dist/README.md"); err == nil {
		t.Error("dist/ is visible in FS; its files belong under js/")
	}
	es, err := fs.ReadDir(FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name() == "dist" {
			t.Error("dist listed at the root")
		}
	}
	// Every file the service worker pre-caches exists (the wasm and
	// wasm_exec.js are build products).
	sw, _ := fs.ReadFile(FS(), "sw.js")
	for _, line := range strings.Split(string(sw), "\n") {
		if !strings.Contains(line, `"app/`) {
			continue
		}
		for _, part := range strings.Split(line, `"`) {
			if strings.HasPrefix(part, "app/") && part != "app/" {
				if _, err := fs.Stat(FS(), part); err != nil {
					t.Errorf("sw.js caches %s: %v", part, err)
				}
			}
		}
	}
}

func TestHandlerTypesAndHeaders(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00 not a real module")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(wasm)
	zw.Close()
	tree := fstest.MapFS{
		"app/index.html":     {Data: []byte("<!doctype html><title>t</title>")},
		"app/manifest.json":  {Data: []byte("{}")},
		"app/style.css":      {Data: []byte("body{}")},
		"js/twister.js":      {Data: []byte("export {}")},
		"js/twister.wasm":    {Data: wasm},
		"js/twister.wasm.gz": {Data: gz.Bytes()},
		"js/wasm_exec.js":    {Data: []byte("// go")},
		"widget/widget.js":   {Data: []byte("(function(){})()")},
		"sw.js":              {Data: []byte("// sw")},
	}
	h := HandlerFS(tree)

	r := get(t, h, "GET", "/")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "app/" {
		t.Errorf("/ → %d %q, want a redirect to app/", r.StatusCode, r.Header.Get("Location"))
	}
	r = get(t, h, "GET", "/app")
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "app/" {
		t.Errorf("/app → %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	for path, want := range map[string]string{
		"/app/":              "text/html; charset=utf-8",
		"/app/index.html":    "text/html; charset=utf-8",
		"/app/manifest.json": "application/manifest+json",
		"/app/style.css":     "text/css; charset=utf-8",
		"/js/twister.js":     "text/javascript; charset=utf-8",
		"/js/twister.wasm":   "application/wasm",
		"/widget/widget.js":  "text/javascript; charset=utf-8",
		"/sw.js":             "text/javascript; charset=utf-8",
	} {
		r := get(t, h, "GET", path)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q", path, r.StatusCode, r.Header.Get("Content-Type"), want)
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: ETag %q, Cache-Control %q", path, r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
		}
		cors := r.Header.Get("Access-Control-Allow-Origin")
		if wantCORS := strings.HasPrefix(path, "/js/") || strings.HasPrefix(path, "/widget/"); (cors == "*") != wantCORS {
			t.Errorf("%s: Access-Control-Allow-Origin %q", path, cors)
		}
	}
	if get(t, h, "GET", "/sw.js").Header.Get("Service-Worker-Allowed") != "/" {
		t.Error("sw.js without Service-Worker-Allowed")
	}

	// Plain and gzip wasm.
	r = get(t, h, "GET", "/js/twister.wasm")
	body, _ := io.ReadAll(r.Body)
	if !bytes.Equal(body, wasm) || r.Header.Get("Content-Encoding") != "" {
		t.Errorf("plain wasm: %q, encoding %q", body, r.Header.Get("Content-Encoding"))
	}
	r = get(t, h, "GET", "/js/twister.wasm", "Accept-Encoding", "br, gzip;q=0.8")
	body, _ = io.ReadAll(r.Body)
	if r.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body, gz.Bytes()) || r.Header.Get("Content-Type") != "application/wasm" {
		t.Errorf("gzip wasm: encoding %q, type %q, %d bytes", r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"), len(body))
	}

	// Revalidation answers 304.
	tag := get(t, h, "GET", "/app/style.css").Header.Get("ETag")
	if r := get(t, h, "GET", "/app/style.css", "If-None-Match", tag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", r.StatusCode)
	}
	if r := get(t, h, "GET", "/app/nope.js"); r.StatusCode != http.StatusNotFound {
		t.Errorf("missing file: %d", r.StatusCode)
	}
	if r := get(t, h, "GET", "/../../etc/passwd"); r.StatusCode != http.StatusNotFound {
		t.Errorf("path escape: %d", r.StatusCode)
	}
	if r := get(t, h, "POST", "/app/index.html"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", r.StatusCode)
	}
	if r := get(t, h, "HEAD", "/app/index.html"); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %d", r.StatusCode)
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.wasm": "application/wasm", "x/manifest.json": "application/manifest+json", "a.json": "application/json",
		"a.svg": "image/svg+xml", "a.png": "image/png", "a.bin": "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}
