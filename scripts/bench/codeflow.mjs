// Load driver for full sandbox code-flow logins against coeur.
//
// One login = 3 HTTP requests on keep-alive connections:
//   1. GET  {realm}/protocol/openid-connect/auth        (PKCE S256, state, nonce) -> 200 wallet page
//   2. POST {realm}/protocol/openid-connect/auth/login  (request_id, national_id, method=test,
//                                                        COEUR_LOGIN cookie)        -> 303 redirect_uri?code=
//   3. POST {realm}/protocol/openid-connect/token       (authorization_code, client_secret_basic)
//                                                                                   -> 200 tokens
// Every virtual user plays a fresh browser (no session cookie), so each login is a full login,
// never an SSO shortcut. The driver runs --vus users for --warmup seconds (not counted), then
// for --duration seconds, and prints the completed logins per second. Only node: built-ins.
//
// Usage:
//   node codeflow.mjs --base http://127.0.0.1:PORT --realm edit --client-id ID --secret S \
//        --redirect-uri URI [--national-id 899700218896] [--vus 32] [--duration 10] [--warmup 3] \
//        [--server-pid PID] [--server-cpu N]
//
// With --server-pid (Linux), the CPU time the server used during the measurement is read from
// /proc, giving logins per server CPU-second: a figure that holds on a busy machine. With
// --server-cpu, the busy time of that CPU too, so that what other processes took of it shows.
// The last line is machine-readable:
//   RESULT logins=N errors=E seconds=S logins_per_s=R p50_ms=A p99_ms=B server_cpu_s=C
//          core_busy_s=D

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    realm: { type: 'string', default: 'edit' },
    'client-id': { type: 'string' },
    secret: { type: 'string' },
    'redirect-uri': { type: 'string' },
    'national-id': { type: 'string', default: '899700218896' },
    scope: { type: 'string', default: 'openid scope_all' },
    vus: { type: 'string', default: '32' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'server-pid': { type: 'string' },
    'server-cpu': { type: 'string' },
  },
});

for (const k of ['base', 'client-id', 'secret', 'redirect-uri']) {
  if (!opt[k]) {
    console.error(`codeflow.mjs: --${k} is required`);
    process.exit(2);
  }
}

const base = new URL(opt.base);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname) || base.protocol !== 'http:') {
  console.error('codeflow.mjs: only plain http on the loopback interface is supported');
  process.exit(2);
}
const vus = Number(opt.vus);
const durationMs = Number(opt.duration) * 1000;
const warmupMs = Number(opt.warmup) * 1000;
const oc = `/auth/realms/${encodeURIComponent(opt.realm)}/protocol/openid-connect`;
const basic = 'Basic ' + Buffer.from(
  `${encodeURIComponent(opt['client-id'])}:${encodeURIComponent(opt.secret)}`,
).toString('base64');
const redirectUri = opt['redirect-uri'];

const agent = new http.Agent({ keepAlive: true, maxSockets: vus, maxFreeSockets: vus });

