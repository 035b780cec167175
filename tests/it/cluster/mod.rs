//! Three coeur instances behind HAProxy on one PostgreSQL, each in a network namespace of its
//! own ([`coeur_testkit::lab`]): what one instance starts, another finishes; the loss of an
//! instance (`kill -9`), a rolling restart and a PostgreSQL restart, under load (wrk and
//! logins), lose nothing that was answered.
//!
//! Needs root, iproute2, HAProxy and wrk (`scripts/test.sh` installs them); skipped with a
//! message when they are missing, unless `COEUR_REQUIRE_PEERS` is set.

use crate::support::*;
use coeur_testkit::lab::{self, Deployment, Settings};
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

mod crossing;
mod failures;

/// The instances and balancer of a test, or `None` (skipped) when the machine cannot run them.
fn deployment() -> Option<Deployment> {
    let missing = lab::missing().or_else(|| {
        Command::new("wrk")
            .arg("--version")
            .output()
            .is_err()
            .then(|| "`wrk` is not installed".to_owned())
    });
    if let Some(why) = missing {
        assert!(
            std::env::var_os("COEUR_REQUIRE_PEERS").is_none(),
            "COEUR_REQUIRE_PEERS is set and the cluster lab cannot run: {why}"
        );
        eprintln!("skipped: the cluster lab cannot run here: {why}");
        return None;
    }
    let d = Deployment::start(Settings {
        coeur: env!("CARGO_BIN_EXE_coeur").into(),
        repo: repo_dir(),
        instances: 3,
        env: Vec::new(),
        pin: None,
        pg_stats: false,
    })
    .unwrap_or_else(|e| panic!("the deployment does not start: {e}"));
    cli_ok(
        &d,
        &[
            "client",
            "add",
            "--realm",
            "edit",
            "--client-id",
            "rp",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid",
            "--scope",
            "scope_all",
        ],
    );
    Some(d)
}

