package webnode

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gotwister/twister/bridge/client"
)

// sigFrame is one frame of the signaling protocol (package signaling
// documents it; this is the browser node's own small client over
// client.DialWebSocket, so that the wasm does not link the signaling
// package's WebSocket library).
type sigFrame struct {
	Type      string          `json:"type"`
	Peer      string          `json:"peer,omitempty"`
	Swarm     string          `json:"swarm,omitempty"`
	Peers     []string        `json:"peers,omitempty"`
	To        string          `json:"to,omitempty"`
	From      string          `json:"from,omitempty"`
	Kind      string          `json:"kind,omitempty"`
	SDP       string          `json:"sdp,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`
	Code      string          `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
}

// sigMaxFrame bounds frames from the signaling server.
const sigMaxFrame = 1 << 20

// sigClient is one connection to a signaling server.
type sigClient struct {
	ws client.MessageConn
	id string

	wmu sync.Mutex // one writer at a time

	mu      sync.Mutex
	joining map[string]chan sigFrame
	done    chan struct{}
	err     error
}

// dialSignaling connects and completes hello (the server picks our id).
func dialSignaling(ctx context.Context, url string) (*sigClient, error) {
	ws, err := client.DialWebSocket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("webnode: signaling %s: %w", url, err)
	}
	ws.SetReadLimit(sigMaxFrame)
	c := &sigClient{ws: ws, joining: map[string]chan sigFrame{}, done: make(chan struct{})}
	if err := c.send(ctx, sigFrame{Type: "hello"}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	for {
		f, err := c.read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, err
		}
		switch f.Type {
		case "hello":
			if f.Peer == "" {
				ws.CloseNow()
				return nil, errors.New("webnode: signaling server sent no peer id")
			}
			c.id = f.Peer
			return c, nil
		case "error":
			ws.CloseNow()
			return nil, fmt.Errorf("webnode: signaling server refused hello: %s (%s)", f.Message, f.Code)
		}
	}
}

func (c *sigClient) read(ctx context.Context) (sigFrame, error) {
	for {
		text, b, err := c.ws.Read(ctx)
		if err != nil {
			return sigFrame{}, fmt.Errorf("webnode: signaling: %w", err)
		}
		if !text {
			continue
		}
		f, err := decodeSigFrame(b)
		if err != nil {
			continue // not a frame we understand (or a newer server's)
		}
		return f, nil
	}
}

// decodeSigFrame parses a frame from the server and checks the fields the
// node relies on: a type, peer ids of 1–64 characters of [A-Za-z0-9_-],
// swarms of 40 hex digits (lower-cased), at most 1000 listed peers, and a
// candidate that is a JSON object or null.
func decodeSigFrame(b []byte) (sigFrame, error) {
	var f sigFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return sigFrame{}, fmt.Errorf("webnode: bad signaling frame: %w", err)
	}
	bad := func(what string) (sigFrame, error) {
		return sigFrame{}, fmt.Errorf("webnode: bad signaling frame: %s", what)
	}
	if f.Type == "" {
		return bad("no type")
	}
	for _, id := range []string{f.Peer, f.From, f.To} {
		if id != "" && !validRTCPeer(id) {
			return bad("bad peer id")
		}
	}
	if len(f.Peers) > 1000 {
		return bad("too many peers")
	}
	for _, id := range f.Peers {
		if !validRTCPeer(id) {
			return bad("bad peer id in peers")
		}
	}
	if f.Swarm != "" {
		h, err := hex.DecodeString(f.Swarm)
		if err != nil || len(h) != 20 {
			return bad("swarm is not 40 hex digits")
		}
		f.Swarm = hex.EncodeToString(h)
	}
	if f.Type == "signal" && f.From == "" {
		return bad("signal without from")
	}
	if len(f.Candidate) > 0 {
		c := bytes.TrimSpace(f.Candidate)
		if !bytes.Equal(c, []byte("null")) && (len(c) == 0 || c[0] != '{') {
			return bad("candidate is not an object")
		}
	}
	return f, nil
}

func (c *sigClient) send(ctx context.Context, f sigFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.Write(ctx, true, b); err != nil {
		return fmt.Errorf("webnode: signaling: sending %s: %w", f.Type, err)
	}
	return nil
}

// run reads frames until the connection ends, answering Join waiters and
// handing everything else to handle (called in order, on this goroutine).
func (c *sigClient) run(handle func(sigFrame)) error {
	var err error
	for {
		var f sigFrame
		if f, err = c.read(context.Background()); err != nil {
			break
		}
		if f.Type == "peers" || (f.Type == "error" && (f.Code == "too-many-swarms" || f.Code == "swarm-full")) {
			c.mu.Lock()
			w := c.joining[f.Swarm]
			delete(c.joining, f.Swarm)
			c.mu.Unlock()
			if w != nil {
				w <- f
				continue
			}
		}
		handle(f)
	}
	c.mu.Lock()
	c.err = err
	close(c.done)
	c.mu.Unlock()
	return err
}

// join enters a swarm room and returns the other members listed.
func (c *sigClient) join(ctx context.Context, room string) ([]string, error) {
	w := make(chan sigFrame, 1)
	c.mu.Lock()
	if c.joining[room] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("webnode: signaling: already joining %s", room)
	}
	c.joining[room] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.joining[room] == w {
			delete(c.joining, room)
		}
		c.mu.Unlock()
	}()
	if err := c.send(ctx, sigFrame{Type: "join", Swarm: room}); err != nil {
		return nil, err
	}
	select {
	case f := <-w:
		if f.Type == "error" {
			return nil, fmt.Errorf("webnode: signaling: join %s refused: %s (%s)", room, f.Message, f.Code)
		}
		return f.Peers, nil
	case <-c.done:
		return nil, fmt.Errorf("webnode: signaling: connection ended during join")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *sigClient) close() { c.ws.Close(client.StatusNormalClosure, "") }
