//go:build js

package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"
)

// In a browser (and in Node ≥ 22) the connection is the JavaScript
// WebSocket object itself, driven through syscall/js: binary messages go
// out as Uint8Array and come in as ArrayBuffer (binaryType "arraybuffer"),
// text messages as strings, close codes and reasons from the close event,
// and Write waits while the browser's bufferedAmount is over
// jsWSHighWater. This keeps net/http (and crypto/tls) out of the wasm.

// jsWSHighWater is how many bytes may wait in the browser's send buffer
// before Write waits for it to drain.
const jsWSHighWater = 4 << 20

// jsWSPoll is how often a waiting Write looks at bufferedAmount (the
// WebSocket API has no event for it).
const jsWSPoll = 5 * time.Millisecond

// dialWS opens the WebSocket through the browser, which sets the Origin
// header itself; Options.Header and HTTPClient are ignored.
func dialWS(ctx context.Context, url string, o *Options) (MessageConn, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("this JavaScript environment has no WebSocket")
	}
	var v js.Value
	if err := jsTry(func() { v = ctor.New(url) }); err != nil {
		return nil, err
	}
	w := &jsWS{v: v, limit: 32 << 10, notify: make(chan struct{}, 1), opened: make(chan struct{}), done: make(chan struct{})}
	v.Set("binaryType", "arraybuffer")
	w.on("onopen", func(js.Value) {
		w.mu.Lock()
		if !w.isOpen {
			w.isOpen = true
			close(w.opened)
		}
		w.mu.Unlock()
	})
	w.on("onmessage", w.onMessage)
	// Browsers follow an error with a close event; Node's WebSocket
	// may not, so an error ends the connection by itself (a close event
	// that follows then changes nothing).
	w.on("onerror", func(js.Value) { w.end(errors.New("websocket: connection failed")) })
	w.on("onclose", func(ev js.Value) {
		w.end(&CloseError{Code: ev.Get("code").Int(), Reason: ev.Get("reason").String()})
		go w.release() // not from inside the callback being released
	})
	select {
	case <-w.opened:
		return w, nil
	case <-w.done:
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		var ce *CloseError
		if errors.As(err, &ce) && ce.Code == 1006 {
			err = errors.New("websocket: connection failed") // the browser says no more
		}
		return nil, err
	case <-ctx.Done():
		w.CloseNow()
		return nil, ctx.Err()
	}
}

// jsTry runs f and turns a JavaScript exception into an error.
func jsTry(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = fmt.Errorf("websocket: %s", je.Value.Get("message").String())
				return
			}
			err = fmt.Errorf("websocket: %v", r)
		}
	}()
	f()
	return nil
}

type jsMsg struct {
	text bool
	data []byte
}

// jsWS is a MessageConn over a JavaScript WebSocket.
type jsWS struct {
	v     js.Value
	funcs []js.Func
	names []string

	mu     sync.Mutex
	queue  []jsMsg
	head   int
	limit  int64
	isOpen bool
	err    error // why it ended; set once, with done closed
	notify chan struct{}
	opened chan struct{}
	done   chan struct{}
}

// on sets the event handler property name (onopen…) to fn. Handlers never
// block: they copy what they need and return.
func (w *jsWS) on(name string, fn func(ev js.Value)) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		var ev js.Value
		if len(args) > 0 {
			ev = args[0]
		}
		fn(ev)
		return nil
	})
	w.funcs = append(w.funcs, f)
	w.names = append(w.names, name)
	w.v.Set(name, f)
}

func (w *jsWS) release() {
	for i, f := range w.funcs {
		w.v.Set(w.names[i], js.Null())
		f.Release()
	}
	w.funcs, w.names = nil, nil
}

func (w *jsWS) onMessage(ev js.Value) {
	data := ev.Get("data")
	var m jsMsg
	if data.Type() == js.TypeString {
		m = jsMsg{text: true, data: []byte(data.String())}
	} else {
		arr := js.Global().Get("Uint8Array").New(data)
		m.data = make([]byte, arr.Get("length").Int())
		js.CopyBytesToGo(m.data, arr)
	}
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	if int64(len(m.data)) > w.limit {
		w.mu.Unlock()
		w.end(&CloseError{Code: StatusMessageTooBig, Reason: fmt.Sprintf("message of %d bytes over the read limit %d", len(m.data), w.limit)})
		jsTry(func() { w.v.Call("close", 1000, "message too big") })
		return
	}
	w.queue = append(w.queue, m)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *jsWS) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	w.err = err
	close(w.done)
}

func (w *jsWS) Read(ctx context.Context) (bool, []byte, error) {
	for {
		w.mu.Lock()
		if w.head < len(w.queue) {
			m := w.queue[w.head]
			w.queue[w.head] = jsMsg{}
			w.head++
			if w.head == len(w.queue) {
				w.queue, w.head = w.queue[:0], 0
			}
			w.mu.Unlock()
			return m.text, m.data, nil
		}
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return false, nil, err
		}
		select {
		case <-w.notify:
		case <-w.done:
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
	}
}

func (w *jsWS) Write(ctx context.Context, text bool, data []byte) error {
	for {
		select {
		case <-w.done:
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.err
		default:
		}
		if w.v.Get("bufferedAmount").Int() <= jsWSHighWater {
			break
		}
		t := time.NewTimer(jsWSPoll)
		select {
		case <-t.C:
		case <-w.done:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return jsTry(func() {
		if text {
			w.v.Call("send", string(data))
			return
		}
		arr := js.Global().Get("Uint8Array").New(len(data))
		js.CopyBytesToJS(arr, data)
		w.v.Call("send", arr)
	})
}

// Close sends a close frame (browsers only allow 1000 and 3000–4999; other
// codes are sent as 1000) and waits up to 5 s for the close event.
func (w *jsWS) Close(code int, reason string) error {
	if code != 1000 && (code < 3000 || code > 4999) {
		code = 1000
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	err := jsTry(func() { w.v.Call("close", code, reason) })
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		w.end(errors.New("websocket: close handshake timed out"))
	}
	return err
}

func (w *jsWS) CloseNow() error {
	err := jsTry(func() { w.v.Call("close") })
	w.end(errors.New("websocket: closed"))
	return err
}

func (w *jsWS) SetReadLimit(n int64) {
	w.mu.Lock()
	w.limit = n
	w.mu.Unlock()
}
