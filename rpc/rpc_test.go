package rpc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestServer(t testing.TB) (*httptest.Server, *Server) {
	s := NewServer("u", "p")
	s.Register("getblockcount", Method{Usage: "getblockcount", Help: "Returns the number of blocks in the longest block chain.", MaxParams: 0,
		Handler: func(ctx context.Context, p Params) (any, error) { return 3, nil }})
	s.Register("getblockhash", Method{Usage: "getblockhash <index>", MinParams: 1, MaxParams: 1,
		Handler: func(ctx context.Context, p Params) (any, error) {
			i, err := p.Int(0)
			if err != nil {
				return nil, err
			}
			if i > 3 {
				return nil, Errorf(CodeMisc, "Block number out of range.")
			}
			return "h", nil
		}})
	s.Register("raw", Method{MaxParams: 0, Handler: func(ctx context.Context, p Params) (any, error) {
		return []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`[2]`)}, nil
	}})
	s.Register("boom", Method{MaxParams: -1, Handler: func(ctx context.Context, p Params) (any, error) { panic("x") }})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

func post(t *testing.T, url, user, pass, body string) (int, string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPBehaviour(t *testing.T) {
	ts, _ := newTestServer(t)
	cases := []struct {
		user, pass, body string
		status           int
		want             string
	}{
		{"u", "p", `{"jsonrpc":"1.0","id":"x","method":"getblockcount","params":[]}`, 200, `{"result":3,"error":null,"id":"x"}` + "\n"},
		{"u", "p", `{"id":3,"method":"getblockcount"}`, 200, `{"result":3,"error":null,"id":3}` + "\n"},
		{"u", "p", `this is not json`, 500, `{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}` + "\n"},
		{"u", "p", `{"jsonrpc":"1.0","id":7,"method":"nosuchmethod","params":[]}`, 404, `{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":7}` + "\n"},
		{"u", "p", `[{"id":1,"method":"getblockcount","params":[]},{"id":2,"method":"nosuchmethod","params":[]}]`, 200,
			`[{"result":3,"error":null,"id":1},{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":2}]` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockhash","params":["x"]}`, 500, `{"result":null,"error":{"code":-1,"message":"value is type str, expected int"},"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockhash","params":[99]}`, 500, `{"result":null,"error":{"code":-1,"message":"Block number out of range."},"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockcount","params":[1]}`, 500, `{"result":null,"error":{"code":-1,"message":"getblockcount\nReturns the number of blocks in the longest block chain."},"id":1}` + "\n"},
		{"u", "p", `{"id":"r","method":"raw","params":[]}`, 200, `{"result":[{"a":1},[2]],"error":null,"id":"r"}` + "\n"},
		{"u", "p", `{"id":1,"method":"boom","params":[]}`, 500, `{"result":null,"error":{"code":-32603,"message":"internal error: x"},"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockhash","params":{"a":1}}`, 500, `{"result":null,"error":{"code":-32600,"message":"Params must be an array"},"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockhash","params":7}`, 500, `{"result":null,"error":{"code":-32600,"message":"Params must be an array"},"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockcount","params":null}`, 200, `{"result":3,"error":null,"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockhash","params":[3]} x`, 500, `{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}` + "\n"},
		{"u", "p", `{"id":1,"method":"getblockhash","params":[3]}  ` + "\n", 200, `{"result":"h","error":null,"id":1}` + "\n"},
		{"u", "p", `{"id":1,"method":5}`, 500, ""},
		{"u", "wrong", `{"id":1,"method":"getblockcount"}`, 401, unauthorizedBody},
		{"", "", `{"id":1,"method":"getblockcount"}`, 401, unauthorizedBody},
	}
	for i, c := range cases {
		status, body := post(t, ts.URL, c.user, c.pass, c.body)
		if c.want == "" { // only the status and the code matter
			if status != c.status || !strings.Contains(body, `"code":-32600`) {
				t.Errorf("case %d: got %d %q, want %d and an invalid request", i, status, body, c.status)
			}
			continue
		}
		if status != c.status || body != c.want {
			t.Errorf("case %d: got %d %q, want %d %q", i, status, body, c.status, c.want)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	ts, s := newTestServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "home.html"), []byte("<p>home</p>"), 0o644)
	s.HTMLDir = dir
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.SetBasicAuth("u", "p")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := get("/"); st != 200 || b != "<p>home</p>" {
		t.Fatalf("home: %d %q", st, b)
	}
	if st, _ := get("/../../etc/passwd"); st != 404 {
		t.Fatalf("traversal: %d", st)
	}
	if st, b := get("/missing.js"); st != 404 || !strings.Contains(b, "ERROR 404") {
		t.Fatalf("missing: %d %q", st, b)
	}
}

// TestContentLength checks that answers carry Content-Length, as
// twisterd's do, rather than a chunked body.
func TestContentLength(t *testing.T) {
	ts, s := newTestServer(t)
	// Bodies larger than net/http's buffer, which it would send chunked.
	s.Register("big", Method{MaxParams: 0, Handler: func(ctx context.Context, p Params) (any, error) {
		return strings.Repeat("x", 20000), nil
	}})
	s.Register("bigraw", Method{MaxParams: 0, Handler: func(ctx context.Context, p Params) (any, error) {
		return []json.RawMessage{json.RawMessage(`"` + strings.Repeat("y", 20000) + `"`)}, nil
	}})
	for _, body := range []string{`{"id":1,"method":"getblockcount"}`, `{"id":"r","method":"raw","params":[]}`, `{"id":1,"method":"getblockhash","params":[99]}`,
		`{"id":1,"method":"big"}`, `{"id":1,"method":"bigraw"}`} {
		req, _ := http.NewRequest("POST", ts.URL, strings.NewReader(body))
		req.SetBasicAuth("u", "p")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ContentLength != int64(len(b)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("%s: Content-Length %d, transfer encoding %v, body %d bytes", body, resp.ContentLength, resp.TransferEncoding, len(b))
		}
	}
}
