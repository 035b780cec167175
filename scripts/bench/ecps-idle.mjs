// Memory of idle e-CPS authenticators: opens COUNT connections to the device feed
// (`GET …/ecps/requests/events`, the device credential as bearer, as the web app does), waits
// until each got its first event, then reads the server's resident memory (VmRSS of PID) and
// prints the cost per idle connection. Run by scripts/bench-ecps-idle.sh.
//
// Usage: node ecps-idle.mjs --base URL --realm R --credential C --pid PID [--count N]
// Prints: ecps_idle connections=N rss_before_kib=… rss_after_kib=… kib_per_connection=…
import net from "node:net";
import { readFileSync } from "node:fs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const base = new URL(arg("base"));
const realm = arg("realm", "edit");
const credential = arg("credential");
const pid = arg("pid");
const count = Number(arg("count", "10000"));
if (!credential || !pid) {
  console.error("usage: node ecps-idle.mjs --base URL --realm R --credential C --pid PID [--count N]");
  process.exit(2);
}

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
const request =
  `GET /auth/realms/${realm}/ecps/requests/events HTTP/1.1\r\n` +
  `Host: ${base.host}\r\nAuthorization: Bearer ${credential}\r\nAccept: text/event-stream\r\n\r\n`;

function open() {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(base.port), base.hostname);
    let got = "";
    const fail = (e) => reject(e);
    s.once("error", fail);
    s.on("data", (d) => {
      got += d.toString();
      if (got.includes("event: requests")) {
        s.removeListener("error", fail);
        s.on("error", () => {});
        s.removeAllListeners("data");
        s.on("data", () => {}); // heartbeats
        resolve(s);
      } else if (got.startsWith("HTTP/1.1") && !got.startsWith("HTTP/1.1 200")) {
        reject(new Error(got.split("\r\n")[0]));
      }
    });
    s.write(request);
  });
}

// Settle, then measure with one connection open (the server's first-use allocations).
const warm = await open();
await new Promise((r) => setTimeout(r, 500));
const before = rss();
const sockets = [warm];
const BATCH = 200;
for (let i = 1; i < count; i += BATCH) {
  const n = Math.min(BATCH, count - i);
  sockets.push(...(await Promise.all(Array.from({ length: n }, open))));
}
await new Promise((r) => setTimeout(r, 2000));
const after = rss();
const per = (after - before) / (count - 1);
console.log(
  `ecps_idle connections=${sockets.length} rss_before_kib=${before} rss_after_kib=${after} kib_per_connection=${per.toFixed(2)}`,
);
for (const s of sockets) s.destroy();
