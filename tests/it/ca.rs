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

const ROOT: &str = "MOD-R-EL-TEST";
const ORG_CA: &str = "MOD-EL-ORG-TEST";
const PER_CA: &str = "MOD-EL-PER-TEST";
const ALL_SCOPES: &str = "ca:request ca:approve ca:revoke ca:read";
const STRUCTURE_ID: &str = "318751275100020";

// ------------------------------------------------------------------------------- openssl

/// A key for `openssl req -newkey`.
#[derive(Clone, Copy, Debug)]
enum Key {
    Rsa(u32),
    P256,
    P384,
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A temporary directory where openssl and pkilint run.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Self {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }

    fn read(&self, name: &str) -> Vec<u8> {
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
    fn csr(&self, name: &str, key: Key) -> String {
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

// ------------------------------------------------------------------------------- pkilint

/// Where the pkilint executables are: `$COEUR_PKILINT_BIN`, else the virtualenv that
/// `scripts/test.sh` makes under `target/`, else `PATH`.
fn pkilint_exe(tool: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("COEUR_PKILINT_BIN") {
        return Path::new(&dir).join(tool);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/pkilint-venv/bin")
        .join(tool);
    if venv.exists() {
        venv
    } else {
        PathBuf::from(tool)
    }
}

/// One pkilint run: `TOOL lint ARGS -s ERROR -f JSON FILE`.
struct LintJob {
    tool: &'static str,
    args: Vec<&'static str>,
    file: PathBuf,
    /// Finding codes of severity ERROR (or FATAL) that are expected by design.
    allowed: &'static [&'static str],
}

impl LintJob {
    fn new(tool: &'static str, args: &[&'static str], file: PathBuf) -> Self {
        LintJob {
            tool,
            args: args.to_vec(),
            file,
            allowed: &[],
        }
    }

    fn allowing(mut self, allowed: &'static [&'static str]) -> Self {
        self.allowed = allowed;
        self
    }

    fn spawn(&self) -> Child {
        Command::new(pkilint_exe(self.tool))
            .arg("lint")
            .args(&self.args)
            .args(["-s", "ERROR", "-f", "JSON"])
            .arg(&self.file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; install pkilint 0.13.3 (scripts/test.sh does) or set \
                     COEUR_PKILINT_BIN to the directory of its executables",
                    self.tool
                )
            })
    }
}

