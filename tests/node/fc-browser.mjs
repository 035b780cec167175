// Drives headless Chromium (Debian's, through playwright-core) through a FranceConnect login:
// coeur's wallet page, the button "FranceConnect", the upstream's own login page
// (tests/node/fc-upstream.mjs), and back through coeur to the application, whose address
// (https://rp.example/…) the browser cannot reach: the request's URL is reported. Prints {"callback": URL, "title": the page before it} as one JSON line. Run by
// tests/it/franceconnect/browser.rs.
//
// Usage: node fc-browser.mjs AUTHORIZATION_URL LOGIN
// Environment: COEUR_CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";

const [authorize, login] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.COEUR_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
const report = {};
try {
  const context = await browser.newContext({ locale: "fr-FR" });
  const page = await context.newPage();
  let reached;
  const done = new Promise((resolve) => { reached = resolve; });
  // A redirect to the application's (unreachable) address is seen as a request.
  page.on("request", (r) => {
    if (r.url().startsWith("https://rp.example/")) reached(r.url());
  });
  await page.goto(authorize);
  await page.click('button[name=upstream][value=fcplus]');
  await page.waitForSelector("#login", { timeout: 20000 });
  report.upstream = new URL(page.url()).origin;
  await page.fill("#login", login);
  await page.fill("#password", "123");
  const navigated = page.waitForNavigation({ timeout: 20000 }).catch(() => null);
  await page.click("#submit");
  // Either the application (a linked identity) or coeur's linking page.
  const result = await Promise.race([
    done,
    navigated.then(() => page.waitForSelector("h1", { timeout: 20000 })).then(() => null).catch(() => null),
  ]);
  // The application's address may come a moment after a page title was seen.
  const late = result || (await Promise.race([done, new Promise((r) => setTimeout(() => r(null), 1000))]));
  report.callback = late || null;
  report.title = await page.title();
  report.h1 = await page.textContent("h1").catch(() => null);
  await context.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
