// twister.js — the JavaScript API of the twister browser node.
//
//   import { Twister } from "./twister.js";
//   const tw = await Twister.start({ bridges: ["wss://bridge.example/ws"] });
//   await tw.login("alice", "L1aW4aubDFB7yfras2S1mN3bqg9nwySY8nkoLmJebSLD5BWv3ENZ");
//   await tw.follow("bob");
//   tw.on("newPost", (p) => console.log(p.user, p.text));
//   const posts = await tw.timeline({ count: 20 });
//
// The node itself (Go compiled to WebAssembly) runs in a Web Worker, so
// proof-of-work and signature checks never freeze the page. Every method
// returns a promise; errors reject with an Error whose message comes from
// the node. See README.md for every method, result and event.

const defaultWorker = new URL("./worker.js", import.meta.url);

export class TwisterError extends Error {
  constructor(method, message) {
    super(message);
    this.name = "TwisterError";
    this.method = method;
  }
}

export class Twister {
  /**
   * Starts a worker and the node in it. Options:
   *   bridges   string[]  bridge WebSocket URLs (required)
   *   network   "main" (default) | "regtest"
   *   db        IndexedDB database name (default "twister")
   *   memory    true: keep everything in memory (no IndexedDB)
   *   signaling WebRTC signaling URL (reserved; WebRTC is not implemented)
   *   debug     true: the node's debug log on the worker console
   *   workerURL URL of worker.js (default: next to this file)
   *   wasmURL, wasmExecURL  URLs of twister.wasm and wasm_exec.js
   *             (default: next to worker.js)
   */
  static async start(options = {}) {
    const url = new URL(options.workerURL || defaultWorker, location.href);
    if (options.wasmURL) url.searchParams.set("wasm", new URL(options.wasmURL, location.href).href);
    if (options.wasmExecURL) url.searchParams.set("exec", new URL(options.wasmExecURL, location.href).href);
    const tw = new Twister(new Worker(url));
    const { workerURL, wasmURL, wasmExecURL, ...params } = options;
    await tw._call("start", params);
    return tw;
  }

  constructor(worker) {
    this._worker = worker;
    this._next = 1;
    this._pending = new Map();
    this._handlers = new Map();
    worker.onmessage = (e) => this._receive(e.data);
    worker.onerror = (e) => this._fail(new TwisterError("worker", e.message || "worker error"));
  }

  _receive(m) {
    if (m && m.event !== undefined) {
      if (m.event === "fatal") this._fail(new TwisterError("worker", String(m.data)));
      for (const fn of this._handlers.get(m.event) || []) {
        try { fn(m.data); } catch (err) { console.error(err); }
      }
      return;
    }
    const p = this._pending.get(m.id);
    if (!p) return;
    this._pending.delete(m.id);
    if (m.error !== undefined && m.error !== "") p.reject(new TwisterError(p.method, m.error));
    else p.resolve(m.result);
  }

  _fail(err) {
    for (const p of this._pending.values()) p.reject(err);
    this._pending.clear();
  }

  _call(method, params = {}) {
    const id = this._next++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, method });
      this._worker.postMessage({ id, method, params });
    });
  }

  /** Subscribes fn to an event: "newPost", "dm", "connection", "height", "ready", "fatal". */
  on(event, fn) {
    if (!this._handlers.has(event)) this._handlers.set(event, []);
    this._handlers.get(event).push(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    const list = this._handlers.get(event) || [];
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  }

  /** Ends the worker; pending calls reject. */
  terminate() {
    this._worker.terminate();
    this._fail(new TwisterError("terminate", "terminated"));
  }

  login(user, secret) { return this._call("login", { user, secret }); }
  logout() { return this._call("logout"); }
  follow(user) { return this._call("follow", { user }); }
  unfollow(user) { return this._call("unfollow", { user }); }
  following() { return this._call("following"); }
  timeline({ count, maxId, sinceId, users } = {}) { return this._call("timeline", { count, maxId, sinceId, users }); }
  post(text) { return this._call("post", { text }); }
  reply(user, k, text) { return this._call("reply", { user, k, text }); }
  retwist(user, k, comment = "") { return this._call("retwist", { user, k, comment }); }
  favorite(user, k, { private: priv = false, comment = "" } = {}) {
    return this._call("favorite", { user, k, private: priv, comment });
  }
  dm(to, text) { return this._call("dm", { to, text }); }
  dms(user) { return this._call("dms", { user }); }
  profile(user) { return this._call("profile", { user }); }
  setProfile({ fields, avatar } = {}) { return this._call("setProfile", { fields, avatar }); }
  mentions(user = "") { return this._call("mentions", { user }); }
  hashtag(tag) { return this._call("hashtag", { tag }); }
  replies(user, k) { return this._call("replies", { user, k }); }
  getPost(user, k) { return this._call("getPost", { user, k }); }
  status() { return this._call("status"); }
  /** Diagnostic: re-verifies every held post; {ok, failed, ms}. */
  reverify() { return this._call("reverify"); }
}

export default Twister;