/// Runs the lint jobs in parallel; fails with every finding of severity ERROR or FATAL that
/// its job does not allow. Returns the allowed findings seen, as "tool: code".
fn lint_all(jobs: &[LintJob]) -> BTreeSet<String> {
    let children: Vec<Child> = jobs.iter().map(LintJob::spawn).collect();
    let mut problems = Vec::new();
    let mut kept = BTreeSet::new();
    for (job, child) in jobs.iter().zip(children) {
        let o = child.wait_with_output().expect("pkilint");
        let name = job.file.file_name().unwrap_or_default().to_string_lossy();
        let report: Value = match serde_json::from_slice(&o.stdout) {
            Ok(v) => v,
            Err(_) => {
                problems.push(format!("{} {name}: no report:\n{}", job.tool, text(&o)));
                continue;
            }
        };
        for r in report["results"].as_array().into_iter().flatten() {
            for f in r["finding_descriptions"].as_array().into_iter().flatten() {
                let code = f["code"].as_str().unwrap_or_default();
                if !matches!(f["severity"].as_str(), Some("ERROR" | "FATAL")) {
                    continue;
                }
                if job.allowed.contains(&code) {
                    kept.insert(format!("{}: {code}", job.tool));
                } else {
                    problems.push(format!(
                        "{} {name}: {code} ({}) at {}: {}",
                        job.tool, f["severity"], r["node_path"], f["message"]
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pkilint findings:\n{}",
        problems.join("\n")
    );
    kept
}

/// `lint_cabf_serverauth_cert -t OV-FINAL-CERTIFICATE` on SSL_SERV: findings kept by design.
const CABF_SERVERAUTH_KEPT: &[&str] = &[
    "cabf.internal_domain_name",
    "cabf.serverauth.certificate_validity_period_exceeds_200_days",
    "cabf.serverauth.certificate_validity_period_exceeds_398_days",
    "cabf.serverauth.ov.organizational_unit_name_attribute_present",
    "cabf.serverauth.crldp_dpname_prohibited_uri_scheme",
    "cabf.serverauth.subscriber_missing_reserved_policy_oid",
];

/// `lint_cabf_smime_cert -t ORGANIZATION-STRICT` on SMIME_MSS: findings kept by design.
const CABF_SMIME_KEPT: &[&str] = &[
    "cabf.internal_domain_name",
    "cabf.smime.certificate_validity_period_exceeds_825_days",
    "cabf.smime.missing_required_attribute",
    "cabf.smime.crldp_fullname_prohibited_uri_scheme",
    "cabf.smime.no_required_reserved_policy_oid",
];

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
struct Api<'a> {
    s: &'a TestServer,
    http: reqwest::Client,
    token: String,
}

impl<'a> Api<'a> {
    async fn new(s: &'a TestServer, realm: &str) -> Self {
        register_ca_client(s, realm).await;
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
    async fn issue(&self, ca: &str, profile: &str, csr: &str, subject: &Value) -> (String, String) {
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

    async fn revoke(&self, ca: &str, serial: &str, reason: &str) -> (u16, Value) {
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

fn org_subject(extra: Value) -> Value {
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

// ------------------------------------------------------------------------------- profiles

/// One end-entity profile to issue: what to ask, what the certificate must say.
struct Case {
    profile: &'static str,
    ca: &'static str,
    key: Key,
    subject: Value,
    /// Substrings of `openssl x509 -ext keyUsage,extendedKeyUsage,subjectAltName`.
    ext: &'static [&'static str],
    /// Substrings of the subject (RFC 2253).
    dn: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    let org_dn: &[&str] = &[
        "OU=318751275100020",
        "O=CENTRE HOSPITALIER DE TEST",
        "ST=Paris (75)",
        "C=FR",
    ];
    vec![
        Case {
            profile: "SSL_SERV",
            ca: ORG_CA,
            key: Key::Rsa(2048),
            subject: server_subject(),
            ext: &[
                "Key Usage: critical\n    Digital Signature, Key Encipherment\n",
                "TLS Web Server Authentication, TLS Web Client Authentication\n",
                "DNS:srv.ch-test.fr, DNS:www.ch-test.fr\n",
            ],
            dn: vec!["CN=srv.ch-test.fr,OU=318751275100020"],
        },
        Case {
            profile: "ORG_AUTH_CLI",
            ca: ORG_CA,
            key: Key::P256,
            subject: org_subject(json!({ "service_name": "INSI-AUTO" })),
            ext: &[
                "Key Usage: critical\n    Digital Signature\n",
                "Extended Key Usage: \n    TLS Web Client Authentication\n",
            ],
            dn: vec!["CN=INSI-AUTO,OU=318751275100020"],
        },
        Case {
            profile: "ORG_SIGN",
            ca: ORG_CA,
            key: Key::P384,
            subject: org_subject(json!({ "service_name": "Cachet DMP" })),
            ext: &[
                "Key Usage: critical\n    Digital Signature, Non Repudiation\n",
                "Extended Key Usage: \n    E-mail Protection\n",
            ],
            dn: vec!["CN=Cachet DMP,"],
        },
        Case {
            profile: "ORG_CONF",
            ca: ORG_CA,
            key: Key::Rsa(3072),
            subject: org_subject(json!({ "service_name": "Chiffrement" })),
            ext: &[
                "Key Usage: critical\n    Key Encipherment\n",
                "Extended Key Usage: \n    E-mail Protection\n",
            ],
            dn: vec!["CN=Chiffrement,"],
        },
        Case {
            profile: "SMIME_MSS",
            ca: ORG_CA,
            key: Key::Rsa(2048),
            subject: org_subject(json!({ "emails": ["secretariat@ch-test.mssante.fr"] })),
            ext: &[
                "Key Usage: critical\n    Digital Signature, Key Encipherment\n",
                "Extended Key Usage: \n    E-mail Protection\n",
                "email:secretariat@ch-test.mssante.fr\n",
            ],
            dn: vec!["CN=secretariat@ch-test.mssante.fr,"],
        },
        Case {
            profile: "CPS_AUTH",
            ca: PER_CA,
            key: Key::P256,
            subject: person_subject(),
            ext: &[
                "Key Usage: critical\n    Digital Signature\n",
                "Extended Key Usage: \n    TLS Web Client Authentication\n",
            ],
            dn: vec!["CN=899700218896,title=Médecin,GN=CLAIRE,SN=MARTIN,C=FR"],
        },
        Case {
            profile: "CPS_SIGN",
            ca: PER_CA,
            key: Key::Rsa(2048),
            subject: person_subject(),
            ext: &[
                "Key Usage: critical\n    Non Repudiation\n",
                "Extended Key Usage: \n    E-mail Protection\n",
            ],
            dn: vec!["CN=899700218896,"],
        },
    ]
    .into_iter()
    .map(|mut c| {
        if c.ca == ORG_CA {
            c.dn.extend_from_slice(org_dn);
        }
        c
    })
    .collect()
}

both_dbs!(every_profile_verifies_and_lints, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    api.save_ca_pems(&w, &[ROOT, ORG_CA, PER_CA]).await;
    let mut jobs = Vec::new();
    let mut serials = Vec::new();
    for c in cases() {
        let csr = w.csr(c.profile, c.key);
        let (serial, pem) = api.issue(c.ca, c.profile, &csr, &c.subject).await;
        let file = format!("{}.pem", c.profile);
        let leaf = w.write(&file, &pem);
        let o = w.verify(&format!("{ROOT}.pem"), &format!("{}.pem", c.ca), &file, &[]);
        assert!(o.status.success(), "{}: {}", c.profile, text(&o));
        assert_eq!(text(&o).trim(), format!("{file}: OK"));
        // The certificate certifies the CSR's key…
        assert_eq!(
            w.openssl_ok(&["x509", "-in", &file, "-noout", "-pubkey"]),
            w.openssl_ok(&[
                "req",
                "-in",
                &format!("{}.csr", c.profile),
                "-noout",
                "-pubkey"
            ]),
            "{}",
            c.profile
        );
        // …with the profile's extensions and the CA-built subject, nothing from the CSR.
        let ext = w.x509(&file, &["-ext", "keyUsage,extendedKeyUsage,subjectAltName"]);
        for want in c.ext {
            assert!(ext.contains(want), "{}: {want:?} not in\n{ext}", c.profile);
        }
        if !c
            .ext
            .iter()
            .any(|e| e.starts_with("DNS:") || e.starts_with("email:"))
        {
            assert!(!ext.contains("Alternative Name"), "{}: {ext}", c.profile);
        }
        let subject = w.x509(&file, &["-subject"]);
        for want in c.dn {
            assert!(
                subject.contains(want),
                "{}: {want:?} not in {subject}",
                c.profile
            );
        }
        assert!(!subject.contains("ignored") && !subject.contains("NOT COPIED"));
        let bc = w.x509(&file, &["-ext", "basicConstraints"]);
        assert!(bc.contains("CA:FALSE"), "{bc}");
        serials.push((c.ca, c.profile, serial));
        jobs.push(LintJob::new("lint_pkix_cert", &[], leaf.clone()));
        match c.profile {
            "SSL_SERV" => jobs.push(
                LintJob::new(
                    "lint_cabf_serverauth_cert",
                    &["-t", "OV-FINAL-CERTIFICATE"],
                    leaf,
                )
                .allowing(CABF_SERVERAUTH_KEPT),
            ),
            "SMIME_MSS" => jobs.push(
                LintJob::new("lint_cabf_smime_cert", &["-t", "ORGANIZATION-STRICT"], leaf)
                    .allowing(CABF_SMIME_KEPT),
            ),
            _ => {}
        }
    }
    let kept = lint_all(&jobs);
    // The CA/B Forum linters did run and see these certificates.
    assert!(
        kept.contains(
            "lint_cabf_serverauth_cert: cabf.serverauth.subscriber_missing_reserved_policy_oid"
        ),
        "{kept:?}"
    );
    assert!(
        kept.contains("lint_cabf_smime_cert: cabf.smime.no_required_reserved_policy_oid"),
        "{kept:?}"
    );

    // The API serves what it issued: PEM, DER, PKCS#7 with the chain, and the listing.
    let (ca, _, serial) = &serials[0];
    let pem = api
        .get(&format!(
            "/pki/api/v1/certificates/{ca}/{serial}?format=pem"
        ))
        .await;
    assert_eq!(pem, w.read("SSL_SERV.pem"));
    let der = w.write(
        "ssl.der",
        api.get(&format!(
            "/pki/api/v1/certificates/{ca}/{serial}?format=der"
        ))
        .await,
    );
    let from_der = w.openssl_ok(&["x509", "-inform", "DER", "-in", der.to_str().unwrap()]);
    assert_eq!(from_der.as_bytes(), &pem[..]);
    w.write(
        "ssl.p7b",
        api.get(&format!(
            "/pki/api/v1/certificates/{ca}/{serial}?format=p7b"
        ))
        .await,
    );
    let p7 = w.openssl_ok(&[
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        "ssl.p7b",
        "-print_certs",
        "-noout",
    ]);
    let subjects: Vec<&str> = p7.lines().filter(|l| l.starts_with("subject=")).collect();
    assert_eq!(subjects.len(), 3, "{p7}");
    assert!(subjects[0].contains("srv.ch-test.fr"), "{p7}");
    assert!(
        subjects[1].contains("TEST AC MODERNE ELEMENTAIRE ORGANISATIONS"),
        "{p7}"
    );
    assert!(
        subjects[2].contains("TEST AC RACINE MODERNE ELEMENTAIRE"),
        "{p7}"
    );
    let list: Value = serde_json::from_slice(
        &api.get(&format!(
            "/pki/api/v1/certificates?ca={ORG_CA}&profile=SSL_SERV&q=srv.ch-test"
        ))
        .await,
    )
    .expect("list");
    let listed = list["certificates"].as_array().expect("certificates");
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["serial"], serial.as_str());
    assert_eq!(listed[0]["profile"], "SSL_SERV");
    let all: Value = serde_json::from_slice(&api.get("/pki/api/v1/certificates").await).unwrap();
    let listed: BTreeSet<&str> = all["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter_map(|c| c["serial"].as_str())
        .collect();
    assert_eq!(listed.len() as i64, rows(&s).await.0, "{all}");
    for (_, profile, serial) in &serials {
        assert!(
            listed.contains(serial.as_str()),
            "{profile} {serial} not listed"
        );
    }
});

both_dbs!(ec_keys_get_no_key_encipherment, |db| async move {
    // RFC 5480 §3: keyEncipherment is not a usage of an EC key. SSL_SERV and SMIME_MSS accept
    // P-256 keys; their certificates must not carry it.
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let mut jobs = Vec::new();
    for (profile, subject) in [
        ("SSL_SERV", server_subject()),
        (
            "SMIME_MSS",
            org_subject(json!({ "emails": ["bal@ch-test.mssante.fr"] })),
        ),
    ] {
        let csr = w.csr(profile, Key::P256);
        let (_, pem) = api.issue(ORG_CA, profile, &csr, &subject).await;
        let leaf = w.write(&format!("{profile}.pem"), &pem);
        jobs.push(LintJob::new("lint_pkix_cert", &[], leaf));
    }
    lint_all(&jobs);
});

// ------------------------------------------------------------------------------- CA certificates

/// Checks every CA of the running hierarchy (roots, issuing CAs, their OCSP responders, the
/// roots' ARLs) with openssl and lint_pkix_cert / lint_crl. `key` is what `openssl x509 -text`
/// prints for the roots' key and signature algorithm, then for the issuing CAs'.
async fn check_hierarchy(s: &TestServer, api: &Api<'_>, w: &Work, key: [&str; 4]) {
    let ca = &s.state.ca.ca;
    let h = &ca.hierarchy;
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort_by_key(|id| (!ca.cas[*id].def.is_root(), id.as_str()));
    assert_eq!(ids.len(), 9, "3 roots and 6 issuing CAs: {ids:?}");
    let mut jobs = Vec::new();
    for id in &ids {
        let def = &ca.cas[*id].def;
        assert!(
            def.test && id.ends_with("-TEST"),
            "the TEST twins run: {id}"
        );
        let pem = api.get(&format!("/pki/ca/{id}.pem")).await;
        let file = format!("{id}.pem");
        let path = w.write(&file, &pem);
        w.write(
            &format!("{id}.cer"),
            api.get(&format!("/pki/ca/{id}.cer")).await,
        );
        let from_der = w.openssl_ok(&["x509", "-inform", "DER", "-in", &format!("{id}.cer")]);
        assert_eq!(from_der.as_bytes(), &pem[..], "{id}: .cer and .pem differ");
        let subject = w.x509(&file, &["-subject"]);
        let dn = format!(
            "subject=CN={},OU={} TEST,OU={},O={},C=FR",
            def.cn, h.label, h.organization_identifier, h.organization
        );
        assert_eq!(subject.trim(), dn, "{id}");
        let types = w.x509(&file, &["-subject", "-nameopt", "multiline,show_type"]);
        assert!(
            types.contains("countryName               = PRINTABLESTRING:FR"),
            "{types}"
        );
        assert_eq!(types.matches("UTF8STRING").count(), 4, "{types}");
        let all = w.x509(&file, &["-text"]);
        let ext = w.x509(
            &file,
            &["-ext", "basicConstraints,keyUsage,extendedKeyUsage"],
        );
        assert!(
            ext.contains("Key Usage: critical\n    Certificate Sign, CRL Sign\n"),
            "{id}: {ext}"
        );
        assert!(!ext.contains("Extended Key Usage"), "{id}: {ext}");
        match &def.parent {
            None => {
                let o = w.verify(&file, &file, &file, &[]);
                assert!(o.status.success(), "{id}: {}", text(&o));
                assert!(
                    ext.contains("Basic Constraints: critical\n    CA:TRUE\n"),
                    "{id}: {ext}"
                );
                assert!(all.contains(key[0]) && all.contains(key[1]), "{id}: {all}");
                assert!(!all.contains("CRL Distribution Points"), "{id}");
                // The root's ARL: signed by the root, lint-clean.
                let arl = w.write(
                    &format!("{id}.crl"),
                    api.get(&format!("/pki/crl/{id}.crl")).await,
                );
                w.openssl_ok(&[
                    "crl",
                    "-inform",
                    "DER",
                    "-in",
                    &format!("{id}.crl"),
                    "-CAfile",
                    &file,
                    "-noout",
                ]);
                jobs.push(LintJob::new("lint_crl", &["-t", "ARL", "-p", "PKIX"], arl));
            }
            Some(parent) => {
                let o = w.verify(&format!("{parent}.pem"), &file, &file, &[]);
                assert!(o.status.success(), "{id}: {}", text(&o));
                assert!(
                    ext.contains("Basic Constraints: critical\n    CA:TRUE, pathlen:0\n"),
                    "{id}: {ext}"
                );
                assert!(all.contains(key[2]) && all.contains(key[3]), "{id}: {all}");
                let dp = w.x509(&file, &["-ext", "crlDistributionPoints"]);
                assert_eq!(
                    first_http_uri(&dp),
                    format!("{}/pki/crl/{parent}.crl", s.base)
                );
                let aia = w.x509(&file, &["-ext", "authorityInfoAccess"]);
                assert!(
                    aia.contains(&format!("CA Issuers - URI:{}/pki/ca/{parent}.cer", s.base)),
                    "{aia}"
                );
                let p7 = w.write(
                    &format!("{id}.p7b"),
                    api.get(&format!("/pki/chain/{id}.p7b")).await,
                );
                let certs = w.openssl_ok(&[
                    "pkcs7",
                    "-inform",
                    "DER",
                    "-in",
                    p7.to_str().unwrap(),
                    "-print_certs",
                    "-noout",
                ]);
                let subjects: Vec<&str> = certs
                    .lines()
                    .filter(|l| l.starts_with("subject="))
                    .collect();
                assert_eq!(subjects.len(), 2, "{certs}");
                assert!(subjects[0].ends_with(&def.cn), "{certs}");
            }
        }
        jobs.push(LintJob::new("lint_pkix_cert", &[], path));
    }
    // Delegated OCSP responders, one per issuing CA.
    let responders =
        sqlx::query("SELECT ca_id, der FROM ca_certs WHERE ca_id LIKE '%-OCSP' ORDER BY ca_id")
            .fetch_all(s.state.store.db().pool())
            .await
            .expect("responders");
    assert_eq!(responders.len(), 6);
    for r in responders {
        use base64::Engine as _;
        let rid: String = r.try_get("ca_id").unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(r.try_get::<String, _>("der").unwrap())
            .unwrap();
        let issuing = rid.trim_end_matches("-OCSP");
        let parent = ca.cas[issuing].def.parent.clone().unwrap();
        w.write(&format!("{rid}.der"), &der);
        let file = format!("{rid}.pem");
        let path = w.write(
            &file,
            w.openssl_ok(&["x509", "-inform", "DER", "-in", &format!("{rid}.der")]),
        );
        let o = w.verify(
            &format!("{parent}.pem"),
            &format!("{issuing}.pem"),
            &file,
            &["-purpose", "ocsphelper"],
        );
        assert!(o.status.success(), "{rid}: {}", text(&o));
        let ext = w.x509(&file, &["-ext", "extendedKeyUsage,keyUsage,noCheck"]);
        assert!(ext.contains("OCSP Signing"), "{rid}: {ext}");
        assert!(ext.contains("OCSP No Check"), "{rid}: {ext}");
        jobs.push(LintJob::new("lint_pkix_cert", &[], path));
    }
    lint_all(&jobs);
}

both_dbs!(modern_ca_certificates, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    check_hierarchy(
        &s,
        &api,
        &w,
        [
            "ASN1 OID: secp384r1",
            "ecdsa-with-SHA384",
            "ASN1 OID: prime256v1",
            "ecdsa-with-SHA384",
        ],
    )
    .await;
});

/// The RSA hierarchy, once: SQLite only, since generating nine RSA-4096 CA keys takes tens of
/// seconds in a debug build, and what depends on the database (storing CA certificates) is
/// covered on both databases by `modern_ca_certificates`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn igc_sante_ca_certificates_sqlite() {
    let s = TestServer::start_with(Db::Sqlite, &realms_dir(), |o| {
        o.common.pki_hierarchy = Some("igc-sante".into());
    })
    .await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    check_hierarchy(
        &s,
        &api,
        &w,
        [
            "Public-Key: (4096 bit)",
            "sha256WithRSAEncryption",
            "Public-Key: (4096 bit)",
            "sha256WithRSAEncryption",
        ],
    )
    .await;
    assert!(w.x509("ACR-EL-TEST.pem", &["-subject"]).contains(
        "CN=TEST AC RACINE IGC-SANTE ELEMENTAIRE,OU=IGC-SANTE TEST,OU=0002 187512751,O=ASIP-SANTE,C=FR"
    ));
    // A leaf of the RSA hierarchy, and its OCSP status from the P-256 responder.
    let csr = w.csr("sign", Key::Rsa(2048));
    let subject = org_subject(json!({ "service_name": "Cachet DMP" }));
    let (_, pem) = api
        .issue("ACI-EL-ORG-TEST", "ORG_SIGN", &csr, &subject)
        .await;
    let leaf = w.write("sign.pem", &pem);
    let o = w.verify("ACR-EL-TEST.pem", "ACI-EL-ORG-TEST.pem", "sign.pem", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        w.x509("sign.pem", &["-ext", "certificatePolicies"])
            .contains("Policy: 1.2.250.1.213.1.7.2.1.1.1.1")
    );
    lint_all(&[LintJob::new("lint_pkix_cert", &[], leaf)]);
    let chain = [w.read("ACI-EL-ORG-TEST.pem"), w.read("ACR-EL-TEST.pem")].concat();
    w.write("chain.pem", chain);
    let out = w.openssl_ok(&[
        "ocsp",
        "-issuer",
        "ACI-EL-ORG-TEST.pem",
        "-cert",
        "sign.pem",
        "-url",
        &format!("{}/pki/ocsp", s.base),
        "-CAfile",
        "chain.pem",
    ]);
    assert!(
        out.contains("sign.pem: good") && out.contains("Response verify OK"),
        "{out}"
    );
}

// ------------------------------------------------------------------------------- revocation

/// `openssl ocsp` for `cert` (issued by `ORG_CA`) against the server; returns its output.
fn ocsp(w: &Work, s: &TestServer, cert: &str, extra: &[&str]) -> String {
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

both_dbs!(revocation_crl_and_ocsp, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    w.write("root.pem", api.get(&format!("/pki/ca/{ROOT}.pem")).await);
    w.write(
        "issuing.pem",
        api.get(&format!("/pki/ca/{ORG_CA}.pem")).await,
    );
    w.write(
        "chain.pem",
        [w.read("issuing.pem"), w.read("root.pem")].concat(),
    );
    let csr = w.csr("leaf", Key::P256);
    let (serial, pem) = api
        .issue(
            ORG_CA,
            "ORG_AUTH_CLI",
            &csr,
            &org_subject(json!({ "service_name": "INSI-AUTO" })),
        )
        .await;
    w.write("leaf.pem", &pem);
    let (_, other_pem) = api
        .issue(
            ORG_CA,
            "ORG_AUTH_CLI",
            &csr,
            &org_subject(json!({ "service_name": "INSI-MANU" })),
        )
        .await;
    w.write("other.pem", &other_pem);

    // Where the certificate says its CRLs are: the test server.
    let dp = first_http_uri(&w.x509("leaf.pem", &["-ext", "crlDistributionPoints"]));
    let delta_dp = first_http_uri(&w.x509("leaf.pem", &["-ext", "freshestCRL"]));
    assert_eq!(dp, format!("{}/pki/crl/{ORG_CA}.crl", s.base));
    assert_eq!(delta_dp, format!("{}/pki/crl/{ORG_CA}-delta.crl", s.base));
    let arl_dp = first_http_uri(&w.x509("issuing.pem", &["-ext", "crlDistributionPoints"]));
    let fetch_crls = |name: &'static str| {
        let (api, w, dp, delta_dp, arl_dp) =
            (&api, &w, dp.clone(), delta_dp.clone(), arl_dp.clone());
        async move {
            for (url, file) in [(dp, "crl"), (delta_dp, "delta"), (arl_dp, "arl")] {
                w.write(&format!("{name}-{file}.der"), api.get(&url).await);
                w.openssl_ok(&[
                    "crl",
                    "-inform",
                    "DER",
                    "-in",
                    &format!("{name}-{file}.der"),
                    "-out",
                    &format!("{name}-{file}.pem"),
                ]);
            }
        }
    };
    fetch_crls("before").await;
    let crl_check = |prefix: &str| {
        w.verify(
            "root.pem",
            "issuing.pem",
            "leaf.pem",
            &[
                "-crl_check_all",
                "-CRLfile",
                &format!("{prefix}-crl.pem"),
                "-CRLfile",
                &format!("{prefix}-arl.pem"),
            ],
        )
    };
    let o = crl_check("before");
    assert!(o.status.success(), "{}", text(&o));

    // OCSP before: good, with and without nonce.
    let out = ocsp(&w, &s, "leaf.pem", &["-resp_text"]);
    assert!(out.contains("leaf.pem: good"), "{out}");
    assert!(out.contains("OCSP Nonce"), "the nonce is echoed: {out}");
    assert!(!out.contains("WARNING"), "{out}");
    let out = ocsp(&w, &s, "leaf.pem", &["-no_nonce"]);
    assert!(out.contains("leaf.pem: good"), "{out}");

    // Revoke.
    let (st, v) = api.revoke(ORG_CA, &serial, "keyCompromise").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["reason"], "keyCompromise");

    // OCSP at once: revoked, with the reason, with and without nonce (the cached answer
    // without nonce is forgotten).
    for extra in [&[][..], &["-no_nonce"][..]] {
        let out = ocsp(&w, &s, "leaf.pem", extra);
        assert!(out.contains("leaf.pem: revoked"), "{out}");
        assert!(out.contains("Reason: keyCompromise"), "{out}");
    }
    let out = ocsp(&w, &s, "other.pem", &["-no_nonce"]);
    assert!(out.contains("other.pem: good"), "{out}");
    // One request for both.
    let out = ocsp(&w, &s, "leaf.pem", &["-cert", "other.pem"]);
    assert!(
        out.contains("leaf.pem: revoked") && out.contains("other.pem: good"),
        "{out}"
    );

    // GET (RFC 6960 appendix A): the request base64- then URL-encoded in the path.
    w.openssl_ok(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "leaf.pem",
        "-no_nonce",
        "-reqout",
        "req.der",
    ]);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(w.read("req.der"));
    let encoded: String = url::form_urlencoded::byte_serialize(b64.as_bytes()).collect();
    for path in [format!("/pki/ocsp/{encoded}"), format!("/pki/ocsp/{b64}")] {
        let r = reqwest::get(format!("{}{path}", s.base))
            .await
            .expect("ocsp get");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/ocsp-response");
        assert!(r.headers().contains_key("cache-control"));
        w.write("resp.der", r.bytes().await.unwrap());
        let out = w.openssl_ok(&[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "leaf.pem",
            "-CAfile",
            "chain.pem",
        ]);
        assert!(out.contains("Response verify OK"), "{path}: {out}");
        assert!(
            out.contains("leaf.pem: revoked") && out.contains("Reason: keyCompromise"),
            "{path}: {out}"
        );
    }

    // A serial this CA never issued: unknown.
    let url = format!("{}/pki/ocsp", s.base);
    let out = w.openssl_ok(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x0123456789ABCDEF0123",
        "-url",
        &url,
        "-CAfile",
        "chain.pem",
    ]);
    assert!(out.contains("0x0123456789ABCDEF0123: unknown"), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");

    // The CRL from the distribution point now lists it, and chain validation fails.
    fetch_crls("after").await;
    let o = crl_check("after");
    assert!(
        !o.status.success(),
        "a revoked certificate verifies: {}",
        text(&o)
    );
    assert!(text(&o).contains("certificate revoked"), "{}", text(&o));
    let o = w.verify(
        "root.pem",
        "issuing.pem",
        "other.pem",
        &[
            "-crl_check_all",
            "-CRLfile",
            "after-crl.pem",
            "-CRLfile",
            "after-arl.pem",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Both CRLs verify with the CA's key; the full one lists the serial with its reason.
    for f in ["after-crl.der", "after-delta.der", "after-arl.der"] {
        let ca = if f == "after-arl.der" {
            "root.pem"
        } else {
            "issuing.pem"
        };
        let out = w.openssl_ok(&["crl", "-inform", "DER", "-in", f, "-CAfile", ca, "-noout"]);
        assert!(out.contains("verify OK"), "{f}: {out}");
    }
    let full = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "after-crl.der",
        "-noout",
        "-text",
    ]);
    let entry = format!("Serial Number: {}", openssl_serial(&serial));
    assert!(full.contains(&entry), "{entry} not in\n{full}");
    assert!(full.contains("Key Compromise"), "{full}");
    assert!(!full.contains("Delta CRL Indicator"), "{full}");
    assert!(full.contains("Freshest CRL"), "{full}");
    let number = |t: &str, label: &str| -> String {
        let i = t
            .find(label)
            .unwrap_or_else(|| panic!("no {label} in\n{t}"));
        t[i..].lines().nth(1).unwrap_or_default().trim().to_owned()
    };
    let delta = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "after-delta.der",
        "-noout",
        "-text",
    ]);
    assert!(
        delta.contains("X509v3 Delta CRL Indicator: critical"),
        "{delta}"
    );
    assert_eq!(
        number(&delta, "Delta CRL Indicator"),
        number(&full, "X509v3 CRL Number"),
        "the delta's base is the full CRL served with it"
    );
    let before = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "before-crl.der",
        "-noout",
        "-text",
    ]);
    assert!(!before.contains(&entry), "{before}");
    assert!(
        number(&full, "X509v3 CRL Number").parse::<u64>().unwrap()
            > number(&before, "X509v3 CRL Number").parse::<u64>().unwrap(),
        "a new CRL after the revocation"
    );

    // pkilint on the CRLs and an OCSP response.
    lint_all(&[
        LintJob::new(
            "lint_crl",
            &["-t", "CRL", "-p", "PKIX"],
            w.path("after-crl.der"),
        ),
        LintJob::new(
            "lint_crl",
            &["-t", "CRL", "-p", "PKIX"],
            w.path("after-delta.der"),
        ),
        LintJob::new(
            "lint_crl",
            &["-t", "ARL", "-p", "PKIX"],
            w.path("after-arl.der"),
        ),
        LintJob::new("lint_ocsp_response", &[], w.path("resp.der")),
    ]);
});

