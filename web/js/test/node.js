// Page of the Chromium test matrix (matrix_test.go): a bare node driven
// from the test through window.startNode and window.tw. Every event is
// recorded in window.events with a wall-clock timestamp in ms
// (performance.timeOrigin + performance.now(): comparable between pages
// of one machine), so the test can time post delivery between pages.
import { Twister } from "../twister.js";

const now = () => performance.timeOrigin + performance.now();
window.now = now;
window.events = [];
window.errors = [];
window.ready = true;

window.startNode = async (opts) => {
  const t0 = performance.now();
  const tw = (window.tw = await Twister.start({
    network: "regtest",
    wasmURL: "/twister.wasm",
    wasmExecURL: "/wasm_exec.js",
    memory: true,
    ...opts,
  }));
  for (const ev of ["newPost", "dm", "connection"]) {
    tw.on(ev, (data) => window.events.push({ ev, t: now(), data }));
  }
  tw.on("fatal", (e) => window.errors.push(String(e)));
  return performance.now() - t0;
};

// Arrival time of the newPost event for id, or 0.
window.arrived = (id) => {
  const e = window.events.find((e) => e.ev === "newPost" && e.data.id === id);
  return e ? e.t : 0;
};
