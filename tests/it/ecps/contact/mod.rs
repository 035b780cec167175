//! e-CPS enrolment by contact details, against a real SMTP server (Python's aiosmtpd,
//! tests/python/smtp_sink.py, from the virtualenv scripts/test.sh makes: plain, STARTTLS with
//! a certificate of a test CA given to coeur with `--smtp-ca-file`, or implicit TLS; AUTH when
//! credentials are set) and a local SMS gateway (axum) capturing `{to, text}` and the bearer
//! token. Without the Python peer the tests are skipped with a message, unless
//! `COEUR_REQUIRE_PEERS` is set: then they fail.

use super::*;
use crate::both_dbs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::mpsc;

mod enrol;
mod limits;

/// The SMTP relay's credentials, as the environment would give them.
pub(crate) const SMTP_USER: &str = "coeur-relay";
pub(crate) const SMTP_PASSWORD: &str = "smtp-Pa55word-never-logged";
/// The SMS gateway's bearer token.
pub(crate) const SMS_TOKEN: &str = "sms-T0ken-never-logged";
/// The sender coeur writes.
pub(crate) const FROM: &str = "no-reply@coeur.test";

/// A test CA and a server certificate of it for `127.0.0.1` and `localhost`, written as
/// PEM files: (CA, certificate, key).
fn tls_files(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
        SanType,
    };
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "coeur test SMTP relay CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("IP")));
    let cert = leaf.signed_by(&key, &issuer).expect("certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write");
    std::fs::write(&paths.1, cert.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}

/// How the SMTP sink is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Plain,
    StartTls,
    Tls,
}

/// The SMTP server: its port, the CA of its certificate, and the messages it received.
pub(crate) struct SmtpSink {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    pub(crate) port: u16,
    pub(crate) mode: Mode,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) auth: bool,
    received: mpsc::UnboundedReceiver<Value>,
}

impl SmtpSink {
    /// Starts the sink in `mode`, requiring AUTH with [`SMTP_USER`] and [`SMTP_PASSWORD`]
    /// when `auth`; `None` when the Python peer is missing (the test is skipped).
    pub(crate) async fn start(mode: Mode, auth: bool) -> Option<Self> {
        let python = python_peer("the SMTP sink (aiosmtpd)")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = tokio::process::Command::new(python);
        cmd.arg(repo_dir().join("tests/python/smtp_sink.py"));
        let mut ca_file = None;
        match mode {
            Mode::Plain => {
                cmd.arg("none");
            }
            Mode::StartTls | Mode::Tls => {
                let (ca, cert, key) = tls_files(dir.path());
                cmd.arg(if mode == Mode::Tls { "tls" } else { "starttls" })
                    .arg(cert)
                    .arg(key);
                ca_file = Some(ca);
            }
        }
        if auth {
            cmd.env("SINK_USER", SMTP_USER)
                .env("SINK_PASSWORD", SMTP_PASSWORD);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP sink");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP sink starts")
            .expect("its first line")
            .expect("its port");
        let port: Value = serde_json::from_str(&first).expect("JSON");
        let port = port["port"].as_u64().expect("port") as u16;
        let (tx, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&line).expect("a message line");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Some(SmtpSink {
            _child: child,
            _dir: dir,
            port,
            mode,
            ca_file,
            auth,
            received,
        })
    }

    /// The next message received (within 20 s).
    pub(crate) async fn next(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(20), self.received.recv())
            .await
            .expect("an e-mail within 20 s")
            .expect("the sink runs")
    }

    /// Whether a message arrives within `wait`.
    pub(crate) async fn any_within(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.received.recv())
            .await
            .ok()
            .flatten()
    }
}

/// One SMS the gateway received: the bearer token and the JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Sms {
    pub(crate) bearer: Option<String>,
    pub(crate) to: String,
    pub(crate) text: String,
}

