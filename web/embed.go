// Package web holds the twister web client (app/), the embeddable widget
// (widget/), the browser node's JavaScript API (js/) and the offline
// service worker (sw.js), embedded in the Go binary, plus the WebAssembly
// build of the browser node when it has been generated into dist/. FS
// exposes them as one file tree (dist's files appear under js/), and
// Handler serves that tree over HTTP with the right MIME types
// (application/wasm for the node, so browsers compile it while it
// downloads), content-hash ETags, gzip for the wasm when pre-compressed,
// and CORS on js/ and widget/ so that pages on other origins can embed the
// widget. Mount Handler at a site's root (or under a prefix with
// http.StripPrefix): / redirects to the client at app/.
package web

//go:generate sh -c "GOOS=js GOARCH=wasm go build -ldflags='-s -w' -o dist/twister.wasm ../wasm && gzip -9 -k -f dist/twister.wasm && cp \"$(go env GOROOT)/lib/wasm/wasm_exec.js\" dist/wasm_exec.js"

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

//go:embed app widget sw.js js/*.js js/README.md dist
var files embed.FS

// distNames maps served paths to their file in dist/.
var distNames = map[string]string{
	"js/twister.wasm":    "dist/twister.wasm",
	"js/twister.wasm.gz": "dist/twister.wasm.gz",
	"js/wasm_exec.js":    "dist/wasm_exec.js",
}

// FS returns the web files: app/…, widget/…, sw.js, js/twister.js,
// js/worker.js, js/README.md and, when built, js/twister.wasm,
// js/twister.wasm.gz and js/wasm_exec.js (from dist/).
func FS() fs.FS { return tree{} }

// tree is the embedded files with dist/ shown under js/.
type tree struct{}

func (tree) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if d, ok := distNames[name]; ok {
		return files.Open(d)
	}
	if name == "dist" || strings.HasPrefix(name, "dist/") {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return files.Open(name)
}

// ReadDir lists a directory; js/ also lists the dist files present.
func (t tree) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == "." {
		es, err := files.ReadDir(".")
		if err != nil {
			return nil, err
		}
		out := es[:0]
		for _, e := range es {
			if e.Name() != "dist" {
				out = append(out, e)
			}
		}
		return out, nil
	}
	es, err := files.ReadDir(name)
	if err != nil {
		return nil, err
	}
	if name == "js" {
		for served, d := range distNames {
			if info, err := fs.Stat(files, d); err == nil {
				es = append(es, fs.FileInfoToDirEntry(renamed{info, path.Base(served)}))
			}
		}
	}
	return es, nil
}

type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// mimeTypes are set explicitly so that serving never depends on the
// system's MIME tables.
var mimeTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".wasm": "application/wasm",
	".md":   "text/markdown; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// ContentType returns the MIME type served for name.
func ContentType(name string) string {
	if path.Base(name) == "manifest.json" {
		return "application/manifest+json"
	}
	if t, ok := mimeTypes[path.Ext(name)]; ok {
		return t
	}
	return "application/octet-stream"
}

// Handler serves FS over HTTP: GET and HEAD only, / redirects to app/,
// directories serve their index.html, every response has an ETag (hash of
// the content) and Cache-Control: no-cache (browsers revalidate, the
// service worker keeps the offline copy). The wasm is sent gzip-encoded
// when js/twister.wasm.gz exists and the client accepts gzip. js/ and
// widget/ answer cross-origin requests (Access-Control-Allow-Origin: *).
func Handler() http.Handler { return HandlerFS(FS()) }

// HandlerFS is Handler for another tree laid out like FS (for example
// os.DirFS of a checkout, to edit the files without rebuilding). If the
// tree has no js/wasm_exec.js, the one of the Go installation that built
// this program is served, when it exists.
func HandlerFS(fsys fs.FS) http.Handler { return &handler{fsys: fsys} }

type handler struct {
	fsys fs.FS
	mu   sync.Mutex
	tags map[tagKey]string // ETags of large files, by name and size
}

type tagKey struct {
	name string
	size int
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		redirect(w, "app/", http.StatusFound)
		return
	}
	if strings.HasPrefix(name, "js/") || strings.HasPrefix(name, "widget/") {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	if st, err := fs.Stat(h.fsys, name); err == nil && st.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			redirect(w, path.Base(name)+"/", http.StatusMovedPermanently)
			return
		}
		name += "/index.html"
	}
	body, err := h.read(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "404 not found: "+name, http.StatusNotFound)
		} else {
			http.Error(w, "cannot read "+name+": "+err.Error(), http.StatusInternalServerError)
		}
		return
	}
	w.Header().Set("Content-Type", ContentType(name))
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if name == "sw.js" {
		w.Header().Set("Service-Worker-Allowed", "/")
	}
	if name == "js/twister.wasm" && acceptsGzip(r) {
		if gz, err := h.read(name + ".gz"); err == nil {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Add("Vary", "Accept-Encoding")
			body = gz
			name += ".gz"
		}
	}
	w.Header().Set("ETag", h.etag(name, body))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// redirect sends a relative Location (http.Redirect makes it absolute,
// which breaks a Handler mounted under a prefix with http.StripPrefix).
func redirect(w http.ResponseWriter, to string, code int) {
	w.Header().Set("Location", to)
	w.WriteHeader(code)
}

func acceptsGzip(r *http.Request) bool {
	for _, p := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(p, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

func (h *handler) read(name string) ([]byte, error) {
	f, err := h.fsys.Open(name)
	if err == nil {
		defer f.Close()
		return io.ReadAll(f)
	}
	if name == "js/wasm_exec.js" && errors.Is(err, fs.ErrNotExist) {
		if b, err2 := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js")); err2 == nil {
			return b, nil
		}
	}
	return nil, err
}

// etag is a hash of the content; for files over 1 MB (the wasm) it is
// remembered by name and size instead of being recomputed per request.
func (h *handler) etag(name string, body []byte) string {
	big := len(body) > 1<<20
	k := tagKey{name, len(body)}
	if big {
		h.mu.Lock()
		t, ok := h.tags[k]
		h.mu.Unlock()
		if ok {
			return t
		}
	}
	sum := sha256.Sum256(body)
	t := `"` + hex.EncodeToString(sum[:12]) + `"`
	if big {
		h.mu.Lock()
		if h.tags == nil {
			h.tags = map[tagKey]string{}
		}
		h.tags[k] = t
		h.mu.Unlock()
	}
	return t
}
