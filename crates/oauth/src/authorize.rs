//! The authorization endpoint: parsing a request into a validated value, and deciding whether
//! to log the user in, answer silently, or refuse.

use super::acr::Acr;
use super::client::{Client, GrantType};
use super::error::{ErrorCode, OAuthError};
use super::pkce::CodeChallenge;
use super::realm::AuthMethod;
use std::collections::BTreeMap;

/// Request parameters, each at most once (RFC 6749 §3.1). Empty values count as absent.
#[derive(Debug, Default, Clone)]
pub struct Params {
    map: BTreeMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    /// Collects query or form pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut p = Params::default();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            match p.map.entry(k) {
                std::collections::btree_map::Entry::Occupied(e) => p.repeated.push(e.key().clone()),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        p
    }
    /// A parameter.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
    /// Whether `k` was sent more than once.
    pub fn repeated(&self, k: &str) -> bool {
        self.repeated.iter().any(|r| r == k)
    }
    /// All pairs, for re-serialising a request.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `prompt` values coeur acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: never show a page.
    pub none: bool,
    /// `login`: always re-authenticate.
    pub login: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// Where to send the response (a registered URI).
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request (then the token request must repeat it).
    pub redirect_uri_given: bool,
    /// Granted scopes (requested ∩ allowed), request order.
    pub scope: Vec<String>,
    /// Opaque client state.
    pub state: Option<String>,
    /// Nonce for the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<CodeChallenge>,
    /// Prompt.
    pub prompt: Prompt,
    /// Maximum authentication age.
    pub max_age: Option<i64>,
    /// Minimum acr asked for.
    pub acr_min: Option<Acr>,
    /// Login hint (pre-fills the national identifier).
    pub login_hint: Option<String>,
    /// ID token hint, as sent (verified by the caller).
    pub id_token_hint: Option<String>,
    /// UI locales.
    pub ui_locales: Option<String>,
}

/// A refusal at the authorization endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthzError {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    Page(String),
    /// Send the error to the client's (validated) redirect URI.
    Redirect {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The client's state.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
}

/// The `client_id` of a request, or an error page.
pub fn client_id(p: &Params) -> Result<&str, AuthzError> {
    if p.repeated("client_id") {
        return Err(AuthzError::Page("client_id is repeated".into()));
    }
    p.get("client_id")
        .ok_or_else(|| AuthzError::Page("client_id is missing".into()))
}

/// A refusal sent back to the client's redirect URI: error code and description.
type Refusal = (ErrorCode, String);

/// Builds a [`Refusal`].
fn refuse(code: ErrorCode, description: &str) -> Refusal {
    (code, description.to_owned())
}

/// Validates a request for `client` (already looked up by `client_id`).
pub fn validate(p: &Params, client: &Client) -> Result<AuthorizationRequest, AuthzError> {
    let (redirect_uri, given) = redirect_uri(p, client)?;
    let state = if p.repeated("state") {
        None
    } else {
        p.get("state").map(str::to_owned)
    };
    let checked = check_redirectable(p, client).map_err(|(code, d)| AuthzError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: OAuthError::new(code, &d),
    })?;
    Ok(AuthorizationRequest {
        client_id: client.spec.client_id.clone(),
        redirect_uri,
        redirect_uri_given: given,
        scope: checked.scope,
        state,
        nonce: p.get("nonce").map(str::to_owned),
        code_challenge: checked.code_challenge,
        prompt: checked.prompt,
        max_age: checked.max_age,
        acr_min: p.get("acr_values").and_then(Acr::minimum_of),
        login_hint: p.get("login_hint").map(str::to_owned),
        id_token_hint: p.get("id_token_hint").map(str::to_owned),
        ui_locales: p.get("ui_locales").map(str::to_owned),
    })
}

/// The redirect URI to answer to, and whether the request named it; an error page when it
/// cannot be trusted.
fn redirect_uri(p: &Params, client: &Client) -> Result<(String, bool), AuthzError> {
    if p.repeated("redirect_uri") {
        return Err(AuthzError::Page("redirect_uri is repeated".into()));
    }
    let registered = &client.spec.redirect_uris;
    match p.get("redirect_uri") {
        Some(u) => {
            if !registered.iter().any(|r| redirect_uri_matches(r, u)) {
                return Err(AuthzError::Page(
                    "the redirect_uri is not registered for this client".into(),
                ));
            }
            Ok((u.to_owned(), true))
        }
        None if registered.len() == 1 => Ok((registered[0].clone(), false)),
        None => Err(AuthzError::Page("redirect_uri is missing".into())),
    }
}

