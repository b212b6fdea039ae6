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
   *   keystore  IndexedDB database of the encrypted keys (default "twister-keys")
   *   memory    true: keep everything in memory (no IndexedDB)
   *   webrtc    true: also exchange posts with other browsers directly
   *             over WebRTC data channels (needs signaling)
   *   signaling WebRTC signaling server URL, e.g. "wss://bridge.example/signal"
   *   iceServers STUN/TURN URLs for WebRTC (default none: host candidates)
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
    if (m && m.rtc !== undefined) {
      if (!this._rtc) this._rtc = new RTCHost((ev, transfer) => this._worker.postMessage({ rtc: ev }, transfer || []));
      this._rtc.handle(m.rtc);
      return;
    }
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

  /** Subscribes fn to an event: "newPost", "dm", "groupMessage", "connection", "height", "ready", "fatal". */
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
    if (this._rtc) this._rtc.closeAll();
    this._worker.terminate();
    this._fail(new TwisterError("terminate", "terminated"));
  }

  /** Compatibility: logs in with a raw secret held in worker memory; prefer unlock. */
  login(user, secret) { return this._call("login", { user, secret }); }
  logout() { return this._call("logout"); }
  /**
   * Follows user publicly (default: listed in the logged-in user's DHT
   * following1, 2, …) or with {public: false} privately (on this device
   * only); on a followed user it switches between the two: FollowResult.
   */
  follow(user, { public: pub = true } = {}) { return this._call("follow", { user, public: pub }); }
  /** Stops following user (a public follow's removal is published): FollowResult. */
  unfollow(user) { return this._call("unfollow", { user }); }
  following() { return this._call("following"); }
  /**
   * The follow list with each entry's visibility: [{user, public}], sorted.
   * Follow lists are per account: login() loads the user's, logout() the
   * device's guest list (also used by a node started after a logout).
   */
  follows() { return this._call("follows"); }
  /**
   * The merge of the logged-in user's public following list from the DHT
   * into the follow list, run at login: FollowSync
   * {user, state: "loading" | "done" | "failed", seq?, listed?, merged?, added?, error?}, or null.
   */
  followSync() { return this._call("followSync"); }
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

  // Other users, conversations, promoted posts (README.md).

  /** user's public following list (DHT following1, 2, …), each page verified: string[]. */
  userFollowing(user) { return this._call("userFollowing", { user }); }
  /** Recent posts of a user one need not follow (status, then lastk), verified: PostView[]. */
  userPosts(user, { count, maxId } = {}) { return this._call("userPosts", { user, count, maxId }); }
  /** DM partners from the held DMs, newest first: [{user, last: DMView}]. */
  conversations() { return this._call("conversations"); }
  /** Promoted messages of recent blocks, checked against verified headers: PostView[] (kind "promoted"). */
  promotedPosts({ from, count } = {}) { return this._call("promotedPosts", { from, count }); }

  // Group chats (twisterd's design; README.md).

  /** Creates a group (a new key pair); resolves with its alias "*xxxxxxxx". */
  createGroup(description) { return this._call("createGroup", { description }); }
  /** [{alias, description, members}] of the logged-in user. */
  groups() { return this._call("groups"); }
  /** Invites members (sends the group key to each); resolves with the group. */
  groupInvite(alias, members) { return this._call("groupInvite", { alias, members }); }
  /** Sends text to the group: DMView. */
  groupMessage(alias, text) { return this._call("groupMessage", { alias, text }); }
  /** The group's messages held, oldest first: DMView[]. */
  groupMessages(alias) { return this._call("groupMessages", { alias }); }
  /** Leaves the group (forgets its key; nothing is sent). */
  leaveGroup(alias) { return this._call("leaveGroup", { alias }); }

  // Accounts: keys encrypted under a passphrase in the worker's key store
  // (IndexedDB "twister-keys", or start's `keystore` option). Keys are
  // only decrypted inside the worker; only exportKey returns one.

  /** [{user, pubKey, created, kdf: {logn, r, p}, error?}] */
  accounts() { return this._call("accounts"); }
  /** New random key stored under passphrase: {user, secret, pubKey}; show secret once (back-up). */
  createAccount(user, passphrase) { return this._call("createAccount", { user, passphrase }); }
  /** Stores a 52-character secret (twisterd's dumpprivkey) under passphrase: {user, pubKey}. */
  importKey(user, secret, passphrase) { return this._call("importKey", { user, secret, passphrase }); }
  /** The secret (for importprivkey or another device), after checking passphrase. */
  exportKey(user, passphrase) { return this._call("exportKey", { user, passphrase }); }
  /** Decrypts the key in the worker and logs in with it: {user, pubKey, ms}. */
  unlock(user, passphrase) { return this._call("unlock", { user, passphrase }); }
  /** Logs out and wipes every unlocked key from the worker's memory. */
  lock() { return this._call("lock"); }
  changePassphrase(user, oldPassphrase, newPassphrase) {
    return this._call("changePassphrase", { user, oldPassphrase, newPassphrase });
  }
  /** Deletes the stored key (lost unless exported). */
  deleteAccount(user) { return this._call("deleteAccount", { user }); }
  /**
   * Registers the account `user` on the chain: name check, proof of work
   * in the worker, sendTx through the bridge, confirmation from verified
   * headers and proofs. onProgress({user, tried, rate, elapsedMs, expected,
   * done}) about every 250 ms; onStatus({user, status: "grinding" | "sent"
   * | "confirmed", txid, height, tip}). Resolves with {user, pubKey, txid,
   * nonce, tried, grindMs, height, tip}. `bits` (a harder target) and
   * `pollMs` are for tests.
   */
  register(user, { onProgress, onStatus, bits, pollMs } = {}) {
    const offs = [];
    if (onProgress) offs.push(this.on("registerProgress", (d) => { if (d.user === user) onProgress(d); }));
    if (onStatus) offs.push(this.on("registerStatus", (d) => { if (d.user === user) onStatus(d); }));
    return this._call("register", { user, bits, pollMs }).finally(() => offs.forEach((off) => off()));
  }
  /** Stops a running registration (its promise rejects); true if one was running. */
  cancelRegister(user) { return this._call("cancelRegister", { user }); }
  /** Diagnostic: registration proof-of-work speed, {hashes, ms, rate, mainnetMedianSeconds}. */
  benchmarkPoW(hashes = 0) { return this._call("benchmarkPoW", { hashes }); }
}

