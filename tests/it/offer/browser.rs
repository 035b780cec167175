//! The offer's pages in headless Chromium, driven by `tests/node/pages.mjs` through
//! [`coeur_testkit::audit_pages`]: each page reached as an editor does, in French and English,
//! at desktop and phone width, axe-core clean, screenshots kept; the conflict page among them.

use super::*;

/// Every page in headless Chromium (see [`coeur_testkit::audit_pages`]). On SQLite only: the
/// pages are the same whatever the database, and the browser is the slow part of the test.
/// The conflict page: the browser draws the form, the structure's service account (`sih`, a
/// token of [`SIH_A`]) changes the available capacity through the API meanwhile, and the
/// browser's save gets 409 with the current values in a fresh form.
pub(super) async fn audit(
    base: &str,
    db: Db,
    id: &str,
    other: &str,
    region: &str,
    version: i64,
    sih: &str,
) {
    let db = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => return,
    };
    let Some(chromium) = chromium_or_skip(&["playwright-core", "axe-core"]) else {
        return;
    };
    let log_in = vec![
        json!({"click": "form[action='/fhir/offre/connexion'] button"}),
        json!({"fill": "#national_id", "value": NATIONAL_ID}),
        json!({"click": "button[name=method][value=test]"}),
    ];
    let form = format!("{base}/offre/lieux/{id}");
    let then = |more: Vec<Value>| {
        let mut steps = log_in.clone();
        steps.extend(more);
        steps
    };
    let list: Vec<(&str, Vec<Value>, String)> = vec![
        ("login", vec![], "/offre".into()),
        ("structures", log_in.clone(), "/offre".into()),
        (
            "location",
            then(vec![json!({"goto": form})]),
            format!("/offre/lieux/{id}"),
        ),
        (
            "form-error",
            then(vec![
                json!({"goto": form}),
                json!({"fill": "#nb-1", "value": "-2"}),
                json!({"click": "button[name=save]"}),
            ]),
            format!("/offre/lieux/{id}"),
        ),
        (
            "saved",
            then(vec![
                json!({"goto": format!("{form}?enregistre={version}")}),
            ]),
            format!("/offre/lieux/{id}"),
        ),
        (
            "history",
            then(vec![json!({"goto": format!("{form}/historique")})]),
            format!("/offre/lieux/{id}/historique"),
        ),
        (
            "refused",
            then(vec![json!({"goto": format!("{base}/offre/lieux/{other}")})]),
            format!("/offre/lieux/{other}"),
        ),
        (
            "region",
            then(vec![
                json!({"goto": format!("{base}/offre/region/{region}")}),
            ]),
            format!("/offre/region/{region}"),
        ),
        (
            "conflict",
            then(vec![
                json!({"goto": form}),
                json!({"fill": "#nb-1", "value": "3"}),
                json!({"request": {
                    "method": "PATCH",
                    "url": format!("{base}/Location/{id}"),
                    "headers": {
                        "authorization": format!("Bearer {sih}"),
                        "content-type": "application/json-patch+json",
                    },
                    "body": json!([
                        {"op": "test", "path": "/extension/1/extension/1/valueCodeableConcept/coding/0/code", "value": "02"},
                        {"op": "replace", "path": "/extension/1/extension/3/valueInteger", "value": 17},
                    ]).to_string(),
                }}),
                json!({"click": "button[name=save]"}),
                json!({"expect": {
                    "status": 409,
                    "present": ["#conflict", "form input[name=version]"],
                    "values": {"#nb-1": "17"},
                }}),
            ]),
            format!("/offre/lieux/{id}"),
        ),
        (
            "logged-out",
            then(vec![json!({"click": "button[name=logout]"})]),
            "/offre/au-revoir".into(),
        ),
    ];
    let pages: Vec<AuditedPage> = list
        .into_iter()
        .map(|(name, steps, lands)| AuditedPage {
            name: format!("ror-{name}-{db}"),
            url: format!("{base}/offre"),
            steps,
            lands,
        })
        .collect();
    let problems = audit_pages(&chromium, base, &pages);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
