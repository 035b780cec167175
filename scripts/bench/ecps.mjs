// Load driver for the e-CPS benchmark (scripts/bench-ecps.sh). Only node: built-ins.
//
//   node ecps.mjs enrol  --base URL --card-base URL --card-ca root.pem --pfx card.p12 --pin P --out device.json
//       presents the virtual card on the card listener's enrolment page, then enrols a device
//       (a P-256 key made here; only its public key is sent) with the activation code shown.
//   node ecps.mjs ids    --base URL --client-id ID --secret S --count N --out ids.txt [--vus 32]
//       makes N pending CIBA requests (unknown national ids, 600 s) and writes their auth_req_ids.
//   node ecps.mjs logins --base URL --client-id ID --secret S --device device.json [--vus 16] [--duration 10]
//       full browserless e-CPS logins: CIBA request (MOBILE) -> the device lists its requests and
//       signs its approval -> the client polls the token endpoint and gets its tokens.
// The last line of `logins` is machine-readable:
//   RESULT logins=N errors=E seconds=S logins_per_s=R

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const mode = process.argv[2];
const { values: opt } = parseArgs({
  args: process.argv.slice(3),
  options: {
    base: { type: 'string' },
    'card-base': { type: 'string' },
    'card-ca': { type: 'string' },
    pfx: { type: 'string' },
    pin: { type: 'string' },
    out: { type: 'string' },
    realm: { type: 'string', default: 'edit' },
    'client-id': { type: 'string' },
    secret: { type: 'string' },
    device: { type: 'string' },
    count: { type: 'string', default: '20000' },
    vus: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
  },
});
const base = new URL(opt.base);
const realmUrl = `${base.origin}/auth/realms/${opt.realm}`;
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: Number(opt.vus) * 2 });

function request(url, { method = 'GET', headers = {}, body, secureContext } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const o = { method, headers, hostname: u.hostname, port: u.port, path: u.pathname + u.search };
    if (u.protocol === 'https:') Object.assign(o, { agent: false, secureContext });
    else o.agent = keepAlive;
    const req = lib.request(o, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const form = (fields) => {
  const body = new URLSearchParams(fields).toString();
  return { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), body };
};
const basic = () => `Basic ${Buffer.from(`${opt['client-id']}:${opt.secret}`).toString('base64')}`;

function luhn(digits) {
  let sum = 0;
  let double = true;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = Number(digits[i]);
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return String((10 - (sum % 10)) % 10);
}

async function ciba(loginHint, binding) {
  const { body, ...headers } = form({
    scope: 'openid all', acr_values: 'eidas1', binding_message: binding, channel: 'MOBILE',
    requested_expiry: '600', login_hint: loginHint,
  });
  const r = await request(`${realmUrl}/protocol/openid-connect/ext/ciba/auth`, {
    method: 'POST', body, headers: { ...headers, authorization: basic() },
  });
  if (r.status !== 200) throw new Error(`ciba ${r.status} ${r.body}`);
  return JSON.parse(r.body).auth_req_id;
}

if (mode === 'enrol') {
  const secureContext = tls.createSecureContext({
    ca: fs.readFileSync(opt['card-ca']), pfx: fs.readFileSync(opt.pfx), passphrase: opt.pin,
  });
  const page = await request(`${opt['card-base']}/auth/realms/${opt.realm}/ecps/enrol`, { secureContext });
  const code = /id="activation-code">([^<]+)</.exec(page.body)?.[1];
  if (!code) throw new Error(`no activation code (${page.status})`);
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const body = JSON.stringify({ activation_code: code, public_key: point.toString('base64url'), name: 'bench' });
  const r = await request(`${realmUrl}/ecps/devices`, {
    method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  if (r.status !== 201) throw new Error(`enrol ${r.status} ${r.body}`);
  const v = JSON.parse(r.body);
  fs.writeFileSync(opt.out, JSON.stringify({ credential: v.credential, key: privateKey.export({ format: 'jwk' }) }), { mode: 0o600 });
  console.log('enrolled');
} else if (mode === 'ids') {
  const count = Number(opt.count);
  const ids = [];
  let n = 0;
  await Promise.all(Array.from({ length: Number(opt.vus) }, async (_, vu) => {
    while (n < count) {
      n += 1;
      const body = String(vu).padStart(2, '0') + String(n).padStart(8, '0');
      ids.push(await ciba(`8${body}${luhn(body)}`, '00'));
    }
  }));
  fs.writeFileSync(opt.out, `${ids.join('\n')}\n`);
  console.log(`ids=${ids.length}`);
} else if (mode === 'logins') {
  const device = JSON.parse(fs.readFileSync(opt.device, 'utf8'));
  const key = crypto.createPrivateKey({ key: device.key, format: 'jwk' });
  const nationalId = '899700218896';
  let seq = 0;
  async function login(vu) {
    seq += 1;
    const binding = `${vu}-${seq}`;
    const authReqId = await ciba(nationalId, binding);
    const list = await request(`${realmUrl}/ecps/requests`, { headers: { authorization: `Bearer ${device.credential}` } });
    if (list.status !== 200) throw new Error(`requests ${list.status}`);
    const mine = JSON.parse(list.body).requests.find((r) => r.binding_message === binding);
    if (!mine) throw new Error('request not listed');
    const signature = crypto
      .sign('sha256', Buffer.from(mine.signed_text.approve), { key, dsaEncoding: 'ieee-p1363' })
      .toString('base64url');
    const body = JSON.stringify({ decision: 'approve', signature });
    const d = await request(`${realmUrl}/ecps/requests/${mine.id}`, {
      method: 'POST', body,
      headers: { authorization: `Bearer ${device.credential}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    if (d.status !== 200) throw new Error(`decision ${d.status} ${d.body}`);
    const { body: tb, ...th } = form({ grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: authReqId });
    const t = await request(`${realmUrl}/protocol/openid-connect/token`, {
      method: 'POST', body: tb, headers: { ...th, authorization: basic() },
    });
    if (t.status !== 200 || !JSON.parse(t.body).id_token) throw new Error(`token ${t.status} ${t.body}`);
  }
  const warmupEnd = Date.now() + Number(opt.warmup) * 1000;
  const end = warmupEnd + Number(opt.duration) * 1000;
  let done = 0;
  let errors = 0;
  let firstError = null;
  await Promise.all(Array.from({ length: Number(opt.vus) }, async (_, vu) => {
    while (Date.now() < end) {
      try {
        await login(vu);
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
} else {
  console.error('usage: node ecps.mjs enrol|ids|logins …');
  process.exit(2);
}
