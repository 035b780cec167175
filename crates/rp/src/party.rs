//! The relying party of one client at one issuer.

use crate::error::RpError;
use crate::http::{BodyError, Http, read_body};
use crate::login::{IdClaims, Login, PendingLogin};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthType, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    JsonWebKey as _, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, Scope, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The current time, in seconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;
/// Fills a buffer with cryptographically secure random bytes.
pub type RandomFill = Arc<dyn Fn(&mut [u8]) + Send + Sync>;

/// Provider metadata beyond OpenID Connect Discovery that the relying party reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq, Serialize)]
pub struct ExtraMetadata {
    /// RFC 9207: the provider always names itself in the authorization response (`iss`).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// OpenID Connect RP-Initiated Logout 1.0: where the relying party sends the browser to
    /// end the user's session at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// An OpenID provider's metadata, as the relying party reads it.
pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client as built from discovered metadata: authorization endpoint known, token and
/// userinfo endpoints if published.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Authorization parameters the flow sets itself, which extra parameters may not override.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// Random bytes behind each state, nonce and PKCE verifier (43 base64url characters).
const SECRET_BYTES: usize = 32;

/// One client registered at one OpenID provider, with the provider's discovered metadata and
/// signing keys.
pub struct RelyingParty {
    client: DiscoveredClient,
    issuer: String,
    iss_in_response: bool,
    client_secret: Option<String>,
    id_token_algs: Vec<CoreJwsSigningAlgorithm>,
    userinfo_endpoint: Option<url::Url>,
    end_session_endpoint: Option<url::Url>,
    http: Http,
    clock: Clock,
    random: Option<RandomFill>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client.client_id().as_str())
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// Reads `issuer_url`'s metadata (`/.well-known/openid-configuration`, whose `issuer` must be
    /// `issuer_url` exactly) and its JWKS, for the client `client_id` (confidential when
    /// `client_secret` is given) redirected to `redirect_uri`.
    pub async fn discover(
        issuer_url: &str,
        client_id: &str,
        client_secret: Option<&str>,
        redirect_uri: &str,
        http: Http,
    ) -> Result<Self, RpError> {
        let issuer = IssuerUrl::new(issuer_url.to_owned()).map_err(|source| RpError::Url {
            what: "issuer",
            source,
        })?;
        let metadata = Metadata::discover_async(issuer, &http)
            .await
            .map_err(RpError::Discovery)?;
        Self::from_metadata(metadata, client_id, client_secret, redirect_uri, http)
    }

