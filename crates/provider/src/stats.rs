//! Connection statistics per relying party, method and day (the operators' "Stats PSC"): the
//! query (a range of UTC days, optionally one realm and one client), the report's JSON and CSV
//! forms, and the admin listener's `/stats/logins`. Counting happens in the store, in the
//! same transaction as the login it counts (`Store::complete_login`); this module is pure but
//! for the handler at the end.

use crate::St;
use axum::extract::RawQuery;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Date, Duration, OffsetDateTime, format_description::well_known::Iso8601};

/// The longest range a report covers (days, both ends included).
pub const MAX_DAYS: i64 = 366;
/// The range when none is given: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;

/// The UTC day of `now` (Unix seconds), `YYYY-MM-DD`.
pub fn day_of(now: i64) -> String {
    let d = OffsetDateTime::from_unix_timestamp(now)
        .map(OffsetDateTime::date)
        .unwrap_or(Date::MIN);
    format_day(d)
}

fn format_day(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_day(s: &str) -> Result<Date, String> {
    let bad = || format!("{s:?} is not a day (YYYY-MM-DD)");
    if s.len() != 10 {
        return Err(bad());
    }
    Date::parse(s, &Iso8601::DATE).map_err(|_| bad())
}

/// What a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// First day (UTC, `YYYY-MM-DD`), included.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Only this realm.
    pub realm: Option<String>,
    /// Only this client.
    pub client_id: Option<String>,
}

impl StatsQuery {
    /// Reads `from`, `to`, `realm`, `client_id` (each optional; `from` defaults to 29 days
    /// before `to`, `to` to today). Refused: a malformed day, `from` after `to`, a range of
    /// more than [`MAX_DAYS`], an unknown parameter.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        today: &str,
    ) -> Result<Self, String> {
        let (mut from, mut to, mut realm, mut client_id) = (None, None, None, None);
        for (k, v) in pairs {
            let slot = match k {
                "from" => &mut from,
                "to" => &mut to,
                "realm" => &mut realm,
                "client_id" => &mut client_id,
                "format" => continue,
                other => return Err(format!("unknown parameter {other:?}")),
            };
            if slot.replace(v.to_owned()).is_some() {
                return Err(format!("{k} is given twice"));
            }
        }
        let to = parse_day(to.as_deref().unwrap_or(today))?;
        let from = match from {
            Some(f) => parse_day(&f)?,
            None => to - Duration::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err("from is after to".into());
        }
        if (to - from).whole_days() + 1 > MAX_DAYS {
            return Err(format!("a report covers at most {MAX_DAYS} days"));
        }
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(Self {
            from: format_day(from),
            to: format_day(to),
            realm: nonempty(realm),
            client_id: nonempty(client_id),
        })
    }
}

/// Logins of one day, realm, client and method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginCount {
    /// UTC day.
    pub day: String,
    /// Realm.
    pub realm: String,
    /// Relying party.
    pub client_id: String,
    /// Authentication method (`card`, `ecps`, `franceconnect`…).
    pub method: String,
    /// Completed logins.
    pub logins: i64,
}

/// The report as JSON: the query, the rows (by day, realm, client, method) and totals per
/// method, per client and overall.
pub fn report_json(q: &StatsQuery, rows: &[LoginCount]) -> serde_json::Value {
    let mut by_method: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_client: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        *by_method.entry(&r.method).or_default() += r.logins;
        *by_client
            .entry(format!("{}/{}", r.realm, r.client_id))
            .or_default() += r.logins;
    }
    serde_json::json!({
        "from": q.from,
        "to": q.to,
        "realm": q.realm,
        "client_id": q.client_id,
        "rows": rows,
        "totals": {
            "logins": rows.iter().map(|r| r.logins).sum::<i64>(),
            "by_method": by_method,
            "by_client": by_client,
        },
    })
}

