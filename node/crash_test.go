package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotwister/twister/post"
	"github.com/gotwister/twister/swarm/boltstore"
)

// childEnv carries a childSpec (JSON) to a re-executed test binary, which
// then runs TestNodeChild as a real node process.
const childEnv = "TWISTER_NODE_TEST_CHILD"

// childSpec tells a child process what to run.
type childSpec struct {
	// Args are twisterd's flags for the node.
	Args []string
	// PostAs, when set, makes the child post continuously as this user
	// through its own JSON-RPC (newpostmsg), starting after the user's last
	// held post, printing "posted <k>" after each call returned, until
	// MaxK; then it prints "done" and waits to be killed.
	PostAs string
	MaxK   int64
	// Pprof, when set, is an address to serve net/http/pprof on.
	Pprof string
}

// TestNodeChild is the body of the child processes of the crash and memory
// tests; it is skipped in a normal run.
func TestNodeChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("runs only as a child process of another test")
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad spec:", err)
		os.Exit(3)
	}
	cfg, err := ParseArgs(spec.Args, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	n, err := New(cfg, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	if err := n.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	if spec.Pprof != "" {
		go http.ListenAndServe(spec.Pprof, nil) // net/http/pprof's handlers (rss_test.go)
	}
	fmt.Printf("ready %s\n", n.RPCAddr())
	if spec.PostAs != "" {
		childPost(n, cfg, spec)
	}
	<-n.Done()
	os.Exit(0)
}

// childPost posts through the node's own JSON-RPC server and reports each
// post only after newpostmsg returned.
func childPost(n *Node, cfg *Config, spec childSpec) {
	c := &rpcClient{url: "http://" + n.RPCAddr() + "/", user: cfg.RPCUser, pass: cfg.RPCPassword}
	var lh map[string]int64
	if err := c.call(&lh, "getlasthave", spec.PostAs, []string{spec.PostAs}); err != nil {
		fmt.Fprintln(os.Stderr, "child: getlasthave:", err)
		os.Exit(4)
	}
	for k := lh[spec.PostAs] + 1; k <= spec.MaxK; k++ {
		if err := c.call(nil, "newpostmsg", spec.PostAs, k, crashPostText(k)); err != nil {
			fmt.Fprintf(os.Stderr, "child: newpostmsg %d: %v\n", k, err)
			os.Exit(4)
		}
		fmt.Printf("posted %d\n", k)
	}
	fmt.Println("done")
}

func crashPostText(k int64) string { return fmt.Sprintf("crash test post number %d #crash", k) }

// rpcClient is a JSON-RPC client that needs no *testing.T (for children).
type rpcClient struct {
	url, user, pass string
	hc              http.Client
}

func (c *rpcClient) call(out any, method string, params ...any) error {
	body, _ := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.user, c.pass)
	c.hc.Timeout = 30 * time.Second
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r rpcReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if r.Error != nil {
		return fmt.Errorf("error %d: %s", r.Error.Code, r.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(r.Result, out)
	}
	return nil
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
	done   chan struct{}
}

// startChild re-executes the test binary as a node process.
func startChild(t testing.TB, spec childSpec) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(exe, "-test.run=^TestNodeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 1<<16), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{w: c.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// waitReady waits for the child's "ready" line.
func (c *child) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				<-c.done
				t.Fatalf("child exited before it was ready: %s", c.stderr)
			}
			if strings.HasPrefix(l, "ready ") {
				return
			}
		case <-deadline:
			t.Fatalf("child not ready in %v: %s", timeout, c.stderr)
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// mineBlocks mines n regtest blocks on node tn, one at a time.
func mineBlocks(t testing.TB, tn *testNode, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range n {
		h := tn.Chain.Height()
		tn.Miner.SetProcLimit(1)
		tn.Miner.SetGenerate(true)
		if err := tn.Miner.Wait(ctx); err != nil {
			t.Fatalf("mining: %v", err)
		}
		if tn.Chain.Height() <= h {
			t.Fatalf("no block mined at height %d", h)
		}
	}
}

// TestCrashDuringPosting kills a node with SIGKILL while it posts (three
// times, at random moments), restarts it on the same data directory and
// checks that every post whose newpostmsg returned is still held, indexed
// and served to a follower node.
func TestCrashDuringPosting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const (
		addr   = "127.0.7.1"
		user   = "crashposter"
		rounds = 3
		maxK   = 600
	)
	dir := t.TempDir()
	port, rpcPort := freePort(t, addr), freePort(t, addr)
	args := []string{"-regtest", "-datadir=" + dir, "-rpcuser=u", "-rpcpassword=p", "-bind=" + addr, "-rpcbind=" + addr,
		fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort)}

	// Set up the data directory: a registered user who follows itself (as
	// the web UI makes users do, so its swarm is served after a restart)
	// and enough blocks for post numbers up to maxK.
	n := startNodeIn(t, dir, addr, fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort))
	registerUsers(t, n, user)
	mineBlocks(t, n, maxK/2)
	n.must("follow", user, []string{user})
	n.Close()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	returned := map[int64]bool{}
	var maxReturned int64
	for round := range rounds {
		c := startChild(t, childSpec{Args: args, PostAs: user, MaxK: maxK})
		c.waitReady(t, 15*time.Second)
		// Kill at a random moment once posting has begun.
		var killAfter <-chan time.Time
		posted := 0
	read:
		for {
			select {
			case l, ok := <-c.lines:
				if !ok {
					<-c.done
					t.Fatalf("round %d: child exited: %s", round, c.stderr)
				}
				if l == "done" {
					break read
				}
				k, err := strconv.ParseInt(strings.TrimPrefix(l, "posted "), 10, 64)
				if err != nil {
					continue
				}
				returned[k] = true
				maxReturned = max(maxReturned, k)
				posted++
				if killAfter == nil {
					killAfter = time.After(time.Duration(rng.IntN(400)) * time.Millisecond)
				}
			case <-killAfter:
				break read
			case <-time.After(15 * time.Second):
				t.Fatalf("round %d: child silent: %s", round, c.stderr)
			}
		}
		c.kill()
		// Lines written before the kill are still in the pipe.
		for l := range c.lines {
			if k, err := strconv.ParseInt(strings.TrimPrefix(l, "posted "), 10, 64); err == nil {
				returned[k] = true
				maxReturned = max(maxReturned, k)
				posted++
			}
		}
		t.Logf("round %d: %d posts returned before SIGKILL", round, posted)
		if maxReturned >= maxK {
			break
		}
	}
	if len(returned) == 0 {
		t.Fatal("no post was made")
	}

	// Restart on the same data directory.
	n = startNodeIn(t, dir, addr, fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort))
	for k := range returned {
		p := decode[map[string]any](t, n.must("peekpost", user, k, "*", 1))
		if msg := p["userpost"].(map[string]any)["msg"]; msg != crashPostText(k) {
			t.Fatalf("post %d after restart: msg %q", k, msg)
		}
	}
	held := decode[map[string]int64](t, n.must("getnumpieces", user, []string{user}))[user]
	last := decode[map[string]int64](t, n.must("getlasthave", user, []string{user}))[user]
	if last < maxReturned {
		t.Fatalf("lasthave %d after restart, but post %d was returned", last, maxReturned)
	}
	// Every held post is indexed: getposts lists exactly the held posts
	// (a post stored but not indexed would be invisible to the UI).
	posts := decode[[]map[string]any](t, n.must("getposts", held+10, []map[string]any{{"username": user}}))
	inIndex := map[int64]bool{}
	for _, p := range posts {
		inIndex[int64(p["userpost"].(map[string]any)["k"].(float64))] = true
	}
	for k := range returned {
		if !inIndex[k] {
			t.Errorf("post %d was returned by newpostmsg and is held, but getposts does not list it after the restart", k)
		}
	}
	if int64(len(inIndex)) != held {
		t.Errorf("after the restart the node holds %d posts of %s but getposts lists %d (store and index disagree)", held, user, len(inIndex))
	}
	// The node keeps working: the next post number is accepted.
	n.must("newpostmsg", user, last+1, "after the crash")

	// A follower gets every post.
	f := startNode(t, "127.0.7.2", fmt.Sprintf("-addnode=%s:%d", addr, port), fmt.Sprintf("-dhtnode=%s:%d", addr, port+LibtorrentPortOffset))
	waitFor(t, 15*time.Second, "chain sync", func() bool { return f.Chain.Height() == n.Chain.Height() })
	f.must("createwalletuser", "crashwatcher")
	f.must("follow", "crashwatcher", []string{user})
	waitFor(t, 20*time.Second, "the follower to fetch every post", func() bool {
		return decode[map[string]int64](t, f.must("getnumpieces", "crashwatcher"))[user] >= held+1
	})
	posts = decode[[]map[string]any](t, f.must("getposts", held+10, []map[string]any{{"username": user}}))
	got := map[int64]bool{}
	for _, p := range posts {
		got[int64(p["userpost"].(map[string]any)["k"].(float64))] = true
	}
	for k := range returned {
		if !got[k] {
			t.Errorf("the follower lacks post %d", k)
		}
	}
	t.Logf("%d posts returned before the kills, %d held after restart, all served to the follower", len(returned), held)
}

