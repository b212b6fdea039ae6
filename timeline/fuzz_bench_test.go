package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/text"
)

// FuzzAddPost feeds arbitrary bytes to AddPost: it never panics; what it
// refuses changes nothing; what it accepts is held afterwards (the first
// post for its (user, k)) and queries keep working.
func FuzzAddPost(f *testing.F) {
	for _, name := range daemonNames {
		f.Add(daemonPost(name))
	}
	f.Add([]byte("d12:sig_userpost1:x8:userpostd6:heighti1e1:ki0e1:n1:aee"))
	f.Add([]byte("garbage"))
	ix, _ := vectorIndex(f, f.TempDir()+"/fuzz.db", true)
	f.Fuzz(func(t *testing.T, data []byte) {
		before := jsonOf(t, []any{ix.Users(), ix.NumPieces(ix.Users())})
		held := map[string]*post.Post{}
		if q, err := post.Decode(data); err == nil {
			if p, ok := ix.Post(q.User, q.K); ok {
				held[q.User] = p
			}
		}
		p, err := ix.AddPost(data)
		if err != nil {
			if p != nil {
				t.Fatal("error with a post")
			}
			if after := jsonOf(t, []any{ix.Users(), ix.NumPieces(ix.Users())}); after != before {
				t.Fatalf("refused input changed the index: %v", err)
			}
			return
		}
		if text.ValidUsername(p.User) != nil || p.K < 0 {
			t.Fatalf("accepted post %q/%d", p.User, p.K)
		}
		got, ok := ix.Post(p.User, p.K)
		if !ok || !bytes.Equal(got.Raw, p.Raw) {
			t.Fatal("accepted post is not held")
		}
		if h := held[p.User]; h != nil && !bytes.Equal(h.Raw, got.Raw) {
			t.Fatal("a held post was replaced")
		}
		if h := held[p.User]; h == nil && !bytes.Equal(got.Raw, data) {
			t.Fatal("held post differs from the input")
		}
		ix.Posts(5, []UserRange{{User: p.User}}, 0xff, 0)
		ix.Favs(p.User, 5, nil, nil)
		ix.Mentions("gotest", 5, nil, nil)
		ix.DirectMsgs("gotest", 5, []UserRange{{User: p.User}})
	})
}

// benchIndex holds 50 users × 20 posts, with times interleaved.
func benchIndex(b *testing.B) (*Index, []UserRange) {
	c := &clock{}
	c.set(t0)
	ix := openIndex(b, "", Options{Clock: c.Now})
	var users []UserRange
	for u := range 50 {
		key := genKey(b)
		name := fmt.Sprintf("user%02d", u)
		users = append(users, UserRange{User: name})
		var raws [][]byte
		for k := range int64(20) {
			raw, err := post.NewPost(key, name, k, t0-k*600-int64(u)*7, 1, fmt.Sprintf("post %d of %s #bench", k, name), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			raws = append(raws, raw)
		}
		if _, errs := ix.AddPosts(raws); errs[0] != nil {
			b.Fatal(errs[0])
		}
	}
	return ix, users
}

// BenchmarkGetPosts: getposts of 20 posts over 50 followed users, each
// holding 20 posts (the figure measured on twisterd: ≈ 50 per second).
func BenchmarkGetPosts(b *testing.B) {
	ix, users := benchIndex(b)
	if n := len(ix.Posts(20, users, DefaultAllowed, 0)); n != 20 {
		b.Fatalf("%d posts", n)
	}
	start := time.Now()
	for b.Loop() {
		ix.Posts(20, users, DefaultAllowed, 0)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "getposts/s")
}

// BenchmarkGetPostsJSON adds what the RPC does with the result: the posts'
// JSON, encoded.
func BenchmarkGetPostsJSON(b *testing.B) {
	ix, users := benchIndex(b)
	start := time.Now()
	for b.Loop() {
		ps := ix.Posts(20, users, DefaultAllowed, 0)
		out := make([]any, len(ps))
		for i, p := range ps {
			out[i] = p.JSON()
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "getposts/s")
}

// BenchmarkGetPostsRawJSON is the same through PostsJSON.
func BenchmarkGetPostsRawJSON(b *testing.B) {
	ix, users := benchIndex(b)
	start := time.Now()
	for b.Loop() {
		if _, err := json.Marshal(ix.PostsJSON(20, users, DefaultAllowed, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "getposts/s")
}

// BenchmarkGetPostsCold: the same with caches too small to help (every
// call reads and decodes from the file).
func BenchmarkGetPostsCold(b *testing.B) {
	c := &clock{}
	c.set(t0)
	ix, users := benchIndex(b)
	path := ix.db.Path()
	ix.Close()
	cold := openIndex(b, path, Options{Clock: c.Now, CachePerUser: 1, CacheUsers: 1})
	start := time.Now()
	for b.Loop() {
		cold.Posts(20, users, DefaultAllowed, 0)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "getposts/s")
}
