//! `coeur-resource-server` as a service outside the provider uses it (the directory and offer
//! services will): its own axum application and HTTP client, trusting coeur through discovery
//! and the JWKS only, with `Bearer<Scope>` guarding its routes.

use crate::both_dbs;
use crate::support::*;
use axum::extract::FromRef;
use coeur::common::random::Clock;
use coeur::resource_server::{Bearer, JwksSource, Verifier, scope};
use serde_json::Value;
use std::sync::Arc;

scope! {
    Read = "ca:read";
    Revoke = "ca:revoke";
}

#[derive(Clone)]
struct Service(Arc<Verifier>);

impl FromRef<Service> for Arc<Verifier> {
    fn from_ref(s: &Service) -> Self {
        s.0.clone()
    }
}

/// Starts the third-party service; returns its base URL.
async fn start_service(verifier: Arc<Verifier>) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new()
        .route(
            "/read",
            axum::routing::get(|b: Bearer<Read>| async move { b.caller() }),
        )
        .route(
            "/revoke",
            axum::routing::get(|_b: Bearer<Revoke>| async { "revoked" }),
        )
        .with_state(Service(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

async fn client_token(s: &TestServer, scope: &str) -> String {
    s.client_credentials_token("edit", "rs-client", scope).await
}

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let v: Value = serde_json::from_slice(&bytes).expect("header JSON");
    v["kid"].as_str().expect("kid").to_owned()
}

async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut rb = reqwest::Client::new().get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.expect("request")
}

both_dbs!(
    third_party_service_trusts_coeur_through_jwks,
    |db| async move {
        let s = TestServer::start(db).await;
        let mut spec = rp_spec("rs-client");
        spec.scopes = vec!["ca:read".into()];
        s.add_client("edit", spec, Some(SECRET)).await;

        // Refetches allowed at once, so that the rotation below needs no wait.
        let source = JwksSource::discover(&s.issuer("edit"), reqwest::Client::new())
            .await
            .expect("discovery")
            .with_min_refresh(std::time::Duration::ZERO);
        let clock: Arc<dyn Clock> = s.clock.clone();
        let verifier = Arc::new(Verifier::new(Arc::new(source), clock));
        let (svc, _task) = start_service(verifier).await;

        let token = client_token(&s, "ca:read").await;
        let r = get(&format!("{svc}/read"), Some(&token)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.expect("body"), "rs-client:rs-client");

        // No token: 401 with a Bearer challenge.
        let r = get(&format!("{svc}/read"), None).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");

        // A valid token without the route's scope: 403 naming the scope.
        let r = get(&format!("{svc}/revoke"), Some(&token)).await;
        assert_eq!(r.status(), 403);
        let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
        assert!(challenge.contains("insufficient_scope") && challenge.contains("ca:revoke"));

        // A token whose payload was altered: 401.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_payload = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"x","sub":"x","aud":"x","client_id":"x","exp":9999999999,"iat":0,"jti":"x","scope":"ca:read ca:revoke"}"#)
        };
        parts[1] = &forged_payload;
        let r = get(&format!("{svc}/revoke"), Some(&parts.join("."))).await;
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.expect("JSON");
        assert_eq!(body["error"], "invalid_token");

        // Two rotations make a key active that did not exist when the service fetched the JWKS:
        // the service learns it from the JWKS again, without a restart.
        let first_kid = kid(&token);
        let rt = s.state.realm("edit").expect("realm").clone();
        for _ in 0..2 {
            s.state
                .keys
                .rotate("edit", &rt.realm.signing_algs, s.clock.now(), 600)
                .await
                .expect("rotate");
            s.state.refresh_ring(&rt).await.expect("reload");
        }
        let rotated = client_token(&s, "ca:read").await;
        assert_ne!(kid(&rotated), first_kid, "signed with a new key");
        let r = get(&format!("{svc}/read"), Some(&rotated)).await;
        assert_eq!(r.status(), 200, "a key published after the first fetch");
        // The old token is still valid: its key is retired, not removed.
        assert_eq!(
            get(&format!("{svc}/read"), Some(&token)).await.status(),
            200
        );

        // Expired tokens are refused by the service's own (injected) clock.
        s.clock.advance(24 * 3600);
        let r = get(&format!("{svc}/read"), Some(&rotated)).await;
        assert_eq!(r.status(), 401);
    }
);
