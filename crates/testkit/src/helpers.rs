//! Small helpers shared by several test modules: a plain HTTP client, form POSTs, OAuth error
//! assertions, a client's ES256 key, and the output of a command as text.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// An HTTP client that does not follow redirects and keeps no cookies.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// POSTs `form` to a realm endpoint, with Basic credentials when given.
pub async fn post(
    url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http().post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("POST")
}

/// Asserts a JSON OAuth error (RFC 6749 §5.2) and returns the headers.
pub async fn expect_error(r: reqwest::Response, status: u16, code: &str, what: &str) -> HeaderMap {
    let got = r.status().as_u16();
    let headers = r.headers().clone();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: status (body {body})");
    assert_eq!(body["error"], code, "{what}: error code (body {body})");
    assert!(
        body.get("access_token").is_none(),
        "{what}: no token with an error"
    );
    headers
}

/// A client's ES256 key pair.
pub struct ClientKey {
    pkcs8: Vec<u8>,
    /// The public key as a JWK (with its `kid`).
    pub jwk: Value,
}

impl ClientKey {
    /// A new P-256 key whose JWK carries `kid`.
    pub fn generate(kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let doc = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("EC key");
        let pkcs8 = doc.as_ref().to_vec();
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
            &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8),
            jsonwebtoken::Algorithm::ES256,
        )
        .expect("JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            pkcs8,
            jwk: serde_json::to_value(&jwk).expect("JWK JSON"),
        }
    }

    /// Signs `claims` with ES256, header `kid` as given.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &h,
            claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .expect("sign")
    }
}

/// A command's standard output followed by its standard error.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The words of the catalogue's message `key` as a French page shows them (HTML-escaped).
pub fn fr(key: &str) -> String {
    page_words(coeur::web::Lang::Fr, key)
}

/// The words of the catalogue's message `key` as an English page shows them (HTML-escaped).
pub fn en(key: &str) -> String {
    page_words(coeur::web::Lang::En, key)
}

/// The words of the catalogue's message `key` with its arguments `args` as a French page shows
/// them (HTML-escaped).
pub fn fr_with(key: &str, args: &[(&str, &str)]) -> String {
    let words = coeur::web::i18n::translate(coeur::web::Lang::Fr, key, args);
    minijinja::HtmlEscape(&words).to_string()
}

fn page_words(lang: coeur::web::Lang, key: &str) -> String {
    let words = coeur::web::i18n::translate(lang, key, &[]);
    minijinja::HtmlEscape(&words).to_string()
}

/// Debian's Chromium (or `COEUR_CHROMIUM`) and the node `packages` of tests/node a browser
/// test needs, or why they are missing.
pub fn browser_peers(packages: &[&str]) -> Result<std::path::PathBuf, String> {
    let chromium = std::env::var_os("COEUR_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!("{} is missing", chromium.display()));
    }
    for package in packages {
        let dir = crate::repo_dir()
            .join("tests/node/node_modules")
            .join(package);
        if !dir.exists() {
            return Err(format!("tests/node/node_modules/{package} is missing"));
        }
    }
    Ok(chromium)
}

/// Chromium and the node `packages` of a browser test, or `None` when missing: the test is
/// then skipped with a message, unless `COEUR_REQUIRE_PEERS` is set, when it fails.
pub fn chromium_or_skip(packages: &[&str]) -> Option<std::path::PathBuf> {
    match browser_peers(packages) {
        Ok(c) => Some(c),
        Err(why) if std::env::var_os("COEUR_REQUIRE_PEERS").is_none() => {
            eprintln!("skipped: the browser test's peers are not installed: {why}");
            None
        }
        Err(why) => panic!("COEUR_REQUIRE_PEERS is set and a browser peer is missing: {why}"),
    }
}

/// The Python interpreter of the test peers (`COEUR_PYTHON_PEER`, default the virtualenv
/// scripts/test.sh makes under target/ from tests/python/requirements.txt), or `None` when it
/// is missing: the calling test is then skipped with `what` named, unless
/// `COEUR_REQUIRE_PEERS` is set, when it fails.
pub fn python_peer(what: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("COEUR_PYTHON_PEER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::repo_dir().join("target/python-peer-venv/bin/python"));
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "{what}: {} is missing: run scripts/test.sh (it installs tests/python/requirements.txt)",
        path.display()
    );
    assert!(
        std::env::var_os("COEUR_REQUIRE_PEERS").is_none(),
        "COEUR_REQUIRE_PEERS is set and {why}"
    );
    eprintln!("skipped: {why}");
    None
}

/// The authorization URL of test client `rp` in `realm` (code flow, `openid`, its first
/// redirect URI, a state and a nonce), with `extra` parameters.
pub fn rp_authz_url(server: &crate::TestServer, realm: &str, extra: &[(&str, &str)]) -> String {
    let mut p = vec![
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", crate::REDIRECT),
        ("state", "st"),
        ("nonce", "n"),
    ];
    p.extend_from_slice(extra);
    crate::authz_url(server, realm, &p)
}

