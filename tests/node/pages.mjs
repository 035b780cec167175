// Audits coeur's pages in headless Chromium (Debian's, through playwright-core): each page of
// the list given is reached in a fresh browser context (its cookies kept from step to step),
// at desktop and at phone width; axe-core checks it against WCAG 2.0 and 2.1, levels A and
// AA, and a full-page screenshot is saved. Prints the report as one JSON line. Run by
// tests/it/pages_a11y.rs.
//
// Usage: node pages.mjs PAGES.json
// PAGES.json: [{ "name": "wallet.fr", "url": "http://…", "lang": "fr",
//                "accept_language": "fr-FR,fr;q=0.9",
//                "steps": [{ "fill": "#national_id", "value": "…" },
//                          { "click": "button[value=test]" }, { "goto": "http://…" }] }, …]
//   The browser opens `url`, then takes the steps in order (a click waits for the page it
//   leads to); the page it is on at the end is the one audited. Two more steps:
//   { "request": { "method", "url", "headers", "body" } } is made from outside the browser
//   (someone else's change meanwhile) and must succeed (2xx);
//   { "expect": { "status": 409, "present": ["#id"], "values": { "#field": "value" } } }
//   checks the page the browser is on: the status it was answered with, elements present,
//   form fields' values; the page fails (its report's `error`) when one differs.
// Report: { "axe": version, "pages": [{ "name", "width", "lang_expected", "html_lang", "url",
//   "status", "title", "screenshot", "screenshot_bytes", "violations": [{ "id", "impact",
//   "help", "nodes": [{ "target", "html", "summary" }] }], "error"? }, …] }
// Environment: COEUR_CHROMIUM (default /usr/bin/chromium); COEUR_SCREENSHOTS, where the
// screenshots go as NAME.WIDTH.png (default target/screenshots of the repository).
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [listFile] = process.argv.slice(2);
if (!listFile) {
  console.error("usage: node pages.mjs PAGES.json");
  process.exit(2);
}
const pages = JSON.parse(await readFile(listFile, "utf8"));

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const axeVersion = require("axe-core/package.json").version;
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

const WIDTHS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true },
};

const shots =
  process.env.COEUR_SCREENSHOTS ||
  fileURLToPath(new URL("../../target/screenshots", import.meta.url));
await mkdir(shots, { recursive: true });

// Takes one step; a click waits for the page it leads to. `report.status` is the status of
// the last page the browser was answered.
async function take(page, step, report) {
  if ("request" in step) {
    const { method, url, headers, body } = step.request;
    const r = await fetch(url, { method, headers, body });
    if (!r.ok) {
      throw new Error(`${method} ${url} answered ${r.status}: ${await r.text()}`);
    }
  } else if ("expect" in step) {
    const { status, present = [], values = {} } = step.expect;
    if (status !== undefined && report.status !== status) {
      throw new Error(`the page was answered ${report.status}, not ${status}`);
    }
    for (const selector of present) {
      if ((await page.locator(selector).count()) === 0) {
        throw new Error(`${selector} is not on the page`);
      }
    }
    for (const [selector, want] of Object.entries(values)) {
      const got = await page.inputValue(selector);
      if (got !== want) {
        throw new Error(`${selector} holds ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
      }
    }
  } else if ("goto" in step) {
    await page.goto(step.goto);
  } else if ("fill" in step) {
    await page.fill(step.fill, step.value);
  } else if ("click" in step) {
    await page.click(step.click);
    await page.waitForLoadState("load");
  } else {
    throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

// Reaches `p` at `width` in a context of its own, audits it and takes its screenshot.
async function audit(browser, p, width) {
  const report = { name: p.name, width, lang_expected: p.lang };
  const context = await browser.newContext({
    ...WIDTHS[width],
    locale: p.accept_language ? p.accept_language.split(/[,;]/)[0] : undefined,
    extraHTTPHeaders: p.accept_language ? { "Accept-Language": p.accept_language } : {},
    // coeur's pages forbid scripts (CSP): let axe in.
    bypassCSP: true,
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    page.on("response", (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) {
        report.status = r.status();
      }
    });
    await page.goto(p.url);
    for (const step of p.steps || []) {
      await take(page, step, report);
    }
    report.url = page.url();
    report.title = await page.title();
    report.html_lang = await page.evaluate(() => document.documentElement.getAttribute("lang"));
    await page.addScriptTag({ path: axePath });
    const results = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
      TAGS,
    );
    report.violations = results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({
        target: n.target.join(" "),
        html: n.html.length > 200 ? `${n.html.slice(0, 200)}…` : n.html,
        summary: n.failureSummary,
      })),
    }));
    report.screenshot = join(shots, `${p.name}.${width}.png`);
    await page.screenshot({ path: report.screenshot, fullPage: true });
    report.screenshot_bytes = (await stat(report.screenshot)).size;
  } catch (e) {
    report.error = String(e && e.message ? e.message : e);
  } finally {
    await context.close();
  }
  return report;
}

const browser = await chromium.launch({
  executablePath: process.env.COEUR_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in containers and CI has no user namespace for Chromium's sandbox.
  args: ["--no-sandbox"],
});
const reports = [];
try {
  // Both widths of a page at once: two contexts, each its own cookies.
  for (const p of pages) {
    reports.push(...(await Promise.all(Object.keys(WIDTHS).map((w) => audit(browser, p, w)))));
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ axe: axeVersion, pages: reports }));
