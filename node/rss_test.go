package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof" // served by a child node with childSpec.Pprof
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/keys"
	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/swarm/boltstore"
)

// rssEnv enables TestFollowerRSS, a heavy measurement kept out of the
// normal test run: TWISTER_RSS_TEST=1 go test -run TestFollowerRSS -v ./node
// (TWISTER_RSS_USERS and TWISTER_RSS_POSTS change the load, default 1000
// users × 50 posts; TWISTER_RSS_HEAP=file saves the follower's heap
// profile after the fetch).
const rssEnv = "TWISTER_RSS_TEST"

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// procStatus reads a field of /proc/<pid>/status in MB (VmRSS, VmHWM).
func procStatusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// memBreakdown describes a process's memory: resident anonymous and
// file-backed (mmapped bbolt files) parts from /proc/<pid>/smaps_rollup,
// and, when the process serves pprof, the Go heap in use and goroutines.
func memBreakdown(pid int, pprof string) string {
	var parts []string
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "Rss:" || f[0] == "Anonymous:" || f[0] == "Shared_Clean:" || f[0] == "Private_Clean:" || f[0] == "Private_Dirty:") {
				kb, _ := strconv.ParseFloat(f[1], 64)
				parts = append(parts, fmt.Sprintf("%s %.1f MB", strings.TrimSuffix(f[0], ":"), kb/1024))
			}
		}
	}
	if pprof != "" {
		get := func(path string) string {
			c := http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get("http://" + pprof + path)
			if err != nil {
				return ""
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		if path := os.Getenv("TWISTER_RSS_HEAP"); path != "" {
			os.WriteFile(path, []byte(get("/debug/pprof/heap")), 0o644) // for go tool pprof
		}
		heap := get("/debug/pprof/heap?debug=1")
		for _, line := range strings.Split(heap, "\n") {
			for _, key := range []string{"# HeapInuse = ", "# Stack = ", "# Sys = "} {
				if v, ok := strings.CutPrefix(line, key); ok {
					x, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
					parts = append(parts, fmt.Sprintf("%s %.1f MB", strings.TrimSuffix(strings.TrimPrefix(key, "# "), " = "), x/(1<<20)))
				}
			}
		}
		if g := get("/debug/pprof/goroutine?debug=1"); g != "" {
			parts = append(parts, strings.TrimSpace(strings.SplitN(g, "\n", 2)[0]))
		}
	}
	return strings.Join(parts, ", ")
}

// TestFollowerRSS measures the resident memory of a node process that
// follows 1,000 users with 50 posts each (goal: at most 150 MB). An author
// node (in this process) holds the load: the users are registered in a few
// blocks and their 50,000 posts signed and written to its post store
// directly; a follower node (a child process, so its memory is its own)
// follows every author through JSON-RPC and fetches every post over the
// swarms, finding the author through the DHT.
func TestFollowerRSS(t *testing.T) {
	if testing.Short() || os.Getenv(rssEnv) == "" {
		t.Skipf("set %s=1 to run (takes a minute or two)", rssEnv)
	}
	nUsers, nPosts := envInt("TWISTER_RSS_USERS", 1000), envInt("TWISTER_RSS_POSTS", 50)
	const authorAddr, fanAddr = "127.0.7.30", "127.0.7.31"
	dir := t.TempDir()
	port, rpcPort := freePort(t, authorAddr), freePort(t, authorAddr)
	fixed := []string{fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort)}
	a := startNodeIn(t, dir, authorAddr, fixed...)

	names := make([]string, nUsers)
	for i := range names {
		names[i] = fmt.Sprintf("rss%04d", i)
	}
	start := time.Now()
	for _, u := range names {
		a.must("createwalletuser", u)
		a.must("sendnewusertransaction", u)
	}
	for blocks := 0; ; blocks++ {
		if blocks > 100 {
			t.Fatal("registrations not mined in 100 blocks")
		}
		mineBlocks(t, a, 1)
		if a.Chain.MempoolSize() == 0 {
			break
		}
	}
	for _, u := range names {
		if !a.Chain.UserExists(u) {
			t.Fatalf("%s not registered", u)
		}
	}
	mineBlocks(t, a, max(1, (nPosts-20)/2+2))
	t.Logf("%d users registered, chain at %d, in %v", nUsers, a.Chain.Height(), time.Since(start).Round(time.Millisecond))

	// The author node seeds every user's swarm.
	a.must("follow", names[0], names)
	height := a.postHeight()
	userKeys := make([]*keys.PrivateKey, nUsers)
	for i, u := range names {
		k, err := a.Wallet.Key(u)
		if err != nil {
			t.Fatal(err)
		}
		userKeys[i] = k
	}
	a.Close()

	// Sign the posts on every core and write them to the author's store.
	start = time.Now()
	raws := make([][][]byte, nUsers)
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, runtime.NumCPU())
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				key := userKeys[i]
				for k := int64(1); k <= int64(nPosts); k++ {
					var lastk *int64
					if k > 1 {
						lastk = new(int64)
						*lastk = k - 1
					}
					raw, err := post.NewPost(key, names[i], k, time.Now().Unix()-int64(nPosts)+k, height,
						fmt.Sprintf("post %d of %s: a line of text of a usual length, with a #tag", k, names[i]), lastk, nil)
					if err != nil {
						errs <- err
						return
					}
					raws[i] = append(raws[i], raw)
				}
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(dir, "regtest", "posts.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range names {
		for j, raw := range raws[i] {
			if err := st.Put(u, int64(j+1), raw); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()
	raws = nil
	t.Logf("%d posts signed and stored in %v", nUsers*nPosts, time.Since(start).Round(time.Millisecond))

	a = startNodeIn(t, dir, authorAddr, fixed...)
	if lh := a.LastHave(names[nUsers-1]); lh != int64(nPosts) {
		t.Fatalf("author holds up to %d of %s", lh, names[nUsers-1])
	}

	// The follower, a process of its own.
	fanPort, fanRPC := freePort(t, fanAddr), freePort(t, fanAddr)
	pprofAddr := fmt.Sprintf("%s:%d", fanAddr, freePort(t, fanAddr))
	fan := startChild(t, childSpec{Pprof: pprofAddr, Args: []string{"-regtest", "-datadir=" + t.TempDir(), "-rpcuser=u", "-rpcpassword=p",
		"-bind=" + fanAddr, "-rpcbind=" + fanAddr, fmt.Sprintf("-port=%d", fanPort), fmt.Sprintf("-rpcport=%d", fanRPC),
		fmt.Sprintf("-addnode=%s:%d", authorAddr, port), fmt.Sprintf("-dhtnode=%s:%d", authorAddr, port+LibtorrentPortOffset)}})
	fan.waitReady(t, 20*time.Second)
	pid := fan.cmd.Process.Pid
	fc := &rpcClient{url: fmt.Sprintf("http://%s:%d/", fanAddr, fanRPC), user: "u", pass: "p"}
	fcall := func(out any, method string, params ...any) {
		t.Helper()
		if err := fc.call(out, method, params...); err != nil {
			t.Fatalf("follower %s: %v (%s)", method, err, fan.stderr)
		}
	}
	waitFor(t, 60*time.Second, "the follower's chain", func() bool {
		var h int64
		fcall(&h, "getblockcount")
		return h == a.Chain.Height()
	})
	rssIdle := procStatusMB(pid, "VmRSS")
	fcall(nil, "createwalletuser", "rssfan")

	// Follow in batches, paced so that the DHT traffic of the lookups stays
	// below twisterd's flood limit (1,000 packets in 5 s from one address).
	start = time.Now()
	const batch, pace = 50, 2 * time.Second
	for i := 0; i < nUsers; i += batch {
		fcall(nil, "follow", "rssfan", names[i:min(i+batch, nUsers)])
		if i+batch < nUsers {
			time.Sleep(pace)
		}
	}
	want := int64(nUsers * nPosts)
	var got, before int64
	progress := time.Now()
	for {
		var counts map[string]int64
		fcall(&counts, "getnumpieces", "rssfan")
		got = 0
		for _, c := range counts {
			got += c
		}
		if got >= want {
			break
		}
		if got > before {
			before, progress = got, time.Now()
		}
		if time.Since(progress) > 90*time.Second {
			var info map[string]any
			fcall(&info, "getinfo")
			t.Fatalf("the follower fetched %d of %d posts, then nothing for 90 s (after %v; %v swarm peers, %v torrents); memory: %s",
				got, want, time.Since(start).Round(time.Second), info["num_peers"], info["dht_torrents"], memBreakdown(pid, pprofAddr))
		}
		time.Sleep(200 * time.Millisecond)
	}
	fetch := time.Since(start)
	rss, hwm := procStatusMB(pid, "VmRSS"), procStatusMB(pid, "VmHWM")
	t.Logf("follower of %d users × %d posts: fetched %d posts in %v (follows paced over %v); RSS idle before following %.1f MB, right after the fetch %.1f MB (peak so far %.1f MB): %s",
		nUsers, nPosts, got, fetch.Round(time.Millisecond), time.Duration(nUsers/batch-1)*pace, rssIdle, rss, hwm, memBreakdown(pid, ""))
	// A home timeline over every followed user, as a UI asks for it.
	var ranges []map[string]any
	for _, u := range names {
		ranges = append(ranges, map[string]any{"username": u})
	}
	t0 := time.Now()
	var tl []json.RawMessage
	fcall(&tl, "getposts", 30, ranges)
	tlTook := time.Since(t0)
	time.Sleep(5 * time.Second)
	rssTL := procStatusMB(pid, "VmRSS")
	t.Logf("after getposts 30 over the %d users (%v) and 5 s: RSS %.1f MB: %s", nUsers, tlTook.Round(time.Millisecond),
		rssTL, memBreakdown(pid, pprofAddr))
	if nUsers >= 1000 && nPosts >= 50 {
		if rss > 150 {
			t.Errorf("follower RSS %.1f MB after the fetch, goal ≤ 150 MB", rss)
		}
		if rssTL > 150 {
			t.Errorf("follower RSS %.1f MB once its timeline was read, goal ≤ 150 MB", rssTL)
		}
	}
}

// TestPostingBurstKeepsDHTPeers: a node that posts in a burst (as a busy
// node, e.g. one serving a bridge, does) writes several DHT resources per
// post to its few DHT neighbours. Those neighbours must not end up
// ignoring it: after the burst, an item it puts must still be found by
// its neighbour. twisterd's flood protection, which the DHT copies, ignores
// an address that sent 1,000 packets within 5 s for 5 minutes.
func TestPostingBurstKeepsDHTPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 200 times")
	}
	a := startNode(t, "127.0.7.40")
	b := startNode(t, "127.0.7.41", fmt.Sprintf("-addnode=127.0.7.40:%d", a.cfg.Port),
		fmt.Sprintf("-dhtnode=127.0.7.40:%d", a.cfg.DHTPort()))
	var users []string
	for i := range 10 {
		users = append(users, fmt.Sprintf("burst%02d", i))
	}
	registerUsers(t, a, users...)
	waitFor(t, 15*time.Second, "chain at B", func() bool { return b.Chain.Height() == a.Chain.Height() })
	waitFor(t, 15*time.Second, "DHT nodes", func() bool {
		return decode[map[string]any](t, a.must("getinfo"))["dht_nodes"].(float64) >= 1 &&
			decode[map[string]any](t, b.must("getinfo"))["dht_nodes"].(float64) >= 1
	})
	seen := func(res string, timeout time.Duration) bool {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			if len(decode[[]any](t, b.must("dhtget", users[0], res, "s", 500))) == 1 {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	}
	a.must("dhtput", users[0], "beforeburst", "s", "v", users[0], 1)
	if !seen("beforeburst", 10*time.Second) {
		t.Fatal("B does not find A's item even before the burst")
	}
	start := time.Now()
	for k := 1; k <= 20; k++ {
		for i, u := range users {
			a.must("newpostmsg", u, k, fmt.Sprintf("burst post %d, hello @%s #burst", k, users[(i+1)%len(users)]))
		}
	}
	t.Logf("200 posts in %v", time.Since(start).Round(time.Millisecond))
	a.must("dhtput", users[0], "afterburst", "s", "v", users[0], 1)
	if !seen("afterburst", 15*time.Second) {
		ds := b.net.DHT.Stats()
		t.Fatalf("after A posted 200 times, B no longer finds A's DHT items (B ignored %d packets as flooding): "+
			"a node's own DHT traffic to one neighbour must stay under the flood limit, or local addresses be exempt from it", ds.Flooded)
	}
}

