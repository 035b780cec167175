//! The certificate authority end to end, on a real server: every profile issued from a CSR made
//! by `openssl req` and checked by `openssl verify` and pkilint; the CA certificates of both
//! hierarchies linted; revocation seen through the CRL, the delta CRL and OCSP (POST and GET);
//! refusals that write nothing; the operator's approval flow; concurrent issuance; the audit
//! chain; and the `coeur ca` / `coeur audit` commands.
//!
//! pkilint (PyPI) is installed by `scripts/test.sh` into a virtualenv whose `bin` directory it
//! passes as `COEUR_PKILINT_BIN`; without that variable the linters are taken from
//! `target/pkilint-venv/bin` when it exists, else from `PATH`. `docs/pki-lint.md` says which
//! linters apply to which certificate and which of their findings are kept, and why.

use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::client::GrantType;
use serde_json::{Value, json};
use sqlx::Row as _;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod audit;
mod cli;
mod hierarchy;
mod instances;
mod lint;
mod operator;
mod profiles;
mod refusals;
mod revocation;
mod serials;

const ROOT: &str = "MOD-R-EL-TEST";
pub(crate) const ORG_CA: &str = "MOD-EL-ORG-TEST";
const PER_CA: &str = "MOD-EL-PER-TEST";
const ALL_SCOPES: &str = "ca:request ca:approve ca:revoke ca:read";
const STRUCTURE_ID: &str = "318751275100020";

// ------------------------------------------------------------------------------- openssl

/// A key for `openssl req -newkey`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key {
    Rsa(u32),
    P256,
    P384,
}

/// A temporary directory where openssl and pkilint run.
pub(crate) struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    pub(crate) fn new() -> Self {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }

    pub(crate) fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read")
    }

    fn openssl(&self, args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl (scripts/test.sh installs it)")
    }

    /// Runs openssl, asserts success, returns stdout and stderr together.
    fn openssl_ok(&self, args: &[&str]) -> String {
        let o = self.openssl(args);
        assert!(o.status.success(), "openssl {args:?} failed:\n{}", text(&o));
        text(&o)
    }

    /// A new key `NAME.key` and its CSR (returned, PEM; also in `NAME.csr`) by `openssl req`.
    pub(crate) fn csr(&self, name: &str, key: Key) -> String {
        let key_file = format!("{name}.key");
        let csr_file = format!("{name}.csr");
        let rsa;
        let mut args = vec![
            "req", "-new", "-noenc", "-keyout", &key_file, "-out", &csr_file,
        ];
        args.extend(["-subj", "/CN=ignored by the CA/O=NOT COPIED"]);
        match key {
            Key::Rsa(bits) => {
                rsa = format!("rsa:{bits}");
                args.extend(["-newkey", &rsa]);
            }
            Key::P256 => args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            Key::P384 => args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]),
        }
        self.openssl_ok(&args);
        String::from_utf8(self.read(&csr_file)).expect("csr")
    }

    /// `openssl verify -x509_strict` of `leaf` against `root`, `issuing` untrusted, plus extra
    /// options.
    fn verify(&self, root: &str, issuing: &str, leaf: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify",
            "-x509_strict",
            "-CAfile",
            root,
            "-untrusted",
            issuing,
        ];
        args.extend(extra);
        args.push(leaf);
        self.openssl(&args)
    }

    /// Certificate fields as `openssl x509 -noout ARGS` prints them.
    fn x509(&self, file: &str, args: &[&str]) -> String {
        let mut a = vec![
            "x509",
            "-in",
            file,
            "-noout",
            "-nameopt",
            "RFC2253,-esc_msb",
        ];
        a.extend(args);
        self.openssl_ok(&a)
    }
}

/// The first `URI:http…` of an openssl extension listing.
fn first_http_uri(listing: &str) -> String {
    listing
        .split_whitespace()
        .find_map(|w| w.strip_prefix("URI:").filter(|u| u.starts_with("http")))
        .unwrap_or_else(|| panic!("no http URI in:\n{listing}"))
        .to_owned()
}

/// A serial as openssl prints it in CRLs: uppercase hex, even length.
fn openssl_serial(hex: &str) -> String {
    let s = hex.to_ascii_uppercase();
    if s.len() % 2 == 1 { format!("0{s}") } else { s }
}

// ------------------------------------------------------------------------------- API

async fn register_ca_client(s: &TestServer, realm: &str) {
    let mut spec = rp_spec("ca-client");
    spec.scopes = ALL_SCOPES.split(' ').map(str::to_owned).collect();
    spec.grant_types = vec![GrantType::ClientCredentials];
    spec.ca = Some(coeur::oauth::client::CaEntitlements {
        structures: vec![STRUCTURE_ID.into()],
        dns_suffixes: vec!["ch-test.fr".into(), "ch-test.mssante.fr".into()],
    });
    s.add_client(realm, spec, Some(SECRET)).await;
}

/// An access token of `ca-client` for `scope` (client credentials).
async fn token(s: &TestServer, realm: &str, scope: &str) -> String {
    s.client_credentials_token(realm, "ca-client", scope).await
}

/// A server's CA API, called with a token holding every CA scope.
pub(crate) struct Api<'a> {
    s: &'a TestServer,
    http: reqwest::Client,
    token: String,
}

impl<'a> Api<'a> {
    pub(crate) async fn new(s: &'a TestServer, realm: &str) -> Self {
        register_ca_client(s, realm).await;
        Self::registered(s, realm).await
    }

    /// The API with `ca-client` already registered (e.g. in a restored database).
    pub(crate) async fn registered(s: &'a TestServer, realm: &str) -> Self {
        Api {
            s,
            http: reqwest::Client::new(),
            token: token(s, realm, ALL_SCOPES).await,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.s.base)
    }

