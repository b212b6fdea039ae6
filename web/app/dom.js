// dom.js — small DOM helpers of the web UI: element building (text is
// always set as text, never parsed as HTML), post text with links for
// @mentions, #hashtags and URLs, times, toasts, busy buttons and the
// explanation of node errors in words a person can act on.

/** h("button.primary", {onclick}, "text", child…) builds an element. */
export function h(tag, attrs, ...children) {
  // tag is "name", "name.class…", "name#id", "name#id.class…" or
  // "name.class#id".
  const name = tag.match(/^[^.#]*/)[0];
  const id = (tag.match(/#([^.#]+)/) || [])[1];
  const classes = [...tag.matchAll(/\.([^.#]+)/g)].map((m) => m[1]);
  const el = document.createElement(name || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "class") el.className += (el.className ? " " : "") + v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Same delimiters as twister (text.Delimiters): a mention or hashtag ends
// at white space or punctuation.
const token = /(@[a-z0-9_]{1,16})|(#[^\s.,:;!?'"()\[\]{}<>\/\\|@#`~*+=&%^$]+)|(https?:\/\/[^\s<>"']+)/giu;

/** Post text as nodes: @user, #tag and URLs become links. */
export function richText(text) {
  const out = [];
  let last = 0;
  for (const m of String(text || "").matchAll(token)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h("a.mention", { href: `#/user/${m[1].slice(1).toLowerCase()}` }, m[1]));
    else if (m[2]) out.push(h("a.hashtag", { href: `#/tag/${encodeURIComponent(m[2].slice(1).toLowerCase())}` }, m[2]));
    else {
      let url = m[3];
      const trail = url.match(/[.,;:!?)]+$/);
      if (trail) url = url.slice(0, -trail[0].length);
      out.push(h("a.url", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, url));
      if (trail) out.push(trail[0]);
    }
    last = m.index + m[0].length;
  }
  if (last < String(text || "").length) out.push(text.slice(last));
  return out;
}

/** Hashtags of a text, lower-cased. */
export function hashtagsOf(text) {
  const tags = [];
  for (const m of String(text || "").matchAll(token)) if (m[2]) tags.push(m[2].slice(1).toLowerCase());
  return tags;
}

/** Number of code points (what twister counts). */
export function codePoints(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export function timeAgo(sec) {
  const d = Math.floor(Date.now() / 1000) - sec;
  if (d < 60) return "now";
  if (d < 3600) return `${Math.floor(d / 60)} min`;
  if (d < 86400) return `${Math.floor(d / 3600)} h`;
  if (d < 86400 * 7) return `${Math.floor(d / 86400)} d`;
  return new Date(sec * 1000).toLocaleDateString();
}

export function fullTime(sec) {
  return new Date(sec * 1000).toLocaleString();
}

/** A placeholder avatar: the first letter on a colour from the name. */
export function initialAvatar(user) {
  let hash = 0;
  for (const c of user) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  const el = h("span.avatar.initial", { "aria-hidden": "true" }, (user[0] || "?").toUpperCase());
  el.style.background = `hsl(${hash % 360} 55% 45%)`;
  return el;
}

// --- toasts ---

export function toast(message, kind = "info", timeout = 6000) {
  const box = document.getElementById("toasts");
  const el = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" },
    h("span", message),
    h("button.icon", { "aria-label": "Dismiss", onclick: () => el.remove() }, "×"));
  box.append(el);
  while (box.children.length > 3) box.firstElementChild.remove();
  if (timeout) setTimeout(() => el.remove(), timeout);
  return el;
}

/**
 * Runs fn while button shows it is busy (disabled, spinner); errors are
 * shown next to it (or as a toast) and re-thrown.
 */
export async function busy(button, fn, errorBox) {
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  if (errorBox) errorBox.textContent = "";
  try {
    return await fn();
  } catch (err) {
    const msg = explain(err);
    if (errorBox) {
      errorBox.textContent = msg;
    } else {
      toast(msg, "error", 10000);
    }
    throw err;
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

// Node errors: [pattern, kind, words]; the first match tells.
const ERRORS = [
  [/not logged in/i, "login", "You are not logged in. Unlock your account (Account page) and try again; what you typed is kept."],
  [/not the user's registered key/i, "key", "This key is not the registered key of that user. Check the username and paste the key again (52 characters, from twisterd's dumpprivkey or your backup)."],
  [/wrong passphrase/i, "passphrase", "Wrong passphrase. Try again (passphrases are case-sensitive)."],
  [/unverified data/i, "unverified", "A bridge or peer sent data that failed verification, so it was ignored. Try again, or add another bridge in Settings."],
  [/unknown user|not registered|ErrUnknownUser|no such user/i, "user", "No such user on the block chain. Check the spelling (lowercase letters, digits and _)."],
  [/invalid username/i, "user", "That is not a valid twister username: 1–16 of a–z, 0–9 and _."],
  [/bad secret|base58|checksum|invalid (private )?key|secret/i, "key", "That is not a valid secret key: it should be the 52-character key starting with K, L or 5 (twisterd's dumpprivkey)."],
  [/timeout|deadline|timed out/i, "network", "The network did not answer in time. Check your connection and the bridges (Network page), then try again; what you typed is kept."],
  [/unreachable|unavailable|no bridge|disconnected|connection|websocket/i, "network", "Cannot reach any bridge. Check your connection or the bridge list in Settings; what you typed is kept and you can send it again."],
  [/terminated|worker|Go program/i, "stopped", "The node stopped. Reload the page to restart it; your drafts are kept."],
];

function errorRule(err) {
  const m = String((err && err.message) || err || "unknown error");
  return [m, ERRORS.find(([re]) => re.test(m))];
}

/** A node error in words: what happened and what to do. */
export function explain(err) {
  const [m, rule] = errorRule(err);
  return rule ? `${rule[2]} (${m})` : m;
}

/** Tells whether err is the network's fault (no bridge, no answer in time): trying later may work. */
export function isNetworkError(err) {
  const [, rule] = errorRule(err);
  return !!rule && rule[1] === "network";
}

/** Keeps a textarea's text as a draft under key until cleared. */
export function keepDraft(textarea, store, key) {
  textarea.value = store.get(key);
  textarea.addEventListener("input", () => store.set(key, textarea.value));
}
