//! Every page a person sees (home, wallet, errors, logout, demo, the e-CPS web app, its waiting
//! page and the passkey login), in French and in English, at
//! desktop and at phone width, in a real browser: axe-core finds no serious or critical
//! violation of WCAG 2.0/2.1 A and AA, `<html lang>` is the language asked for, and a
//! full-page screenshot of each is left for reviewers in `target/screenshots` (or
//! `COEUR_SCREENSHOTS`), named `PAGE.LANG.WIDTH.png`.
//!
//! The browser is Debian's Chromium, driven by tests/node/pages.mjs (playwright-core, with
//! axe-core injected into each page); both are installed by scripts/test.sh
//! (tests/node/package.json). Without them the test is skipped with a message, unless
//! `COEUR_REQUIRE_PEERS` is set: then it fails.
//!
//! SQLite only: the pages do not depend on the database (the other tests run every flow on
//! both), and two runs would write the same screenshots at the same time.

use crate::support::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The languages pages are asked in: the tag `<html lang>` must carry, and what the browser
/// sends as `Accept-Language`.
const LANGS: &[(&str, &str)] = &[("fr", "fr-FR,fr;q=0.9"), ("en", "en-GB,en;q=0.9")];

/// How a page's language is asked for.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// By the browser's `Accept-Language`.
    Browser,
    /// By the authorization request's `ui_locales` (`{lang}` in its URL), the browser asking
    /// for the other language.
    UiLocales,
}
use Ask::*;

