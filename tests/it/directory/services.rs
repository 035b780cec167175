//! The FINESS extract of authorised care activities: a crafted file with its edge cases
//! (Latin-1, a wrong FINESS key, a duplicate, a row short of a column, a truncated last line,
//! a file without a required column), idempotent re-import, a changed extract updating and
//! deactivating; the HealthcareService API over the generated extracts checked against the
//! imported rows, its includes, `identifier-type` and `_total`; the independent FHIR client
//! (fhirpy) paging through HealthcareService and fhir.resources validating it; FINESS's
//! social equipment, HealthcareService too (`social_equipment_api`).

use super::fhir::{all, assert_outcome, fhir_get, ids, next_link, reading};
use super::store;
use crate::both_dbs;
use crate::support::*;
use coeur_directory::fhir::map::{
    SYSTEM_R209, SYSTEM_R274, SYSTEM_R276, SYSTEM_R279, SYSTEM_R280, id_of_key,
};
use coeur_directory::generate::{authorisations, social_equipment};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::record::{Plan, RecordKind};
use coeur_directory::store::{Store, StoredRecord};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const NOW: i64 = 1_767_225_600;

const HEADER: &str = "nofinessej;rsej;activite;libactivite;modalite;libmodalite;forme;libforme;\
                      noautor;dateautor;nofinesset;rset;noautorarhgos;datemeo;datefin";

/// A row of the authorisations extract (15 columns, Latin-1 as FINESS publishes it).
fn row(
    site: &str,
    activity: &str,
    label: &str,
    modality: &str,
    form: &str,
    arhgos: &str,
) -> Vec<u8> {
    let line = format!(
        "010780054;CH FLEYRIAT;{activity};{label};{modality};Modalité {modality};{form};\
         Forme {form};762201955;2004-11-02;{site};SITE {site};{arhgos};2005-03-22;2027-09-23\n"
    );
    line.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
        .collect()
}

fn file(rows: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("{HEADER}\n").into_bytes();
    for r in rows {
        out.extend_from_slice(r);
    }
    out
}

async fn import(store: &Store, name: &str, bytes: &[u8], now: i64) -> Outcome {
    let mut out = Outcome::default();
    import_file(store, name, bytes, true, now, &mut out, &mut |_, _| {})
        .await
        .expect("import");
    out
}

async fn authorisation(store: &Store, key: &str) -> StoredRecord {
    store
        .get(RecordKind::Authorisation, key)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("{key} stored"))
}

