// Load driver for full CPS card logins against coeur.
//
// One login = 4 requests:
//   1. GET  {main}/auth/realms/{realm}/protocol/openid-connect/auth       -> 200 wallet page
//   2. POST {main}/auth/realms/{realm}/protocol/openid-connect/auth/login (method=card)
//                                                                        -> 303 to the card listener
//   3. GET  {card}/auth/realms/{realm}/card/login?handoff=…  on a NEW TLS connection presenting
//      the virtual card's certificate (a full handshake with client authentication each time)
//                                                                        -> 303 back to the main origin
//   4. GET  {main}/…/auth/card-return?result=…                           -> 303 redirect_uri?code=
// Only node: built-ins. The last line is machine-readable:
//   RESULT logins=N errors=E seconds=S logins_per_s=R
//
// Usage: node cardlogin.mjs --base http://127.0.0.1:P --card-ca root.pem --pfx card.p12 \
//          --pin 1234 --client-id ID --redirect-uri URI [--vus 16] [--duration 10] [--warmup 2]

import http from 'node:http';
import tls from 'node:tls';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    realm: { type: 'string', default: 'edit' },
    'client-id': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'card-ca': { type: 'string' },
    pfx: { type: 'string' },
    pin: { type: 'string' },
    vus: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
  },
});
for (const k of ['base', 'client-id', 'redirect-uri', 'card-ca', 'pfx', 'pin']) {
  if (!opt[k]) {
    console.error(`cardlogin.mjs: --${k} is required`);
    process.exit(2);
  }
}
const base = new URL(opt.base);
if (!['127.0.0.1', 'localhost'].includes(base.hostname)) {
  console.error('cardlogin.mjs: loopback only');
  process.exit(2);
}
const ca = fs.readFileSync(opt['card-ca']);
const pfx = fs.readFileSync(opt.pfx);
// One TLS context (the PKCS#12 is decrypted once); every request still makes a new connection
// and a full handshake with the card certificate.
const secureContext = tls.createSecureContext({ ca, pfx, passphrase: opt.pin });
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: Number(opt.vus) * 2 });

function request(url, { method = 'GET', headers = {}, body, tls = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const o = { method, headers, hostname: u.hostname, port: u.port, path: u.pathname + u.search };
    if (u.protocol === 'https:') {
      // agent: false: a new connection, so a new TLS handshake with the card, every time.
      Object.assign(o, { agent: false, secureContext });
    } else {
      o.agent = keepAlive;
    }
    const req = lib.request(o, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function cookieOf(res, name) {
  for (const c of [].concat(res.headers['set-cookie'] || [])) {
    const [kv] = c.split(';');
    const [k, v] = kv.split('=');
    if (k.trim() === name) return `${name}=${v}`;
  }
  return null;
}

async function login() {
  const state = crypto.randomBytes(8).toString('hex');
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({
    client_id: opt['client-id'], response_type: 'code', scope: 'openid scope_all',
    redirect_uri: opt['redirect-uri'], state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  const realm = `${base.origin}/auth/realms/${opt.realm}/protocol/openid-connect`;
  const page = await request(`${realm}/auth?${q}`);
  if (page.status !== 200) throw new Error(`authorize ${page.status}`);
  const rid = /name="request_id" value="([^"]+)"/.exec(page.body)?.[1];
  const cookie = cookieOf(page, 'COEUR_LOGIN');
  if (!rid || !cookie) throw new Error('no wallet form');
  const body = new URLSearchParams({ request_id: rid, national_id: '', method: 'card' }).toString();
  const post = await request(`${realm}/auth/login`, {
    method: 'POST', body,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
  });
  if (post.status !== 303) throw new Error(`wallet ${post.status}`);
  const card = await request(post.headers.location);
  if (card.status !== 303) throw new Error(`card ${card.status}`);
  const back = await request(card.headers.location, { headers: { cookie } });
  if (back.status !== 303 || !back.headers.location.includes('code=')) throw new Error(`return ${back.status}`);
}

const vus = Number(opt.vus);
const warmupEnd = Date.now() + Number(opt.warmup) * 1000;
const end = warmupEnd + Number(opt.duration) * 1000;
let done = 0;
let errors = 0;
let firstError = null;
await Promise.all(Array.from({ length: vus }, async () => {
  while (Date.now() < end) {
    try {
      await login();
      if (Date.now() >= warmupEnd) done += 1;
    } catch (e) {
      errors += 1;
      firstError ??= e.message;
    }
  }
}));
const seconds = Number(opt.duration);
if (firstError) console.error(`first error: ${firstError}`);
console.log(`RESULT logins=${done} errors=${errors} seconds=${seconds} logins_per_s=${(done / seconds).toFixed(1)}`);
process.exit(errors > 0 ? 1 : 0);
