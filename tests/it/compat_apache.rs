//! Apache httpd with mod_auth_openidc as a relying party (as hospitals' intranet applications
//! are put behind Pro Santé Connect): configured from the realm's discovery document with
//! `client_secret_post`, it logs the user in through the SSO session, and is logged out by
//! coeur's Logout Token at its `OIDCRedirectURI?logout=backchannel` when the user logs out
//! of another application.

use crate::backchannel_logout::tokens_of;
use crate::both_dbs;
use crate::support::apache::{Apache, OidcSettings, redirect_uri};
use crate::support::*;
use coeur::oauth::client::TokenAuthMethod;
use std::time::{Duration, Instant};

/// GETs `url` in browser `b`: status and `Location`.
async fn get(b: &Browser, url: &str) -> (u16, Option<url::Url>) {
    let r = b.http.get(url).send().await.expect("GET");
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok());
    (r.status().as_u16(), to)
}

both_dbs!(
    mod_auth_openidc_is_logged_out_through_the_back_channel,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let port = Apache::reserve_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut spec = rp_spec("apache-rp");
        spec.redirect_uris = vec![redirect_uri(&base)];
        spec.token_endpoint_auth_method = TokenAuthMethod::ClientSecretPost;
        spec.backchannel_logout_uri = Some(format!("{}?logout=backchannel", redirect_uri(&base)));
        s.add_client("edit", spec, Some(SECRET)).await;
        let apache = Apache::start_on(
            port,
            &OidcSettings {
                metadata_url: format!("{}/.well-known/openid-configuration", s.issuer("edit")),
                client_id: "apache-rp".into(),
                client_secret: SECRET.into(),
                token_endpoint_auth: "client_secret_post".into(),
                scope: "openid scope_all".into(),
            },
        );
        let protected = format!("{base}/protected/hello.txt");

        // The user logs in to another application, then reaches Apache's through the SSO session.
        let b = s.browser();
        let t = tokens_of(&s, &b, "rp", "openid").await;
        let (status, to) = get(&b, &protected).await;
        assert_eq!(status, 302, "to coeur: {}", apache.error_log());
        let to = to.expect("Location");
        assert!(to.as_str().starts_with(&s.endpoint("edit", "auth")), "{to}");
        let back = b.authorize(to.as_str()).await.redirect();
        assert!(back.as_str().starts_with(&redirect_uri(&base)), "{back}");
        assert!(param(&back, "code").is_some(), "SSO gives a code: {back}");
        let (status, to) = get(&b, back.as_str()).await;
        assert_eq!(status, 302, "code redeemed: {}", apache.error_log());
        assert_eq!(
            to.map(|u| u.to_string()).as_deref(),
            Some(protected.as_str())
        );
        let r = b.http.get(&protected).send().await.expect("GET");
        assert_eq!(r.status(), 200, "logged in: {}", apache.error_log());
        assert_eq!(r.text().await.expect("body"), "hello\n");

        // The user logs out of the other application: Apache's session ends with coeur's.
        let mut u = url::Url::parse(&s.endpoint("edit", "logout")).expect("URL");
        u.query_pairs_mut()
            .append_pair("id_token_hint", t["id_token"].as_str().expect("ID token"));
        let r = b.http.get(u.as_str()).send().await.expect("logout");
        assert_eq!(r.status(), 200, "logged out");
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            let (status, _) = get(&b, &protected).await;
            if status != 200 || Instant::now() > deadline {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            status,
            302,
            "Apache's session ended: {}",
            apache.error_log()
        );
        let log = apache.access_log();
        assert_eq!(
            log.matches("\"POST /protected/redirect_uri?logout=backchannel HTTP/1.1\" 200")
                .count(),
            1,
            "one Logout Token, accepted: {log}\n{}",
            apache.error_log()
        );
    }
);