// TestImportOldPostStore starts a node on a data directory of an earlier
// version, which kept posts in a posts.db beside the index: at start its
// posts move into the index (the post store now), are listed by getposts
// and served, and posts.db is renamed.
func TestImportOldPostStore(t *testing.T) {
	const addr = "127.0.7.3"
	dir := t.TempDir()
	port, rpcPort := freePort(t, addr), freePort(t, addr)
	fixed := []string{fmt.Sprintf("-port=%d", port), fmt.Sprintf("-rpcport=%d", rpcPort)}
	n := startNodeIn(t, dir, addr, fixed...)
	registerUsers(t, n, "halfwritten")
	n.must("follow", "halfwritten", []string{"halfwritten"})
	n.must("newpostmsg", "halfwritten", 1, "post in the index")
	key, err := n.Wallet.Key("halfwritten")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := post.NewPost(key, "halfwritten", 2, time.Now().Unix(), n.postHeight(), "post in the old posts.db", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()

	st, err := boltstore.Open(filepath.Join(dir, "regtest", "posts.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put("halfwritten", 2, raw); err != nil {
		t.Fatal(err)
	}
	st.Close()

	n = startNodeIn(t, dir, addr, fixed...)
	if lh := decode[map[string]int64](t, n.must("getlasthave", "halfwritten", []string{"halfwritten"}))["halfwritten"]; lh != 2 {
		t.Fatalf("lasthave %d, want 2", lh)
	}
	posts := decode[[]map[string]any](t, n.must("getposts", 10, []map[string]any{{"username": "halfwritten"}}))
	if len(posts) != 2 {
		t.Fatalf("after a restart getposts lists %d posts of the 2 held", len(posts))
	}
	if msg := posts[0]["userpost"].(map[string]any)["msg"]; msg != "post in the old posts.db" {
		t.Errorf("newest post %q, want the imported one", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "regtest", "posts.db.imported")); err != nil {
		t.Errorf("posts.db not renamed after the import: %v", err)
	}
}
