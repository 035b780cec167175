// Drives the e-CPS web app in headless Chromium (Debian's, through playwright-core), with two
// browser contexts: the professional's phone (the web app) and the computer where they log in
// to an application (test client `rp`). Run by tests/it/ecps_app.rs, which reads the report.
//
//  1. phone: opens the app from the enrolment QR code's link (`…/ecps/app/#activate=CODE`),
//     names the device, chooses a PIN, activates; the live feed connects;
//  2. computer: starts a login, chooses e-CPS, waits on the waiting page;
//  3. phone: the request arrives live; approve, a wrong PIN first, then the right one;
//  4. computer: the waiting page continues by itself to the application's redirect URI;
//  5. again, denied on the phone: the waiting page shows the denial in place;
//  6. phone: the app still opens offline (service worker); the device list;
//  7. phone: a passkey registered from the app (Chromium's virtual authenticator, user
//     verification), then a login on the phone itself with it;
//  8. phone: the passkey removed from the app; the same authenticator is then refused at login.
// Each view is audited with axe-core and kept as a screenshot.
//
// Usage: node ecps-app.mjs JOB.json
// JOB.json: { "base", "realm", "code", "national_id", "authorize_url", "redirect", "pin",
//   "second_code"? (an activation by e-mail: the SMS code), "until"? ("approved": steps 1–4
//   only), "shots"? (the screenshots' name prefix, default "ecps-app") }
// Report (one JSON line): { "steps": [...], "callback", "denied", "waiting_loads",
//   "offline_title", "devices", "axe": [{ "name", "violations" }], "screenshots": [...],
//   "console": [...], "error"? }
// Environment: COEUR_CHROMIUM (default /usr/bin/chromium); COEUR_SCREENSHOTS (default
// target/screenshots of the repository).
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [jobFile] = process.argv.slice(2);
if (!jobFile) {
  console.error("usage: node ecps-app.mjs JOB.json");
  process.exit(2);
}
const job = JSON.parse(await readFile(jobFile, "utf8"));
const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const shots =
  process.env.COEUR_SCREENSHOTS || fileURLToPath(new URL("../../target/screenshots", import.meta.url));
await mkdir(shots, { recursive: true });

const report = { steps: [], axe: [], screenshots: [], console: [] };
const step = (s) => report.steps.push(s);

async function keep(page, name) {
  const path = join(shots, `${job.shots || "ecps-app"}.${name}.png`);
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
  // axe-core, injected (the pages' policy allows only coeur's own scripts: the contexts
  // bypass it for the audit).
  await page.addScriptTag({ path: axePath });
  const r = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
    TAGS,
  );
  report.axe.push({
    name,
    violations: r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    })),
  });
}

const browser = await chromium.launch({
  executablePath: process.env.COEUR_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in containers and CI has no user namespace for Chromium's sandbox.
  args: ["--no-sandbox"],
});

async function context(extra = {}) {
  const c = await browser.newContext({
    locale: "fr-FR",
    extraHTTPHeaders: { "Accept-Language": "fr-FR,fr;q=0.9" },
    bypassCSP: true,
    ...extra,
  });
  return c;
}

