//go:build js

package swarm

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// defaultDialer is the Dialer used when Config.Dialer is nil. A browser has
// no TCP sockets, and the browser node always supplies its own Dialer (the
// bridge's relayed streams and WebRTC), so the js build refuses to dial
// instead of referencing TCPDialer: that keeps net's dialer and DNS
// resolver (about 90 KB of brotli-compressed wasm) out of the bundle.
func defaultDialer(netip.Addr) Dialer { return noDialer{} }

// noDialer refuses every dial.
type noDialer struct{}

// Dial implements Dialer.
func (noDialer) Dial(context.Context, string) (net.Conn, error) {
	return nil, errors.New("swarm: no Config.Dialer set, and js/wasm cannot dial TCP")
}