/// The program `name` found on `PATH`, or `None` when it is missing: the calling test is then
/// skipped with the Debian `package` named, unless `COEUR_REQUIRE_PEERS` is set, when it fails.
pub fn program_or_skip(name: &str, package: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_some() {
        return found;
    }
    let why = format!("{name} is missing: run scripts/test.sh (it installs the {package} package)");
    assert!(
        std::env::var_os("COEUR_REQUIRE_PEERS").is_none(),
        "COEUR_REQUIRE_PEERS is set and {why}"
    );
    eprintln!("skipped: {why}");
    None
}

/// One page of a browser audit (`tests/node/pages.mjs`): its name (the screenshots'), the URL
/// the browser opens, the steps it takes from there (`{"fill": sel, "value": v}`,
/// `{"click": sel}`, `{"goto": url}`), and the path (after the base URL) it must land on.
#[derive(Debug, Clone)]
pub struct AuditedPage {
    /// Its name.
    pub name: String,
    /// Where the browser starts.
    pub url: String,
    /// The steps.
    pub steps: Vec<Value>,
    /// Where it must land (a path after the base URL, without query).
    pub lands: String,
}

/// Every page of `pages` in French and English at desktop and phone width in headless Chromium
/// (`chromium`, see [`chromium_or_skip`]): axe-core clean (no serious or critical violation),
/// `<html lang>` right, landing where it must under `base`, a screenshot kept in
/// `COEUR_SCREENSHOTS` (default `target/screenshots`) as `NAME.LANG.WIDTH.png`. The problems
/// found (empty: all good).
pub fn audit_pages(chromium: &std::path::Path, base: &str, pages: &[AuditedPage]) -> Vec<String> {
    let mut list = vec![];
    for p in pages {
        for (lang, accept) in [("fr", "fr-FR,fr;q=0.9"), ("en", "en-GB,en;q=0.9")] {
            list.push(serde_json::json!({
                "name": format!("{}.{lang}", p.name), "url": p.url, "lang": lang,
                "accept_language": accept, "steps": p.steps,
            }));
        }
    }
    let work = tempfile::tempdir().expect("dir");
    let list_file = work.path().join("pages.json");
    std::fs::write(&list_file, serde_json::to_vec(&list).expect("list")).expect("write");
    let shots = std::env::var_os("COEUR_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::repo_dir().join("target/screenshots"));
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = std::process::Command::new("node")
        .arg(crate::repo_dir().join("tests/node/pages.mjs"))
        .arg(&list_file)
        .env("COEUR_CHROMIUM", chromium)
        .env("COEUR_SCREENSHOTS", &shots)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser driver failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("report {stdout:?}: {e}"));
    let mut problems = vec![];
    let reported = report["pages"].as_array().cloned().unwrap_or_default();
    if reported.len() != list.len() * 2 {
        problems.push(format!(
            "{} pages reported of {}",
            reported.len(),
            list.len() * 2
        ));
    }
    for r in &reported {
        let at = format!("{} {}", r["name"], r["width"]);
        if let Some(e) = r["error"].as_str() {
            problems.push(format!("{at}: {e}"));
            continue;
        }
        let lang = r["lang_expected"].as_str().unwrap_or_default();
        if r["html_lang"].as_str() != Some(lang) {
            problems.push(format!("{at}: <html lang> is {}", r["html_lang"]));
        }
        let name = r["name"].as_str().unwrap_or_default();
        let lands = pages
            .iter()
            .find(|p| name.strip_suffix(&format!(".{lang}")) == Some(p.name.as_str()))
            .map(|p| p.lands.as_str());
        let path = r["url"]
            .as_str()
            .and_then(|u| u.strip_prefix(base))
            .map(|u| u.split(['?', '#']).next().unwrap_or_default());
        if path.is_none() || path != lands {
            problems.push(format!("{at}: landed on {} ({})", r["url"], r["status"]));
        }
        for v in r["violations"].as_array().into_iter().flatten() {
            let impact = v["impact"].as_str().unwrap_or("none");
            if ["serious", "critical"].contains(&impact) {
                problems.push(format!("{at}: {} ({impact}) {}", v["id"], v["nodes"]));
            } else {
                eprintln!("{at}: {} ({impact})", v["id"]);
            }
        }
        let shot = shots.join(format!(
            "{name}.{}.png",
            r["width"].as_str().unwrap_or_default()
        ));
        if !shot.metadata().is_ok_and(|m| m.len() > 0) {
            problems.push(format!("{at}: no screenshot at {}", shot.display()));
        }
    }
    problems
}
