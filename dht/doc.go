// Package dht is twister's Kademlia DHT over UDP, wire-compatible with
// twister-core's modified libtorrent DHT (protocol §3): node ids derived
// from the IP address, a K=8 routing table, write tokens, the storage rules
// of getData/putData (single items owned and ordered by seq, multi lists of
// up to 32 entries, signatures checked against the block chain), tracker
// peer lists for the per-user swarms, item refresh, and a client API (Get,
// Put, PutSigned, Announce, GetPeers) for the native node and the bridge.
// The node runs over any PacketConn: a UDP socket, the memnet in-memory
// network in tests, or a transport supplied by a bridge. Messages are
// encoded by the krpc subpackage.
package dht
