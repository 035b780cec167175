//! Under load: an instance killed (`kill -9`), every instance restarted in turn, PostgreSQL
//! restarted. Only what was in flight on a lost instance may fail; nothing answered is lost.

use super::*;
use sqlx::Row as _;
use std::collections::BTreeSet;
use std::time::Instant;

const CA: &str = "MOD-EL-ORG-TEST";
const STRUCTURE: &str = "318751275100020";

/// Registers `ca-client` (every CA scope) and returns a token of it.
async fn ca_token(d: &Deployment) -> String {
    cli_ok(
        d,
        &[
            "client",
            "add",
            "--realm",
            "edit",
            "--client-id",
            "ca-client",
            "--secret",
            SECRET,
            "--grant-type",
            "client_credentials",
            "--scope",
            "ca:request",
            "--scope",
            "ca:read",
            "--ca-structure",
            STRUCTURE,
            "--ca-dns-suffix",
            "ch-test.fr",
        ],
    );
    let r = reqwest::Client::new()
        .post(format!(
            "{}/auth/realms/edit/protocol/openid-connect/token",
            d.public
        ))
        .basic_auth("ca-client", Some(SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "ca:request"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_owned()
}

/// A P-256 CSR made by openssl.
fn csr(dir: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args(["req", "-new", "-noenc", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-subj", "/CN=ignored", "-keyout"])
        .arg(dir.join("k.pem"))
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl req");
    String::from_utf8(out.stdout).expect("PEM")
}

/// Issuances through the balancer until `stop`: the serials answered (201), and the failures.
fn issuing(
    public: String,
    token: String,
    csr: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<String>, usize)> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let body = serde_json::json!({
            "ca": CA,
            "profile": "ORG_AUTH_CLI",
            "csr": csr,
            "subject": {
                "structure_id": STRUCTURE,
                "organization": "CENTRE HOSPITALIER DE TEST",
                "state": "Paris (75)",
                "service_name": "INSI-AUTO",
            },
        });
        let (mut serials, mut failed) = (Vec::new(), 0);
        while !stop.load(Ordering::Relaxed) {
            let r = http
                .post(format!("{public}/pki/api/v1/requests"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 201 => {
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    match v["serial"].as_str() {
                        Some(s) => serials.push(s.to_owned()),
                        None => failed += 1,
                    }
                }
                _ => failed += 1,
            }
        }
        (serials, failed)
    })
}

/// Every instance answers a login directly and through the balancer, within `within`.
async fn all_recovered(d: &Deployment, within: Duration) {
    let until = Instant::now() + within;
    for base in d.instances.iter().map(|i| i.base()) {
        loop {
            match full_login(&base).await {
                Ok(()) => break,
                Err(e) if Instant::now() >= until => panic!("{base} did not recover: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

/// Runs a blocking step of the lab (process start and stop) without starving the load.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_fail_and_restart_under_load() {
    let Some(mut d) = deployment() else {
        return;
    };
    let public = d.public.clone();
    let work = tempfile::tempdir().expect("tempdir");
    let token = ca_token(&d).await;
    let csr = csr(work.path());

    // ---- kill -9 of one instance under load.
    let load = wrk(&public, 8, 32);
    let logins = LoginLoop::start(public.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let issued = issuing(
        public.clone(),
        token.clone(),
        csr.clone(),
        Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    blocking(|| d.instances[1].kill());
    let load = tokio::task::spawn_blocking(move || load.join().expect("wrk"))
        .await
        .expect("wrk");
    stop.store(true, Ordering::Relaxed);
    let (serials, _) = issued.await.expect("issuance");
    let (ok, failed, twice, errors) = logins.finish().await;
    eprintln!(
        "kill -9: wrk {} requests, {} non-200, {}; logins {ok} ok, {failed} failed; {} issued",
        load.requests,
        load.non_200,
        load.errors_line,
        serials.len()
    );
    assert_eq!(twice, 0, "a code was redeemed twice");
    assert!(
        ok > 0 && !serials.is_empty() && load.requests > 0,
        "the load ran"
    );
    // Only requests in flight on the killed instance may fail: HAProxy logs every request
    // that failed on a server's side, and there are at most as many as the connections of
    // the load (one request in flight each) and the two loops. wrk also counts the client
    // connections HAProxy closed after the instance behind them died (its "read" errors):
    // they are reported above, not counted as requests.
    let failures = d.balancer_failures();
    assert!(
        failures.len() <= 32 + 2 && load.non_200 <= 32,
        "more failures than requests in flight: {load:?}\n{}",
        failures.join("\n")
    );
    assert!(
        failed <= 1,
        "logins failed beyond the one in flight: {errors:?}"
    );
    let unique: BTreeSet<&String> = serials.iter().collect();
    assert_eq!(unique.len(), serials.len(), "a serial answered twice");
    let pool = sqlx::PgPool::connect(&d.database_url).await.expect("db");
    for serial in &serials {
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM certificates WHERE ca_id = $1 AND serial = $2")
                .bind(CA)
                .bind(serial)
                .fetch_one(&pool)
                .await
                .expect("count")
                .get(0);
        assert_eq!(n, 1, "certificate {serial} answered but not stored");
    }
    cli_ok(&d, &["audit", "verify"]);

    blocking(|| d.start_instance(1)).expect("the killed instance starts again");
    assert!(
        blocking(|| d.wait_balanced(1, Duration::from_secs(10))),
        "back behind HAProxy"
    );

    // ---- a rolling restart under load loses no session, no pending login, no code.
    let sso = browser();
    let p = authorize(&sso, &public).await.expect("wallet page");
    login(&sso, &public, &p).await.expect("SSO session");
    let waiting = browser();
    let pending = authorize(&waiting, &public).await.expect("wallet page");
    let unredeemed = {
        let b = browser();
        let p = authorize(&b, &public).await.expect("wallet page");
        (login(&b, &public, &p).await.expect("login").0, p.verifier)
    };

    let load = wrk(&public, 30, 16);
    let logins = LoginLoop::start(public.clone());
    for i in 0..d.instances.len() {
        assert!(
            d.instances[i].terminate(Duration::from_secs(20)),
            "instance {} stops cleanly on SIGTERM:\n{}",
            i + 1,
            d.instances[i].log()
        );
        d.start_instance(i).expect("starts again");
        assert!(
            d.wait_balanced(i, Duration::from_secs(10)),
            "back behind HAProxy"
        );
    }
    let (ok, failed, twice, errors) = logins.finish().await;
    let load = tokio::task::spawn_blocking(move || load.join().expect("wrk"))
        .await
        .expect("wrk");
    eprintln!("rolling restart: wrk {load:?}; logins {ok} ok, {failed} failed");
    assert!(ok > 0, "logins ran during the rolling restart");
    assert_eq!(twice, 0, "a code was redeemed twice");
    assert_eq!(
        failed, 0,
        "logins failed during the rolling restart: {errors:?}"
    );
    assert_eq!(
        load.non_200 + load.socket_errors,
        0,
        "grants failed during the rolling restart: {load:?}"
    );
    // The pending login completes, the code issued before is redeemed, the session holds.
    let (code, _) = login(&waiting, &public, &pending)
        .await
        .expect("the pending login completes after the restart");
    assert_eq!(redeem(&public, &code, &pending.verifier).await.0, 200);
    let (st, v, _) = redeem(&public, &unredeemed.0, &unredeemed.1).await;
    assert_eq!(st, 200, "a code issued before the restart: {v}");
    match authorize(&sso, &public).await {
        Err(r) => assert!(
            (300..400).contains(&r.status) && r.location.contains("code="),
            "the SSO session answers at once: {r:?}"
        ),
        Ok(_) => panic!("the SSO session was lost in the restart"),
    }

    // ---- PostgreSQL restarted under load: errors only while it is down.
    let logins = LoginLoop::start(public.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    blocking(|| d.pg.stop("fast"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    blocking(|| d.pg.start_again());
    all_recovered(&d, Duration::from_secs(20)).await;
    let (ok, failed, twice, _) = logins.finish().await;
    eprintln!("PostgreSQL restart: logins {ok} ok, {failed} failed");
    assert_eq!(twice, 0, "a code was redeemed twice");
    // After the recovery, every login succeeds again.
    for _ in 0..20 {
        full_login(&public)
            .await
            .expect("a login after the recovery");
    }
    cli_ok(&d, &["audit", "verify"]);
}
