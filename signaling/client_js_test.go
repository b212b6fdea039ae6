//go:build js && wasm

package signaling

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestClientInWasm drives the Client from a js/wasm build against a real
// server. It needs a running server and a JavaScript host with WebSocket:
//
//	go run ./cmd/signaling -listen 127.0.0.1:8089 &
//	SIGNALING_TEST_URL=ws://127.0.0.1:8089/ NODE_OPTIONS=--experimental-websocket \
//	  PATH=$(go env GOROOT)/lib/wasm:$PATH GOOS=js GOARCH=wasm go test -run TestClientInWasm ./signaling
func TestClientInWasm(t *testing.T) {
	url := os.Getenv("SIGNALING_TEST_URL")
	if url == "" {
		t.Skip("SIGNALING_TEST_URL not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Join(ctx, swarmX); err != nil {
		t.Fatal(err)
	}
	peers, err := b.Join(ctx, swarmX)
	if err != nil || len(peers) != 1 || peers[0] != a.ID() {
		t.Fatalf("b sees %v (%v)", peers, err)
	}
	if f, err := a.Recv(ctx); err != nil || f.Type != TypeJoined || f.Peer != b.ID() {
		t.Fatalf("a got %+v %v", f, err)
	}
	if err := b.SendSDP(ctx, swarmX, a.ID(), KindOffer, "v=0"); err != nil {
		t.Fatal(err)
	}
	if f, err := a.Recv(ctx); err != nil || f.Kind != KindOffer || f.From != b.ID() {
		t.Fatalf("a got %+v %v", f, err)
	}
	if err := a.SendCandidate(ctx, swarmX, b.ID(), map[string]any{"candidate": "c", "sdpMid": "0"}); err != nil {
		t.Fatal(err)
	}
	if f, err := b.Recv(ctx); err != nil || f.Kind != KindCandidate || f.From != a.ID() {
		t.Fatalf("b got %+v %v", f, err)
	}
	b.Close()
	if f, err := a.Recv(ctx); err != nil || f.Type != TypeLeft || f.Peer != b.ID() {
		t.Fatalf("a got %+v %v", f, err)
	}
}
