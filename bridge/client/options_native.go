//go:build !js

package client

import (
	"log/slog"
	"net/http"
	"time"
)

// Options configure a Client. Zero fields take the defaults shown. (The
// js/wasm build has the same fields except HTTPClient, and Header as a
// plain map, so that the wasm does not link net/http.)
type Options struct {
	// Header is sent with the WebSocket handshake (natively only; a
	// browser sets its own Origin).
	Header http.Header
	// HTTPClient carries the handshake natively (e.g. with a dialer bound
	// to a local address); nil: http.DefaultClient. Not in browsers.
	HTTPClient *http.Client
	// MaxFrame is the largest message accepted from the bridge; default
	// 8 MiB (a headers answer of 2000 headers is 168 KB).
	MaxFrame int
	// Incoming is how many incoming streams wait for Accept before more
	// are refused; default 16.
	Incoming int
	// KeepAlive is the ping period; default a third of the bridge's idle
	// timeout. A ping unanswered for one period closes the connection.
	KeepAlive time.Duration
	Logger    *slog.Logger // default: discard
}
