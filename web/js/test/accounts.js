// Accounts test page of the browser node (driven by accounts_test.go,
// usable by hand): accounts.html?bridge=ws://host/ws&db=name&keystore=name
// It starts the node (regtest) and offers sign-up (createAccount, then
// register with the proof-of-work progress shown, then unlock) and
// unlock, showing errors in #error. window.page has the same actions for
// the test, and window.state records the events and timings.
import { Twister } from "../twister.js";

const q = new URLSearchParams(location.search);
const state = (window.state = { phase: "loading", errors: [], progress: [], status: [], t: {} });
const $ = (id) => document.getElementById(id);

function showError(e) {
  $("error").textContent = e ? String((e && e.message) || e) : "";
}

async function listAccounts() {
  const accts = await tw.accounts();
  $("accounts").replaceChildren(
    ...accts.map((a) => {
      const li = document.createElement("li");
      li.dataset.user = a.user;
      li.textContent = a.error ? `${a.user}: ${a.error}` : `${a.user} (${a.pubKey.slice(0, 12)}…)`;
      return li;
    }),
  );
  return accts;
}

// create makes an account and shows its secret for the back-up.
async function create(user, passphrase) {
  showError("");
  const acct = await tw.createAccount(user, passphrase);
  $("backup").textContent = `Write down your key: ${acct.secret}`;
  await listAccounts();
  return acct;
}

// register registers an account with the progress bar and status line.
function register(user, { bits, pollMs } = {}) {
  return tw.register(user, {
    bits,
    pollMs,
    onProgress: (p) => {
      state.progress.push(p);
      $("pow").value = p.done ? 1 : Math.min(p.tried / p.expected, 0.99);
      $("powText").textContent = `${p.tried} hashes, ${Math.round(p.rate)} hashes/s`;
    },
    onStatus: (s) => {
      state.status.push(s);
      $("regStatus").textContent = s.status;
    },
  });
}

async function signUp(user, passphrase, opts) {
  const acct = await create(user, passphrase);
  return { acct, reg: await register(user, opts) };
}

// unlock logs in through the key store and times it; errors are shown.
async function unlock(user, passphrase) {
  showError("");
  const t0 = performance.now();
  try {
    const r = await tw.unlock(user, passphrase);
    r.pageMs = performance.now() - t0;
    $("me").textContent = `logged in as ${r.user}`;
    return r;
  } catch (e) {
    showError(e);
    throw e;
  }
}

const page = (window.page = { create, register, signUp, unlock, listAccounts, showError });

$("signup").onsubmit = (e) => {
  e.preventDefault();
  const f = e.target;
  signUp(f.user.value, f.passphrase.value)
    .then(() => unlock(f.user.value, f.passphrase.value))
    .catch(showError);
};
$("unlock").onsubmit = (e) => {
  e.preventDefault();
  unlock(e.target.user.value, e.target.passphrase.value).catch(() => {});
};

let tw;
(async () => {
  const t0 = performance.now();
  const bridge = q.get("bridge");
  tw = window.tw = await Twister.start({
    bridges: [bridge],
    network: "regtest",
    db: q.get("db") || "twister-test",
    keystore: q.get("keystore") || "twister-keys-test",
    wasmURL: "/twister.wasm",
    wasmExecURL: "/wasm_exec.js",
  });
  state.t.start = performance.now() - t0;
  state.t.started = performance.now();
  const st = await tw.status();
  state.height = st.height;
  $("node").textContent = `height ${st.height}`;
  tw.on("height", (h) => ($("node").textContent = `height ${h}`));
  await listAccounts();
  state.phase = "ready";
})().catch((e) => {
  state.phase = "error";
  state.errors.push(String((e && e.stack) || e));
  showError(e);
});
export default page;
