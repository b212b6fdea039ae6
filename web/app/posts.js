// posts.js — how posts, avatars and composers look and act: a post card
// with reply, retwist (plain or with a comment), favourite (public or
// private) and thread actions, and the composer with twister's
// 140-character counter, Enter to send, drafts and the offline outbox.

import { h, richText, timeAgo, fullTime, codePoints, initialAvatar, busy, isNetworkError, toast } from "./dom.js";
import { app, profileOf, cachedProfile } from "./state.js";
import { drafts, seen } from "./local.js";

/** An avatar for user: cached at once, the verified one when it arrives. */
export function avatar(user, size = "") {
  const box = h(`span.avatar-box${size ? "." + size : ""}`, initialAvatar(user));
  const show = (p) => {
    if (p && p.avatar && /^data:image\//.test(p.avatar)) {
      box.replaceChildren(h("img.avatar", { src: p.avatar, alt: "", loading: "lazy" }));
    }
  };
  show(cachedProfile(user));
  if (app.api) profileOf(user).then(show);
  return box;
}

/** The display name of user (full name when known), kept up to date. */
export function displayName(user) {
  const el = h("span.fullname", user);
  const show = (p) => {
    const n = p && p.fields && p.fields.fullname;
    if (n) el.textContent = n;
  };
  show(cachedProfile(user));
  if (app.api) profileOf(user).then(show);
  return el;
}

function userLink(user) {
  return h("a.userlink", { href: `#/user/${user}` }, displayName(user), " ", h("span.handle", "@" + user));
}

function verifiedMark() {
  return h("span.verified", { title: "Verified in this browser: signature checked against the author's key on the block chain", "aria-label": "verified" }, "✓");
}

function embedded(e, label) {
  return h("blockquote.embedded", { dataset: { id: `${e.user}/${e.k}` } },
    h("div.meta", label ? h("span.label", label) : null, userLink(e.user), " · ",
      h("a.time", { href: `#/post/${e.user}/${e.k}`, title: fullTime(e.time) }, timeAgo(e.time))),
    h("p.text", richText(e.text)));
}

/**
 * The card of a PostView. opts.focus: larger text (thread view);
 * opts.pending: an outbox item (not yet sent). A promoted post (kind
 * "promoted": a block's coinbase message, not a post of its user's) is
 * marked as such and has no actions nor thread.
 */
export function postCard(p, opts = {}) {
  seen.fromPost(p);
  const isRT = p.kind === "rt" && p.rt;
  const isFav = (p.kind === "fav" || p.kind === "pfav") && p.fav;
  // The post the actions act on: a plain retwist acts on its original.
  const target = isRT && !p.text ? { user: p.rt.user, k: p.rt.k, text: p.rt.text } : { user: p.user, k: p.k, text: p.text };
  const author = isRT && !p.text ? p.rt.user : p.user;
  const time = isRT && !p.text ? p.rt.time : p.time;
  const isPromoted = p.kind === "promoted";
  const card = h("article.post", {
    tabindex: "0",
    dataset: { id: p.id, user: p.user, kind: p.kind, verified: String(!!p.verified) },
    "aria-label": `post by @${author}`,
    class: opts.focus ? "focus" : "",
  });
  const body = h("div.body");
  if (isRT) body.append(h("div.context", "↻ ", h("a", { href: `#/user/${p.user}` }, "@" + p.user), p.text ? " retwisted with a comment" : " retwisted"));
  if (isFav) body.append(h("div.context", "★ ", h("a", { href: `#/user/${p.user}` }, "@" + p.user), p.kind === "pfav" ? " favourited privately" : " favourited"));
  body.append(h("header", userLink(author), " · ",
    isPromoted
      ? h("span.time", { title: `${fullTime(time)}, block ${p.height}` }, timeAgo(time))
      : h("a.time", { href: `#/post/${target.user}/${target.k}`, title: fullTime(time) }, timeAgo(time)), " ",
    p.verified ? verifiedMark() : null));
  if (p.reply) {
    body.append(h("div.context.replyto", "↳ in reply to ", h("a", { href: `#/post/${p.reply.user}/${p.reply.k}` }, `@${p.reply.user}`)));
  }
  if (isRT && !p.text) body.append(h("p.text", richText(p.rt.text)));
  else if (p.text || !(isRT || isFav)) body.append(h("p.text", richText(p.text)));
  if (isRT && p.text) body.append(embedded(p.rt));
  if (isFav) body.append(embedded(p.fav));
  if (opts.pending) {
    body.append(h("div.pending", { role: "status" }, opts.pending));
  } else if (isPromoted) {
    body.append(h("div.promoted-note", `Promoted: the message of block ${p.height}, chosen by whoever mined it.`));
  } else {
    body.append(actions(p, target, body));
  }
  card.append(h("a.avatar-link", { href: `#/user/${author}`, tabindex: "-1", "aria-hidden": "true" }, avatar(author)), body);
  return card;
}