/// What the browser does on the way to a page (paths may hold the placeholders of
/// [`expand`]).
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Types a value into the field the selector names.
    Fill(&'static str, &'static str),
    /// Clicks what the selector names, and waits for the page it leads to.
    Click(&'static str),
    /// Opens a path of the server.
    Goto(&'static str),
}
use Step::*;

/// A page to audit: its name (its screenshots' too), how its language is asked for, the path
/// the browser starts at, the steps that lead from there to the page (in one browser context:
/// cookies are kept) and the path it lands on.
type Page = (
    &'static str,
    Ask,
    &'static str,
    &'static [Step],
    &'static str,
);

const NATIONAL_ID_FIELD: &str = "#national_id";
const TEST_LOGIN: &str = "button[name=method][value=test]";
const TRY_DEMO: &str = "form[action='/demo/login'] button";
const CONFIRM_LOGOUT: &str = "button[name=confirm]";
const ECPS_LOGIN: &str = "button[name=method][value=ecps]";
const PASSKEY_LOGIN: &str = "button[name=method][value=passkey]";

/// Every page, each audited in every language of [`LANGS`] at both widths. Placeholders:
/// `{auth}` and `{logout}`, the sandbox realm's endpoints; `{rp}`, test client `rp`'s usual
/// authorization parameters; `{lang}`, the language asked for.
#[rustfmt::skip]
const PAGES: &[Page] = &[
    ("home",                   Browser,   "/",                                &[], "/"),
    ("help",                   Browser,   "/help",                            &[], "/help"),
    ("wallet",                 Browser,   "{auth}?{rp}",                      &[], "{auth}"),
    ("wallet-ui-locales",      UiLocales, "{auth}?{rp}&ui_locales={lang}",    &[], "{auth}"),
    ("wallet-bad-national-id", Browser,   "{auth}?{rp}",                      &[Fill(NATIONAL_ID_FIELD, "12345"), Click(TEST_LOGIN)], "{auth}/login"),
    ("wallet-acr-unmet",       Browser,   "{auth}?{rp}&acr_values=eidas3",    &[], "{auth}"),
    ("wallet-acr-card-only",   Browser,   "{auth}?{rp}&acr_values=eidas2",    &[], "{auth}"),
    ("error-unknown-client",   Browser,   "{auth}?client_id=nobody&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fcb", &[], "{auth}"),
    ("error-bad-redirect-uri", Browser,   "{auth}?client_id=rp&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", &[], "{auth}"),
    ("error-unknown-realm",    Browser,   "/auth/realms/nowhere/protocol/openid-connect/auth?{rp}", &[], "/auth/realms/nowhere/protocol/openid-connect/auth"),
    ("demo-result",            Browser,   "/", &[Click(TRY_DEMO), Fill(NATIONAL_ID_FIELD, NATIONAL_ID), Click(TEST_LOGIN)], "/demo/callback"),
    ("demo-error",             Browser,   "/demo/callback?error=access_denied&error_description=the+user+went+back", &[], "/demo/callback"),
    ("logout-confirm",         Browser,   "/", &[Click(TRY_DEMO), Fill(NATIONAL_ID_FIELD, NATIONAL_ID), Click(TEST_LOGIN), Goto("{logout}")], "{logout}"),
    ("logged-out",             Browser,   "/", &[Click(TRY_DEMO), Fill(NATIONAL_ID_FIELD, NATIONAL_ID), Click(TEST_LOGIN), Goto("{logout}"), Click(CONFIRM_LOGOUT)], "{logout}"),
    ("ecps-app",               Browser,   "/auth/realms/edit/ecps/app/",      &[], "/auth/realms/edit/ecps/app/"),
    ("ecps-wait",              Browser,   "{auth}?{rp}", &[Fill(NATIONAL_ID_FIELD, NATIONAL_ID), Click(ECPS_LOGIN)], "{auth}/ecps"),
    ("passkey",                Browser,   "{auth}?{rp}", &[Click(PASSKEY_LOGIN)], "{auth}/login"),
];

/// The widths pages.mjs audits each page at.
const WIDTHS: &[&str] = &["desktop", "phone"];

/// The impacts that fail the test; lesser ones are reported only.
const FAILING: &[&str] = &["serious", "critical"];

/// Test client `rp`'s usual authorization parameters.
const RP_PARAMS: &str = "client_id=rp&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fcb&state=st&nonce=n";

/// `s` with its placeholders replaced.
fn expand(s: &str, lang: &str) -> String {
    let oc = "/auth/realms/edit/protocol/openid-connect";
    s.replace("{auth}", &format!("{oc}/auth"))
        .replace("{logout}", &format!("{oc}/logout"))
        .replace("{rp}", RP_PARAMS)
        .replace("{lang}", lang)
}

/// Where the screenshots go.
fn screenshots_dir() -> PathBuf {
    std::env::var_os("COEUR_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("target/screenshots"))
}

/// The list pages.mjs reads: every page of [`PAGES`] in every language, on server `base`.
fn page_list(base: &str) -> Vec<Value> {
    let mut list = vec![];
    for (name, ask, start, steps, _) in PAGES {
        for (i, (lang, accept)) in LANGS.iter().enumerate() {
            let accept = match ask {
                Browser => accept,
                // The other language.
                UiLocales => LANGS[(i + 1) % LANGS.len()].1,
            };
            let url = |p: &str| format!("{base}{}", expand(p, lang));
            let steps: Vec<Value> = steps
                .iter()
                .map(|s| match s {
                    Fill(field, value) => json!({ "fill": field, "value": value }),
                    Click(what) => json!({ "click": what }),
                    Goto(path) => json!({ "goto": url(path) }),
                })
                .collect();
            list.push(json!({
                "name": format!("{name}.{lang}"), "url": url(start), "lang": lang,
                "accept_language": accept, "steps": steps,
            }));
        }
    }
    list
}

/// Runs tests/node/pages.mjs on the list in `list_file`; its report.
fn drive(chromium: &Path, list_file: &Path, shots: &Path) -> Value {
    let out = Command::new("node")
        .arg(repo_dir().join("tests/node/pages.mjs"))
        .arg(list_file)
        .env("COEUR_CHROMIUM", chromium)
        .env("COEUR_SCREENSHOTS", shots)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser driver failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report {stdout:?}: {e}"))
}

/// Which page and width a report entry is of, e.g. `wallet.en phone`.
fn at(p: &Value) -> String {
    let field = |k: &str| p[k].as_str().unwrap_or("?").to_owned();
    format!("{} {}", field("name"), field("width"))
}

/// One line per violation axe found on page `p` (a report entry): `failing` if its impact
/// fails the test.
fn violations(p: &Value) -> Vec<(bool, String)> {
    let at = at(p);
    let mut lines = vec![];
    for v in p["violations"].as_array().into_iter().flatten() {
        let impact = v["impact"].as_str().unwrap_or("none");
        let nodes = v["nodes"].as_array().map(Vec::as_slice).unwrap_or_default();
        for n in nodes {
            lines.push((
                FAILING.contains(&impact),
                format!(
                    "{at}: {} ({impact}) {}: `{}` {}",
                    v["id"].as_str().unwrap_or("?"),
                    v["help"].as_str().unwrap_or_default(),
                    n["target"].as_str().unwrap_or_default(),
                    n["html"].as_str().unwrap_or_default(),
                ),
            ));
        }
    }
    lines
}

/// What is wrong with page `p` (a report entry) besides axe's violations: an error on the way,
/// another page than expected, the wrong language, no screenshot.
fn other_problems(p: &Value, base: &str, shots: &Path) -> Vec<String> {
    let at = at(p);
    if let Some(e) = p["error"].as_str() {
        return vec![format!("{at}: the browser could not audit it: {e}")];
    }
    let mut problems = vec![];
    let row = p["name"]
        .as_str()
        .and_then(|n| n.split('.').next())
        .and_then(|n| PAGES.iter().find(|r| r.0 == n));
    let lang = p["lang_expected"].as_str().unwrap_or_default();
    if let Some((_, _, _, _, lands)) = row {
        let path = p["url"]
            .as_str()
            .and_then(|u| u.strip_prefix(base))
            .map(|u| u.split(['?', '#']).next().unwrap_or_default());
        let want = expand(lands, lang);
        if path != Some(want.as_str()) {
            problems.push(format!(
                "{at}: landed on {} (HTTP {}), not on {want}",
                p["url"], p["status"]
            ));
        }
    }
    if p["html_lang"].as_str() != Some(lang) {
        problems.push(format!(
            "{at}: <html lang> is {}, not \"{lang}\"",
            p["html_lang"]
        ));
    }
    let shot = shots.join(format!(
        "{}.{}.png",
        p["name"].as_str().unwrap_or_default(),
        p["width"].as_str().unwrap_or_default()
    ));
    if !shot.metadata().is_ok_and(|m| m.len() > 0) {
        problems.push(format!("{at}: no screenshot at {}", shot.display()));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_pass_axe_in_french_and_english_at_every_width() {
    let Some(chromium) = chromium_or_skip(&["playwright-core", "axe-core"]) else {
        return;
    };
    let s = TestServer::start(Db::Sqlite).await;
    s.add_rp("edit").await;
    let list = page_list(&s.base);
    let list_file = s.dir.path().join("pages.json");
    std::fs::write(&list_file, serde_json::to_vec(&list).expect("list")).expect("write list");
    let shots = screenshots_dir();
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let shots = shots.canonicalize().expect("screenshots dir");
    // Only this run's screenshots count.
    for page in &list {
        for width in WIDTHS {
            let _ = std::fs::remove_file(shots.join(format!(
                "{}.{width}.png",
                page["name"].as_str().expect("name")
            )));
        }
    }

    let started = Instant::now();
    let shots_dir = shots.clone();
    let report = tokio::task::spawn_blocking(move || drive(&chromium, &list_file, &shots_dir))
        .await
        .expect("driver task");
    eprintln!(
        "pages_a11y: {} pages audited with axe-core {} in {:.1?}; screenshots in {}",
        list.len() * WIDTHS.len(),
        report["axe"].as_str().unwrap_or("?"),
        started.elapsed(),
        shots.display()
    );

    let pages = report["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), list.len() * WIDTHS.len(), "{report:#}");
    let mut failing = vec![];
    let mut all_violations = vec![];
    for p in pages {
        for (fails, line) in violations(p) {
            if fails {
                failing.push(line.clone());
            }
            all_violations.push(line);
        }
        failing.extend(other_problems(p, &s.base, &shots));
    }
    let listed = |lines: &[String]| match lines {
        [] => "  (none)\n".to_owned(),
        _ => lines.iter().map(|l| format!("  {l}\n")).collect(),
    };
    assert!(
        failing.is_empty(),
        "{} problem(s) on coeur's pages (screenshots in {}):\n{}every axe violation, of any impact:\n{}",
        failing.len(),
        shots.display(),
        listed(&failing),
        listed(&all_violations)
    );
    if !all_violations.is_empty() {
        eprintln!(
            "pages_a11y: lesser axe violations:\n{}",
            listed(&all_violations)
        );
    }
}
