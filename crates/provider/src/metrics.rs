//! What the provider counts for operators (`coeur_web::metrics` renders it): logins and token
//! requests. Labels are bounded: realm names come from the realm files, methods, grant types
//! and outcomes from closed lists (an OAuth error's code, never its description).

use crate::error::ProviderError;
use axum::response::Response;
use coeur_oauth::realm::AuthMethod;

/// A login that reached the end of an authentication by `method`: `success`, `refused`,
/// `expired`, `rate_limited` or `error`.
pub(crate) fn login(realm: &str, method: AuthMethod, outcome: &'static str) {
    metrics::counter!(
        "coeur_logins_total",
        "realm" => realm.to_owned(),
        "method" => method.as_str(),
        "outcome" => outcome,
    )
    .increment(1);
}

/// A token endpoint request of `grant` (`unsupported` if none known): `issued`, or the code of
/// the OAuth error answered (`error` for anything else).
pub(crate) fn token_request(
    realm: &str,
    grant: &'static str,
    answer: &Result<Response, ProviderError>,
) {
    let outcome = match answer {
        Ok(_) => "issued",
        Err(ProviderError::OAuth { error, .. } | ProviderError::Bearer(error)) => {
            error.code.as_str()
        }
        Err(_) => "error",
    };
    metrics::counter!(
        "coeur_token_requests_total",
        "realm" => realm.to_owned(),
        "grant_type" => grant,
        "outcome" => outcome,
    )
    .increment(1);
}
