// The e-CPS web app: enrolment, the live feed of requests (server-sent events read with
// fetch, since the feed needs the device credential as a bearer token and EventSource cannot
// send one), signed decisions, and the professional's devices. A client of coeur's device API
// (`…/ecps/`), like `coeur ecps`. Words come from the page (#strings), in its language.
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const root = $("ecps-app");
const realm = root.dataset.realm;
const api = root.dataset.api;
const S = {};
for (const li of $("strings").children) S[li.dataset.k] = li.textContent;
const fill = (s, args) => s.replace(/\{(\w+)\}/g, (m, k) => (k in args ? String(args[k]) : m));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A stream with no byte (not even the heartbeat comment) for this long is dead. */
const SILENCE_MS = 45000;

let device = null; // the stored record
let credential = null; // in memory while unlocked
let feed = null; // the live feed's AbortController
let requests = [];
let skew = 0; // server time - local time, seconds

function show(view) {
  for (const v of ["enrol", "unlock", "feed"]) $(`view-${v}`).hidden = v !== view;
  root.dataset.view = view;
}
function error(msg) {
  $("error").textContent = msg || "";
  $("error").hidden = !msg;
}
function status(msg) {
  $("status").textContent = msg || "";
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(path, { method = "GET", json } = {}) {
  const headers = { accept: "application/json" };
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(api + path, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
    cache: "no-store",
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    throw new ApiError(res.status, body && body.error, (body && body.error_description) || res.statusText);
  }
  return body;
}

function explain(e) {
  if (e instanceof ApiError && e.code && S[e.code]) return S[e.code];
  if (e instanceof ApiError && e.code === "request_closed") return S.closed;
  return fill(S.failed, { reason: e.message });
}

// ---- enrolment ----

function fromFragment() {
  const p = new URLSearchParams(location.hash.slice(1));
  const code = p.get("activate");
  if (code) $("activation_code").value = code;
}

$("enrol-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error("");
  const code = $("activation_code").value.trim();
  const second = $("second_code").value.trim();
  const name = $("device_name").value.trim();
  const pin = $("pin").value;
  const check = [
    [!code, "activation_code", S.code_missing],
    [!name, "device_name", S.name_missing],
    [!/^\d{6,12}$/.test(pin), "pin", S.pin_format],
    [pin !== $("pin_confirm").value, "pin_confirm", S.pin_mismatch],
  ].find(([bad]) => bad);
  for (const id of ["activation_code", "device_name", "pin", "pin_confirm"]) {
    $(id).removeAttribute("aria-invalid");
  }
  if (check) {
    const [, id, msg] = check;
    $(id).setAttribute("aria-invalid", "true");
    error(msg);
    $(id).focus();
    return;
  }
  $("enrol").disabled = true;
  try {
    const pair = await store.newKeyPair();
    const body = { activation_code: code, public_key: await store.publicKey(pair), name };
    if (second) body.second_code = second;
    const out = await call("devices", { method: "POST", json: body });
    device = await store.seal(
      { realm, device_id: out.device_id, name, expires_at: out.expires_at, key: pair.privateKey },
      pin,
      out.credential,
    );
    credential = out.credential;
    for (const id of ["activation_code", "second_code", "pin", "pin_confirm"]) $(id).value = "";
    history.replaceState(null, "", location.pathname);
    status(S.enrolled);
    startFeed();
  } catch (e) {
    error(explain(e));
  } finally {
    $("enrol").disabled = false;
  }
});

// ---- unlocking ----

async function wrongPin(e, where) {
  if (!(e instanceof store.WrongPin)) throw e;
  if (e.wiped) {
    await lost(S.wiped);
    return;
  }
  where(fill(S.wrong_pin, { left: e.left }));
}

$("unlock-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error("");
  const pin = $("unlock_pin").value;
  $("unlock_pin").value = "";
  try {
    credential = await store.unseal(device, pin);
    startFeed();
  } catch (e) {
    await wrongPin(e, error);
  }
});

$("lock").addEventListener("click", () => lock());

function lock() {
  if (feed) feed.abort();
  feed = null;
  credential = null;
  requests = [];
  render();
  $("unlock-text").textContent = fill(S.unlock_text, { name: device.name });
  show("unlock");
}

/** This device can do nothing more: its record is erased, enrolment is offered. */
async function lost(msg) {
  if (feed) feed.abort();
  feed = null;
  credential = null;
  device = null;
  requests = [];
  render();
  await store.forget(realm);
  show("enrol");
  error(msg);
}

// ---- the PIN before each signature ----

let pinAsked = null;

/** Asks for the PIN in the dialog; true once it is right, false if cancelled. */
function askPin(title, text) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-error").textContent = "";
  $("confirm_pin").value = "";
  $("confirm").showModal();
  $("confirm_pin").focus();
  return new Promise((resolve) => {
    pinAsked = resolve;
  });
}