/// Whether a requested redirect URI matches a registered one: exactly, or, for a registered
/// `http` URI on a loopback IP literal (`127.0.0.1`, `[::1]`), with any port (RFC 8252 §7.3:
/// native apps listen on an ephemeral port). Scheme, host, path and query still match exactly;
/// `localhost` is a name, not a loopback literal, and matches exactly only.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(requested)) {
        (Some(r), Some(q)) => r == q,
        _ => false,
    }
}

/// `(host, rest)` of `http://<loopback literal>[:port]<rest>`, the port dropped; `rest` is
/// empty or starts with `/` or `?`.
fn loopback_parts(uri: &str) -> Option<(&'static str, &str)> {
    for host in ["127.0.0.1", "[::1]"] {
        let Some(after) = uri
            .strip_prefix("http://")
            .and_then(|u| u.strip_prefix(host))
        else {
            continue;
        };
        let rest = match after.strip_prefix(':') {
            Some(p) => {
                let digits = p.bytes().take_while(u8::is_ascii_digit).count();
                p[..digits].parse::<u16>().ok()?;
                &p[digits..]
            }
            None => after,
        };
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
            return Some((host, rest));
        }
        return None;
    }
    None
}

/// The parts of a request checked once the redirect URI is trusted.
struct Checked {
    /// Granted scopes.
    scope: Vec<String>,
    /// PKCE challenge.
    code_challenge: Option<CodeChallenge>,
    /// Prompt.
    prompt: Prompt,
    /// Maximum authentication age.
    max_age: Option<i64>,
}

/// Checks, in order, everything whose refusal goes back to the redirect URI.
fn check_redirectable(p: &Params, client: &Client) -> Result<Checked, Refusal> {
    check_shape(p, client)?;
    let scope = granted_scope(p, client)?;
    let code_challenge = code_challenge(p, client)?;
    let prompt = prompt(p)?;
    let max_age = max_age(p)?;
    Ok(Checked {
        scope,
        code_challenge,
        prompt,
        max_age,
    })
}

