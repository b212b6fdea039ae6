//go:build js && wasm

package webnode

import "time"

// yieldToHost lets the browser's event loop run. In js/wasm the Go
// scheduler hands control back to JavaScript only when every goroutine is
// blocked, so a busy loop — even one calling runtime.Gosched — keeps the
// worker from receiving messages (a status call, cancelRegister) until it
// ends. A short sleep blocks the goroutine: the runtime goes idle, the
// event loop delivers what is pending, and a timer resumes the loop
// (about 1–4 ms per call).
func yieldToHost() { time.Sleep(time.Millisecond) }
