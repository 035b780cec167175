//! Client-Initiated Backchannel Authentication (OpenID Connect CIBA Core 1.0), as Pro Santé
//! Connect runs it for software with no browser (thick clients, mobile apps, LPS).
//!
//! A confidential client asks, at `…/protocol/openid-connect/ext/ciba/auth`, for a
//! professional (named by `login_hint`, a `login_hint_token` or an `id_token_hint`) to approve
//! a login on a PSC `channel`: `MOBILE` (their e-CPS devices) or `CARD` (their card, presented
//! on coeur's approval page). It gets an `auth_req_id` and polls the token endpoint with the
//! grant [`GRANT_TYPE`], or is told by a ping (`client_notification_token`) to come and get
//! its tokens. `push` is not offered.
//!
//! Pure: the request's checks ([`validate`], [`signed_request`], [`login_hint_token`]) and
//! what a poll gets ([`poll`]); the provider stores, notifies and issues.

use crate::acr::Acr;
use crate::authorize::Params;
use crate::client::{Client, ClientSpec, GrantType, validate_backchannel_logout_uri};
use crate::ecps::{Channel, Status};
use crate::error::{ErrorCode, OAuthError};
use crate::jose::SigAlg;
use crate::realm::{AuthMethod, Realm};
use crate::token::{CLOCK_SKEW, verify_client_jwt};
use serde::{Deserialize, Serialize};

/// The token endpoint's grant type for CIBA.
pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// Seconds a request lives unless the client asks otherwise (`requested_expiry`), as PSC.
pub const DEFAULT_EXPIRY: i64 = crate::ecps::REQUEST_TTL;
/// The shortest `requested_expiry` accepted.
pub const MIN_EXPIRY: i64 = 10;
/// The longest `requested_expiry` accepted.
pub const MAX_EXPIRY: i64 = 600;
/// The polling interval given to clients, in seconds (PSC answers 1).
pub const INTERVAL: i64 = 1;
/// What a `slow_down` adds to the interval (CIBA Core §11, as RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: i64 = 5;
/// The longest binding message, in characters (it is shown on a phone and beside the LPS).
pub const MAX_BINDING_MESSAGE: usize = 64;
/// The longest `client_notification_token` (CIBA Core §7.1 says 1024 is enough).
pub const MAX_NOTIFICATION_TOKEN: usize = 1024;
/// The longest lifetime of a signed request or login hint token.
pub const MAX_JWT_LIFETIME: i64 = 3600;

/// How a client gets its tokens (CIBA Core §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// The client polls the token endpoint.
    #[default]
    Poll,
    /// coeur POSTs to the client's notification endpoint once decided; the client then asks
    /// the token endpoint.
    Ping,
}

impl DeliveryMode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Poll => "poll",
            DeliveryMode::Ping => "ping",
        }
    }
}

/// A client's CIBA registration (CIBA Core §4: `backchannel_token_delivery_mode`,
/// `backchannel_client_notification_endpoint`,
/// `backchannel_authentication_request_signing_alg`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CibaRegistration {
    /// Poll (default) or ping.
    #[serde(default)]
    pub token_delivery_mode: DeliveryMode,
    /// Ping: where coeur POSTs `{"auth_req_id": …}` with the client's notification token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_notification_endpoint: Option<String>,
    /// When set, the client's requests must be signed (`request`) with this algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_request_signing_alg: Option<SigAlg>,
}

/// The client's delivery mode (poll unless it registered ping).
pub fn delivery_mode(spec: &ClientSpec) -> DeliveryMode {
    spec.ciba
        .as_ref()
        .map_or(DeliveryMode::Poll, |c| c.token_delivery_mode)
}

