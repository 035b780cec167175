//! Annuaire Santé v2's further search parameters over a generated extract, checked against
//! the imported rows: Practitioner `number-smartcard` (the `Porteurs_CPS_CPF` cards, shown as
//! `as-ext-smartcard`), `data-information-system` and `data-registration-authority` (the data
//! trace in `meta`), Organization `mailbox-mss` (a structure's own MSSanté mailboxes, in its
//! `telecom`) and `data-information-system`; `/metadata` lists them, and what is not served
//! (`pharmacy-licence`) is refused. A store of before schema `0007` gets the index rows of its
//! exercises and mailboxes written again when opened.

use super::fhir::{all, assert_outcome, fhir_get, ids, reading};
use crate::both_dbs;
use coeur_directory::fhir::extensions::{
    DATA_TRACE, SMARTCARD, SYSTEM_INFORMATION_SYSTEM, SYSTEM_R60,
};
use coeur_directory::generate::{Writers, generate};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::index::{AUTHORITY, ORGANIZATION, OWNER, mailbox_structure};
use coeur_directory::record::RecordKind;
use coeur_directory::store::Store;
use coeur_directory::store::search::{Lookup, Value as Value2};
use serde_json::Value;
use std::collections::BTreeSet;

fn encoded(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The values of the data trace's part `part` in a resource.
fn trace(resource: &Value, part: &str) -> Vec<String> {
    let mut out = vec![];
    for e in resource["meta"]["extension"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if e["url"] != DATA_TRACE {
            continue;
        }
        for p in e["extension"].as_array().into_iter().flatten() {
            if p["url"] != part {
                continue;
            }
            if let Some(c) = p["valueCode"].as_str() {
                out.push(c.to_owned());
            }
            for c in p["valueCodeableConcept"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert_eq!(c["system"], SYSTEM_R60);
                out.push(c["code"].as_str().expect("code").to_owned());
            }
        }
    }
    out
}

both_dbs!(fhir_annuaire_v2_further_parameters, |db| async move {
    let (_s, store, _dir, base, token) = reading(db).await;
    let t = Some(token.as_str());
    let count = |url: String| async move {
        let b = fhir_get(&format!("{url}&_summary=count"), t).await;
        assert_eq!(b.status, 200, "{url}: {}", b.body);
        b.body["total"].as_u64().expect("total")
    };

    // The CapabilityStatement lists the new parameters, and only those served.
    let cap = fhir_get(&format!("{base}/metadata"), None).await;
    let params = |rtype: &str| -> BTreeSet<String> {
        cap.body["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == rtype)
            .expect("resource")["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for p in [
        "number-smartcard",
        "data-information-system",
        "data-registration-authority",
    ] {
        assert!(params("Practitioner").contains(p), "{p}");
    }
    for p in ["mailbox-mss", "data-information-system"] {
        assert!(params("Organization").contains(p), "{p}");
    }
    for p in ["pharmacy-licence", "data-registration-authority"] {
        assert!(!params("Organization").contains(p), "{p}");
        let refused = fhir_get(&format!("{base}/Organization?{p}=1"), t).await;
        assert_outcome(&refused, 400, "not-supported");
    }

    // number-smartcard: the card's holder, whose Practitioner shows the card.
    let cards = all(&store, RecordKind::Card).await;
    assert_eq!(cards.len(), 25, "every other professional of 50");
    let card = &cards[3];
    let holder = card.record.get("Identification nationale PP");
    let b = fhir_get(
        &format!("{base}/Practitioner?number-smartcard={}", card.record.key),
        t,
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(ids(&b.body, "match"), [format!("Practitioner/{holder}")]);
    let p = &b.body["entry"][0]["resource"];
    let ext = p["extension"]
        .as_array()
        .expect("extension")
        .iter()
        .find(|e| e["url"] == SMARTCARD)
        .expect("the card");
    let parts: Vec<&Value> = ext["extension"].as_array().unwrap().iter().collect();
    assert!(
        parts
            .iter()
            .any(|x| x["url"] == "number" && x["valueString"] == card.record.key.as_str())
    );
    assert!(parts.iter().any(|x| x["url"] == "period"
        && x["valuePeriod"]["start"] == "2025-01-01"
        && x["valuePeriod"]["end"] == "2028-01-01"));
    // A string parameter: the numbers starting with the value.
    let prefix = &card.record.key[..card.record.key.len() - 1];
    let wanted: BTreeSet<String> = cards
        .iter()
        .filter(|c| c.record.key.starts_with(prefix))
        .map(|c| {
            format!(
                "Practitioner/{}",
                c.record.get("Identification nationale PP")
            )
        })
        .collect();
    let b = fhir_get(
        &format!("{base}/Practitioner?number-smartcard={prefix}&_count=500"),
        t,
    )
    .await;
    assert_eq!(
        ids(&b.body, "match").into_iter().collect::<BTreeSet<_>>(),
        wanted
    );
    assert_eq!(
        count(format!("{base}/Practitioner?number-smartcard=9")).await,
        0
    );

    // data-information-system: every RPPS professional, every FINESS structure.
    let practitioners = all(&store, RecordKind::Practitioner).await;
    let rpps = practitioners
        .iter()
        .filter(|p| p.record.get("Type d'identifiant PP") == "8")
        .count() as u64;
    assert_eq!(
        count(format!("{base}/Practitioner?data-information-system=RPPS")).await,
        rpps
    );
    assert_eq!(
        count(format!(
            "{base}/Practitioner?data-information-system={}|RPPS",
            encoded(SYSTEM_INFORMATION_SYSTEM)
        ))
        .await,
        rpps
    );
    assert_eq!(
        count(format!(
            "{base}/Practitioner?data-information-system=FINESS"
        ))
        .await,
        0
    );
    let structures = all(&store, RecordKind::Establishment).await.len()
        + all(&store, RecordKind::LegalEntity).await.len();
    assert_eq!(
        count(format!(
            "{base}/Organization?data-information-system=FINESS"
        ))
        .await,
        structures as u64
    );
    assert_eq!(
        count(format!("{base}/Organization?data-information-system=CG")).await,
        0
    );

    // data-registration-authority: the authorities of the professionals' exercises.
    let roles = all(&store, RecordKind::PractitionerRole).await;
    let with = |authority: &str| -> BTreeSet<String> {
        roles
            .iter()
            .filter(|r| {
                r.record
                    .get("Autorité d'enregistrement")
                    .split('/')
                    .any(|a| a == authority)
            })
            .map(|r| format!("Practitioner/{}", r.record.key.split('|').next().unwrap()))
            .collect()
    };
    let b = fhir_get(
        &format!(
            "{base}/Practitioner?data-registration-authority={}|CNOM&_count=500",
            encoded(SYSTEM_R60)
        ),
        t,
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(
        ids(&b.body, "match").into_iter().collect::<BTreeSet<_>>(),
        with("CNOM")
    );
    assert!(!with("CNOM").is_empty());
    for e in b.body["entry"].as_array().unwrap() {
        let p = &e["resource"];
        assert_eq!(trace(p, "autorite-enregistrement"), ["CNOM"], "{p}");
        assert_eq!(trace(p, "systeme-information"), ["RPPS"], "{p}");
    }
    assert_eq!(
        count(format!(
            "{base}/Practitioner?data-registration-authority=ARS"
        ))
        .await,
        0
    );

    // Organization mailbox-mss: the structure whose own mailbox it is, which its telecom
    // shows; a professional's mailbox names no structure.
    let mailboxes = all(&store, RecordKind::Mailbox).await;
    let own = mailboxes
        .iter()
        .find(|m| mailbox_structure(&m.record).is_some())
        .expect("a structure's mailbox");
    let site = mailbox_structure(&own.record).unwrap();
    let b = fhir_get(
        &format!(
            "{base}/Organization?mailbox-mss={}",
            encoded(&own.record.key)
        ),
        t,
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(ids(&b.body, "match"), [format!("Organization/{site}")]);
    let o = &b.body["entry"][0]["resource"];
    assert!(
        o["telecom"]
            .as_array()
            .expect("telecom")
            .iter()
            .any(|c| c["system"] == "email" && c["value"] == own.record.key.as_str()),
        "{o}"
    );
    assert_eq!(trace(o, "systeme-information"), ["FINESS"]);
    let personal = mailboxes
        .iter()
        .find(|m| !m.record.get("Identification nationale PP").is_empty())
        .expect("a professional's mailbox");
    assert_eq!(
        count(format!(
            "{base}/Organization?mailbox-mss={}",
            encoded(&personal.record.key)
        ))
        .await,
        0
    );
    // Read by id, the structure shows its mailbox too.
    let r = fhir_get(&format!("{base}/Organization/{site}"), t).await;
    assert!(
        r.body["telecom"]
            .as_array()
            .expect("telecom")
            .iter()
            .any(|c| c["value"] == own.record.key.as_str())
    );
});

/// The records an index lookup of `param` for `value` finds among `kind`.
async fn found(store: &Store, kind: RecordKind, param: &'static str, value: Value2) -> usize {
    let lookup = Lookup::of(vec![param], vec![value]);
    store
        .by_index(&[kind], &lookup, None, 10_000)
        .await
        .expect("lookup")
        .0
        .len()
}

both_dbs!(
    schema_0007_indexes_authorities_and_structure_mailboxes,
    |db| async move {
        let (url, _dir) = crate::directory::store_url(db).await;
        let store = Store::connect(&url).await.expect("store");
        let (mut a, mut s, mut d, mut m, mut f, mut c) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        generate(
            5,
            30,
            9,
            Writers {
                activite: &mut a,
                savoir_faire: &mut s,
                diplome: &mut d,
                mssante: &mut m,
                finess: &mut f,
                cartes: &mut c,
            },
        )
        .expect("generate");
        for (name, bytes) in [("a", &a), ("m", &m)] {
            let mut out = Outcome::default();
            import_file(
                &store,
                name,
                bytes.as_slice(),
                true,
                1,
                &mut out,
                &mut |_, _| {},
            )
            .await
            .expect("import");
            assert!(out.rejected.is_empty(), "{out:?}");
        }
        let roles = all(&store, RecordKind::PractitionerRole).await.len();
        let cnom = || Value2::Token {
            system: Some(SYSTEM_R60.to_owned()),
            code: "CNOM".to_owned(),
        };
        let site = all(&store, RecordKind::Mailbox)
            .await
            .iter()
            .find_map(|m| mailbox_structure(&m.record).map(str::to_owned))
            .expect("a structure's mailbox");
        let at_site = || Value2::Token {
            system: Some(String::new()),
            code: site.clone(),
        };
        assert_eq!(
            found(&store, RecordKind::PractitionerRole, AUTHORITY, cnom()).await,
            roles
        );
        assert_eq!(
            found(&store, RecordKind::Mailbox, ORGANIZATION, at_site()).await,
            1
        );

        // A store of before schema 0007: its index without these rows, the file not applied.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        for statement in [
            "DELETE FROM directory_schema WHERE file = 7",
            "DELETE FROM directory_search WHERE param = 'authority' \
         OR (kind = 'mailbox' AND param = 'organization')",
        ] {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .expect(statement);
        }
        pool.close().await;
        assert_eq!(
            found(&store, RecordKind::PractitionerRole, AUTHORITY, cnom()).await,
            0
        );
        assert_eq!(
            found(&store, RecordKind::Mailbox, ORGANIZATION, at_site()).await,
            0
        );

        // Opened again: 0007 applied, the exercises and mailboxes indexed again.
        let store = Store::connect(&url).await.expect("store again");
        assert_eq!(
            found(&store, RecordKind::PractitionerRole, AUTHORITY, cnom()).await,
            roles
        );
        assert_eq!(
            found(&store, RecordKind::Mailbox, ORGANIZATION, at_site()).await,
            1
        );
        // Their other rows too (a professional's exercises by owner).
        let p = &all(&store, RecordKind::Practitioner).await[0];
        let owner = Value2::Token {
            system: Some(String::new()),
            code: p.record.key.clone(),
        };
        assert!(found(&store, RecordKind::PractitionerRole, OWNER, owner).await > 0);
    }
);
