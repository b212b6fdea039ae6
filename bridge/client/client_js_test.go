//go:build js && wasm

package client

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gotwister/twister/bencode"
)

// TestClientInWasm drives the Client from a js/wasm build against a real
// bridge. It needs a running bridge and a JavaScript host with WebSocket;
// BRIDGE_TEST_ECHO, if set, is a TCP echo server the bridge may dial:
//
//	go run ./cmd/bridge -listen 127.0.0.1:8090 -allow-private-dial &
//	BRIDGE_TEST_URL=ws://127.0.0.1:8090/ws BRIDGE_TEST_ECHO=127.0.0.1:7007 \
//	  NODE_OPTIONS=--experimental-websocket PATH=$(go env GOROOT)/lib/wasm:$PATH \
//	  GOOS=js GOARCH=wasm go test -run TestClientInWasm ./bridge/client
func TestClientInWasm(t *testing.T) {
	url := os.Getenv("BRIDGE_TEST_URL")
	if url == "" {
		t.Skip("BRIDGE_TEST_URL not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info().Version != 1 || c.Info().Window <= 0 {
		t.Fatalf("info %+v", c.Info())
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var se *ServerError
	if _, err := c.Call(ctx, "nope", bencode.Value{}); !errors.As(err, &se) || se.Code != "unknown-op" {
		t.Fatalf("unknown op: %v", err)
	}
	echo := os.Getenv("BRIDGE_TEST_ECHO")
	if echo == "" {
		return
	}
	s, err := c.OpenStream(ctx, echo)
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte("\x13twister protocollll"), make([]byte, 100000)...)
	for i := range msg[20:] {
		msg[20+i] = byte(i)
	}
	go s.Write(msg)
	got := make([]byte, len(msg))
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(s, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo through the bridge: %v", err)
	}
	s.Close()
}
