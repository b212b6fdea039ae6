//go:build js

package webnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"
)

// In the browser the node runs in a Web Worker, and workers have no
// RTCPeerConnection: the page that started the worker (twister.js) owns
// the peer connections and data channels, and the node drives them by
// messages. The worker exposes globalThis.__twisterRTC(cmd, transfer),
// which posts {rtc: cmd} to the page, and routes the page's {rtc: event}
// messages to globalThis.__twisterRTCEvent, set here.
//
// Commands (node → page): {op: "pc", pc, iceServers}, {op: "dc", pc, dc,
// label}, {op: "offer"|"answer"|"setAnswer", pc, req, sdp}, {op: "cand",
// pc, cand}, {op: "send", dc, data: ArrayBuffer (transferred)},
// {op: "threshold", dc, n}, {op: "dcclose", dc}, {op: "close", pc}.
// Events (page → node): {ev: "reply", req, sdp | error}, {ev: "cand", pc,
// cand: JSON string | null}, {ev: "state", pc, state}, {ev: "dc", pc, dc,
// open} (a channel the remote opened; the page numbers these below 0),
// {ev: "open"|"close", dc}, {ev: "msg", dc, data: ArrayBuffer},
// {ev: "ack", dc, n, buffered} (after each send, and on
// bufferedamountlow: the channel's bufferedAmount).
//
// Event handlers run inside a JavaScript callback and never block.

type jsReply struct {
	sdp string
	err error
}

type jsRTCHost struct {
	mu    sync.Mutex
	ready bool
	post  js.Value
	cb    js.Func
	next  int
	pcs   map[int]*jsPeer
	dcs   map[int]*jsChannel
	reqs  map[int]chan jsReply
}

var rtcHost = &jsRTCHost{pcs: map[int]*jsPeer{}, dcs: map[int]*jsChannel{}, reqs: map[int]chan jsReply{}}

// rtcCallTimeout bounds a command the page answers (offer, answer).
const rtcCallTimeout = 30 * time.Second

func (h *jsRTCHost) init() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready {
		return nil
	}
	p := js.Global().Get("__twisterRTC")
	if p.Type() != js.TypeFunction {
		return errors.New("no WebRTC host: the page must start the node with twister.js, which owns the RTCPeerConnections (workers have none)")
	}
	h.post = p
	h.cb = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			h.event(args[0])
		}
		return nil
	})
	js.Global().Set("__twisterRTCEvent", h.cb)
	h.ready = true
	return nil
}

func (h *jsRTCHost) id() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	return h.next
}

func (h *jsRTCHost) send(cmd map[string]any, transfer ...any) {
	h.post.Invoke(js.ValueOf(cmd), js.ValueOf(transfer))
}

// call sends a command that the page answers with a reply event.
func (h *jsRTCHost) call(cmd map[string]any) (string, error) {
	req := h.id()
	ch := make(chan jsReply, 1)
	h.mu.Lock()
	h.reqs[req] = ch
	h.mu.Unlock()
	cmd["req"] = req
	h.send(cmd)
	t := time.NewTimer(rtcCallTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.sdp, r.err
	case <-t.C:
		h.mu.Lock()
		delete(h.reqs, req)
		h.mu.Unlock()
		return "", fmt.Errorf("the page did not answer %s within %v", cmd["op"], rtcCallTimeout)
	}
}

