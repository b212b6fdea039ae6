//go:build js

package client

import (
	"log/slog"
	"time"
)

// Options configure a Client. Zero fields take the defaults shown. This is
// the js/wasm build's: the browser makes the WebSocket handshake itself,
// so there is no HTTPClient, and Header (kept so that shared code
// compiles) is ignored. Leaving net/http out saves about 2 MB of wasm.
type Options struct {
	// Header is ignored in browsers (they set their own Origin).
	Header map[string][]string
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
