// Test page of the browser node (driven by browser_test.go, usable by hand):
//   index.html?bridge=ws://host/ws&db=name[&user=u&secret=wif][&follow=u][&expect=n]
// It starts the node (regtest), renders the timeline from the store at
// once, then logs in and follows as asked, re-rendering on every newPost.
// window.state holds timings (performance.now(), ms since navigation).
import { Twister } from "../twister.js";

const q = new URLSearchParams(location.search);
const expect = Number(q.get("expect") || 0);
const state = (window.state = { phase: "loading", errors: [], t: {}, rendered: 0, firstCount: -1 });
const list = document.getElementById("timeline");
const status = document.getElementById("status");

function render(posts) {
  list.replaceChildren(
    ...posts.map((p) => {
      const li = document.createElement("li");
      li.dataset.id = p.id;
      li.dataset.user = p.user;
      li.dataset.verified = String(p.verified);
      li.textContent = `${p.user}: ${p.text}`;
      return li;
    }),
  );
  state.rendered = posts.length;
  if (expect > 0 && posts.length >= expect && state.t.full === undefined) state.t.full = performance.now();
}

let tw;
let timer = null;
async function refresh() {
  render(await tw.timeline({ count: 1000 }));
}
function schedule() {
  if (timer === null) timer = setTimeout(() => { timer = null; refresh().catch((e) => state.errors.push(String(e))); }, 50);
}

(async () => {
  tw = window.tw = await Twister.start({
    bridges: [q.get("bridge")],
    network: "regtest",
    db: q.get("db") || "twister-test",
    wasmURL: "/twister.wasm",
    wasmExecURL: "/wasm_exec.js",
  });
  state.t.started = performance.now();
  tw.on("newPost", schedule);
  tw.on("connection", (c) => (status.textContent = `${c.bridge}: ${c.state}`));
  await refresh();
  state.t.firstRender = performance.now();
  state.firstCount = state.rendered;
  if (q.get("user")) await tw.login(q.get("user"), q.get("secret"));
  if (q.get("follow")) {
    state.t.follow = performance.now();
    await tw.follow(q.get("follow"));
  }
  state.phase = "ready";
})().catch((e) => {
  state.phase = "error";
  state.errors.push(String((e && e.stack) || e));
});
