//go:build !js

package client

import (
	"context"
	"errors"

	"github.com/coder/websocket"
)

// dialWS opens the WebSocket; natively Options.Header is sent with the
// handshake (e.g. an Origin header).
func dialWS(ctx context.Context, url string, o *Options) (MessageConn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: o.Header, HTTPClient: o.HTTPClient, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, err
	}
	return coderConn{c}, nil
}

// coderConn is a MessageConn over coder/websocket.
type coderConn struct{ c *websocket.Conn }

func closeErr(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return err
}

func (w coderConn) Read(ctx context.Context) (bool, []byte, error) {
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return false, nil, closeErr(err)
	}
	return typ == websocket.MessageText, b, nil
}

func (w coderConn) Write(ctx context.Context, text bool, data []byte) error {
	typ := websocket.MessageBinary
	if text {
		typ = websocket.MessageText
	}
	return closeErr(w.c.Write(ctx, typ, data))
}

func (w coderConn) Close(code int, reason string) error {
	err := w.c.Close(websocket.StatusCode(code), reason)
	if err != nil && websocket.CloseStatus(err) == websocket.StatusCode(code) {
		err = nil
	}
	return err
}

func (w coderConn) CloseNow() error      { return w.c.CloseNow() }
func (w coderConn) SetReadLimit(n int64) { w.c.SetReadLimit(n) }