both_dbs!(
    serials_with_a_leading_zero_digit_are_found,
    |db| async move {
        // About one serial in eight has a first byte below 0x10, so its stored hex form starts
        // with "0": fetching, revoking and OCSP must work for those too.
        let s = TestServer::start(db).await;
        let api = Api::new(&s, "edit").await;
        let w = Work::new();
        let csr = w.csr("k", Key::P256);
        let subject = org_subject(json!({ "service_name": "INSI-AUTO" }));
        let mut found = None;
        for _ in 0..100 {
            let (serial, pem) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
            if serial.starts_with('0') {
                found = Some((serial, pem));
                break;
            }
        }
        let (serial, pem) = found.expect("a serial starting with 0 in 100 issuances");
        let (st, body) = api
            .get_raw(&format!("/pki/api/v1/certificates/{ORG_CA}/{serial}"))
            .await;
        assert_eq!(st, 200, "GET {serial}: {}", String::from_utf8_lossy(&body));
        assert_eq!(body, pem.as_bytes());
        let (st, v) = api.revoke(ORG_CA, &serial, "superseded").await;
        assert_eq!(st, 200, "revoke {serial}: {v}");
        w.write("leaf.pem", &pem);
        w.write(
            "issuing.pem",
            api.get(&format!("/pki/ca/{ORG_CA}.pem")).await,
        );
        w.write("root.pem", api.get(&format!("/pki/ca/{ROOT}.pem")).await);
        w.write(
            "chain.pem",
            [w.read("issuing.pem"), w.read("root.pem")].concat(),
        );
        let out = ocsp(&w, &s, "leaf.pem", &[]);
        assert!(out.contains("leaf.pem: revoked"), "{out}");
    }
);

