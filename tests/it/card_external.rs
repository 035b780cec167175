//! CPS cards from an authority coeur does not run, as the real IGC-Santé chain is: a root and
//! a PERSONNES issuing CA made by `openssl ca`, configured with `--card-trust-file`. The
//! issuing CA publishes its CRL over HTTP (served here from the files `openssl ca -gencrl`
//! writes) and answers OCSP through `openssl ocsp` as responder; the root publishes the CRL
//! that covers the issuing CA.
//!
//! What is shown: a full login with such a card; revocation seen through OCSP and through the
//! CRL; OCSP answers and CRLs cached (one CRL fetch for many logins, logins going on while the
//! responder is down, CRLs refreshed in the background, a silent responder not asked again at
//! once, a replayed older CRL ignored); failure closed when no fresh status can be had; chain
//! refusals (a revoked issuing CA, also with OCSP alone configured, an unconfigured root, wrong
//! usage, expiry) and the identity checks; the same-named own TEST CA; `tls_client_auth` with
//! an external organisation certificate; the acceptable CA names and the CRLs read at start.

use crate::both_dbs;
use crate::card::*;
use crate::support::*;
use coeur::ca::config::RevocationMethod;
use rustls::pki_types::pem::PemObject as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};

/// The issuing CA's name, as IGC-Santé's TEST PERSONNES CA.
const INT_SUBJECT: &str = "/C=FR/O=ASIP-SANTE/OU=0002 187512751/OU=IGC-SANTE TEST/CN=TEST AC IGC-SANTE ELEMENTAIRE PERSONNES";
const ROOT_SUBJECT: &str = "/C=FR/O=ASIP-SANTE/OU=0002 187512751/OU=IGC-SANTE TEST/CN=TEST AC RACINE IGC-SANTE ELEMENTAIRE";

const RSA: &[&str] = &["-newkey", "rsa:2048"];
const EC: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A static file server for the CRLs, counting requests per path; it can be switched off.
struct CrlServer {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    down: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CrlServer {
    async fn start(dir: PathBuf) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let down = Arc::new(AtomicBool::new(false));
        let (h, d, root) = (hits.clone(), down.clone(), dir);
        let app = axum::Router::new().route(
            "/{name}",
            axum::routing::get(
                move |axum::extract::Path(name): axum::extract::Path<String>| {
                    let (h, d, root) = (h.clone(), d.clone(), root.clone());
                    async move {
                        *h.lock().expect("hits").entry(name.clone()).or_default() += 1;
                        if d.load(Ordering::SeqCst) {
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
                        }
                        match std::fs::read(root.join(&name)) {
                            Ok(b) => (axum::http::StatusCode::OK, b),
                            Err(_) => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                        }
                    }
                },
            ),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CrlServer {
            port,
            hits,
            down,
            task,
        }
    }

