package rpc

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzCall feeds arbitrary request bodies to the JSON-RPC decoder and
// dispatcher: every answer is a result or an error with a code, with one
// of the statuses twisterd uses, and encodes as JSON.
func FuzzCall(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"1.0","id":"x","method":"getblockcount","params":[]}`,
		`{"id":1,"method":"getblockhash","params":[3]}`,
		`{"id":1,"method":"getblockhash","params":{"a":1}}`,
		`{"id":1,"method":"getblockhash","params":[1e400]}`,
		`[{"id":1,"method":"getblockcount"}]`,
		`{"id":1,"method":"boom","params":[null,true,"s",[1,{"k":2}]]}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	_, s := newTestServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, status := s.call(context.Background(), body)
		if status != http.StatusOK && status != http.StatusNotFound && status != http.StatusInternalServerError {
			t.Fatalf("status %d", status)
		}
		if (resp.Error == nil) != (status == http.StatusOK) {
			t.Fatalf("status %d with error %v", status, resp.Error)
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatalf("answer does not encode: %v", err)
		}
	})
}