// ------------------------------------------------------------------------------- refusals

/// A PEM CSR whose signature no longer verifies (last byte of the signature flipped).
fn corrupt_signature(pem: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = b64.decode(body).expect("base64");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        b64.encode(der)
    )
}

both_dbs!(refusals_are_precise_and_write_nothing, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let ec = w.csr("ec", Key::P256);
    let rsa = w.csr("rsa", Key::Rsa(2048));
    let weak = w.csr("weak", Key::Rsa(1024));
    let bad_signature = corrupt_signature(&rsa);
    let (serial, _) = api.issue(ORG_CA, "SSL_SERV", &rsa, &server_subject()).await;
    let baseline = rows(&s).await;

    let with = |base: Value, k: &str, v: Value| {
        let mut b = base;
        b[k] = v;
        b
    };
    let ssl = server_subject();
    let cases: Vec<(&str, &str, &str, Value, String)> = vec![
        (
            ORG_CA,
            "SSL_SERV",
            &bad_signature[..],
            ssl.clone(),
            "the CSR signature does not verify (no proof of possession)".into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            "not a CSR",
            ssl.clone(),
            "the CSR is not a DER or PEM PKCS#10 request".into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &weak[..],
            ssl.clone(),
            "weak key: RSA 1024 bits (minimum 2048)".into(),
        ),
        (
            ORG_CA,
            "ORG_CONF",
            &ec[..],
            org_subject(json!({ "service_name": "Chiffrement" })),
            "key type p256 is not allowed by profile ORG_CONF (allowed: rsa2048, rsa3072, rsa4096)"
                .into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!(["srv..ch-test.fr"])),
            r#"forbidden name: "srv..ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(
                ssl.clone(),
                "dns_names",
                json!(["srv.ch-test.fr", "srv.*.ch-test.fr"]),
            ),
            r#"forbidden name: "srv.*.ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!(["*srv.ch-test.fr"])),
            r#"forbidden name: "*srv.ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!(["*.*.ch-test.fr"])),
            r#"forbidden name: "*.*.ch-test.fr" is not a valid DNS name"#.into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "emails", json!(["it@ch-test.fr"])),
            "forbidden name: e-mail addresses are not allowed in this profile".into(),
        ),
        (
            ORG_CA,
            "SSL_SERV",
            &ec[..],
            with(ssl.clone(), "dns_names", json!([])),
            "missing field: dns_names".into(),
        ),
        (
            ORG_CA,
            "SMIME_MSS",
            &ec[..],
            ssl.clone(),
            "missing field: emails".into(),
        ),
        (
            ORG_CA,
            "ORG_SIGN",
            &ec[..],
            with(ssl.clone(), "service_name", json!("Cachet")),
            "forbidden name: profile ORG_SIGN carries no subject alternative names".into(),
        ),
        (
            ORG_CA,
            "SSL_CLIENT",
            &ec[..],
            ssl.clone(),
            "unknown profile SSL_CLIENT".into(),
        ),
        (
            "MOD-EL-XXX-TEST",
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            "unknown CA MOD-EL-XXX-TEST".into(),
        ),
        // The production twin does not run beside the TEST CAs.
        (
            "MOD-EL-ORG",
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            "unknown CA MOD-EL-ORG".into(),
        ),
        (
            PER_CA,
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            format!("profile SSL_SERV is not issued by CA {PER_CA}"),
        ),
        (
            ROOT,
            "SSL_SERV",
            &ec[..],
            ssl.clone(),
            format!("profile SSL_SERV is not issued by CA {ROOT}"),
        ),
        (
            ORG_CA,
            "OCSP",
            &ec[..],
            ssl.clone(),
            "forbidden name: OCSP responder certificates are issued by coeur itself".into(),
        ),
    ];
    // Every case runs; the wrong answers are reported together at the end.
    let mut wrong = Vec::new();
    for (ca, profile, csr, subject, want) in cases {
        let (st, v) = api.submit(ca, profile, csr, &subject).await;
        if (st, v["error"].as_str(), v["error_description"].as_str())
            != (400, Some("invalid_request"), Some(want.as_str()))
        {
            wrong.push(format!(
                "{ca} {profile}: expected 400 {want:?}, got {st} {v}"
            ));
        }
        assert_eq!(rows(&s).await, baseline, "a refusal wrote: {want}");
    }
    let (st, v) = api
        .post(
            "/pki/api/v1/requests",
            &json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": ec, "subject": ssl, "extra": 1 }),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown field"),
        "{v}"
    );

    // Authentication and scopes.
    let submit_body =
        json!({ "ca": ORG_CA, "profile": "SSL_SERV", "csr": ec, "subject": server_subject() });
    let r = api
        .http
        .post(api.url("/pki/api/v1/requests"))
        .json(&submit_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_token");
    let (st, v) = api
        .post_as(Some("not-a-token"), "/pki/api/v1/requests", &submit_body)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_token")),
        "{v}"
    );
    // A token of another realm is not one of the CA realm's.
    register_ca_client(&s, "esante-wallet").await;
    let foreign = token(&s, "esante-wallet", "ca:request").await;
    let (st, v) = api
        .post_as(Some(&foreign), "/pki/api/v1/requests", &submit_body)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_token")),
        "{v}"
    );
    let read_only = token(&s, "edit", "ca:read").await;
    let r = api
        .http
        .post(api.url("/pki/api/v1/requests"))
        .bearer_auth(&read_only)
        .json(&submit_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer error="insufficient_scope", scope="ca:request""#
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "insufficient_scope");
    let requester = token(&s, "edit", "ca:request").await;
    let revoke_path = format!("/pki/api/v1/certificates/{ORG_CA}/{serial}/revoke");
    let (st, v) = api
        .post_as(
            Some(&requester),
            &revoke_path,
            &json!({ "reason": "keyCompromise" }),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{v}"
    );
    let r = api
        .http
        .get(api.url("/pki/api/v1/certificates"))
        .bearer_auth(&requester)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = api
        .http
        .get(api.url("/pki/api/v1/certificates"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(rows(&s).await, baseline);

    // Revocation refusals.
    let (st, v) = api.revoke(ORG_CA, &serial, "sleepy").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (st, v) = api
        .revoke(ORG_CA, "1234567890abcdef1234", "keyCompromise")
        .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "{v}");
    let (st, v) = api.revoke(PER_CA, &serial, "keyCompromise").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (404, Some("not_found")),
        "another CA's serial: {v}"
    );
    let (st, _) = api
        .get_raw(&format!(
            "/pki/api/v1/certificates/{ORG_CA}/1234567890abcdef1234"
        ))
        .await;
    assert_eq!(st, 404);
    assert_eq!(rows(&s).await, baseline);
    let (st, v) = api.revoke(ORG_CA, &serial, "keyCompromise").await;
    assert_eq!(st, 200, "{v}");
    let revoked = rows(&s).await;
    assert_eq!(
        revoked,
        (baseline.0, baseline.1, baseline.2 + 1),
        "one audit record"
    );
    let (st, v) = api.revoke(ORG_CA, &serial, "superseded").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (409, Some("already_revoked")),
        "{v}"
    );
    assert_eq!(rows(&s).await, revoked);
    let reason: i64 =
        sqlx::query("SELECT reason FROM certificates WHERE ca_id = $1 AND serial = $2")
            .bind(ORG_CA)
            .bind(&serial)
            .fetch_one(s.state.store.db().pool())
            .await
            .unwrap()
            .try_get("reason")
            .unwrap();
    assert_eq!(reason, 1, "the first reason (keyCompromise) stays");
    assert!(
        wrong.is_empty(),
        "imprecise refusals:\n{}",
        wrong.join("\n")
    );
});