// benchNode starts a node with users registered and room for posts
// numbers up to maxK.
func benchNode(b *testing.B, addr string, users []string, maxK int) *testNode {
	n := startNode(b, addr)
	for _, u := range users {
		n.must("createwalletuser", u)
		n.must("sendnewusertransaction", u)
	}
	mineBlocks(b, n, 1)
	mineBlocks(b, n, max(1, (maxK-20)/2+1))
	return n
}

// BenchmarkNewPostMsg measures newpostmsg through JSON-RPC on one node
// (with no DHT neighbours, so the DHT writes are only queued). Profile it
// with go test -run '^$' -bench NewPostMsg -cpuprofile cpu.out ./node.
func BenchmarkNewPostMsg(b *testing.B) {
	var users []string
	for i := range 50 {
		users = append(users, fmt.Sprintf("bench%02d", i))
	}
	n := benchNode(b, "127.0.7.50", users, b.N/len(users)+2)
	b.ResetTimer()
	for i := range b.N {
		n.must("newpostmsg", users[i%len(users)], i/len(users)+1, "a benchmark post of a usual length, with a #tag in it")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkGetPosts measures getposts of 20 posts over 50 users holding 20
// posts each, through JSON-RPC.
func BenchmarkGetPosts(b *testing.B) {
	var users []string
	var ranges []map[string]any
	for i := range 50 {
		users = append(users, fmt.Sprintf("bench%02d", i))
		ranges = append(ranges, map[string]any{"username": users[i]})
	}
	n := benchNode(b, "127.0.7.51", users, 20)
	for k := 1; k <= 20; k++ {
		for _, u := range users {
			n.must("newpostmsg", u, k, "a benchmark post of a usual length, with a #tag in it")
		}
	}
	for b.Loop() {
		n.must("getposts", 20, ranges)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
