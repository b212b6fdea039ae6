// Package webnode is the twister browser node: a twister peer that runs in a
// Web Worker (GOOS=js GOARCH=wasm, see ../wasm) and natively for tests. It
// reaches the network only through bridges (package bridge/client) and
// trusts them for reachability alone: block headers are checked from a
// compiled-in checkpoint by the light client (chain/light), every user's key
// comes from a user proof verified against those headers, every post passes
// post.Validate with those keys, and every DHT item's signature, signer and
// target are checked before use. It is a real swarm peer: the swarm engine
// (package swarm) runs the torrents of the followed users and of the
// logged-in user over streams relayed by the bridge and, with
// Config.EnableWebRTC, over WebRTC data channels straight to other browsers
// met in the swarm's room at a signaling server (pion natively; in the
// browser the page's RTCPeerConnections, driven from the worker), so the
// node fetches, holds and serves those posts.
// On top it offers what a twister client needs: follow and unfollow
// (persisted per account: each user logged in on the device has a follow
// set of its own, and a guest set serves when nobody is; a public follow
// is published in the logged-in user's
// following<n> DHT items as twisterd's web UI does, a private one stays on
// the device, and at login the user's list saved elsewhere is read from
// the DHT and merged, follow.go), a merged timeline, posting, replies, retwists, favourites and
// direct messages (signed locally by a Signer, put into the DHT resources as
// twisterd does), profiles, mentions, hashtags and a connection status,
// plus other users' following lists and posts read from the DHT, the DM
// conversations, twisterd's group chats (groups.go) and the promoted
// messages of block coinbases checked against the verified headers
// (promoted.go).
// Follow sets: the current set (the logged-in user's) says whose swarms
// run and whose posts make the timeline; login loads the user's set and
// logout the guest set, leaving the swarms only the previous set needed. A
// node started with nobody logged in uses the set of the user logged in
// last unless that user logged out (a returning visitor's timeline before
// unlocking), else the guest set (read-only browsing, the widget). The
// device-wide set of earlier versions (KV record "follows", now the guest
// set's) becomes, once, the set of the first user logging in after the
// upgrade (recorded in "follows-migrated"); the guest set then starts
// empty.
// Users' keys live encrypted in a keystore.Store: Unlock logs in with a
// keystore.Session, and Register registers a new name from the browser
// (name check, proof of work, sendTx through the bridge, confirmation from
// verified headers and proofs).
// Posts and a small key-value store live in a Store: MemStore here,
// IDBStore (IndexedDB) in the browser.
package webnode
