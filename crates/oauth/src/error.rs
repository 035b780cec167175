//! OAuth 2.0 / OpenID Connect error codes (RFC 6749 §4.1.2.1, §5.2; OIDC Core §3.1.2.6;
//! RFC 6750 §3.1; RFC 7009; OIDC Core errata set 2 for `unmet_authentication_requirements`).

use serde::Serialize;
use std::fmt;

/// An error code defined by RFC 6749, OpenID Connect Core or RFC 6750.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The grant (code, refresh token) is invalid, expired, revoked or not bound to the client.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope is invalid.
    InvalidScope,
    /// The user or the server refused.
    AccessDenied,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// An unexpected server condition.
    ServerError,
    /// `prompt=none` but the user must log in.
    LoginRequired,
    /// `prompt=none` but user interaction is needed.
    InteractionRequired,
    /// The `request` parameter is not supported.
    RequestNotSupported,
    /// The `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// The access token is invalid (RFC 6750).
    InvalidToken,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// The authentication the client requires (`acr_values`) cannot be met (OpenID Connect
    /// Core 1.0 errata set 2, §3.1.2.6).
    UnmetAuthenticationRequirements,
    /// CIBA: the professional has not decided yet (CIBA Core §11).
    AuthorizationPending,
    /// CIBA: polled faster than the interval; wait 5 s more between polls.
    SlowDown,
    /// CIBA: the `auth_req_id` has expired.
    ExpiredToken,
    /// CIBA: the binding message is too long or not printable.
    InvalidBindingMessage,
    /// CIBA: the `login_hint_token` has expired.
    ExpiredLoginHintToken,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidBindingMessage => "invalid_binding_message",
            ErrorCode::ExpiredLoginHintToken => "expired_login_hint_token",
        }
    }
}

/// An OAuth error with a human-readable description.
///
/// The description never contains CR, LF, TAB, `"` or `\`, and stays within the
/// `error_description` character set of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: ErrorCode,
    /// The description.
    pub description: String,
}

impl OAuthError {
    /// Makes an error; the description is sanitised.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let description = description
            .into()
            .chars()
            .map(|c| match c {
                '\u{20}'..='\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}' => c,
                _ => ' ',
            })
            .collect();
        Self { code, description }
    }

    /// `invalid_request`.
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    /// `invalid_client`.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    /// `invalid_grant`.
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    /// `unauthorized_client`.
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    /// `server_error`.
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "internal error")
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_sanitised() {
        let e = OAuthError::invalid_request("bad\r\nvalue\t\"x\\é");
        assert_eq!(e.description, "bad  value  x  ");
    }
}
