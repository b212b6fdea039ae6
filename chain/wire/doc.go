// Package wire encodes and decodes the messages of twister's block-chain
// peer-to-peer protocol: the Bitcoin 0.8-era TCP framing (network magic,
// NUL-padded command, little-endian length, SHA256d checksum) and the typed
// payloads twisterd exchanges (version/verack, addr, inv/getdata/notfound,
// getblocks/getheaders/headers, block and tx as opaque bytes, ping/pong,
// mempool, alert, the soft-checkpoint vote "cp" and the DHT-proxy messages
// dhtgetreq/dhtputreq/dhtgetreply/nodhtproxy); see §5.3, §5.11 and §3.12 of
// the protocol notes. Blocks and transactions stay raw bytes here so that the
// chain package interprets them; unknown commands decode to MsgUnknown so a
// peer can ignore them. Decoders are bounded (payload size, entry counts,
// CompactSize values), return clear errors and never panic. The package is
// pure Go with no socket code, so it builds for js/wasm as well.
package wire