function closeDialog(result) {
  $("confirm").close();
  if (pinAsked) pinAsked(result);
  pinAsked = null;
}

$("confirm-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const pin = $("confirm_pin").value;
  $("confirm_pin").value = "";
  $("confirm-ok").disabled = true;
  try {
    credential = await store.unseal(device, pin);
    closeDialog(true);
  } catch (e) {
    if (e instanceof store.WrongPin && !e.wiped) {
      $("confirm-error").textContent = fill(S.wrong_pin, { left: e.left });
      $("confirm_pin").focus();
    } else {
      closeDialog(false);
      await wrongPin(e, error);
    }
  } finally {
    $("confirm-ok").disabled = false;
  }
});
$("confirm-cancel").addEventListener("click", () => closeDialog(false));
$("confirm").addEventListener("cancel", () => closeDialog(false));

// ---- decisions ----

async function decide(req, decision) {
  error("");
  status("");
  const title = decision === "approve" ? S.confirm_approve : S.confirm_deny;
  if (!(await askPin(title, fill(S.confirm_text, { client: req.client_id })))) return;
  try {
    const text = store.signedText(realm, req, decision);
    if (req.signed_text && req.signed_text[decision] !== text) throw new Error("unexpected challenge");
    const signature = await store.sign(device.key, text);
    await call(`requests/${encodeURIComponent(req.id)}`, { method: "POST", json: { decision, signature } });
    requests = requests.filter((r) => r.id !== req.id);
    render();
    status(decision === "approve" ? S.approved : S.denied);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return lost(S.revoked);
    error(explain(e));
  }
}

// ---- the list ----

function left(req) {
  return Math.max(0, Math.floor(req.expires_at - (Date.now() / 1000 + skew)));
}

function render() {
  const list = $("requests");
  const shown = requests.filter((r) => left(r) > 0);
  list.replaceChildren(
    ...shown.map((req) => {
      const li = document.createElement("li");
      li.className = "request";
      li.dataset.id = req.id;
      const h = document.createElement("h3");
      h.id = `req-${req.id}`;
      h.textContent = fill(S.request_from, { client: req.client_id });
      const dl = document.createElement("dl");
      const row = (dt, dd, cls) => {
        const t = document.createElement("dt");
        t.textContent = dt;
        const d = document.createElement("dd");
        d.textContent = dd;
        if (cls) d.className = cls;
        dl.append(t, d);
      };
      row(S.binding, req.binding_message || S.no_binding);
      row(S.level, req.acr || S.any_level);
      row(S.expires, fill(S.seconds, { seconds: left(req) }), "left");
      const actions = document.createElement("p");
      actions.className = "actions";
      for (const [decision, label, cls] of [
        ["approve", S.approve, ""],
        ["deny", S.deny, "secondary"],
      ]) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.className = cls;
        b.dataset.decision = decision;
        b.setAttribute("aria-describedby", h.id);
        b.addEventListener("click", () => decide(req, decision));
        actions.append(b);
      }
      li.append(h, dl, actions);
      return li;
    }),
  );
  $("feed-empty").hidden = shown.length > 0;
}

setInterval(() => {
  if (!requests.length) return;
  if (requests.some((r) => left(r) === 0)) {
    requests = requests.filter((r) => left(r) > 0);
    render();
    return;
  }
  for (const li of $("requests").children) {
    const req = requests.find((r) => r.id === li.dataset.id);
    const cell = li.querySelector(".left");
    if (req && cell) cell.textContent = fill(S.seconds, { seconds: left(req) });
  }
}, 1000);

// ---- the live feed ----

/** Reads server-sent events from `body`, calling `on(event, data)` for each. */
async function readEvents(body, on, alive) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    alive();
    buf += value;
    let m;
    while ((m = /\r?\n\r?\n/.exec(buf))) {
      const block = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(":")) continue; // heartbeat
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? "" : line.slice(c + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (field === "event") event = v;
        else if (field === "data") data.push(v);
      }
      if (data.length) on(event, data.join("\n"));
    }
  }
}

function onEvent(event, data) {
  if (event === "requests") {
    const v = JSON.parse(data);
    skew = v.now - Date.now() / 1000;
    requests = v.requests;
    render();
  } else if (event === "revoked") {
    lost(S.revoked);
  }
}

