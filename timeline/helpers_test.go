package timeline

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/internal/vectors"
	"github.com/gotwister/twister/keys"
)

// ring is a KeyRing for tests.
type ring struct {
	mu      sync.Mutex
	keys    map[string]*keys.PrivateKey
	follows map[string]map[string]bool
	groups  map[string][]string // alias -> local members
}

func newRing() *ring {
	return &ring{keys: map[string]*keys.PrivateKey{}, follows: map[string]map[string]bool{}, groups: map[string][]string{}}
}

func (r *ring) Keys() map[string]*keys.PrivateKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]*keys.PrivateKey, len(r.keys))
	for n, k := range r.keys {
		out[n] = k
	}
	return out
}

func (r *ring) Follows(local, remote string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.follows[local][remote]
}

func (r *ring) GroupMembers(alias string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.groups[alias]...)
}

func (r *ring) follow(local string, remotes ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.follows[local] == nil {
		r.follows[local] = map[string]bool{}
	}
	for _, x := range remotes {
		r.follows[local][x] = true
	}
}

func (r *ring) add(name string, k *keys.PrivateKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[name] = k
}

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(unix int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.Unix(unix, 0)
}

func openIndex(t testing.TB, path string, opts Options) *Index {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "timeline.db")
	}
	opts.NoSync = true
	ix, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func vectorKey(t testing.TB, user string) *keys.PrivateKey {
	t.Helper()
	v := vectors.Verified()
	b, err := hex.DecodeString(vectors.Str(v, "_about", "keys", user, "priv_hex"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.PrivateKeyFromBytes(b, true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func daemonPost(name string) []byte {
	return vectors.Hex(vectors.Verified(), "daemon_posts", name, "post_bencoded_hex")
}

func daemonJSON(t testing.TB, name string) string {
	return jsonOf(t, vectors.Path(vectors.Verified(), "daemon_posts", name, "rpc_json"))
}

func jsonOf(t testing.TB, x any) string {
	t.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// transcriptCalls returns the recorded calls of one method.
func transcriptCalls(method string) []map[string]any {
	var out []map[string]any
	for _, c := range vectors.Transcript()["calls"].([]any) {
		if m := c.(map[string]any); m["method"] == method {
			out = append(out, m)
		}
	}
	return out
}

func i64(n int64) *int64 { return &n }
