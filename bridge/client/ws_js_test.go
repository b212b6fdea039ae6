//go:build js && wasm

package client

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWebSocketInWasm drives the thin syscall/js WebSocket directly
// against a signaling server (text frames, a server-chosen close): it
// needs a JavaScript host with WebSocket and SIGNAL_TEST_URL, e.g.
//
//	go run ./cmd/bridge -listen 127.0.0.1:8090 -signal &
//	SIGNAL_TEST_URL=ws://127.0.0.1:8090/signal NODE_OPTIONS=--experimental-websocket \
//	  PATH=$(go env GOROOT)/lib/wasm:$PATH GOOS=js GOARCH=wasm go test -run TestWebSocketInWasm ./bridge/client
func TestWebSocketInWasm(t *testing.T) {
	url := os.Getenv("SIGNAL_TEST_URL")
	if url == "" {
		t.Skip("SIGNAL_TEST_URL not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := DialWebSocket(ctx, "ws://127.0.0.1:1/nothing"); err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
	ws, err := DialWebSocket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, true, []byte(`{"type":"hello","peer":"wasm-test"}`)); err != nil {
		t.Fatal(err)
	}
	text, b, err := ws.Read(ctx)
	if err != nil || !text || !strings.Contains(string(b), `"peer":"wasm-test"`) {
		t.Fatalf("hello answer: %v %q %v", text, b, err)
	}
	// A binary frame is a protocol violation for the signaling server: it
	// closes the connection with a status code, which Read reports.
	if err := ws.Write(ctx, false, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	var ce *CloseError
	for {
		_, _, err = ws.Read(ctx)
		if err != nil {
			break
		}
	}
	if !errors.As(err, &ce) || ce.Code < 1000 {
		t.Fatalf("after a binary frame: %v", err)
	}
	t.Logf("server closed: %v", ce)
	if err := ws.Write(ctx, true, []byte("{}")); err == nil {
		t.Fatal("write after close succeeded")
	}
	// A read limit closes with 1009.
	ws2, err := DialWebSocket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	ws2.SetReadLimit(10)
	ws2.Write(ctx, true, []byte(`{"type":"hello"}`))
	if _, _, err := ws2.Read(ctx); !errors.As(err, &ce) || ce.Code != StatusMessageTooBig {
		t.Fatalf("over the read limit: %v", err)
	}
	ws3, err := DialWebSocket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws3.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
}
