//! Prometheus metrics: the process's one recorder (the `metrics` facade, rendered by
//! `metrics-exporter-prometheus`), and the HTTP figures every listener records.
//!
//! Domain crates count what operators watch through the facade (`metrics::counter!`): logins
//! by realm, method and outcome, token grants, CA issuances, revocations, OCSP answers. Every
//! label value is bounded: realm, client and CA names come from configuration, methods and
//! outcomes from closed lists, HTTP routes are the router's templates (`/auth/realms/{realm}/…`),
//! never a raw path. The admin listener renders them at `/metrics`; the public listeners never
//! do.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Latency buckets (seconds) of the request histograms: from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The name of the request-duration histogram.
pub const HTTP_DURATION: &str = "coeur_http_request_duration_seconds";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls do nothing). Without it the facade's
/// calls cost nothing and record nothing.
pub fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => {
                describe();
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics shows the LDAP figures only");
                None
            }
        }
    });
}

/// The recorded figures in Prometheus' text format (empty without [`install`]).
pub fn render() -> String {
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(|h| {
            // Histograms are summarised on render; idle ones need their upkeep too.
            h.run_upkeep();
            h.render()
        })
        .unwrap_or_default()
}

/// The help lines of the metrics coeur records.
fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        "coeur_http_requests_total",
        "HTTP requests answered, by route template, method and status class."
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request (headers), by route template."
    );
    describe_counter!(
        "coeur_logins_total",
        "Logins that reached the end of an authentication, by realm, method and outcome."
    );
    describe_counter!(
        "coeur_token_requests_total",
        "Token endpoint requests, by realm, grant type and outcome (issued or the OAuth error)."
    );
    describe_counter!(
        "coeur_ca_certificates_issued_total",
        "Certificates issued and committed, by CA and profile."
    );
    describe_counter!(
        "coeur_ca_revocations_total",
        "Certificates revoked, by CA and reason."
    );
    describe_counter!(
        "coeur_ocsp_responses_total",
        "OCSP answers, by outcome (successful, or the OCSP error status)."
    );
}

/// Records each request's route, method, status class and duration. A request no route
/// matched counts under the route `unmatched`.
pub async fn record_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let start = Instant::now();
    let res = next.run(req).await;
    let status = status_class(res.status().as_u16());
    metrics::counter!("coeur_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route).record(start.elapsed().as_secs_f64());
    res
}

/// The method as a label: the common ones by name, any other as `other` (bounded).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `2xx`, `3xx`, `4xx`, `5xx` (anything else `other`).
fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(101), "other");
        let odd = axum::http::Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
    }
}