    fn hits(&self, name: &str) -> usize {
        self.hits
            .lock()
            .expect("hits")
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

/// A free loopback port (for `openssl ocsp`, which binds its own).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The external PKI: files in `w`, CRLs served by `crls`, OCSP by `openssl ocsp` on
/// `ocsp_port` while `responder` runs.
struct ExternalPki {
    w: Work,
    crls: CrlServer,
    ocsp_port: u16,
    responder: Option<Child>,
}

fn ca_config(w: &Work, name: &str, crl_port: u16, ocsp_port: u16) -> String {
    let dir = w.path("").display().to_string();
    format!(
        "[ca]\ndefault_ca = this\n[this]\ndatabase = {dir}/{name}-index.txt\n\
         new_certs_dir = {dir}/{name}-certs\nserial = {dir}/{name}-serial\n\
         crlnumber = {dir}/{name}-crlnumber\ncertificate = {dir}/{name}.pem\n\
         private_key = {dir}/{name}.key\ndefault_md = sha256\ndefault_days = 365\n\
         default_crl_days = 7\npolicy = any\nunique_subject = no\ncopy_extensions = none\n\
         [any]\ncountryName = optional\norganizationName = optional\n\
         organizationalUnitName = optional\ncommonName = supplied\n\
         [int_ext]\nbasicConstraints = critical,CA:true,pathlen:0\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         crlDistributionPoints = URI:http://127.0.0.1:{crl_port}/root.crl\n\
         [card_ext]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = clientAuth\n\
         crlDistributionPoints = URI:http://127.0.0.1:{crl_port}/int.crl\n\
         authorityInfoAccess = OCSP;URI:http://127.0.0.1:{ocsp_port}\n\
         [sign_ext]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,nonRepudiation\n\
         extendedKeyUsage = emailProtection\n\
         crlDistributionPoints = URI:http://127.0.0.1:{crl_port}/int.crl\n\
         [ocsp_ext]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = OCSPSigning\n"
    )
}

impl ExternalPki {
    /// Root, issuing CA, OCSP responder certificate, empty CRLs.
    async fn new() -> Self {
        let w = Work::new();
        let crls = CrlServer::start(w.path("")).await;
        let ocsp_port = free_port();
        for name in ["root", "int"] {
            w.write(
                &format!("{name}.cnf"),
                ca_config(&w, name, crls.port, ocsp_port),
            );
            w.write(&format!("{name}-index.txt"), "");
            w.write(&format!("{name}-serial"), "1000\n");
            w.write(&format!("{name}-crlnumber"), "1000\n");
            std::fs::create_dir_all(w.path(&format!("{name}-certs"))).expect("certs dir");
        }
        w.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "3650",
            "-subj",
            ROOT_SUBJECT,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])
        .await;
        let pki = ExternalPki {
            w,
            crls,
            ocsp_port,
            responder: None,
        };
        pki.csr("int", RSA, INT_SUBJECT).await;
        pki.sign("root", "int", "int_ext", &[]).await;
        pki.csr("ocsp", RSA, "/CN=TEST OCSP IGC-SANTE PERSONNES")
            .await;
        pki.sign("int", "ocsp", "ocsp_ext", &[]).await;
        pki.publish().await;
        pki
    }

    async fn csr(&self, name: &str, key: &[&str], subject: &str) {
        let (keyout, out) = (format!("{name}.key"), format!("{name}.csr"));
        let mut args = vec!["req", "-new", "-nodes"];
        args.extend_from_slice(key);
        args.extend_from_slice(&["-keyout", &keyout, "-out", &out, "-subj", subject]);
        self.w.openssl(&args).await;
    }

