// Drives headless Chromium (Debian's, through playwright-core) through the single-page
// application of tests/node/spa for each client id given: opens <app>/<client>/start, logs in
// on coeur's wallet page with the sandbox test login, and waits for the page's report.
// Prints {"<client>": report, …} as one JSON line. Run by tests/it/cors_browser.rs.
//
// Usage: node spa.mjs APP_BASE NATIONAL_ID CLIENT_ID...
// Environment: COEUR_CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";

const [app, nationalId, ...clients] = process.argv.slice(2);
if (!app || !nationalId || clients.length === 0) {
  console.error("usage: node spa.mjs APP_BASE NATIONAL_ID CLIENT_ID...");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.COEUR_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in containers and CI has no user namespace for Chromium's sandbox.
  args: ["--no-sandbox"],
});
const reports = {};
try {
  for (const client of clients) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const console_ = [];
    page.on("console", (m) => console_.push(`${m.type()}: ${m.text()}`));
    await page.goto(`${app}/${client}/start`);
    await page.waitForSelector("#national_id", { timeout: 20000 });
    await page.fill("#national_id", nationalId);
    await page.click('button[value="test"]');
    await page.waitForFunction(() => document.title === "done", null, { timeout: 20000 });
    const report = JSON.parse(await page.textContent("#out"));
    report.origin = new URL(page.url()).origin;
    report.console = console_;
    reports[client] = report;
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(reports));