/// Checks a client's CIBA registration.
pub fn validate_registration(spec: &ClientSpec) -> Result<(), &'static str> {
    let grant = spec.grant_types.contains(&GrantType::Ciba);
    if grant && spec.public {
        return Err("a public client cannot use CIBA (it cannot authenticate its requests)");
    }
    let Some(c) = &spec.ciba else {
        return Ok(());
    };
    if !grant {
        return Err("CIBA settings need the urn:openid:params:grant-type:ciba grant type");
    }
    match (c.token_delivery_mode, &c.client_notification_endpoint) {
        (DeliveryMode::Ping, None) => {
            return Err("ping delivery needs client_notification_endpoint");
        }
        (DeliveryMode::Poll, Some(_)) => {
            return Err("client_notification_endpoint is for ping delivery only");
        }
        (DeliveryMode::Ping, Some(u)) => validate_backchannel_logout_uri(u)
            .map_err(|_| "client_notification_endpoint must be https (or http on loopback)")?,
        (DeliveryMode::Poll, None) => {}
    }
    if let Some(alg) = c.authentication_request_signing_alg {
        if alg == SigAlg::HS256 {
            return Err("signed requests use the client's keys: HS256 is not accepted");
        }
        if spec.jwks.is_none() {
            return Err("authentication_request_signing_alg needs the client's jwks");
        }
    }
    Ok(())
}

/// Who the request names: exactly one of the three hints (CIBA Core §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// `login_hint`: the national identifier.
    LoginHint(String),
    /// `login_hint_token`: a JWT of the client's naming the professional ([`login_hint_token`]).
    LoginHintToken(String),
    /// `id_token_hint`: an ID token coeur issued to this client (the provider verifies it).
    IdTokenHint(String),
}

/// The one hint of `p`.
pub fn hint(p: &Params) -> Result<Hint, OAuthError> {
    let given: Vec<Hint> = [
        p.get("login_hint").map(|h| Hint::LoginHint(h.to_owned())),
        p.get("login_hint_token")
            .map(|h| Hint::LoginHintToken(h.to_owned())),
        p.get("id_token_hint")
            .map(|h| Hint::IdTokenHint(h.to_owned())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match <[Hint; 1]>::try_from(given) {
        Ok([h]) => Ok(h),
        Err(v) if v.is_empty() => Err(OAuthError::invalid_request(
            "one of login_hint, login_hint_token or id_token_hint is required",
        )),
        Err(_) => Err(OAuthError::invalid_request(
            "only one of login_hint, login_hint_token or id_token_hint may be given",
        )),
    }
}

/// The claims of a client-signed JWT this module reads (a signed request's are kept whole).
#[derive(Debug, Deserialize)]
struct HintClaims {
    iss: Option<String>,
    exp: Option<i64>,
    sub_id: Option<SubjectId>,
    login_hint: Option<String>,
}

/// A subject identifier (RFC 9493): coeur reads the `opaque` format, whose `id` is the
/// national identifier.
#[derive(Debug, Deserialize)]
struct SubjectId {
    format: String,
    id: Option<String>,
}

/// The national identifier a `login_hint_token` names. coeur's format: a JWT signed with one
/// of the client's registered keys, `iss` the client (if present), `exp` required, naming the
/// professional with a subject identifier `sub_id: {"format": "opaque", "id": <national id>}`
/// (RFC 9493) or a `login_hint` claim.
pub fn login_hint_token(jwt: &str, client: &Client, now: i64) -> Result<String, OAuthError> {
    let bad = |why: &str| OAuthError::invalid_request(format!("login_hint_token: {why}"));
    let claims: HintClaims = verify_client_jwt(jwt, client).map_err(bad)?;
    if claims.iss.as_deref().is_some_and(|i| i != client.id()) {
        return Err(bad("iss must be the client id"));
    }
    let exp = claims.exp.ok_or_else(|| bad("exp is missing"))?;
    if exp.saturating_add(CLOCK_SKEW) < now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredLoginHintToken,
            "the login_hint_token has expired",
        ));
    }
    if exp.saturating_sub(now) > MAX_JWT_LIFETIME {
        return Err(bad("exp is too far in the future"));
    }
    match (claims.sub_id, claims.login_hint) {
        (
            Some(SubjectId {
                format,
                id: Some(id),
            }),
            _,
        ) if format == "opaque" => Ok(id),
        (Some(_), _) => Err(bad("sub_id must be of format opaque with an id")),
        (None, Some(h)) => Ok(h),
        (None, None) => Err(bad("it names nobody (sub_id or login_hint)")),
    }
}

