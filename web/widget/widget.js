/*
 * twister widget — shows a twister user's latest posts (or a hashtag's) on
 * any web page, verified in the visitor's browser by the twister browser
 * node (WebAssembly in a Web Worker): every post's signature is checked
 * against the author's key on the block chain before it is shown. Read-only:
 * it never logs in or posts.
 *
 *   <div class="twister-widget"></div>
 *   <script src="https://twister.example/widget/widget.js"
 *           data-bridge="wss://twister.example/ws" data-user="alice" data-count="5"></script>
 *
 * See README.md next to this file for every option. The script talks to the
 * node only through its documented worker protocol ({id, method, params} →
 * {id, result|error}, events {event, data}; ../js/README.md).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var scriptURL = new URL(script.src, location.href);
  var ds = script.dataset;

  // ------------------------------------------------------------------
  // The node: one worker per page, shared by every widget on it.

  function Node(opts) {
    this.next = 1;
    this.pending = {};
    this.handlers = {};
    var base = new URL(opts.base || "../js/", scriptURL);
    var wasm = new URL("twister.wasm", base).href;
    var exec = new URL("wasm_exec.js", base).href;
    var self = this;
    var worker;
    if (base.origin === location.origin) {
      var u = new URL("worker.js", base);
      worker = new Worker(u.href);
    } else {
      // A worker must come from the page's origin: a one-line blob worker
      // imports js/worker.js from the twister origin (which allows it:
      // Access-Control-Allow-Origin), and a {config} message tells it
      // where wasm_exec.js and the node are, since a blob: worker has no
      // address to find them from.
      var src = "importScripts(" + JSON.stringify(new URL("worker.js", base).href) + ");";
      worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
      worker.postMessage({ config: { wasmURL: wasm, wasmExecURL: exec } });
    }
    worker.onmessage = function (e) { self.receive(e.data); };
    worker.onerror = function (e) { self.fail(e.message || "the twister worker failed to load"); };
    this.worker = worker;
    var params = { bridges: opts.bridges, network: opts.network || "main" };
    if (opts.memory) params.memory = true;
    else params.db = opts.db || "twister-widget";
    this.started = this.call("start", params);
  }
  Node.prototype.receive = function (m) {
    if (m && m.event !== undefined) {
      if (m.event === "fatal") this.fail(String(m.data));
      (this.handlers[m.event] || []).forEach(function (fn) { try { fn(m.data); } catch (err) { console.error(err); } });
      return;
    }
    var p = this.pending[m.id];
    if (!p) return;
    delete this.pending[m.id];
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m.result);
  };
  Node.prototype.fail = function (msg) {
    var err = new Error(msg);
    for (var id in this.pending) this.pending[id].reject(err);
    this.pending = {};
    this.dead = err;
  };
  Node.prototype.call = function (method, params) {
    var self = this;
    if (this.dead) return Promise.reject(this.dead);
    return new Promise(function (resolve, reject) {
      var id = self.next++;
      self.pending[id] = { resolve: resolve, reject: reject };
      self.worker.postMessage({ id: id, method: method, params: params || {} });
    });
  };
  Node.prototype.on = function (ev, fn) { (this.handlers[ev] = this.handlers[ev] || []).push(fn); };

  var nodes = (window.__twisterWidgetNodes = window.__twisterWidgetNodes || {});
  function nodeFor(opts) {
    var key = JSON.stringify([opts.bridges, opts.network, opts.memory, opts.db, opts.base]);
    if (!nodes[key]) nodes[key] = new Node(opts);
    return nodes[key];
  }

  // ------------------------------------------------------------------
  // Rendering

  var CSS = [
    ":host { display: block; font: inherit; color: inherit; }",
    ".tw { font: inherit; color: inherit; border: 1px solid var(--tw-line); border-radius: 10px; padding: .6em .8em; max-width: 36em;",
    "  --tw-line: rgb(127 127 127 / .35); --tw-muted: rgb(127 127 127); --tw-accent: #2b6cb0; --tw-ok: #1d7a3e; }",
    ".tw.dark { --tw-accent: #63a4ff; --tw-ok: #5fd38d; }",
    ".head { display: flex; align-items: center; gap: .5em; margin-bottom: .3em; }",
    ".head img, .head .ini { width: 2em; height: 2em; border-radius: 50%; flex: none; }",
    ".ini { display: inline-flex; align-items: center; justify-content: center; color: #fff; font-weight: 700; }",
    ".head a { color: inherit; font-weight: 700; text-decoration: none; }",
    ".head .sub { color: var(--tw-muted); font-size: .85em; font-weight: 400; }",
    "ol { list-style: none; margin: 0; padding: 0; }",
    "li { padding: .5em 0; border-top: 1px solid var(--tw-line); }",
    "li p { margin: .15em 0; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".meta { font-size: .85em; color: var(--tw-muted); display: flex; gap: .5em; flex-wrap: wrap; align-items: baseline; }",
    ".meta a { color: inherit; text-decoration: none; }",
    ".meta b { color: inherit; }",
    ".ok { color: var(--tw-ok); font-weight: 600; }",
    "a { color: var(--tw-accent); }",
    ".ctx { font-size: .85em; color: var(--tw-muted); }",
    ".status { color: var(--tw-muted); font-size: .9em; padding: .4em 0; }",
    ".err { color: #c0392b; }",
    ".spin { display: inline-block; width: .8em; height: .8em; border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%; animation: s .8s linear infinite; vertical-align: -.1em; }",
    "@keyframes s { to { transform: rotate(360deg); } }",
    ".foot { font-size: .75em; color: var(--tw-muted); margin-top: .3em; }",
    ".foot a { color: inherit; }",
  ].join("\n");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var TOKEN = /(@[a-z0-9_]{1,16})|(#[^\s.,:\/?!;'"()\[\]{}*#@]+)|(https?:\/\/[^\s<>"']+)/gi;
  function rich(parent, text, app) {
    var last = 0, m;
    text = String(text || "");
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", "", m[0]);
      if (m[1]) a.href = app + "#/user/" + m[1].slice(1).toLowerCase();
      else if (m[2]) a.href = app + "#/tag/" + encodeURIComponent(m[2].slice(1).toLowerCase());
      else { a.href = m[3]; a.rel = "noopener nofollow"; }
      a.target = "_blank";
      parent.appendChild(a);
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function ago(sec) {
    var d = Math.floor(Date.now() / 1000) - sec;
    if (d < 60) return "now";
    if (d < 3600) return Math.floor(d / 60) + " min";
    if (d < 86400) return Math.floor(d / 3600) + " h";
    if (d < 86400 * 7) return Math.floor(d / 86400) + " d";
    return new Date(sec * 1000).toLocaleDateString();
  }

  // Dark if the page behind the widget is dark (or asked for).
  function isDark(host, theme) {
    if (theme === "dark") return true;
    if (theme === "light") return false;
    for (var n = host; n && n.nodeType === 1; n = n.parentElement) {
      var bg = getComputedStyle(n).backgroundColor;
      var m = bg && bg.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?/);
      if (m && (m[4] === undefined || Number(m[4]) > 0.5)) {
        return (0.2126 * m[1] + 0.7152 * m[2] + 0.0722 * m[3]) / 255 < 0.5;
      }
    }
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function initial(user) {
    var h = 0;
    for (var i = 0; i < user.length; i++) h = (h * 31 + user.charCodeAt(i)) >>> 0;
    var s = el("span", "ini", (user[0] || "?").toUpperCase());
    s.style.background = "hsl(" + (h % 360) + " 55% 45%)";
    return s;
  }

  /**
   * Shows a widget in host. o: {bridges: [url], user | hashtag, count,
   * network, memory, db, theme, app (URL of the web client), base (URL of js/)}.
   */
  function render(host, o) {
    if (host.__twisterWidget) return host.__twisterWidget;
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = el("style");
    style.textContent = CSS;
    var box = el("div", "tw" + (isDark(host, o.theme) ? " dark" : ""));
    box.setAttribute("role", "region");
    var what = o.user ? "@" + o.user : "#" + o.hashtag;
    box.setAttribute("aria-label", "twister posts of " + what);
    var head = el("div", "head");
    var list = el("ol");
    var status = el("div", "status");
    status.setAttribute("role", "status");
    var foot = el("div", "foot");
    foot.appendChild(document.createTextNode("✓ = signature verified in your browser · "));
    var tl = el("a", "", "twister");
    tl.href = o.app;
    tl.target = "_blank";
    foot.appendChild(tl);
    box.append(head, list, status, foot);
    root.append(style, box);
    host.classList.add("twister-widget");

    var link = el("a", "", what);
    link.href = o.app + (o.user ? "#/user/" + o.user : "#/tag/" + encodeURIComponent(o.hashtag));
    link.target = "_blank";
    if (o.user) head.appendChild(initial(o.user));
    var title = el("span");
    title.appendChild(link);
    title.appendChild(el("span", "sub", o.user ? " latest posts" : " latest posts with this hashtag"));
    head.appendChild(title);

    function setStatus(text, spin, err) {
      status.textContent = "";
      status.className = "status" + (err ? " err" : "");
      if (spin) { status.appendChild(el("span", "spin")); status.appendChild(document.createTextNode(" ")); }
      status.appendChild(document.createTextNode(text));
      status.hidden = !text;
    }

    function show(posts) {
      list.textContent = "";
      posts.slice(0, o.count).forEach(function (p) {
        var li = el("li");
        li.dataset.id = p.id;
        li.dataset.user = p.user;
        li.dataset.verified = String(!!p.verified);
        var shown = p;
        if (p.kind === "rt" && p.rt && !p.text) {
          li.appendChild(el("div", "ctx", "↻ @" + p.user + " retwisted"));
          shown = { user: p.rt.user, k: p.rt.k, time: p.rt.time, text: p.rt.text };
        }
        var meta = el("div", "meta");
        var who = el("a");
        who.href = o.app + "#/user/" + shown.user;
        who.target = "_blank";
        who.appendChild(el("b", "", "@" + shown.user));
        var when = el("a", "", ago(shown.time));
        when.href = o.app + "#/post/" + shown.user + "/" + shown.k;
        when.target = "_blank";
        when.title = new Date(shown.time * 1000).toLocaleString();
        meta.append(who, when);
        if (p.verified) {
          var ok = el("span", "ok verified", "✓ verified");
          ok.title = "Signature checked in your browser against @" + p.user + "'s key on the twister block chain";
          meta.appendChild(ok);
        }
        var text = el("p");
        rich(text, shown.text, o.app);
        li.append(meta, text);
        if (p.kind === "rt" && p.rt && p.text) {
          var q = el("div", "ctx");
          q.appendChild(document.createTextNode("↻ @" + p.rt.user + ": "));
          rich(q, p.rt.text, o.app);
          li.appendChild(q);
        }
        list.appendChild(li);
      });
      host.dataset.count = String(list.children.length);
    }

    var api = {
      host: host,
      ready: null,
    };
    host.__twisterWidget = api;
    setStatus("Loading verified posts…", true);
    var node = nodeFor(o);
    api.node = node;

    api.ready = node.started.then(function () {
      if (o.user) {
        node.call("profile", { user: o.user }).then(function (pr) {
          if (pr && pr.avatar && /^data:image\//.test(pr.avatar)) {
            var img = el("img");
            img.src = pr.avatar;
            img.alt = "";
            head.replaceChild(img, head.firstChild);
          }
          if (pr && pr.fields && pr.fields.fullname) link.textContent = pr.fields.fullname + " (@" + o.user + ")";
        }).catch(function () {});
        var refresh = function () {
          return node.call("timeline", { users: [o.user], count: o.count }).then(function (posts) {
            show(posts);
            if (posts.length) setStatus("");
            return posts;
          });
        };
        var timer = null;
        node.on("newPost", function (p) {
          if (p.user !== o.user || timer) return;
          timer = setTimeout(function () { timer = null; refresh(); }, 150);
        });
        return refresh().then(function (posts) {
          if (!posts.length) setStatus("Fetching posts from @" + o.user + "'s swarm…", true);
          return node.call("follow", { user: o.user });
        }).then(function () {
          setTimeout(function () {
            if (!list.children.length) setStatus("No posts from @" + o.user + " found yet.", false);
          }, 30000);
          return refresh();
        });
      }
      var load = function () {
        return node.call("hashtag", { tag: o.hashtag }).then(function (posts) {
          show(posts);
          setStatus(posts.length ? "" : "No posts with #" + o.hashtag + " found.");
        });
      };
      setInterval(function () { load().catch(function () {}); }, 60000);
      return load();
    }).catch(function (err) {
      setStatus("twister posts could not be loaded: " + (err && err.message || err), false, true);
      host.dataset.error = String(err && err.message || err);
    });
    return api;
  }

  function optionsFrom(d) {
    var bridges = (d.bridge || d.bridges || "").split(/[\s,]+/).filter(Boolean);
    if (!bridges.length) {
      bridges = [(scriptURL.protocol === "https:" ? "wss://" : "ws://") + scriptURL.host + "/ws"];
    }
    return {
      bridges: bridges,
      user: (d.user || "").replace(/^@/, "").toLowerCase(),
      hashtag: (d.hashtag || "").replace(/^#/, "").toLowerCase(),
      count: Math.max(1, Math.min(50, parseInt(d.count || "5", 10) || 5)),
      network: d.network || "main",
      memory: d.memory === "true",
      db: d.db || "",
      theme: d.theme || "auto",
      app: d.app || new URL("../app/", scriptURL).href,
      base: d.base || "",
    };
  }

  window.TwisterWidget = {
    /** Shows a widget in element with options as in README.md. */
    render: function (element, options) {
      var o = optionsFrom({});
      for (var k in options) o[k] = options[k];
      if (!Array.isArray(o.bridges)) o.bridges = String(o.bridges).split(/[\s,]+/).filter(Boolean);
      return render(element, o);
    },
  };

  // The script's own widget: the element named by data-target, else the
  // first .twister-widget not yet used, else a new element after the script.
  var opts = optionsFrom(ds);
  if (!opts.user && !opts.hashtag) {
    console.error("twister widget: set data-user or data-hashtag on the script tag");
    return;
  }
  function place() {
    var host = ds.target ? document.querySelector(ds.target) : null;
    if (!host) {
      var all = document.querySelectorAll(".twister-widget");
      for (var i = 0; i < all.length; i++) if (!all[i].__twisterWidget && !all[i].dataset.claimed) { host = all[i]; break; }
    }
    if (!host) {
      host = document.createElement("div");
      script.parentNode.insertBefore(host, script.nextSibling);
    }
    host.dataset.claimed = "1";
    render(host, opts);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", place);
  else place();
})();
