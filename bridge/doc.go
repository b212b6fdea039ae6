// Package bridge is the twister bridge server: browser nodes (our node
// compiled to WebAssembly, running in a Web Worker) cannot speak UDP or raw
// TCP, so each opens one WebSocket to a bridge, which carries it into the
// native network — DHT lookups and puts on the bridge's UDP DHT node, block
// headers, user proofs and transaction relay from the bridge's chain, and
// byte streams to and from native swarm peers over TCP. The bridge never
// signs, verifies or reads posts: signed DHT items and the swarm peer wire
// pass through unchanged and the browser checks them itself. Server is an
// http.Handler; bridge/client is the browser side; bridge/wire holds the
// frame codec both share.
//
// # Protocol, version 1
//
// The WebSocket endpoint is WSPath ("/ws"). Every WebSocket message is
// binary and is one frame; its first byte is the kind:
//
//	0x00 control: a canonical bencoded dictionary follows
//	0x01 data:    4-byte big-endian stream id, then 1 or more payload bytes
//
// Control dictionaries carry "y", the message type:
//
//	request   {y:"q", q:<op>, t:<id>, a:{args}}      browser → bridge
//	response  {y:"r", t:<id>, r:{result}}           bridge → browser
//	error     {y:"e", t:<id>, e:"message", c:"code"} bridge → browser
//	notice    {y:"n", q:<name>, a:{args}}            either way, never answered
//
// t is a non-negative integer chosen by the browser and echoed; requests
// may be pipelined and are answered in any order. Any request can fail with
// an error; c is one of bad-request, unknown-op, hello-required, version,
// rate-limited, limit, unavailable (the bridge lacks a DHT, chain or swarm
// listener), not-found, refused, failed, timeout. An unknown operation gets
// unknown-op; an unknown notice is ignored. A frame that does not decode,
// a text message, or a response sent by the browser closes the WebSocket
// (status 1007, 1003 or 1008); a message over the bridge's frame limit
// closes it with 1009.
//
// Operations (byte strings are raw bytes, integers bencode integers):
//
//	hello     {v}                  → {v, peers:[url…], feat:[…], w, mf, idle, streams, rps}
//	    Must come first (other requests get hello-required). v is the
//	    browser's highest version; the answer's v is the version in force.
//	    peers lists other bridges' URLs; feat holds "dht", "chain" and
//	    "serve" for what this bridge offers; w is the per-stream window,
//	    mf the largest message the bridge accepts, idle the idle timeout
//	    in ms, streams and rps the per-client limits.
//	ping      {}                   → {now: unix ms}
//	getData   {n, r, t:"s"|"m", minMulti?, timeoutMs?}
//	                               → {items:[{p, sig_p, sig_user}…]}
//	    p is the item's signed dictionary with the exact bytes received;
//	    the browser verifies sig_p itself. A tracker summary has no
//	    sig_p/sig_user. timeoutMs is capped by the bridge.
//	putData   {p, sig_p, sig_user} → {queued: 0|1}
//	    The bridge's DHT publishes an item signed in the browser
//	    (dhtputraw); queued=1: no node accepted it yet, the DHT retries.
//	announce  {n, h?}              → {port}
//	    Announce the bridge's swarm port for user n's swarm (h, if given,
//	    must be its info-hash). The browser must serve it first.
//	getPeers  {n}                  → {peers:[6 or 18-byte compact address…]}
//	open      {s, addr:"ip:port"}  → {ra: remote address}
//	    The bridge dials a native peer for stream s (odd, chosen by the
//	    browser, never reused in the session). The first bytes the browser
//	    sends must be a twister handshake ("\x13twister protocollll"); the
//	    address must pass the bridge's dial policy (public addresses only
//	    by default).
//	serve     {h?, n?}             → {port}
//	    The browser holds the swarm with info-hash h (or that of user n).
//	    Native peers connecting to the bridge's swarm listener with that
//	    info-hash in their handshake are handed to it; with n the bridge
//	    announces its port in the DHT now and every 15 minutes.
//	unserve   {h?, n?}             → {}
//	headers   {from, count}        → {headers: n×84 bytes, tip}
//	    Serialized block headers of the best chain from height from on
//	    (count capped, 2000 by default); not-found above the tip.
//	proveUser {n}                  → {proof}
//	    The light-client proof of n's registrations (light.UserProof
//	    encoding); not-found for unknown users.
//	sendTx    {tx}                 → {}
//	    A serialized registration or key replacement, checked and
//	    relayed into the P2P network.
//	tip       {}                   → {height, hash: 32 bytes}
//	promoted  {from?, count?}      → {blocks:[{h, tx, br}…], tip}
//	    The promoted ("spam") messages of up to count (default 10, at
//	    most 50) best-chain blocks going down from height from (default:
//	    the tip): each block's height h, its coinbase transaction tx
//	    (serialized) and br, the merkle branch (32-byte hashes, leaf level
//	    first) linking the coinbase's id to the header's merkle root, so
//	    the browser checks it against headers it verified. "unavailable"
//	    without a chain that keeps blocks.
//
// Notices:
//
//	incoming  {s, h, remote}  bridge → browser: a native peer (remote
//	          "ip:port") connected for served swarm h on new stream s
//	          (even ids, chosen by the bridge). The peer's 68-byte handshake
//	          follows as the stream's first data; the browser answers it.
//	window    {s, n}          the sender consumed n more bytes of stream s
//	close     {s, e?}         the sender closed stream s (e: why, if an
//	          error); after it the sender ignores data for s
//
// Flow control: each direction of each stream starts with a window of w
// bytes (from hello). A side may send data on a stream only while the
// bytes sent and not yet acknowledged by window notices are below w; the
// receiver sends window {s, n} as it consumes data (the bridge when it has
// written n bytes to the TCP peer, the browser when its application has
// read them), typically after consuming a quarter of the window. Data
// beyond the window, or a window notice that would exceed it, closes the
// stream with an error. So a slow browser holds the bridge to at most w
// buffered bytes per stream in each direction, and a slow native peer
// stalls only its own stream. A close from the browser is graceful: the
// bridge writes what it holds, then closes the TCP connection.
//
// Limits (Limits, all per session unless noted): requests per second with a
// burst (token bucket; excess requests get rate-limited), slow requests in
// flight (DHT, dial, sendTx), open streams, served info-hashes, stream
// payload bytes per second (throttled, not refused), frame size, idle time
// (the client library pings every third of it), and for the whole bridge
// the number of sessions (HTTP 503 beyond) and DHT workers. DHT work runs
// on a fixed pool of workers that take jobs round-robin across sessions, so
// a client that floods gets one turn per round like every other client.
//
// # Server
//
// Besides WSPath the Server answers /healthz (JSON: ok, clients, streams,
// dht_nodes, chain_height, served) and /metrics (Prometheus text format,
// written by hand; see docs/bridge-operators.md), mounts Config.Signal at
// /signal and serves Config.StaticDir at /. An idle session costs one
// goroutine (the HTTP handler, which reads) and the WebSocket's buffers;
// streams, serves and byte limiters are allocated on first use.
package bridge
