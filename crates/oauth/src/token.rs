//! The token endpoint's decisions: who the client is, and whether a code or refresh token may
//! be redeemed. Persistence (single use, replay detection) is the caller's, driven by the
//! proof values returned here.

use super::authorize::Params;
use super::client::{Client, TokenAuthMethod};
use super::error::{ErrorCode, OAuthError};
use super::pkce::{self, CodeChallenge, PkceVerified};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coeur_pki::dn::Dn;
use serde::Deserialize;

/// How long a client assertion may live (exp − now): an hour, as Authlib signs them. Its jti
/// is remembered until `exp`, so a longer life does not open a replay.
pub const ASSERTION_MAX_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`/`nbf`/`exp` of client assertions.
pub const CLOCK_SKEW: i64 = 10;

/// Client credentials as presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// HTTP Basic (RFC 6749 §2.3.1, form-urlencoded id and secret).
    Basic {
        /// Client id.
        id: String,
        /// Secret.
        secret: String,
    },
    /// Form body id and secret.
    Post {
        /// Client id.
        id: String,
        /// Secret.
        secret: String,
    },
    /// A signed JWT (RFC 7523).
    Assertion {
        /// `client_id` parameter, if sent.
        id: Option<String>,
        /// The JWT.
        jwt: String,
    },
    /// Only a client id (public clients).
    IdOnly {
        /// Client id.
        id: String,
    },
}

impl Presented {
    /// The authentication method these credentials use (`IdOnly` is `none`, or the start of
    /// `tls_client_auth`, which [`authenticate_tls`] decides).
    pub fn method(&self) -> TokenAuthMethod {
        match self {
            Presented::Basic { .. } => TokenAuthMethod::ClientSecretBasic,
            Presented::Post { .. } => TokenAuthMethod::ClientSecretPost,
            Presented::Assertion { .. } => TokenAuthMethod::PrivateKeyJwt,
            Presented::IdOnly { .. } => TokenAuthMethod::None,
        }
    }

    /// The client id these credentials claim, if it can be read without verification.
    pub fn claimed_id(&self) -> Option<String> {
        match self {
            Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::IdOnly { id } => {
                Some(id.clone())
            }
            Presented::Assertion { id: Some(id), .. } => Some(id.clone()),
            Presented::Assertion { id: None, jwt } => {
                let c: AssertionClaims =
                    jsonwebtoken::dangerous::insecure_decode_claims(jwt).ok()?;
                c.sub.or(c.iss)
            }
        }
    }
}

/// Reads the client's credentials from the `Authorization` header and the form. Using more
/// than one method is an error (RFC 6749 §2.3).
pub fn presented(authorization: Option<&str>, form: &Params) -> Result<Presented, OAuthError> {
    let basic = match authorization {
        Some(h) => {
            let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client(
                    "unsupported Authorization scheme",
                ));
            }
            let raw = STANDARD
                .decode(rest.trim())
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
            let raw = String::from_utf8(raw)
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = raw
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((dec(id), dec(secret)))
        }
        None => None,
    };
    let post_secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(post_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    let form_id = form.get("client_id").map(str::to_owned);
    if let Some((id, secret)) = basic {
        if form_id.as_deref().is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_client(
                "client_id does not match the Basic credentials",
            ));
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(secret) = post_secret {
        let id = form_id.ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
        return Ok(Presented::Post {
            id,
            secret: secret.to_owned(),
        });
    }
    if let Some(jwt) = assertion {
        if form.get("client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(OAuthError::invalid_client(
                "client_assertion_type must be jwt-bearer",
            ));
        }
        return Ok(Presented::Assertion {
            id: form_id,
            jwt: jwt.to_owned(),
        });
    }
    match form_id {
        Some(id) => Ok(Presented::IdOnly { id }),
        None => Err(OAuthError::invalid_client(
            "client authentication is missing",
        )),
    }
}

/// Proof that the client authenticated as its registration requires. Only [`authenticate`]
/// and [`AssertionChecked::first_use`] make one.
#[derive(Debug)]
pub struct ClientAuthenticated {
    client: Client,
    bound: Option<String>,
}

impl ClientAuthenticated {
    /// The `x5t#S256` of the client certificate the client authenticated with, to bind the
    /// tokens it obtains (RFC 8705 §3).
    pub fn bound_thumbprint(&self) -> Option<&str> {
        self.bound.as_deref()
    }

    /// The authenticated client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// A client assertion whose signature and claims are good; its `jti` must still be recorded
