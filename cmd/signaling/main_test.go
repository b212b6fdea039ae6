package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gotwister/twister/signaling"
)

// TestMain lets the test binary act as the command for TestSignalShutdown.
func TestMain(m *testing.M) {
	if os.Getenv("SIGNALING_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadFlags(t *testing.T) {
	cases := map[string][]string{
		"flag provided but not defined": {"-nope"},
		"invalid -listen":               {"-listen", "localhost"},
		"not a number":                  {"-listen", "127.0.0.1:http-ish"},
		"-rate must be positive":        {"-rate", "0"},
		"-max-swarms must be positive":  {"-max-swarms", "-3"},
		"-idle must be at least 1s":     {"-idle", "10ms"},
		"invalid -origins":              {"-origins", "good.example,[bad"},
		"unexpected argument":           {"extra"},
		"invalid value":                 {"-burst", "many"},
	}
	for want, args := range cases {
		var stderr syncBuffer
		code := run(context.Background(), args, &stderr, nil)
		if code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", args, code, stderr.String(), want)
		}
	}
	var stderr syncBuffer
	if code := run(context.Background(), []string{"-h"}, &stderr, nil); code != 0 || !strings.Contains(stderr.String(), "-origins") {
		t.Errorf("-h: %d %q", code, stderr.String())
	}
}

func TestBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr syncBuffer
	code := run(context.Background(), []string{"-listen", ln.Addr().String()}, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "cannot listen on "+ln.Addr().String()) ||
		!strings.Contains(stderr.String(), "address already in use") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	exit := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		exit <- run(ctx, []string{"-listen", "127.0.0.1:0", "-origins", "app.example"}, &stderr, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-exit:
		t.Fatalf("exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	c, err := signaling.Dial(dctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(dctx, strings.Repeat("ab", 20)); err != nil {
		t.Fatal(err)
	}
	// The -origins flag reached the server.
	h := http.Header{"Origin": {"http://app.example"}}
	ws, _, err := websocket.Dial(dctx, "ws://"+addr+"/", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	ws.CloseNow()
	h.Set("Origin", "http://evil.example")
	if _, _, err := websocket.Dial(dctx, "ws://"+addr+"/", &websocket.DialOptions{HTTPHeader: h}); err == nil {
		t.Fatal("foreign origin accepted")
	}

	resp, err := http.Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st signaling.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Peers != 1 || st.Swarms != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown")
	}
	<-c.Done()
	if websocket.CloseStatus(c.Err()) != websocket.StatusGoingAway {
		t.Fatalf("client saw %v", c.Err())
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still listening after shutdown")
	}
}

// TestSignalShutdown runs the real command in a child process and stops it
// with SIGTERM.
func TestSignalShutdown(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SIGNALING_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`url=ws://([0-9.:]+)/`)
	var addr string
	var out []string
	for lines.Scan() {
		out = append(out, lines.Text())
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatalf("no listening line in %q", out)
	}
	go func() {
		for lines.Scan() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := signaling.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("SIGTERM did not stop the command")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed")
	}
	if websocket.CloseStatus(c.Err()) != websocket.StatusGoingAway {
		t.Fatalf("client saw %v", c.Err())
	}
}