/// Refuses repeated parameters, request objects, and unsupported response types or modes,
/// and clients not allowed the authorization code flow.
fn check_shape(p: &Params, client: &Client) -> Result<(), Refusal> {
    if let Some(k) = p.repeated.first() {
        return Err((
            ErrorCode::InvalidRequest,
            format!("parameter {k} is repeated"),
        ));
    }
    if p.get("request").is_some() {
        return Err(refuse(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.get("request_uri").is_some() {
        return Err(refuse(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match p.get("response_type") {
        None => {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                "response_type is missing",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    match p.get("response_mode") {
        None | Some("query") => {}
        Some(_) => {
            return Err(refuse(
                ErrorCode::InvalidRequest,
                "only response_mode=query is supported",
            ));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(refuse(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    Ok(())
}

/// The requested scopes the client is allowed, refusing when `openid` or every scope is not.
fn granted_scope(p: &Params, client: &Client) -> Result<Vec<String>, Refusal> {
    let requested = p.get("scope").unwrap_or_default();
    if requested.is_empty() {
        return Err(refuse(ErrorCode::InvalidScope, "scope is missing"));
    }
    let scope = client.filter_scopes(requested.split(' ').filter(|s| !s.is_empty()));
    if requested.split(' ').any(|s| s == "openid") && !scope.iter().any(|s| s == "openid") {
        return Err(refuse(
            ErrorCode::InvalidScope,
            "this client may not use the openid scope",
        ));
    }
    if scope.is_empty() {
        return Err(refuse(
            ErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this client",
        ));
    }
    Ok(scope)
}

/// The PKCE challenge, required for public clients.
fn code_challenge(p: &Params, client: &Client) -> Result<Option<CodeChallenge>, Refusal> {
    match p.get("code_challenge") {
        Some(c) => Ok(Some(
            CodeChallenge::parse(c, p.get("code_challenge_method"))
                .map_err(|e| refuse(ErrorCode::InvalidRequest, e))?,
        )),
        None if client.spec.public => Err(refuse(
            ErrorCode::InvalidRequest,
            "PKCE (code_challenge, S256) is required for public clients",
        )),
        None => Ok(None),
    }
}

/// The `prompt` values; `none` stands alone.
fn prompt(p: &Params) -> Result<Prompt, Refusal> {
    let mut prompt = Prompt::default();
    for v in p
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        match v {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" | "select_account" => {}
            _ => return Err(refuse(ErrorCode::InvalidRequest, "unknown prompt value")),
        }
    }
    if prompt.none
        && p.get("prompt")
            .is_some_and(|v| v.split(' ').filter(|s| !s.is_empty()).count() > 1)
    {
        return Err(refuse(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// The `max_age`, a non-negative integer when present.
fn max_age(p: &Params) -> Result<Option<i64>, Refusal> {
    match p.get("max_age") {
        None => Ok(None),
        Some(v) => Ok(Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(
            || {
                refuse(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                )
            },
        )?)),
    }
}

/// What an existing SSO session says about the user.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// Public session id (`sid`).
    pub sid: String,
    /// Who.
    pub national_id: String,
    /// When they authenticated.
    pub auth_time: i64,
    /// How.
    pub method: AuthMethod,
    /// At which level.
    pub acr: Acr,
}

/// What to do with a validated request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Issue a code for the existing session.
    UseSession,
    /// Show the wallet page.
    Login,
    /// Refuse (`prompt=none`).
    Refuse(OAuthError),
}

/// Decides, given the session (if any) and whether the `id_token_hint` (if any) names the
/// session's user.
pub fn decide(
    req: &AuthorizationRequest,
    session: Option<&SessionView>,
    hint_matches: Option<bool>,
    now: i64,
) -> Decision {
    let usable = session.filter(|s| {
        !req.prompt.login
            && req.max_age.is_none_or(|m| m > 0 && now - s.auth_time <= m)
            && req.acr_min.is_none_or(|a| s.acr >= a)
            && hint_matches != Some(false)
    });
    match (usable, req.prompt.none) {
        (Some(_), _) => Decision::UseSession,
        (None, false) => Decision::Login,
        (None, true) => Decision::Refuse(OAuthError::new(
            ErrorCode::LoginRequired,
            "the user must log in",
        )),
    }
}

/// Whether a login with `method` meets the request's minimum level.
pub fn method_meets(req: &AuthorizationRequest, method_acr: Acr) -> bool {
    req.acr_min.is_none_or(|a| method_acr >= a)
}

/// When the client asked for a level (`acr_values`) some of the methods offered cannot reach:
/// the error the user may send back to the client instead of logging in
/// (`unmet_authentication_requirements`), saying whether any method offered (whose levels are
/// `offered`) reaches it. `None` when the request asks for no level, or every method offered
/// reaches it: then there is nothing the user cannot meet.
pub fn unmet_requirements(req: &AuthorizationRequest, offered: &[Acr]) -> Option<OAuthError> {
    let wanted = req.acr_min?;
    if offered.iter().all(|a| *a >= wanted) {
        return None;
    }
    let description = if offered.iter().any(|a| *a >= wanted) {
        format!("the user has no login method reaching the requested level ({wanted})")
    } else {
        format!("no login method offered reaches the requested level ({wanted})")
    };
    Some(OAuthError::new(
        ErrorCode::UnmetAuthenticationRequirements,
        description,
    ))
}

/// Builds the redirect to `redirect_uri` with `params` added to its query (the registered
/// URI's own query is kept, RFC 6749 §3.1.2).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        // Nothing to add: the registered URI exactly (no dangling `?`).
        Ok(_) if params.is_empty() => redirect_uri.to_owned(),
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        // Registered URIs are validated at registration; this is unreachable in practice.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// The error redirect for `e`, with `iss` (RFC 9207).
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    e: &OAuthError,
    issuer: &str,
) -> String {
    let mut params = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(redirect_uri, &params)
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
