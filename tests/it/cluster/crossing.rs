//! What one instance starts, another finishes: a login, a code, a key rotation.

use super::*;
use std::collections::BTreeSet;

/// The `kid` of a JWT's header.
fn kid(jwt: &str) -> String {
    use base64::Engine as _;
    let head = jwt.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .expect("base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("JSON header");
    v["kid"].as_str().expect("kid").to_owned()
}

/// The status of a userinfo request at `base` with `token`.
async fn userinfo(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!(
            "{base}/auth/realms/edit/protocol/openid-connect/userinfo"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
        .status()
        .as_u16()
}

/// A client credentials grant at `base`: the access token.
async fn grant(base: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!(
            "{base}/auth/realms/edit/protocol/openid-connect/token"
        ))
        .basic_auth("rp", Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "scope_all")])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200, "grant at {base}");
    let v: Value = r.json().await.expect("json");
    v["access_token"].as_str().expect("access_token").to_owned()
}

/// The introspection of `token` at `base`: whether it is active.
async fn active_at(base: &str, token: &str) -> bool {
    let r = reqwest::Client::new()
        .post(format!(
            "{base}/auth/realms/edit/protocol/openid-connect/token/introspect"
        ))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect");
    assert_eq!(r.status(), 200, "introspection at {base}");
    r.json::<Value>().await.expect("json")["active"] == true
}

#[tokio::test]
async fn what_one_instance_starts_another_finishes() {
    let Some(d) = deployment() else {
        return;
    };
    let public = d.public.clone();
    let bases: Vec<String> = d.instances.iter().map(|i| i.base()).collect();

    // Through the balancer, round robin sends the three steps of a login to three instances.
    let b = browser();
    let p = authorize(&b, &public).await.expect("the wallet page");
    let (code, login_by) = login(&b, &public, &p).await.expect("login");
    let (st, tokens, token_by) = redeem(&public, &code, &p.verifier).await;
    assert_eq!(st, 200, "{tokens}");
    let by: BTreeSet<&str> = [p.by.as_str(), &login_by, &token_by].into();
    assert_eq!(by.len(), 3, "three instances served the login: {by:?}");

    // The access token is honoured by each.
    let access = tokens["access_token"].as_str().expect("access_token");
    for base in &bases {
        assert_eq!(userinfo(base, access).await, 200, "userinfo at {base}");
    }

    // The code is spent everywhere: a second redemption at one instance is refused and
    // revokes what the code gave, at every instance (each answers revocations from memory,
    // told by the bus within moments); at the others it is refused too.
    let (st, v, _) = redeem(&bases[0], &code, &p.verifier).await;
    assert_eq!(st, 400, "a spent code at {}: {v}", bases[0]);
    assert_eq!(v["error"], "invalid_grant");
    for base in &bases {
        let until = std::time::Instant::now() + Duration::from_secs(1);
        while userinfo(base, access).await != 401 {
            assert!(
                std::time::Instant::now() < until,
                "the token revoked at {} still works at {base}",
                bases[0]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for base in &bases[1..] {
        let (st, v, _) = redeem(base, &code, &p.verifier).await;
        assert_eq!(st, 400, "a spent code at {base}: {v}");
        assert_eq!(v["error"], "invalid_grant");
    }

    // Without the balancer: a code the first instance issued is redeemed at the second.
    let b = browser();
    let p = authorize(&b, &bases[0]).await.expect("the wallet page");
    let (code, _) = login(&b, &bases[0], &p).await.expect("login at the first");
    let (st, v, _) = redeem(&bases[1], &code, &p.verifier).await;
    assert_eq!(st, 200, "a code of the first redeemed at the second: {v}");

    // A key rotated by one operator command is used by every instance within seconds,
    // and tokens signed before keep verifying everywhere.
    let before = grant(&bases[0]).await;
    let old_kid = kid(&before);
    cli_ok(&d, &["keys", "rotate", "--realm", "edit"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for base in &bases {
        loop {
            let t = grant(base).await;
            if kid(&t) != old_kid {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{base} still signs with {old_kid} after the rotation"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for base in &bases {
        assert!(
            active_at(base, &before).await,
            "{base}: a token of the old key"
        );
        let fresh = grant(&bases[2]).await;
        assert!(
            active_at(base, &fresh).await,
            "{base}: a token of the new key"
        );
    }
}
