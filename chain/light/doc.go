// Package light is the light client of twister's username block chain,
// for the browser node (it builds for GOOS=js GOARCH=wasm and has no
// storage): a header chain that the client checks itself — scrypt proof of
// work, links, required bits, median time, heights and checkpoints —
// starting from a compiled-in LightCheckpoint, and UserProof, the
// registrations of a name with merkle branches to headers of that chain,
// which a full node produces (chain.Chain.ProveUser) and VerifyUserProof
// turns into the name's key history.
//
// Limitation: a proof shows that each listed registration is in the best
// header chain and that every key replacement was signed by the key before
// it, but it cannot show that it is complete. A full node can leave out the
// newest replacements (the client then trusts an older key) and cannot
// prove that a name is not registered at all; ask several peers and keep
// the longest valid history.
package light
