// api.js — the one place where the web UI meets the browser node.
//
// Everything the UI does goes through an Api object: the browser node's
// JavaScript API (../js/twister.js, documented in ../js/README.md) plus the
// key store's methods, which the worker is gaining (package keystore).
// KEYSTORE below maps the UI's key-store operations to worker method names
// and parameters, so a rename in the worker is a one-line change here.
//
// Until the worker answers the key-store methods, a page-side key store
// (PageKeyStore, WebCrypto: PBKDF2-SHA-256 + AES-GCM in IndexedDB) keeps
// imported keys encrypted under the passphrase and logs in with
// tw.login(user, secret). It cannot create keys (no secp256k1 in WebCrypto)
// nor register names; the UI says so when those are asked for.

import { Twister, TwisterError } from "../js/twister.js";

// Worker method names and parameter shapes of the key store (wasm/accounts.go).
export const KEYSTORE = {
  accounts: { method: "accounts", params: () => ({}) },
  createAccount: { method: "createAccount", params: (user, passphrase) => ({ user, passphrase }) },
  importKey: { method: "importKey", params: (user, secret, passphrase) => ({ user, secret, passphrase }) },
  exportKey: { method: "exportKey", params: (user, passphrase) => ({ user, passphrase }) },
  unlock: { method: "unlock", params: (user, passphrase) => ({ user, passphrase }) },
  lock: { method: "lock", params: () => ({}) },
  changePassphrase: { method: "changePassphrase", params: (user, oldPass, newPass) => ({ user, oldPassphrase: oldPass, newPassphrase: newPass }) },
  deleteAccount: { method: "deleteAccount", params: (user) => ({ user }) },
  register: { method: "register", params: (user, opts = {}) => ({ user, ...opts }) },
  cancelRegister: { method: "cancelRegister", params: (user) => ({ user }) },
  // Events while a registration runs: progress of the proof of work
  // {user, tried, rate, elapsedMs, expected, done} and its steps
  // {user, status: "grinding" | "sent" | "confirmed", txid, height, tip}.
  registerProgress: "registerProgress",
  registerStatus: "registerStatus",
};

// Optional worker methods the UI uses when present.
export const OPTIONAL = {
  promoted: "promotedPosts", // promoted ("spam") posts, shown at most once every 8 hours
  userFollowing: "userFollowing", // another user's following<n> list (who to follow)
  follows: "follows", // the follow list with visibility: [{user, public}]
  followSync: "followSync", // the login's merge of one's following list from the DHT
  userPosts: "userPosts", // recent posts of a user one does not follow
  conversations: "conversations", // DM partners: [{user, last: DMView}], newest first
  // Group chats (../js/README.md): no view uses them yet.
  createGroup: "createGroup", // {description} → alias
  groups: "groups", // → [{alias, description, members}]
  groupInvite: "groupInvite", // {alias, members}
  groupMessage: "groupMessage", // {alias, text} → DMView
  groupMessages: "groupMessages", // {alias} → DMView[]
  leaveGroup: "leaveGroup", // {alias}
};

const unknownMethod = /unknown method/i;

/** Tells whether err says the worker does not have the method. */
export function isUnknownMethod(err) {
  return err instanceof TwisterError && unknownMethod.test(err.message);
}

/** Api wraps a started Twister and the key store. */
export class Api {
  /**
   * Starts the node. opts: {bridges, network, db, memory, base} where base
   * is the URL of the js/ directory. onProgress(text) is told what happens.
   */
  static async start(opts, onProgress = () => {}) {
    const base = opts.base || new URL("../js/", import.meta.url).href;
    onProgress("Loading the node (WebAssembly)…");
    const tw = new Twister(new Worker(new URL("worker.js", base)));
    tw.on("ready", () => onProgress("Checking block headers from the bridge…"));
    const params = { bridges: opts.bridges, network: opts.network || "main", db: opts.db || "twister" };
    if (opts.memory) params.memory = true;
    if (opts.debug) params.debug = true;
    await tw._call("start", params);
    const api = new Api(tw);
    await api._probeKeyStore();
    return api;
  }

  constructor(tw) {
    this.tw = tw;
    this.pending = 0;
    this.onBusy = () => {};
    this.workerKeys = false;
    this.pageKeys = new PageKeyStore();
    this.missing = new Set(); // optional methods found missing
  }

  async _probeKeyStore() {
    try {
      await this.tw._call(KEYSTORE.accounts.method, KEYSTORE.accounts.params());
      this.workerKeys = true;
    } catch (err) {
      if (!isUnknownMethod(err)) throw err;
      this.workerKeys = false;
    }
  }