/// Runs a `coeur` command with the deployment's configuration; panics unless it succeeds.
fn cli_ok(d: &Deployment, args: &[&str]) -> String {
    let out = d.cli().args(args).output().expect("coeur");
    assert!(
        out.status.success(),
        "coeur {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A browser: cookies kept, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// The instance HAProxy sent a request to (`coeur1`…).
fn served_by(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-coeur-instance")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn between<'a>(html: &'a str, before: &str) -> Option<&'a str> {
    let i = html.find(before)? + before.len();
    html[i..].split('"').next()
}

/// A login in progress: the wallet page was answered, the form not yet posted.
struct Pending {
    action: String,
    request_id: String,
    verifier: String,
    /// Who answered the authorization request.
    by: String,
}

/// What answered an authorization request other than the wallet page: the status (0 when
/// nothing answered) and the `Location`, if any.
#[derive(Debug)]
struct NotWallet {
    status: u16,
    location: String,
}

/// The authorization request of client `rp` at `base` (PKCE S256): the wallet page, or what
/// answered instead (e.g. a redirect when an SSO session answers at once).
async fn authorize(b: &reqwest::Client, base: &str) -> Result<Pending, NotWallet> {
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&format!(
        "{base}/auth/realms/edit/protocol/openid-connect/auth"
    ))
    .expect("URL");
    url.query_pairs_mut().extend_pairs([
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let r = b.get(url).send().await.map_err(|e| NotWallet {
        status: 0,
        location: e.to_string(),
    })?;
    if r.status() != 200 {
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        return Err(NotWallet {
            status: r.status().as_u16(),
            location,
        });
    }
    let by = served_by(&r);
    let html = r.text().await.unwrap_or_default();
    let request_id = between(&html, "name=\"request_id\" value=\"").map(str::to_owned);
    let action = between(&html, "<form method=\"post\" action=\"").map(str::to_owned);
    let (Some(request_id), Some(action)) = (request_id, action) else {
        panic!("not the wallet page:\n{html}")
    };
    Ok(Pending {
        action: action.replace("&amp;", "&").replace("&#x2f;", "/"),
        request_id,
        verifier,
        by,
    })
}

/// Posts the wallet form of `p` at `base` (method `test`): the code, and who answered.
async fn login(b: &reqwest::Client, base: &str, p: &Pending) -> Result<(String, String), String> {
    let r = b
        .post(format!("{base}{}", p.action))
        .form(&[
            ("request_id", p.request_id.as_str()),
            ("national_id", NATIONAL_ID),
            ("method", "test"),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let by = served_by(&r);
    if r.status() != 303 {
        return Err(format!("login answered {}", r.status()));
    }
    Ok((code_of(&r)?, by))
}

/// The `code` of a redirect to the client.
fn code_of(r: &reqwest::Response) -> Result<String, String> {
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Location")?;
    let u = url::Url::parse(loc).map_err(|e| e.to_string())?;
    u.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no code in {loc}"))
}

/// Redeems `code` at `base`: (status, body, who answered).
async fn redeem(base: &str, code: &str, verifier: &str) -> (u16, Value, String) {
    let r = reqwest::Client::new()
        .post(format!(
            "{base}/auth/realms/edit/protocol/openid-connect/token"
        ))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match r {
        Ok(r) => {
            let by = served_by(&r);
            let st = r.status().as_u16();
            (st, r.json().await.unwrap_or(Value::Null), by)
        }
        Err(e) => (0, Value::String(e.to_string()), String::new()),
    }
}

/// One whole login at `base` with a fresh browser; `Err` says which step failed.
async fn full_login(base: &str) -> Result<(), String> {
    let b = browser();
    let p = authorize(&b, base)
        .await
        .map_err(|r| format!("authorize answered {r:?}"))?;
    let (code, _) = login(&b, base, &p).await?;
    match redeem(base, &code, &p.verifier).await {
        (200, _, _) => Ok(()),
        (st, v, _) => Err(format!("token answered {st}: {v}")),
    }
}

/// Logins one after the other at `base` until `stop`, counting successes and failures; every
/// code is redeemed twice at once, and a second success is counted apart (it must never be).
struct LoginLoop {
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    twice: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl LoginLoop {
    fn start(base: String) -> Self {
        let (ok, failed, twice): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
            Default::default();
        let stop: Arc<AtomicBool> = Default::default();
        let (o, f, t, s) = (
            Arc::clone(&ok),
            Arc::clone(&failed),
            Arc::clone(&twice),
            Arc::clone(&stop),
        );
        let task = tokio::spawn(async move {
            let mut errors = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let b = browser();
                let step = async {
                    let p = authorize(&b, &base)
                        .await
                        .map_err(|r| format!("authorize answered {r:?}"))?;
                    let (code, _) = login(&b, &base, &p).await?;
                    let (x, y) = tokio::join!(
                        redeem(&base, &code, &p.verifier),
                        redeem(&base, &code, &p.verifier)
                    );
                    if x.0 == 200 && y.0 == 200 {
                        t.fetch_add(1, Ordering::Relaxed);
                    }
                    if x.0 == 200 || y.0 == 200 {
                        Ok(())
                    } else {
                        Err(format!("token answered {} and {}", x.0, y.0))
                    }
                };
                match step.await {
                    Ok(()) => o.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        errors.push(e);
                        f.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            errors
        });
        Self {
            ok,
            failed,
            twice,
            stop,
            task,
        }
    }

    /// Stops the loop: (logins done, failed, codes redeemed twice, the failures' reasons).
    async fn finish(self) -> (usize, usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let errors = self.task.await.expect("login loop");
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.twice.load(Ordering::Relaxed),
            errors,
        )
    }
}

/// What a wrk run of client credentials grants reported.
#[derive(Debug)]
struct Wrk {
    requests: u64,
    /// Answers other than 200.
    non_200: u64,
    /// Connect, read, write errors and timeouts.
    socket_errors: u64,
    /// wrk's line on them.
    errors_line: String,
}

/// Client credentials grants at `base` with wrk for `seconds` on `connections` connections,
/// in a thread of its own; the handle gives the report.
fn wrk(base: &str, seconds: u64, connections: u32) -> std::thread::JoinHandle<Wrk> {
    let mut c = Command::new("wrk");
    c.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(["--timeout", "5s", "-s"])
        .arg(repo_dir().join("scripts/bench/client_credentials.lua"))
        .arg(base)
        .env(
            "BENCH_TOKEN_PATH",
            "/auth/realms/edit/protocol/openid-connect/token",
        )
        .env("BENCH_CLIENT_ID", "rp")
        .env("BENCH_SECRET", SECRET);
    std::thread::spawn(move || {
        let out = c.output().expect("wrk");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let number = |marker: &str| -> u64 {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(marker))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let socket_errors = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Socket errors:"))
            .map(|rest| {
                rest.split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        let requests = text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(requests > 0, "wrk ran no request:\n{text}");
        Wrk {
            requests,
            non_200: number("bench: non-200 responses:"),
            socket_errors,
            errors_line: text
                .lines()
                .find(|l| l.contains("Socket errors"))
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    })
}