// ------------------------------------------------------------------------------- operator

async fn request_row(
    s: &TestServer,
    id: &str,
) -> (String, Option<String>, Option<String>, Option<String>) {
    let r =
        sqlx::query("SELECT status, decided_by, serial, reason FROM cert_requests WHERE id = $1")
            .bind(id)
            .fetch_one(s.state.store.db().pool())
            .await
            .expect("request row");
    (
        r.try_get("status").unwrap(),
        r.try_get("decided_by").unwrap(),
        r.try_get("serial").unwrap(),
        r.try_get("reason").unwrap(),
    )
}

both_dbs!(operator_approves_and_rejects, |db| async move {
    let s = TestServer::start_with(db, &realms_dir(), |o| {
        o.common.ca_realm = Some("esante-wallet".into());
        o.common.pki_production = Some(true);
    })
    .await;
    assert_eq!(
        s.state.ca.ca.approval(),
        coeur::ca::policy::Approval::Operator,
        "production CAs: no automatic approval"
    );
    const PROD_ROOT: &str = "MOD-R-EL";
    const PROD_ORG_CA: &str = "MOD-EL-ORG";
    let api = Api::new(&s, "esante-wallet").await;
    let w = Work::new();
    let csr = w.csr("srv", Key::Rsa(2048));
    let base = rows(&s).await;

    let (st, v) = api
        .submit(PROD_ORG_CA, "SSL_SERV", &csr, &server_subject())
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"], "pending");
    assert!(v["serial"].is_null() && v["certificate"].is_null(), "{v}");
    let first = v["id"].as_str().expect("id").to_owned();
    assert_eq!(
        rows(&s).await,
        (base.0, base.1 + 1, base.2),
        "a pending request, no certificate"
    );
    assert_eq!(request_row(&s, &first).await.0, "pending");

    // Approving needs ca:approve.
    let requester = token(&s, "esante-wallet", "ca:request").await;
    let approve = format!("/pki/api/v1/requests/{first}/approve");
    let (st, v) = api.post_as(Some(&requester), &approve, &json!({})).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{v}"
    );
    // Tokens of the sandbox realm do not authorise this CA.
    let mut spec = rp_spec("ca-client");
    spec.scopes = ALL_SCOPES.split(' ').map(str::to_owned).collect();
    s.add_client("edit", spec, Some(SECRET)).await;
    let sandbox = token(&s, "edit", ALL_SCOPES).await;
    let (st, _) = api.post_as(Some(&sandbox), &approve, &json!({})).await;
    assert_eq!(st, 401);
    assert_eq!(request_row(&s, &first).await.0, "pending");

    let (st, v) = api.post(&approve, &json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "issued");
    assert_eq!(v["id"], first.as_str());
    let serial = v["serial"].as_str().expect("serial").to_owned();
    w.write("srv.pem", v["certificate"].as_str().expect("certificate"));
    api.save_ca_pems(&w, &[PROD_ROOT, PROD_ORG_CA]).await;
    let o = w.verify(
        &format!("{PROD_ROOT}.pem"),
        &format!("{PROD_ORG_CA}.pem"),
        "srv.pem",
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let (status, by, row_serial, _) = request_row(&s, &first).await;
    assert_eq!(status, "issued");
    assert!(
        by.unwrap_or_default().starts_with("ca-client"),
        "the operator is recorded"
    );
    assert_eq!(row_serial.as_deref(), Some(serial.as_str()));
    assert_eq!(rows(&s).await, (base.0 + 1, base.1 + 1, base.2 + 1));

    let (st, v) = api.post(&approve, &json!({})).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(v["error_description"], "the request is issued");
    assert_eq!(rows(&s).await, (base.0 + 1, base.1 + 1, base.2 + 1));

    // Another request, rejected.
    let (st, v) = api
        .submit(PROD_ORG_CA, "SSL_SERV", &csr, &server_subject())
        .await;
    assert_eq!((st, v["status"].as_str()), (201, Some("pending")), "{v}");
    let second = v["id"].as_str().expect("id").to_owned();
    let (st, v) = api
        .post(
            &format!("/pki/api/v1/requests/{second}/reject"),
            &json!({ "reason": "pièces manquantes" }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({ "id": second, "status": "rejected" }));
    let (status, by, row_serial, reason) = request_row(&s, &second).await;
    assert_eq!(status, "rejected");
    assert!(by.unwrap_or_default().starts_with("ca-client"));
    assert_eq!(row_serial, None);
    assert_eq!(reason.as_deref(), Some("pièces manquantes"));
    let (st, v) = api
        .post(
            &format!("/pki/api/v1/requests/{second}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(v["error_description"], "the request is rejected");
    // Deciding an issued request again changes nothing.
    let (st, v) = api
        .post(&format!("/pki/api/v1/requests/{first}/reject"), &json!({}))
        .await;
    assert!(st >= 400, "{st} {v}");
    assert_eq!(request_row(&s, &first).await.0, "issued");
    let (st, v) = api
        .post("/pki/api/v1/requests/no-such-request/approve", &json!({}))
        .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "{v}");
    assert_eq!(rows(&s).await, (base.0 + 1, base.1 + 2, base.2 + 1));
});

// ------------------------------------------------------------------------------- serials

both_dbs!(concurrent_issuance_gives_unique_serials, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let csr = w.csr("k", Key::P256);
    let base = rows(&s).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let (http, url, token) = (
            api.http.clone(),
            api.url("/pki/api/v1/requests"),
            api.token.clone(),
        );
        let body = json!({
            "ca": ORG_CA,
            "profile": "ORG_AUTH_CLI",
            "csr": csr,
            "subject": org_subject(json!({ "service_name": format!("Service {i}") })),
        });
        tasks.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("submit");
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
    }
    let mut serials = BTreeSet::new();
    let mut first_bytes = BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        let (st, v) = r.expect("task");
        assert_eq!((st, v["status"].as_str()), (201, Some("issued")), "{v}");
        let serial = v["serial"].as_str().expect("serial").to_owned();
        let pem = v["certificate"].as_str().expect("certificate");
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let cert = p.parse_x509().expect("certificate");
        let raw = cert.tbs_certificate.raw_serial();
        assert!(raw.len() <= 20, "at most 20 octets: {serial}");
        assert!(raw[0] & 0x80 == 0, "positive: {serial}");
        let bits = raw.len() * 8 - raw[0].leading_zeros() as usize;
        assert!(bits >= 64, "at least 64 bits: {serial} has {bits}");
        assert_eq!(coeur::ca::ca::serial_hex(raw), serial);
        first_bytes.insert(raw[0]);
        assert!(serials.insert(serial.clone()), "duplicate serial {serial}");
    }
    assert_eq!(serials.len(), 100);
    assert!(
        first_bytes.len() > 20,
        "serials look random: {first_bytes:?}"
    );
    assert_eq!(rows(&s).await, (base.0 + 100, base.1 + 100, base.2 + 100));
    let stored: BTreeSet<String> = sqlx::query("SELECT serial FROM certificates WHERE ca_id = $1")
        .bind(ORG_CA)
        .fetch_all(s.state.store.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("serial").unwrap())
        .collect();
    assert!(stored.is_superset(&serials), "every serial is stored");
    let n = base.2 + 100;
    assert_eq!(
        coeur::ca::ca::verify_audit(&s.ca.store).await.unwrap(),
        Ok(n)
    );
});