/// A signed authentication request (`request`, CIBA Core §7.1.1), its signature and claims
/// checked; its `jti` is for the caller to check is new.
#[derive(Debug)]
pub struct SignedRequest {
    /// The request's parameters, from its claims.
    pub params: Params,
    /// Its `jti`.
    pub jti: String,
    /// Until when to remember the `jti`.
    pub remember_until: i64,
}

/// Checks a signed request from `client` for this `issuer` (or the endpoint `endpoint`).
pub fn signed_request(
    jwt: &str,
    client: &Client,
    audiences: &[&str],
    now: i64,
) -> Result<SignedRequest, OAuthError> {
    let bad = |why: &str| OAuthError::invalid_request(format!("request object: {why}"));
    if client.jwks.is_none() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "signed requests need the client's registered keys",
        ));
    }
    if let Some(alg) = client
        .spec
        .ciba
        .as_ref()
        .and_then(|c| c.authentication_request_signing_alg)
    {
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| bad("malformed"))?;
        if header.alg != alg.to_jwt() {
            return Err(bad("not signed with the registered algorithm"));
        }
    }
    let claims: serde_json::Map<String, serde_json::Value> =
        verify_client_jwt(jwt, client).map_err(bad)?;
    let text = |k: &str| claims.get(k).and_then(|v| v.as_str());
    let number = |k: &str| claims.get(k).and_then(serde_json::Value::as_i64);
    if text("iss") != Some(client.id()) {
        return Err(bad("iss must be the client id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => audiences.contains(&a.as_str()),
        Some(serde_json::Value::Array(v)) => v
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.contains(&a))),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("aud must be the issuer"));
    }
    let (Some(exp), Some(iat), Some(nbf)) = (number("exp"), number("iat"), number("nbf")) else {
        return Err(bad("exp, iat and nbf are required"));
    };
    if exp.saturating_add(CLOCK_SKEW) < now {
        return Err(bad("expired"));
    }
    let latest = now.saturating_add(CLOCK_SKEW);
    if nbf > latest || iat > latest {
        return Err(bad("not yet valid"));
    }
    if exp.saturating_sub(nbf) > MAX_JWT_LIFETIME {
        return Err(bad("it may live 60 minutes at most (exp - nbf)"));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| bad("jti is required"))?
        .to_owned();
    const ENVELOPE: [&str; 6] = ["iss", "aud", "exp", "iat", "nbf", "jti"];
    let pairs = claims.iter().filter_map(|(k, v)| {
        if ENVELOPE.contains(&k.as_str()) {
            return None;
        }
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some((k.clone(), v))
    });
    let params = Params::from_pairs(pairs);
    if params.get("request").is_some() {
        return Err(bad("it may not contain another request"));
    }
    Ok(SignedRequest {
        params,
        jti,
        remember_until: exp.saturating_add(CLOCK_SKEW),
    })
}

/// An authentication request, checked (the professional it names is resolved apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaRequest {
    /// The scopes granted (those asked that the client may have; PSC's literal `openid all`
    /// gives `openid`).
    pub scope: Vec<String>,
    /// How the professional is asked.
    pub channel: Channel,
    /// The login method that channel is.
    pub method: AuthMethod,
    /// The level it gives.
    pub acr: Acr,
    /// The minimum level asked, if any.
    pub acr_min: Option<Acr>,
    /// Shown on the device (or approval page) and by the client.
    pub binding_message: Option<String>,
    /// Seconds until the request expires.
    pub expires_in: i64,
    /// How the client gets its tokens.
    pub delivery: DeliveryMode,
    /// Ping: the bearer token coeur presents to the client's notification endpoint.
    pub client_notification_token: Option<String>,
}