    /// POSTs JSON with `token` (none: no Authorization header); returns (status, body).
    async fn post_as(&self, token: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
        let mut rb = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.expect("post");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_as(Some(&self.token), path, body).await
    }

    async fn submit(&self, ca: &str, profile: &str, csr: &str, subject: &Value) -> (u16, Value) {
        self.post(
            "/pki/api/v1/requests",
            &json!({ "ca": ca, "profile": profile, "csr": csr, "subject": subject }),
        )
        .await
    }

    /// Submits and expects immediate issuance; returns (serial, certificate PEM). Card
    /// profiles are never issued through the API: they are asked of the CA directly, as the
    /// card lifecycle does.
    pub(crate) async fn issue(
        &self,
        ca: &str,
        profile: &str,
        csr: &str,
        subject: &Value,
    ) -> (String, String) {
        let (st, v) = if profile.starts_with("CPS_") {
            self.issue_card_profile(ca, profile, csr, subject).await
        } else {
            self.submit(ca, profile, csr, subject).await
        };
        assert_eq!(st, 201, "{profile}: {v}");
        assert_eq!(v["status"], "issued", "{profile}: {v}");
        (
            v["serial"].as_str().expect("serial").to_owned(),
            v["certificate"].as_str().expect("certificate").to_owned(),
        )
    }

    /// A card profile's certificate asked of the CA itself (not through the API).
    async fn issue_card_profile(
        &self,
        ca: &str,
        profile: &str,
        csr: &str,
        subject: &Value,
    ) -> (u16, Value) {
        let subject = serde_json::from_value(subject.clone()).expect("subject");
        let o = self
            .s
            .state
            .ca
            .ca
            .submit(
                &self.s.ca.store,
                &*self.s.state.rng,
                &coeur::ca::ca::IssueRequest {
                    requester: "card-lifecycle",
                    ca_id: ca,
                    profile,
                    csr: csr.as_bytes(),
                    subject: &subject,
                },
                self.s.clock.now(),
            )
            .await
            .expect("card profile issued by the CA");
        (201, serde_json::to_value(o).expect("outcome"))
    }

    pub(crate) async fn revoke(&self, ca: &str, serial: &str, reason: &str) -> (u16, Value) {
        self.post(
            &format!("/pki/api/v1/certificates/{ca}/{serial}/revoke"),
            &json!({ "reason": reason }),
        )
        .await
    }

    /// GETs a URL (absolute, or a path of the server) with the token; returns (status, body).
    async fn get_raw(&self, url: &str) -> (u16, Vec<u8>) {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            self.url(url)
        };
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        (status, r.bytes().await.expect("body").to_vec())
    }

    /// GETs and expects 200.
    async fn get(&self, url: &str) -> Vec<u8> {
        let (st, body) = self.get_raw(url).await;
        assert_eq!(st, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
        body
    }

    /// Writes `ID.pem` for each CA into `w`.
    async fn save_ca_pems(&self, w: &Work, ids: &[&str]) {
        for id in ids {
            w.write(
                &format!("{id}.pem"),
                self.get(&format!("/pki/ca/{id}.pem")).await,
            );
        }
    }
}

pub(crate) fn org_subject(extra: Value) -> Value {
    let mut v = json!({
        "structure_id": STRUCTURE_ID,
        "organization": "CENTRE HOSPITALIER DE TEST",
        "state": "Paris (75)",
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn server_subject() -> Value {
    org_subject(json!({ "dns_names": ["srv.ch-test.fr", "www.ch-test.fr"] }))
}

fn person_subject() -> Value {
    json!({
        "national_id": NATIONAL_ID,
        "family_name": "MARTIN",
        "given_name": "CLAIRE",
        "title": "Médecin",
    })
}

/// Rows of the CA tables: (certificates, cert_requests, audit_log).
async fn rows(s: &TestServer) -> (i64, i64, i64) {
    let pool = s.state.store.db().pool();
    let n = |r: sqlx::any::AnyRow| r.try_get::<i64, _>("n").expect("count");
    (
        n(sqlx::query("SELECT COUNT(*) AS n FROM certificates")
            .fetch_one(pool)
            .await
            .expect("count")),
        n(sqlx::query("SELECT COUNT(*) AS n FROM cert_requests")
            .fetch_one(pool)
            .await
            .expect("count")),
        n(sqlx::query("SELECT COUNT(*) AS n FROM audit_log")
            .fetch_one(pool)
            .await
            .expect("count")),
    )
}

// ------------------------------------------------------------------------------- OCSP

/// `openssl ocsp` for `cert` (issued by `ORG_CA`) against the server; returns its output.
pub(crate) fn ocsp(w: &Work, s: &TestServer, cert: &str, extra: &[&str]) -> String {
    let url = format!("{}/pki/ocsp", s.base);
    let mut args = vec![
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        cert,
        "-url",
        &url,
        "-CAfile",
        "chain.pem",
    ];
    args.extend(extra);
    let out = w.openssl_ok(&args);
    assert!(out.contains("Response verify OK"), "{out}");
    out
}

// ------------------------------------------------------------------------------- CLI

/// Runs the `coeur` binary in `dir` with `args`.
fn coeur(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coeur"))
        .args(args)
        .current_dir(dir)
        .env_remove("COEUR_CONFIG")
        .env_remove("COEUR_MASTER_KEY")
        .env_remove("COEUR_PKI_PRODUCTION")
        .env_remove("COEUR_PUBLIC_URL")
        .env_remove("COEUR_CA_REALM")
        .env("COEUR_LOG", "warn")
        .output()
        .expect("coeur binary")
}
