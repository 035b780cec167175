//! What can go wrong on the relying party's side.

use openidconnect::core::CoreErrorResponseType;
use openidconnect::{
    ClaimsVerificationError, DiscoveryError, HttpClientError, RequestTokenError,
    StandardErrorResponse,
};

/// The transport error of the HTTP client.
pub(crate) type HttpError = HttpClientError<reqwest::Error>;

/// A relying-party failure.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    /// A configured URL does not parse.
    #[error("invalid {what} URL: {source}")]
    Url {
        /// Which URL (issuer, redirect).
        what: &'static str,
        /// The parse error.
        #[source]
        source: url::ParseError,
    },
    /// The HTTP client could not be built (e.g. an unreadable root certificate).
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// Discovery failed: the metadata or the keys could not be fetched, parsed or trusted.
    #[error("discovery: {0}")]
    Discovery(#[source] DiscoveryError<HttpError>),
    /// The provider's metadata names no such endpoint.
    #[error("the provider publishes no {0} endpoint")]
    MissingEndpoint(&'static str),
    /// An extra authorization parameter would override one the flow sets itself.
    #[error("the authorization parameter {0} is set by the flow itself")]
    ReservedParameter(String),
    /// The callback's `iss` parameter names another issuer (RFC 9207): a mix-up attack, or a
    /// callback meant for another provider.
    #[error("the iss parameter does not name the expected issuer")]
    CallbackIssuer,
    /// The token request failed in transport or its answer did not parse.
    #[error("token request: {0}")]
    TokenRequest(#[source] RequestTokenError<HttpError, TokenErrorResponse>),
    /// The token endpoint refused the code with an OAuth error.
    #[error("the token endpoint answered {error}: {description}")]
    TokenRefused {
        /// The `error` code.
        error: String,
        /// The `error_description`, empty when absent.
        description: String,
    },
    /// The token response carries no ID token (was `openid` granted?).
    #[error("the token response has no ID token")]
    NoIdToken,
    /// The ID token's nonce is not the one sent with the authorization request.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// The ID token does not verify: signature, issuer, audience, expiry or `at_hash`.
    #[error("the ID token does not verify: {0}")]
    IdToken(String),
    /// The userinfo request failed or its answer is not a JSON object about the user.
    #[error("userinfo: {0}")]
    Userinfo(String),
    /// A response body exceeds the size the relying party reads.
    #[error("the response from {0} is too large")]
    TooLarge(String),
}

/// The token endpoint's OAuth error response.
pub(crate) type TokenErrorResponse = StandardErrorResponse<CoreErrorResponseType>;

impl RpError {
    /// The message followed by its causes, `: `-separated, for logs and error pages.
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let s = c.to_string();
            if !out.ends_with(&s) {
                out.push_str(": ");
                out.push_str(&s);
            }
            cause = c.source();
        }
        out
    }
}

impl From<ClaimsVerificationError> for RpError {
    fn from(e: ClaimsVerificationError) -> Self {
        match e {
            ClaimsVerificationError::InvalidNonce(_) => RpError::NonceMismatch,
            other => RpError::IdToken(other.to_string()),
        }
    }
}

impl From<RequestTokenError<HttpError, TokenErrorResponse>> for RpError {
    fn from(e: RequestTokenError<HttpError, TokenErrorResponse>) -> Self {
        match e {
            RequestTokenError::ServerResponse(r) => RpError::TokenRefused {
                error: r.error().as_ref().to_owned(),
                description: r.error_description().cloned().unwrap_or_default(),
            },
            other => RpError::TokenRequest(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_causes_once() {
        let e = RpError::Url {
            what: "issuer",
            source: url::ParseError::RelativeUrlWithoutBase,
        };
        assert_eq!(
            e.report(),
            "invalid issuer URL: relative URL without a base"
        );
    }
}