  /** Calls a worker method, counting it as busy for the progress bar. */
  async call(method, params = {}) {
    this.pending++;
    this.onBusy(this.pending);
    try {
      return await this.tw._call(method, params);
    } finally {
      this.pending--;
      this.onBusy(this.pending);
    }
  }

  /** Calls an optional method; null if the worker does not have it. */
  async optional(name, params = {}) {
    const method = OPTIONAL[name];
    if (this.missing.has(method)) return null;
    try {
      return await this.call(method, params);
    } catch (err) {
      if (isUnknownMethod(err)) {
        this.missing.add(method);
        return null;
      }
      throw err;
    }
  }

  on(event, fn) { return this.tw.on(event, fn); }
  terminate() { this.tw.terminate(); }

  // --- the node (README.md of ../js) ---
  login(user, secret) { return this.call("login", { user, secret }); }
  logout() { return this.call("logout"); }
  /** Follows publicly (default) or with {public: false} privately; switches a follow: FollowResult. */
  follow(user, { public: pub = true } = {}) { return this.call("follow", { user, public: pub }); }
  unfollow(user) { return this.call("unfollow", { user }); }
  following() { return this.call("following"); }
  timeline(o = {}) { return this.call("timeline", o); }
  post(text) { return this.call("post", { text }); }
  reply(user, k, text) { return this.call("reply", { user, k, text }); }
  retwist(user, k, comment = "") { return this.call("retwist", { user, k, comment }); }
  favorite(user, k, { private: priv = false, comment = "" } = {}) {
    return this.call("favorite", { user, k, private: priv, comment });
  }
  dm(to, text) { return this.call("dm", { to, text }); }
  dms(user) { return this.call("dms", { user }); }
  profile(user) { return this.call("profile", { user }); }
  setProfile(u) { return this.call("setProfile", u); }
  mentions(user = "") { return this.call("mentions", { user }); }
  hashtag(tag) { return this.call("hashtag", { tag }); }
  replies(user, k) { return this.call("replies", { user, k }); }
  getPost(user, k) { return this.call("getPost", { user, k }); }
  status() { return this.tw._call("status"); } // polled: not shown as busy

  // --- the key store ---
  get canCreate() { return this.workerKeys; }

  async _ks(name, ...args) {
    const m = KEYSTORE[name];
    return this.call(m.method, m.params(...args));
  }

  /**
   * [{user, pubKey?, created?, page?}] of the accounts kept on this device.
   * With the worker's key store, accounts left in the page-side store by
   * an earlier version are listed too (page: true) and moved into the
   * worker's store when unlocked.
   */
  async accounts() {
    const page = await this.pageKeys.accounts().catch(() => []);
    if (!this.workerKeys) return page;
    const list = ((await this._ks("accounts")) || []).map((a) => (typeof a === "string" ? { user: a } : a));
    for (const a of page) if (!list.some((x) => x.user === a.user)) list.push({ ...a, page: true });
    return list.sort((a, b) => a.user.localeCompare(b.user));
  }

  /**
   * Creates a new key for user, stored under passphrase; returns the
   * 52-character secret to back up.
   */
  async createAccount(user, passphrase) {
    if (!this.workerKeys) {
      throw new Error("Creating a new key needs the node's key store, which this version of the node does not have yet. Create the account with twisterd (createwalletuser, then dumpprivkey) and import its key here.");
    }
    const r = await this._ks("createAccount", user, passphrase);
    if (typeof r === "string") return r;
    if (r && r.secret) return r.secret;
    return this._ks("exportKey", user, passphrase);
  }

  /**
   * Registers user's name on the block chain (the key must be in the key
   * store). onProgress({tried, rate, elapsedMs, expected, done}) and
   * onStatus({status, txid, height, tip}) follow it; opts go to the worker
   * (bits, pollMs).
   */
  async register(user, { onProgress = () => {}, onStatus = () => {}, ...opts } = {}) {
    if (!this.workerKeys) {
      throw new Error("Registering a name needs the node's key store, which this version of the node does not have yet.");
    }
    const mine = (fn) => (p) => { if (!p || !p.user || p.user === user) fn(p || {}); };
    const off1 = this.tw.on(KEYSTORE.registerProgress, mine(onProgress));
    const off2 = this.tw.on(KEYSTORE.registerStatus, mine(onStatus));
    try {
      return await this._ks("register", user, opts);
    } finally {
      off1();
      off2();
    }
  }

  cancelRegister(user) { return this._ks("cancelRegister", user); }