/// Checks an authentication request's parameters `p` (signed ones: already from
/// [`signed_request`]) from `client` in `realm`. `signed` says whether they came signed.
pub fn validate(
    p: &Params,
    client: &Client,
    realm: &Realm,
    signed: bool,
) -> Result<CibaRequest, OAuthError> {
    if client.spec.public || !client.allows_grant(GrantType::Ciba) {
        return Err(OAuthError::unauthorized_client(
            "this client is not registered for CIBA",
        ));
    }
    let must_sign = client
        .spec
        .ciba
        .as_ref()
        .is_some_and(|c| c.authentication_request_signing_alg.is_some());
    if must_sign && !signed {
        return Err(OAuthError::invalid_request(
            "this client registered signed requests: send them as request",
        ));
    }
    if p.get("request_uri").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    for k in [
        "scope",
        "login_hint",
        "login_hint_token",
        "id_token_hint",
        "acr_values",
        "binding_message",
        "requested_expiry",
        "client_notification_token",
        "channel",
    ] {
        if p.repeated(k) {
            return Err(OAuthError::invalid_request(format!("{k} is repeated")));
        }
    }
    let asked = p.get("scope").unwrap_or_default();
    if !asked.split(' ').any(|s| s == "openid") {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope must include openid",
        ));
    }
    let scope = client.filter_scopes(asked.split(' ').filter(|s| !s.is_empty()));
    if !scope.iter().any(|s| s == "openid") {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "this client may not obtain openid",
        ));
    }
    let channel = match p.get("channel") {
        None => Channel::Mobile,
        Some(c) => Channel::parse(c)
            .ok_or_else(|| OAuthError::invalid_request("channel must be MOBILE or CARD"))?,
    };
    let method = match channel {
        Channel::Mobile => AuthMethod::Ecps,
        Channel::Card => AuthMethod::Card,
    };
    if !realm.auth_methods.contains(&method) {
        return Err(OAuthError::invalid_request(format!(
            "channel {} is not offered in this realm",
            channel.as_str()
        )));
    }
    let acr = realm.acr.of(method);
    let acr_min = p.get("acr_values").and_then(Acr::minimum_of);
    if acr_min.is_some_and(|m| acr < m) {
        return Err(OAuthError::invalid_request(format!(
            "acr_values asks for more than channel {} gives ({acr})",
            channel.as_str()
        )));
    }
    let binding_message = p.get("binding_message").map(str::to_owned);
    if let Some(m) = &binding_message
        && (m.chars().count() > MAX_BINDING_MESSAGE || m.chars().any(char::is_control))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidBindingMessage,
            format!("binding_message must be 1 to {MAX_BINDING_MESSAGE} printable characters"),
        ));
    }
    let expires_in = match p.get("requested_expiry") {
        None => DEFAULT_EXPIRY,
        Some(e) => e
            .parse::<i64>()
            .ok()
            .filter(|e| (MIN_EXPIRY..=MAX_EXPIRY).contains(e))
            .ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "requested_expiry must be {MIN_EXPIRY} to {MAX_EXPIRY} seconds"
                ))
            })?,
    };
    let delivery = delivery_mode(&client.spec);
    let client_notification_token = match delivery {
        DeliveryMode::Poll => None,
        DeliveryMode::Ping => {
            let t = p.get("client_notification_token").ok_or_else(|| {
                OAuthError::invalid_request("client_notification_token is required (ping)")
            })?;
            if t.len() > MAX_NOTIFICATION_TOKEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(OAuthError::invalid_request(
                    "client_notification_token must be at most 1024 visible ASCII characters",
                ));
            }
            Some(t.to_owned())
        }
    };
    Ok(CibaRequest {
        scope,
        channel,
        method,
        acr,
        acr_min,
        binding_message,
        expires_in,
        delivery,
        client_notification_token,
    })
}

