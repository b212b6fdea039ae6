package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/coder/websocket"
)

// maxQueued bounds frames received but not yet taken by Recv.
const maxQueued = 4096

// ErrClosed is returned by Client methods after the connection ended.
var ErrClosed = errors.New("signaling: connection closed")

// ServerError is an error frame the server sent in reply to a request.
type ServerError struct{ Frame Frame }

func (e *ServerError) Error() string {
	return fmt.Sprintf("signaling: server refused: %s (%s)", e.Frame.Message, e.Frame.Code)
}

// Client is a signaling connection: Join swarms, send signals, Recv what
// the server relays. Its methods are safe for concurrent use. It uses only
// portable code, so it works natively and in a js/wasm build (where the
// browser's WebSocket carries it).
type Client struct {
	ws *websocket.Conn
	id string

	mu      sync.Mutex
	queue   []Frame
	notify  chan struct{} // signalled when queue grows or the connection ends
	joining map[string]chan Frame
	err     error // why the connection ended
	done    chan struct{}
}

// Dial connects to a signaling server (ws:// or wss:// URL) and completes
// hello with a server-chosen peer id.
func Dial(ctx context.Context, url string) (*Client, error) { return DialAs(ctx, url, "") }

// DialAs is Dial proposing peerID as this peer's id; it fails with a
// *ServerError (code peer-id-taken) if another connection holds it.
func DialAs(ctx context.Context, url, peerID string) (*Client, error) {
	hello := Frame{Type: TypeHello, Peer: peerID}
	if err := hello.Validate(); err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("signaling: dial %s: %w", url, err)
	}
	ws.SetReadLimit(1 << 20)
	fail := func(err error) (*Client, error) {
		ws.Close(websocket.StatusNormalClosure, "")
		return nil, err
	}
	if err := writeFrame(ctx, ws, hello); err != nil {
		return fail(err)
	}
	for {
		f, err := readFrame(ctx, ws)
		if err != nil {
			return fail(err)
		}
		switch {
		case f.Type == TypeHello && ValidPeerID(f.Peer):
			c := &Client{
				ws:      ws,
				id:      f.Peer,
				notify:  make(chan struct{}, 1),
				joining: map[string]chan Frame{},
				done:    make(chan struct{}),
			}
			go c.readLoop()
			return c, nil
		case f.Type == TypeError:
			return fail(&ServerError{f})
		}
	}
}

func writeFrame(ctx context.Context, ws *websocket.Conn, f Frame) error {
	b, err := EncodeFrame(f)
	if err != nil {
		return err
	}
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("signaling: sending %s: %w", f.Type, err)
	}
	return nil
}

func readFrame(ctx context.Context, ws *websocket.Conn) (Frame, error) {
	typ, b, err := ws.Read(ctx)
	if err != nil {
		return Frame{}, fmt.Errorf("signaling: receiving: %w", err)
	}
	if typ != websocket.MessageText {
		return Frame{}, fmt.Errorf("signaling: server sent a binary frame")
	}
	return DecodeFrame(b)
}

// ID returns this connection's peer id.
func (c *Client) ID() string { return c.id }

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) readLoop() {
	for {
		f, err := readFrame(context.Background(), c.ws)
		if err != nil {
			if errors.Is(err, ErrBadFrame) {
				continue // a frame we cannot parse (newer server): skip it
			}
			c.end(err)
			return
		}
		c.mu.Lock()
		if w := c.joining[f.Swarm]; w != nil && (f.Type == TypePeers ||
			f.Type == TypeError && (f.Code == CodeTooManySwarms || f.Code == CodeSwarmFull)) {
			delete(c.joining, f.Swarm)
			w <- f
			c.mu.Unlock()
			continue
		}
		if len(c.queue) >= maxQueued {
			c.mu.Unlock()
			c.end(fmt.Errorf("signaling: more than %d frames not taken by Recv", maxQueued))
			c.ws.Close(websocket.StatusPolicyViolation, "client receive queue full")
			return
		}
		c.queue = append(c.queue, f)
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}

func (c *Client) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = fmt.Errorf("%w: %w", ErrClosed, err)
	close(c.done)
}

