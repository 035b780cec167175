//! Accepting coeur's access tokens (RFC 9068 JWTs) in any service: the provider's own
//! userinfo and introspection, the CA API, and later the directory and offer services.
//!
//! - A [`TokenSource`] says which issuer is trusted, with which keys, and whether a token was
//!   revoked: [`JwksSource`] fetches a provider's JWKS over HTTP (any third party), the
//!   provider implements it in-process for its realms (keys from the key ring, revocation
//!   from its store).
//! - A [`Verifier`] checks a token: header `typ` `at+jwt`, key by `kid` with its one
//!   algorithm, signature (verified once per key generation and then remembered), issuer,
//!   expiry, sender binding ([`Binding`]), revocation.
//! - [`Bearer<S>`] is the axum extractor: a handler taking `Bearer<CaRequest>` only runs for a
//!   valid token carrying that [`Scope`].
//! - [`ratelimit`]: per-client limits of the FHIR APIs (`429` with `Retry-After`).
#![forbid(unsafe_code)]

mod jwks;
pub mod ratelimit;

pub use jwks::{JwksSource, discovery};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_common::random::Clock;
use coeur_oauth::claims::AccessTokenClaims;
use coeur_oauth::jose::VerificationKeys;
use coeur_web::mtls::PeerCertificate;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// Where a verifier gets the trusted issuer, its keys and revocation state.
pub trait TokenSource: Send + Sync + 'static {
    /// The issuer whose tokens are accepted (`iss` must equal it).
    fn issuer(&self) -> &str;

    /// The current verification keys. A new `Arc` marks a new key generation: signatures
    /// remembered against the previous one are verified again.
    fn keys(&self) -> BoxFuture<'_, anyhow::Result<Arc<VerificationKeys>>>;

    /// Called when a token names a `kid` the current keys lack: a source that can learn new
    /// keys (a JWKS fetched again) does so; the default has nothing to learn.
    fn refresh(&self) -> BoxFuture<'_, anyhow::Result<Option<Arc<VerificationKeys>>>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether a token with valid signature and lifetime was revoked since it was issued.
    fn revoked<'a>(&'a self, claims: &'a AccessTokenClaims) -> BoxFuture<'a, anyhow::Result<bool>>;
}

