// Package consensus holds the consensus objects and rules of twister's
// username block chain, wire-compatible with twister-core: the 84-byte
// block header (with its height field) and its SHA256d id and
// scrypt(1024,1,1) proof of work, transactions (registrations, key
// replacements and the promoted-message coinbase) with their CompactSize
// and push-script encoding, registration proof of work, merkle roots and
// branches, compact targets, work and the 2016-block retarget, network
// parameters (Mainnet, Regtest) and the block rules, each refusal carrying
// a Reason. It has no storage and no I/O, so it builds for GOOS=js
// GOARCH=wasm; the chain package stores and connects blocks with it and
// the light package checks headers and username proofs with it.
//
// Hashes (Hash) are kept in raw byte order and print in display order.
// Context-free checks: CheckTransaction, CheckBlockSanity. Contextual:
// CheckHeaderContext (bits, median time, checkpoints, version, height)
// over an Ancestors view, and CheckBlockUsers (promoted-message signature,
// name registrations and key replacements) over a UserState.
package consensus