func (h *jsRTCHost) event(ev js.Value) {
	kind := ev.Get("ev").String()
	if kind == "reply" {
		req := ev.Get("req").Int()
		h.mu.Lock()
		ch := h.reqs[req]
		delete(h.reqs, req)
		h.mu.Unlock()
		if ch == nil {
			return
		}
		if e := ev.Get("error"); e.Type() == js.TypeString {
			ch <- jsReply{err: errors.New(e.String())}
		} else {
			ch <- jsReply{sdp: ev.Get("sdp").String()}
		}
		return
	}
	if pcv := ev.Get("pc"); pcv.Type() == js.TypeNumber && kind != "dc" {
		h.mu.Lock()
		pc := h.pcs[pcv.Int()]
		h.mu.Unlock()
		if pc == nil {
			return
		}
		switch kind {
		case "cand":
			c := ev.Get("cand")
			if f := pc.handlers().cand; f != nil {
				if c.Type() == js.TypeString {
					f(json.RawMessage(c.String()))
				} else {
					f(nil)
				}
			}
		case "state":
			if f := pc.handlers().state; f != nil {
				f(ev.Get("state").String())
			}
		}
		return
	}
	id := ev.Get("dc").Int()
	if kind == "dc" {
		h.mu.Lock()
		pc := h.pcs[ev.Get("pc").Int()]
		if pc == nil {
			h.mu.Unlock()
			h.send(map[string]any{"op": "dcclose", "dc": id})
			return
		}
		ch := &jsChannel{h: h, id: id, pc: pc}
		h.dcs[id] = ch
		h.mu.Unlock()
		if f := pc.handlers().dc; f != nil {
			f(ch)
		}
		if ev.Get("open").Bool() {
			ch.fireOpen()
		}
		return
	}
	h.mu.Lock()
	ch := h.dcs[id]
	if kind == "close" {
		delete(h.dcs, id)
	}
	h.mu.Unlock()
	if ch == nil {
		return
	}
	switch kind {
	case "open":
		ch.fireOpen()
	case "close":
		ch.fireClose()
	case "msg":
		arr := js.Global().Get("Uint8Array").New(ev.Get("data"))
		b := make([]byte, arr.Get("length").Int())
		js.CopyBytesToGo(b, arr)
		ch.fireMessage(b)
	case "ack":
		ch.ack(uint64(ev.Get("n").Int()), uint64(ev.Get("buffered").Int()))
	}
}

// newRTCPeer asks the page for an RTCPeerConnection.
func newRTCPeer(o rtcOptions) (rtcPeer, error) {
	h := rtcHost
	if err := h.init(); err != nil {
		return nil, err
	}
	p := &jsPeer{h: h, id: h.id()}
	h.mu.Lock()
	h.pcs[p.id] = p
	h.mu.Unlock()
	servers := make([]any, len(o.ICEServers))
	for i, s := range o.ICEServers {
		servers[i] = s
	}
	h.send(map[string]any{"op": "pc", "pc": p.id, "iceServers": servers})
	return p, nil
}

type jsPeerHandlers struct {
	cand  func(json.RawMessage)
	state func(string)
	dc    func(rtcChannel)
}

type jsPeer struct {
	h  *jsRTCHost
	id int

	mu sync.Mutex
	hs jsPeerHandlers
}

func (p *jsPeer) handlers() jsPeerHandlers {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hs
}

func (p *jsPeer) CreateDataChannel(label string) (rtcChannel, error) {
	ch := &jsChannel{h: p.h, id: p.h.id(), pc: p}
	p.h.mu.Lock()
	if p.h.pcs[p.id] == nil {
		p.h.mu.Unlock()
		return nil, errors.New("peer connection closed")
	}
	p.h.dcs[ch.id] = ch
	p.h.mu.Unlock()
	p.h.send(map[string]any{"op": "dc", "pc": p.id, "dc": ch.id, "label": label})
	return ch, nil
}

func (p *jsPeer) Offer() (string, error) {
	return p.h.call(map[string]any{"op": "offer", "pc": p.id})
}

func (p *jsPeer) Answer(offer string) (string, error) {
	return p.h.call(map[string]any{"op": "answer", "pc": p.id, "sdp": offer})
}

func (p *jsPeer) SetAnswer(sdp string) error {
	_, err := p.h.call(map[string]any{"op": "setAnswer", "pc": p.id, "sdp": sdp})
	return err
}

func (p *jsPeer) AddCandidate(c json.RawMessage) error {
	if len(c) == 0 || string(c) == "null" {
		return nil
	}
	if !json.Valid(c) {
		return errors.New("candidate is not JSON")
	}
	p.h.send(map[string]any{"op": "cand", "pc": p.id, "cand": string(c)})
	return nil
}