/// The SMS gateway: a local HTTP server capturing what coeur posts.
pub(crate) struct SmsSink {
    pub(crate) url: String,
    received: mpsc::UnboundedReceiver<Sms>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmsSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmsSink {
    pub(crate) async fn start() -> Self {
        let (tx, received) = mpsc::unbounded_channel();
        let app = axum::Router::new().route(
            "/sms",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, axum::Json(v): axum::Json<Value>| {
                    let tx = tx.clone();
                    async move {
                        let bearer = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("Bearer "))
                            .map(str::to_owned);
                        let _ = tx.send(Sms {
                            bearer,
                            to: v["to"].as_str().unwrap_or_default().to_owned(),
                            text: v["text"].as_str().unwrap_or_default().to_owned(),
                        });
                        axum::http::StatusCode::ACCEPTED
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/sms", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SmsSink {
            url,
            received,
            task,
        }
    }

    /// The next SMS received (within 20 s).
    pub(crate) async fn next(&mut self) -> Sms {
        tokio::time::timeout(Duration::from_secs(20), self.received.recv())
            .await
            .expect("an SMS within 20 s")
            .expect("the gateway runs")
    }

    /// Whether an SMS arrives within `wait`.
    pub(crate) async fn any_within(&mut self, wait: Duration) -> Option<Sms> {
        tokio::time::timeout(wait, self.received.recv())
            .await
            .ok()
            .flatten()
    }
}

/// A server sending e-mail through `smtp` (trusting its CA when `trust`) and SMS through
/// `sms`.
pub(crate) async fn server(db: Db, smtp: &SmtpSink, sms: &SmsSink, trust: bool) -> TestServer {
    let s = TestServer::start_with(db, &realms_dir(), |s| {
        s.messaging.smtp_host = Some("127.0.0.1".into());
        s.messaging.smtp_port = Some(smtp.port);
        s.messaging.smtp_tls = Some(match smtp.mode {
            Mode::Plain => coeur::config::delivery::SmtpTlsMode::None,
            Mode::StartTls => coeur::config::delivery::SmtpTlsMode::Starttls,
            Mode::Tls => coeur::config::delivery::SmtpTlsMode::Tls,
        });
        s.messaging.smtp_from = Some(format!("coeur <{FROM}>"));
        s.messaging.smtp_ca_file = smtp.ca_file.clone().filter(|_| trust);
        if smtp.auth {
            s.secrets.smtp_username = Some(SMTP_USER.into());
            s.secrets.smtp_password = Some(SMTP_PASSWORD.into());
        }
        s.messaging.sms_url = Some(sms.url.clone());
        s.secrets.sms_token = Some(SMS_TOKEN.into());
    })
    .await;
    s.add_rp("edit").await;
    s
}

/// Asks for an activation by contact details for `national_id`: the raw answer.
pub(crate) async fn ask(s: &TestServer, national_id: &str) -> reqwest::Response {
    http()
        .post(api(s, "edit", "activations"))
        .json(&json!({ "national_id": national_id }))
        .send()
        .await
        .expect("activations")
}

/// Asks and checks the answer every national id gets.
pub(crate) async fn ask_ok(s: &TestServer, national_id: &str) {
    let r = ask(s, national_id).await;
    assert_eq!(r.status().as_u16(), 202, "{national_id}");
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v, json!({ "expires_in": 900 }), "{national_id}");
}

/// The activation code of an e-mail as the sink decoded it (from the link to the web app).
pub(crate) fn mail_code(mail: &Value) -> String {
    let body = mail["body"].as_str().expect("body");
    body.split_once("#activate=")
        .map(|(_, rest)| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .expect("a link with the code")
}

/// The eight-digit code of an SMS.
pub(crate) fn sms_code(sms: &Sms) -> String {
    sms.text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 8)
        .unwrap_or_else(|| panic!("no code in {:?}", sms.text))
        .to_owned()
}

/// Enrols a new device with an e-mail code and an SMS code: the raw answer.
pub(crate) async fn enrol_contact(
    s: &TestServer,
    code: &str,
    second: Option<&str>,
    key: &EcdsaKeyPair,
) -> reqwest::Response {
    let mut body = json!({
        "activation_code": code,
        "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
        "name": "Phone by mail",
    });
    if let Some(second) = second {
        body["second_code"] = second.into();
    }
    http()
        .post(api(s, "edit", "devices"))
        .json(&body)
        .send()
        .await
        .expect("enrol")
}

/// The e-mail and SMS of one activation for `national_id`, asked for now.
pub(crate) async fn codes_for(
    s: &TestServer,
    smtp: &mut SmtpSink,
    sms: &mut SmsSink,
    national_id: &str,
) -> (String, String) {
    ask_ok(s, national_id).await;
    let mail = smtp.next().await;
    let text = sms.next().await;
    (mail_code(&mail), sms_code(&text))
}
