package swarm_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/swarm"
)

// testKey derives a deterministic key for a test user, so that a re-exec'd
// child process builds the same validator.
func testKey(user string) *keys.PrivateKey {
	sum := sha256.Sum256([]byte("swarm test key " + user))
	k, err := keys.PrivateKeyFromBytes(sum[:], true)
	if err != nil {
		panic(err)
	}
	return k
}

// signPost builds a real signed post: {sig_userpost, userpost{height, k, msg, n, time}}.
func signPost(key *keys.PrivateKey, user string, k int64, msg string) []byte {
	up := bencode.NewDict()
	up.Set("height", bencode.NewInt(100))
	up.Set("k", bencode.NewInt(k))
	up.Set("msg", bencode.NewString(msg))
	up.Set("n", bencode.NewString(user))
	up.Set("time", bencode.NewInt(1795319392+k))
	raw := bencode.Encode(up)
	post := bencode.NewDict()
	post.Set("sig_userpost", bencode.NewBytes(key.Sign(raw)))
	post.Set("userpost", up)
	return bencode.Encode(post)
}

// testValidator checks posts like acceptSignedPost's core (§2.9): size,
// envelope, n and k, post-number limit, and the signature over the raw
// userpost bytes with the user's key.
type testValidator struct {
	keys  map[string]keys.PubKey
	limit int64
}

func newValidator(limit int64, users ...string) *testValidator {
	v := &testValidator{keys: map[string]keys.PubKey{}, limit: limit}
	for _, u := range users {
		v.keys[u] = testKey(u).PubKey()
	}
	return v
}

func (v *testValidator) validPostNumber(user string, k int64) bool {
	_, ok := v.keys[user]
	return ok && k >= 0 && k <= v.limit
}

func (v *testValidator) validate(user string, k int64, data []byte) error {
	if len(data) < 1 || len(data) > 2048 {
		return fmt.Errorf("post of %d bytes", len(data))
	}
	d, err := bencode.DecodeWith(data, bencode.Limits{Lenient: true})
	if err != nil {
		return err
	}
	up, ok := d.GetDict("userpost")
	sig, ok2 := d.GetBytes("sig_userpost")
	if !ok || !ok2 || len(sig) == 0 {
		return errors.New("not a signed post")
	}
	if n, _ := up.GetString("n"); n != user {
		return fmt.Errorf("post names %q, torrent is %q", n, user)
	}
	if pk, _ := up.GetInt("k"); pk != k {
		return fmt.Errorf("post says k=%d, piece is %d", pk, k)
	}
	if !v.validPostNumber(user, k) {
		return fmt.Errorf("post number %d over the limit", k)
	}
	return keys.Verify(up.Raw, sig, v.keys[user])
}

// node is one Swarm on its own loopback address with a recorder of OnPost.
type node struct {
	*swarm.Swarm
	addr  string
	store swarm.PostStore
	mu    sync.Mutex
	got   map[string]map[int64]time.Time
	cond  chan struct{}
}

type nodeOpts struct {
	store  swarm.PostStore
	limits swarm.Limits
	users  []string
	limit  int64
}

func newNode(t testing.TB, ip string, o nodeOpts) *node {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	if o.store == nil {
		o.store = swarm.NewMemStore()
	}
	if o.limit == 0 {
		o.limit = 1000
	}
	v := newValidator(o.limit, o.users...)
	var logger *slog.Logger
	if os.Getenv("SWARM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", ln.Addr().String())
	}
	s, err := swarm.New(swarm.Config{
		Listener: ln, Store: o.store, Validate: v.validate, ValidPostNumber: v.validPostNumber,
		Limits: o.limits, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Swarm: s, addr: ln.Addr().String(), store: o.store, got: map[string]map[int64]time.Time{}, cond: make(chan struct{}, 1)}
	s.OnPost(func(user string, k int64, data []byte) {
		n.mu.Lock()
		if n.got[user] == nil {
			n.got[user] = map[int64]time.Time{}
		}
		n.got[user][k] = time.Now()
		n.mu.Unlock()
		select {
		case n.cond <- struct{}{}:
		default:
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return n
}

func (n *node) gotAt(user string, k int64) (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.got[user][k]
	return at, ok
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
