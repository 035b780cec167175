//! FranceConnect and FranceConnect+ as upstream identity providers. The upstreams are panva's
//! `oidc-provider` (tests/node/fc-upstream.mjs), one set up like FranceConnect+ (ES256, ID
//! token and userinfo encrypted to the JWKS coeur publishes for it) and one like FranceConnect
//! v2 (signed only); the browser is the harness's cookie-keeping client, going through the
//! upstream's own login page. The realm is the sandbox's, with the two upstreams added
//! (`franceconnect` reaching eidas2 at most).

use crate::both_dbs;
use crate::card::{
    Answer, answer, back_to_client, back_url, card, card_client, card_leg, identity, redeem_in,
    root_pem,
};
use crate::support::*;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

mod browser;
mod jwe;
mod login;
mod pivot;
mod refusals;
mod v1;

const FC_SECRET: &str = "fc-v2-client-secret-0123456789abcdef";
const FCPLUS_SECRET: &str = "fc-plus-client-secret-0123456789abcdef";
pub(crate) const FCV1_SECRET: &str = "fc-v1-client-secret-0123456789abcdef";

/// One upstream: the node process and its issuer.
pub(crate) struct Upstream {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    pub(crate) issuer: String,
}

impl Upstream {
    async fn spawn(kind: &str) -> Self {
        let mut child = Command::new("node")
            .arg(repo_dir().join("tests/node/fc-upstream.mjs"))
            .args(["--kind", kind])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node tests/node/fc-upstream.mjs");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let issuer = loop {
            let line = stdout
                .next_line()
                .await
                .expect("read")
                .expect("the upstream starts");
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && let Some(i) = v["issuer"].as_str()
            {
                break i.to_owned();
            }
        };
        Upstream {
            child,
            stdin,
            stdout,
            issuer,
        }
    }

    async fn configure(&mut self, cfg: Value) {
        self.stdin
            .write_all(format!("{cfg}\n").as_bytes())
            .await
            .expect("configure");
        loop {
            let line = self.stdout.next_line().await.expect("read").expect("ready");
            if line.contains("\"ready\"") {
                break;
            }
        }
    }

    /// Spoils the next token response (`nonce`, `issuer`, `foreign`, `plain`, `expired`, `acr`).
    pub(crate) async fn tamper(&self, mode: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/__test/tamper", self.issuer))
            .form(&[("mode", mode)])
            .send()
            .await
            .expect("tamper");
        assert!(r.status().is_success());
    }

    /// Stops the upstream: it no longer answers.
    pub(crate) async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A server whose sandbox realm has the two upstreams, both configured.
pub(crate) struct Fc {
    pub(crate) s: TestServer,
    pub(crate) plus: Upstream,
    pub(crate) v2: Upstream,
    /// Like FranceConnect v1: HS256, explicit endpoints, no discovery.
    pub(crate) v1: Upstream,
    _realms: tempfile::TempDir,
}

/// A new P-256 key as PKCS#8 PEM.
fn ec_pem() -> String {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let der = kp.to_pkcs8v1().expect("pkcs8");
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut out = "-----BEGIN PRIVATE KEY-----\n".to_owned();
    for l in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(l).expect("ascii"));
        out.push('\n');
    }
    out + "-----END PRIVATE KEY-----\n"
}

/// The sandbox realm file with `upstreams` added and FranceConnect logins reaching eidas2.
pub(crate) fn realm_with(upstreams: &str) -> String {
    let edit = std::fs::read_to_string(realms_dir().join("edit.toml")).expect("edit.toml");
    let edit = edit.replace("franceconnect = \"eidas1\"", "franceconnect = \"eidas2\"");
    format!("{edit}\n{upstreams}")
}

