//! CPS card login through the card listener (mutual TLS), with virtual cards from coeur's own
//! PERSONNES CAs: the full code flow with the card leg made by reqwest and by `curl --cert`
//! (cards from the API and from `coeur card issue`), every refusal as a clear page that never
//! reaches the client, one-time hand-offs and results, the production realm, and the
//! acceptable CA names the listener advertises in its TLS CertificateRequest.
//!
//! The wallet page hands the browser to the card listener (`…/card/login?handoff=…`); the card
//! listener validates the certificate and sends the browser back to the main origin
//! (`…/auth/card-return?result=…`), where the login completes for the browser that started it.
//! Only the card leg presents a client certificate; the other legs are the cookie-keeping
//! browser of the test harness.

use crate::both_dbs;
use crate::support::*;
use base64::Engine as _;
use coeur::common::identity::{Identity, luhn_key};
use coeur::common::random::Clock as _;
use coeur::pki::csr::SubjectRequest;
use coeur::pki::hierarchy::{Domain, KeyType};
use coeur::pki::revocation::Reason;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::Command;

mod cli;
mod listener;
mod login;
mod refusals;

/// The card PIN (protects the PKCS#12 files).
pub(crate) const PIN: &str = "1234";
/// The nonce of every authorization request here.
const NONCE: &str = "n-card-0S6_WzA2Mj";

// ------------------------------------------------------------------------------- helpers

/// DER as PEM.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One certificate of a card with its key: the PKCS#12 the CA delivered, and the same key and
/// chain as PEM for reqwest.
pub(crate) struct CardCert {
    serial: String,
    p12: Vec<u8>,
    /// PKCS#8 key, then the certificate chain, leaf first.
    pub(crate) identity_pem: String,
}

