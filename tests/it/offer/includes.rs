//! The includes of HealthcareService searches that reach the directory: the structures
//! (`_include=HealthcareService:organization`, by the FINESS of `providedBy`) and their legal
//! entities (`Organization:partof`), read from the directory's FHIR API (the real one, over
//! its generated extract, the offer's data generated for its structures as at a first
//! start); `/metadata` lists them only when the offer reaches a directory, and without one
//! they are refused.

use super::*;
use crate::both_dbs;
use crate::directory::fhir::{READER as DIRECTORY_CLIENT, import_generated, start_directory};
use coeur_directory::http::Access;
use coeur_offer::directory::DirectorySettings;
use std::collections::BTreeSet;

const FINESS: &str = "https://finess.esante.gouv.fr";

/// The FINESS values of an Organization.
fn finess_of(org: &Value) -> Vec<String> {
    org["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["system"] == FINESS)
        .filter_map(|i| i["value"].as_str().map(str::to_owned))
        .collect()
}

/// The included resources of a bundle, by full URL.
fn included(bundle: &Value) -> Vec<(String, Value)> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "include")
        .map(|e| {
            (
                e["fullUrl"].as_str().expect("fullUrl").to_owned(),
                e["resource"].clone(),
            )
        })
        .collect()
}

both_dbs!(
    offer_includes_structures_from_the_directory,
    |db| async move {
        let s = TestServer::start(db).await;
        client(&s, READER, &["offer:read"]).await;
        client(&s, DIRECTORY_CLIENT, &["directory:read"]).await;
        let (dstore, _ddir) = crate::directory::store(db).await;
        import_generated(&dstore).await;
        let dbase = start_directory(&s, dstore, Access::Tokens, GENEROUS).await;
        let directory = Arc::new(DirectoryClient::new(
            DirectorySettings {
                base_url: dbase.clone(),
                token_url: s.endpoint("edit", "token"),
                client_id: DIRECTORY_CLIENT.into(),
                client_secret: SECRET.into(),
            },
            reqwest::Client::new(),
            s.clock.clone(),
        ));
        // The offer's data for the directory's structures, as a first start makes it.
        let structures = directory.structures(1000).await.expect("structures");
        assert!(structures.len() >= 5, "{}", structures.len());
        let (store, _dir) = store(db).await;
        let (mut locations, mut services) = (vec![], vec![]);
        for st in &structures {
            let (l, v) = offer_of(st, 2, NOW);
            locations.extend(l);
            services.extend(v);
        }
        store
            .insert_offer(&locations, &services)
            .await
            .expect("fill");
        let base = start_offer(&s, store.clone(), &[READER], Some(directory)).await;
        let token = s
            .client_credentials_token("edit", READER, "offer:read")
            .await;
        let t = Some(token.as_str());

        let cap = get(&format!("{base}/metadata"), None).await.body;
        let resources = &cap["rest"][0]["resource"];
        assert_eq!(
            resources[1]["searchInclude"],
            json!([
                "HealthcareService:location",
                "HealthcareService:organization",
                "Organization:partof"
            ])
        );
        assert_eq!(
            resources[0]["searchRevInclude"],
            json!(["HealthcareService:location"])
        );

        // Every service's structure, once, from the directory.
        let b = get(
            &format!(
                "{base}/HealthcareService?_include=HealthcareService:organization&_count=1000"
            ),
            t,
        )
        .await;
        assert_eq!(b.status, 200, "{}", b.body);
        let want: BTreeSet<String> = services.iter().map(|v| v.finess.clone()).collect();
        let orgs = included(&b.body);
        assert_eq!(orgs.len(), want.len(), "each structure once");
        let mut got = BTreeSet::new();
        for (url, org) in &orgs {
            assert_eq!(org["resourceType"], "Organization");
            assert_eq!(
                *url,
                format!("{dbase}/Organization/{}", org["id"].as_str().unwrap())
            );
            let f = finess_of(org);
            let mine: Vec<&String> = f.iter().filter(|f| want.contains(*f)).collect();
            assert_eq!(mine.len(), 1, "{org}");
            got.insert(mine[0].clone());
        }
        assert_eq!(got, want);

        // A page of one service: its structure only, beside its location.
        let b = get(
            &format!(
                "{base}/HealthcareService?_count=1&_include=HealthcareService:organization\
             &_include=HealthcareService:location"
            ),
            t,
        )
        .await
        .body;
        let one = &b["entry"][0]["resource"];
        let finess = one["providedBy"]["identifier"]["value"]
            .as_str()
            .expect("FINESS");
        let kinds: Vec<String> = included(&b)
            .iter()
            .map(|(_, r)| r["resourceType"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds, ["Location", "Organization"]);
        assert!(finess_of(&included(&b)[1].1).iter().any(|f| f == finess));

        // With their legal entities: every structure's partOf among the included.
        let b = get(
            &format!(
                "{base}/HealthcareService?_include=HealthcareService:organization\
             &_include:iterate=Organization:partof&_count=1000"
            ),
            t,
        )
        .await;
        assert_eq!(b.status, 200, "{}", b.body);
        let all = included(&b.body);
        let urls: BTreeSet<&str> = all.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(urls.len(), all.len(), "each once");
        let mut legal = 0;
        for (_, org) in &orgs {
            if let Some(parent) = org["partOf"]["reference"].as_str() {
                assert!(
                    urls.contains(format!("{dbase}/{parent}").as_str()),
                    "{parent}"
                );
                legal += 1;
            }
        }
        assert!(legal > 0, "the generated structures have legal entities");
        assert!(all.len() > orgs.len());

        // Refused: partof alone, and the includes of resources the offer does not hold.
        for q in [
            "_include=Organization:partof",
            "_include=PractitionerRole:practitioner",
            "_revinclude=PractitionerRole:service",
            "_revinclude=Task:focus",
        ] {
            assert_outcome(
                &get(&format!("{base}/HealthcareService?{q}"), t).await,
                400,
                "invalid",
            );
        }

        // Without a directory: not listed, refused.
        let alone = start_offer(&s, store, &[READER], None).await;
        let cap = get(&format!("{alone}/metadata"), None).await.body;
        assert_eq!(
            cap["rest"][0]["resource"][1]["searchInclude"],
            json!(["HealthcareService:location"])
        );
        assert_outcome(
            &get(
                &format!("{alone}/HealthcareService?_include=HealthcareService:organization"),
                t,
            )
            .await,
            400,
            "not-supported",
        );
    }
);