function menu(label, items, title) {
  const d = h("details.menu");
  d.append(h("summary", { role: "button", title }, label));
  const list = h("div.menu-items", { role: "menu" });
  for (const [text, fn] of items) {
    list.append(h("button", {
      role: "menuitem", type: "button",
      onclick: async (e) => {
        d.open = false;
        await fn(e);
      },
    }, text));
  }
  d.append(list);
  d.addEventListener("keydown", (e) => { if (e.key === "Escape") { d.open = false; d.querySelector("summary").focus(); } });
  return d;
}

function needLogin() {
  if (app.me) return false;
  toast("Log in to do that: open Account to unlock your key.", "error");
  return true;
}

function actions(p, target, body) {
  const bar = h("footer.actions");
  const slot = h("div.inline-slot");
  const openComposer = (kind) => {
    if (needLogin()) return;
    const key = `${kind}:${target.user}/${target.k}`;
    if (slot.dataset.open === key) {
      slot.replaceChildren();
      slot.dataset.open = "";
      return;
    }
    slot.dataset.open = key;
    const prefill = kind === "reply" ? replyPrefill(p, target) : "";
    slot.replaceChildren(composer({
      key, prefill, autofocus: true,
      label: kind === "reply" ? `Reply to @${target.user}` : `Comment on @${target.user}'s post`,
      submit: kind === "reply" ? "Reply" : "Retwist",
      send: async (text) => {
        const r = kind === "reply"
          ? await app.api.reply(target.user, target.k, text)
          : await app.api.retwist(target.user, target.k, text);
        slot.replaceChildren();
        slot.dataset.open = "";
        published(r, kind === "reply" ? "Reply sent" : "Retwisted with your comment");
        return r;
      },
      queue: { kind: kind === "reply" ? "reply" : "retwist", ruser: target.user, k: target.k },
    }));
  };
  bar.append(
    h("button.act.reply", { type: "button", onclick: () => openComposer("reply"), title: "Reply" }, "↩ Reply"),
    menu("↻ Retwist", [
      ["Retwist", async () => {
        if (needLogin()) return;
        await busy(bar, async () => published(await app.api.retwist(target.user, target.k, ""), "Retwisted"));
      }],
      ["Retwist with comment…", () => openComposer("quote")],
    ], "Retwist"),
    menu("★ Favourite", [
      ["Favourite (public)", async () => {
        if (needLogin()) return;
        await busy(bar, async () => published(await app.api.favorite(target.user, target.k, { private: false }), "Favourited"));
      }],
      ["Favourite privately", async () => {
        if (needLogin()) return;
        await busy(bar, async () => published(await app.api.favorite(target.user, target.k, { private: true }), "Favourited privately (only you can see it)"));
      }],
    ], "Favourite"),
    h("a.act.thread", { href: `#/post/${target.user}/${target.k}`, title: "Show the conversation" }, "Thread"),
  );
  return h("div.actions-wrap", bar, slot);
}