/// as used (replay protection) before the client counts as authenticated.
#[derive(Debug)]
pub struct AssertionChecked {
    client: Client,
    /// The assertion's id.
    pub jti: String,
    /// Until when the jti must be remembered.
    pub exp: i64,
}

impl AssertionChecked {
    /// Completes authentication once the store has confirmed the jti was never seen.
    pub fn first_use(self, jti_was_fresh: bool) -> Result<ClientAuthenticated, OAuthError> {
        if jti_was_fresh {
            Ok(ClientAuthenticated {
                client: self.client,
                bound: None,
            })
        } else {
            Err(OAuthError::invalid_client("client assertion replayed"))
        }
    }
}

/// Outcome of checking credentials.
#[derive(Debug)]
pub enum AuthOutcome {
    /// Done.
    Authenticated(ClientAuthenticated),
    /// Assertion checked; record its jti, then call [`AssertionChecked::first_use`].
    NeedsJtiCheck(AssertionChecked),
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

/// Checks `presented` against `client`'s registration. `audiences` are the values accepted
/// in an assertion's `aud` (the issuer, the token endpoint and the endpoint being called).
pub fn authenticate(
    presented: Presented,
    client: Client,
    audiences: &[&str],
    now: i64,
) -> Result<AuthOutcome, OAuthError> {
    if !client.accepts_method(presented.method()) {
        return Err(OAuthError::invalid_client(format!(
            "this client must authenticate with {}",
            client.accepted_methods()
        )));
    }
    let bad = || OAuthError::invalid_client("client authentication failed");
    match presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => {
            let h = client.secret_hash.as_ref().ok_or_else(bad)?;
            h.verify(&secret).ok_or_else(bad)?;
            Ok(AuthOutcome::Authenticated(ClientAuthenticated {
                client,
                bound: None,
            }))
        }
        Presented::IdOnly { .. } => Ok(AuthOutcome::Authenticated(ClientAuthenticated {
            client,
            bound: None,
        })),
        Presented::Assertion { jwt, .. } => check_assertion(&jwt, &client, audiences, now)
            .map(|(jti, exp)| AuthOutcome::NeedsJtiCheck(AssertionChecked { client, jti, exp })),
    }
}

/// A client certificate already validated against coeur's ORGANISATIONS CAs and the store.
#[derive(Debug, Clone)]
pub struct PresentedCertificate {
    /// Subject DN, read from the certificate's DER subject.
    pub subject: Dn,
    /// SAN DNS names.
    pub dns: Vec<String>,
    /// `x5t#S256`.
    pub thumbprint: String,
}

/// `tls_client_auth` (RFC 8705 §2.1.2): the certificate must carry the registered subject DN or
/// SAN DNS name.
pub fn authenticate_tls(
    presented: &Presented,
    client: Client,
    cert: Option<&PresentedCertificate>,
) -> Result<ClientAuthenticated, OAuthError> {
    if client.spec.token_endpoint_auth_method != TokenAuthMethod::TlsClientAuth {
        return Err(OAuthError::invalid_client(
            "this client does not use tls_client_auth",
        ));
    }
    if !matches!(presented, Presented::IdOnly { .. }) {
        return Err(OAuthError::invalid_client(
            "tls_client_auth takes no secret or assertion",
        ));
    }
    let cert = cert.ok_or_else(|| {
        OAuthError::invalid_client("a client certificate is required (use the mutual-TLS endpoint)")
    })?;
    let dn_ok = client
        .spec
        .tls_client_auth_subject_dn
        .as_deref()
        .is_some_and(|d| registered_dn_matches(d, &cert.subject));
    let san_ok = client
        .spec
        .tls_client_auth_san_dns
        .as_deref()
        .is_some_and(|d| cert.dns.iter().any(|x| x.eq_ignore_ascii_case(d)));
    if !(dn_ok || san_ok) {
        return Err(OAuthError::invalid_client(
            "the client certificate does not match the registration",
        ));
    }
    Ok(ClientAuthenticated {
        client,
        bound: Some(cert.thumbprint.clone()),
    })
}