both_dbs!(crafted_authorisations, |db| async move {
    let (store, _dir) = store(db).await;
    let dialysis = row(
        "010000024",
        "16",
        "Traitement de l'insuffisance rénale",
        "40",
        "00",
        "52-52-00001",
    );
    let surgery = row("010000024", "02", "Chirurgie", "00", "07", "52-52-00002");
    let emergency = row(
        "750712184",
        "14",
        "Médecine d'urgence",
        "00",
        "00",
        "75-75-00003",
    );
    let bad_key = row("010000025", "01", "Médecine", "00", "01", "");
    let mut short = row("130783293", "01", "Médecine", "00", "01", "");
    short.truncate(short.len() - "2027-09-23\n".len() - 1);
    short.push(b'\n');
    let mut truncated = row("690781810", "01", "Médecine", "00", "01", "");
    truncated.truncate(40);
    let bytes = file(&[
        dialysis.clone(),
        surgery.clone(),
        emergency.clone(),
        bad_key,
        dialysis.clone(),
        short,
        truncated,
    ]);
    let out = import(&store, "finess_autorisations.txt", &bytes, NOW).await;
    let lines: Vec<(u64, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.row.line, r.row.reason.as_str()))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].0 == 5 && lines[0].1.contains("wrong check key"),
        "{lines:?}"
    );
    assert!(
        lines[1].0 == 6 && lines[1].1.contains("duplicate"),
        "{lines:?}"
    );
    assert!(
        lines[2].0 == 7 && lines[2].1.contains("columns"),
        "{lines:?}"
    );
    assert!(
        lines[3].0 == 8 && lines[3].1.starts_with("truncated last line"),
        "{lines:?}"
    );
    assert!(
        out.rejected
            .iter()
            .all(|r| r.file == "finess_autorisations.txt")
    );
    let s = &out.summary;
    assert_eq!((s.read, s.inserted, s.rejected), (7, 3, 4), "{s}");
    let d = authorisation(&store, "010000024|16|40|00").await;
    assert_eq!(
        d.record.get("libactivite"),
        "Traitement de l'insuffisance rénale"
    );
    assert_eq!(d.record.get("libmodalite"), "Modalité 40");
    assert_eq!(d.record.get("noautorarhgos"), "52-52-00001");
    assert!(d.active);

    // A file without a required column is skipped whole, with the reason.
    let no_form = format!("{}\n", HEADER.replace(";forme;", ";"));
    let out = import(&store, "sans_forme.txt", no_form.as_bytes(), NOW).await;
    assert_eq!(out.skipped.len(), 1);
    assert!(out.skipped[0].1.contains("forme"), "{:?}", out.skipped);
    assert_eq!(
        store.count(RecordKind::Authorisation, true).await.unwrap(),
        3
    );

    // The same extract again: nothing changes, versions included.
    let again = import(&store, "again", &bytes, NOW + 10).await;
    let s = &again.summary;
    assert_eq!(
        (s.inserted, s.updated, s.unchanged, s.deactivated),
        (0, 0, 3, 0),
        "{s}"
    );
    assert_eq!(authorisation(&store, "010000024|16|40|00").await, d);

    // A changed extract: the dialysis relabelled, surgery gone, a new activity.
    let relabelled = row(
        "010000024",
        "16",
        "Épuration extrarénale",
        "40",
        "00",
        "52-52-00001",
    );
    let medicine = row("750712184", "01", "Médecine", "00", "01", "75-75-00004");
    let next = file(&[relabelled, emergency, medicine]);
    let out = import(&store, "next", &next, NOW + 20).await;
    let s = &out.summary;
    assert_eq!(
        (
            s.inserted,
            s.updated,
            s.unchanged,
            s.deactivated,
            s.rejected
        ),
        (1, 1, 1, 1, 0),
        "{s}"
    );
    let d2 = authorisation(&store, "010000024|16|40|00").await;
    assert_eq!(d2.record.get("libactivite"), "Épuration extrarénale");
    assert!(d2.version > d.version && d2.updated_at == NOW + 20);
    let gone = authorisation(&store, "010000024|02|00|07").await;
    assert!(!gone.active, "deactivated, not deleted");
    assert_eq!(gone.deactivated_at, Some(NOW + 20));
    assert_eq!(
        store.count(RecordKind::Authorisation, false).await.unwrap(),
        4
    );
    assert_eq!(
        store.count(RecordKind::Authorisation, true).await.unwrap(),
        3
    );

    // Present again: reactivated.
    let out = import(&store, "back", &file(&[surgery]), NOW + 30).await;
    assert_eq!((out.summary.updated, out.summary.deactivated), (1, 3));
    let back = authorisation(&store, "010000024|02|00|07").await;
    assert!(back.active && back.deactivated_at.is_none());
});

/// The generated authorisations (seed and structures of the generated extract
/// [`reading`] imports) imported into `store`.
async fn import_authorisations(store: &Store) -> Vec<StoredRecord> {
    let mut h = vec![];
    authorisations(11, 10, &mut h).expect("generate");
    let out = import(store, "finess_autorisations", &h, NOW).await;
    assert!(out.rejected.is_empty() && out.skipped.is_empty());
    let services = all(store, RecordKind::Authorisation).await;
    assert!(services.len() >= 2, "{}", services.len());
    services
}

fn set(v: Vec<String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

fn service_ids<'a>(records: impl Iterator<Item = &'a StoredRecord>) -> BTreeSet<String> {
    records
        .map(|s| format!("HealthcareService/{}", id_of_key(&s.record.key)))
        .collect()
}