pub(crate) fn upstreams_toml(v2: &str, plus: &str) -> String {
    format!(
        r#"
[[upstreams]]
name = "fc"
display_name = "FranceConnect"
kind = "franceconnect"
issuer = "{v2}"
client_id = "coeur-fc"
client_secret_file = "fc.secret"
acr_values = "eidas1"

[[upstreams]]
name = "fcplus"
display_name = "FranceConnect+"
kind = "franceconnect-plus"
issuer = "{plus}"
client_id = "coeur-fcplus"
client_secret_file = "fcplus.secret"
acr_values = "eidas2"
decryption_keys = ["fcplus-enc.pem"]
"#
    )
}

/// The FranceConnect v1 upstream (`fcv1`): HS256 with the client secret, the endpoints given.
pub(crate) fn v1_toml(v1: &str) -> String {
    format!(
        r#"
[[upstreams]]
name = "fcv1"
display_name = "FranceConnect (v1)"
kind = "franceconnect"
issuer = "{v1}"
client_id = "coeur-fcv1"
client_secret_file = "fcv1.secret"
acr_values = "eidas1"
id_token_signed_response_alg = "HS256"

[upstreams.endpoints]
authorization = "{v1}/api/v1/authorize"
token = "{v1}/api/v1/token"
userinfo = "{v1}/api/v1/userinfo"
end_session = "{v1}/api/v1/logout"
"#
    )
}

/// Starts the three upstreams and the server; `accounts` adds citizens to every upstream.
pub(crate) async fn start(db: Db, accounts: Value) -> Fc {
    start_opts(db, accounts, false).await
}

/// [`start`], the upstream `fc` (FranceConnect v2) linking by pivot identity if `pivot`.
pub(crate) async fn start_opts(db: Db, accounts: Value, pivot: bool) -> Fc {
    let mut plus = Upstream::spawn("plus").await;
    let mut v2 = Upstream::spawn("v2").await;
    let mut v1 = Upstream::spawn("v1").await;
    let realms = tempfile::tempdir().expect("realms dir");
    let dir = realms.path();
    let key = ec_pem();
    std::fs::write(dir.join("fcplus-enc.pem"), &key).expect("key");
    std::fs::write(dir.join("fc.secret"), FC_SECRET).expect("secret");
    std::fs::write(dir.join("fcplus.secret"), FCPLUS_SECRET).expect("secret");
    std::fs::write(dir.join("fcv1.secret"), FCV1_SECRET).expect("secret");
    let mut toml = upstreams_toml(&v2.issuer, &plus.issuer) + &v1_toml(&v1.issuer);
    if pivot {
        toml = toml.replacen(
            "client_secret_file = \"fc.secret\"\n",
            "client_secret_file = \"fc.secret\"\nlink_by_pivot_identity = true\n",
            1,
        );
    }
    std::fs::write(dir.join("edit.toml"), realm_with(&toml)).expect("realm");
    let s = TestServer::start_with_realms(db, dir).await;
    s.add_rp("edit").await;
    let fc = format!("{}/auth/realms/edit/franceconnect", s.base);
    let cfg = |id: &str, secret: &str| {
        json!({
            "client_id": id, "client_secret": secret,
            "redirect_uri": format!("{fc}/callback"),
            "post_logout_redirect_uri": format!("{fc}/logout-return"),
            "jwks_uri": format!("{fc}/fcplus/jwks"),
            "decryption_key_pem": key,
            "accounts": accounts,
        })
    };
    plus.configure(cfg("coeur-fcplus", FCPLUS_SECRET)).await;
    v2.configure(cfg("coeur-fc", FC_SECRET)).await;
    v1.configure(cfg("coeur-fcv1", FCV1_SECRET)).await;
    Fc {
        s,
        plus,
        v2,
        v1,
        _realms: realms,
    }
}

pub(crate) const NONCE: &str = "n-fc-0S6_WzA2Mj";

/// The wallet page of a new authorization of `rp`, asking for `acr` if given.
pub(crate) async fn wallet(fc: &Fc, b: &Browser, acr: Option<&str>) -> Authz {
    let mut params = vec![
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", NONCE),
    ];
    if let Some(a) = acr {
        params.push(("acr_values", a));
    }
    let page = b.authorize(&authz_url(&fc.s, "edit", &params)).await;
    assert!(matches!(page, Authz::LoginPage { .. }), "{page:?}");
    page
}

