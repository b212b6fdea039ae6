package swarm_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDelivery measures the delay from AddPost on the author to the
// moment the last of N followers has stored the post, over loopback TCP in
// one process. Followers form a random graph (ring + 3 random links each);
// the author is connected to 3 of them only. Reports p50/p99 in ms.
// N = 1000 runs only with SWARM_BENCH_1000=1 (it needs ~8,000 sockets).
func BenchmarkDelivery(b *testing.B) {
	sizes := []int{10, 100}
	if os.Getenv("SWARM_BENCH_1000") != "" {
		sizes = append(sizes, 1000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchDelivery(b, n) })
	}
}

func benchDelivery(b *testing.B, n int) {
	const user = "benchauthor"
	key := testKey(user)
	opts := nodeOpts{users: []string{user}, limit: 1 << 20}
	ip := func(i int) string { return fmt.Sprintf("127.8.%d.%d", i/250, i%250+1) }
	author := newNode(b, ip(0), opts)
	author.Follow(user)
	fs := make([]*node, n)
	var done atomic.Int64
	var target atomic.Int64
	finished := make(chan struct{}, 1)
	for i := range fs {
		fs[i] = newNode(b, ip(i+1), opts)
		fs[i].OnPost(func(_ string, k int64, _ []byte) {
			if k == target.Load() && done.Add(1) == int64(n) {
				finished <- struct{}{}
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, f := range fs {
		f.AddPeer(user, fs[(i+1)%n].addr)
		for range 3 {
			if j := rng.IntN(n); j != i {
				f.AddPeer(user, fs[j].addr)
			}
		}
	}
	for i := range min(3, n) {
		author.AddPeer(user, fs[i*n/3].addr)
	}
	k := int64(0)
	post := func() time.Duration {
		k++
		done.Store(0)
		target.Store(k)
		data := signPost(key, user, k, fmt.Sprintf("bench post %d", k))
		start := time.Now()
		if err := author.AddPost(user, k, data); err != nil {
			b.Fatal(err)
		}
		select {
		case <-finished:
		case <-time.After(60 * time.Second):
			b.Fatalf("post %d reached %d of %d followers", k, done.Load(), n)
		}
		return time.Since(start)
	}
	// Warm up: the mesh is connected once a post has reached everyone.
	post()
	time.Sleep(100 * time.Millisecond)
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		lat = append(lat, post())
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
