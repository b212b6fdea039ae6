// Package signaling is the WebSocket rendezvous that lets browser nodes of a
// twister swarm find each other and set up WebRTC connections: peers join a
// swarm (a user's 40-hex info-hash, §4.1), learn who else is there, and relay
// WebRTC offers, answers and trickled ICE candidates to each other through
// the Server; everything after that flows peer to peer. The Server is an
// http.Handler (mount it in the bridge process or run cmd/signaling), and
// Client is a small Go helper over the same protocol that works natively and
// under js/wasm.
//
// # Protocol
//
// One WebSocket carries JSON text frames, each an object with a "type":
//
//	client → server
//	  {"type":"hello","peer":"<id>"}            first frame; "peer" optional
//	  {"type":"join","swarm":"<40 hex>"}
//	  {"type":"leave","swarm":"<40 hex>"}
//	  {"type":"signal","swarm":S,"to":ID,"kind":"offer"|"answer","sdp":"…"}
//	  {"type":"signal","swarm":S,"to":ID,"kind":"candidate","candidate":{…}|null}
//	server → client
//	  {"type":"hello","peer":"<id>"}            the id in force for this connection
//	  {"type":"peers","swarm":S,"peers":[ids]}  answer to join (random subset, self excluded)
//	  {"type":"joined","swarm":S,"peer":ID}     another peer joined S
//	  {"type":"left","swarm":S,"peer":ID}       another peer left S (or disconnected)
//	  {"type":"signal",…,"from":ID}             a relayed signal; "from" is set by the server
//	  {"type":"error","code":C,"message":"…"}   plus "swarm"/"to" when they apply
//
// Peer ids are 1 to 64 characters from [A-Za-z0-9_-]. A client may propose
// its id in hello (error code "peer-id-taken" if another live connection has
// it, after which it may say hello again); without one the server draws 128
// random bits. Every other frame needs a completed hello, and a connection
// that sends none within Config.HelloTimeout is closed (1008). Swarm ids are
// 40 hex digits, answered in lower case. Unknown fields are ignored.
//
// Who offers: the newcomer. A peer that joins receives "peers" and sends an
// offer to each peer it wants to reach; existing members only answer, so two
// peers never offer to each other at once. Candidates are trickled as
// "candidate" signals carrying an RTCIceCandidateInit object (null = end of
// candidates); they may arrive before the answer is applied, so a receiver
// queues them until its remote description is set. The server keeps no
// offer state: an offer that gets no answer must be timed out by the client
// (15-30 s is sensible), which then closes that RTCPeerConnection; a "left"
// notice or an "unknown-peer" error for the target also ends the attempt.
//
// A signal is relayed only if sender and target ("to") are both in the swarm
// it names. Limits (see Config): frame size (larger frames close the socket
// with status 1009), frames per second per connection (excess frames are
// dropped with error "rate-limited"; persistent abuse closes the socket with
// 1008), swarms per peer, peers per swarm, peers listed per "peers" frame,
// and an idle timeout: the server pings, and a connection that shows no sign
// of life (no frame and no pong) for Config.IdleTimeout is closed.
//
// Error codes: bad-frame, hello-required, already-hello, peer-id-taken,
// too-many-swarms, swarm-full, not-in-swarm, unknown-peer, rate-limited.
package signaling