  /** Stores an existing secret key of user under passphrase. */
  async importKey(user, secret, passphrase) {
    if (this.workerKeys) return this._ks("importKey", user, secret, passphrase);
    // Check the key is user's before keeping it: logging in verifies it.
    await this.login(user, secret);
    await this.pageKeys.put(user, secret, passphrase);
    return true;
  }

  /** Returns the 52-character secret key of user. */
  async exportKey(user, passphrase) {
    if (this.workerKeys && !(await this._pageOnly(user))) return this._ks("exportKey", user, passphrase);
    return this.pageKeys.get(user, passphrase);
  }

  async _pageOnly(user) {
    const a = (await this.accounts()).find((x) => x.user === user);
    return !!(a && a.page);
  }

  /** Unlocks user's key with passphrase and logs in. */
  async unlock(user, passphrase) {
    if (this.workerKeys) {
      if (await this._pageOnly(user)) {
        // Move the key into the worker's store, then forget the page copy.
        const secret = await this.pageKeys.get(user, passphrase);
        await this._ks("importKey", user, secret, passphrase);
        await this.pageKeys.delete(user);
      }
      return this._ks("unlock", user, passphrase);
    }
    const secret = await this.pageKeys.get(user, passphrase);
    return this.login(user, secret);
  }

  /** Logs out (and locks the key store's sessions). */
  async lock() {
    if (this.workerKeys) return this._ks("lock");
    return this.logout();
  }

  async changePassphrase(user, oldPass, newPass) {
    if (this.workerKeys && !(await this._pageOnly(user))) return this._ks("changePassphrase", user, oldPass, newPass);
    const secret = await this.pageKeys.get(user, oldPass);
    await this.pageKeys.put(user, secret, newPass);
    return true;
  }

  /** Removes user's key from this device. */
  async deleteAccount(user) {
    await this.pageKeys.delete(user).catch(() => {});
    if (this.workerKeys) return this._ks("deleteAccount", user).catch((err) => { if (!/not found|no account|unknown/i.test(err.message)) throw err; });
    return true;
  }
}

// ---------------------------------------------------------------------------
// PageKeyStore: keys encrypted under a passphrase in the page's IndexedDB,
// used while the worker has no key store. Record: {user, salt, iv, ct,
// iterations, created}; AES-GCM-256 with a PBKDF2-SHA-256 key, the user
// name as associated data.

const KS_DB = "twister-page-keys"; // not "twister-keys": that is the worker's key store
const KS_STORE = "accounts";
const PBKDF2_ITERATIONS = 310000;

export class WrongPassphraseError extends Error {
  constructor() {
    super("Wrong passphrase.");
    this.name = "WrongPassphraseError";
  }
}

function idbRequest(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class PageKeyStore {
  _db() {
    if (!this.dbp) {
      const req = indexedDB.open(KS_DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(KS_STORE, { keyPath: "user" });
      this.dbp = idbRequest(req);
    }
    return this.dbp;
  }

  async _tx(mode, fn) {
    const db = await this._db();
    const tx = db.transaction(KS_STORE, mode);
    const r = await idbRequest(fn(tx.objectStore(KS_STORE)));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return r;
  }

  async accounts() {
    const all = await this._tx("readonly", (s) => s.getAll());
    return all.map((r) => ({ user: r.user, created: r.created })).sort((a, b) => a.user.localeCompare(b.user));
  }

  async _key(passphrase, salt, iterations) {
    const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveKey"]);
    return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base,
      { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  }

  async put(user, secret, passphrase) {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const key = await this._key(passphrase, salt, PBKDF2_ITERATIONS);
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(user) },
      key, new TextEncoder().encode(secret));
    const old = await this._tx("readonly", (s) => s.get(user));
    const rec = { user, salt, iv, ct: new Uint8Array(ct), iterations: PBKDF2_ITERATIONS,
      created: (old && old.created) || Math.floor(Date.now() / 1000) };
    await this._tx("readwrite", (s) => s.put(rec));
  }

  async get(user, passphrase) {
    const rec = await this._tx("readonly", (s) => s.get(user));
    if (!rec) throw new Error(`No key for @${user} on this device.`);
    const key = await this._key(passphrase, rec.salt, rec.iterations);
    try {
      const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: rec.iv, additionalData: new TextEncoder().encode(user) }, key, rec.ct);
      return new TextDecoder().decode(pt);
    } catch {
      throw new WrongPassphraseError();
    }
  }

  async delete(user) {
    await this._tx("readwrite", (s) => s.delete(user));
    return true;
  }
}

export { TwisterError };
