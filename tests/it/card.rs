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

/// The card PIN (protects the PKCS#12 files).
pub(crate) const PIN: &str = "1234";
/// The production realm.
const PROD: &str = "esante-wallet";
/// The nonce of every authorization request here.
const NONCE: &str = "n-card-0S6_WzA2Mj";
/// Title of every refusal page of the card listener.
const REFUSED: &str = "Connexion par carte refusée";

// ------------------------------------------------------------------------------- helpers

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

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
async fn card(s: &TestServer, identity: &Identity) -> VirtualCard {
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
        a.body.contains(REFUSED),
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

/// A CA and a card-like leaf (CN = `national_id`, clientAuth, digitalSignature) made by
/// openssl outside coeur: the leaf's key and chain as PEM. `ca_subject` is the CA's name in
/// openssl's `/K=V/…` form.
async fn foreign_card(w: &Work, ca_subject: &str, national_id: &str) -> String {
    w.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-utf8",
        "-subj",
        ca_subject,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])
    .await;
    w.openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        &format!("/CN={national_id}"),
    ])
    .await;
    w.write(
        "leaf.ext",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    w.openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "4242",
        "-days",
        "30",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ])
    .await;
    let out = w
        .openssl(&[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-ext",
            "extendedKeyUsage",
        ])
        .await;
    assert!(out.contains("TLS Web Client Authentication"), "{out}");
    format!(
        "{}{}{}",
        w.read("leaf.key"),
        w.read("leaf.pem"),
        w.read("ca.pem")
    )
}

/// The subject of a DER certificate in openssl's `-subj` form (`/C=FR/O=…/CN=…`).
fn openssl_subject(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer as _;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).expect("certificate");
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for rdn in cert.subject().iter() {
        for attr in rdn.iter() {
            let name = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
                .map(str::to_owned)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr.as_str().expect("a string attribute");
            out.push_str(&format!("/{name}={}", value.replace('/', "\\/")));
        }
    }
    out
}

/// Arguments that point the `coeur` binary at the test server's database, keys and CAs.
fn cli_common(s: &TestServer, crl: &Path) -> Vec<String> {
    let cfg = &s.app.cfg;
    vec![
        "--database-url".into(),
        cfg.database_url.clone(),
        "--keys-dir".into(),
        cfg.keys_dir.display().to_string(),
        "--realms-dir".into(),
        cfg.realms_dir.display().to_string(),
        "--pki-dir".into(),
        cfg.pki_dir.display().to_string(),
        "--pki-hierarchy".into(),
        cfg.pki_hierarchy.clone(),
        "--crl-dir".into(),
        crl.display().to_string(),
    ]
}

/// Runs the `coeur` binary.
async fn coeur_cli(common: &[String], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coeur"))
        .args(common)
        .args(args)
        .env_remove("COEUR_CONFIG")
        .env_remove("COEUR_MASTER_KEY")
        .env_remove("COEUR_PKI_PRODUCTION")
        .env_remove("COEUR_PUBLIC_URL")
        .env_remove("COEUR_CA_REALM")
        .env_remove("COEUR_CARD_PIN")
        .env("COEUR_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("coeur binary")
}

/// The serial `coeur card issue` printed on the line starting with `prefix`.
fn printed_serial(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
        .trim()
        .to_owned()
}

// ------------------------------------------------------------------------------- tests

both_dbs!(card_login_through_reqwest, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let c = card(&s, &identity(&s, NATIONAL_ID).await).await;
    let with_card = card_client(&root, Some(&c.auth.identity_pem));

    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    let back = back_url(&s, "edit", &a);

    // The hand-off is one-time: a second use, even with the same valid card, is refused.
    let again = card_leg(&with_card, &handoff_url).await;
    assert_one_time(&again, "already used");

    let code = back_to_client(&b, &back).await;
    // The result is one-time too.
    let again = answer(b.http.get(&back).send().await.expect("card return")).await;
    assert_one_time(&again, "already used");

    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;

    // The SSO session the card opened serves the next authorization without a new login.
    let silent = b.authorize(&authz_url(&s, "edit", &authz_params())).await;
    let cb = silent.redirect();
    assert!(cb.as_str().starts_with(REDIRECT), "{cb}");
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").expect("code")).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;
});

