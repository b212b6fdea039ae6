// sw.js — the service worker of the twister web client: makes the app an
// installable, offline app. It caches the app shell (HTML, modules, CSS,
// icons) and the browser node (twister.js, worker.js, wasm_exec.js,
// twister.wasm) and serves them cache-first while refreshing the cache in
// the background (stale-while-revalidate), so the app starts without a
// network; the node then reads the posts it holds from IndexedDB. Bridge
// WebSockets and other origins are never touched.
"use strict";

const CACHE = "twister-shell-v1";
const SHELL = [
  "app/", "app/index.html", "app/app.js", "app/api.js", "app/dom.js", "app/local.js", "app/posts.js", "app/state.js",
  "app/style.css", "app/manifest.json", "app/icons/icon.svg", "app/icons/icon-192.png", "app/icons/icon-512.png",
  "js/twister.js", "js/worker.js", "js/wasm_exec.js", "js/twister.wasm",
];
const scope = new URL(self.registration.scope);

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // One by one: a missing file (say, no wasm built) must not stop the rest.
    await Promise.all(SHELL.map(async (p) => {
      try {
        const res = await fetch(new URL(p, scope), { cache: "no-cache" });
        if (res.ok) await cache.put(new URL(p, scope), res);
      } catch (err) {
        console.warn("sw: cannot cache", p, err);
      }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE && k.startsWith("twister-shell-")) await caches.delete(k);
    await self.clients.claim();
  })());
});

function cacheable(url) {
  return url.origin === scope.origin && url.pathname.startsWith(scope.pathname) &&
    (url.pathname.startsWith(scope.pathname + "app/") || url.pathname.startsWith(scope.pathname + "js/"));
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (!cacheable(url)) return;
  // Query strings (worker.js?wasm=…) and fragments do not change the file.
  const key = url.origin + url.pathname;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(key);
    const refresh = fetch(req).then(async (res) => {
      if (res.ok && res.type === "basic") await cache.put(key, res.clone());
      return res;
    });
    if (hit) {
      event.waitUntil(refresh.catch(() => {}));
      return hit;
    }
    try {
      return await refresh;
    } catch (err) {
      if (req.mode === "navigate") {
        const shell = await cache.match(new URL("app/index.html", scope).href);
        if (shell) return shell;
      }
      throw err;
    }
  })());
});