/// A stored request, as a poll sees it.
#[derive(Debug, Clone, Copy)]
pub struct PollView<'a> {
    /// The client it was issued to.
    pub client_id: &'a str,
    /// Where it stands.
    pub status: Status,
    /// When it expires.
    pub expires_at: i64,
    /// The previous poll, if any.
    pub last_polled_at: Option<i64>,
    /// The interval the client must keep between polls.
    pub interval: i64,
}

/// An approved request that may be turned into tokens now (once: the store consumes it).
#[derive(Debug)]
pub struct CibaRedeemable(());

/// What a poll of the token endpoint gets.
#[derive(Debug)]
pub enum PollDecision {
    /// Approved: issue the tokens (if the store consumes the request first).
    Redeem(CibaRedeemable),
    /// Still pending: `authorization_pending`; the poll is recorded.
    Pending,
    /// Polled too fast: `slow_down`; the poll is recorded with the interval raised to this.
    SlowDown(i64),
    /// A refusal; nothing is recorded.
    Refuse(OAuthError),
}

impl PollDecision {
    /// The error to answer, unless the tokens are issued.
    pub fn error(&self) -> Option<OAuthError> {
        match self {
            PollDecision::Redeem(_) => None,
            PollDecision::Pending => Some(OAuthError::new(
                ErrorCode::AuthorizationPending,
                "the professional has not decided yet",
            )),
            PollDecision::SlowDown(i) => Some(OAuthError::new(
                ErrorCode::SlowDown,
                format!("polled too fast: wait {i} s between polls"),
            )),
            PollDecision::Refuse(e) => Some(e.clone()),
        }
    }
}

/// What this instance remembers of a request's last poll, before reading the store.
#[derive(Debug, Clone, Copy)]
pub struct RecentPoll<'a> {
    /// The client the request was issued to.
    pub client_id: &'a str,
    /// When it expires.
    pub expires_at: i64,
    /// When it was last polled.
    pub polled_at: i64,
    /// The interval then required.
    pub interval: i64,
}

/// A poll by `client_id` at `now` that comes within the interval of the one remembered is
/// answered `slow_down` without reading the request (the cheap answer to a client polling too
/// fast, whatever was decided meanwhile: it hears of it at its next poll in time). `None`:
/// the request must be read and [`poll`] decides (another client, expired, or in time).
pub fn early_poll(recent: &RecentPoll<'_>, client_id: &str, now: i64) -> Option<PollDecision> {
    (recent.client_id == client_id
        && now < recent.expires_at
        && now.saturating_sub(recent.polled_at) < recent.interval)
        .then(|| PollDecision::SlowDown(recent.interval.saturating_add(SLOW_DOWN_STEP)))
}

/// What a poll by `client_id` of request `r` at `now` gets.
pub fn poll(r: &PollView<'_>, client_id: &str, now: i64) -> PollDecision {
    let refuse = PollDecision::Refuse;
    if r.client_id != client_id {
        return refuse(OAuthError::invalid_grant(
            "this auth_req_id was issued to another client",
        ));
    }
    match r.status {
        Status::Consumed => refuse(OAuthError::invalid_grant(
            "this auth_req_id was already used",
        )),
        Status::Denied => refuse(OAuthError::new(
            ErrorCode::AccessDenied,
            "the professional denied the request",
        )),
        _ if now >= r.expires_at => refuse(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the auth_req_id has expired",
        )),
        Status::Approved => PollDecision::Redeem(CibaRedeemable(())),
        Status::Pending => match r.last_polled_at {
            Some(last) if now.saturating_sub(last) < r.interval => {
                PollDecision::SlowDown(r.interval.saturating_add(SLOW_DOWN_STEP))
            }
            _ => PollDecision::Pending,
        },
    }
}

#[cfg(test)]
#[path = "ciba_tests.rs"]
mod tests;