/// Whether a registered `tls_client_auth_subject_dn` names the certificate's subject
/// (RFC 8705 §2.1.2: an RFC 4514 string, compared as [`Dn`] compares, RDN by RDN). A
/// registration written least specific first, as OpenSSL and x509-parser print a subject
/// (`C=FR, O=…, CN=…`), is read in that order; no other reordering of RDNs matches. A
/// registration that does not parse, or is empty, matches nothing.
pub fn registered_dn_matches(registered: &str, subject: &Dn) -> bool {
    match Dn::parse(registered) {
        Ok(r) if !r.is_empty() => r == *subject || r.reversed() == *subject,
        _ => false,
    }
}

fn check_assertion(
    jwt: &str,
    client: &Client,
    audiences: &[&str],
    now: i64,
) -> Result<(String, i64), OAuthError> {
    verify_assertion(jwt, client)
        .and_then(|claims| assertion_claims(claims, client.id(), audiences, now))
        .map_err(|why| OAuthError::invalid_client(format!("client assertion rejected: {why}")))
}

/// The claims of an assertion signed with an asymmetric algorithm by one of the client's
/// keys (the one its `kid` names, or any).
fn verify_assertion(jwt: &str, client: &Client) -> Result<AssertionClaims, &'static str> {
    verify_client_jwt(jwt, client)
}

/// The claims of a JWT the client signed with an asymmetric algorithm and one of its
/// registered keys (the one its `kid` names, or any): client assertions, CIBA signed
/// requests and login hint tokens. Times and audience are the caller's to check.
pub(crate) fn verify_client_jwt<T: serde::de::DeserializeOwned>(
    jwt: &str,
    client: &Client,
) -> Result<T, &'static str> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| "malformed")?;
    use jsonwebtoken::Algorithm as A;
    if !matches!(
        header.alg,
        A::ES256
            | A::ES384
            | A::PS256
            | A::PS384
            | A::PS512
            | A::RS256
            | A::RS384
            | A::RS512
            | A::EdDSA
    ) {
        return Err("algorithm not allowed");
    }
    let jwks = client.jwks.as_ref().ok_or("client has no keys")?;
    let candidates: Vec<&jsonwebtoken::jwk::Jwk> = match &header.kid {
        Some(kid) => jwks.find(kid).into_iter().collect(),
        None => jwks.keys.iter().collect(),
    };
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    // Time and audience are checked by the caller against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    candidates
        .iter()
        .filter_map(|jwk| jsonwebtoken::DecodingKey::from_jwk(jwk).ok())
        .find_map(|k| jsonwebtoken::decode::<T>(jwt, &k, &validation).ok())
        .map(|d| d.claims)
        .ok_or("signature does not verify with the client's keys")
}

/// Checks a verified assertion's claims (RFC 7523 §3): issuer and subject, audience, times;
/// returns its `jti` and until when to remember it.
fn assertion_claims(
    claims: AssertionClaims,
    id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<(String, i64), &'static str> {
    if claims.iss.as_deref() != Some(id) || claims.sub.as_deref() != Some(id) {
        return Err("iss and sub must be the client id");
    }
    let aud_ok = match &claims.aud {
        Some(serde_json::Value::String(a)) => audiences.contains(&a.as_str()),
        Some(serde_json::Value::Array(v)) => v
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.contains(&a))),
        _ => false,
    };
    if !aud_ok {
        return Err("aud must be the issuer, the token endpoint or the endpoint called");
    }
    let exp = claims.exp.ok_or("exp is missing")?;
    // Claims come from the client: every sum is checked (an `exp` near i64::MAX is refused,
    // not wrapped).
    let remember_until = exp
        .checked_add(CLOCK_SKEW)
        .ok_or("exp is too far in the future")?;
    if remember_until < now {
        return Err("expired");
    }
    let lifetime = exp.checked_sub(now).ok_or("exp is out of range")?;
    if lifetime > ASSERTION_MAX_LIFETIME + CLOCK_SKEW {
        return Err("exp is too far in the future");
    }
    let latest = now.saturating_add(CLOCK_SKEW);
    if claims.nbf.is_some_and(|n| n > latest) || claims.iat.is_some_and(|i| i > latest) {
        return Err("not yet valid");
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or("jti is missing")?;
    Ok((jti, remember_until))
}

