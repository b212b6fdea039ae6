package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwister/twister/bridge/client"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
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
		"flag provided but not defined":      {"-nope"},
		"invalid -listen":                    {"-listen", "localhost"},
		"invalid -dht-bind":                  {"-dht-bind", "example.org"},
		"-dhtnode needs -datadir":            {"-dhtnode", "127.0.0.1:4433"},
		"invalid -dhtnode":                   {"-datadir", t.TempDir(), "-dhtnode", "nope"},
		"-network must be main or regtest":   {"-network", "testnet3"},
		"-tls-cert and -tls-key go together": {"-tls-cert", "x.pem"},
		"cannot load TLS key pair":           {"-tls-cert", "x.pem", "-tls-key", "y.pem"},
		"is not a directory":                 {"-html", "/nonexistent/dir"},
		"is not a ws:// or wss:// URL":       {"-peers", "http://other"},
		"-rate must be positive":             {"-rate", "0"},
		"-max-streams must be positive":      {"-max-streams", "0"},
		"-idle must be at least 1s":          {"-idle", "5ms"},
		"-max-bytes-per-sec must be":         {"-max-bytes-per-sec", "0"},
		"bad origin pattern":                 {"-origins", "ok.example,[bad"},
		"unexpected argument":                {"extra"},
	}
	for want, args := range cases {
		var out syncBuffer
		if code := run(context.Background(), args, &out, nil); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%v: output %q lacks %q", args, out.String(), want)
		}
	}
}

func TestBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out syncBuffer
	if code := run(context.Background(), []string{"-listen", ln.Addr().String()}, &out, nil); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "cannot listen on "+ln.Addr().String()) {
		t.Errorf("output %q", out.String())
	}
	out = syncBuffer{}
	if code := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-swarm-listen", ln.Addr().String()}, &out, nil); code != 1 ||
		!strings.Contains(out.String(), "cannot listen for swarm peers") {
		t.Errorf("busy swarm port: exit %d, %q", code, out.String())
	}
}

// TestRunServes starts the command with a regtest chain, a DHT, a swarm
// listener, signaling and a web directory, uses it, and shuts it down.
func TestRunServes(t *testing.T) {
	html := t.TempDir()
	os.WriteFile(filepath.Join(html, "index.html"), []byte("<h1>twister</h1>"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	var out syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-listen", "127.0.0.1:0", "-datadir", t.TempDir(), "-network", "regtest",
			"-dht-bind", "127.0.4.1", "-swarm-listen", "127.0.4.1:0", "-signal", "-html", html,
			"-peers", "ws://127.0.4.2:8090/ws"}, &out, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case c := <-code:
		t.Fatalf("exited %d: %s", c, out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, body := get("/healthz"); c != 200 || !strings.Contains(body, `"chain_height":0`) || !strings.Contains(body, `"dht_nodes":0`) {
		t.Errorf("healthz %d %s", c, body)
	}
	if c, body := get("/"); c != 200 || !strings.Contains(body, "twister") {
		t.Errorf("html %d %s", c, body)
	}
	if c, _ := get("/signal"); c != http.StatusUpgradeRequired && c != http.StatusBadRequest {
		t.Errorf("/signal without upgrade: %d", c)
	}
	cl, err := client.Dial(ctx, "ws://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, err := cl.Tip(ctx); err != nil || h != 0 {
		t.Errorf("tip %d %v", h, err)
	}
	info := cl.Info()
	if !info.Has("dht") || !info.Has("chain") || !info.Has("serve") || len(info.Peers) != 1 {
		t.Errorf("info %+v", info)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d: %s", c, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown")
	}
	select {
	case <-cl.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed by shutdown")
	}
	if !strings.Contains(out.String(), "shutting down") {
		t.Errorf("log %s", out.String())
	}
}
