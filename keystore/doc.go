// Package keystore keeps twister users' secret keys on their own device,
// encrypted under a passphrase, so that a user can log in with their own key
// in any browser (or native client) without ever handing it to a server. A
// Store holds any number of accounts keyed by username; each account is one
// record in a Backend (in memory, a directory of files, or the browser's
// IndexedDB) that holds the secp256k1 secret key sealed with
// XChaCha20-Poly1305 under a key derived from the passphrase by scrypt.
// Unlocking an account gives a Session that signs and decrypts in place, so
// the raw key never has to leave the process (in the browser: the Web Worker
// that runs the node). Keys come in and go out as the 52-character secret
// string that twisterd's dumpprivkey prints and importprivkey accepts.
//
// # Record format (version 1)
//
// A record is stored under the backend key "account/<username>" as compact
// JSON, fields in exactly this order, no white space, binary fields in
// standard padded base64:
//
//	{"v":1,"user":"alice","pub":"03…","created":1700000000,
//	 "kdf":{"alg":"scrypt","logn":16,"r":8,"p":1,"salt":"<16 bytes>"},
//	 "aead":"xchacha20poly1305","nonce":"<24 bytes>","ct":"<49 or 50 bytes>",
//	 "sum":"<32 bytes>"}
//
// The fields:
//
//   - v: record version (1). A newer version is refused, not guessed at.
//   - user: the username (1–16 of a–z, 0–9, _), the same as in the
//     record's backend key.
//   - pub: the public key in lowercase hex (33 bytes compressed or 65
//     uncompressed), shown by Accounts without the passphrase.
//   - created: Unix seconds when the account was first stored; kept across
//     passphrase changes.
//   - kdf: scrypt with cost N = 2^logn, block size r, parallelism p and a
//     random salt. 10 ≤ logn ≤ 20, 1 ≤ r ≤ 32, 1 ≤ p ≤ 16 and at most 1 GiB
//     of scrypt memory (128·r·N bytes); parameters live in each record, so
//     they can be raised later (ChangePassphrase rewrites a record with the
//     store's current parameters).
//   - aead, nonce, ct: XChaCha20-Poly1305 with the 32-byte scrypt output as
//     key, a random 24-byte nonce, sealing the base58check payload of the
//     secret key: 0x80 ‖ 32-byte scalar ‖ 0x01 if the public key is
//     compressed (34 or 33 bytes, so ct is 50 or 49 bytes with the tag).
//   - sum: SHA-256 of header ‖ nonce ‖ ct, an unkeyed checksum that tells
//     a damaged record (ErrCorrupt) from a wrong passphrase
//     (ErrWrongPassphrase).
//
// The header, which is also the AEAD's associated data, binds every other
// field: "twister-keystore" 0x00 ‖ u8 v ‖ u8 len ‖ user ‖ u8 len ‖ pub bytes
// ‖ int64 created (big-endian) ‖ u8 len ‖ "scrypt" ‖ u8 logn ‖ u32 r ‖ u32 p
// ‖ u8 len ‖ salt ‖ u8 len ‖ aead name. A record must be byte-for-byte the
// canonical encoding of what it decodes to; anything else is ErrCorrupt.
//
// # KDF parameters
//
// DefaultKDF is scrypt N=2^16, r=8, p=1 (64 MiB). Measured with
// BenchmarkUnlock on a shared, loaded 2-core x86-64 machine (AMD EPYC):
// 0.17–0.22 s natively and 0.31–0.48 s in wasm under Node (Chromium's wasm
// runs scrypt at about Node's speed); N=2^17 took 0.36–0.61 s and
// 0.65–0.89 s, too close to a second for slower phones. With 2^16 a device
// twice as slow as that machine still unlocks in under a second, while every
// passphrase guess against a stolen database costs an attacker 64 MiB of
// memory and about 0.2 s of a CPU core (scrypt's memory-hardness blunts GPU
// and ASIC guessing). That protects a decent passphrase; no KDF setting
// rescues a guessable one. N=2^17 would double the attacker's cost and the
// user's wait; a later release can raise the default, and ChangePassphrase
// moves a record to it. In wasm the 64 MiB stays in the Go heap after the
// first unlock (linear memory never shrinks).
//
// scrypt runs for a fraction of a second without yielding: in a browser,
// call Unlock, Create, Import, Export and ChangePassphrase from a Web Worker,
// never from the page's main thread.
package keystore