/// An authorization code as stored.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri`.
    pub redirect_uri_given: bool,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// Expiry.
    pub expires_at: i64,
    /// Whether it was already redeemed.
    pub used: bool,
}

/// What to do with a presented code.
#[derive(Debug)]
pub enum CodeDecision {
    /// Redeem it.
    Redeem(CodeRedeemable),
    /// Its own client presents it again: revoke what the first redemption issued
    /// (RFC 6749 §4.1.2), refuse.
    Replay,
}

/// Proof that a code may be redeemed by this client with this request.
#[derive(Debug)]
pub struct CodeRedeemable {
    /// PKCE proof, when the code had a challenge.
    pub pkce: Option<PkceVerified>,
}

/// Checks a code against the token request (RFC 6749 §4.1.3, RFC 7636 §4.6). The client
/// binding comes first: a code presented by another client is refused and changes nothing,
/// even when it was already used; its own client's replay (even of an expired code) is a
/// [`CodeDecision::Replay`].
pub fn check_code(
    code: &CodeGrant,
    auth: &ClientAuthenticated,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: i64,
) -> Result<CodeDecision, OAuthError> {
    if code.client_id != auth.client.id() {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if code.used {
        return Ok(CodeDecision::Replay);
    }
    if now >= code.expires_at {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    match redirect_uri {
        Some(r) if r != code.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        None if code.redirect_uri_given => {
            return Err(OAuthError::invalid_grant("redirect_uri is required"));
        }
        _ => {}
    }
    let pkce = match (&code.code_challenge, verifier) {
        (Some(c), Some(v)) => Some(
            pkce::verify(&CodeChallenge::from_stored(c.clone()), v)
                .map_err(OAuthError::invalid_grant)?,
        ),
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was",
            ));
        }
        (None, None) => None,
    };
    Ok(CodeDecision::Redeem(CodeRedeemable { pkce }))
}

/// A refresh token as stored.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    /// Client.
    pub client_id: String,
    /// Expiry.
    pub expires_at: i64,
    /// When it was exchanged, if it was.
    pub used_at: Option<i64>,
    /// Whether its grant is revoked.
    pub revoked: bool,
}

/// What to do with a presented refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Exchange it.
    Rotate,
    /// A retry within the concurrency window: answer with the successor tokens its first use
    /// got (no second token family).
    Repeat,
    /// Reuse outside the concurrency window: revoke the whole grant, refuse.
    RevokeFamily,
}

/// Decides a refresh (RFC 9700 §4.14.2: rotation with reuse detection). A refresh token is
/// active (introspection) exactly when the decision is [`RefreshDecision::Rotate`].
pub fn refresh_decision(
    rec: &RefreshRecord,
    client_id: &str,
    window: i64,
    now: i64,
) -> Result<RefreshDecision, OAuthError> {
    if rec.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if rec.revoked {
        return Err(OAuthError::invalid_grant("the refresh token is revoked"));
    }
    if now >= rec.expires_at {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    match rec.used_at {
        None => Ok(RefreshDecision::Rotate),
        Some(t) if now - t <= window => Ok(RefreshDecision::Repeat),
        Some(_) => Ok(RefreshDecision::RevokeFamily),
    }
}

/// The scope of the tokens a refresh issues from a grant of scope `granted` (RFC 6749 §6):
/// the `requested` scope when it narrows the grant, the whole grant when none is requested;
/// a scope beyond the grant is `invalid_scope`.
pub fn refresh_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let granted: Vec<&str> = granted.split(' ').filter(|s| !s.is_empty()).collect();
    let mut asked: Vec<&str> = Vec::new();
    for s in requested.unwrap_or_default().split(' ') {
        if s.is_empty() || asked.contains(&s) {
            continue;
        }
        if !granted.contains(&s) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope exceeds the original grant",
            ));
        }
        asked.push(s);
    }
    Ok(if asked.is_empty() { granted } else { asked }.join(" "))
}

/// The grant type of a token request.
pub fn grant_type(form: &Params) -> Result<&str, OAuthError> {
    for k in [
        "grant_type",
        "code",
        "code_verifier",
        "redirect_uri",
        "refresh_token",
        "scope",
        "client_id",
    ] {
        if form.repeated(k) {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                format!("parameter {k} is repeated"),
            ));
        }
    }
    form.get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
