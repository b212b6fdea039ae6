package webnode

import "encoding/json"

// The WebRTC layer sits on two small interfaces so that the node code is
// the same natively and in the browser: natively they are pion/webrtc
// (rtc_native.go); in js/wasm they are a thin syscall/js wrapper of the
// browser's RTCPeerConnection and RTCDataChannel (rtc_js.go), which is
// what pion's own js build wraps too, without linking pion's native ICE,
// DTLS, SCTP and TURN stacks into the wasm (1.4 MB raw, 235 KB brotli).
//
// Callbacks may run on any goroutine (in the browser: inside a JavaScript
// event) and must never block.

// rtcOptions configure new peer connections.
type rtcOptions struct {
	ICEServers []string // stun:/turn: URLs
	Loopback   bool     // natively: UDP4 loopback host candidates only, no mDNS (tests)
}

// rtcPeer is one RTCPeerConnection.
type rtcPeer interface {
	// CreateDataChannel opens an ordered, reliable data channel.
	CreateDataChannel(label string) (rtcChannel, error)
	// Offer creates an offer and sets it as the local description.
	Offer() (sdp string, err error)
	// Answer applies a remote offer, creates an answer and sets it as the
	// local description.
	Answer(offer string) (sdp string, err error)
	// SetAnswer applies the remote answer.
	SetAnswer(sdp string) error
	// AddCandidate adds a remote ICE candidate (an RTCIceCandidateInit as
	// JSON; "null" is the end of candidates).
	AddCandidate(c json.RawMessage) error
	// OnCandidate is called with each local candidate as JSON
	// (RTCIceCandidateInit), and with nil when gathering is complete.
	OnCandidate(func(c json.RawMessage))
	// OnDataChannel is called with each channel the remote peer opens.
	OnDataChannel(func(rtcChannel))
	// OnState is called with the connection state: "new", "connecting",
	// "connected", "disconnected", "failed" or "closed".
	OnState(func(state string))
	Close() error
}

// rtcChannel is one RTCDataChannel carrying binary messages.
type rtcChannel interface {
	Send(b []byte) error
	BufferedAmount() uint64
	SetBufferedAmountLowThreshold(n uint64)
	OnBufferedAmountLow(func())
	OnOpen(func())
	OnClose(func())
	// OnMessage is called with each message, in order; the callee owns b.
	OnMessage(func(b []byte))
	Close() error
}