/// The URL the wallet sends the browser to upstream (checked: state, nonce, PKCE, acr).
pub(crate) async fn to_upstream(fc: &Fc, b: &Browser, acr: Option<&str>) -> url::Url {
    to_named(fc, b, acr, None).await
}

/// [`to_upstream`] through the wallet's button of the upstream `named`, if given.
pub(crate) async fn to_named(
    fc: &Fc,
    b: &Browser,
    acr: Option<&str>,
    named: Option<&str>,
) -> url::Url {
    let page = wallet(fc, b, acr).await;
    let r = match named {
        None => b.login(&fc.s.base, &page, "", "franceconnect").await,
        Some(up) => {
            let Authz::LoginPage {
                request_id, action, ..
            } = &page
            else {
                panic!("not a login page: {page:?}")
            };
            b.http
                .post(format!("{}{action}", fc.s.base))
                .form(&[("request_id", request_id.as_str()), ("upstream", up)])
                .send()
                .await
                .expect("wallet")
        }
    };
    assert_eq!(
        r.status().as_u16(),
        303,
        "sent upstream: {:?}",
        r.text().await
    );
    let to = location(&r);
    for k in ["state", "nonce", "code_challenge"] {
        assert!(param(&to, k).is_some_and(|v| v.len() >= 32), "{k}: {to}");
    }
    assert_eq!(param(&to, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(&to, "acr_values").is_some(), "{to}");
    to
}

/// Goes through the upstream's login page as `citizen` (or cancels when `None`): the URL of
/// coeur's callback the upstream sends the browser to.
pub(crate) async fn through_upstream(
    b: &Browser,
    to: &url::Url,
    citizen: Option<&str>,
) -> url::Url {
    let mut at = to.clone();
    for _ in 0..10 {
        if at.path().ends_with("/franceconnect/callback") {
            return at;
        }
        let r = b.http.get(at.clone()).send().await.expect("upstream");
        if r.status().as_u16() == 200 && at.path().starts_with("/interaction/") {
            let action = format!("{}/login", at.path());
            let mut form = vec![("password", "123")];
            match citizen {
                Some(c) => form.push(("login", c)),
                None => form.push(("cancel", "1")),
            }
            let post = b
                .http
                .post(at.join(&action).expect("action"))
                .form(&form)
                .send()
                .await
                .expect("login upstream");
            assert!(
                post.status().is_redirection(),
                "upstream login: {}",
                post.status()
            );
            at = location_in(&post, &at);
            continue;
        }
        assert!(
            r.status().is_redirection(),
            "upstream at {at}: {}",
            r.status()
        );
        at = location_in(&r, &at);
    }
    panic!("never back to coeur from {to}");
}

fn location_in(r: &reqwest::Response, base: &url::Url) -> url::Url {
    let loc = r.headers()["location"].to_str().expect("location");
    base.join(loc).expect("URL")
}

/// A login through an upstream as `citizen`, up to coeur's answer to the callback.
pub(crate) async fn fc_login(fc: &Fc, b: &Browser, acr: Option<&str>, citizen: &str) -> Answer {
    let to = to_upstream(fc, b, acr).await;
    let cb = through_upstream(b, &to, Some(citizen)).await;
    answer(b.http.get(cb).send().await.expect("callback")).await
}

/// The linking page's handle.
pub(crate) fn link_handle(a: &Answer) -> String {
    assert_eq!(a.status, 200, "the linking page: {}", a.body);
    assert!(a.body.contains(&fr("fc.link.title")), "{}", a.body);
    let start = a.body.find("name=\"link\" value=\"").expect("link handle") + 19;
    a.body[start..start + a.body[start..].find('"').expect("end")].to_owned()
}

/// Posts the linking page's form.
pub(crate) async fn post_link(fc: &Fc, b: &Browser, handle: &str, method: &str) -> Answer {
    let r = b
        .http
        .post(format!("{}/auth/realms/edit/franceconnect/link", fc.s.base))
        .form(&[("link", handle), ("method", method), ("national_id", "")])
        .send()
        .await
        .expect("link");
    answer(r).await
}

/// Links `citizen` of the upstream chosen for `acr` to [`NATIONAL_ID`] by card: the first
/// login, the linking page, the card; the card login's code.
pub(crate) async fn link_by_card(fc: &Fc, acr: Option<&str>, citizen: &str) -> String {
    let b = fc.s.browser();
    let first = fc_login(fc, &b, acr, citizen).await;
    let handle = link_handle(&first);
    let a = post_link(fc, &b, &handle, "card").await;
    assert_eq!(a.status, 303, "to the card listener: {}", a.body);
    let root = root_pem(&fc.s).await;
    let c = card(&fc.s, &identity(&fc.s, NATIONAL_ID).await).await;
    let leg = card_leg(
        &card_client(&root, Some(&c.auth.identity_pem)),
        a.location.as_deref().expect("to"),
    )
    .await;
    let back = back_url(&fc.s, "edit", &leg);
    back_to_client(&b, &back).await
}

/// The claims of an ID token of `rp` (signature checked by the test through coeur's JWKS).
pub(crate) async fn id_claims(fc: &Fc, tokens: &Value) -> Value {
    let jwt = tokens["id_token"].as_str().expect("an ID token");
    let header = jsonwebtoken::decode_header(jwt).expect("a JWS");
    let set: jsonwebtoken::jwk::JwkSet = reqwest::get(fc.s.endpoint("edit", "certs"))
        .await
        .expect("JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let key =
        jsonwebtoken::DecodingKey::from_jwk(set.find(&header.kid.expect("kid")).expect("kid"))
            .expect("key");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.set_audience(&["rp"]);
    jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("verifies")
        .claims
}

/// How many rows `table` holds.
pub(crate) async fn rows(fc: &Fc, table: &str) -> i64 {
    use sqlx::Row as _;
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(fc.s.state.store.db().pool())
        .await
        .expect("count")
        .try_get::<i64, _>("n")
        .expect("n")
}

/// The audit records of `action`.
pub(crate) async fn audited(fc: &Fc, action: &str) -> Vec<(String, String)> {
    use sqlx::Row as _;
    sqlx::query("SELECT subject, details FROM audit_log WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(fc.s.state.store.db().pool())
        .await
        .expect("audit")
        .iter()
        .map(|r| (r.get("subject"), r.get("details")))
        .collect()
}

both_dbs!(
    bad_upstream_settings_are_refused_at_start,
    |db| async move {
        let realms = tempfile::tempdir().expect("realms dir");
        let dir = realms.path();
        let toml = upstreams_toml("https://fc.example/api/v2", "https://fcplus.example/api/v2");
        // The secret file is missing.
        std::fs::write(dir.join("edit.toml"), realm_with(&toml)).expect("realm");
        let e = match TestServer::try_start_with(db, dir, |_| {}).await {
            Ok(_) => panic!("started without the secret file"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            e.contains("edit.toml") && e.contains("\"fc\"") && e.contains("fc.secret"),
            "{e}"
        );
        // FranceConnect+ without a decryption key: refused when the realm file is read.
        let bad = toml.replace("decryption_keys = [\"fcplus-enc.pem\"]", "");
        let err = coeur::oauth::realm::Realm::parse(
            "realms/edit.toml",
            &realm_with(&bad),
            "http://127.0.0.1:1",
        )
        .expect_err("refused");
        assert!(
            err.to_string().contains("edit.toml")
                && err.reason.contains("fcplus")
                && err.reason.contains("decryption_keys"),
            "{err}"
        );
        // A secret in the realm file is not even a setting.
        let inline = toml.replace(
            "client_secret_file = \"fc.secret\"",
            "client_secret = \"s3cret\"",
        );
        assert!(
            coeur::oauth::realm::Realm::parse(
                "realms/edit.toml",
                &realm_with(&inline),
                "http://127.0.0.1:1"
            )
            .is_err()
        );
    }
);
