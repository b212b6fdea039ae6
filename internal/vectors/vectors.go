// Package vectors embeds the twister test vectors (keys, signatures,
// registration transactions, genesis blocks, daemon-made posts, DHT items,
// KRPC packets, the swarm handshake and recorded JSON-RPC calls) so that every
// package's tests, native or wasm, check against the same bytes a real
// twisterd produced.
package vectors

import (
	_ "embed"
	"encoding/hex"
	"encoding/json"
)

//go:embed twister-vectors.json
var derivedJSON []byte

//go:embed twister-vectors-verified.json
var verifiedJSON []byte

//go:embed twister-rpc-transcript.json
var transcriptJSON []byte

// Derived returns twister-vectors.json decoded into generic JSON.
func Derived() map[string]any { return decode(derivedJSON) }

// Verified returns twister-vectors-verified.json decoded into generic JSON.
func Verified() map[string]any { return decode(verifiedJSON) }

// Transcript returns twister-rpc-transcript.json decoded into generic JSON.
func Transcript() map[string]any { return decode(transcriptJSON) }

func decode(b []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// Path walks nested maps by keys and returns what it finds (nil if absent).
func Path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// Str returns the string at the path, or "" if absent.
func Str(m map[string]any, keys ...string) string {
	s, _ := Path(m, keys...).(string)
	return s
}

// Hex returns the decoded hex string at the path; it panics on bad hex,
// since the vector files are fixed.
func Hex(m map[string]any, keys ...string) []byte {
	b, err := hex.DecodeString(Str(m, keys...))
	if err != nil {
		panic(err)
	}
	return b
}

// Int returns the number at the path.
func Int(m map[string]any, keys ...string) int64 {
	f, _ := Path(m, keys...).(float64)
	return int64(f)
}
