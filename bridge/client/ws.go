package client

import (
	"context"
	"fmt"
)

// MessageConn is one WebSocket connection carrying whole messages. Natively
// it is github.com/coder/websocket; in a js/wasm build it is a thin wrapper
// of the browser's WebSocket object (so the wasm carries no net/http). The
// Client runs over one, and other browser-side protocols (the WebRTC
// signaling client of package webnode) use DialWebSocket to get their own.
// Read and Write may be called concurrently with each other (one reader,
// one writer at a time); Close and CloseNow from anywhere.
type MessageConn interface {
	// Read returns the next message: text (true) or binary, and its
	// bytes. After the connection ended it returns an error, a
	// *CloseError when the peer closed it with a status code.
	Read(ctx context.Context) (text bool, data []byte, err error)
	// Write sends one message (text or binary). In the browser it waits
	// while more than a few MiB are queued (bufferedAmount).
	Write(ctx context.Context, text bool, data []byte) error
	// Close sends a close frame with code and reason and waits (briefly)
	// for the peer's.
	Close(code int, reason string) error
	// CloseNow drops the connection without a close handshake.
	CloseNow() error
	// SetReadLimit sets the largest message Read accepts; a larger one
	// closes the connection with status 1009.
	SetReadLimit(n int64)
}

// WebSocket close status codes used by this package.
const (
	StatusNormalClosure   = 1000
	StatusPolicyViolation = 1008
	StatusMessageTooBig   = 1009
)

// CloseError is how a connection closed by the peer (or by a read limit)
// ends: the close frame's status code and reason.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("websocket closed with status %d", e.Code)
	}
	return fmt.Sprintf("websocket closed with status %d: %s", e.Code, e.Reason)
}

// DialWebSocket opens a WebSocket to url (ws:// or wss://) for a protocol
// other than the bridge's: the browser's own WebSocket in js/wasm (no
// net/http in the wasm), coder/websocket natively.
func DialWebSocket(ctx context.Context, url string) (MessageConn, error) {
	return dialWS(ctx, url, &Options{})
}
