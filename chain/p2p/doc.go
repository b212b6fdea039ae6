// Package p2p is the full node's block-chain peer-to-peer layer: it speaks
// twisterd's Bitcoin 0.8-era TCP protocol (§5.2, §5.3 of the protocol notes;
// messages from package wire) with other twister nodes to exchange blocks
// and registration transactions. A Node accepts inbound connections from an
// injected net.Listener and dials -connect / -addnode targets and addresses
// learnt by addr gossip through an injected dialer; per peer it performs the
// version/verack handshake (self-connection nonce, timeouts), keeps the link
// alive with ping/pong, answers getaddr, inv/getdata/notfound,
// getblocks (≤ 500 ids, with the "hashContinue" trick), getheaders
// (≤ 2000 headers) and mempool, scores misbehaviour and bans peers that
// send invalid blocks or transactions. Blocks are downloaded with the
// legacy getblocks → inv → getdata → block flow from a sync node (and from
// every peer claiming a higher start height), orphans being resolved through
// the chain's orphan pool. Each new best block and each accepted
// registration is announced to every peer. Miner implements twisterd's
// setgenerate / getgenerate / gethashespersec semantics on top of the chain,
// including regtest's "mine exactly N blocks" behaviour and a dev-network
// mode that mines as soon as a registration waits in the memory pool.
package p2p
