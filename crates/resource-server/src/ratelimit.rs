//! Per-client rate limits of the FHIR APIs (the directory's, the offer's): a token bucket
//! per caller, in memory, the time given by the caller (seconds): no clock of its own. A
//! caller over its limit gets [`Throttled`], which sets `Retry-After` on the service's own
//! error body (an OperationOutcome).

use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Mutex;

/// A limit: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Bucket size.
    pub burst: u32,
    /// Requests regained per second.
    pub per_second: u32,
}

impl RateLimit {
    /// The limit the services apply unless told otherwise: 100 at once, 20 a second.
    pub const DEFAULT: RateLimit = RateLimit {
        burst: 100,
        per_second: 20,
    };
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `Retry-After` is capped at a day (a limit of 0 a second never refills).
const MAX_RETRY_AFTER: u64 = 86_400;

/// A caller over its limit: the seconds until it may ask again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    retry_after: u64,
}

impl Throttled {
    /// Seconds until one request is available again (at most a day).
    pub fn retry_after(self) -> u64 {
        self.retry_after.min(MAX_RETRY_AFTER)
    }

    /// `response` (the service's `429` error body) with its `Retry-After`.
    pub fn answer(self, mut response: Response) -> Response {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after()));
        response
    }
}

/// Buckets kept at most; past this the full ones are dropped (a full bucket is the state of
/// an unknown caller anyway).
const MAX_BUCKETS: usize = 100_000;

/// The buckets of every caller.
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl Limiter {
    /// Limiter applying `limit` to each caller.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `caller`'s bucket at `now`; when empty, [`Throttled`] with the
    /// seconds until one is available again.
    pub fn check(&self, caller: &str, now: i64) -> Result<(), Throttled> {
        let burst = f64::from(self.limit.burst.max(1));
        let rate = f64::from(self.limit.per_second);
        let mut m = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_BUCKETS && !m.contains_key(caller) {
            m.retain(|_, (tokens, at)| *tokens + rate * ((now - *at).max(0) as f64) < burst);
        }
        let (tokens, at) = m.entry(caller.to_owned()).or_insert((burst, now));
        let elapsed = (now - *at).max(0) as f64;
        *tokens = (*tokens + elapsed * rate).min(burst);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if rate == 0.0 {
            Err(Throttled {
                retry_after: u64::MAX,
            })
        } else {
            Err(Throttled {
                retry_after: ((1.0 - *tokens) / rate).ceil().max(1.0) as u64,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    fn wait(secs: u64) -> Result<(), Throttled> {
        Err(Throttled { retry_after: secs })
    }

    #[test]
    fn buckets_empty_per_caller_and_refill_with_time() {
        let l = Limiter::new(RateLimit {
            burst: 3,
            per_second: 1,
        });
        for _ in 0..3 {
            assert_eq!(l.check("a", 100), Ok(()));
        }
        assert_eq!(l.check("a", 100), wait(1));
        assert_eq!(
            l.check("b", 100),
            Ok(()),
            "another caller has its own bucket"
        );
        assert_eq!(l.check("a", 101), Ok(()));
        assert_eq!(l.check("a", 101), wait(1));
        assert_eq!(l.check("a", 110), Ok(()));
        let slow = Limiter::new(RateLimit {
            burst: 1,
            per_second: 0,
        });
        assert_eq!(slow.check("a", 0), Ok(()));
        let never = slow.check("a", 1_000).expect_err("no refill");
        assert_eq!(never.retry_after(), 86_400, "capped at a day");
    }

    #[test]
    fn throttled_answers_carry_retry_after() {
        let l = Limiter::new(RateLimit {
            burst: 1,
            per_second: 1,
        });
        l.check("a", 0).expect("first");
        let t = l.check("a", 0).expect_err("second");
        let body = (axum::http::StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
        let r = t.answer(body);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
