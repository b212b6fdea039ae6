// local.js — what the web UI keeps on this device besides the node's own
// store: settings, drafts, mute lists, users seen, DM partners, the last
// promoted-post time and the outbox of posts written offline. All of it is
// in localStorage (small, synchronous, survives reloads and works offline).

const P = "twister.";

function read(key, def) {
  try {
    const v = localStorage.getItem(P + key);
    return v === null ? def : JSON.parse(v);
  } catch {
    return def;
  }
}

function write(key, v) {
  try {
    localStorage.setItem(P + key, JSON.stringify(v));
  } catch (err) {
    console.warn("cannot save", key, err);
  }
}

// --- settings ---

export function defaultBridge() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws`;
}

export const settings = {
  get() {
    return Object.assign({ bridges: [defaultBridge()], network: "main", db: "twister", theme: "system",
      notifications: false, lastUser: "" }, read("settings", {}));
  },
  set(patch) {
    const s = Object.assign(this.get(), patch);
    write("settings", s);
    return s;
  },
};

// --- drafts: text typed but not yet sent, per composer ---

export const drafts = {
  get(key) { return read("drafts", {})[key] || ""; },
  set(key, text) {
    const d = read("drafts", {});
    if (text) d[key] = text;
    else delete d[key];
    write("drafts", d);
  },
};

// --- mutes ---

export const mutes = {
  get() { return Object.assign({ users: [], words: [] }, read("mutes", {})); },
  set(m) { write("mutes", m); },
  /** Tells whether a post is hidden by the mute lists. */
  hides(p) {
    const m = this.get();
    if (!p) return false;
    const users = [p.user, p.rt && p.rt.user, p.fav && p.fav.user].filter(Boolean);
    if (users.some((u) => m.users.includes(u))) return true;
    const text = ((p.text || "") + " " + ((p.rt && p.rt.text) || "")).toLowerCase();
    return m.words.some((w) => w && text.includes(w.toLowerCase()));
  },
};

// --- users seen (for search and who-to-follow) ---

export const seen = {
  all() { return read("seen", {}); },
  add(users) {
    const s = this.all();
    let changed = false;
    for (const u of users) {
      if (u && !s[u]) {
        s[u] = Date.now();
        changed = true;
      }
    }
    if (changed) write("seen", s);
  },
  fromPost(p) {
    if (!p) return;
    this.add([p.user, p.reply && p.reply.user, p.rt && p.rt.user, p.fav && p.fav.user, ...(p.mentions || [])]);
  },
};

// --- DM partners (the node has no conversation list) ---

export const partners = {
  all(me) { return read("partners." + me, []); },
  add(me, user) {
    const l = this.all(me);
    if (user && user !== me && !l.includes(user)) {
      l.push(user);
      write("partners." + me, l);
    }
  },
};

// --- promoted posts: at most once every 8 hours ---

export const PROMOTED_EVERY = 8 * 3600 * 1000;

export const promoted = {
  /** Tells whether a promoted post may be shown now (none shown in the last 8 hours). */
  due() { return Date.now() - read("promotedAt", 0) >= PROMOTED_EVERY; },
  /** Notes that the promoted post id was shown now. */
  shown(id) { write("promotedAt", Date.now()); write("promotedId", id || ""); },
  /** The id of the promoted post shown last ("" if none). */
  lastId() { return read("promotedId", ""); },
};

// --- outbox: posts written while offline, sent when back online ---

export const outbox = {
  all() { return read("outbox", []); },
  add(item) {
    const l = this.all();
    item.id = `q${Date.now()}${Math.floor(Math.random() * 1000)}`;
    item.queued = Math.floor(Date.now() / 1000);
    l.push(item);
    write("outbox", l);
    return item;
  },
  remove(id) { write("outbox", this.all().filter((i) => i.id !== id)); },
  update(id, patch) { write("outbox", this.all().map((i) => (i.id === id ? Object.assign(i, patch) : i))); },
};
