package swarm_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/boltstore"
)

const crashUser = "crashauthor"

// TestCrashChild is the child half of TestCrashRecovery: a follower with a
// bbolt store that prints "ack k" for every post it stored, until killed.
func TestCrashChild(t *testing.T) {
	dir, author := os.Getenv("SWARM_CRASH_DIR"), os.Getenv("SWARM_CRASH_AUTHOR")
	if dir == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	st, err := boltstore.Open(filepath.Join(dir, "posts.db"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	v := newValidator(10000, crashUser)
	ln, err := net.Listen("tcp", "127.0.7.2:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	s, err := swarm.New(swarm.Config{Listener: ln, Store: st, Validate: v.validate, ValidPostNumber: v.validPostNumber})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	// OnPost runs after the post is durably stored: only then do we ack.
	s.OnPost(func(user string, k int64, _ []byte) { fmt.Printf("ack %d\n", k) })
	s.Start()
	s.AddPeer(crashUser, author)
	fmt.Println("ready")
	select {} // until SIGKILL
}

// TestCrashRecovery: a child follower is SIGKILLed while posts stream in;
// after restart every post it acknowledged is still held, and it fetches
// only the posts it is missing.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	const total = 300
	key := testKey(crashUser)
	author := newNode(t, "127.0.7.1", nodeOpts{users: []string{crashUser}, limit: 10000})
	if err := author.Follow(crashUser); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SWARM_CRASH_DIR="+dir, "SWARM_CRASH_AUTHOR="+author.addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, total+10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("child exited early")
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("child silent")
		}
		return ""
	}
	if l := waitLine(); l != "ready" {
		t.Fatalf("child said %q", l)
	}
	// Stream posts while the child fetches them; kill it mid-stream.
	go func() {
		for k := int64(1); k <= total; k++ {
			author.AddPost(crashUser, k, signPost(key, crashUser, k, fmt.Sprintf("post %d", k)))
			time.Sleep(time.Millisecond)
		}
	}()
	acked := map[int64]bool{}
	for len(acked) < total/3 {
		l := waitLine()
		if !strings.HasPrefix(l, "ack ") {
			continue
		}
		k, err := strconv.ParseInt(strings.TrimPrefix(l, "ack "), 10, 64)
		if err != nil {
			t.Fatalf("child said %q", l)
		}
		acked[k] = true
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for l := range lines { // acks printed before the kill landed
		if k, err := strconv.ParseInt(strings.TrimPrefix(l, "ack "), 10, 64); err == nil && strings.HasPrefix(l, "ack ") {
			acked[k] = true
		}
	}
	t.Logf("child acknowledged %d posts before SIGKILL", len(acked))

	st, err := boltstore.Open(filepath.Join(dir, "posts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := newValidator(10000, crashUser)
	held, _ := st.List(crashUser)
	for k := range acked {
		d, ok, err := st.Get(crashUser, k)
		if err != nil || !ok {
			t.Fatalf("acknowledged post %d lost after SIGKILL (%v)", k, err)
		}
		if err := v.validate(crashUser, k, d); err != nil {
			t.Fatalf("post %d corrupt after SIGKILL: %v", k, err)
		}
	}
	// Restart on the same store: resume, fetch only what is missing.
	re := newNode(t, "127.0.7.3", nodeOpts{store: st, users: []string{crashUser}, limit: 10000})
	if err := re.Follow(crashUser); err != nil {
		t.Fatal(err)
	}
	if got, want := re.LastHave(crashUser), held[len(held)-1]; got != want {
		t.Errorf("LastHave after restart = %d, want %d", got, want)
	}
	waitFor(t, 10*time.Second, "author finishing", func() bool { return author.LastHave(crashUser) == total })
	if err := re.AddPeer(crashUser, author.addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "restarted follower catching up", func() bool {
		ks, _ := st.List(crashUser)
		re.mu.Lock()
		reported := len(re.got[crashUser]) // OnPost runs after the counters are updated
		re.mu.Unlock()
		return len(ks) == total && reported == total-len(held)
	})
	if got, want := re.Stats().PiecesReceived, uint64(total-len(held)); got != want {
		t.Errorf("restarted node fetched %d pieces, want %d (held %d)", got, want, len(held))
	}
}
