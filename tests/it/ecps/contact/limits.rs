//! Rate limits of enrolment by contact details (per national id, with `Retry-After`), the
//! client address behind trusted reverse proxies only, and the purge of expired activation
//! codes and approval requests.

use super::*;
use coeur::provider::store::{NewActivation, NewApproval};

both_dbs!(
    ecps_contact_is_rate_limited_per_national_id,
    |db| async move {
        let Some(mut smtp) = SmtpSink::start(Mode::Plain, false).await else {
            return;
        };
        let mut sms = SmsSink::start().await;
        let s = server(db, &smtp, &sms, true).await;
        for _ in 0..3 {
            ask_ok(&s, NATIONAL_ID).await;
            smtp.next().await;
            sms.next().await;
        }
        let r = ask(&s, NATIONAL_ID).await;
        let headers = expect_error(r, 429, "slow_down", "a fourth activation").await;
        let wait: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        // An unknown national id is held back the same way: no enumeration by the limit either.
        let nobody = stranger(&s).await;
        for _ in 0..3 {
            ask_ok(&s, &nobody).await;
        }
        let r = ask(&s, &nobody).await;
        expect_error(r, 429, "slow_down", "a fourth activation, unknown").await;
        assert!(smtp.any_within(Duration::from_millis(500)).await.is_none());
        s.clock.advance(wait);
        ask_ok(&s, NATIONAL_ID).await;
        smtp.next().await;
    }
);

/// Thirty bad enrolments from `client` (as the proxy says), then the thirty-first: its status.
async fn burst(s: &TestServer, forwarded: &str) -> u16 {
    let key = device_key();
    let post = || {
        http()
            .post(api(s, "edit", "devices"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({
                "activation_code": "no.such",
                "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
                "name": "x",
            }))
            .send()
    };
    for _ in 0..30 {
        assert_eq!(post().await.unwrap().status().as_u16(), 400);
    }
    post().await.unwrap().status().as_u16()
}

/// One more bad enrolment from `forwarded`: its status.
async fn one(s: &TestServer, forwarded: &str) -> u16 {
    http()
        .post(api(s, "edit", "devices"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({
            "activation_code": "no.such",
            "public_key": URL_SAFE_NO_PAD.encode(device_key().public_key().as_ref()),
            "name": "x",
        }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_dbs!(
    ecps_rate_limits_believe_trusted_proxies_only,
    |db| async move {
        // No proxy trusted (the default): the connection's address is the client, whatever
        // X-Forwarded-For says.
        let s = TestServer::start(db).await;
        assert_eq!(burst(&s, "198.51.100.1").await, 429);
        assert_eq!(
            one(&s, "198.51.100.2").await,
            429,
            "the header is not believed"
        );
        drop(s);

        // Loopback trusted: each forwarded client has its own budget; what a client writes left
        // of the proxy's entry is not believed.
        let s = TestServer::start_with(db, &realms_dir(), |s| {
            s.messaging.trusted_proxies = Some(vec!["127.0.0.0/8".into(), "::1".into()]);
        })
        .await;
        assert_eq!(burst(&s, "198.51.100.1").await, 429);
        assert_eq!(one(&s, "198.51.100.2").await, 400, "another client");
        assert_eq!(
            one(&s, "198.51.100.2, 198.51.100.1").await,
            429,
            "the proxy's entry is the rightmost"
        );
        assert_eq!(
            one(&s, "198.51.100.1, 127.0.0.1").await,
            429,
            "trusted hops are skipped"
        );
    }
);

/// Activation codes stored.
async fn activations(s: &TestServer) -> i64 {
    use sqlx::Row as _;
    sqlx::query("SELECT COUNT(*) AS n FROM ecps_activations")
        .fetch_one(s.state.store.db().pool())
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
}

both_dbs!(
    ecps_purge_removes_expired_codes_and_requests,
    |db| async move {
        let s = TestServer::start(db).await;
        let store = &s.state.store;
        let now = s.state.now();
        store.purge_expired(now).await.unwrap();
        store
            .create_activation(&NewActivation {
                code_hash: "activation-hash",
                second_code_hash: "second-hash",
                realm: "edit",
                national_id: NATIONAL_ID,
                kind: "contact",
                created_at: now,
                expires_at: now + 900,
            })
            .await
            .unwrap();
        store
            .create_approval(&NewApproval {
                id: "req-purge",
                realm: "edit",
                national_id: NATIONAL_ID,
                client_id: "rp",
                origin: coeur::oauth::ecps::Origin::Wallet,
                channel: coeur::oauth::ecps::Channel::Mobile,
                binding_message: None,
                acr: None,
                nonce: "n",
                params: "{}",
                secret_hash: None,
                poll_interval: None,
                created_at: now,
                expires_at: now + 120,
            })
            .await
            .unwrap();
        // Kept for an hour after expiry (a late CIBA poll still hears expired_token).
        assert_eq!(store.purge_expired(now + 120 + 3600).await.unwrap(), 0);
        assert_eq!(store.purge_expired(now + 121 + 3600).await.unwrap(), 1);
        assert!(store.approval("edit", "req-purge").await.unwrap().is_none());
        assert_eq!(activations(&s).await, 1);
        assert_eq!(store.purge_expired(now + 901 + 3600).await.unwrap(), 1);
        assert_eq!(activations(&s).await, 0);
    }
);