    /// Signs `name.csr` with `ca`, the certificate valid from an hour ago unless `extra` says
    /// otherwise (the test server's clock stands still at its start time).
    async fn sign(&self, ca: &str, name: &str, ext: &str, extra: &[&str]) {
        let t = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        let start = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let (cnf, csr, pem) = (
            format!("{ca}.cnf"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut args = vec![
            "ca",
            "-config",
            &cnf,
            "-batch",
            "-notext",
            "-extensions",
            ext,
            "-in",
            &csr,
            "-out",
            &pem,
        ];
        if extra.is_empty() {
            args.extend_from_slice(&["-startdate", &start]);
        }
        args.extend_from_slice(extra);
        self.w.openssl(&args).await;
    }

    /// An organisation's TLS client certificate of the issuing CA: (identity PEM, subject DN).
    async fn organisation(&self, name: &str) -> (String, String) {
        use x509_parser::prelude::FromDer as _;
        self.csr(
            name,
            EC,
            "/C=FR/O=EDITEUR TEST/OU=318751275100020/CN=lps-editeur",
        )
        .await;
        self.sign("int", name, "card_ext", &[]).await;
        let pem = self.w.read(&format!("{name}.pem"));
        let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes());
        let der = der.expect("certificate PEM");
        let (_, c) = x509_parser::certificate::X509Certificate::from_der(&der).expect("parse");
        let dn = c.subject().to_string();
        (format!("{}{pem}", self.w.read(&format!("{name}.key"))), dn)
    }

    /// A card of the issuing CA: key, certificate and chain as PEM for reqwest.
    async fn card(&self, name: &str, national_id: &str, ext: &str, extra: &[&str]) -> String {
        self.csr(name, EC, &format!("/C=FR/O=CABINET/CN={national_id}"))
            .await;
        self.sign("int", name, ext, extra).await;
        format!(
            "{}{}{}",
            self.w.read(&format!("{name}.key")),
            self.w.read(&format!("{name}.pem")),
            self.w.read("int.pem")
        )
    }

    /// Revokes `name` in `ca`'s database and publishes new CRLs.
    async fn revoke(&self, ca: &str, name: &str) {
        self.w
            .openssl(&[
                "ca",
                "-config",
                &format!("{ca}.cnf"),
                "-revoke",
                &format!("{name}.pem"),
                "-crl_reason",
                "keyCompromise",
            ])
            .await;
        self.publish().await;
    }

    /// Writes both CRLs (DER) where the server serves them.
    async fn publish(&self) {
        for ca in ["root", "int"] {
            self.w
                .openssl(&[
                    "ca",
                    "-config",
                    &format!("{ca}.cnf"),
                    "-gencrl",
                    "-out",
                    &format!("{ca}-crl.pem"),
                ])
                .await;
            self.w
                .openssl(&[
                    "crl",
                    "-in",
                    &format!("{ca}-crl.pem"),
                    "-outform",
                    "DER",
                    "-out",
                    &format!("{ca}.crl"),
                ])
                .await;
        }
    }

    /// Starts `openssl ocsp` on the issuing CA's database (which it reads at start). It is
    /// ready once it says so: a probe connection without a request would hang it.
    async fn start_responder(&mut self) {
        let log = self.w.path("ocsp.log");
        let _ = std::fs::remove_file(&log);
        let out = std::fs::File::create(&log).expect("ocsp log");
        let err = out.try_clone().expect("ocsp log");
        let child = Command::new("openssl")
            .args(["ocsp", "-index", "int-index.txt", "-port"])
            .arg(self.ocsp_port.to_string())
            .args([
                "-rsigner", "ocsp.pem", "-rkey", "ocsp.key", "-CA", "int.pem", "-nmin", "60",
                "-timeout", "5",
            ])
            .current_dir(self.w.path(""))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("openssl ocsp");
        self.responder = Some(child);
        for _ in 0..200 {
            if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("waiting for OCSP client")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "openssl ocsp did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    async fn stop_responder(&mut self) {
        if let Some(mut c) = self.responder.take() {
            let _ = c.kill().await;
        }
    }

    /// The trust bundle coeur is given: root and issuing CA.
    fn bundle(&self) -> PathBuf {
        let b = format!("{}{}", self.w.read("root.pem"), self.w.read("int.pem"));
        self.w.write("bundle.pem", b)
    }
}

/// A test server trusting the external PKI for cards, with `methods`.
async fn server(db: Db, pki: &ExternalPki, methods: Vec<RevocationMethod>) -> TestServer {
    let bundle = pki.bundle();
    let s = TestServer::start_with(db, &realms_dir(), move |o| {
        o.serve.card_trust_file = Some(bundle);
        o.serve.external_revocation = Some(methods);
        o.serve.revocation_fetch_timeout_secs = Some(3);
    })
    .await;
    s.add_rp("edit").await;
    s
}

/// One card leg of a new authorization in the sandbox realm, with `card`.
async fn attempt(s: &TestServer, card: &str) -> (Browser, Answer) {
    let root = root_pem(s).await;
    let b = s.browser();
    let url = to_card_listener(s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(card)), &url).await;
    (b, a)
}

/// A whole login with `card`, ending with the ID token checked.
async fn login(s: &TestServer, card: &str, national_id: &str) {
    let (b, a) = attempt(s, card).await;
    let code = back_to_client(&b, &back_url(s, "edit", &a)).await;
    let tokens = redeem_in(s, "edit", &code).await;
    check_card_id_token(s, "edit", &tokens, national_id).await;
}

/// Card attempts until one is refused saying `why` (a CRL refreshed in the background), for
/// ten seconds at most.
async fn refused_soon(s: &TestServer, card: &str, why: &str) {
    let mut last = None;
    for _ in 0..100 {
        let (_, a) = attempt(s, card).await;
        if a.status != 303 {
            assert_refused(&a, 403, why);
            return;
        }
        last = Some(a);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still accepted after 10 s: {last:?}");
}

/// Another active identity of the sandbox realm.
async fn other_identity(s: &TestServer, n: usize) -> String {
    other_active_identities(s)
        .await
        .into_iter()
        .nth(n)
        .expect("an active identity")
        .national_id
        .as_str()
        .to_owned()
}

// ------------------------------------------------------------------------------- tests

both_dbs!(external_card_login_and_revocation, |db| async move {
    let mut pki = ExternalPki::new().await;
    pki.start_responder().await;
    let s = server(
        db,
        &pki,
        vec![RevocationMethod::Ocsp, RevocationMethod::Crl],
    )
    .await;
    let good = pki.card("good", NATIONAL_ID, "card_ext", &[]).await;
    let revoked_id = other_identity(&s, 0).await;
    let revoked = pki.card("revoked", &revoked_id, "card_ext", &[]).await;
    pki.revoke("int", "revoked").await;
    // The responder reads its database at start: restart it to know the revocation.
    pki.stop_responder().await;
    pki.start_responder().await;

    // A card of the external PERSONNES CA logs in; the card's status comes from OCSP, the
    // issuing CA's (which names only a CRL) from the root's CRL.
    login(&s, &good, NATIONAL_ID).await;
    assert_eq!(pki.crls.hits("root.crl"), 1, "the root CRL was fetched");
    assert_eq!(pki.crls.hits("int.crl"), 0, "OCSP answered for the card");
    let (_, a) = attempt(&s, &revoked).await;
    assert_refused(&a, 403, &fr("card.revoked"));
    assert_eq!(pki.crls.hits("int.crl"), 0, "refused on OCSP's word");
    // Cached: the same card again, and the root CRL is not fetched again.
    login(&s, &good, NATIONAL_ID).await;
    assert_eq!(pki.crls.hits("root.crl"), 1, "the root CRL is cached");

    // With the responder down, the cached OCSP answer still serves the known card, and a card
    // never seen falls back to the issuing CA's CRL (which also knows the revoked one).
    pki.stop_responder().await;
    login(&s, &good, NATIONAL_ID).await;
    let other_id = other_identity(&s, 1).await;
    let other = pki.card("other", &other_id, "card_ext", &[]).await;
    login(&s, &other, &other_id).await;
    assert_eq!(pki.crls.hits("int.crl"), 1, "fell back to the CRL");
    let later_revoked_id = other_identity(&s, 2).await;
    let later = pki.card("later", &later_revoked_id, "card_ext", &[]).await;
    pki.revoke("int", "later").await;
    // The CRL in the cache is fresh, so this card passes until the cache is refreshed...
    login(&s, &later, &later_revoked_id).await;
    assert_eq!(pki.crls.hits("int.crl"), 1, "served from the cache");
    // ... which an hour later (the refresh interval) is downloaded again in the background: the
    // login that finds it old is still answered from it, the next ones see the revocation.
    s.clock.advance(3601);
    let (_, a) = attempt(&s, &later).await;
    assert_eq!(a.status, 303, "answered from the cached CRL: {}", a.body);
    refused_soon(&s, &later, &fr("card.revoked")).await;
    assert_eq!(
        pki.crls.hits("int.crl"),
        2,
        "fetched again after the refresh interval, once"
    );

    // A week later, every CRL the authority serves is past its nextUpdate and the responder
    // is down: no status can be established, and the card is refused (fail closed).
    s.clock.advance(8 * 24 * 3600);
    let (_, a) = attempt(&s, &good).await;
    assert_refused(&a, 503, "revocation status cannot be established");
    assert!(
        a.body.contains("past its nextUpdate") && a.body.contains("cannot connect"),
        "the responder is down and the CRL served is stale: {}",
        a.body
    );
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_card_refusals() {
    let mut pki = ExternalPki::new().await;
    pki.start_responder().await;
    let s = server(Db::Sqlite, &pki, vec![RevocationMethod::Crl]).await;

    // The signature certificate of a card (nonRepudiation, emailProtection).
    let sign = pki.card("sign", NATIONAL_ID, "sign_ext", &[]).await;
    let (_, a) = attempt(&s, &sign).await;
    assert_refused(&a, 403, "not for this use");

    // An expired card.
    let expired = pki
        .card(
            "expired",
            NATIONAL_ID,
            "card_ext",
            &[
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20210101000000Z",
            ],
        )
        .await;
    let (_, a) = attempt(&s, &expired).await;
    assert_refused(&a, 403, "expired");

    // A card of a professional unknown in the realm, from the trusted authority.
    let stranger = stranger(&s).await;
    let unknown = pki.card("unknown", &stranger, "card_ext", &[]).await;
    let (_, a) = attempt(&s, &unknown).await;
    assert_refused(&a, 403, &fr("card.unknown"));

    // A card from another authority of the same name that the operator did not configure.
    let rogue = ExternalPki::new().await;
    let foreign = rogue.card("foreign", NATIONAL_ID, "card_ext", &[]).await;
    let (_, a) = attempt(&s, &foreign).await;
    assert_refused(&a, 403, "signature does not verify");

    // With `--external-revocation crl`, a good card is accepted through the CRL alone.
    let good = pki.card("good", NATIONAL_ID, "card_ext", &[]).await;
    login(&s, &good, NATIONAL_ID).await;
    assert_eq!(pki.crls.hits("int.crl"), 1);

    // The CRL server down and nothing cached for a new URL... is not reachable here (one URL);
    // instead the issuing CA is revoked by the root: every card of it is refused once the
    // root CRL is fetched again.
    pki.revoke("root", "int").await;
    s.clock.advance(3601);
    refused_soon(
        &s,
        &good,
        "a certification authority of its chain has been revoked",
    )
    .await;

    // A CRL that cannot be fetched and only a stale one cached: refused, not accepted.
    pki.crls.down.store(true, Ordering::SeqCst);
    s.clock.advance(8 * 24 * 3600);
    let (_, a) = attempt(&s, &good).await;
    assert_refused(&a, 503, "HTTP 503");
    pki.stop_responder().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_responder_is_not_asked_again_at_once() {
    let pki = ExternalPki::new().await;
    // On the cards' OCSP address, a server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", pki.ocsp_port))
        .await
        .expect("bind");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(c);
        }
    });
    let s = server(
        Db::Sqlite,
        &pki,
        vec![RevocationMethod::Ocsp, RevocationMethod::Crl],
    )
    .await;
    // The first card waits for the responder's timeout, then its CRL decides.
    login(
        &s,
        &pki.card("first", NATIONAL_ID, "card_ext", &[]).await,
        NATIONAL_ID,
    )
    .await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    // The next one goes straight to the CRL.
    let id = other_identity(&s, 0).await;
    login(&s, &pki.card("second", &id, "card_ext", &[]).await, &id).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "not asked again");
    hole.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_older_crl_does_not_undo_a_revocation() {
    let pki = ExternalPki::new().await;
    let s = server(Db::Sqlite, &pki, vec![RevocationMethod::Crl]).await;
    let id = other_identity(&s, 0).await;
    let card = pki.card("victim", &id, "card_ext", &[]).await;
    login(&s, &card, &id).await;
    // The CRL before the revocation, kept by someone on the network path.
    let before = std::fs::read(pki.w.path("int.crl")).expect("CRL");
    // thisUpdate has a one-second resolution: the next CRL must be strictly newer.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    pki.revoke("int", "victim").await;
    s.clock.advance(3601);
    refused_soon(&s, &card, &fr("card.revoked")).await;
    let fetches = pki.crls.hits("int.crl");
    // The old CRL is served again at the next refresh: it is refused, the cached one stays.
    pki.w.write("int.crl", &before);
    s.clock.advance(3601);
    let (_, a) = attempt(&s, &card).await;
    assert_refused(&a, 403, &fr("card.revoked"));
    for _ in 0..100 {
        if pki.crls.hits("int.crl") > fetches {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        pki.crls.hits("int.crl"),
        fetches + 1,
        "the refresh took place"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, a) = attempt(&s, &card).await;
    assert_refused(&a, 403, &fr("card.revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_revocation_is_seen_whatever_the_configured_method() {
    // Only OCSP is configured, and the issuing CA publishes its status by CRL only (as
    // IGC-Santé's do): its revocation by the root is still found.
    let mut pki = ExternalPki::new().await;
    pki.start_responder().await;
    let s = server(Db::Sqlite, &pki, vec![RevocationMethod::Ocsp]).await;
    let good = pki.card("good", NATIONAL_ID, "card_ext", &[]).await;
    pki.stop_responder().await;
    pki.start_responder().await;
    login(&s, &good, NATIONAL_ID).await;
    assert_eq!(pki.crls.hits("root.crl"), 1, "the root CRL was read");
    assert_eq!(pki.crls.hits("int.crl"), 0, "OCSP answered for the card");
    pki.revoke("root", "int").await;
    s.clock.advance(3601);
    refused_soon(
        &s,
        &good,
        "a certification authority of its chain has been revoked",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_card_whose_authority_has_the_name_of_an_own_test_ca() {
    // With the default hierarchy coeur's TEST twins carry the real IGC-Santé TEST names, so a
    // card of the real TEST PERSONNES CA names coeur's own CA as issuer. It is the external
    // bundle's, and logs in through it.
    use x509_parser::prelude::FromDer as _;
    let pki = ExternalPki::new().await;
    let bundle = pki.bundle();
    let s = TestServer::start_with(Db::Sqlite, &realms_dir(), move |o| {
        o.common.pki_hierarchy = Some("igc-sante".into());
        o.serve.card_trust_file = Some(bundle);
        o.serve.external_revocation = Some(vec![RevocationMethod::Crl]);
    })
    .await;
    s.add_rp("edit").await;
    let int_pem = pki.w.read("int.pem");
    let int_der = rustls::pki_types::CertificateDer::from_pem_slice(int_pem.as_bytes())
        .expect("issuing CA PEM");
    let (_, int) = x509_parser::certificate::X509Certificate::from_der(&int_der).expect("parse");
    let same_name = s.state.ca.ca.cas.values().any(|c| {
        x509_parser::certificate::X509Certificate::from_der(&c.cert_der)
            .is_ok_and(|(_, own)| own.subject().as_raw() == int.subject().as_raw())
    });
    assert!(same_name, "an own CA is named {}", int.subject());
    let card = pki.card("good", NATIONAL_ID, "card_ext", &[]).await;
    login(&s, &card, NATIONAL_ID).await;
    // A card of coeur's own CA of that name still logs in as before.
    let own = first_card_clean(&s).await;
    login(&s, &own.1.auth.identity_pem, own.0.national_id.as_str()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_organisation_certificate_for_tls_client_auth() {
    use crate::mtls::{claims, mtls_client, wait_for_card_listener};
    use coeur::oauth::client::{GrantType, TokenAuthMethod};
    let pki = ExternalPki::new().await;
    let bundle = pki.bundle();
    let s = TestServer::start_with(Db::Sqlite, &realms_dir(), move |o| {
        o.serve.client_trust_file = Some(bundle);
        o.serve.external_revocation = Some(vec![RevocationMethod::Crl]);
    })
    .await;
    wait_for_card_listener(&s).await;
    let (identity, dn) = pki.organisation("org").await;
    let mut spec = rp_spec("lps");
    spec.token_endpoint_auth_method = TokenAuthMethod::TlsClientAuth;
    spec.tls_client_auth_subject_dn = Some(dn);
    spec.grant_types = vec![GrantType::ClientCredentials];
    s.add_client("edit", spec, None).await;
    let token_url = format!(
        "{}/auth/realms/edit/protocol/openid-connect/token",
        s.card_base()
    );
    let grant = || async {
        mtls_client(&s, Some(&identity))
            .post(&token_url)
            .form(&[("grant_type", "client_credentials"), ("client_id", "lps")])
            .send()
            .await
            .expect("token endpoint")
    };
    let r = grant().await;
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.expect("JSON");
    let cnf = claims(t["access_token"].as_str().expect("access token"))["cnf"].clone();
    assert_eq!(cnf["x5t#S256"].as_str().map(str::len), Some(43), "{cnf}");

    // Revoked by its authority: refused once the CRL is fetched again.
    pki.revoke("int", "org").await;
    s.clock.advance(3601);
    let mut r = grant().await;
    for _ in 0..100 {
        if r.status() != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        r = grant().await;
    }
    assert_eq!(r.status(), 401);
    let e: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(e["error"], "invalid_client");
    assert!(
        e["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("revoked")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_listener_advertises_the_external_authorities() {
    let pki = ExternalPki::new().await;
    let s = server(Db::Sqlite, &pki, vec![RevocationMethod::Crl]).await;
    let _ = root_pem(&s).await;
    let addr = s.card_base().trim_start_matches("https://").to_owned();
    let o = Command::new("openssl")
        .args(["s_client", "-connect", &addr])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("openssl s_client");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("TEST AC IGC-SANTE ELEMENTAIRE PERSONNES"),
        "acceptable CA names include the external issuing CA: {out}"
    );
    assert!(
        out.contains("TEST AC RACINE IGC-SANTE ELEMENTAIRE"),
        "and its root: {out}"
    );
    // The root's CRL, which covers the bundle's issuing CA, is fetched before any login.
    for _ in 0..100 {
        if pki.crls.hits("root.crl") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pki.crls.hits("root.crl"), 1, "prefetched once");
    assert_eq!(
        pki.crls.hits("int.crl"),
        0,
        "card CRLs are fetched on demand"
    );
}
