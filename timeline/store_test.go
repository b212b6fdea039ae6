package timeline

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	bolt "go.etcd.io/bbolt"
)

// TestPostStore checks the index as a swarm's post store: exact bytes
// back, post numbers in order, a post given under another name or number
// or conflicting with a held one refused, and everything there after a
// reopen.
func TestPostStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	ix := openIndex(t, path, Options{})
	k, _ := keys.GenerateKey()
	raws := map[int64][]byte{}
	for _, n := range []int64{3, 1, 10, 2} {
		raw, err := post.NewPost(k, "storer", n, 1700000000+n, 1, "post", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		raws[n] = raw
		if err := ix.StorePost("storer", n, raw); err != nil {
			t.Fatalf("StorePost %d: %v", n, err)
		}
	}
	other, _ := post.NewPost(k, "storer", 4, 1700000004, 1, "other", nil, nil)
	if err := ix.StorePost("storer", 5, other); !errors.Is(err, ErrInvalidPost) {
		t.Errorf("post 4 stored as 5: %v", err)
	}
	if err := ix.StorePost("someone", 4, other); !errors.Is(err, ErrInvalidPost) {
		t.Errorf("post of storer stored as someone's: %v", err)
	}
	conflict, _ := post.NewPost(k, "storer", 1, 1700000099, 1, "conflict", nil, nil)
	if err := ix.StorePost("storer", 1, conflict); err == nil {
		t.Error("a second, different post 1 was accepted")
	}
	if err := ix.StorePost("storer", 1, []byte("junk")); err == nil {
		t.Error("junk accepted")
	}
	check := func(ix *Index) {
		t.Helper()
		for n, raw := range raws {
			got, ok, err := ix.RawPost("storer", n)
			if err != nil || !ok || !bytes.Equal(got, raw) {
				t.Errorf("RawPost %d: %v %v, bytes equal %v", n, ok, err, bytes.Equal(got, raw))
			}
		}
		if _, ok, err := ix.RawPost("storer", 4); ok || err != nil {
			t.Errorf("RawPost of a post not held: %v %v", ok, err)
		}
		if _, ok, _ := ix.RawPost("nobody", 1); ok {
			t.Error("RawPost of an unknown user")
		}
		if ks, err := ix.PostNumbers("storer"); err != nil || !slices.Equal(ks, []int64{1, 2, 3, 10}) {
			t.Errorf("PostNumbers %v %v", ks, err)
		}
		if ks, err := ix.PostNumbers("store"); err != nil || len(ks) != 0 {
			t.Errorf("PostNumbers of a prefix of a user: %v %v", ks, err)
		}
		if lh := ix.LastHave([]string{"storer"})["storer"]; lh != 10 {
			t.Errorf("LastHave %d", lh)
		}
	}
	check(ix)
	ix.Close()
	check(openIndex(t, path, Options{}))
}

// TestWordsBatchedAndCrashSafe checks the batched word index: a post is
// found by word search at once (the search flushes), words noted but not
// yet indexed at a crash are indexed when the file is opened again, and
// more than a batch of posts is indexed without a search asking.
func TestWordsBatchedAndCrashSafe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	ix := openIndex(t, path, Options{})
	k, _ := keys.GenerateKey()
	add := func(ix *Index, n int64, msg string) {
		t.Helper()
		raw, err := post.NewPost(k, "worder", n, 1700000000+n, 1, msg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.StorePost("worder", n, raw); err != nil {
			t.Fatal(err)
		}
	}
	add(ix, 1, "zebra crossing")
	if ps := ix.WordPosts([]string{"zebra"}, true, 10); len(ps) != 1 {
		t.Fatalf("search right after the post: %d results", len(ps))
	}
	add(ix, 2, "giraffe neck")
	// A crash now: the file is closed without the flush Close does.
	ix.mu.Lock()
	if len(ix.wordsDue) != 1 {
		t.Fatalf("%d posts noted, want 1", len(ix.wordsDue))
	}
	ix.wordsTimer.Stop()
	ix.closed = true
	ix.db.Close()
	ix.mu.Unlock()

	ix = openIndex(t, path, Options{})
	ix.mu.Lock()
	due := len(ix.wordsDue)
	ix.mu.Unlock()
	if due != 0 {
		t.Errorf("%d posts still noted after Open", due)
	}
	if err := ix.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bWordsDue).Stats().KeyN; n != 0 {
			t.Errorf("%d notes left in the file", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ps := ix.WordPosts([]string{"giraffe"}, true, 10); len(ps) != 1 || ps[0].K != 2 {
		t.Errorf("the post noted at the crash is not found: %d results", len(ps))
	}
	for n := int64(3); n < 3+wordsBatch+1; n++ {
		add(ix, n, "okapi")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ix.mu.Lock()
		due = len(ix.wordsDue)
		ix.mu.Unlock()
		if due < wordsBatch || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if due >= wordsBatch {
		t.Errorf("%d posts noted: a full batch was not flushed", due)
	}
	if ps := ix.WordPosts([]string{"okapi"}, true, 1000); len(ps) != wordsBatch+1 {
		t.Errorf("okapi: %d results, want %d", len(ps), wordsBatch+1)
	}
}