/// The report as CSV (RFC 4180: CRLF line ends, fields quoted when they need it), with a
/// header line.
pub fn report_csv(rows: &[LoginCount]) -> String {
    let mut out = String::from("day,realm,client_id,method,logins\r\n");
    for r in rows {
        let fields = [
            csv_field(&r.day),
            csv_field(&r.realm),
            csv_field(&r.client_id),
            csv_field(&r.method),
            r.logins.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A CSV field, quoted (inner quotes doubled) when it holds a comma, a quote or a line end.
/// A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `GET /stats/logins?from=&to=&realm=&client_id=&format=json|csv` on the admin listener.
pub(crate) async fn http_logins(st: St, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let today = day_of(st.now());
    let q = match StatsQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), &today) {
        Ok(q) => q,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    serde_json::json!({ "error": "invalid_request", "error_description": e }),
                ),
            )
                .into_response();
        }
    };
    let csv = pairs.iter().any(|(k, v)| k == "format" && v == "csv");
    match st.store.login_stats(&q).await {
        Ok(rows) if csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"coeur-logins.csv\"",
                ),
            ],
            report_csv(&rows),
        )
            .into_response(),
        Ok(rows) => axum::Json(report_json(&q, &rows)).into_response(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "login statistics");
            (StatusCode::INTERNAL_SERVER_ERROR, "statistics unavailable").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<StatsQuery, String> {
        StatsQuery::parse(pairs.iter().copied(), "2026-03-15")
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_772_323_199), "2026-02-28");
        assert_eq!(day_of(1_772_323_200), "2026-03-01");
    }

    #[test]
    fn the_default_range_is_the_last_30_days() {
        let q = parse(&[]).unwrap();
        assert_eq!(
            (q.from.as_str(), q.to.as_str()),
            ("2026-02-14", "2026-03-15")
        );
        assert_eq!((q.realm, q.client_id), (None, None));
        let q = parse(&[("to", "2026-01-10"), ("realm", "edit"), ("client_id", "")]).unwrap();
        assert_eq!(q.from, "2025-12-12");
        assert_eq!(q.realm.as_deref(), Some("edit"));
        assert_eq!(q.client_id, None, "an empty filter is no filter");
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        for (pairs, why) in [
            (vec![("from", "2026-3-1")], "not a day"),
            (vec![("from", "2026-02-30")], "not a day"),
            (vec![("from", "2026-03-16")], "after"),
            (vec![("from", "2025-01-01")], "at most 366 days"),
            (vec![("since", "2026-01-01")], "unknown parameter"),
            (vec![("realm", "a"), ("realm", "b")], "twice"),
        ] {
            let e = parse(&pairs).unwrap_err();
            assert!(e.contains(why), "{pairs:?}: {e}");
        }
        assert!(
            parse(&[("from", "2025-03-15")]).is_ok(),
            "366 days, both ends included"
        );
    }

    fn row(day: &str, client: &str, method: &str, logins: i64) -> LoginCount {
        LoginCount {
            day: day.into(),
            realm: "edit".into(),
            client_id: client.into(),
            method: method.into(),
            logins,
        }
    }

    #[test]
    fn reports_total_per_method_and_client() {
        let q = parse(&[]).unwrap();
        let rows = [
            row("2026-03-14", "rp", "card", 3),
            row("2026-03-14", "rp", "ecps", 2),
            row("2026-03-15", "other", "card", 5),
        ];
        let j = report_json(&q, &rows);
        assert_eq!(j["totals"]["logins"], 10);
        assert_eq!(j["totals"]["by_method"]["card"], 8);
        assert_eq!(j["totals"]["by_client"]["edit/rp"], 5);
        assert_eq!(j["rows"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let rows = [row("2026-03-14", "a,\"b\"", "=cmd()", 1)];
        assert_eq!(
            report_csv(&rows),
            "day,realm,client_id,method,logins\r\n2026-03-14,edit,\"a,\"\"b\"\"\",'=cmd(),1\r\n"
        );
    }
}