function watch(page, who) {
  page.on("console", (m) => report.console.push(`${who} ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => report.console.push(`${who} pageerror: ${e.message}`));
  page.setDefaultTimeout(20000);
}

/** Starts a login on a new computer context; the page on the waiting page. */
async function startLogin(name) {
  const c = await context({ viewport: { width: 1280, height: 800 } });
  const page = await c.newPage();
  watch(page, name);
  let loads = 0;
  page.on("request", (r) => {
    if (r.isNavigationRequest() && r.url().includes("/auth/ecps?")) loads += 1;
  });
  await page.goto(job.authorize_url);
  await page.fill("#national_id", job.national_id);
  await page.click('button[name=method][value=ecps]');
  await page.waitForSelector('#ecps-wait[data-state="waiting"]');
  return { c, page, loads: () => loads };
}

/** On the phone: waits for the request, answers `decision`, entering `pins` in turn. */
async function answer(phone, decision, pins, shotPrefix) {
  const button = `li.request button[data-decision="${decision}"]`;
  await phone.waitForSelector(button);
  if (shotPrefix) await keep(phone, `${shotPrefix}-request`);
  await phone.click(button);
  await phone.waitForSelector("#confirm[open]");
  for (const [i, pin] of pins.entries()) {
    await phone.fill("#confirm_pin", pin);
    if (shotPrefix && i === pins.length - 1) await keep(phone, `${shotPrefix}-pin`);
    await phone.click("#confirm-ok");
    if (i < pins.length - 1) {
      await phone.waitForFunction(() => document.getElementById("confirm-error").textContent !== "");
      report.wrong_pin = await phone.textContent("#confirm-error");
    }
  }
  await phone.waitForSelector("#confirm:not([open])", { state: "attached" });
  await phone.waitForFunction(() => document.getElementById("status").textContent !== "");
  return phone.textContent("#status");
}

try {
  // 1. Enrolment on the phone.
  const phoneCtx = await context({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const phone = await phoneCtx.newPage();
  watch(phone, "phone");
  const app = `${job.base}/auth/realms/${job.realm}/ecps/app/`;
  await phone.goto(`${app}#activate=${encodeURIComponent(job.code)}`);
  await phone.waitForSelector('#ecps-app[data-ready="true"]');
  report.prefilled = await phone.inputValue("#activation_code");
  report.online_title = await phone.title();
  await phone.fill("#device_name", "Téléphone pro");
  // An activation by e-mail: the code sent by SMS too.
  if (job.second_code) await phone.fill("#second_code", job.second_code);
  await keep(phone, "enrol");
  // A PIN that does not match its confirmation is refused in place.
  await phone.fill("#pin", job.pin);
  await phone.fill("#pin_confirm", "000000");
  await phone.click("#enrol");
  report.pin_mismatch = await phone.textContent("#error");
  await phone.fill("#pin_confirm", job.pin);
  await phone.click("#enrol");
  await phone.waitForSelector('#ecps-app[data-feed="connected"]');
  report.after_enrol_url = phone.url();
  await phone.waitForSelector("#devices tbody tr");
  await keep(phone, "feed");
  step("enrolled");

  // 2–4. A login approved on the phone.
  const one = await startLogin("computer");
  await keep(one.page, "wait");
  // The browser goes to the application's redirect URI: the request is what counts (its
  // host does not exist; routes do not see the targets of redirects).
  const toRp = one.page.waitForRequest((r) => r.url().startsWith(job.redirect), { timeout: 30000 });
  toRp.catch(() => {}); // awaited below; an earlier failure must reach the report, not crash
  report.approved_status = await answer(phone, "approve", ["999999", job.pin], "approve");
  report.callback = (await toRp).url();
  report.waiting_loads = one.loads();
  step("approved");
  await one.c.close();

  // With `until: "approved"`, the run ends here.
  if (job.until !== "approved") {
    // 5. A login denied on the phone.
    const two = await startLogin("computer-2");
    report.denied_status = await answer(phone, "deny", [job.pin], "deny");
    await two.page.waitForSelector('[data-when="denied"]:not([hidden])');
    report.denied = {
      url: two.page.url(),
      text: await two.page.textContent('[data-when="denied"] [role=alert]'),
      waiting_loads: two.loads(),
    };
    await keep(two.page, "wait-denied");
    step("denied");
    await two.c.close();

    // 6. The device list, then the app offline (its shell from the service worker).
    report.devices = await phone.$$eval("#devices tbody tr", (rows) => rows.map((r) => r.textContent));
    await phone.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await phoneCtx.setOffline(true);
    await phone.reload();
    await phone.waitForSelector('#ecps-app[data-ready="true"]');
    report.offline_title = await phone.title();
    report.offline_view = await phone.getAttribute("#ecps-app", "data-view");
    await keep(phone, "offline");
    await phoneCtx.setOffline(false);
    step("offline");

    // 7. A passkey on the phone (Chromium's virtual authenticator, with user verification),
    // then a login on the phone itself with it.
    const cdp = await phoneCtx.newCDPSession(phone);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await phone.fill("#unlock_pin", job.pin);
    await phone.click("#unlock");
    await phone.waitForSelector('#ecps-app[data-feed="connected"]');
    await phone.click("#passkey-register");
    await phone.waitForFunction(() => document.getElementById("status").textContent !== "" || !document.getElementById("error").hidden);
    report.passkey_status = await phone.textContent("#status");
    report.passkey_error = await phone.textContent("#error");
    await keep(phone, "passkey-registered");
    const toRpPasskey = phone.waitForRequest((r) => r.url().startsWith(job.redirect), { timeout: 30000 });
    await phone.goto(job.authorize_url);
    await phone.click('button[name=method][value=passkey]');
    report.passkey_callback = (await toRpPasskey).url();
    const creds = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    report.passkey_credentials = creds.credentials.map((c) => ({ resident: c.isResidentCredential, sign_count: c.signCount }));
    step("passkey");

    // 8. The passkey removed from the app: the same authenticator no longer logs anyone in.
    // (The page may still be on its way to the application's unreachable host: try again.)
    for (let i = 0; ; i++) {
      try {
        await phone.goto(app);
        break;
      } catch (e) {
        if (i >= 3) throw e;
        await phone.waitForTimeout(250);
      }
    }
    await phone.waitForSelector('#ecps-app[data-ready="true"]');
    await phone.fill("#unlock_pin", job.pin);
    await phone.click("#unlock");
    await phone.waitForSelector(".passkey-remove");
    await keep(phone, "passkeys");
    report.passkey_rows = await phone.$$eval("#passkeys tbody tr", (rows) =>
      rows.map((r) => [...r.cells].slice(0, 3).map((c) => c.textContent)),
    );
    await phone.click(".passkey-remove");
    await phone.waitForFunction(() => !document.getElementById("passkeys-empty").hidden);
    report.passkey_removed_status = await phone.textContent("#status");
    const refusedAnswer = phone.waitForResponse(
      (r) => r.url().includes("/openid-connect/auth/passkey") && r.request().method() === "POST",
      { timeout: 30000 },
    );
    refusedAnswer.catch(() => {}); // awaited below
    // The phone has a session since the passkey login: prompt=login asks for a login anyway.
    await phone.goto(`${job.authorize_url}&prompt=login`);
    await phone.click('button[name=method][value=passkey]');
    const refusal = await refusedAnswer;
    report.passkey_removed_answer = { status: refusal.status(), location: refusal.headers().location || null };
    await phone.waitForLoadState();
    report.passkey_removed_text = await phone.textContent("body");
    step("passkey-removed");
  }
  await phoneCtx.close();
} catch (e) {
  report.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