function request(method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port,
        method,
        path,
        agent,
        headers: body === undefined
          ? headers
          : { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path.split('?')[0]}: timed out`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const b64url = (buf) => buf.toString('base64url');

function cookieValue(setCookie, name) {
  for (const c of setCookie ?? []) {
    const [pair] = c.split(';');
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1);
  }
  return undefined;
}

class LoginError extends Error {}

function expect(cond, what, res) {
  if (!cond) {
    const body = res?.body ? ` ${res.body.slice(0, 200).replace(/\s+/g, ' ')}` : '';
    throw new LoginError(`${what} (status ${res?.status})${body}`);
  }
}

async function login() {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(12));
  const nonce = b64url(crypto.randomBytes(12));

  // 1. Authorization request: the wallet page.
  const q = new URLSearchParams({
    client_id: opt['client-id'],
    response_type: 'code',
    scope: opt.scope,
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const page = await request('GET', `${oc}/auth?${q}`);
  expect(page.status === 200, 'authorize: expected 200', page);
  const browser = cookieValue(page.headers['set-cookie'], 'COEUR_LOGIN');
  expect(browser, 'authorize: no COEUR_LOGIN cookie', page);
  const m = /name="request_id"\s+value="([^"]+)"/.exec(page.body);
  expect(m, 'authorize: no request_id in the wallet page', page);

  // 2. Wallet login with a sandbox test identity.
  const form = new URLSearchParams({ request_id: m[1], national_id: opt['national-id'], method: 'test' });
  const done = await request('POST', `${oc}/auth/login`, { cookie: `COEUR_LOGIN=${browser}` }, form.toString());
  expect(done.status === 303 || done.status === 302, 'login: expected a redirect', done);
  const loc = new URL(done.headers.location ?? '', 'http://invalid/');
  expect(`${loc.origin}${loc.pathname}` === redirectUri, `login: redirected to ${done.headers.location}`, done);
  expect(loc.searchParams.get('state') === state, 'login: state mismatch', done);
  const code = loc.searchParams.get('code');
  expect(code, 'login: no code in the redirect', done);

  // 3. Token request.
  const tbody = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
  const tok = await request('POST', `${oc}/token`, { authorization: basic, accept: 'application/json' }, tbody.toString());
  expect(tok.status === 200, 'token: expected 200', tok);
  const t = JSON.parse(tok.body);
  expect(typeof t.access_token === 'string' && typeof t.id_token === 'string', 'token: missing tokens', tok);
}

let measuring = false;
let stopping = false;
let logins = 0;
let errors = 0;
const errorSamples = new Map();
const latencies = [];

async function vu() {
  while (!stopping) {
    const t0 = performance.now();
    try {
      await login();
      // Throughput counts the logins that complete inside the measurement window.
      if (measuring) {
        logins += 1;
        latencies.push(performance.now() - t0);
      }
    } catch (e) {
      if (stopping) break;
      errors += 1;
      const k = String(e.message ?? e);
      errorSamples.set(k, (errorSamples.get(k) ?? 0) + 1);
      // Avoid a hot loop against a server that refuses everything.
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
function cpuTicks(pid) {
  if (!pid) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}
const CLK_TCK = 100; // USER_HZ on Linux

// Busy time of one CPU in clock ticks (/proc/stat: all but idle and iowait).
function coreTicks(cpu) {
  if (cpu === undefined) return undefined;
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  } catch {
    return undefined;
  }
}
const secondsOf = (a, b) => (a !== undefined && b !== undefined ? ((b - a) / CLK_TCK).toFixed(2) : 'n/a');

const workers = Array.from({ length: vus }, vu);
await sleep(warmupMs);
const warmErrors = errors;
const cpu0 = cpuTicks(opt['server-pid']);
const core0 = coreTicks(opt['server-cpu']);
measuring = true;
const start = performance.now();
await sleep(durationMs);
measuring = false;
const seconds = (performance.now() - start) / 1000;
const cpu1 = cpuTicks(opt['server-pid']);
const core1 = coreTicks(opt['server-cpu']);
const serverCpu = secondsOf(cpu0, cpu1);
const coreBusy = secondsOf(core0, core1);
stopping = true;
await Promise.race([Promise.all(workers), sleep(11_000)]);
agent.destroy();

latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : 0);
for (const [msg, n] of errorSamples) console.error(`codeflow.mjs: ${n} x ${msg}`);
const rate = logins / seconds;
console.log(
  `RESULT logins=${logins} errors=${errors} warmup_errors=${warmErrors} seconds=${seconds.toFixed(2)} ` +
    `logins_per_s=${rate.toFixed(1)} p50_ms=${pct(50).toFixed(2)} p99_ms=${pct(99).toFixed(2)} server_cpu_s=${serverCpu} core_busy_s=${coreBusy}`,
);
process.exit(0);