// RTCHost holds the RTCPeerConnections of the node in the worker (workers
// have none): the node sends commands ({op: "pc" | "dc" | "offer" |
// "answer" | "setAnswer" | "cand" | "send" | "threshold" | "dcclose" |
// "close", ...}) and gets events back ({ev: "reply" | "cand" | "state" |
// "dc" | "open" | "close" | "msg" | "ack", ...}); data travels as
// transferred ArrayBuffers. The protocol is internal (webnode/rtc_js.go).
class RTCHost {
  constructor(emit) {
    this.emit = emit;
    this.pcs = new Map();
    this.dcs = new Map(); // id -> {ch, pc}
    this.nextDC = -1; // channels the remote opened get ids below 0
  }

  handle(m) {
    try {
      this._handle(m);
    } catch (err) {
      if (m.req !== undefined) this.emit({ ev: "reply", req: m.req, error: String(err && err.message || err) });
      else console.warn("twister webrtc:", m.op, err);
    }
  }

  _handle(m) {
    const pc = this.pcs.get(m.pc);
    switch (m.op) {
      case "pc": {
        const servers = m.iceServers && m.iceServers.length ? [{ urls: m.iceServers }] : [];
        const p = new RTCPeerConnection({ iceServers: servers });
        this.pcs.set(m.pc, p);
        p.onicecandidate = (e) =>
          this.emit({ ev: "cand", pc: m.pc, cand: e.candidate ? JSON.stringify(e.candidate.toJSON()) : null });
        p.onconnectionstatechange = () => this.emit({ ev: "state", pc: m.pc, state: p.connectionState });
        p.ondatachannel = (e) => {
          const id = this.nextDC--;
          this._wire(id, e.channel, m.pc);
          this.emit({ ev: "dc", pc: m.pc, dc: id, open: e.channel.readyState === "open" });
        };
        return;
      }
      case "dc":
        if (!pc) return this.emit({ ev: "close", dc: m.dc });
        this._wire(m.dc, pc.createDataChannel(m.label, { ordered: true }), m.pc);
        return;
      case "offer":
      case "answer":
      case "setAnswer":
        this._describe(pc, m).then(
          (sdp) => this.emit({ ev: "reply", req: m.req, sdp }),
          (err) => this.emit({ ev: "reply", req: m.req, error: String(err && err.message || err) }),
        );
        return;
      case "cand":
        if (pc) pc.addIceCandidate(JSON.parse(m.cand)).catch((err) => console.debug("twister webrtc: candidate", err));
        return;
      case "send": {
        const d = this.dcs.get(m.dc);
        if (!d) return;
        try {
          d.ch.send(m.data);
        } catch (err) {
          d.ch.close();
        }
        this.emit({ ev: "ack", dc: m.dc, n: m.data.byteLength, buffered: d.ch.bufferedAmount });
        return;
      }
      case "threshold": {
        const d = this.dcs.get(m.dc);
        if (d) d.ch.bufferedAmountLowThreshold = m.n;
        return;
      }
      case "dcclose": {
        const d = this.dcs.get(m.dc);
        if (d) d.ch.close();
        return;
      }
      case "close":
        if (!pc) return;
        this.pcs.delete(m.pc);
        for (const [id, d] of this.dcs) if (d.pc === m.pc) this.dcs.delete(id);
        pc.close();
        return;
    }
  }

  async _describe(pc, m) {
    if (!pc) throw new Error("no such peer connection");
    if (m.op === "offer") {
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription.sdp;
    }
    if (m.op === "answer") {
      await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      return pc.localDescription.sdp;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
    return "";
  }

  _wire(id, ch, pcID) {
    ch.binaryType = "arraybuffer";
    this.dcs.set(id, { ch, pc: pcID });
    ch.onopen = () => this.emit({ ev: "open", dc: id });
    ch.onclose = () => {
      this.dcs.delete(id);
      this.emit({ ev: "close", dc: id });
    };
    ch.onmessage = (e) => {
      let d = e.data;
      if (typeof d === "string") d = new TextEncoder().encode(d).buffer;
      this.emit({ ev: "msg", dc: id, data: d }, [d]);
    };
    ch.onbufferedamountlow = () => this.emit({ ev: "ack", dc: id, n: 0, buffered: ch.bufferedAmount });
  }

  closeAll() {
    for (const pc of this.pcs.values()) pc.close();
    this.pcs.clear();
    this.dcs.clear();
  }
}

export default Twister;