both_dbs!(card_login_through_curl, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let w = Work::new();
    let root = w.write("root.pem", root_pem(&s).await);
    let c = card(&s, &identity(&s, NATIONAL_ID).await).await;
    let p12 = w.write("card.p12", &c.auth.p12);

    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &p12, &root).await;
    let back = back_url(&s, "edit", &a);
    let code = back_to_client(&b, &back).await;
    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;

    // The signature certificate of the same card is refused through curl as well.
    let sign = w.write("card-sign.p12", &c.sign.p12);
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &sign, &root).await;
    assert_refused(&a, 403, "not for this use");
});

both_dbs!(card_issued_and_revoked_by_the_cli, |db| async move {
    // `coeur card issue` writes the PKCS#12 curl uses; `coeur card revoke` (opposition) takes
    // effect at the next login, with the server running.
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let w = Work::new();
    let root = w.write("root.pem", root_pem(&s).await);
    let common = cli_common(&s, &w.path("crl"));
    // An identity whose card serials do not start with 0 (see `card`).
    let mut chosen = None;
    for i in other_active_identities(&s).await.iter().take(10) {
        let nid = i.national_id.to_string();
        let o = coeur_cli(
            &common,
            &[
                "card",
                "issue",
                "--national-id",
                &nid,
                "--pin",
                PIN,
                "--out",
                w.path("card.p12").to_str().expect("path"),
            ],
        )
        .await;
        assert!(o.status.success(), "coeur card issue: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let auth = printed_serial(&out, "authentication certificate ");
        let sign = printed_serial(&out, "signature certificate ");
        if !auth.starts_with('0') && !sign.starts_with('0') {
            chosen = Some((nid, auth, sign));
            break;
        }
    }
    let (nid, auth, sign) = chosen.expect("a card without a leading zero serial in 10 identities");
    assert!(w.path("card-sign.p12").exists(), "the signature PKCS#12");

    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &w.path("card.p12"), &root).await;
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, &nid).await;

    let o = coeur_cli(&common, &["card", "revoke", "--national-id", &nid]).await;
    assert!(o.status.success(), "coeur card revoke: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let ca = personnes_ca(&s);
    for serial in [&auth, &sign] {
        assert!(
            out.lines().any(|l| l == format!("revoked {ca}/{serial}")),
            "{serial} revoked: {out}"
        );
    }
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &w.path("card.p12"), &root).await;
    assert_refused(&a, 403, "revoked (opposition)");
});