function replyPrefill(p, target) {
  const names = [target.user, ...(p.mentions || [])].filter((u) => u && u !== app.me);
  return [...new Set(names)].map((u) => "@" + u).join(" ") + " ";
}

/** Tells the user what a PublishResult did. */
export function published(r, what) {
  if (r && r.putErrors && r.putErrors.length) {
    toast(`${what}. It is in your swarm, but some DHT updates failed (${r.putErrors.length}): ${r.putErrors.join("; ")}. Followers still get it from your swarm.`, "warn", 12000);
  } else {
    toast(what + ".", "ok", 3000);
  }
  document.dispatchEvent(new CustomEvent("twister:published", { detail: r }));
}

/**
 * A composer. o: {key (draft key), label, submit (button text), prefill,
 * autofocus, send(text) → Promise, queue: outbox descriptor or null,
 * limit (default 140), multiline}.
 * Enter sends; Shift+Enter adds a line. The text stays in the draft until
 * it is sent. Offline, a composer with a queue descriptor puts the text in
 * the outbox (a "twister:queue" event with {text, draftKey, ...queue}).
 */
export function composer(o) {
  const limit = o.limit || 140;
  const id = "c" + Math.random().toString(36).slice(2);
  const ta = h("textarea", { id, rows: o.rows || 3, placeholder: o.placeholder || "What's happening?", "aria-describedby": id + "-count", maxlength: 4000 });
  ta.value = drafts.get(o.key) || o.prefill || "";
  const count = h("span.counter", { id: id + "-count", "aria-live": "polite" });
  const err = h("p.error", { role: "alert" });
  const btn = h("button.primary", { type: "submit" }, o.submit || "Post");
  const form = h("form.composer", { "aria-label": o.label || "New post" },
    h("label.sr-only", { for: id }, o.label || "New post"), ta,
    h("div.row", count, btn), err);
  const update = () => {
    const n = codePoints(ta.value);
    const left = limit - n;
    count.textContent = left >= 0 ? String(left) : `${left} (the rest goes into a second part)`;
    count.className = "counter" + (left < 0 ? " over" : left < 20 ? " near" : "");
    btn.disabled = n === 0 || ta.value.trim() === "";
  };
  ta.addEventListener("input", () => {
    drafts.set(o.key, ta.value);
    update();
  });
  // A queued item taken back to its draft ("twister:draft" {key}) shows here.
  const onDraft = (e) => {
    if (!form.isConnected) { document.removeEventListener("twister:draft", onDraft); return; }
    if (e.detail && e.detail.key === o.key) {
      ta.value = drafts.get(o.key);
      update();
    }
  };
  document.addEventListener("twister:draft", onDraft);
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = ta.value.trim();
    if (!text) return;
    if (o.queue && !navigator.onLine) {
      document.dispatchEvent(new CustomEvent("twister:queue", { detail: Object.assign({ text, draftKey: o.key }, o.queue) }));
      ta.value = "";
      drafts.set(o.key, "");
      update();
      return;
    }
    try {
      await busy(btn, () => o.send(text), err);
      ta.value = "";
      drafts.set(o.key, "");
      update();
    } catch (e2) {
      // The text stays in the box and in the draft.
      // Only the network's fault can be fixed by sending later (not, say,
      // an unknown recipient).
      if (o.queue && isNetworkError(e2)) {
        err.append(" ", h("button.link", {
          type: "button",
          onclick: () => {
            document.dispatchEvent(new CustomEvent("twister:queue", { detail: Object.assign({ text, draftKey: o.key }, o.queue) }));
            ta.value = "";
            drafts.set(o.key, "");
            err.textContent = "";
            update();
          },
        }, "Send it later, when the network is back"));
      }
    }
  });
  update();
  if (o.autofocus) setTimeout(() => { ta.focus(); ta.setSelectionRange(ta.value.length, ta.value.length); }, 0);
  return form;
}
