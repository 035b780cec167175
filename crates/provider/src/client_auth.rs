//! Client authentication at the token, introspection and revocation endpoints.

use crate::error::ProviderError;
use crate::state::{AppState, RealmRt};
use axum::Extension;
use axum::http::{HeaderMap, header};
use coeur_oauth::authorize::Params;
use coeur_oauth::discovery::Endpoints;
use coeur_oauth::error::{ErrorCode, OAuthError};
use coeur_oauth::token::{self as tok, AuthOutcome, ClientAuthenticated};
use coeur_web::mtls::PeerCertificate;

/// The endpoint a client authenticates at: an assertion may name it in `aud`, as libraries
/// do at introspection and revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthAt {
    /// The token endpoint.
    Token,
    /// The introspection endpoint.
    Introspection,
    /// The revocation endpoint.
    Revocation,
    /// The CIBA authentication request endpoint.
    Ciba,
}

impl AuthAt {
    fn url(self, e: &Endpoints) -> &str {
        match self {
            AuthAt::Token => &e.token,
            AuthAt::Introspection => &e.introspection,
            AuthAt::Revocation => &e.revocation,
            AuthAt::Ciba => &e.backchannel_authentication,
        }
    }
}

/// Authenticates the client of a token, introspection or revocation request. A refusal
/// (`invalid_client`) is logged with the client id and the reason, never the credentials, so
/// that an integrator can see why their client is refused.
pub(crate) async fn authenticate_client(
    st: &AppState,
    rt: &RealmRt,
    at: AuthAt,
    headers: &HeaderMap,
    form: &Params,
    peer: Option<&Extension<PeerCertificate>>,
) -> Result<ClientAuthenticated, ProviderError> {
    // Said in the log only: the answer does not tell an unknown client from a wrong secret.
    let mut detail = None;
    let outcome = authenticate(st, rt, at, headers, form, peer, &mut detail).await;
    if let Err(ProviderError::OAuth { error, .. }) = &outcome
        && error.code == ErrorCode::InvalidClient
    {
        let authz = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let client = tok::presented(authz, form)
            .ok()
            .and_then(|p| p.claimed_id())
            .or_else(|| form.get("client_id").map(str::to_owned))
            .unwrap_or_default();
        tracing::info!(
            realm = %rt.realm.name,
            client_id = %client.escape_debug(),
            endpoint = ?at,
            reason = %detail.map_or(error.description.as_str(), |d| d),
            "client authentication refused"
        );
    }
    outcome
}

async fn authenticate(
    st: &AppState,
    rt: &RealmRt,
    at: AuthAt,
    headers: &HeaderMap,
    form: &Params,
    peer: Option<&Extension<PeerCertificate>>,
    detail: &mut Option<&'static str>,
) -> Result<ClientAuthenticated, ProviderError> {
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let basic_used = authz.is_some();
    let fail = |error: OAuthError| ProviderError::OAuth { error, basic_used };
    let presented = tok::presented(authz, form).map_err(fail)?;
    let bad = || fail(OAuthError::invalid_client("client authentication failed"));
    let id = presented.claimed_id().ok_or_else(bad)?;
    let client = match st.client(rt, &id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            *detail = Some("unknown client");
            return Err(bad());
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "client lookup");
            return Err(fail(OAuthError::server_error()));
        }
    };
    if client.spec.token_endpoint_auth_method == coeur_oauth::client::TokenAuthMethod::TlsClientAuth
    {
        let cert = match peer.and_then(|p| p.0.0.clone()) {
            Some(der) => Some(client_certificate(st, rt, &der).await.map_err(fail)?),
            None => None,
        };
        return tok::authenticate_tls(&presented, client, cert.as_ref()).map_err(fail);
    }
    // The audiences a client assertion may name: built for assertions only, a secret needs
    // none (this runs on every token and introspection request).
    let endpoints = matches!(presented, tok::Presented::Assertion { .. }).then(|| {
        let mtls = format!(
            "{}/auth/realms/{}",
            st.urls.card_public_url.trim_end_matches('/'),
            rt.realm.name
        );
        (Endpoints::of(&rt.realm.issuer), Endpoints::of(&mtls))
    });
    let audiences: Vec<&str> = match &endpoints {
        Some((main, mtls)) => vec![
            rt.realm.issuer.as_str(),
            main.token.as_str(),
            at.url(main),
            mtls.token.as_str(),
            at.url(mtls),
        ],
        None => vec![],
    };
    match tok::authenticate(presented, client, &audiences, st.now()).map_err(fail)? {
        AuthOutcome::Authenticated(a) => Ok(a),
        AuthOutcome::NeedsJtiCheck(checked) => {
            let fresh = st
                .store
                .use_assertion_jti(&rt.realm.name, &id, &checked.jti, checked.exp)
                .await
                .map_err(|_| fail(OAuthError::server_error()))?;
            checked.first_use(fresh).map_err(fail)
        }
    }
}

/// Validates an organisation's TLS client certificate presented to realm `rt`: coeur's
/// ORGANISATIONS CAs of the realm's environment with the revocation state of the store, or the
/// configured external authorities.
pub(crate) async fn client_certificate(
    st: &AppState,
    rt: &RealmRt,
    der: &[u8],
) -> Result<tok::PresentedCertificate, OAuthError> {
    use coeur_pki::validate::Usage;
    let env = rt.realm.environment();
    match st
        .ca
        .check_client_certificate(der, Usage::ClientTls, env)
        .await
    {
        Ok(Ok(v)) => Ok(tok::PresentedCertificate {
            subject: v.subject,
            dns: v.dns,
            thumbprint: v.thumbprint,
        }),
        Ok(Err(e)) => Err(OAuthError::invalid_client(format!(
            "client certificate refused: {e}"
        ))),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "client certificate check");
            Err(OAuthError::server_error())
        }
    }
}
