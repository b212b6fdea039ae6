//go:build js

package client

import (
	"context"

	"github.com/coder/websocket"
)

// dialWS opens the WebSocket through the browser, which sets the Origin
// header itself; Options.Header is ignored.
func dialWS(ctx context.Context, url string, o *Options) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	return c, err
}
