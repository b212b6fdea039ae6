// app.js — the twister web client. It starts the browser node (a Web
// Worker running our Go node as WebAssembly, see ../js/README.md) through
// the adapter in api.js and shows twister's screens: home timeline, user
// pages, threads, mentions, hashtags, direct messages, search, the key
// store's account screens, the network and the settings. Routes are URL
// fragments (#/home, #/user/alice, #/post/alice/7, …) so the browser's
// back button and bookmarks work. No build step: plain ES modules.
//
// URL parameters ?bridge=ws://…&network=regtest&db=name (repeatable
// bridge) replace the saved bridge settings on this device.

import { Api, isUnknownMethod } from "./api.js";
import { h, toast, busy, explain, timeAgo, fullTime, hashtagsOf, keepDraft } from "./dom.js";
import { app, connected, profileOf, setProfileCache } from "./state.js";
import { settings, drafts, mutes, seen, partners, promoted, outbox } from "./local.js";
import { postCard, composer, avatar, displayName, published } from "./posts.js";

const main = () => document.getElementById("main");
let cleanups = [];
const onLeave = (fn) => cleanups.push(fn);

// ---------------------------------------------------------------------------
// Start-up

function applyTheme() {
  const t = settings.get().theme;
  document.documentElement.dataset.theme = t;
}

function readURLSettings() {
  const q = new URLSearchParams(location.search);
  const patch = {};
  if (q.getAll("bridge").length) patch.bridges = q.getAll("bridge");
  if (q.get("network")) patch.network = q.get("network");
  if (q.get("db")) patch.db = q.get("db");
  if (Object.keys(patch).length) settings.set(patch);
}

function splash(text, detail = "") {
  main().replaceChildren(h("section.splash", { "aria-busy": "true" },
    h("img.logo-big", { src: new URL("icons/icon.svg", import.meta.url).href, alt: "" }),
    h("h1", "twister"),
    h("div.progress.indeterminate", { role: "progressbar", "aria-label": text }, h("span")),
    h("p#splash-text", text),
    detail ? h("p.muted", detail) : null));
}

async function startNode() {
  const s = settings.get();
  splash("Starting the node…", "Everything you see is checked here, in your browser: block headers, keys and signatures.");
  const api = await Api.start({ bridges: s.bridges, network: s.network, db: s.db }, (t) => {
    const el = document.getElementById("splash-text");
    if (el) el.textContent = t;
  });
  app.api = api;
  window.twisterApi = api; // for the console and the tests
  api.onBusy = (n) => document.body.classList.toggle("busy", n > 0);
  api.on("connection", (c) => {
    app.bridges.set(c.bridge, c);
    renderNetState();
    if (c.state === "connected") flushOutbox();
  });
  api.on("height", (hgt) => {
    app.height = hgt;
    renderNetState();
    flushOutbox();
  });
  api.on("newPost", onNewPost);
  api.on("dm", onDM);
  api.on("groupMessage", onGroupMessage);
  api.on("followSync", onFollowSync);
  api.on("fatal", (msg) => toast(`The node stopped: ${msg}. Reload the page to restart it; your drafts are kept.`, "error", 0));
  const st = await api.status();
  app.me = st.user || "";
  app.height = st.height;
  await loadFollows(st);
  app.followSync = st.followSync || null;
  for (const b of st.bridges || []) app.bridges.set(b.bridge, b);
  renderNetState();
}

// loadFollows reads the node's current follow set (the logged-in
// account's: each account on the device has its own, and a guest set
// serves when nobody is logged in) after a start, login or logout.
async function loadFollows(st) {
  const api = app.api;
  if (!st) st = await api.status();
  app.following = new Set(st.following || []);
  const follows = await api.optional("follows").catch(() => null);
  app.privateFollows = new Set((follows || []).filter((f) => !f.public).map((f) => f.user));
}

async function restartNode() {
  if (app.api) app.api.terminate();
  app.api = null;
  app.me = "";
  app.bridges.clear();
  try {
    await startNode();
    renderChrome();
    route();
  } catch (err) {
    showStartError(err);
  }
}

function showStartError(err) {
  main().replaceChildren(h("section.card.error-page",
    h("h1", "The node could not start"),
    h("p", explain(err)),
    h("p", "Check the bridge list: a bridge that sends headers failing the checks is refused; an unreachable one is not an error."),
    h("div.row", h("button.primary", { onclick: () => restartNode() }, "Try again"), h("a.button", { href: "#/settings" }, "Settings"))));
}

async function boot() {
  readURLSettings();
  applyTheme();
  registerServiceWorker();
  window.addEventListener("online", () => { renderNetState(); flushOutbox(); });
  window.addEventListener("offline", renderNetState);
  document.addEventListener("twister:queue", (e) => queuePost(e.detail));
  document.addEventListener("keydown", shortcuts);
  window.addEventListener("hashchange", route);
  try {
    await startNode();
  } catch (err) {
    renderChrome();
    showStartError(err);
    return;
  }
  renderChrome();
  if (!app.me) {
    let accounts = [];
    try { accounts = await app.api.accounts(); } catch { /* shown on the page */ }
    // Nothing to read yet: start with logging in (or with the welcome
    // page); with people followed, the home timeline reads without a key.
    if ((!location.hash || location.hash === "#/" || location.hash === "#/home") && !app.following.size) {
      location.hash = accounts.length ? "#/login" : "#/welcome";
    }
  }
  route();
  flushOutbox();
  setInterval(() => { if (outbox.all().length) flushOutbox(); }, 30000);
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(new URL("../sw.js", import.meta.url), { scope: new URL("../", import.meta.url).pathname })
    .catch((err) => console.warn("service worker not registered:", err));
}

// ---------------------------------------------------------------------------
// Chrome: header, navigation, connection state

// Navigation icons: 24×24 stroked paths.
const ICONS = {
  home: "M3 11l9-8 9 8M5 10v10h5v-6h4v6h5V10",
  mentions: "M16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0zM16 12v1.5a2.5 2.5 0 0 0 5 0V12a9 9 0 1 0-3.5 7.1",
  messages: "M3 6h18v12H3zM3 7l9 6 9-6",
  explore: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM21 21l-5-5",
  me: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c1-4 4-6 8-6s7 2 8 6",
  network: "M6 12a2 2 0 1 0 0-.01M18 6a2 2 0 1 0 0-.01M18 18a2 2 0 1 0 0-.01M8 11l8-4M8 13l8 4",
  settings: "M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0M14 4v4M8 10v4M16 16v4",
  account: "M8 15a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM11 12h10M18 12v3M21 12v2",
};

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

const NAV = [
  ["home", "Home"],
  ["mentions", "Mentions"],
  ["messages", "Messages"],
  ["explore", "Search"],
  ["me", "Profile"],
  ["network", "Network"],
  ["settings", "Settings"],
  ["account", "Account"],
];

function renderChrome() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...NAV.map(([r, label]) => h("a.navlink", {
    href: r === "me" ? (app.me ? `#/user/${app.me}` : "#/account") : `#/${r}`, dataset: { route: r },
  }, h("span.icon", icon(r)), h("span.label", label),
  r === "mentions" ? h("span.badge#mention-badge", { hidden: true }) : null)));
  const who = document.getElementById("whoami");
  who.replaceChildren(app.me
    ? h("a", { href: `#/user/${app.me}` }, avatar(app.me, "small"), h("span", "@" + app.me))
    : h("a.button.small", { href: "#/login" }, "Log in"));
  renderNetState();
}

function renderNetState() {
  const el = document.getElementById("netstate");
  if (!el) return;
  let state = "connecting", text = "Connecting…";
  if (!navigator.onLine) { state = "offline"; text = "Offline — reading from this device"; }
  else if (connected()) { state = "online"; text = `Online · block ${app.height}`; }
  else if ([...app.bridges.values()].some((b) => b.state === "disconnected")) { state = "offline"; text = "No bridge reachable — retrying"; }
  el.dataset.state = state;
  el.textContent = text;
  el.title = [...app.bridges.values()].map((b) => `${b.bridge}: ${b.state}${b.error ? " (" + b.error + ")" : ""}`).join("\n");
  const q = outbox.all().length;
  const ob = document.getElementById("outbox-state");
  if (ob) {
    ob.hidden = q === 0;
    ob.textContent = q ? `${q} waiting to be sent` : "";
  }
}

