package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// freePort returns a TCP port that was free a moment ago on addr.
func freePort(t testing.TB, addr string) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+LibtorrentPortOffset <= 65535 {
			// the DHT port must be free too
			u, err := net.ListenPacket("udp", net.JoinHostPort(addr, Itoa(port+LibtorrentPortOffset)))
			if err != nil {
				continue
			}
			u.Close()
			return port
		}
	}
}

type testNode struct {
	*Node
	t   testing.TB
	url string
}

// startNode starts a regtest node on addr with a fresh data dir.
func startNode(t testing.TB, addr string, extra ...string) *testNode {
	t.Helper()
	dir := t.TempDir()
	return startNodeIn(t, dir, addr, extra...)
}

func startNodeIn(t testing.TB, dir, addr string, extra ...string) *testNode {
	t.Helper()
	args := append([]string{"-regtest", "-datadir=" + dir, "-rpcuser=u", "-rpcpassword=p",
		"-bind=" + addr, "-rpcbind=" + addr,
		fmt.Sprintf("-port=%d", freePort(t, addr)), fmt.Sprintf("-rpcport=%d", freePort(t, addr))}, extra...)
	cfg, err := ParseArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &testNode{Node: n, t: t, url: "http://" + n.RPCAddr() + "/"}
}

type testLog struct{ t testing.TB }

func (l testLog) Write(b []byte) (int, error) {
	if testing.Verbose() {
		l.t.Logf("%s", bytes.TrimRight(b, "\n"))
	}
	return len(b), nil
}

type rpcReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call makes a JSON-RPC call and returns the raw result or the error.
func (n *testNode) call(method string, params ...any) (json.RawMessage, *rpcReply) {
	n.t.Helper()
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	req, _ := http.NewRequest("POST", n.url, bytes.NewReader(body))
	req.SetBasicAuth("u", "p")
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		n.t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var r rpcReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		n.t.Fatalf("%s: decoding reply: %v", method, err)
	}
	return r.Result, &r
}

// must calls and fails the test on an RPC error.
func (n *testNode) must(method string, params ...any) json.RawMessage {
	n.t.Helper()
	res, r := n.call(method, params...)
	if r.Error != nil {
		n.t.Fatalf("%s %v: error %d %s", method, params, r.Error.Code, r.Error.Message)
	}
	return res
}

// mustErr calls and expects an error with the given code.
func (n *testNode) mustErr(code int, method string, params ...any) string {
	n.t.Helper()
	_, r := n.call(method, params...)
	if r.Error == nil {
		n.t.Fatalf("%s %v: no error", method, params)
	}
	if r.Error.Code != code {
		n.t.Fatalf("%s %v: code %d (%s), want %d", method, params, r.Error.Code, r.Error.Message, code)
	}
	return r.Error.Message
}

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameKeys checks that an object result has exactly the keys twisterd gives.
func sameKeys(t testing.TB, what string, got map[string]any, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d fields %v, want %v", what, len(got), keysOf(got), want)
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: missing field %q", what, k)
		}
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