/// The proof of possession a request presents alongside its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// No proof: tokens bound to a certificate or key are refused.
    None,
    /// A client certificate from the mutual-TLS listener, by its `x5t#S256` (RFC 8705).
    Mtls(&'a str),
    /// A verified DPoP proof, by its key's JWK thumbprint (RFC 9449 `jkt`).
    Dpop(&'a str),
}

impl<'a> Binding<'a> {
    /// The binding of an axum request: its client certificate's thumbprint, if it came
    /// through the mutual-TLS listener with one.
    pub fn of_certificate(thumbprint: Option<&'a str>) -> Self {
        thumbprint.map_or(Binding::None, Binding::Mtls)
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is not acceptable (`invalid_token`, RFC 6750 §3.1); the text says why.
    #[error("{0}")]
    Invalid(&'static str),
    /// The check could not be made (keys or revocation state unavailable).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

const INVALID: &str = "the access token is invalid or expired";
const WRONG_CERTIFICATE: &str = "the access token is bound to another client certificate";

/// Signatures remembered at most; past this the expired are dropped, then all.
const VERIFIED_MAX: usize = 100_000;

type Verified = HashMap<[u8; 32], (Arc<VerificationKeys>, AccessTokenClaims)>;

/// Checks access tokens of one issuer. Cheap to share (`Arc`).
pub struct Verifier {
    source: Arc<dyn TokenSource>,
    clock: Arc<dyn Clock>,
    verified: Mutex<Verified>,
}

impl Verifier {
    /// A verifier over `source`, reading the time from `clock`.
    pub fn new(source: Arc<dyn TokenSource>, clock: Arc<dyn Clock>) -> Self {
        Self {
            source,
            clock,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The trusted issuer.
    pub fn issuer(&self) -> &str {
        self.source.issuer()
    }

    /// Verifies `token` for a request presenting `presented`: a token bound to a certificate
    /// needs that certificate.
    pub async fn verify(
        &self,
        token: &str,
        presented: Binding<'_>,
    ) -> Result<AccessTokenClaims, TokenError> {
        let claims = self.verify_unbound(token).await?;
        if let Some(cnf) = &claims.cnf
            && presented != Binding::Mtls(cnf.x5t_s256.as_str())
        {
            return Err(TokenError::Invalid(WRONG_CERTIFICATE));
        }
        Ok(claims)
    }

    /// Verifies everything but the sender binding, which the caller reports instead
    /// (introspection, RFC 7662: the `cnf` claim goes back to the resource server).
    pub async fn verify_unbound(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        let claims = self.signed_claims(token).await?;
        let now = self.clock.now();
        if claims.iss != self.source.issuer() || claims.exp <= now {
            return Err(TokenError::Invalid(INVALID));
        }
        if self.source.revoked(&claims).await? {
            return Err(TokenError::Invalid(INVALID));
        }
        Ok(claims)
    }

    /// The claims of a token whose signature verifies, from memory when this key generation
    /// verified it before (a pure function of the token and the keys).
    async fn signed_claims(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        let mut keys = self.source.keys().await?;
        let digest = token_digest(token);
        if let Some(c) = self.remembered(&digest, &keys) {
            return Ok(c);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid(INVALID))?;
        // RFC 9068 §4: `at+jwt`, or its full media type `application/at+jwt`.
        if header.typ.as_deref().is_none_or(|t| {
            !t.eq_ignore_ascii_case("at+jwt") && !t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(TokenError::Invalid(INVALID));
        }
        let kid = header.kid.as_deref().ok_or(TokenError::Invalid(INVALID))?;
        if !keys.contains(kid)
            && let Some(fresh) = self.source.refresh().await?
        {
            keys = fresh;
        }
        let (alg, key) = keys.get(kid).ok_or(TokenError::Invalid(INVALID))?;
        if alg != header.alg {
            return Err(TokenError::Invalid(INVALID));
        }
        let mut v = jsonwebtoken::Validation::new(alg);
        // Lifetime and issuer are checked by the caller each time, against the injected clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &v)
            .map_err(|_| TokenError::Invalid(INVALID))?
            .claims;
        self.remember(digest, &keys, &claims);
        Ok(claims)
    }

    fn remembered(
        &self,
        digest: &[u8; 32],
        keys: &Arc<VerificationKeys>,
    ) -> Option<AccessTokenClaims> {
        let m = self.verified.lock().ok()?;
        m.get(digest)
            .filter(|(k, _)| Arc::ptr_eq(k, keys))
            .map(|(_, c)| c.clone())
    }

    fn remember(&self, digest: [u8; 32], keys: &Arc<VerificationKeys>, claims: &AccessTokenClaims) {
        let now = self.clock.now();
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_MAX {
                m.retain(|_, (_, c)| c.exp > now);
                if m.len() >= VERIFIED_MAX {
                    m.clear();
                }
            }
            m.insert(digest, (keys.clone(), claims.clone()));
        }
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

/// A scope a handler requires, as a type: `Bearer<S>` only extracts for tokens carrying it.
pub trait Scope: Send + Sync + 'static {
    /// The scope's name as granted (e.g. `ca:request`).
    const NAME: &'static str;
}

/// Declares scope types: `scope!(pub CaRead = "ca:read");`.
#[macro_export]
macro_rules! scope {
    ($($vis:vis $ty:ident = $name:literal;)+) => {$(
        #[doc = concat!("The `", $name, "` scope.")]
        $vis struct $ty;
        impl $crate::Scope for $ty {
            const NAME: &'static str = $name;
        }
    )+};
}

/// The verified access token of a request, which carries scope `S`.
pub struct Bearer<S: Scope> {
    /// The token's claims.
    pub claims: AccessTokenClaims,
    scope: PhantomData<S>,
}

impl<S: Scope> Bearer<S> {
    /// Who called: the client, and the user for user tokens (`client_id:IdNat`), for audit.
    pub fn caller(&self) -> String {
        format!(
            "{}:{}",
            self.claims.client_id,
            self.claims
                .subject_name_id
                .as_deref()
                .unwrap_or(&self.claims.sub)
        )
    }
}

/// A JSON error body `{error, error_description}` with its status.
pub fn api_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

fn unauthorized(description: &str) -> Response {
    let mut r = api_error(StatusCode::UNAUTHORIZED, "invalid_token", description);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn insufficient_scope(scope: &str) -> Response {
    let mut r = api_error(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        &format!("this operation needs the {scope} scope"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
    )) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

impl<S, St> FromRequestParts<St> for Bearer<S>
where
    S: Scope,
    St: Send + Sync,
    Arc<Verifier>: FromRef<St>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Response> {
        let verifier = Arc::<Verifier>::from_ref(state);
        let token = coeur_web::bearer_token(&parts.headers)
            .ok_or_else(|| unauthorized("a bearer access token is required"))?;
        let thumbprint = parts
            .extensions
            .get::<PeerCertificate>()
            .and_then(|p| p.0.as_ref())
            .map(|der| coeur_common::encoding::x5t_s256(der));
        let claims = match verifier
            .verify(&token, Binding::of_certificate(thumbprint.as_deref()))
            .await
        {
            Ok(c) => c,
            Err(TokenError::Invalid(d)) => return Err(unauthorized(d)),
            Err(TokenError::Internal(e)) => {
                tracing::error!(error = %format!("{e:#}"), "access token check");
                return Err(api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                ));
            }
        };
        if !claims.scope.split(' ').any(|s| s == S::NAME) {
            return Err(insufficient_scope(S::NAME));
        }
        Ok(Self {
            claims,
            scope: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests;