impl CardCert {
    fn from_p12(serial: String, p12: Vec<u8>) -> Self {
        let ks = p12_keystore::KeyStore::from_pkcs12(
            &p12,
            PIN,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .expect("the PKCS#12 opens with the PIN");
        let (_, chain) = ks.private_key_chain().expect("a key with its chain");
        let mut identity_pem = pem("PRIVATE KEY", chain.key().as_der());
        assert!(
            !chain.certs().is_empty(),
            "the PKCS#12 holds the certificate"
        );
        for c in chain.certs() {
            identity_pem.push_str(&pem("CERTIFICATE", c.as_der()));
        }
        CardCert {
            serial,
            p12,
            identity_pem,
        }
    }
}

/// A virtual card: its authentication (CPS_AUTH) and signature (CPS_SIGN) certificates.
pub(crate) struct VirtualCard {
    pub(crate) auth: CardCert,
    pub(crate) sign: CardCert,
}

/// Issues a virtual card for `identity` through the CA.
async fn issue_card(s: &TestServer, identity: &Identity) -> VirtualCard {
    let ((a_serial, a_p12), (s_serial, s_p12)) = s
        .state
        .ca
        .ca
        .issue_virtual_card(&*s.state.rng, identity, PIN, None, "test", s.clock.now())
        .await
        .expect("virtual card");
    VirtualCard {
        auth: CardCert::from_p12(a_serial, a_p12),
        sign: CardCert::from_p12(s_serial, s_p12),
    }
}

/// A virtual card for `identity` whose serials do not start with the digit 0. Such serials
/// have a test of their own (`card_with_a_leading_zero_serial`); the other tests avoid them so
/// that a failure points at one cause. The cards set aside stay valid, so the opposition of
/// `identity` revokes them too: see [`first_card_clean`] for a card to revoke.
pub(crate) async fn card(s: &TestServer, identity: &Identity) -> VirtualCard {
    for _ in 0..30 {
        let c = issue_card(s, identity).await;
        if !c.auth.serial.starts_with('0') && !c.sign.serial.starts_with('0') {
            return c;
        }
    }
    panic!("30 virtual cards in a row with a serial starting with 0");
}

/// An identity other than [`NATIONAL_ID`] whose first card has serials that do not start with
/// 0, and that card: the opposition of such an identity is not hindered by a leading zero
/// serial (see `card`).
pub(crate) async fn first_card_clean(s: &TestServer) -> (Identity, VirtualCard) {
    for i in other_active_identities(s).await.into_iter().take(30) {
        let c = issue_card(s, &i).await;
        if !c.auth.serial.starts_with('0') && !c.sign.serial.starts_with('0') {
            return (i, c);
        }
    }
    panic!("30 identities whose first card has a serial starting with 0");
}

pub(crate) async fn identity(s: &TestServer, national_id: &str) -> Identity {
    s.state
        .store
        .identity("edit", national_id)
        .await
        .expect("store")
        .unwrap_or_else(|| panic!("identity {national_id} in edit"))
}

/// A well-formed national identifier the sandbox realm does not know.
pub(crate) async fn stranger(s: &TestServer) -> String {
    let known: Vec<String> = s
        .state
        .store
        .identities("edit", 1000)
        .await
        .expect("identities")
        .iter()
        .map(|i| i.national_id.to_string())
        .collect();
    (0..100u32)
        .map(|n| {
            let body = format!("9979{:06}", 999_999 - n);
            format!("8{body}{}", luhn_key(&body))
        })
        .find(|nid| !known.contains(nid))
        .expect("an unknown national identifier")
}

/// Active identities of the sandbox realm other than [`NATIONAL_ID`].
pub(crate) async fn other_active_identities(s: &TestServer) -> Vec<Identity> {
    s.state
        .store
        .identities("edit", 200)
        .await
        .expect("identities")
        .into_iter()
        .filter(|i| i.active && i.national_id.as_str() != NATIONAL_ID)
        .collect()
}

/// The id of the first PERSONNES CA (the one virtual cards come from).
fn personnes_ca(s: &TestServer) -> String {
    let mut ids: Vec<&String> = s
        .state
        .ca
        .ca
        .cas
        .iter()
        .filter(|(_, c)| c.def.domain == Some(Domain::Personnes))
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids.first().expect("a PERSONNES CA").to_string()
}

/// coeur's TEST root, which the card listener's certificate chains to. The listener writes it
/// when it starts, in the background of the test server.
pub(crate) async fn root_pem(s: &TestServer) -> String {
    let path = s.app.cfg.crl_dir.join("coeur-root.pem");
    for _ in 0..400 {
        if let Ok(t) = std::fs::read_to_string(&path)
            && t.contains("-----END CERTIFICATE-----")
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the card listener did not write {}", path.display());
}

/// A client for the card listener, trusting only coeur's root, presenting `identity_pem` (key
/// and certificates) if given, and not following redirects.
pub(crate) fn card_client(root: &str, identity_pem: Option<&str>) -> reqwest::Client {
    let roots = reqwest::Certificate::from_pem_bundle(root.as_bytes()).expect("root PEM");
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only(roots);
    if let Some(p) = identity_pem {
        b = b.identity(reqwest::Identity::from_pem(p.as_bytes()).expect("identity PEM"));
    }
    b.build().expect("card client")
}

/// What the card listener (or the main origin) answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

pub(crate) async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.text().await.unwrap_or_default();
    Answer {
        status,
        location,
        body,
    }
}

/// The card leg with reqwest.
pub(crate) async fn card_leg(client: &reqwest::Client, url: &str) -> Answer {
    answer(client.get(url).send().await.expect("card listener")).await
}

/// The card leg with curl and a PKCS#12 file protected by the PIN.
pub(crate) async fn curl_card_leg(url: &str, p12: &Path, root: &Path) -> Answer {
    let o = Command::new("curl")
        .args(["-sS", "--cert"])
        .arg(format!("{}:{PIN}", p12.display()))
        .args(["--cert-type", "P12", "--cacert"])
        .arg(root)
        .args(["-w", "\n%{http_code}\n%{redirect_url}"])
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("curl");
    assert!(o.status.success(), "curl {url}: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let mut parts = out.rsplitn(3, '\n');
    let redirect = parts.next().unwrap_or_default().to_owned();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("curl output: {out}"));
    let body = parts.next().unwrap_or_default().to_owned();
    Answer {
        status,
        location: (!redirect.is_empty()).then_some(redirect),
        body,
    }
}

pub(crate) fn authz_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", NONCE),
    ]
}

/// The wallet page of a new authorization request of client `rp` in `realm`.
pub(crate) async fn wallet(s: &TestServer, b: &Browser, realm: &str) -> Authz {
    let page = b.authorize(&authz_url(s, realm, &authz_params())).await;
    assert!(
        matches!(page, Authz::LoginPage { .. }),
        "the wallet page: {page:?}"
    );
    page
}

/// Starts an authorization of `rp` in `realm` and chooses the card: the card listener URL the
/// wallet sends the browser to, with its hand-off.
pub(crate) async fn to_card_listener(s: &TestServer, b: &Browser, realm: &str) -> String {
    let page = wallet(s, b, realm).await;
    let r = b.login(&s.base, &page, "", "card").await;
    assert_eq!(
        r.status().as_u16(),
        303,
        "method=card hands the browser over"
    );
    let to = location(&r);
    let expected = format!("{}/auth/realms/{realm}/card/login", s.card_base());
    assert_eq!(
        format!("{}{}", base_url(&to), to.path()),
        expected,
        "sent to the card listener: {to}"
    );
    assert!(param(&to, "handoff").is_some_and(|h| h.len() >= 32));
    to.to_string()
}