    /// The relying party over metadata (with its JWKS) obtained elsewhere.
    pub fn from_metadata(
        metadata: Metadata,
        client_id: &str,
        client_secret: Option<&str>,
        redirect_uri: &str,
        http: Http,
    ) -> Result<Self, RpError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|source| RpError::Url {
                what: "redirect",
                source,
            })?;
        let issuer = metadata.issuer().as_str().to_owned();
        let iss_in_response = metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported;
        let userinfo_endpoint = metadata.userinfo_endpoint().map(|u| u.url().clone());
        let end_session_endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok());
        let id_token_algs = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| **a != CoreJwsSigningAlgorithm::None)
            .filter(|a| client_secret.is_some() || !is_hmac(a))
            .cloned()
            .collect();
        // Basic unless the provider only takes the secret in the body.
        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            Some(m)
                if !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && m.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        };
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            client_secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type);
        Ok(RelyingParty {
            client,
            issuer,
            iss_in_response,
            client_secret: client_secret.map(str::to_owned),
            id_token_algs,
            userinfo_endpoint,
            end_session_endpoint,
            http,
            clock: Arc::new(system_now),
            random: None,
        })
    }

    /// Uses `clock` for the ID token's expiry check instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `random` for states, nonces and PKCE verifiers instead of the system's generator.
    pub fn with_random(mut self, random: RandomFill) -> Self {
        self.random = Some(random);
        self
    }

    /// The issuer, as its metadata names it.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The provider's RP-Initiated Logout endpoint, when its metadata names one.
    pub fn end_session_endpoint(&self) -> Option<&url::Url> {
        self.end_session_endpoint.as_ref()
    }

    /// Starts a login: the authorization URL (code flow, `openid` plus `scopes`, PKCE S256,
    /// fresh state and nonce, then `extra` parameters such as `acr_values`) and what to keep
    /// until the callback.
    pub fn authorize_url(
        &self,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> Result<(url::Url, PendingLogin), RpError> {
        if let Some((k, _)) = extra.iter().find(|(k, _)| RESERVED.contains(k)) {
            return Err(RpError::ReservedParameter((*k).to_owned()));
        }
        let pending = PendingLogin {
            state: self.secret(),
            nonce: self.secret(),
            pkce_verifier: self.secret(),
        };
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pending.pkce_verifier.clone(),
        ));
        let (state, nonce) = (pending.state.clone(), pending.nonce.clone());
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for s in scopes.iter().filter(|s| **s != "openid") {
            request = request.add_scope(Scope::new((*s).to_owned()));
        }
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        let (url, _, _) = request.url();
        Ok((url, pending))
    }

    /// Checks the callback's `iss` parameter (RFC 9207): it must be this issuer, and be there
    /// when the provider announces `authorization_response_iss_parameter_supported`.
    pub fn check_callback_issuer(&self, iss: Option<&str>) -> Result<(), RpError> {
        match iss {
            Some(i) if i == self.issuer => Ok(()),
            None if !self.iss_in_response => Ok(()),
            _ => Err(RpError::CallbackIssuer),
        }
    }

    /// Finishes a login: redeems `code` with the PKCE verifier of `pending` and verifies the ID
    /// token (signature against the issuer's keys or the client secret, issuer, audience,
    /// nonce, expiry against the clock, `at_hash` when present).
    pub async fn exchange(&self, code: &str, pending: PendingLogin) -> Result<Login, RpError> {
        let request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| RpError::MissingEndpoint("token"))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let token = request.request_async(&self.http).await?;
        self.verify(&token, &pending)
    }

    /// Verifies a token response's ID token for `pending`.
    fn verify(&self, token: &CoreTokenResponse, pending: &PendingLogin) -> Result<Login, RpError> {
        let id_token = token.id_token().ok_or(RpError::NoIdToken)?;
        let verifier = self.id_token_verifier();
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = id_token.claims(&verifier, &nonce)?;
        if let Some(expected) = claims.access_token_hash() {
            self.check_at_hash(id_token, &verifier, token, expected)?;
        }
        let raw = id_token.to_string();
        let all = payload(&raw)?;
        Ok(Login {
            claims: IdClaims::from_verified(all),
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|t| t.secret().clone()),
            expires_in: token.expires_in(),
            scopes: token
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect()),
            id_token: raw,
        })
    }

    fn id_token_verifier(&self) -> CoreIdTokenVerifier<'_> {
        let clock = self.clock.clone();
        self.client
            .id_token_verifier()
            .set_allowed_algs(self.id_token_algs.iter().cloned())
            .set_time_fn(move || {
                // A clock out of range makes every token expired rather than none.
                DateTime::<Utc>::from_timestamp(clock(), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
            })
    }

    /// Checks that `at_hash` is the hash of the access token issued with the ID token.
    fn check_at_hash(
        &self,
        id_token: &CoreIdToken,
        verifier: &CoreIdTokenVerifier<'_>,
        token: &CoreTokenResponse,
        expected: &AccessTokenHash,
    ) -> Result<(), RpError> {
        let invalid = |e: &dyn std::fmt::Display| RpError::IdToken(format!("at_hash: {e}"));
        let alg = id_token.signing_alg().map_err(|e| invalid(&e))?;
        let symmetric;
        let key: &CoreJsonWebKey = match (&self.client_secret, is_hmac(alg)) {
            (Some(secret), true) => {
                symmetric = CoreJsonWebKey::new_symmetric(secret.as_bytes().to_vec());
                &symmetric
            }
            _ => id_token.signing_key(verifier).map_err(|e| invalid(&e))?,
        };
        let actual =
            AccessTokenHash::from_token(token.access_token(), alg, key).map_err(|e| invalid(&e))?;
        if &actual != expected {
            return Err(invalid(&"does not match the access token"));
        }
        Ok(())
    }

    /// Reads the userinfo endpoint with `access_token`; the answer must be a JSON object.
    pub async fn userinfo(&self, access_token: &str) -> Result<Value, RpError> {
        let endpoint = self
            .userinfo_endpoint
            .clone()
            .ok_or(RpError::MissingEndpoint("userinfo"))?;
        let response = self
            .http
            .client()
            .get(endpoint.clone())
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| RpError::Userinfo(e.to_string()))?;
        let status = response.status();
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = read_body(response).await.map_err(|e| match e {
            BodyError::TooLarge => RpError::TooLarge(endpoint.to_string()),
            BodyError::Transport(e) => RpError::Userinfo(e.to_string()),
        })?;
        if !status.is_success() {
            return Err(RpError::Userinfo(format!("the endpoint answered {status}")));
        }
        if !json {
            return Err(RpError::Userinfo("the answer is not JSON".into()));
        }
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(RpError::Userinfo("the answer is not a JSON object".into())),
            Err(e) => Err(RpError::Userinfo(e.to_string())),
        }
    }

    /// Reads the userinfo endpoint for a login, checking that it speaks of the ID token's
    /// subject (OpenID Connect Core 5.3.2).
    pub async fn userinfo_for(&self, login: &Login) -> Result<Value, RpError> {
        let v = self.userinfo(&login.access_token).await?;
        if v["sub"].as_str() != Some(login.claims.sub.as_str()) {
            return Err(RpError::Userinfo(
                "the answer is about another subject".into(),
            ));
        }
        Ok(v)
    }

    /// A fresh secret for a state, nonce or verifier.
    fn secret(&self) -> String {
        match &self.random {
            Some(fill) => {
                let mut b = [0u8; SECRET_BYTES];
                fill(&mut b);
                URL_SAFE_NO_PAD.encode(b)
            }
            None => CsrfToken::new_random_len(SECRET_BYTES as u32).into_secret(),
        }
    }
}

fn is_hmac(alg: &CoreJwsSigningAlgorithm) -> bool {
    matches!(
        alg,
        CoreJwsSigningAlgorithm::HmacSha256
            | CoreJwsSigningAlgorithm::HmacSha384
            | CoreJwsSigningAlgorithm::HmacSha512
    )
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The claims of a compact JWS whose signature was verified.
fn payload(jws: &str) -> Result<Map<String, Value>, RpError> {
    let bad = || RpError::IdToken("unreadable payload".into());
    let part = jws.split('.').nth(1).ok_or_else(bad)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests;
