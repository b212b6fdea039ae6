//go:build wasm

package consensus

// useRegGrinder: in WebAssembly crypto/sha256 is portable Go, and the
// specialised SHA256d of regpow.go is about three times faster.
const useRegGrinder = true