// ------------------------------------------------------------------------------- audit

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

both_dbs!(audit_chain_detects_tampering, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let csr = w.csr("k", Key::P256);
    let subject = org_subject(json!({ "service_name": "INSI-AUTO" }));
    for _ in 0..2 {
        api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
    }
    let (serial, _) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
    let (st, v) = api.revoke(ORG_CA, &serial, "cessationOfOperation").await;
    assert_eq!(st, 200, "{v}");
    let n = rows(&s).await.2;
    assert!(n >= 4, "issuances and the revocation are recorded");
    let last =
        sqlx::query("SELECT action, subject, actor FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_one(s.state.store.db().pool())
            .await
            .unwrap();
    assert_eq!(last.try_get::<String, _>("action").unwrap(), "revoke");
    assert_eq!(
        last.try_get::<String, _>("subject").unwrap(),
        format!("{ORG_CA}/{serial}")
    );
    assert!(
        last.try_get::<String, _>("actor")
            .unwrap()
            .starts_with("ca-client")
    );
    assert_eq!(
        coeur::ca::ca::verify_audit(&s.ca.store).await.unwrap(),
        Ok(n)
    );
    let url = s.app.cfg.database_url.clone();
    let o = coeur(s.dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("audit log intact: {n} records")
    );

    sqlx::query("UPDATE audit_log SET actor = 'x' WHERE seq = 3")
        .execute(s.state.store.db().pool())
        .await
        .unwrap();
    assert_eq!(
        coeur::ca::ca::verify_audit(&s.ca.store).await.unwrap(),
        Err(3)
    );
    let o = coeur(s.dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert!(!o.status.success(), "a broken chain passes: {}", text(&o));
    assert!(
        text(&o).contains("audit log broken at record 3"),
        "{}",
        text(&o)
    );
});

// ------------------------------------------------------------------------------- CLI

/// `coeur ca` on a temporary SQLite store and key store: issue, export, revoke, CRL, list.
#[test]
fn cli_issue_revoke_crl_sqlite() {
    let w = Work::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let db = format!("sqlite://{}", w.path("coeur.db").display());
    let keys = w.path("keys");
    let crl = w.path("crl");
    let (realms, pki) = (repo.join("realms"), repo.join("pki"));
    let common: Vec<&str> = vec![
        "--database-url",
        &db,
        "--keys-dir",
        keys.to_str().unwrap(),
        "--realms-dir",
        realms.to_str().unwrap(),
        "--pki-dir",
        pki.to_str().unwrap(),
        "--pki-hierarchy",
        "modern",
        "--crl-dir",
        crl.to_str().unwrap(),
    ];
    let run = |args: &[&str]| {
        let o = coeur(w.dir.path(), &[&common[..], args].concat());
        assert!(o.status.success(), "coeur {args:?}: {}", text(&o));
        o
    };
    w.csr("srv", Key::Rsa(2048));
    let o = run(&[
        "ca",
        "issue",
        "--ca",
        ORG_CA,
        "--profile",
        "SSL_SERV",
        "--csr",
        "srv.csr",
        "--structure-id",
        STRUCTURE_ID,
        "--organization",
        "CENTRE HOSPITALIER DE TEST",
        "--state",
        "Paris (75)",
        "--dns",
        "srv.ch-test.fr",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let serial = err
        .lines()
        .find_map(|l| l.strip_prefix(&format!("issued {ORG_CA}/")))
        .unwrap_or_else(|| panic!("no serial in {err}"))
        .to_owned();
    let pem = o.stdout;
    assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----\n"));
    w.write("srv.pem", &pem);
    w.write("root.pem", run(&["ca", "export", "--ca", ROOT]).stdout);
    w.write("issuing.pem", run(&["ca", "export", "--ca", ORG_CA]).stdout);
    let o = w.verify("root.pem", "issuing.pem", "srv.pem", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        w.x509("srv.pem", &["-ext", "subjectAltName"])
            .contains("DNS:srv.ch-test.fr")
    );

    let o = run(&[
        "ca",
        "revoke",
        "--ca",
        ORG_CA,
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("revoked {ORG_CA}/{serial}")
    );
    let o = run(&["ca", "crl", "--ca", ORG_CA]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let full_path = crl.join(format!("{ORG_CA}.crl"));
    assert!(
        out.contains(&format!("{}\t1 entries", full_path.display())),
        "{out}"
    );
    let full = w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        full_path.to_str().unwrap(),
        "-CAfile",
        "issuing.pem",
        "-noout",
        "-text",
    ]);
    assert!(full.contains("verify OK"), "{full}");
    assert!(
        full.contains(&format!("Serial Number: {}", openssl_serial(&serial))),
        "{full}"
    );
    assert!(full.contains("Key Compromise"), "{full}");
    w.openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        full_path.to_str().unwrap(),
        "-out",
        "crl.pem",
    ]);
    let o = w.verify(
        "root.pem",
        "issuing.pem",
        "srv.pem",
        &["-crl_check", "-CRLfile", "crl.pem"],
    );
    assert!(
        !o.status.success() && text(&o).contains("certificate revoked"),
        "{}",
        text(&o)
    );
    let o = run(&["ca", "list", "--ca", ORG_CA]);
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        list.contains(&format!("{ORG_CA}\t{serial}\tSSL_SERV\trevoked\t")),
        "{list}"
    );
    // Revoking twice is refused.
    let o = coeur(
        w.dir.path(),
        &[
            &common[..],
            &["ca", "revoke", "--ca", ORG_CA, "--serial", &serial],
        ]
        .concat(),
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the certificate is already revoked"),
        "{}",
        text(&o)
    );
}