/// `scheme://host:port` of a URL.
fn base_url(u: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        u.scheme(),
        u.host_str().expect("host"),
        u.port_or_known_default().expect("port")
    )
}

/// Checks that the card leg succeeded: the URL back to the main origin, with a result.
pub(crate) fn back_url(s: &TestServer, realm: &str, a: &Answer) -> String {
    assert_eq!(a.status, 303, "the card is accepted: {}", a.body);
    let to = url::Url::parse(a.location.as_deref().expect("Location")).expect("URL");
    assert_eq!(
        format!("{}{}", base_url(&to), to.path()),
        format!(
            "{}/auth/realms/{realm}/protocol/openid-connect/auth/card-return",
            s.base
        ),
        "back to the main origin: {to}"
    );
    assert!(param(&to, "result").is_some_and(|r| r.len() >= 32));
    to.to_string()
}

/// The browser comes back to the main origin: the client's callback, with a code.
pub(crate) async fn back_to_client(b: &Browser, back: &str) -> String {
    let r = b.http.get(back).send().await.expect("card return");
    assert_eq!(r.status().as_u16(), 303, "the login completes");
    let cb = location(&r);
    assert!(cb.as_str().starts_with(REDIRECT), "to the client: {cb}");
    assert_eq!(param(&cb, "state").as_deref(), Some("st"));
    param(&cb, "code").expect("a code")
}

/// Redeems a code of `rp` in `realm`: the token response.
pub(crate) async fn redeem_in(s: &TestServer, realm: &str, code: &str) -> Value {
    let r = reqwest::Client::new()
        .post(s.endpoint(realm, "token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status().as_u16(), 200, "code redeemed");
    r.json().await.expect("token JSON")
}

/// Verifies the ID token of a card login in `realm` for `national_id`: signature, issuer,
/// audience, nonce, and the card's authMode, acr and amr.
pub(crate) async fn check_card_id_token(
    s: &TestServer,
    realm: &str,
    tokens: &Value,
    national_id: &str,
) {
    let jwt = tokens["id_token"].as_str().expect("an ID token");
    let header = jsonwebtoken::decode_header(jwt).expect("a JWS");
    let kid = header.kid.clone().expect("kid");
    let set: jsonwebtoken::jwk::JwkSet = reqwest::get(s.endpoint(realm, "certs"))
        .await
        .expect("JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let key =
        jsonwebtoken::DecodingKey::from_jwk(set.find(&kid).expect("published kid")).expect("key");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.set_issuer(&[s.issuer(realm)]);
    v.set_audience(&["rp"]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("the ID token verifies")
        .claims;
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["authMode"], "CARD", "{claims}");
    assert_eq!(claims["acr"], "eidas2", "{claims}");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["hwk", "pin", "mfa"]),
        "{claims}"
    );
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|sub| sub.ends_with(&format!(":{national_id}"))),
        "{claims}"
    );
}

/// A card listener refusal: `status`, a page saying why (`why`), no redirect at all (so no code
/// reaches the client).
pub(crate) fn assert_refused(a: &Answer, status: u16, why: &str) {
    assert_eq!(a.status, status, "{why}: {}", a.body);
    assert!(a.location.is_none(), "{why}: no redirect, got {a:?}");
    assert!(
        a.body.contains(&fr("card.title")),
        "{why}: a refusal page: {}",
        a.body
    );
    assert!(a.body.contains(why), "the page says {why:?}: {}", a.body);
    assert!(!a.body.contains("code="), "{why}: no code: {}", a.body);
}

/// A hand-off or result used a second time (or from another browser): an error page with no
/// redirect.
fn assert_one_time(a: &Answer, why: &str) {
    assert_eq!(a.status, 400, "{why}: {}", a.body);
    assert!(a.location.is_none(), "{why}: no redirect, got {a:?}");
    assert!(a.body.contains(why), "the page says {why:?}: {}", a.body);
}

/// A temporary directory for files given to curl and openssl.
pub(crate) struct Work(tempfile::TempDir);

impl Work {
    pub(crate) fn new() -> Self {
        Work(tempfile::tempdir().expect("temp dir"))
    }
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    pub(crate) fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }
    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read")
    }
    pub(crate) async fn openssl(&self, args: &[&str]) -> String {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(self.0.path())
            .stdin(Stdio::null())
            .output()
            .await
            .expect("openssl");
        assert!(o.status.success(), "openssl {args:?}: {}", text(&o));
        text(&o)
    }
}
