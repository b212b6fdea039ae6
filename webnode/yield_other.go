//go:build !(js && wasm)

package webnode

// yieldToHost is a no-op where goroutines run in parallel on threads.
func yieldToHost() {}
