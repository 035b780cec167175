// Load driver for certificate issuance through coeur's CA API.
//
// Each request is POST /pki/api/v1/requests with a bearer access token (client_credentials,
// scope ca:request) on keep-alive connections. The CSRs are pre-generated and rotated; the
// realm must approve automatically (sandbox), so every accepted request answers 201 with
// status "issued" and the certificate, which the server has committed together with its audit
// record before answering. Any other answer counts as an error.
//
// The driver runs --connections concurrent requesters for --warmup seconds (not counted), then
// for --duration seconds. When --server-pid is given it also reports the server's CPU time
// (user + system) and run-queue wait over the measured window, from /proc. Only node: built-ins.
//
// Usage:
//   node ca-issue.mjs --base http://127.0.0.1:PORT --client-id ID --secret S \
//        --csrs FILE --ca CA --profile SSL_SERV --structure-id ID --organization O --state ST \
//        [--realm edit] [--connections 16] [--duration 10] [--warmup 3] [--server-pid PID]
//
// FILE holds one CSR per line as "<dns name>\t<PEM with \n escaped as \\n>".
//
// The last line is machine-readable:
//   RESULT certs=N errors=E seconds=S certs_per_s=R p50_ms=A p99_ms=B issued_total=T server_cpu=C
//          server_runq_wait=W
// where C is the server's CPU use in cores over the measured window and W the time its threads
// spent runnable but not running, in seconds per second.

import http from 'node:http';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    realm: { type: 'string', default: 'edit' },
    'client-id': { type: 'string' },
    secret: { type: 'string' },
    csrs: { type: 'string' },
    ca: { type: 'string' },
    profile: { type: 'string', default: 'SSL_SERV' },
    'structure-id': { type: 'string' },
    organization: { type: 'string' },
    state: { type: 'string' },
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'server-pid': { type: 'string' },
  },
});

for (const k of ['base', 'client-id', 'secret', 'csrs', 'ca', 'structure-id', 'organization', 'state']) {
  if (!opt[k]) {
    console.error(`ca-issue.mjs: --${k} is required`);
    process.exit(2);
  }
}

const base = new URL(opt.base);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname) || base.protocol !== 'http:') {
  console.error('ca-issue.mjs: only plain http on the loopback interface is supported');
  process.exit(2);
}
const connections = Number(opt.connections);
const durationMs = Number(opt.duration) * 1000;
const warmupMs = Number(opt.warmup) * 1000;
const tokenPath = `/auth/realms/${encodeURIComponent(opt.realm)}/protocol/openid-connect/token`;
const basic = 'Basic ' + Buffer.from(
  `${encodeURIComponent(opt['client-id'])}:${encodeURIComponent(opt.secret)}`,
).toString('base64');

// Request bodies, built once.
const bodies = fs.readFileSync(opt.csrs, 'utf8').split('\n').filter(Boolean).map((line) => {
  const [dns, pem] = line.split('\t');
  return Buffer.from(JSON.stringify({
    ca: opt.ca,
    profile: opt.profile,
    csr: pem.replaceAll('\\n', '\n'),
    subject: {
      structure_id: opt['structure-id'],
      organization: opt.organization,
      state: opt.state,
      dns_names: [dns],
    },
  }));
});
if (bodies.length === 0) {
  console.error('ca-issue.mjs: no CSRs');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });

function request(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port,
        method,
        path,
        agent,
        headers: { ...headers, 'content-length': body.length },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Access token, renewed at half its lifetime (the sandbox realm gives 120 s).
let bearer = '';
let renewAt = 0;
let renewing = null;
async function fetchToken() {
  const r = await request('POST', tokenPath, {
    authorization: basic,
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  }, Buffer.from('grant_type=client_credentials&scope=ca%3Arequest'));
  if (r.status !== 200) throw new Error(`token endpoint answered ${r.status}: ${r.body.slice(0, 300)}`);
  const t = JSON.parse(r.body);
  bearer = `Bearer ${t.access_token}`;
  renewAt = Date.now() + (Number(t.expires_in) || 60) * 500;
}
async function token() {
  if (Date.now() >= renewAt) {
    renewing ??= fetchToken().finally(() => { renewing = null; });
    await renewing;
  }
  return bearer;
}

function cpuTicks(pid) {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
  } catch {
    return null;
  }
}
const TICKS_PER_S = 100;

// Seconds the server's threads spent runnable but not running (other processes on its CPU and
// its own threads competing for it).
function runQueueWait(pid) {
  if (!pid) return null;
  try {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[1]);
    }
    return ns / 1e9;
  } catch {
    return null;
  }
}

const latencies = [];
let measuring = false;
let stop = false;
let certs = 0;
let issuedTotal = 0;
let errors = 0;
let firstError = '';
let next = 0;

async function requester() {
  while (!stop) {
    const body = bodies[next++ % bodies.length];
    const t0 = process.hrtime.bigint();
    let ok = false;
    try {
      const r = await request('POST', '/pki/api/v1/requests', {
        authorization: await token(),
        'content-type': 'application/json',
        accept: 'application/json',
      }, body);
      if (r.status === 201) {
        const o = JSON.parse(r.body);
        ok = o.status === 'issued' && typeof o.certificate === 'string'
          && o.certificate.startsWith('-----BEGIN CERTIFICATE-----');
      }
      if (ok) issuedTotal++;
      else if (!firstError) firstError = `${r.status} ${r.body.slice(0, 300)}`;
    } catch (e) {
      if (!firstError) firstError = String(e);
    }
    if (!ok) {
      errors++;
      if (!measuring && !stop) {
        // Failing during warm-up: no point going on.
        stop = true;
      }
      continue;
    }
    if (measuring) {
      certs++;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
}

await fetchToken();
const workers = Array.from({ length: connections }, requester);
await new Promise((r) => setTimeout(r, warmupMs));
const pid = opt['server-pid'];
const cpu0 = cpuTicks(pid);
const wait0 = runQueueWait(pid);
const t0 = process.hrtime.bigint();
measuring = !stop;
await new Promise((r) => setTimeout(r, measuring ? durationMs : 0));
measuring = false;
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu1 = cpuTicks(pid);
const wait1 = runQueueWait(pid);
stop = true;
await Promise.all(workers);
agent.destroy();

latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
const serverCpu = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / TICKS_PER_S / seconds).toFixed(2) : 'n/a';
const serverWait = wait0 !== null && wait1 !== null ? ((wait1 - wait0) / seconds).toFixed(2) : 'n/a';
if (firstError) console.log(`first error: ${firstError}`);
console.log(
  `issued ${certs} certificates in ${seconds.toFixed(2)} s with ${connections} connections `
  + `(${bodies.length} CSRs rotated); server CPU ${serverCpu} cores, `
  + `run-queue wait ${serverWait} s/s`,
);
console.log(
  `RESULT certs=${certs} errors=${errors} seconds=${seconds.toFixed(3)} `
  + `certs_per_s=${(certs / seconds).toFixed(1)} p50_ms=${pct(0.5).toFixed(2)} p99_ms=${pct(0.99).toFixed(2)} `
  + `issued_total=${issuedTotal} server_cpu=${serverCpu} server_runq_wait=${serverWait}`,
);
process.exit(errors ? 1 : 0);