/// Refuses server certificates (`SSL_SERV`), allows the rest.
struct NoServerCertificates;

impl coeur::ca::policy::IssuancePolicy for NoServerCertificates {
    fn may_request(
        &self,
        caller: &coeur::ca::policy::Caller,
        r: &coeur::ca::policy::RequestScope<'_>,
    ) -> Result<(), coeur::ca::policy::PolicyRefusal> {
        if r.profile == "SSL_SERV" {
            return Err(coeur::ca::policy::PolicyRefusal(format!(
                "{} may not ask for server certificates for {}",
                caller.client_id,
                r.dns_names.join(", ")
            )));
        }
        Ok(())
    }
}

both_dbs!(issuance_policy_refuses_before_writing, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    // The same CA, served with a policy that refuses server certificates.
    let cfg = &s.app.cfg;
    let settings = coeur::ca::CaSettings {
        pki_dir: cfg.pki_dir.clone(),
        hierarchy: cfg.pki_hierarchy.clone(),
        environment: s.state.ca.ca.environment,
        ldap_base_dn: cfg.ldap_base_dn.clone(),
        public_url: cfg.public_url.clone(),
        keys_dir: cfg.keys_dir.clone(),
        crl_dir: cfg.crl_dir.clone(),
        realm: cfg.ca_realm.clone(),
        external: cfg.external.clone(),
        ldap: None,
    };
    let ca = coeur::ca::CaService::open(
        settings,
        s.ca.store.db().clone(),
        s.state.keys.master(),
        s.ca.clock.clone(),
        s.ca.rng.clone(),
        s.ca.verifier.clone(),
    )
    .await
    .expect("CA")
    .with_policy(std::sync::Arc::new(NoServerCertificates));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = coeur::ca::http::router(std::sync::Arc::new(ca));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let w = Work::new();
    let csr = w.csr("srv", Key::P256);
    let before = rows(&s).await;
    let post = |body: Value| {
        let (http, token, url) = (
            api.http.clone(),
            api.token.clone(),
            format!("{base}/pki/api/v1/requests"),
        );
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let refused = json!({
        "error": "access_denied",
        "error_description":
            "ca-client may not ask for server certificates for srv.ch-test.fr, www.ch-test.fr",
    });
    let (st, v) = post(json!({
        "ca": ORG_CA, "profile": "SSL_SERV", "csr": csr, "subject": server_subject(),
    }))
    .await;
    assert_eq!((st, &v), (403, &refused), "CSR path");
    let (st, v) = post(json!({
        "ca": ORG_CA, "profile": "SSL_SERV", "subject": server_subject(),
        "generate_key": { "key_type": "p256", "password": "1234" },
    }))
    .await;
    assert_eq!((st, &v), (403, &refused), "generated-key path");
    assert_eq!(rows(&s).await, before, "a refusal writes nothing");
    // What the policy allows goes through as before.
    let client_csr = w.csr("cli", Key::P256);
    let (st, v) = post(json!({
        "ca": ORG_CA, "profile": "ORG_AUTH_CLI", "csr": client_csr,
        "subject": org_subject(json!({ "service_name": "INSI-AUTO" })),
    }))
    .await;
    assert_eq!((st, v["status"].as_str()), (201, Some("issued")), "{v}");
    server.abort();
});