both_dbs!(card_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let b = s.browser();
    let good = card(&s, &identity(&s, NATIONAL_ID).await).await;

    // No certificate at all.
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, None), &handoff_url).await;
    assert_refused(&a, 401, "No card certificate was presented");

    // Wrong extended key usage: the signature certificate of a valid card.
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &card_client(&root, Some(&good.sign.identity_pem)),
        &handoff_url,
    )
    .await;
    assert_refused(&a, 403, "not for this use");

    // A card-like certificate from a CA coeur does not know.
    let w = Work::new();
    let foreign = foreign_card(
        &w,
        "/C=FR/O=IMPOSTEUR/CN=AC IMPOSTEUR PERSONNES",
        NATIONAL_ID,
    )
    .await;
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(&foreign)), &handoff_url).await;
    assert_refused(&a, 403, "not issued by a trusted authority");

    // A look-alike: a CA bearing the exact name of coeur's PERSONNES CA, with its own key.
    let w = Work::new();
    let ca_der = s.state.ca.ca.cas[&personnes_ca(&s)].cert_der.clone();
    let foreign = foreign_card(&w, &openssl_subject(&ca_der), NATIONAL_ID).await;
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(&foreign)), &handoff_url).await;
    assert_refused(&a, 403, "signature does not verify");

    // A client certificate from coeur's own ORGANISATIONS CA is no card either.
    let org_ca = {
        let mut ids: Vec<&String> = s
            .state
            .ca
            .ca
            .cas
            .iter()
            .filter(|(_, c)| c.def.domain == Some(Domain::Organisations))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids.first().expect("an ORGANISATIONS CA").to_string()
    };
    let (serial, _, p12) = s
        .state
        .ca
        .ca
        .issue_with_generated_key(
            &*s.state.rng,
            &coeur::ca::ca::KeyRequest {
                requester: "test",
                ca_id: &org_ca,
                profile: "ORG_AUTH_CLI",
                key_type: KeyType::P256,
                subject: &SubjectRequest {
                    structure_id: Some("318751275100020".into()),
                    organization: Some("CENTRE HOSPITALIER DE TEST".into()),
                    state: Some("Paris (75)".into()),
                    service_name: Some(NATIONAL_ID.into()),
                    ..Default::default()
                },
                password: PIN,
            },
            s.clock.now(),
        )
        .await
        .expect("organisation client certificate");
    let org = CardCert::from_p12(serial, p12);
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(&org.identity_pem)), &handoff_url).await;
    assert_refused(&a, 403, "not issued by a trusted authority");

    // A valid card for a national identifier this realm does not know.
    let stranger = stranger(&s).await;
    // (Serials starting with 0 are avoided, see `card`.)
    let mut unknown = None;
    for _ in 0..30 {
        let (serial, _, p12) = s
            .state
            .ca
            .ca
            .issue_with_generated_key(
                &*s.state.rng,
                &coeur::ca::ca::KeyRequest {
                    requester: "test",
                    ca_id: &personnes_ca(&s),
                    profile: "CPS_AUTH",
                    key_type: KeyType::P256,
                    subject: &SubjectRequest {
                        national_id: Some(stranger.clone()),
                        family_name: Some("INCONNU".into()),
                        given_name: Some("JEAN".into()),
                        ..Default::default()
                    },
                    password: PIN,
                },
                s.clock.now(),
            )
            .await
            .expect("card of an unknown professional");
        if !serial.starts_with('0') {
            unknown = Some(CardCert::from_p12(serial, p12));
            break;
        }
    }
    let unknown = unknown.expect("a serial not starting with 0");
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &card_client(&root, Some(&unknown.identity_pem)),
        &handoff_url,
    )
    .await;
    assert_refused(&a, 403, "unknown in this realm");

    // A valid card of an inactive identity.
    let inactive = s
        .state
        .store
        .identities("edit", 200)
        .await
        .expect("identities")
        .into_iter()
        .find(|i| !i.active)
        .expect("an inactive identity among the generated ones");
    let c = card(&s, &inactive).await;
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &card_client(&root, Some(&c.auth.identity_pem)),
        &handoff_url,
    )
    .await;
    assert_refused(&a, 403, "inactive");

    // A refusal leaves the hand-off usable: the user inserts the right card and tries again.
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, None), &handoff_url).await;
    assert_refused(&a, 401, "No card certificate was presented");
    let with_good = card_client(&root, Some(&good.auth.identity_pem));
    let a = card_leg(&with_good, &handoff_url).await;
    let back = back_url(&s, "edit", &a);

    // The result is bound to the browser that started the login: another browser (without
    // its login cookie) is refused and gets no code.
    let other = s.browser();
    let a = answer(other.http.get(&back).send().await.expect("card return")).await;
    assert_one_time(&a, "started in another browser");

    // Revocation (opposition) is seen at the very next login.
    let (holder, revoked) = first_card_clean(&s).await;
    let with_revoked = card_client(&root, Some(&revoked.auth.identity_pem));
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_revoked, &handoff_url).await;
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    redeem_in(&s, "edit", &code).await;
    let done = s
        .state
        .ca
        .ca
        .revoke_cards(
            &s.ca.store,
            holder.national_id.as_str(),
            Reason::KeyCompromise,
            "test",
            s.clock.now(),
        )
        .await
        .expect("opposition");
    assert_eq!(done.len(), 2, "both certificates of the card: {done:?}");
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_revoked, &handoff_url).await;
    assert_refused(&a, 403, "revoked (opposition)");

    // Expired: the cards are valid 1095 days.
    s.clock.advance(1096 * 86_400);
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_good, &handoff_url).await;
    assert_refused(&a, 403, "has expired");
});

