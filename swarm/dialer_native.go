//go:build !js

package swarm

import "net/netip"

// defaultDialer is the Dialer used when Config.Dialer is nil: TCP from the
// listener's address.
func defaultDialer(local netip.Addr) Dialer { return TCPDialer{LocalAddr: local} }