function setActiveNav(r) {
  for (const a of document.querySelectorAll(".navlink")) {
    if (a.dataset.route === r) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function shortcuts(e) {
  if (e.target.closest("input, textarea, select, [contenteditable]")) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "n") {
    const ta = document.querySelector("#main .composer textarea");
    if (ta) { e.preventDefault(); ta.focus(); }
  } else if (e.key === "/") {
    e.preventDefault();
    location.hash = "#/explore";
  } else if (e.key === "j" || e.key === "k") {
    const posts = [...document.querySelectorAll("#main article.post")];
    if (!posts.length) return;
    const i = posts.indexOf(document.activeElement);
    const next = posts[Math.max(0, Math.min(posts.length - 1, i + (e.key === "j" ? 1 : -1)))];
    next.focus();
  }
}

// ---------------------------------------------------------------------------
// Events from the node

function onNewPost(p) {
  seen.fromPost(p);
  if (mutes.hides(p)) return;
  if (app.me && (p.mentions || []).includes(app.me) && p.user !== app.me) {
    app.mentionCount++;
    const b = document.getElementById("mention-badge");
    if (b) { b.hidden = false; b.textContent = String(app.mentionCount); }
    notify(`@${p.user} mentioned you`, p.text, `#/post/${p.user}/${p.k}`, p.id);
  }
  if (p.user === app.me) return; // own posts are added when published
  if (app.shown.has(p.id) || app.newPosts.some((x) => x.id === p.id)) return;
  app.newPosts.push(p);
  const n = document.getElementById("new-posts");
  if (n) {
    n.hidden = false;
    n.textContent = `${app.newPosts.length} new post${app.newPosts.length > 1 ? "s" : ""} — show`;
  }
}

// onFollowSync: the node read the logged-in user's public following list
// from the DHT (at login: a list saved by twisterd or on another device)
// and followed the users it names; or the read failed (the node tries
// again every minute and publishes nothing meanwhile).
function onFollowSync(fs) {
  app.followSync = fs;
  renderFollowSync();
  if (!fs) return;
  if (fs.state === "done" && fs.added && fs.added.length) {
    for (const u of fs.added) app.following.add(u);
    for (const c of document.querySelectorAll(".follow-ctl")) if (c._render) c._render();
    const names = fs.added.slice(0, 5).map((u) => "@" + u).join(", ") + (fs.added.length > 5 ? ` and ${fs.added.length - 5} more` : "");
    toast(`Following ${fs.added.length} user${fs.added.length > 1 ? "s" : ""} from your public following list (saved with your key elsewhere): ${names}. Their posts are being fetched from their swarms.`, "ok", 8000);
    // An empty home timeline says to follow people: show it again.
    const empty = document.querySelector("#main .sentinel .empty");
    if (empty && (!location.hash || location.hash === "#/" || location.hash === "#/home")) route();
  } else if (fs.state === "failed") {
    toast(`Your public following list could not be read from the DHT (${fs.error || "no answer"}). It is tried again in a minute; follow changes are kept on this device and published once it has been read.`, "warn", 10000);
  }
}

// renderFollowSync shows, on the home page, that the logged-in user's
// following list is being read from the DHT.
function renderFollowSync() {
  const el = document.getElementById("follow-sync");
  if (!el) return;
  const fs = app.followSync;
  const busy = !!(app.me && fs && fs.user === app.me && fs.state === "loading");
  el.hidden = !busy;
  el.replaceChildren(...(busy ? [h("span.spinner", { "aria-hidden": "true" }), " Reading your public following list from the DHT…"] : []));
}

/** followSync in words, for the network page. */
function followSyncText(fs) {
  if (!fs) return "—";
  if (fs.state === "loading") return "being read…";
  if (fs.state === "failed") return `could not be read (${fs.error || "no answer"}); tried again every minute`;
  if (!fs.seq) return "none yet (published at your first public follow)";
  return fs.merged
    ? `read at login: ${fs.listed} user${fs.listed === 1 ? "" : "s"}, ${fs.added && fs.added.length ? fs.added.length + " followed from it" : "all followed already"}`
    : "read at login: one this device had already saved or read";
}

function onDM(d) {
  const other = d.mine ? d.to : d.from;
  if (app.me) partners.add(app.me, other);
  document.dispatchEvent(new CustomEvent("twister:dm", { detail: d }));
  if (!d.mine) notify(`Message from @${d.from}`, d.text, `#/messages/${d.from}`, d.id);
}

function onGroupMessage(g) {
  if (!g || !g.alias || !g.message) return;
  document.dispatchEvent(new CustomEvent("twister:group", { detail: g }));
  const m = g.message;
  if (!m.mine) notify(`@${m.from} in a group chat`, m.text, groupHash(g.alias), m.id);
}

function notify(title, body, hash, tag) {
  if (!settings.get().notifications || !("Notification" in window) || Notification.permission !== "granted") return;
  if (!document.hidden) return;
  try {
    const n = new Notification(title, { body, tag, icon: new URL("icons/icon-192.png", import.meta.url).href });
    n.onclick = () => { window.focus(); location.hash = hash; n.close(); };
  } catch { /* some browsers only notify from a service worker */ }
}

// ---------------------------------------------------------------------------
// Outbox: posts written offline

function queuePost(item) {
  item.user = app.me || settings.get().lastUser;
  outbox.add(item);
  toast("You are offline: it will be sent as soon as the network is back.", "warn");
  renderNetState();
  document.dispatchEvent(new CustomEvent("twister:outbox"));
}

let flushing = false;
async function flushOutbox() {
  if (flushing || !app.api || !navigator.onLine) return;
  const items = outbox.all();
  if (!items.length || !items.some((it) => !it.user || it.user === app.me)) return;
  // Posts are signed at the verified header height: wait for headers
  // (a node started offline has none until it reaches a bridge).
  const st = await app.api.status().catch(() => null);
  if (!st || st.height <= 0) return; // the "height" event calls again
  flushing = true;
  try {
    for (const it of items) {
      if (it.user && it.user !== app.me) continue; // needs that user logged in
      try {
        let r;
        const t0 = performance.now();
        if (it.kind === "reply") r = await app.api.reply(it.ruser, it.k, it.text);
        else if (it.kind === "retwist") r = await app.api.retwist(it.ruser, it.k, it.text);
        else if (it.kind === "dm") r = await app.api.dm(it.to, it.text);
        else if (it.kind === "group") {
          r = await app.api.optional("groupMessage", { alias: it.alias, text: it.text });
          if (r === null) throw new Error(GROUPS_MISSING);
        } else r = await app.api.post(it.text);
        outbox.remove(it.id);
        console.info(`twister: sent a queued ${it.kind} in ${Math.round(performance.now() - t0)} ms`, r && r.putErrors ? r.putErrors : "");
        if (it.kind === "dm" || it.kind === "group") {
          if (it.kind === "dm") partners.add(app.me, it.to);
          toast(`Sent a message written offline${it.kind === "dm" ? " to @" + it.to : ""}.`, "ok", 3000);
          document.dispatchEvent(new CustomEvent(it.kind === "dm" ? "twister:dm" : "twister:group",
            { detail: it.kind === "dm" ? { ...r, mine: true, to: it.to } : { alias: it.alias, message: r } }));
        } else published(r, "Sent a post written offline");
      } catch (err) {
        console.warn("twister: a queued post could not be sent yet:", String(err && err.message || err));
        outbox.update(it.id, { error: explain(err) });
        break;
      }
    }
  } finally {
    flushing = false;
    renderNetState();
    document.dispatchEvent(new CustomEvent("twister:outbox"));
  }
}

/** What a queued item is, before its text: "(message to @bob) ". */
function queuedWhat(it) {
  if (it.kind === "dm") return `(message to @${it.to}) `;
  if (it.kind === "group") return `(message to the group ${it.alias}) `;
  if (it.kind === "reply") return `(reply to @${it.ruser}) `;
  if (it.kind === "retwist") return `(comment on @${it.ruser}'s post) `;
  return "";
}

/** Takes a queued item out of the outbox and back into its composer's draft. */
function backToDraft(it) {
  const key = it.draftKey || (it.kind === "dm" ? "dm:" + it.to : it.kind === "group" ? "group:" + it.alias : "home");
  const old = drafts.get(key);
  drafts.set(key, old && old !== it.text ? `${old}\n${it.text}` : it.text);
  outbox.remove(it.id);
  renderNetState();
  document.dispatchEvent(new CustomEvent("twister:outbox"));
  document.dispatchEvent(new CustomEvent("twister:draft", { detail: { key } }));
  toast("Back in its composer as a draft.", "ok", 3000);
}

/**
 * The queued messages of one conversation (filter picks the outbox items),
 * shown at the end of its message list until they are sent.
 */
function queuedMessages(list, filter) {
  for (const li of list.querySelectorAll("li.msg.queued")) li.remove();
  for (const it of outbox.all().filter(filter)) {
    list.append(h("li.msg.mine.queued", { dataset: { id: it.id } }, h("p", it.text),
      h("span.muted", { role: "status" }, navigator.onLine ? "Waiting to be sent…" : "Written offline — sent when the network is back"),
      h("button.small.link", { type: "button", onclick: () => backToDraft(it) }, "Back to draft")));
  }
}

function outboxList() {
  const box = h("div.outbox");
  const render = () => {
    const items = outbox.all();
    box.replaceChildren(...items.map((it) => {
      const label = it.user && it.user !== app.me
        ? `Waiting to be sent as @${it.user} — log in as @${it.user} to send it.`
        : navigator.onLine ? `Waiting to be sent…${it.error ? " Last try: " + it.error : ""}` : "Written offline — will be sent when the network is back.";
      const card = postCard({ id: it.id, user: it.user || app.me || "you", k: -1, time: it.queued, kind: "post",
        text: queuedWhat(it) + it.text, verified: false }, { pending: label });
      card.classList.add("queued");
      card.dataset.kind = it.kind || "post";
      card.querySelector(".body").append(h("div.row",
        h("button.small", { type: "button", onclick: () => flushOutbox() }, "Send now"),
        h("button.small.danger", { type: "button", onclick: () => { backToDraft(it); render(); } }, "Back to draft")));
      return card;
    }));
  };
  render();
  document.addEventListener("twister:outbox", render);
  onLeave(() => document.removeEventListener("twister:outbox", render));
  return box;
}

// ---------------------------------------------------------------------------
// Router

const routes = [
  [/^#?\/?(home)?$/, viewHome, "home"],
  [/^#\/welcome$/, viewWelcome, "account"],
  [/^#\/login$/, viewLogin, "account"],
  [/^#\/import$/, viewImport, "account"],
  [/^#\/create$/, viewCreate, "account"],
  [/^#\/account$/, viewAccount, "account"],
  [/^#\/edit-profile$/, viewEditProfile, "me"],
  [/^#\/user\/([a-z0-9_]{1,16})$/, viewUser, "user"],
  [/^#\/post\/([a-z0-9_]{1,16})\/(\d+)$/, viewThread, ""],
  [/^#\/mentions$/, viewMentions, "mentions"],
  [/^#\/tag\/([^/]+)$/, viewTag, "explore"],
  [/^#\/messages$/, viewMessages, "messages"],
  [/^#\/messages\/([a-z0-9_]{1,16})$/, viewConversation, "messages"],
  [/^#\/group\/(\*[a-z0-9_]{1,40})$/, viewGroup, "messages"],
  [/^#\/explore(?:\?q=(.*))?$/, viewExplore, "explore"],
  [/^#\/network$/, viewNetwork, "network"],
  [/^#\/settings$/, viewSettings, "settings"],
];

async function route() {
  for (const fn of cleanups.splice(0)) {
    try { fn(); } catch { /* leaving anyway */ }
  }
  const hash = location.hash || "#/home";
  for (const [re, view, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    let active = nav;
    if (nav === "user") active = m[1] === app.me ? "me" : "";
    setActiveNav(active);
    const el = main();
    el.replaceChildren();
    el.setAttribute("aria-busy", "true");
    try {
      if (!app.api) throw new Error("the node is not running");
      await view(...m.slice(1).map((x) => (x === undefined ? x : decodeURIComponent(x))));
    } catch (err) {
      el.append(h("p.error", { role: "alert" }, explain(err)));
    } finally {
      el.removeAttribute("aria-busy");
    }
    const h1 = el.querySelector("h1");
    if (h1) {
      document.title = `${h1.textContent} — twister`;
      if (document.activeElement === document.body || !el.contains(document.activeElement)) {
        h1.setAttribute("tabindex", "-1");
        h1.focus({ preventScroll: true });
      }
    }
    return;
  }
  main().replaceChildren(h("section.card", h("h1", "Not found"), h("p", "There is no such page. "), h("a", { href: "#/home" }, "Go home")));
}

function loading(text) {
  return h("div.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), " ", text);
}

function errorBox(err, retry) {
  return h("div.error-box", { role: "alert" }, h("p", explain(err)),
    retry ? h("button", { type: "button", onclick: retry }, "Try again") : null);
}

/** Renders a list of posts with mutes applied; empty → message. */
function postList(posts, empty, opts = {}) {
  const shown = posts.filter((p) => !mutes.hides(p));
  const list = h("div.posts", { role: "feed", "aria-busy": "false" }, ...shown.map((p) => postCard(p, opts)));
  if (!shown.length) list.append(h("p.empty", empty));
  if (posts.length !== shown.length) list.append(h("p.muted", `${posts.length - shown.length} post(s) hidden by your mute lists.`));
  return list;
}

/** Loads a list with a progress line, errors with a retry. */
async function loadInto(box, text, fn, render) {
  box.replaceChildren(loading(text));
  try {
    const r = await fn();
    box.replaceChildren(render(r));
  } catch (err) {
    box.replaceChildren(errorBox(err, () => loadInto(box, text, fn, render)));
  }
}

// ---------------------------------------------------------------------------
// Home

async function viewHome() {
  const el = main();
  el.append(h("h1.sr-only-h", "Home"));
  if (app.me) {
    el.append(composer({
      key: "home", label: "New post", submit: "Post", autofocus: false,
      send: async (text) => published(await app.api.post(text), "Posted"),
      queue: { kind: "post" },
    }));
  } else {
    el.append(h("div.card.notice", h("p", "You are reading without logging in. "),
      h("div.row", h("a.button.primary", { href: "#/login" }, "Log in"), h("a.button", { href: "#/welcome" }, "Create or import an account"))));
  }
  el.append(outboxList());
  el.append(h("p.card.notice.follow-sync#follow-sync", { role: "status", hidden: true }));
  renderFollowSync();
  const promo = h("div.promoted-slot");
  el.append(promo);
  showPromoted(promo);
  const notice = h("button.new-posts#new-posts", { type: "button", hidden: app.newPosts.length === 0 },
    `${app.newPosts.length} new posts — show`);
  el.append(notice);
  const list = h("div.posts", { role: "feed" });
  const sentinel = h("div.sentinel", loading("Loading the timeline…"));
  el.append(list, sentinel);
  el.append(sidebar());

  let lastId = "";
  let done = false;
  let loadingMore = false;
  const ids = (app.shown = new Set());
  const add = (posts, where = "end") => {
    const cards = [];
    for (const p of posts) {
      // Private favourites and messages are not timeline posts.
      if (ids.has(p.id) || mutes.hides(p) || p.kind === "pfav" || p.kind === "dm") continue;
      ids.add(p.id);
      cards.push(postCard(p));
    }
    if (where === "start") list.prepend(...cards);
    else list.append(...cards);
  };
  const more = async () => {
    if (loadingMore || done) return;
    loadingMore = true;
    let loaded = false;
    try {
      const posts = await app.api.timeline({ count: 20, maxId: lastId || undefined });
      loaded = true;
      if (posts.length) lastId = posts[posts.length - 1].id;
      add(posts);
      if (posts.length < 20) {
        done = true;
        sentinel.replaceChildren(list.children.length
          ? h("p.muted.end", "That is all the posts held on this device.")
          : h("div.empty", h("p", "No posts yet."), h("p", app.following.size
            ? "The people you follow have not posted yet, or their posts are still on their way from their swarms."
            : "Follow people to see their posts here: "), h("a.button", { href: "#/explore" }, "Find people")));
      }
    } catch (err) {
      sentinel.replaceChildren(errorBox(err, () => { sentinel.replaceChildren(loading("Loading…")); more(); }));
    } finally {
      loadingMore = false;
    }
    if (loaded && !done) fillOn(sentinel, more);
  };
  app.newPosts = [];
  notice.hidden = true;
  notice.addEventListener("click", () => {
    const fresh = app.newPosts.splice(0).filter((p) => !ids.has(p.id)).sort((a, b) => b.time - a.time);
    add(fresh, "start");
    notice.hidden = true;
    list.firstElementChild && list.firstElementChild.focus();
  });
  const onPub = (e) => {
    const p = e.detail && e.detail.post;
    if (p && p.user === app.me) add([p], "start");
  };
  document.addEventListener("twister:published", onPub);
  onLeave(() => document.removeEventListener("twister:published", onPub));
  const io = new IntersectionObserver((entries) => { if (entries.some((en) => en.isIntersecting)) more(); }, { rootMargin: "600px" });
  io.observe(sentinel);
  onLeave(() => io.disconnect());
  await more();
}

/**
 * Loads the next page at once when the list's end is still within reach
 * after a page came in: the IntersectionObserver only reports changes, so
 * a sentinel that stays visible (a short page, a tall window, an
 * intersection reported while a page was loading) would never ask again.
 */
function fillOn(sentinel, more) {
  setTimeout(() => {
    if (sentinel.isConnected && sentinel.getBoundingClientRect().top < innerHeight + 600) more();
  }, 0);
}

/**
 * Shows a promoted post (a block's coinbase message) above the timeline,
 * at most once every 8 hours: the newest one, unless it is the one shown
 * last time and an older one differs.
 */
async function showPromoted(slot) {
  // slot.dataset.state says what happened: "not-due", "loading", "shown",
  // "none" (nothing to show) or "error".
  const state = (st) => { slot.dataset.state = st; };
  if (!promoted.due()) return state("not-due");
  state("loading");
  try {
    const posts = await app.api.optional("promoted");
    if (!promoted.due()) return state("not-due");
    const p = (posts || []).find((x) => x.id !== promoted.lastId() && !mutes.hides(x)) || (posts || []).find((x) => !mutes.hides(x));
    if (!p || !slot.isConnected) return state("none");
    promoted.shown(p.id);
    const card = postCard(p);
    card.classList.add("promoted");
    slot.replaceChildren(h("div.promoted-label", "Promoted"), card);
    state("shown");
  } catch (err) {
    console.info("twister: no promoted posts:", String((err && err.message) || err));
    state("error");
  }
}

// ---------------------------------------------------------------------------
// Sidebar: who to follow, trending hashtags

function sidebar() {
  const aside = h("aside.sidebar", { "aria-label": "Suggestions" });
  const wtf = h("section.card", h("h2", "Who to follow"), loading("Looking…"));
  const trend = h("section.card", h("h2", "Trending hashtags"), loading("Counting…"));
  aside.append(wtf, trend);
  (async () => {
    const held = await app.api.timeline({ count: 1000 }).catch(() => []);
    const sugg = await whoToFollow(held);
    wtf.replaceChildren(h("h2", "Who to follow"), sugg.length
      ? h("ul.users", ...sugg.slice(0, 5).map((u) => userRow(u)))
      : h("p.muted", "Suggestions appear as you follow people: users they retwist, mention and reply to."));
    const tags = trending(held);
    trend.replaceChildren(h("h2", "Trending hashtags"), tags.length
      ? h("ol.tags", ...tags.map(([t, n]) => h("li", h("a", { href: `#/tag/${encodeURIComponent(t)}` }, "#" + t), h("span.muted", ` ${n}`))))
      : h("p.muted", "No hashtags in the posts held on this device yet."));
  })();
  return aside;
}

/** Users to suggest: others' following lists if the node offers them, else users seen around the followed ones. */
async function whoToFollow(held) {
  const score = new Map();
  const bump = (u, n) => {
    if (!u || u === app.me || app.following.has(u) || mutes.get().users.includes(u)) return;
    score.set(u, (score.get(u) || 0) + n);
  };
  // Friends of friends: the public following lists of up to 10 followed
  // users, read in parallel (each is a few DHT lookups).
  const lists = await Promise.all([...app.following].filter((f) => f !== app.me).slice(0, 10)
    .map((f) => app.api.optional("userFollowing", { user: f }).catch(() => [])));
  const viaAPI = lists.some((l) => l !== null);
  for (const list of lists) for (const u of list || []) bump(u, 3);
  for (const p of held) {
    if (p.rt) bump(p.rt.user, 2);
    if (p.fav) bump(p.fav.user, 2);
    if (p.reply) bump(p.reply.user, 1);
    for (const m of p.mentions || []) bump(m, 1);
  }
  if (!viaAPI && score.size < 5) for (const u of Object.keys(seen.all())) bump(u, 0.1);
  return [...score.entries()].sort((a, b) => b[1] - a[1]).map(([u]) => u);
}

function trending(held) {
  const since = Date.now() / 1000 - 7 * 86400;
  const count = new Map();
  for (const p of held) {
    if (p.time < since) continue;
    for (const t of p.hashtags || hashtagsOf(p.text)) count.set(t, (count.get(t) || 0) + 1);
  }
  return [...count.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10);
}

// The follow control of a user: "Follow" (public, the default: listed in
// the logged-in user's following list in the DHT) with "Follow privately"
// (kept on this device only) beside it; once followed, "Unfollow" and a
// button that shows whether the follow is public or private and switches
// it. Every control of the same user on the page is redrawn on a change.
function followButton(user) {
  const btn = h("button.follow", { type: "button", dataset: { user } });
  const priv = h("button.small.follow-private", { type: "button", dataset: { user },
    title: "Follow on this device only: not listed in your public following list" }, "Follow privately");
  const kind = h("button.small.follow-kind", { type: "button", dataset: { user } });
  const ctl = h("span.follow-ctl", { dataset: { user } }, btn, priv, kind);
  const render = () => {
    const f = app.following.has(user);
    const isPriv = f && app.privateFollows.has(user);
    btn.textContent = f ? "Unfollow" : "Follow";
    btn.classList.toggle("primary", !f);
    btn.setAttribute("aria-pressed", String(f));
    btn.title = f ? "" : "Follow publicly: listed in your following list, which others see";
    priv.hidden = f;
    kind.hidden = !f;
    kind.textContent = isPriv ? "Private" : "Public";
    kind.dataset.kind = isPriv ? "private" : "public";
    kind.title = isPriv
      ? "A private follow: kept on this device, not in your public following list. Click to make it public."
      : "A public follow: listed in your following list in the DHT. Click to make it private.";
    kind.setAttribute("aria-label", (isPriv ? "Private follow of @" : "Public follow of @") + user + (isPriv ? ": make public" : ": make private"));
  };
  ctl._render = render;
  const redrawAll = () => {
    for (const c of document.querySelectorAll(".follow-ctl")) if (c.dataset.user === user && c._render) c._render();
    render();
  };
  const follow = (pub, button) => busy(button, async () => {
    const r = await app.api.follow(user, { public: pub });
    const wasFollowing = app.following.has(user);
    app.following.add(user);
    if (r && r.public === false) app.privateFollows.add(user); else app.privateFollows.delete(user);
    const what = wasFollowing
      ? (pub ? `@${user} is now a public follow.` : `@${user} is now a private follow, kept on this device.`)
      : (pub ? `Following @${user}: their posts are being fetched from their swarm.` : `Following @${user} privately (this device only): their posts are being fetched from their swarm.`);
    followToast(r, what);
    redrawAll();
  }).catch(() => {});
  btn.addEventListener("click", () => {
    if (!app.following.has(user)) return follow(true, btn);
    return busy(btn, async () => {
      const r = await app.api.unfollow(user);
      app.following.delete(user);
      app.privateFollows.delete(user);
      followToast(r, `Unfollowed @${user}.`);
      redrawAll();
    }).catch(() => {});
  });
  priv.addEventListener("click", () => follow(false, priv));
  kind.addEventListener("click", () => follow(app.privateFollows.has(user), kind));
  render();
  if (user === app.me) ctl.hidden = true;
  return ctl;
}

// followToast tells the outcome of a follow change, with what the
// publication of the public following list (FollowResult) came to.
function followToast(r, what) {
  if (r && r.putErrors && r.putErrors.length) {
    toast(`${what} Publishing your public following list failed (${r.putErrors.join("; ")}); it is tried again in a minute.`, "warn", 10000);
  } else if (r && r.unpublished) {
    toast(`${what} Nobody is logged in: kept on this device, not published in a following list.`, "ok", 5000);
  } else {
    toast(what, "ok", 3000);
  }
}

function userRow(user) {
  return h("li.user-row", h("a", { href: `#/user/${user}` }, avatar(user, "small"), h("span", displayName(user), " ", h("span.handle", "@" + user))), followButton(user));
}

// ---------------------------------------------------------------------------
// Accounts (key store)

async function viewWelcome() {
  const accounts = await app.api.accounts().catch(() => []);
  main().append(h("section.card.welcome",
    h("h1", "Welcome to twister"),
    h("p", "Twister is peer-to-peer microblogging: no server holds your posts or your key. This page runs a twister node in your browser and checks everything it shows."),
    h("div.choices",
      accounts.length ? h("a.choice", { href: "#/login" }, h("strong", "Log in"), h("span", `with your passphrase (${accounts.map((a) => "@" + a.user).join(", ")})`)) : null,
      h("a.choice", { href: "#/create" }, h("strong", "Create an account"), h("span", "pick a name; your key is made here and never leaves this device")),
      h("a.choice", { href: "#/import" }, h("strong", "Import a key"), h("span", "you already have a twister account (the 52-character secret key)")),
      h("a.choice", { href: "#/explore" }, h("strong", "Just read"), h("span", "follow people without an account"))),
    h("p.muted", h("a", { href: "#/network" }, "Network"), " · ", h("a", { href: "#/settings" }, "Settings (bridges, theme)"))));
}

async function viewLogin() {
  const el = main();
  const accounts = await app.api.accounts();
  if (!accounts.length) {
    el.append(h("section.card", h("h1", "Log in"), h("p", "No account is kept on this device yet."),
      h("div.row", h("a.button.primary", { href: "#/import" }, "Import a key"), h("a.button", { href: "#/create" }, "Create an account"))));
    return;
  }
  const last = settings.get().lastUser;
  const sel = h("select#login-user", { name: "user" }, ...accounts.map((a) => h("option", { value: a.user, selected: a.user === last }, "@" + a.user)));
  const pass = h("input#login-pass", { type: "password", name: "passphrase", autocomplete: "current-password", required: true });
  const err = h("p.error", { role: "alert" });
  const btn = h("button.primary", { type: "submit" }, "Log in");
  const prog = h("p.muted", { role: "status" });
  const form = h("form.card.form", { "aria-labelledby": "login-h" },
    h("h1#login-h", "Log in"),
    h("label", { for: "login-user" }, "Account"), sel,
    h("label", { for: "login-pass" }, "Passphrase"), pass,
    h("div.row", btn, h("a", { href: "#/import" }, "Import another key"), h("a", { href: "#/create" }, "Create an account")),
    prog, err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    prog.replaceChildren(h("span.spinner"), " Unlocking your key and checking it against the block chain…");
    try {
      await busy(btn, () => app.api.unlock(sel.value, pass.value), err);
      await loggedIn(sel.value);
    } catch {
      pass.select();
    } finally {
      prog.textContent = "";
    }
  });
  el.append(form);
  setTimeout(() => pass.focus(), 0);
}

async function loggedIn(user) {
  app.me = user;
  settings.set({ lastUser: user });
  await loadFollows().catch(() => {});
  app.following.add(user);
  renderChrome();
  toast(`Logged in as @${user}.`, "ok", 3000);
  flushOutbox();
  location.hash = "#/home";
}

function passphraseFields(prefix) {
  const p1 = h(`input#${prefix}-pass`, { type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const p2 = h(`input#${prefix}-pass2`, { type: "password", autocomplete: "new-password", required: true });
  const check = () => {
    if (p1.value.length < 8) return "The passphrase needs at least 8 characters.";
    if (p1.value !== p2.value) return "The two passphrases differ.";
    return "";
  };
  return {
    nodes: [h("label", { for: `${prefix}-pass` }, "Passphrase (protects the key on this device)"), p1,
      h("label", { for: `${prefix}-pass2` }, "Passphrase again"), p2],
    check, p1,
  };
}

const USER_RE = /^[a-z0-9_]{1,16}$/;

async function viewImport() {
  const user = h("input#imp-user", { autocomplete: "username", required: true, pattern: "[a-z0-9_]{1,16}", spellcheck: false, autocapitalize: "off" });
  const secret = h("input#imp-secret.mono", { autocomplete: "off", required: true, spellcheck: false, autocapitalize: "off", minlength: 51, maxlength: 52 });
  const pf = passphraseFields("imp");
  const err = h("p.error", { role: "alert" });
  const prog = h("p.muted", { role: "status" });
  const btn = h("button.primary", { type: "submit" }, "Import and log in");
  const form = h("form.card.form",
    h("h1", "Import a key"),
    h("p", "Paste the secret key of your twister account: 52 characters starting with K or L (twisterd: ", h("code", "dumpprivkey <user>"), "). It is checked against the block chain, then kept on this device encrypted with your passphrase."),
    h("label", { for: "imp-user" }, "Username"), user,
    h("label", { for: "imp-secret" }, "Secret key"), secret,
    ...pf.nodes,
    h("div.row", btn, h("a", { href: "#/welcome" }, "Back")), prog, err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const u = user.value.trim().toLowerCase();
    const s = secret.value.trim();
    if (!USER_RE.test(u)) { err.textContent = "A username is 1–16 of a–z, 0–9 and _."; user.focus(); return; }
    if (s.length < 51 || s.length > 52) { err.textContent = `The key has ${s.length} characters; a twister secret key has 52 (51 for old uncompressed keys).`; secret.focus(); return; }
    const bad = pf.check();
    if (bad) { err.textContent = bad; pf.p1.focus(); return; }
    prog.replaceChildren(h("span.spinner"), " Checking the key against the block chain and encrypting it…");
    try {
      await busy(btn, async () => {
        await app.api.importKey(u, s, pf.p1.value);
        if (app.api.workerKeys) await app.api.unlock(u, pf.p1.value);
      }, err);
      secret.value = "";
      await loggedIn(u);
    } catch { /* shown in err */ } finally {
      prog.textContent = "";
    }
  });
  main().append(form);
}

async function viewCreate() {
  const el = main();
  if (!app.api.canCreate) {
    el.append(h("section.card", h("h1", "Create an account"),
      h("p", "Creating a key needs the node's key store, which this version of the browser node does not have yet."),
      h("p", "Meanwhile: create the account with twisterd (", h("code", "createwalletuser NAME"), ", ", h("code", "sendnewusertransaction NAME"), "), export its key with ", h("code", "dumpprivkey NAME"), " and import it here."),
      h("a.button.primary", { href: "#/import" }, "Import a key")));
    return;
  }
  const user = h("input#new-user", { autocomplete: "username", required: true, pattern: "[a-z0-9_]{1,16}", spellcheck: false, autocapitalize: "off" });
  const pf = passphraseFields("new");
  const err = h("p.error", { role: "alert" });
  const btn = h("button.primary", { type: "submit" }, "Create my key");
  const form = h("form.card.form", h("h1", "Create an account"),
    h("ol.steps", h("li.current", "Choose a name and a passphrase"), h("li", "Back up your key"), h("li", "Register the name")),
    h("label", { for: "new-user" }, "Username (1–16 of a–z, 0–9, _)"), user, ...pf.nodes, h("div.row", btn), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const u = user.value.trim().toLowerCase();
    if (!USER_RE.test(u)) { err.textContent = "A username is 1–16 of a–z, 0–9 and _."; return; }
    const bad = pf.check();
    if (bad) { err.textContent = bad; return; }
    try {
      const secret = await busy(btn, () => app.api.createAccount(u, pf.p1.value), err);
      backupStep(u, secret, pf.p1.value);
    } catch { /* shown */ }
  });
  el.append(form);
}

function keyBox(secret, user) {
  const code = h("code.secret", secret);
  return h("div.keybox", code, h("div.row",
    h("button", { type: "button", onclick: async () => {
      try { await navigator.clipboard.writeText(secret); toast("Key copied. Paste it somewhere safe, then clear your clipboard.", "ok"); } catch { toast("Copying is not allowed here: select the key and copy it by hand.", "error"); }
    } }, "Copy"),
    h("button", { type: "button", onclick: () => {
      const a = h("a", { href: URL.createObjectURL(new Blob([`twister secret key of @${user}\n${secret}\n`], { type: "text/plain" })), download: `twister-${user}-key.txt` });
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    } }, "Download as a file")));
}

function backupStep(user, secret, passphrase) {
  const ok = h("input#backed-up", { type: "checkbox" });
  const next = h("button.primary", { type: "button", disabled: true }, "Register @" + user);
  ok.addEventListener("change", () => { next.disabled = !ok.checked; });
  next.addEventListener("click", () => registerStep(user, passphrase));
  main().replaceChildren(h("section.card.form", h("h1", "Back up your key"),
    h("ol.steps", h("li.done", "Choose a name and a passphrase"), h("li.current", "Back up your key"), h("li", "Register the name")),
    h("p.warn", "This secret key IS your account. Nobody can recover it: if this browser's data is cleared and you have no copy, @" + user + " is lost. Anyone who sees it can post as you."),
    keyBox(secret, user),
    h("label.check", ok, " I have saved my key somewhere safe (password manager, paper)"),
    h("div.row", next)));
}

async function registerStep(user, passphrase) {
  const bar = h("progress#reg-progress", { max: 100, "aria-label": "proof of work progress" });
  const txt = h("p#reg-text", { role: "status" }, "Checking that the name is free…");
  const steps = h("ol.reg-status",
    h("li", { dataset: { step: "grinding" } }, "Proof of work (your browser computes it: keep this page open)"),
    h("li", { dataset: { step: "sent" } }, "Sent to the network"),
    h("li", { dataset: { step: "confirmed" } }, "Confirmed in a block"));
  const err = h("p.error", { role: "alert" });
  const cancel = h("button", { type: "button", onclick: () => app.api.cancelRegister(user).catch(() => {}) }, "Cancel");
  main().replaceChildren(h("section.card.form", h("h1", "Registering @" + user),
    h("ol.steps", h("li.done", "Choose a name and a passphrase"), h("li.done", "Back up your key"), h("li.current", "Register the name")),
    steps, bar, txt, h("div.row", cancel), err));
  const mark = (status) => {
    let past = true;
    for (const li of steps.children) {
      li.className = li.dataset.step === status ? "current" : past ? "done" : "";
      if (li.dataset.step === status) past = false;
    }
  };
  try {
    await app.api.register(user, {
      onProgress: (p) => {
        mark("grinding");
        const expected = p.expected || 0;
        if (expected > 0) {
          bar.max = expected;
          bar.value = Math.min(p.tried || 0, expected * 0.99);
        } else bar.removeAttribute("value");
        const rate = p.rate || 0;
        const left = rate > 0 && expected > (p.tried || 0) ? Math.round((expected - p.tried) / rate) : 0;
        txt.textContent = p.done ? "Proof of work found." :
          `${Number(p.tried || 0).toLocaleString()} hashes tried · ${Math.round(rate).toLocaleString()} per second` +
          (left ? ` · about ${left < 90 ? left + " s" : Math.round(left / 60) + " min"} left (a guess: it ends at a random point)` : "");
      },
      onStatus: (st) => {
        mark(st.status);
        if (st.status === "sent") { bar.removeAttribute("value"); txt.textContent = "Sent. Waiting for a block to include it (a few minutes on the main network)…"; }
        if (st.status === "confirmed") { bar.max = 1; bar.value = 1; txt.textContent = `Confirmed in block ${st.height}.`; }
      },
    });
    cancel.remove();
    txt.textContent = "Registered. Logging in…";
    await app.api.unlock(user, passphrase);
    await loggedIn(user);
    location.hash = "#/edit-profile";
  } catch (e) {
    err.textContent = explain(e);
    cancel.remove();
    err.append(" ", h("button", { type: "button", onclick: () => registerStep(user, passphrase) }, "Try again"));
  }
}

async function viewAccount() {
  const el = main();
  if (!app.me) {
    await viewWelcome();
    return;
  }
  const me = app.me;
  el.append(h("h1", "Account @" + me));
  // Export
  const exPass = h("input#ex-pass", { type: "password", autocomplete: "current-password" });
  const exOut = h("div");
  const exErr = h("p.error", { role: "alert" });
  const exBtn = h("button", { type: "submit" }, "Show my key");
  const ex = h("form.card.form", h("h2", "Back up your key"),
    h("p", "Your 52-character secret key is the only way to use @" + me + " elsewhere. Keep a copy offline."),
    h("label", { for: "ex-pass" }, "Passphrase"), exPass, h("div.row", exBtn), exErr, exOut);
  ex.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const secret = await busy(exBtn, () => app.api.exportKey(me, exPass.value), exErr);
      exPass.value = "";
      exOut.replaceChildren(keyBox(secret, me), h("button.link", { type: "button", onclick: () => exOut.replaceChildren() }, "Hide"));
    } catch { /* shown */ }
  });
  // Change passphrase
  const old = h("input#cp-old", { type: "password", autocomplete: "current-password" });
  const pf = passphraseFields("cp");
  const cpErr = h("p.error", { role: "alert" });
  const cpBtn = h("button", { type: "submit" }, "Change passphrase");
  const cp = h("form.card.form", h("h2", "Change passphrase"), h("label", { for: "cp-old" }, "Current passphrase"), old, ...pf.nodes, h("div.row", cpBtn), cpErr);
  cp.addEventListener("submit", async (e) => {
    e.preventDefault();
    const bad = pf.check();
    if (bad) { cpErr.textContent = bad; return; }
    try {
      await busy(cpBtn, () => app.api.changePassphrase(me, old.value, pf.p1.value), cpErr);
      cp.reset();
      toast("Passphrase changed.", "ok");
    } catch { /* shown */ }
  });
  const accounts = await app.api.accounts().catch(() => []);
  const others = accounts.filter((a) => a.user !== me);
  el.append(ex, cp,
    h("section.card", h("h2", "Session"), h("div.row",
      h("a.button", { href: "#/edit-profile" }, "Edit profile"),
      h("button", { type: "button", onclick: async (e) => {
        await busy(e.target, () => app.api.lock()).catch(() => {});
        app.me = "";
        await loadFollows().catch(() => {});
        renderChrome();
        toast("Logged out. Your key stays encrypted on this device.", "ok");
        location.hash = "#/login";
      } }, "Log out"),
      others.length ? h("a.button", { href: "#/login" }, "Switch account") : null,
      h("a.button", { href: "#/import" }, "Add another account")),
      h("p.muted", h("a", { href: "#/network" }, "Network status"), " · ", h("a", { href: "#/settings" }, "Settings"))),
    h("section.card", h("h2", "Remove from this device"),
      h("p", "Removes the encrypted key of @" + me + " from this browser. Back up your key first: without it the account is lost."),
      h("button.danger", { type: "button", onclick: async (e) => {
        if (!confirm(`Remove the key of @${me} from this device? Without a backup the account is lost.`)) return;
        await busy(e.target, async () => { await app.api.deleteAccount(me); await app.api.lock(); }).catch(() => {});
        app.me = "";
        await loadFollows().catch(() => {});
        renderChrome();
        location.hash = "#/welcome";
      } }, "Remove my key from this device")));
}

// ---------------------------------------------------------------------------
// Profile

const FIELDS = [["fullname", "Name"], ["bio", "Bio"], ["location", "Location"], ["url", "Web site"], ["tox", "Tox ID"], ["bitmessage", "Bitmessage address"]];

async function viewEditProfile() {
  const el = main();
  if (!app.me) { location.hash = "#/login"; return; }
  el.append(h("h1", "Edit profile"), loading("Reading your verified profile…"));
  let prof;
  try {
    prof = await app.api.profile(app.me);
  } catch (err) {
    el.lastChild.replaceWith(errorBox(err, () => route()));
    return;
  }
  el.lastChild.remove();
  const inputs = {};
  const form = h("form.card.form.profile-form");
  let avatarData = null;
  const preview = h("div.avatar-preview", prof.avatar ? h("img.avatar.big", { src: prof.avatar, alt: "your avatar" }) : avatar(app.me, "big"));
  const file = h("input#avatar-file", { type: "file", accept: "image/*" });
  const avErr = h("p.error", { role: "alert" });
  file.addEventListener("change", async () => {
    avErr.textContent = "";
    if (!file.files[0]) return;
    try {
      avatarData = await resizeAvatar(file.files[0]);
      preview.replaceChildren(h("img.avatar.big", { src: avatarData, alt: "new avatar" }));
    } catch (err) {
      avErr.textContent = `This image cannot be read (${err.message}). Try a JPEG or PNG.`;
    }
  });
  form.append(h("label", { for: "avatar-file" }, "Avatar (resized to 64×64)"), h("div.row", preview, file), avErr);
  for (const [k, label] of FIELDS) {
    const input = k === "bio"
      ? h("textarea", { id: "pf-" + k, rows: 3, maxlength: 500 })
      : h("input", { id: "pf-" + k, maxlength: 200, type: k === "url" ? "url" : "text" });
    input.value = (prof.fields && prof.fields[k]) || "";
    inputs[k] = input;
    form.append(h("label", { for: "pf-" + k }, label), input);
  }
  const err = h("p.error", { role: "alert" });
  const prog = h("p.muted", { role: "status" });
  const btn = h("button.primary", { type: "submit" }, "Save profile");
  form.append(h("div.row", btn, h("a", { href: `#/user/${app.me}` }, "Cancel")), prog, err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = Object.assign({}, prof.fields || {});
    for (const [k, input] of Object.entries(inputs)) fields[k] = input.value.trim();
    prog.replaceChildren(h("span.spinner"), " Signing and storing your profile in the DHT…");
    try {
      const r = await busy(btn, () => app.api.setProfile(avatarData ? { fields, avatar: avatarData } : { fields }), err);
      setProfileCache(app.me, r);
      toast("Profile saved.", "ok");
      renderChrome();
      location.hash = `#/user/${app.me}`;
    } catch { /* shown */ } finally {
      prog.textContent = "";
    }
  });
  el.append(form);
}

/** Resizes an image file to a ≤ 64×64 JPEG data URI (centre crop). */
export async function resizeAvatar(blob, size = 64) {
  const bmp = await createImageBitmap(blob);
  const side = Math.min(bmp.width, bmp.height);
  const out = Math.min(size, side);
  const c = document.createElement("canvas");
  c.width = c.height = out;
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, out, out);
  g.drawImage(bmp, (bmp.width - side) / 2, (bmp.height - side) / 2, side, side, 0, 0, out, out);
  bmp.close && bmp.close();
  return c.toDataURL("image/jpeg", 0.85);
}

async function viewUser(user) {
  const el = main();
  const head = h("section.card.profile-head", avatar(user, "big"),
    h("div.who", h("h1", displayName(user)), h("p.handle", "@" + user)));
  const info = h("div.profile-info", loading("Fetching the verified profile…"));
  const buttons = h("div.row.profile-actions");
  if (user === app.me) buttons.append(h("a.button", { href: "#/edit-profile" }, "Edit profile"));
  else {
    buttons.append(followButton(user), h("a.button", { href: `#/messages/${user}` }, "Message"));
    const m = mutes.get();
    const muted = m.users.includes(user);
    buttons.append(h("button", { type: "button", onclick: (e) => {
      const mm = mutes.get();
      if (mm.users.includes(user)) mm.users = mm.users.filter((x) => x !== user);
      else mm.users.push(user);
      mutes.set(mm);
      e.target.textContent = mm.users.includes(user) ? "Unmute" : "Mute";
      toast(mm.users.includes(user) ? `@${user} muted: their posts are hidden on this device.` : `@${user} unmuted.`, "ok", 3000);
    } }, muted ? "Unmute" : "Mute"));
  }
  head.append(info, buttons);
  el.append(head);
  profileOf(user, { fresh: true }).then((p) => {
    if (!p) { info.replaceChildren(h("p.muted", "No profile found (or the network did not answer).")); return; }
    const f = p.fields || {};
    // (replaceChildren would show a null as the text "null")
    info.replaceChildren(...[
      f.bio ? h("p.bio", f.bio) : null,
      h("p.muted", [f.location, f.url ? h("a", { href: /^https?:\/\//.test(f.url) ? f.url : "https://" + f.url, rel: "noopener nofollow", target: "_blank" }, f.url) : null].filter(Boolean).flatMap((x, i) => (i ? [" · ", x] : [x]))),
      p.cached ? h("p.muted", "(saved copy: the network did not answer)") : null].filter(Boolean));
  });
  const list = h("div.posts", { role: "feed" });
  const sentinel = h("div.sentinel", loading("Loading posts…"));
  el.append(h("h2", "Posts"), list, sentinel);
  let lastId = "", done = false, busyLoad = false;
  const more = async () => {
    if (busyLoad || done) return;
    busyLoad = true;
    let loaded = false;
    try {
      const posts = await app.api.timeline({ users: [user], count: 20, maxId: lastId || undefined });
      loaded = true;
      if (posts.length) lastId = posts[posts.length - 1].id;
      for (const p of posts) if (!mutes.hides(p)) list.append(postCard(p));
      if (posts.length < 20) {
        done = true;
        if (!list.children.length) {
          const extra = await app.api.optional("userPosts", { user, count: 20 }).catch(() => null);
          if (extra && extra.length) for (const p of extra) list.append(postCard(p));
          else sentinel.replaceChildren(h("p.empty", app.following.has(user) || user === app.me
            ? "No posts held yet: they arrive from the swarm as peers are found."
            : `Follow @${user} to fetch their posts from their swarm.`));
          if (extra && extra.length) sentinel.replaceChildren();
        } else sentinel.replaceChildren(h("p.muted.end", "No older posts held."));
      }
    } catch (err) {
      sentinel.replaceChildren(errorBox(err, () => more()));
    } finally {
      busyLoad = false;
    }
    if (loaded && !done) fillOn(sentinel, more);
  };
  const io = new IntersectionObserver((en) => { if (en.some((x) => x.isIntersecting)) more(); }, { rootMargin: "600px" });
  io.observe(sentinel);
  onLeave(() => io.disconnect());
  await more();
}

// ---------------------------------------------------------------------------
// Threads

async function viewThread(user, kStr) {
  const k = Number(kStr);
  const el = main();
  el.append(h("h1", "Conversation"));
  const up = h("div.thread-up");
  const focusBox = h("div.thread-focus", loading("Fetching the verified post…"));
  const down = h("div.thread-down");
  el.append(up, focusBox, down);
  let p;
  try {
    p = await app.api.getPost(user, k);
  } catch (err) {
    focusBox.replaceChildren(errorBox(err, () => route()));
    return;
  }
  focusBox.replaceChildren(postCard(p, { focus: true }));
  // Up: the chain of reply parents.
  (async () => {
    let cur = p;
    const chain = [];
    for (let i = 0; i < 20 && cur.reply; i++) {
      up.replaceChildren(loading("Fetching the posts it replies to…"), ...chain.map((x) => postCard(x)));
      try {
        cur = await app.api.getPost(cur.reply.user, cur.reply.k);
      } catch (err) {
        up.replaceChildren(h("p.muted", `The post it replies to (@${cur.reply.user}) could not be fetched: ${explain(err)}`), ...chain.map((x) => postCard(x)));
        return;
      }
      chain.unshift(cur);
    }
    up.replaceChildren(...chain.map((x) => postCard(x)));
  })();
  // The reply composer.
  if (app.me) {
    el.insertBefore(composer({
      key: `reply:${user}/${k}`, label: `Reply to @${user}`, submit: "Reply",
      prefill: "@" + user + " ",
      send: async (text) => { const r = await app.api.reply(user, k, text); published(r, "Reply sent"); down.prepend(postCard(r.post)); return r; },
      queue: { kind: "reply", ruser: user, k },
    }), down);
  }
  // Down: replies, and replies to those (two levels).
  await loadInto(down, "Fetching replies from the DHT…", () => app.api.replies(user, k), (replies) => {
    const box = h("div.replies");
    if (!replies.length) box.append(h("p.empty", "No replies yet."));
    for (const r of replies.slice().reverse()) {
      const item = h("div.reply-item", postCard(r));
      const sub = h("div.subreplies");
      item.append(sub);
      box.append(item);
      app.api.replies(r.user, r.k).then((rs) => sub.append(...rs.slice().reverse().map((x) => postCard(x)))).catch(() => {});
    }
    return box;
  });
}

// ---------------------------------------------------------------------------
// Mentions, hashtags

async function viewMentions() {
  const el = main();
  app.mentionCount = 0;
  const b = document.getElementById("mention-badge");
  if (b) b.hidden = true;
  if (!app.me) {
    el.append(h("h1", "Mentions"), h("p", "Log in to see who mentions you."), h("a.button.primary", { href: "#/login" }, "Log in"));
    return;
  }
  el.append(h("h1", "Mentions of @" + app.me));
  const box = h("div");
  el.append(box);
  await loadInto(box, "Fetching mentions from the DHT and verifying them…", () => app.api.mentions(), (posts) => postList(posts, "Nobody has mentioned you yet."));
}

async function viewTag(tag) {
  const el = main();
  tag = tag.replace(/^#/, "").toLowerCase();
  el.append(h("h1", "#" + tag));
  if (app.me) {
    el.append(composer({ key: "tag:" + tag, prefill: `#${tag} `, label: `Post with #${tag}`, submit: "Post",
      send: async (text) => { const r = await app.api.post(text); published(r, "Posted"); box.prepend(postCard(r.post)); return r; },
      queue: { kind: "post" } }));
  }
  const box = h("div");
  el.append(box);
  await loadInto(box, `Fetching #${tag} from the DHT and verifying the posts…`, () => app.api.hashtag(tag), (posts) => postList(posts, `No posts with #${tag} found.`));
}

// ---------------------------------------------------------------------------
// Direct messages

async function conversations() {
  const fromAPI = await app.api.optional("conversations").catch(() => null);
  const users = new Set([...(fromAPI || []).map((c) => (typeof c === "string" ? c : c.user)), ...partners.all(app.me), ...app.following]);
  users.delete(app.me);
  const out = [];
  await Promise.all([...users].map(async (u) => {
    try {
      const msgs = await app.api.dms(u);
      if (msgs.length) out.push({ user: u, last: msgs[msgs.length - 1] });
    } catch { /* skipped */ }
  }));
  return out.sort((a, b) => b.last.time - a.last.time);
}

async function viewMessages() {
  const el = main();
  el.append(h("h1", "Messages"));
  if (!app.me) { el.append(h("p", "Log in to read and send direct messages."), h("a.button.primary", { href: "#/login" }, "Log in")); return; }
  const to = h("input#dm-to", { placeholder: "username", pattern: "[a-z0-9_]{1,16}", autocapitalize: "off", spellcheck: false });
  const start = h("form.row.card", h("label", { for: "dm-to" }, "New message to @"), to, h("button.primary", { type: "submit" }, "Open"));
  start.addEventListener("submit", (e) => {
    e.preventDefault();
    const u = to.value.trim().toLowerCase().replace(/^@/, "");
    if (USER_RE.test(u)) location.hash = `#/messages/${u}`;
  });
  el.append(start, newGroupForm(), h("p.muted", "Messages are end-to-end encrypted to the recipient's key. You receive a user's messages from their swarm, so follow the people you talk to. A group chat is a key shared with its members: everyone invited reads everything written in it."));
  const box = h("div");
  const groupBox = h("div");
  el.append(h("div.msg-lists",
    h("section.msg-list", { "aria-labelledby": "conv-h" }, h("h2#conv-h", "Conversations"), box),
    h("section.msg-list", { "aria-labelledby": "groups-h" }, h("h2#groups-h", "Groups"), groupBox)));
  const loadGroups = () => loadInto(groupBox, "Opening your groups…", groupList, renderGroups);
  const onGroup = (e) => { if (!groupBox.querySelector(`a[href="${groupHash(e.detail.alias)}"]`)) loadGroups(); };
  document.addEventListener("twister:group", onGroup);
  onLeave(() => document.removeEventListener("twister:group", onGroup));
  await Promise.all([
    loadInto(box, "Opening your messages…", conversations, (convs) => {
      if (!convs.length) return h("p.empty", "No conversations yet.");
      return h("ul.conversations", ...convs.map((c) => h("li", h("a", { href: `#/messages/${c.user}` },
        avatar(c.user, "small"), h("span.conv", h("strong", displayName(c.user)), " ", h("span.handle", "@" + c.user),
          h("span.preview", (c.last.mine ? "You: " : "") + c.last.text)), h("span.muted", timeAgo(c.last.time))))));
    }),
    loadGroups(),
  ]);
}

// ---------------------------------------------------------------------------
// Group chats (twisterd's groups: a shared key, messages sealed to it)

const GROUPS_MISSING = "Group chats need a newer version of the browser node (its worker has no group methods).";
const groupHash = (alias) => `#/group/${encodeURIComponent(alias)}`;

/** The user's groups, or null when the worker has no group chats. */
async function groupList() {
  const gs = await app.api.optional("groups");
  if (gs === null) return null;
  return (gs || []).map((g) => ({ ...g, members: g.members || [] }));
}

function renderGroups(gs) {
  if (gs === null) return h("p.muted", GROUPS_MISSING);
  if (!gs.length) return h("p.empty", "No group chats yet. Start one with “New group”, or ask a member to invite you.");
  return h("ul.conversations.groups", ...gs.map((g) => h("li", h("a", { href: groupHash(g.alias), dataset: { alias: g.alias } },
    groupAvatar(), h("span.conv", h("strong", g.description || g.alias), " ", h("span.handle", g.alias),
      h("span.preview", memberSummary(g.members))), h("span.muted", `${g.members.length} member${g.members.length === 1 ? "" : "s"}`)))));
}

function groupAvatar() {
  return h("span.avatar-box.small", h("span.avatar.initial.group-avatar", { "aria-hidden": "true" }, "#"));
}

function memberSummary(members) {
  if (!members.length) return "No members yet";
  const shown = members.slice(0, 6).map((m) => (m === app.me ? "you" : "@" + m));
  return shown.join(", ") + (members.length > 6 ? ` and ${members.length - 6} more` : "");
}

/** Usernames typed in a field: "@a, b c" → ["a", "b", "c"]; throws on a bad one. */
function parseUsers(text) {
  const out = [];
  for (const raw of text.split(/[\s,;]+/)) {
    const u = raw.trim().replace(/^@/, "").toLowerCase();
    if (!u) continue;
    if (!USER_RE.test(u)) throw new Error(`“${raw}” is not a username: 1–16 of a–z, 0–9 and _.`);
    if (!out.includes(u)) out.push(u);
  }
  if (!out.length) throw new Error("Type the usernames to invite, separated by spaces or commas.");
  return out;
}

function newGroupForm() {
  const desc = h("input#group-desc", { placeholder: "What the group is about", maxlength: 200, autocomplete: "off" });
  const btn = h("button.primary", { type: "submit" }, "New group");
  const err = h("p.error", { role: "alert" });
  const form = h("form.card.new-group", { "aria-label": "New group chat" },
    h("div.row", h("label", { for: "group-desc" }, "Group description"), desc, btn), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = desc.value.trim();
    if (!d) { err.textContent = "Describe the group in a few words: its members see the description."; desc.focus(); return; }
    let alias;
    try {
      alias = await busy(btn, async () => {
        const a = await app.api.optional("createGroup", { description: d });
        if (a === null) throw new Error(GROUPS_MISSING);
        return a;
      }, err);
    } catch {
      desc.focus();
      return;
    }
    toast(`Group “${d}” created. Invite its members now.`);
    location.hash = groupHash(alias);
  });
  return form;
}

async function viewGroup(alias) {
  const el = main();
  const title = h("h1", alias);
  el.append(title);
  if (!app.me) { el.append(h("p", "Log in to read and write in group chats."), h("a.button.primary", { href: "#/login" }, "Log in")); return; }
  const gs = await groupList();
  if (gs === null) { el.append(h("p.notice.card", GROUPS_MISSING)); return; }
  let group = gs.find((g) => g.alias === alias);
  if (!group) {
    el.append(h("p.notice.card", `You are not in the group ${alias} (or you left it). `, h("a", { href: "#/messages" }, "Back to messages")));
    return;
  }
  title.textContent = group.description || alias;
  const members = h("p.members");
  const showMembers = () => {
    members.replaceChildren(h("span.muted", `${group.alias} · ${group.members.length} member${group.members.length === 1 ? "" : "s"}: `),
      ...group.members.flatMap((m, i) => [i ? ", " : "", h("a", { href: `#/user/${m}` }, m === app.me ? "you" : "@" + m)]));
  };
  showMembers();
  el.append(members);

  // Invite: usernames separated by spaces or commas.
  const inv = h("input#group-invite", { placeholder: "alice, bob", autocapitalize: "off", spellcheck: false, autocomplete: "off" });
  const invBtn = h("button", { type: "submit" }, "Invite");
  const invErr = h("p.error", { role: "alert" });
  const invite = h("form.row.group-invite", { "aria-label": "Invite members" },
    h("label", { for: "group-invite" }, "Invite"), inv, invBtn);
  invite.addEventListener("submit", async (e) => {
    e.preventDefault();
    let users;
    try {
      users = parseUsers(inv.value);
    } catch (err) {
      invErr.textContent = err.message;
      inv.focus();
      return;
    }
    try {
      const g = await busy(invBtn, () => app.api.optional("groupInvite", { alias, members: users }), invErr);
      if (g && g.members) group = { ...group, ...g };
      else group = { ...group, members: [...new Set([...group.members, ...users])] };
      showMembers();
      inv.value = "";
      toast(`Invited ${users.map((u) => "@" + u).join(", ")}: they get the group's key in a direct message.`);
    } catch {
      inv.focus();
    }
  });

  // Leave, after a confirmation.
  const leaveBox = h("div.row.group-leave");
  const askLeave = () => {
    const yes = h("button.danger", { type: "button" }, "Leave");
    const no = h("button", { type: "button", onclick: () => { leaveBox.replaceChildren(leaveBtn); leaveBtn.focus(); } }, "Cancel");
    const leaveErr = h("p.error", { role: "alert" });
    yes.addEventListener("click", async () => {
      try {
        await busy(yes, () => app.api.optional("leaveGroup", { alias }), leaveErr);
        toast(`You left “${group.description || alias}”.`);
        location.hash = "#/messages";
      } catch { /* shown in leaveErr */ }
    });
    leaveBox.replaceChildren(h("div.confirm.card", { role: "alertdialog", "aria-label": "Leave the group?" },
      h("p", `Leave “${group.description || alias}”? This device forgets the group's key and stops reading it; the others are not told and can still read what you wrote.`),
      h("div.row", yes, no), leaveErr));
    no.focus();
  };
  const leaveBtn = h("button.danger.small", { type: "button", onclick: askLeave }, "Leave group…");
  leaveBox.append(leaveBtn);
  el.append(h("div.group-tools", invite, invErr, leaveBox));

  const list = h("ol.messages.group-messages", { "aria-live": "polite", "aria-label": "Messages" });
  const listErr = h("div");
  el.append(list, listErr);
  const render = async () => {
    const msgs = (await app.api.optional("groupMessages", { alias })) || [];
    list.replaceChildren(...msgs.map((d) => h(`li.msg${d.mine ? ".mine" : ""}`, { dataset: { id: d.id, from: d.from } },
      h("a.sender", { href: `#/user/${d.from}` }, d.mine ? "You" : displayName(d.from), d.mine ? null : h("span.handle", " @" + d.from)),
      h("p", d.text), h("span.muted", { title: fullTime(d.time) }, timeAgo(d.time)))));
    const queued = (it) => it.kind === "group" && it.alias === alias;
    if (!msgs.length && !outbox.all().some(queued)) list.append(h("li.empty", "No messages yet. Invite the members, then say hello!"));
    queuedMessages(list, queued);
    listErr.replaceChildren();
    list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "nearest" });
  };
  const safeRender = () => render().catch((err) => listErr.replaceChildren(errorBox(err, safeRender)));
  await safeRender();
  el.append(composer({
    key: "group:" + alias, label: `Message to the group ${group.description || alias}`, submit: "Send", placeholder: "Write to the group…", rows: 2, limit: 4000,
    send: async (text) => { const d = await app.api.optional("groupMessage", { alias, text }); await safeRender(); return d; },
    queue: { kind: "group", alias },
  }));
  const onGroup = (e) => { if (e.detail.alias === alias) safeRender(); };
  document.addEventListener("twister:group", onGroup);
  document.addEventListener("twister:outbox", safeRender);
  onLeave(() => {
    document.removeEventListener("twister:group", onGroup);
    document.removeEventListener("twister:outbox", safeRender);
  });
}

async function viewConversation(user) {
  const el = main();
  el.append(h("h1", h("a", { href: `#/user/${user}` }, "@" + user)));
  if (!app.me) { el.append(h("a.button.primary", { href: "#/login" }, "Log in to send messages")); return; }
  if (!app.following.has(user)) {
    el.append(h("p.notice.card", `You do not follow @${user}: their messages reach you through their swarm, so follow them to receive replies. `, followButton(user)));
  }
  const list = h("ol.messages", { "aria-live": "polite" });
  el.append(list);
  const render = async () => {
    const msgs = await app.api.dms(user);
    list.replaceChildren(...msgs.map((d) => h(`li.msg${d.mine ? ".mine" : ""}`, { dataset: { id: d.id } },
      h("p", d.text), h("span.muted", { title: fullTime(d.time) }, timeAgo(d.time)))));
    const queued = (it) => it.kind === "dm" && it.to === user;
    if (!msgs.length && !outbox.all().some(queued)) list.append(h("li.empty", "No messages yet. Say hello!"));
    queuedMessages(list, queued);
    list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "nearest" });
  };
  try { await render(); } catch (err) { el.append(errorBox(err, render)); }
  el.append(composer({
    key: "dm:" + user, label: `Message to @${user}`, submit: "Send", placeholder: "Write a message…", rows: 2, limit: 4000,
    send: async (text) => { const d = await app.api.dm(user, text); partners.add(app.me, user); await render(); return d; },
    queue: { kind: "dm", to: user },
  }));
  const onDm = (e) => { const d = e.detail; if (d.from === user || d.to === user) render().catch(() => {}); };
  const onOutbox = () => render().catch(() => {});
  document.addEventListener("twister:dm", onDm);
  document.addEventListener("twister:outbox", onOutbox);
  onLeave(() => {
    document.removeEventListener("twister:dm", onDm);
    document.removeEventListener("twister:outbox", onOutbox);
  });
}

// ---------------------------------------------------------------------------
// Search: users, words, hashtags

async function viewExplore(q = "") {
  const el = main();
  el.append(h("h1", "Search"));
  const input = h("input#search", { type: "search", value: q, placeholder: "@user, #hashtag or words", autocapitalize: "off", "aria-label": "Search" });
  const form = h("form.search-form", { role: "search" }, input, h("button.primary", { type: "submit" }, "Search"));
  const results = h("div.results");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (v.startsWith("#") && v.length > 1 && !v.includes(" ")) { location.hash = `#/tag/${encodeURIComponent(v.slice(1).toLowerCase())}`; return; }
    history.replaceState(null, "", `#/explore?q=${encodeURIComponent(v)}`);
    search(v, results);
  });
  el.append(form, results, sidebar());
  setTimeout(() => input.focus(), 0);
  if (q) await search(q, results);
}

async function search(q, box) {
  box.replaceChildren(loading("Searching the posts and users held on this device…"));
  const word = q.toLowerCase().replace(/^@/, "");
  const known = new Set([...Object.keys(seen.all()), ...app.following]);
  const users = [...known].filter((u) => u.includes(word)).sort((a, b) => (a.startsWith(word) ? 0 : 1) - (b.startsWith(word) ? 0 : 1) || a.localeCompare(b)).slice(0, 20);
  const sections = [];
  const userSec = h("section.card", h("h2", "Users"));
  if (USER_RE.test(word) && !users.includes(word)) {
    userSec.append(h("p", h("a", { href: `#/user/${word}` }, `Open @${word}'s profile`)));
  }
  userSec.append(users.length ? h("ul.users", ...users.map(userRow)) : h("p.muted", "No known user matches. Users appear here as you meet them in posts."));
  sections.push(userSec);
  const held = await app.api.timeline({ count: 1000 }).catch(() => []);
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = held.filter((p) => {
    const t = `${p.text} ${(p.rt && p.rt.text) || ""} ${(p.fav && p.fav.text) || ""} @${p.user}`.toLowerCase();
    return words.every((w) => t.includes(w));
  });
  sections.push(h("section", h("h2", `Posts with “${q}”`), postList(hits.slice(0, 100), "No post held on this device contains these words.")));
  box.replaceChildren(...sections);
}

// ---------------------------------------------------------------------------
// Network

async function viewNetwork() {
  const el = main();
  el.append(h("h1", "Network"));
  const box = h("div.network", loading("Asking the node…"));
  el.append(box);
  const render = async () => {
    let st;
    try { st = await app.api.status(); } catch (err) { box.replaceChildren(errorBox(err, render)); return; }
    const dl = (pairs) => h("dl.stats", ...pairs.flatMap(([k, v]) => [h("dt", k), h("dd", { dataset: { stat: k } }, String(v))]));
    box.replaceChildren(
      h("section.card", h("h2", "Bridges"),
        h("p.muted", "Bridges relay your node's traffic to the twister network. They are trusted for reachability only: everything they send is verified here."),
        h("table.bridges", h("thead", h("tr", h("th", "Bridge"), h("th", "State"), h("th", "Last error"))),
          h("tbody", ...(st.bridges.length ? st.bridges : settings.get().bridges.map((b) => ({ bridge: b, state: "not contacted yet" })))
            .map((b) => h("tr", { dataset: { state: b.state } }, h("td.mono", b.bridge), h("td", h("span.dot", { dataset: { state: b.state } }), " ", b.state), h("td", b.error || "—"))))),
        h("a", { href: "#/settings" }, "Change bridges")),
      h("section.card", h("h2", "This node"), dl([
        ["Block height (verified headers)", st.height],
        ["Logged in as", st.user ? "@" + st.user : "nobody"],
        ["Following", st.following.length],
        ["Following list in the DHT", followSyncText(st.followSync)],
        ["Swarm peers", st.peers],
        ["Swarm connections", st.connections],
        ["Posts held", st.posts],
        ["Pieces received", st.received],
        ["Pieces served", st.sent],
        ["Pieces rejected (failed verification)", st.rejected],
        ["Browser online", navigator.onLine ? "yes" : "no"],
        ["Posts waiting to be sent", outbox.all().length],
        ["Offline app", navigator.serviceWorker && navigator.serviceWorker.controller ? "installed (works offline)" : "not installed yet"],
      ])),
      h("section.card", h("h2", "Diagnostics"), h("p.muted", "Re-verify every held post (signatures against the chain keys) and time it."),
        (() => {
          const out = h("span.muted");
          const b = h("button", { type: "button", onclick: () => busy(b, async () => {
            const r = await app.api.call("reverify");
            out.textContent = ` ${r.ok} verified, ${r.failed} failed, in ${Math.round(r.ms)} ms.`;
          }).catch(() => {}) }, "Re-verify held posts");
          return h("div.row", b, out);
        })()));
  };
  await render();
  const t = setInterval(render, 3000);
  onLeave(() => clearInterval(t));
}

// ---------------------------------------------------------------------------
// Settings

async function viewSettings() {
  const el = main();
  const s = settings.get();
  el.append(h("h1", "Settings"));
  // Bridges
  const ta = h("textarea#set-bridges.mono", { rows: 4, spellcheck: false }, s.bridges.join("\n"));
  const net = h("select#set-network", h("option", { value: "main", selected: s.network === "main" }, "main network"),
    h("option", { value: "regtest", selected: s.network === "regtest" }, "regtest (local test network)"));
  const bErr = h("p.error", { role: "alert" });
  const bBtn = h("button.primary", { type: "submit" }, "Save and restart the node");
  const bf = h("form.card.form", h("h2", "Bridges"),
    h("label", { for: "set-bridges" }, "Bridge WebSocket URLs, one per line, tried in order (wss://host/ws)"), ta,
    h("label", { for: "set-network" }, "Network"), net, h("div.row", bBtn), bErr);
  bf.addEventListener("submit", async (e) => {
    e.preventDefault();
    const list = ta.value.split(/\s+/).map((x) => x.trim()).filter(Boolean);
    const bad = list.filter((u) => !/^wss?:\/\/[^\s/]+/.test(u));
    if (!list.length) { bErr.textContent = "Give at least one bridge."; return; }
    if (bad.length) { bErr.textContent = `Not a ws:// or wss:// URL: ${bad.join(", ")}`; return; }
    settings.set({ bridges: list, network: net.value });
    toast("Restarting the node with the new bridges… (log in again afterwards)", "info");
    await restartNode();
  });
  // Theme
  const theme = h("fieldset.card", h("legend", "Theme"), ...[["system", "Follow the system"], ["light", "Light"], ["dark", "Dark"]].map(([v, label]) =>
    h("label.check", h("input", { type: "radio", name: "theme", value: v, checked: s.theme === v, onchange: () => { settings.set({ theme: v }); applyTheme(); } }), " ", label)));
  // Notifications
  const notif = h("input#set-notif", { type: "checkbox", checked: s.notifications });
  const nMsg = h("p.muted", { role: "status" });
  notif.addEventListener("change", async () => {
    if (!notif.checked) { settings.set({ notifications: false }); return; }
    if (!("Notification" in window)) { nMsg.textContent = "This browser has no desktop notifications."; notif.checked = false; return; }
    const p = await Notification.requestPermission();
    if (p !== "granted") { nMsg.textContent = "Notifications were not allowed; allow them in the browser's site settings to use this."; notif.checked = false; return; }
    settings.set({ notifications: true });
    nMsg.textContent = "You will be notified of mentions and messages while this tab is in the background.";
  });
  const nf = h("section.card", h("h2", "Notifications"), h("label.check", notif, " Desktop notifications for mentions, direct messages and group messages"), nMsg);
  // Mutes
  const m = mutes.get();
  const mu = h("textarea#set-mute-users", { rows: 3, spellcheck: false }, m.users.join("\n"));
  const mw = h("textarea#set-mute-words", { rows: 3 }, m.words.join("\n"));
  const mf = h("form.card.form", h("h2", "Mute lists (this device only)"),
    h("label", { for: "set-mute-users" }, "Users, one per line"), mu,
    h("label", { for: "set-mute-words" }, "Words, one per line"), mw,
    h("div.row", h("button", { type: "submit" }, "Save mute lists")));
  mf.addEventListener("submit", (e) => {
    e.preventDefault();
    mutes.set({ users: mu.value.split(/\s+/).map((u) => u.replace(/^@/, "").toLowerCase()).filter(Boolean), words: mw.value.split("\n").map((w) => w.trim()).filter(Boolean) });
    toast("Mute lists saved.", "ok", 3000);
  });
  el.append(bf, theme, nf, mf,
    h("section.card", h("h2", "About"), h("p.muted", "This client runs a full twister node in your browser (WebAssembly in a Web Worker). Keyboard: n new post, / search, j/k next/previous post, Enter sends, Shift+Enter new line.")));
}

boot();