/** Connects the feed and keeps it connected (reconnecting with back-off) until locked. */
async function startFeed() {
  show("feed");
  error("");
  render();
  loadDevices();
  loadPasskeys();
  if (feed) feed.abort();
  const ctl = new AbortController();
  feed = ctl;
  let delay = 1000;
  while (!ctl.signal.aborted) {
    const conn = new AbortController();
    const stop = () => conn.abort();
    ctl.signal.addEventListener("abort", stop);
    let watchdog = setTimeout(stop, SILENCE_MS);
    const alive = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(stop, SILENCE_MS);
    };
    try {
      const res = await fetch(api + "requests/events", {
        headers: { authorization: `Bearer ${credential}`, accept: "text/event-stream" },
        signal: conn.signal,
        cache: "no-store",
      });
      if (res.status === 401) {
        clearTimeout(watchdog);
        await lost(S.revoked);
        return;
      }
      if (!res.ok || !res.body) throw new Error(res.statusText);
      $("feed-state").textContent = S.connected;
      root.dataset.feed = "connected";
      delay = 1000;
      await readEvents(res.body, onEvent, alive);
    } catch {
      // reconnect below
    } finally {
      clearTimeout(watchdog);
      ctl.signal.removeEventListener("abort", stop);
    }
    if (ctl.signal.aborted) return;
    $("feed-state").textContent = S.reconnecting;
    root.dataset.feed = "reconnecting";
    await sleep(delay);
    delay = Math.min(delay * 2, 30000);
  }
}

// ---- devices ----

async function loadDevices() {
  try {
    const v = await call("devices");
    const day = (s) => new Date(s * 1000).toLocaleDateString(document.documentElement.lang);
    $("devices").tBodies[0].replaceChildren(
      ...v.devices.map((d) => {
        const tr = document.createElement("tr");
        const cells = [
          d.this_device ? `${d.name} (${S.this_device})` : d.name,
          day(d.created_at),
          day(d.expires_at),
          d.active ? S.active : S.inactive,
        ];
        for (const c of cells) {
          const td = document.createElement("td");
          td.textContent = c;
          tr.append(td);
        }
        return tr;
      }),
    );
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return lost(S.revoked);
    error(explain(e));
  }
}

$("revoke").addEventListener("click", async () => {
  if (!(await askPin(S.confirm_revoke, S.revoke_text))) return;
  try {
    await call("devices/revoke", { method: "POST" });
    await lost(S.revoked);
  } catch (e) {
    error(explain(e));
  }
});

// ---- a passkey for this device (beyond PSC) ----

const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

$("passkey-register").addEventListener("click", async () => {
  error("");
  status("");
  try {
    if (!window.PublicKeyCredential) throw new Error("WebAuthn");
    const o = await call("passkeys/options", { method: "POST" });
    const cred = await navigator.credentials.create({
      publicKey: {
        challenge: bytes(o.challenge),
        rp: o.rp,
        user: { ...o.user, id: bytes(o.user.id) },
        pubKeyCredParams: o.pubKeyCredParams,
        authenticatorSelection: o.authenticatorSelection,
        attestation: o.attestation,
        timeout: o.timeout,
        excludeCredentials: o.excludeCredentials.map((c) => ({ type: c.type, id: bytes(c.id) })),
      },
    });
    await call("passkeys", {
      method: "POST",
      json: {
        challenge: o.challenge,
        client_data_json: store.b64u(cred.response.clientDataJSON),
        attestation_object: store.b64u(cred.response.attestationObject),
        name: device.name,
      },
    });
    status(S.passkey_done);
    loadPasskeys();
  } catch (e) {
    error(fill(S.passkey_failed, { reason: e.message }));
  }
});

/** The professional's passkeys, each with a button removing it. */
async function loadPasskeys() {
  try {
    const v = await call("passkeys");
    const day = (s) => (s ? new Date(s * 1000).toLocaleDateString(document.documentElement.lang) : S.never);
    $("passkeys").hidden = v.passkeys.length === 0;
    $("passkeys-empty").hidden = v.passkeys.length !== 0;
    $("passkeys").tBodies[0].replaceChildren(
      ...v.passkeys.map((p) => {
        const tr = document.createElement("tr");
        for (const c of [p.name, day(p.created_at), day(p.last_used_at)]) {
          const td = document.createElement("td");
          td.textContent = c;
          tr.append(td);
        }
        const td = document.createElement("td");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary passkey-remove";
        b.textContent = fill(S.passkey_remove, { name: p.name });
        b.addEventListener("click", async () => {
          error("");
          try {
            await call(`passkeys/${encodeURIComponent(p.credential_id)}`, { method: "DELETE" });
            status(S.passkey_removed);
          } catch (e) {
            error(explain(e));
          }
          loadPasskeys();
        });
        td.append(b);
        tr.append(td);
        return tr;
      }),
    );
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return lost(S.revoked);
    error(explain(e));
  }
}

// ---- start ----

async function start() {
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    error(S.unsupported);
    return;
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch(() => {});
  }
  fromFragment();
  device = (await store.load(realm)) || null;
  if (device && (location.hash.includes("activate=") || device.expires_at * 1000 < Date.now())) {
    // A new activation code, or an expired e-CPS: enrol again.
    device = null;
  }
  if (device) {
    lock();
  } else {
    show("enrol");
  }
  root.dataset.ready = "true";
}

start();