/// Every match of a search, following the `next` links.
async fn every_match(first: String, token: &str) -> Vec<String> {
    let mut out = vec![];
    let mut url = Some(first);
    while let Some(u) = url {
        let r = fhir_get(&u, Some(token)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        out.extend(ids(&r.body, "match"));
        url = next_link(&r.body);
    }
    out
}

both_dbs!(healthcare_service_api, |db| async move {
    let (_s, store, _dir, base, token) = reading(db).await;
    let t = Some(token.as_str());
    let services = import_authorisations(&store).await;

    // The CapabilityStatement says exactly what HealthcareService supports.
    let cap = fhir_get(&format!("{base}/metadata"), None).await;
    let resources = cap.body["rest"][0]["resource"]
        .as_array()
        .expect("resources");
    let of = |name: &str| -> &Value {
        resources
            .iter()
            .find(|r| r["type"] == name)
            .unwrap_or_else(|| panic!("{name} in the CapabilityStatement"))
    };
    let names = |r: &Value| -> Vec<String> {
        r["searchParam"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| p["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let hcs = of("HealthcareService");
    assert_eq!(
        names(hcs),
        [
            "_id",
            "_lastUpdated",
            "active",
            "identifier",
            "organization",
            "service-type",
            "service-category",
            "characteristic"
        ]
    );
    assert_eq!(
        hcs["searchInclude"],
        serde_json::json!(["HealthcareService:organization"])
    );
    assert!(hcs.get("searchRevInclude").is_none());
    assert_eq!(
        of("Organization")["searchRevInclude"],
        serde_json::json!([
            "PractitionerRole:organization",
            "HealthcareService:organization"
        ])
    );
    assert!(names(of("Practitioner")).contains(&"identifier-type".to_owned()));

    // Read, checked against the imported row.
    let one = &services[0];
    let id = id_of_key(&one.record.key);
    let r = fhir_get(&format!("{base}/HealthcareService/{id}"), t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["resourceType"], "HealthcareService");
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(
        r.body["providedBy"]["reference"],
        format!("Organization/{}", one.record.get("nofinesset"))
    );
    assert_eq!(r.body["type"][0]["coding"][0]["system"], SYSTEM_R274);
    assert_eq!(
        r.body["type"][0]["coding"][0]["code"],
        one.record.get("activite")
    );
    assert_eq!(
        r.body["characteristic"][0]["coding"][0]["code"],
        one.record.get("forme")
    );
    assert_eq!(
        r.body["identifier"][0]["value"],
        one.record.get("noautorarhgos")
    );
    assert_eq!(r.body["active"], true);
    assert_outcome(
        &fhir_get(&format!("{base}/HealthcareService/999999999.01.00.00"), t).await,
        404,
        "not-found",
    );

    // Searches, checked against the rows.
    let all_ids = service_ids(services.iter());
    let paged = every_match(format!("{base}/HealthcareService?_count=2"), &token).await;
    assert_eq!(paged.len(), services.len(), "each once: {paged:?}");
    assert_eq!(set(paged), all_ids);

    // Paging while data changes: a service changed after the first page comes again, in its
    // new state, and none is skipped.
    let first = fhir_get(&format!("{base}/HealthcareService?_count=1"), t).await;
    assert_eq!(
        ids(&first.body, "match"),
        [format!("HealthcareService/{id}")]
    );
    let mut changed = one.record.clone();
    changed
        .fields
        .insert("libactivite".into(), "Activité renommée".into());
    let plan = Plan {
        update: vec![(RecordKind::Authorisation, changed.key.clone())],
        ..Plan::default()
    };
    let records = BTreeMap::from([((RecordKind::Authorisation, changed.key.clone()), changed)]);
    store
        .apply(&plan, &records, NOW + 5, &mut |_, _| {})
        .await
        .expect("change");
    let rest = every_match(next_link(&first.body).expect("next"), &token).await;
    assert_eq!(
        rest.len(),
        services.len(),
        "the rest, and the changed one again"
    );
    assert_eq!(rest.last(), Some(&format!("HealthcareService/{id}")));
    assert_eq!(set(rest), all_ids);
    let r = fhir_get(&format!("{base}/HealthcareService/{id}"), t).await;
    assert_eq!(r.body["name"], "Activité renommée");

    let site = one.record.get("nofinesset");
    let at_site = service_ids(
        services
            .iter()
            .filter(|s| s.record.get("nofinesset") == site),
    );
    let r = fhir_get(
        &format!("{base}/HealthcareService?organization=Organization/{site}"),
        t,
    )
    .await;
    assert_eq!(set(ids(&r.body, "match")), at_site);

    let ambulatory = service_ids(services.iter().filter(|s| s.record.get("forme") == "07"));
    let url = format!(
        "{base}/HealthcareService?characteristic={}",
        urlencode(&format!("{SYSTEM_R276}|07"))
    );
    let r = fhir_get(&url, t).await;
    assert_eq!(set(ids(&r.body, "match")), ambulatory);
    let dialysis = service_ids(services.iter().filter(|s| s.record.get("activite") == "16"));
    let r = fhir_get(&format!("{base}/HealthcareService?service-type=16"), t).await;
    assert_eq!(set(ids(&r.body, "match")), dialysis);
    let r = fhir_get(&format!("{base}/HealthcareService?service-category=40"), t).await;
    let hemodialysis = service_ids(services.iter().filter(|s| s.record.get("modalite") == "40"));
    assert_eq!(set(ids(&r.body, "match")), hemodialysis);

    let arhgos = one.record.get("noautorarhgos");
    let r = fhir_get(&format!("{base}/HealthcareService?identifier={arhgos}"), t).await;
    assert_eq!(ids(&r.body, "match"), [format!("HealthcareService/{id}")]);

    // Includes both ways.
    let r = fhir_get(
        &format!("{base}/HealthcareService?_include=HealthcareService:organization"),
        t,
    )
    .await;
    let sites: BTreeSet<String> = services
        .iter()
        .map(|s| format!("Organization/{}", s.record.get("nofinesset")))
        .collect();
    assert_eq!(set(ids(&r.body, "include")), sites);
    let r = fhir_get(
        &format!("{base}/Organization?_id={site}&_revinclude=HealthcareService:organization"),
        t,
    )
    .await;
    assert_eq!(ids(&r.body, "match"), [format!("Organization/{site}")]);
    assert_eq!(set(ids(&r.body, "include")), at_site);

    // `_summary=count`, `_total`, `active` after a deactivation.
    let r = fhir_get(&format!("{base}/HealthcareService?_summary=count"), t).await;
    assert_eq!(r.body["total"], services.len());
    let r = fhir_get(
        &format!("{base}/HealthcareService?_count=1&_total=accurate"),
        t,
    )
    .await;
    assert_eq!(r.body["total"], services.len());
    assert_eq!(ids(&r.body, "match").len(), 1);
    let r = fhir_get(&format!("{base}/HealthcareService?_count=1"), t).await;
    assert!(r.body.get("total").is_none());
    let mut h = vec![];
    authorisations(11, 10, &mut h).expect("generate");
    let text: Vec<u8> = h
        .split(|b| *b == b'\n')
        .filter(|l| !l.windows(site.len()).any(|w| w == site.as_bytes()))
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    let out = import(&store, "later", &text, NOW + 60).await;
    assert_eq!(out.summary.deactivated as usize, at_site.len());
    let r = fhir_get(&format!("{base}/HealthcareService?active=false"), t).await;
    assert_eq!(set(ids(&r.body, "match")), at_site);
    let r = fhir_get(
        &format!("{base}/HealthcareService?_lastUpdated=ge2026-01-01T00:01:00Z"),
        t,
    )
    .await;
    assert_eq!(set(ids(&r.body, "match")), at_site);

    // `_elements`: the matches keep what is asked for, tagged; includes stay whole.
    let r = fhir_get(
        &format!(
            "{base}/HealthcareService?_elements=type&_count=1\
             &_include=HealthcareService:organization"
        ),
        t,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let matches: Vec<&Value> = r.body["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| &e["resource"])
        .collect();
    assert_eq!(matches.len(), 1);
    for m in matches {
        assert!(
            m.get("providedBy").is_none() && m.get("identifier").is_none(),
            "{m}"
        );
        assert!(m["type"][0]["coding"][0]["code"].is_string(), "{m}");
        assert_eq!(m["meta"]["tag"][0]["code"], "SUBSETTED");
    }
    assert!(next_link(&r.body).is_some_and(|l| l.contains("_elements=type")));
    let included: Vec<&Value> = r.body["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .collect();
    assert!(!included.is_empty());
    assert!(
        included
            .iter()
            .all(|e| e["resource"]["identifier"].is_array())
    );
    assert_outcome(
        &fhir_get(&format!("{base}/HealthcareService?_elements=type,"), t).await,
        400,
        "invalid",
    );

    // Unknown parameters and the parameters of other types are refused.
    for q in ["name=x", "unknown=1", "_include=Organization:partof"] {
        let r = fhir_get(&format!("{base}/HealthcareService?{q}"), t).await;
        assert_outcome(&r, 400, "not-supported");
    }

    // `identifier-type` on Practitioner and Organization.
    let r = fhir_get(
        &format!("{base}/Practitioner?identifier-type=RPPS&_summary=count"),
        t,
    )
    .await;
    assert_eq!(r.body["total"], 50);
    let r = fhir_get(
        &format!("{base}/Practitioner?identifier-type=ADELI&_summary=count"),
        t,
    )
    .await;
    assert_eq!(r.body["total"], 0);
    let legal = all(&store, RecordKind::LegalEntity).await.len();
    let r = fhir_get(
        &format!("{base}/Organization?identifier-type=FINEJ&_summary=count"),
        t,
    )
    .await;
    assert_eq!(r.body["total"], legal);
    let r = fhir_get(
        &format!("{base}/Organization?identifier-type=FINEG&_count=3&_total=accurate"),
        t,
    )
    .await;
    assert_eq!(r.body["total"], 10);
    assert_eq!(ids(&r.body, "match").len(), 3);
});

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

both_dbs!(healthcare_service_peer, |db| async move {
    let Some(python) = python_peer("the FHIR peer (fhirpy, fhir.resources)") else {
        return;
    };
    let (_s, store, _dir, base, token) = reading(db).await;
    let mut services = import_authorisations(&store).await;
    // With the social equipment: both kinds paged through and validated.
    let mut e = vec![];
    social_equipment(11, 10, &mut e).expect("generate");
    assert!(import(&store, "e", &e, NOW).await.rejected.is_empty());
    let equipment = all(&store, RecordKind::SocialEquipment).await;
    assert!(!equipment.is_empty());
    services.extend(equipment);
    let site = services[0].record.get("nofinesset").to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(repo_dir().join("tests/python/healthcare_service_peer.py"))
            .args([&base, &token, &site])
            .output()
            .expect("start the FHIR peer")
    })
    .await
    .expect("peer task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the FHIR peer failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("peer report");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_str().expect("id").to_owned())
            .collect()
    };
    let every = strings(&report["all"]);
    assert_eq!(every.len(), services.len(), "each once: {every:?}");
    let keys = |list: Vec<String>| -> BTreeSet<String> {
        list.into_iter()
            .map(|id| format!("HealthcareService/{id}"))
            .collect()
    };
    assert_eq!(keys(every), service_ids(services.iter()));
    let site = services[0].record.get("nofinesset");
    let at_site = service_ids(
        services
            .iter()
            .filter(|s| s.record.get("nofinesset") == site),
    );
    assert_eq!(keys(strings(&report["at_site"])), at_site);
    for kind in [
        "HealthcareService",
        "Organization",
        "Bundle",
        "CapabilityStatement",
    ] {
        assert!(
            report["validated"][kind].as_u64().unwrap_or(0) > 0,
            "{kind} validated: {report}"
        );
    }
});

both_dbs!(social_equipment_api, |db| async move {
    let (_s, store, _dir, base, token) = reading(db).await;
    let t = Some(token.as_str());
    let services = import_authorisations(&store).await;
    let mut e = vec![];
    social_equipment(11, 10, &mut e).expect("generate");
    let out = import(&store, "finess_equipements_sociaux", &e, NOW).await;
    assert!(out.rejected.is_empty() && out.skipped.is_empty(), "{out:?}");
    let equipment = all(&store, RecordKind::SocialEquipment).await;
    assert!(equipment.len() >= 3, "{}", equipment.len());
    let again = import(&store, "finess_equipements_sociaux", &e, NOW + 1).await;
    assert_eq!((again.summary.inserted, again.summary.updated), (0, 0));

    // A bad row: its line and reason; the good rows of the file go in.
    let mut bad = e.clone();
    bad.extend_from_slice(b"010000024;9A;X;11;Y;711;Z;;;;;;\n");
    let out = import(&store, "bad", &bad, NOW + 2).await;
    assert_eq!(out.rejected.len(), 1, "{out:?}");
    assert!(out.rejected[0].row.reason.contains("de \"9A\""), "{out:?}");

    // Read, checked against the imported row.
    let one = &equipment[0];
    let id = id_of_key(&one.record.key);
    let r = fhir_get(&format!("{base}/HealthcareService/{id}"), t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["type"][0]["coding"][0]["system"], SYSTEM_R280);
    assert_eq!(b["type"][0]["coding"][0]["code"], one.record.get("de"));
    assert_eq!(b["characteristic"][0]["coding"][0]["system"], SYSTEM_R209);
    assert_eq!(
        b["characteristic"][0]["coding"][0]["code"],
        one.record.get("ta")
    );
    let clientele = &b["eligibility"][0]["code"]["coding"][0];
    assert_eq!(clientele["system"], SYSTEM_R279);
    assert_eq!(clientele["code"], one.record.get("client"));
    let site = one.record.get("nofinesset");
    assert_eq!(b["providedBy"]["reference"], format!("Organization/{site}"));

    // Both kinds are HealthcareService.
    let b = fhir_get(&format!("{base}/HealthcareService?_summary=count"), t).await;
    assert_eq!(
        b.body["total"].as_u64(),
        Some((services.len() + equipment.len()) as u64)
    );
    // By discipline (service-type) and type of activity (characteristic), against the rows.
    let de = one.record.get("de");
    let wanted = service_ids(equipment.iter().filter(|x| x.record.get("de") == de));
    let got = every_match(
        format!("{base}/HealthcareService?service-type={SYSTEM_R280}|{de}&_count=3"),
        &token,
    )
    .await;
    assert_eq!(set(got), wanted);
    let ta = one.record.get("ta");
    let wanted = service_ids(equipment.iter().filter(|x| x.record.get("ta") == ta));
    let got = every_match(
        format!("{base}/HealthcareService?characteristic={SYSTEM_R209}|{ta}&_count=500"),
        &token,
    )
    .await;
    assert_eq!(set(got), wanted);
    // A site's services: its authorised activities and its social equipment.
    let wanted = service_ids(
        services
            .iter()
            .filter(|x| x.record.get("nofinesset") == site)
            .chain(
                equipment
                    .iter()
                    .filter(|x| x.record.get("nofinesset") == site),
            ),
    );
    let got = every_match(
        format!("{base}/HealthcareService?organization=Organization/{site}&_count=500"),
        &token,
    )
    .await;
    assert_eq!(set(got), wanted);
    let b = fhir_get(
        &format!("{base}/Organization?_id={site}&_revinclude=HealthcareService:organization"),
        t,
    )
    .await;
    assert_eq!(set(ids(&b.body, "include")), wanted);
});
