// The twister browser node's Web Worker: loads wasm_exec.js (Go's support
// file) and twister.wasm, then relays messages between the page
// (twister.js) and the Go program (../../wasm). Requests are
// {id, method, params}; answers {id, result} or {id, error}; events
// {event, data}. Messages that arrive before Go is ready are queued.
//
// Where the two files are:
//   * Query parameters of the worker URL: wasm= (default ./twister.wasm)
//     and exec= (default ./wasm_exec.js), both relative to this file.
//   * A worker started from a blob: (or data:) URL — a page on another
//     origin runs `importScripts("https://…/js/worker.js")` in a blob
//     worker, since browsers only start workers from the page's origin —
//     has no address of its own to resolve them against: it waits for the
//     first message, which must carry absolute URLs, either
//     {config: {wasmURL, wasmExecURL}} (a message before start) or the
//     start request itself with params {wasmURL, wasmExecURL, ...}.
"use strict";

const here = new URL(self.location.href);
const hasBase = here.protocol === "http:" || here.protocol === "https:" || here.protocol === "file:";

let ready = false;
let loading = false;
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

function fatal(err) {
  self.postMessage({ event: "fatal", data: String((err && err.stack) || err) });
}

// load imports wasm_exec.js and starts the Go program, once. urls may
// carry wasmURL and wasmExecURL (absolute, or relative to this file).
function load(urls) {
  if (loading) return;
  loading = true;
  let wasmURL, execURL;
  try {
    const base = hasBase ? here : undefined;
    const pick = (given, param, name) => {
      const u = given || here.searchParams.get(param) || (hasBase ? name : "");
      if (!u) throw new Error(`worker.js started from ${here.protocol} needs ${param === "wasm" ? "wasmURL" : "wasmExecURL"} (an absolute URL) in a {config} message or in start's params`);
      return new URL(u, base);
    };
    wasmURL = pick(urls && urls.wasmURL, "wasm", "twister.wasm");
    execURL = pick(urls && urls.wasmExecURL, "exec", "wasm_exec.js");
    importScripts(execURL.href);
  } catch (err) {
    fatal(err);
    return;
  }
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
  })().catch(fatal);
}

self.onmessage = (e) => {
  const m = e.data;
  if (m && m.rtc !== undefined) {
    if (self.__twisterRTCEvent) self.__twisterRTCEvent(m.rtc);
    return;
  }
  if (m && m.config !== undefined) {
    load(m.config); // ignored once loading (a worker with an address loads at once)
    return;
  }
  if (!loading) load(m && m.method === "start" ? m.params : null);
  if (ready) self.__twisterCall(JSON.stringify(m));
  else queue.push(m);
};

// A worker with an address of its own loads at once; one from a blob:
// URL waits for the first message to say where the files are.
if (hasBase) load(null);
