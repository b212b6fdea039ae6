// The twister browser node's Web Worker: loads wasm_exec.js (Go's support
// file) and twister.wasm, then relays messages between the page
// (twister.js) and the Go program (../../wasm). Requests are
// {id, method, params}; answers {id, result} or {id, error}; events
// {event, data}. Messages that arrive before Go is ready are queued.
//
// Query parameters of the worker URL: wasm= (default ./twister.wasm) and
// exec= (default ./wasm_exec.js), both relative to this file.
"use strict";

const here = new URL(self.location.href);
const wasmURL = new URL(here.searchParams.get("wasm") || "twister.wasm", here);
const execURL = new URL(here.searchParams.get("exec") || "wasm_exec.js", here);

importScripts(execURL.href);

let ready = false;
const queue = [];

self.__twisterPost = (json) => self.postMessage(JSON.parse(json));
// WebRTC: workers have no RTCPeerConnection, so the page (twister.js)
// holds them; the node sends it commands and gets events back, both as
// {rtc: ...} messages (see webnode/rtc_js.go).
self.__twisterRTC = (cmd, transfer) => self.postMessage({ rtc: cmd }, transfer || []);
self.__twisterReady = () => {
  ready = true;
  self.postMessage({ event: "ready", data: null });
  for (const m of queue.splice(0)) self.__twisterCall(JSON.stringify(m));
};

self.onmessage = (e) => {
  if (e.data && e.data.rtc !== undefined) {
    if (self.__twisterRTCEvent) self.__twisterRTCEvent(e.data.rtc);
    return;
  }
  if (ready) self.__twisterCall(JSON.stringify(e.data));
  else queue.push(e.data);
};

(async () => {
  const go = new Go();
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(fetch(wasmURL), go.importObject);
  } catch (err) {
    // A server without application/wasm: fall back to a plain compile.
    const buf = await (await fetch(wasmURL)).arrayBuffer();
    result = await WebAssembly.instantiate(buf, go.importObject);
  }
  await go.run(result.instance);
  self.postMessage({ event: "fatal", data: "the Go program exited" });
})().catch((err) => self.postMessage({ event: "fatal", data: String(err && err.stack || err) }));
