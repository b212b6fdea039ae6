// Package swarm implements twister's per-user post swarms, wire-compatible
// with twisterd (protocol spec §4): every followed user has a BitTorrent-like
// torrent whose info-hash is resource.InfoHash(user) and whose piece k is
// post k, requested as (k, 0, 16384) and answered with the post's real
// length. Received pieces are checked by an injected validator instead of
// piece hashes, have/bitfield post numbers by an injected limit, and
// misbehaving peers are banned. Posts are kept in a PostStore (MemStore
// here, bbolt in swarm/boltstore) and written durably before they are
// announced, so new posts flood through a mesh of followers with have
// messages. Connections run over injected net.Listener/Dialer seams so a
// bridge can carry browser connections; peers come from an injected
// PeerSource (the DHT) or AddPeer. The wire format lives in swarm/wire.
package swarm
