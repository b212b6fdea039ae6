//go:build !js

package client

import (
	"context"

	"github.com/coder/websocket"
)

// dialWS opens the WebSocket; natively Options.Header is sent with the
// handshake (e.g. an Origin header).
func dialWS(ctx context.Context, url string, o *Options) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: o.Header, HTTPClient: o.HTTPClient, CompressionMode: websocket.CompressionDisabled})
	return c, err
}