// Recv returns the next frame from the server: signal, joined, left, error
// (and peers frames not claimed by Join). It fails once the connection has
// ended and every queued frame was taken.
func (c *Client) Recv(ctx context.Context) (Frame, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			f := c.queue[0]
			c.queue[0] = Frame{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return f, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return Frame{}, err
		}
		select {
		case <-c.notify:
		case <-c.done:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

func (c *Client) send(ctx context.Context, f Frame) error {
	select {
	case <-c.done:
		return c.Err()
	default:
	}
	return writeFrame(ctx, c.ws, f)
}

// Join enters a swarm (40 hex digits) and returns the ids of some of its
// other members (a random subset if there are many). The newcomer is the one
// expected to send offers.
func (c *Client) Join(ctx context.Context, swarm string) ([]string, error) {
	if !ValidSwarm(swarm) {
		return nil, fmt.Errorf("signaling: swarm %q is not 40 hex digits", clip(swarm))
	}
	swarm = toLowerHex(swarm)
	w := make(chan Frame, 1)
	c.mu.Lock()
	if c.joining[swarm] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("signaling: a join of %s is already in progress", swarm)
	}
	c.joining[swarm] = w
	c.mu.Unlock()
	cleanup := func() {
		c.mu.Lock()
		if c.joining[swarm] == w {
			delete(c.joining, swarm)
		}
		c.mu.Unlock()
	}
	if err := c.send(ctx, Frame{Type: TypeJoin, Swarm: swarm}); err != nil {
		cleanup()
		return nil, err
	}
	select {
	case f := <-w:
		if f.Type == TypeError {
			return nil, &ServerError{f}
		}
		if f.Peers == nil {
			f.Peers = []string{}
		}
		return f.Peers, nil
	case <-c.done:
		cleanup()
		return nil, c.Err()
	case <-ctx.Done():
		cleanup()
		return nil, ctx.Err()
	}
}

// Leave quits a swarm; its members get a "left" notice.
func (c *Client) Leave(ctx context.Context, swarm string) error {
	return c.send(ctx, Frame{Type: TypeLeave, Swarm: toLowerHex(swarm)})
}

// Signal sends a signal frame (Type is set to "signal"; From is filled in by
// the server). Swarm, To and Kind are required.
func (c *Client) Signal(ctx context.Context, f Frame) error {
	f.Type = TypeSignal
	f.From = ""
	f.Swarm = toLowerHex(f.Swarm)
	return c.send(ctx, f)
}

// SendSDP sends an offer or answer (kind KindOffer or KindAnswer) to a peer
// of the swarm.
func (c *Client) SendSDP(ctx context.Context, swarm, to, kind, sdp string) error {
	return c.Signal(ctx, Frame{Swarm: swarm, To: to, Kind: kind, SDP: sdp})
}

// SendCandidate trickles one ICE candidate to a peer; candidate is marshaled
// to JSON (an RTCIceCandidateInit, e.g. pion's ICECandidate.ToJSON()), and
// nil sends null, the end of candidates.
func (c *Client) SendCandidate(ctx context.Context, swarm, to string, candidate any) error {
	raw, err := json.Marshal(candidate)
	if err != nil {
		return fmt.Errorf("signaling: encoding candidate: %w", err)
	}
	return c.Signal(ctx, Frame{Swarm: swarm, To: to, Kind: KindCandidate, Candidate: raw})
}

// Close ends the connection.
func (c *Client) Close() error {
	c.end(errors.New("closed by the client"))
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	if err != nil && websocket.CloseStatus(err) == websocket.StatusNormalClosure {
		err = nil
	}
	return err
}

func toLowerHex(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'F' {
			b[i] = ch + ('a' - 'A')
		}
	}
	return string(b)
}
