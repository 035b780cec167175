//! e-CPS: professionals' devices, their enrolment (an activation code shown after a card
//! login on the card listener), the device API (pending requests, signed decisions), and what
//! follows a decision; the web app (`app`) and its live feed (`events`). The wallet's `method=ecps` is in `login::ecps`.
//!
//! A decision is recorded only through [`coeur_oauth::ecps::verify`]'s `DecisionVerified`:
//! the device's signature over the request's challenge, checked before the request expires.

pub(crate) mod api;
pub(crate) mod app;
pub(crate) mod contact;
pub(crate) mod enrol;
pub(crate) mod events;
pub(crate) mod limiter;

use crate::state::AppState;
use crate::store::ApprovalRow;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_oauth::ecps::{Origin, Status};
use coeur_oauth::realm::Realm;
use coeur_web::listener::PeerAddr;
use limiter::Rule;
use serde_json::json;

/// What the device API and enrolment answer when they refuse: a JSON error, nothing written.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<i64>,
}

impl ApiError {
    /// A refusal.
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    /// Too many attempts: try again in `seconds`.
    pub(crate) fn rate_limited(seconds: i64) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                format!("too many attempts: try again in {seconds} s"),
            )
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %e, "e-CPS API");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        res
    }
}

/// The source address of a request, for rate limits: the connection's peer, or behind a
/// trusted reverse proxy the client it forwarded for (`unknown` when the listener gave none).
pub(crate) fn source(st: &AppState, peer: Option<&PeerAddr>, headers: &HeaderMap) -> String {
    peer.map_or_else(
        || "unknown".to_owned(),
        |p| st.proxies.client_address(p.0, headers).to_string(),
    )
}

/// What a rate-limited attempt starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Attempt {
    /// An e-CPS login (the wallet form).
    Login,
    /// An enrolment (an activation code shown, or a device enrolling with one).
    Enrolment,
}

/// Counts an attempt from `address` (and for `national_id`, if given) against the e-CPS rate
/// limits; the seconds to wait when over.
pub(crate) fn limit(
    st: &AppState,
    realm: &Realm,
    attempt: Attempt,
    address: &str,
    national_id: Option<&str>,
) -> Result<(), i64> {
    let now = st.now();
    let kind = match attempt {
        Attempt::Login => "login",
        Attempt::Enrolment => "enrol",
    };
    let l = &realm.limits;
    st.ecps_limits.hit(
        &format!("{}:{kind}:addr:{address}", realm.name),
        Rule::per_minute(l.ecps_per_address),
        now,
    )?;
    if let Some(n) = national_id {
        st.ecps_limits.hit(
            &format!("{}:{kind}:nid:{n}", realm.name),
            Rule::per_minute(l.ecps_per_national_id),
            now,
        )?;
    }
    Ok(())
}

/// What follows a recorded decision on `row` (as stored after it). A wallet login's browser
/// sees it when it next checks; a CIBA request's client is told here.
pub(crate) async fn decided(st: &AppState, row: &ApprovalRow) {
    tracing::info!(realm = %row.realm, request = %row.id, origin = row.origin.as_str(), approved = row.status == Status::Approved, "e-CPS decision");
    if row.origin == Origin::Ciba {
        crate::ciba::decided(st, row).await;
    }
}
