//! The e-CPS web app and its live feeds.
//!
//! In headless Chromium (tests/node/ecps-app.mjs, playwright-core): enrolment in the web app
//! with the activation code of a virtual card (through the QR code's link), a login at test
//! client `rp` approved in the web app running in a second browser context (the waiting page
//! continues by itself, loaded once before and once to complete), a denial shown in place, the
//! app opening offline from its service worker; every view axe-clean and kept as a screenshot
//! in `target/screenshots` (or `COEUR_SCREENSHOTS`). Without Chromium and playwright-core the
//! browser test is skipped with a message, unless `COEUR_REQUIRE_PEERS` is set.
//!
//! Over HTTP: the device feed (`GET …/ecps/requests/events`) refuses a missing or unknown
//! credential, sends the pending requests at once and again when a request is created, and
//! `revoked` once the device is revoked; the waiting page's stream says `waiting`, then
//! `denied`.

use crate::both_dbs;
use crate::ecps::{Device, activation_code, enrolled, me, redeem_in, start_login};
use crate::support::*;
use coeur::oauth::ecps::{Decision, Status};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

/// The PIN the browser test chooses.
const PIN: &str = "246810";

/// Reads server-sent events from `r` until `n` events (not comments) arrived: (event, data).
async fn events(mut r: reqwest::Response, n: usize) -> Vec<(String, String)> {
    let mut buf = String::new();
    let mut out = vec![];
    let read = async {
        while out.len() < n {
            let chunk = r.chunk().await.expect("bytes").expect("the stream goes on");
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(i) = buf.find("\n\n") {
                let block: String = buf.drain(..i + 2).collect();
                let mut event = String::from("message");
                let mut data = vec![];
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_owned());
                    }
                }
                if !data.is_empty() {
                    out.push((event, data.join("\n")));
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the events in time");
    out
}

fn feed_url(s: &TestServer) -> String {
    format!("{}/auth/realms/edit/ecps/requests/events", s.base)
}

async fn open_feed(s: &TestServer, d: &Device) -> reqwest::Response {
    let r = http()
        .get(feed_url(s))
        .bearer_auth(&d.credential)
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status().as_u16(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    r
}

both_dbs!(ecps_feed_is_live_and_refuses_strangers, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let me = me(&s).await;

    // No credential, or an unknown one: 401, no stream.
    let r = http().get(feed_url(&s)).send().await.unwrap();
    expect_error(r, 401, "invalid_token", "no credential").await;
    let r = http()
        .get(feed_url(&s))
        .bearer_auth("not-a-credential")
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_token", "an unknown credential").await;

    let device = enrolled(&s, &me).await;
    let feed = open_feed(&s, &device).await;
    // A request created while the feed is open arrives on it (after the list of the moment).
    let (got, _) = tokio::join!(events(feed, 2), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        start_login(&s, NATIONAL_ID).await
    });
    assert_eq!(got[0].0, "requests");
    let first: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(first["requests"], json!([]), "{first}");
    assert_eq!(got[1].0, "requests");
    let second: Value = serde_json::from_str(&got[1].1).unwrap();
    let listed = second["requests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{second}");
    assert_eq!(listed[0]["client_id"], "rp");
    assert_eq!(
        listed,
        &device.pending(&s).await,
        "the same as GET requests"
    );

    // The waiting page's stream: `waiting`, then `denied` once the device denies.
    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    let id = crate::ecps::request_of(&waiting);
    let events_url = waiting.replace("/auth/ecps?", "/auth/ecps/events?");
    let r = b.http.get(&events_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let pending = device.pending(&s).await;
    let req = pending.iter().find(|r| r["id"] == id.as_str()).unwrap();
    let (got, decided) = tokio::join!(events(r, 2), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        device.decide(&s, req, Decision::Deny).await
    });
    assert_eq!(decided.status().as_u16(), 200);
    assert_eq!(
        got,
        vec![
            ("state".to_owned(), "waiting".to_owned()),
            ("state".to_owned(), "denied".to_owned())
        ]
    );
    // Another browser (no login cookie) gets no stream.
    let r = s.browser().http.get(&events_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The feed ends with `revoked` once the device is revoked.
    let feed = open_feed(&s, &device).await;
    let (got, revoked) = tokio::join!(events(feed, 2), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        http()
            .post(crate::ecps::api(&s, "edit", "devices/revoke"))
            .bearer_auth(&device.credential)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(revoked.status().as_u16(), 200);
    assert_eq!(got[1].0, "revoked", "{got:?}");
});

/// A French message as a page's script reads it (not HTML-escaped).
fn words(key: &str) -> String {
    coeur::web::i18n::translate(coeur::web::Lang::Fr, key, &[])
}

/// Runs tests/node/ecps-app.mjs on `job`; its report.
fn drive(chromium: std::path::PathBuf, job: &Value) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("job.json");
    std::fs::write(&file, job.to_string()).expect("job file");
    let out = Command::new("node")
        .arg(repo_dir().join("tests/node/ecps-app.mjs"))
        .arg(&file)
        .env("COEUR_CHROMIUM", chromium)
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

both_dbs!(ecps_web_app_in_chromium, |db| async move {
    let Some(chromium) = chromium_or_skip(&["playwright-core", "axe-core"]) else {
        return;
    };
    // The browser knows coeur as `localhost` (a passkey's RP ID is a host name, never an IP
    // address), which must then be its public URL.
    let s = TestServer::start_with(db, &realms_dir(), |set| {
        let port = set.serve.listen.expect("listen").port();
        set.common.public_url = Some(format!("http://localhost:{port}"));
    })
    .await;
    let base = s.base.replace("127.0.0.1", "localhost");
    s.add_rp("edit").await;
    let me = me(&s).await;
    let code = activation_code(&s, &me).await;
    let job = json!({
        "base": base,
        "realm": "edit",
        "code": code,
        "national_id": NATIONAL_ID,
        "authorize_url": authz_url(&s, "edit", &crate::card::authz_params()).replace("127.0.0.1", "localhost"),
        "redirect": REDIRECT,
        "pin": PIN,
    });
    let report = tokio::task::spawn_blocking(move || drive(chromium, &job))
        .await
        .expect("driver task");
    assert!(report.get("error").is_none(), "{report:#}");
    assert_eq!(
        report["prefilled"],
        code.as_str(),
        "the QR link fills the code"
    );
    assert_eq!(report["pin_mismatch"], words("ecps.app.js.pin_mismatch"));
    assert!(
        !report["after_enrol_url"].as_str().unwrap().contains(&code),
        "the used code leaves the URL: {report:#}"
    );
    // Approved with a wrong PIN first: refused in place, one attempt fewer.
    assert_eq!(
        report["wrong_pin"],
        words("ecps.app.js.wrong_pin").replace("{left}", "4")
    );
    assert_eq!(report["approved_status"], words("ecps.app.js.approved"));
    // The waiting page continued without reloading: loaded once, then once to complete.
    assert_eq!(report["waiting_loads"], 2, "{report:#}");
    let cb = url::Url::parse(report["callback"].as_str().unwrap()).unwrap();
    assert!(cb.as_str().starts_with(REDIRECT), "{cb}");
    assert_eq!(param(&cb, "state").as_deref(), Some("st"));
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").unwrap()).await;
    let c = crate::ecps::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(c["authMode"], "MOBILE", "{c}");
    assert_eq!(c["amr"], json!(["swk", "pin", "mfa"]), "{c}");
    assert!(c["sub"].as_str().unwrap().ends_with(NATIONAL_ID), "{c}");

    // Denied: the waiting page says so in place, never reloaded.
    assert_eq!(report["denied_status"], words("ecps.app.js.denied"));
    let denied = &report["denied"];
    assert_eq!(denied["text"], words("ecps.wait.denied"), "{denied:#}");
    assert_eq!(denied["waiting_loads"], 1, "{denied:#}");
    let id = crate::ecps::request_of(denied["url"].as_str().unwrap());
    let row = s.state.store.approval("edit", &id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Denied);

    // The device list shows this device; the app opens offline.
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{report:#}");
    assert!(
        devices[0].as_str().unwrap().contains("Téléphone pro"),
        "{report:#}"
    );
    assert_eq!(report["offline_title"], report["online_title"]);
    assert_eq!(report["offline_view"], "unlock");

    // A passkey registered from the app, then a login with it on the phone.
    assert_eq!(
        report["passkey_status"],
        words("ecps.app.js.passkey_done"),
        "{report:#}"
    );
    let cb = url::Url::parse(report["passkey_callback"].as_str().unwrap()).unwrap();
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").unwrap()).await;
    let c = crate::ecps::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(c["authMode"], "MOBILE", "{c}");
    assert_eq!(c["amr"], json!(["hwk", "user", "mfa"]), "{c}");
    assert!(c["sub"].as_str().unwrap().ends_with(NATIONAL_ID), "{c}");
    let creds = report["passkey_credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1, "{report:#}");
    assert_eq!(creds[0]["resident"], true, "discoverable: {report:#}");
    assert!(creds[0]["sign_count"].as_i64().unwrap() > 0, "{report:#}");
    // The app lists it (its name, created, last used by that login) before its removal.
    let rows = report["passkey_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report:#}");
    assert!(
        rows[0][0].as_str().unwrap().contains("Téléphone pro"),
        "{report:#}"
    );
    assert_ne!(rows[0][2], words("ecps.app.js.never"), "{report:#}");

    // Removed from the app, the passkey no longer logs in: the assertion is refused on a page,
    // without a redirect to the application.
    assert_eq!(
        report["passkey_removed_status"],
        words("ecps.app.js.passkey_removed"),
        "{report:#}"
    );
    assert!(
        s.state
            .store
            .passkeys("edit", NATIONAL_ID)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        report["passkey_removed_answer"]["location"],
        Value::Null,
        "{report:#}"
    );
    assert!(
        report["passkey_removed_text"]
            .as_str()
            .unwrap()
            .contains(&words("passkey.refused")),
        "{report:#}"
    );

    for a in report["axe"].as_array().unwrap() {
        assert_eq!(a["violations"], json!([]), "axe: {a:#}");
    }
    assert!(report["screenshots"].as_array().unwrap().len() >= 6);
});

both_dbs!(passkeys_are_removed_by_their_owner_only, |db| async move {
    use coeur::provider::store::NewPasskey;
    let s = TestServer::start(db).await;
    let me = me(&s).await;
    let device = enrolled(&s, &me).await;
    let now = s.state.now();
    for (id, owner) in [("mine", NATIONAL_ID), ("theirs", "899700000004")] {
        let p = NewPasskey {
            credential_id: id,
            national_id: owner,
            name: "clé",
            public_key: "BAAA",
            sign_count: 0,
            created_at: now,
        };
        assert!(s.state.store.create_passkey("edit", &p).await.unwrap());
    }
    let remove = |id: &str, credential: Option<&str>| {
        let mut r = http().delete(crate::ecps::api(&s, "edit", &format!("passkeys/{id}")));
        if let Some(c) = credential {
            r = r.bearer_auth(c);
        }
        r.send()
    };
    let stored = |who: &'static str| {
        let st = s.state.clone();
        async move { st.store.passkeys("edit", who).await.unwrap().len() }
    };

    let r = remove("mine", None).await.unwrap();
    expect_error(r, 401, "invalid_token", "no credential").await;
    // Another professional's passkey, or an unknown one: 404, nothing removed.
    let r = remove("theirs", Some(&device.credential)).await.unwrap();
    expect_error(r, 404, "unknown_passkey", "another's passkey").await;
    let r = remove("nobody", Some(&device.credential)).await.unwrap();
    expect_error(r, 404, "unknown_passkey", "an unknown passkey").await;
    assert_eq!(stored("899700000004").await, 1);
    assert_eq!(stored(NATIONAL_ID).await, 1);

    let r = remove("mine", Some(&device.credential)).await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(stored(NATIONAL_ID).await, 0);
    let r = remove("mine", Some(&device.credential)).await.unwrap();
    expect_error(r, 404, "unknown_passkey", "removed twice").await;
    assert_eq!(stored("899700000004").await, 1);
});

// Enrolment by e-mail in the web app: the link of the e-mail opens the app with its code, the
// SMS code is typed, then a login on a computer is approved in the app.
both_dbs!(
    ecps_web_app_enrolment_by_mail_in_chromium,
    |db| async move {
        use crate::ecps::contact::{Mode, SmsSink, SmtpSink, ask_ok, mail_code, server, sms_code};
        let Some(chromium) = chromium_or_skip(&["playwright-core", "axe-core"]) else {
            return;
        };
        let Some(mut smtp) = SmtpSink::start(Mode::Plain, false).await else {
            return;
        };
        let mut sms = SmsSink::start().await;
        let s = server(db, &smtp, &sms, false).await;
        ask_ok(&s, NATIONAL_ID).await;
        let mail = smtp.next().await;
        let code = mail_code(&mail);
        let link = format!("{}/auth/realms/edit/ecps/app/#activate={code}", s.base);
        assert!(mail["body"].as_str().unwrap().contains(&link), "{mail}");
        let second = sms_code(&sms.next().await);
        let job = json!({
            "base": s.base,
            "realm": "edit",
            "code": code,
            "second_code": second,
            "national_id": NATIONAL_ID,
            "authorize_url": authz_url(&s, "edit", &crate::card::authz_params()),
            "redirect": REDIRECT,
            "pin": PIN,
            "until": "approved",
            "shots": "ecps-app-mail",
        });
        let report = tokio::task::spawn_blocking(move || drive(chromium, &job))
            .await
            .expect("driver task");
        assert!(report.get("error").is_none(), "{report:#}");
        assert_eq!(
            report["prefilled"],
            code.as_str(),
            "the link fills the code"
        );
        assert_eq!(
            report["steps"],
            json!(["enrolled", "approved"]),
            "{report:#}"
        );
        let devices = s.state.store.devices("edit", NATIONAL_ID).await.unwrap();
        assert_eq!(devices.len(), 1, "{devices:?}");
        assert_eq!(devices[0].name, "Téléphone pro");
        let cb = url::Url::parse(report["callback"].as_str().unwrap()).unwrap();
        let tokens = redeem_in(&s, "edit", &param(&cb, "code").unwrap()).await;
        let c = crate::ecps::claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(c["authMode"], "MOBILE", "{c}");
        assert!(c["sub"].as_str().unwrap().ends_with(NATIONAL_ID), "{c}");
        for a in report["axe"].as_array().unwrap() {
            assert_eq!(a["violations"], json!([]), "axe: {a:#}");
        }
    }
);

// Two instances on one PostgreSQL database: a device's feed held by one hears the requests
// made on the other, and ends when the device is revoked through the other (or by operators).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_hear_the_other_instances() {
    let a = TestServer::start(crate::support::Db::Postgres).await;
    let shared = a.app.cfg.database_url.clone();
    let b = TestServer::start_with(crate::support::Db::Postgres, &realms_dir(), |s| {
        s.common.database_url = Some(shared);
    })
    .await;
    b.add_rp("edit").await;
    let me = me(&a).await;
    let device = enrolled(&a, &me).await;

    let feed = open_feed(&a, &device).await;
    let (got, _) = tokio::join!(events(feed, 2), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        start_login(&b, NATIONAL_ID).await
    });
    assert_eq!(got[1].0, "requests", "{got:?}");
    let listed: Value = serde_json::from_str(&got[1].1).unwrap();
    assert_eq!(listed["requests"].as_array().unwrap().len(), 1, "{listed}");

    // Revoked by an operator (another process): the feed on `a` ends with `revoked`.
    let feed = open_feed(&a, &device).await;
    let (got, out) = tokio::join!(events(feed, 2), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        coeur_cli(
            &b,
            &[
                "device",
                "revoke",
                "--realm",
                "edit",
                // An id may begin with "-": given with "=", it is never read as an option.
                &format!("--device-id={}", device.id),
            ],
        )
        .await
    });
    assert!(out.status.success(), "{out:?}");
    assert_eq!(got[1].0, "revoked", "{got:?}");
}

both_dbs!(feeds_end_when_the_server_drains, |db| async move {
    let s = TestServer::start(db).await;
    let me = me(&s).await;
    let device = enrolled(&s, &me).await;
    let mut feed = open_feed(&s, &device).await;
    let first = feed.chunk().await.expect("bytes").expect("the first event");
    assert!(String::from_utf8_lossy(&first).contains("event: requests"));
    s.app.lifecycle.enter(coeur_web::lifecycle::Phase::Draining);
    // The stream ends (its client reconnects, through the balancer, to an instance that
    // stays) instead of holding the stop until the grace runs out.
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(_chunk) = feed.chunk().await.expect("bytes") {}
    })
    .await;
    assert!(
        end.is_ok(),
        "the feed went on after the server began draining"
    );
});
