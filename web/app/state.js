// state.js — the web UI's shared state: the node (Api), who is logged in,
// who is followed, connection states, and a profile cache that asks the
// node for few profiles at a time.

export const app = {
  api: null, // Api (api.js) once the node has started
  me: "", // logged-in user, or ""
  following: new Set(),
  privateFollows: new Set(), // the followed users followed privately (this device only)
  bridges: new Map(), // url → {state, error}
  height: 0,
  newPosts: [], // newPost events not yet shown on the home timeline
  shown: new Set(), // ids of the posts on the home timeline
  mentionCount: 0,
};

/** Tells whether some bridge is connected. */
export function connected() {
  for (const b of app.bridges.values()) if (b.state === "connected") return true;
  return false;
}

// --- profiles: verified by the node, cached here for the session and in
// localStorage (name and avatar only) so posts render with them at once.

const mem = new Map(); // user → Promise<profile|null>
const queue = [];
let running = 0;
const MAX_PARALLEL = 3;

function cached(user) {
  try {
    return JSON.parse(localStorage.getItem("twister.profile." + user) || "null");
  } catch {
    return null;
  }
}

export function cachedProfile(user) { return cached(user); }

function pump() {
  while (running < MAX_PARALLEL && queue.length) {
    const { user, resolve } = queue.shift();
    running++;
    app.api.profile(user).then((p) => {
      try {
        localStorage.setItem("twister.profile." + user, JSON.stringify({ user, fields: p.fields || {}, avatar: p.avatar || "" }));
      } catch { /* quota: the cache is optional */ }
      resolve(p);
    }, () => resolve(cached(user))).finally(() => {
      running--;
      pump();
    });
  }
}

/** Resolves to user's profile (or the last cached one, or null). */
export function profileOf(user, { fresh = false } = {}) {
  if (!fresh && mem.has(user)) return mem.get(user);
  const p = new Promise((resolve) => {
    queue.push({ user, resolve });
    pump();
  });
  mem.set(user, p);
  return p;
}

/** Forgets user's cached profile (after an edit). */
export function setProfileCache(user, p) {
  mem.set(user, Promise.resolve(p));
  try {
    localStorage.setItem("twister.profile." + user, JSON.stringify({ user, fields: p.fields || {}, avatar: p.avatar || "" }));
  } catch { /* optional */ }
}
