//! Several instances on one PostgreSQL database: what one changes, the others hear at once
//! through the bus (`LISTEN`/`NOTIFY`), not after a cache's lifetime. No housekeeping poll
//! runs in the test servers, so only the bus can make these pass.

use crate::support::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Two instances, `a` then `b`, of one deployment: one PostgreSQL database, one master key,
/// one public URL (each reached here at its own address). Each has a keys directory of its
/// own: nothing one needs is on the other's disk.
pub(crate) async fn two_instances() -> (TestServer, TestServer) {
    let a = TestServer::start(Db::Postgres).await;
    let url = a.app.cfg.database_url.clone();
    let public = a.app.cfg.public_url.clone();
    let b = TestServer::start_with(Db::Postgres, &realms_dir(), |s| {
        s.common.database_url = Some(url);
        s.common.public_url = Some(public);
    })
    .await;
    (a, b)
}

/// Asks `check` until it holds, for at most `within` (well below the client cache's two
/// seconds): the bus's message takes milliseconds to arrive.
pub(crate) async fn soon<F: std::future::Future<Output = bool>>(
    within: Duration,
    mut check: impl FnMut() -> F,
) -> bool {
    let until = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status of a client credentials grant for `client_id` with `secret` on `s`.
async fn grant(s: &TestServer, client_id: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(s.endpoint("edit", "token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "openid")])
        .send()
        .await
        .expect("token")
        .status()
        .as_u16()
}

pub(crate) fn cc_spec() -> coeur::oauth::client::ClientSpec {
    let mut spec = rp_spec("cc");
    spec.grant_types = vec![coeur::oauth::client::GrantType::ClientCredentials];
    spec
}

const NEW_SECRET: &str = "another-secret-of-thirty-two-characters!";

// A client whose secret is changed, then removed, on one instance is refused by the other at
// once, although the other had just read (and cached) it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_changes_reach_the_other_instances_at_once() {
    let (a, b) = two_instances().await;
    a.add_client("edit", cc_spec(), Some(SECRET)).await;
    a.state.client_changed("edit", "cc").await;
    assert_eq!(grant(&b, "cc", SECRET).await, 200);

    // New secret on `a` (as `coeur client remove` then `add` do).
    assert!(
        a.state
            .store
            .remove_client("edit", "cc")
            .await
            .expect("remove")
    );
    a.add_client("edit", cc_spec(), Some(NEW_SECRET)).await;
    a.state.client_changed("edit", "cc").await;
    assert!(
        soon(Duration::from_millis(800), || async {
            grant(&b, "cc", SECRET).await == 401
        })
        .await,
        "the old secret is refused by the other instance at once"
    );
    assert_eq!(grant(&b, "cc", NEW_SECRET).await, 200);

    // Removed on `a`.
    assert!(
        a.state
            .store
            .remove_client("edit", "cc")
            .await
            .expect("remove")
    );
    a.state.client_changed("edit", "cc").await;
    assert!(
        soon(Duration::from_millis(800), || async {
            grant(&b, "cc", NEW_SECRET).await == 401
        })
        .await,
        "a removed client is refused by the other instance at once"
    );
}

/// `token`'s introspection by `cc` on `s`: whether it is active.
pub(crate) async fn active(s: &TestServer, token: &str) -> bool {
    let v: Value = reqwest::Client::new()
        .post(s.endpoint("edit", "token/introspect"))
        .basic_auth("cc", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("introspection json");
    v["active"].as_bool().expect("active")
}

/// Revokes `token` (RFC 7009) as `cc` on `s`.
async fn revoke(s: &TestServer, token: &str) {
    let r = reqwest::Client::new()
        .post(s.endpoint("edit", "revoke"))
        .basic_auth("cc", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
}

// An access token revoked on one instance (RFC 7009) is inactive on the other at once: each
// answers revocations from memory, which the bus's message updates (no poll runs here). The
// revoking instance knows before it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_instance_is_refused_by_the_other() {
    let (a, b) = two_instances().await;
    a.add_client("edit", cc_spec(), Some(SECRET)).await;
    let token = a.client_credentials_token("edit", "cc", "openid").await;
    let other = a.client_credentials_token("edit", "cc", "openid").await;
    assert!(active(&b, &token).await);
    revoke(&a, &token).await;
    assert!(
        !active(&a, &token).await,
        "revoked on the revoking instance"
    );
    assert!(
        soon(Duration::from_millis(800), || async {
            !active(&b, &token).await
        })
        .await,
        "revoked on the other instance at once"
    );
    assert!(
        active(&b, &other).await,
        "another token of the client is untouched"
    );
}

// A third instance started after a revocation reads it from the store when it starts: its
// memory holds every revocation that can still matter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_later_knows_earlier_revocations() {
    let a = TestServer::start(Db::Postgres).await;
    a.add_client("edit", cc_spec(), Some(SECRET)).await;
    let token = a.client_credentials_token("edit", "cc", "openid").await;
    revoke(&a, &token).await;
    let url = a.app.cfg.database_url.clone();
    let public = a.app.cfg.public_url.clone();
    let c = TestServer::start_with(Db::Postgres, &realms_dir(), |s| {
        s.common.database_url = Some(url);
        s.common.public_url = Some(public);
    })
    .await;
    assert!(
        !active(&c, &token).await,
        "revoked before the instance started"
    );
}