both_dbs!(card_with_a_leading_zero_serial, |db| async move {
    // Serials are stored as lowercase hex without leading zero bytes, so about one in nine
    // starts with the digit 0 ("0b3f…"). Such a card must log in and be revocable like any
    // other.
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let holder = other_active_identities(&s)
        .await
        .into_iter()
        .nth(1)
        .expect("an active identity");
    let mut found = None;
    for _ in 0..100 {
        let c = issue_card(&s, &holder).await;
        if c.auth.serial.starts_with('0') {
            found = Some(c);
            break;
        }
    }
    let c = found.expect("a card serial starting with 0 in 100 cards");
    let with_card = card_client(&root, Some(&c.auth.identity_pem));
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    assert_eq!(
        a.status, 303,
        "card {} (serial starting with 0) accepted: {}",
        c.auth.serial, a.body
    );
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    redeem_in(&s, "edit", &code).await;
    let done = s
        .state
        .ca
        .ca
        .revoke_cards(
            &s.ca.store,
            holder.national_id.as_str(),
            Reason::KeyCompromise,
            "test",
            s.clock.now(),
        )
        .await
        .expect("opposition of every card of the holder");
    assert!(
        done.iter().any(|(_, serial)| *serial == c.auth.serial),
        "{} revoked: {done:?}",
        c.auth.serial
    );
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    assert_refused(&a, 403, "revoked (opposition)");
});

// The sandbox/production boundary: a card of coeur's TEST CAs, for a professional the
// production realm knows, does not log in there.
both_dbs!(production_realm_refuses_test_cards, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client(PROD, rp_spec("rp"), Some(SECRET)).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let holder = identity(&s, NATIONAL_ID).await;
    s.state
        .store
        .put_identities(PROD, std::slice::from_ref(&holder), s.clock.now())
        .await
        .expect("identity in the production realm");
    let c = card(&s, &holder).await;
    let with_card = card_client(&root, Some(&c.auth.identity_pem));

    // The production wallet offers the card, and no test login.
    let b = s.browser();
    let page = wallet(&s, &b, PROD).await;
    let Authz::LoginPage { html, .. } = &page else {
        unreachable!()
    };
    assert!(html.contains("value=\"card\""), "a card button: {html}");
    assert!(!html.contains("value=\"test\""), "no test button: {html}");

    let r = b.login(&s.base, &page, "", "card").await;
    assert_eq!(r.status().as_u16(), 303);
    let handoff_url = location(&r).to_string();
    assert!(
        handoff_url.starts_with(&format!("{}/auth/realms/{PROD}/card/login?", s.card_base())),
        "{handoff_url}"
    );
    let a = card_leg(&with_card, &handoff_url).await;
    assert_refused(&a, 403, "not issued by a trusted authority");

    // The same card logs in to the sandbox realm.
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;

    // A hand-off of one realm is not accepted under another realm's path.
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &with_card,
        &handoff_url.replace("/realms/edit/", &format!("/realms/{PROD}/")),
    )
    .await;
    assert_one_time(&a, "expired or was already used");
});

both_dbs!(
    card_listener_asks_for_personnes_certificates,
    |db| async move {
        let s = TestServer::start(db).await;
        root_pem(&s).await;
        let host_port = s
            .card_base()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let personnes: Vec<String> = s
            .state
            .ca
            .ca
            .cas
            .values()
            .filter(|c| c.def.domain == Some(Domain::Personnes))
            .map(|c| c.def.cn.clone())
            .collect();
        assert!(!personnes.is_empty());
        for version in ["-tls1_3", "-tls1_2"] {
            let o = Command::new("openssl")
                .args(["s_client", "-connect", &host_port, "-showcerts", version])
                .stdin(Stdio::null())
                .output()
                .await
                .expect("openssl s_client");
            let out = text(&o);
            let marker = "Acceptable client certificate CA names";
            let i = out
                .find(marker)
                .unwrap_or_else(|| panic!("{version}: no {marker:?} in:\n{out}"));
            let names: Vec<&str> = out[i + marker.len()..]
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("Requested") && !l.starts_with("Client Certificate"))
                .take_while(|l| !l.starts_with("---"))
                .collect();
            let names = names.join("\n");
            assert_eq!(names.lines().count(), personnes.len(), "{version}: {names}");
            assert!(names.contains("PERSONNES"), "{version}: {names}");
            assert!(!names.contains("ORGANISATIONS"), "{version}: {names}");
            for cn in &personnes {
                assert!(names.contains(cn.as_str()), "{version}: {cn} in {names}");
            }
        }
    }
);