func (p *jsPeer) OnCandidate(f func(json.RawMessage)) { p.mu.Lock(); p.hs.cand = f; p.mu.Unlock() }
func (p *jsPeer) OnDataChannel(f func(rtcChannel))    { p.mu.Lock(); p.hs.dc = f; p.mu.Unlock() }
func (p *jsPeer) OnState(f func(string))              { p.mu.Lock(); p.hs.state = f; p.mu.Unlock() }

func (p *jsPeer) Close() error {
	h := p.h
	h.mu.Lock()
	if h.pcs[p.id] == nil {
		h.mu.Unlock()
		return nil
	}
	delete(h.pcs, p.id)
	var chans []*jsChannel
	for id, ch := range h.dcs {
		if ch.pc == p {
			delete(h.dcs, id)
			chans = append(chans, ch)
		}
	}
	h.mu.Unlock()
	h.send(map[string]any{"op": "close", "pc": p.id})
	for _, ch := range chans {
		ch.fireClose()
	}
	return nil
}

// jsChannel is a data channel held by the page. Its bufferedAmount is the
// page's last report plus what was sent since.
type jsChannel struct {
	h  *jsRTCHost
	id int
	pc *jsPeer

	mu        sync.Mutex
	open      bool
	closed    bool
	unacked   uint64
	buffered  uint64
	threshold uint64
	early     [][]byte // messages before OnMessage
	onOpen    func()
	onClose   func()
	onMsg     func([]byte)
	onLow     func()
}

func (c *jsChannel) Send(b []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("data channel closed")
	}
	c.unacked += uint64(len(b))
	c.mu.Unlock()
	arr := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(arr, b)
	buf := arr.Get("buffer")
	c.h.send(map[string]any{"op": "send", "dc": c.id, "data": buf}, buf)
	return nil
}

func (c *jsChannel) BufferedAmount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buffered + c.unacked
}

func (c *jsChannel) SetBufferedAmountLowThreshold(n uint64) {
	c.mu.Lock()
	c.threshold = n
	c.mu.Unlock()
	c.h.send(map[string]any{"op": "threshold", "dc": c.id, "n": n})
}

func (c *jsChannel) ack(n, buffered uint64) {
	c.mu.Lock()
	c.unacked -= min(n, c.unacked)
	c.buffered = buffered
	f := c.onLow
	fire := c.buffered+c.unacked <= c.threshold
	c.mu.Unlock()
	if f != nil && fire {
		f()
	}
}

func (c *jsChannel) OnBufferedAmountLow(f func()) { c.mu.Lock(); c.onLow = f; c.mu.Unlock() }

func (c *jsChannel) OnOpen(f func()) {
	c.mu.Lock()
	c.onOpen = f
	open := c.open
	c.mu.Unlock()
	if open {
		f()
	}
}

func (c *jsChannel) OnClose(f func()) {
	c.mu.Lock()
	c.onClose = f
	closed := c.closed
	c.mu.Unlock()
	if closed {
		f()
	}
}

func (c *jsChannel) OnMessage(f func([]byte)) {
	c.mu.Lock()
	c.onMsg = f
	early := c.early
	c.early = nil
	c.mu.Unlock()
	for _, b := range early {
		f(b)
	}
}

func (c *jsChannel) fireOpen() {
	c.mu.Lock()
	if c.open || c.closed {
		c.mu.Unlock()
		return
	}
	c.open = true
	f := c.onOpen
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *jsChannel) fireClose() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	f := c.onClose
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *jsChannel) fireMessage(b []byte) {
	c.mu.Lock()
	f := c.onMsg
	if f == nil {
		if len(c.early) < 1024 {
			c.early = append(c.early, b)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f(b)
}

func (c *jsChannel) Close() error {
	c.mu.Lock()
	wasClosed := c.closed
	c.mu.Unlock()
	if !wasClosed {
		c.h.send(map[string]any{"op": "dcclose", "dc": c.id})
	}
	return nil
}
