//! Connection statistics per relying party, method and day: completed logins are counted (a
//! refused one is not), the admin listener's `/stats/logins` answers JSON with totals and CSV,
//! refuses a bad range, is absent from the public listener, and `coeur stats logins` prints
//! the same figures.

use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::provider::stats::day_of;
use serde_json::Value;

/// A login of the test identity at `client_id` in a browser of its own (no SSO session).
async fn login_at(s: &TestServer, client_id: &str, national_id: &str) -> u16 {
    let b = s.browser();
    let page = b
        .authorize(&authz_url(
            s,
            "edit",
            &[
                ("client_id", client_id),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
                ("state", "st"),
                ("nonce", "n-0S6_WzA2Mj"),
            ],
        ))
        .await;
    b.login(&s.base, &page, national_id, "test")
        .await
        .status()
        .as_u16()
}

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.expect("get");
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap_or_default())
}

both_dbs!(
    logins_are_counted_per_client_method_and_day,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        s.add_client("edit", rp_spec("rp2"), Some(SECRET)).await;
        assert_eq!(login_at(&s, "rp", NATIONAL_ID).await, 303);
        assert_eq!(login_at(&s, "rp", NATIONAL_ID).await, 303);
        assert_eq!(login_at(&s, "rp2", NATIONAL_ID).await, 303);
        // An identity the realm does not know: refused, not counted.
        assert_ne!(login_at(&s, "rp2", "899700999991").await, 303);
        let day = day_of(s.clock.now());

        let (status, _, body) = get(&format!("{}/stats/logins", s.admin_base)).await;
        assert_eq!(status, 200, "{body}");
        let j: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(j["to"], day.as_str(), "{j}");
        let rows = j["rows"].as_array().expect("rows");
        let count = |client: &str| {
            rows.iter()
                .find(|r| r["client_id"] == client && r["day"] == day.as_str())
                .map(|r| (r["realm"].clone(), r["method"].clone(), r["logins"].clone()))
        };
        assert_eq!(
            count("rp"),
            Some(("edit".into(), "test".into(), 2.into())),
            "{j}"
        );
        assert_eq!(
            count("rp2"),
            Some(("edit".into(), "test".into(), 1.into())),
            "{j}"
        );
        assert_eq!(j["totals"]["logins"], 3, "{j}");
        assert_eq!(j["totals"]["by_client"]["edit/rp"], 2, "{j}");

        let (status, kind, csv) = get(&format!(
            "{}/stats/logins?format=csv&client_id=rp2&from={day}&to={day}",
            s.admin_base
        ))
        .await;
        assert_eq!(status, 200);
        assert!(kind.starts_with("text/csv"), "{kind}");
        assert_eq!(
            csv,
            format!("day,realm,client_id,method,logins\r\n{day},edit,rp2,test,1\r\n")
        );

        let (status, _, body) = get(&format!("{}/stats/logins?from=yesterday", s.admin_base)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("invalid_request"), "{body}");
        let (status, _, _) = get(&format!("{}/stats/logins", s.base)).await;
        assert_eq!(
            status, 404,
            "operators' figures are not on the public listener"
        );

        let out = coeur_cli(
            &s,
            &[
                "stats", "logins", "--format", "csv", "--realm", "edit", "--from", &day, "--to",
                &day,
            ],
        )
        .await;
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "day,realm,client_id,method,logins\r\n{day},edit,rp,test,2\r\n{day},edit,rp2,test,1\r\n"
            )
        );
        let out = coeur_cli(&s, &["stats", "logins", "--from", "2026-13-01"]).await;
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is not a day"),
            "{out:?}"
        );
    }
);
