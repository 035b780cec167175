//! Imports of crafted extracts: Latin-1, bad check keys, missing columns, duplicate
//! identifiers, a truncated last line; idempotence and deactivation.

use super::store;
use crate::both_dbs;
use coeur_directory::generate::{Writers, generate};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::index;
use coeur_directory::record::RecordKind;
use coeur_directory::store::Store;
use coeur_directory::store::search::{Lookup, Value};

const NOW: i64 = 1_767_225_600;

pub(super) const PA_HEADER: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|Numéro FINESS établissement juridique|Identifiant technique de la structure|Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|Mention distribution (coord. structure)|Bureau cedex (coord. structure)|Code postal (coord. structure)|Code commune (coord. structure)|Libellé commune (coord. structure)|Code pays (coord. structure)|Libellé pays (coord. structure)|Téléphone (coord. structure)|Téléphone 2 (coord. structure)|Télécopie (coord. structure)|Adresse e-mail (coord. structure)|Code Département (structure)|Libellé Département (structure)|Ancien identifiant de la structure|Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|Code section tableau pharmaciens|Libellé section tableau pharmaciens|";

/// A 52-column row for RPPS `rpps` (with whatever key it has) and SIRET `siret`.
fn pa_row(rpps: &str, family: &str, given: &str, siret: &str, tech: &str) -> String {
    let mut f = vec![""; 52];
    f[0] = "8";
    f[1] = rpps;
    let idnat = format!("8{rpps}");
    f[2] = &idnat;
    f[3] = "DR";
    f[7] = family;
    f[8] = given;
    f[9] = "10";
    f[10] = "Médecin";
    f[17] = "S";
    f[19] = siret;
    f[23] = tech;
    f[35] = "75012";
    f[37] = "Paris";
    format!("{}|\n", f.join("|"))
}

async fn import(store: &Store, name: &str, bytes: &[u8], complete: bool, now: i64) -> Outcome {
    let mut out = Outcome::default();
    import_file(store, name, bytes, complete, now, &mut out, &mut |_, _| {})
        .await
        .expect("import");
    out
}

both_dbs!(crafted_personne_activite, |db| async move {
    let (store, _dir) = store(db).await;
    // Latin-1 text in one row, a wrong RPPS key, a wrong SIRET key, a duplicate exercise, a
    // row with a missing column and a truncated last line.
    let mut file = format!("{PA_HEADER}\n").into_bytes();
    file.extend_from_slice(
        pa_row("10001045367", "GUIGNARD", "ERIC", "85131528300016", "R1").as_bytes(),
    );
    let latin1: Vec<u8> = pa_row("99700218896", "LEFÈVRE", "HÉLÈNE", "", "R2")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    file.extend_from_slice(&latin1);
    file.extend_from_slice(pa_row("10001045368", "BAD", "KEY", "", "R3").as_bytes());
    file.extend_from_slice(
        pa_row("99700366240", "BAD", "SIRET", "85131528300017", "R4").as_bytes(),
    );
    file.extend_from_slice(
        pa_row("10001045367", "GUIGNARD", "ERIC", "85131528300016", "R1").as_bytes(),
    );
    file.extend_from_slice(b"8|99700427869|899700427869|DR|short row|\n");
    let truncated = pa_row("99700427869", "TRONQUE", "ZOE", "", "R5");
    file.extend_from_slice(&truncated.as_bytes()[..60]);

    let out = import(
        &store,
        "PS_LibreAcces_Personne_activite_202501010000.txt",
        &file,
        true,
        NOW,
    )
    .await;
    let lines: Vec<(u64, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.row.line, r.row.reason.as_str()))
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0].0, 4);
    assert!(lines[0].1.contains("wrong check key"), "{lines:?}");
    assert!(lines[1].1.contains("SIRET"), "{lines:?}");
    assert!(lines[2].1.contains("duplicate"), "{lines:?}");
    assert!(lines[3].1.contains("columns"), "{lines:?}");
    assert!(lines[4].1.starts_with("truncated last line"), "{lines:?}");
    assert!(
        out.rejected
            .iter()
            .all(|r| r.file.starts_with("PS_LibreAcces_Personne_activite"))
    );
    let s = &out.summary;
    assert_eq!((s.read, s.inserted, s.rejected), (7, 4, 5), "{s}");

    let p = store
        .get(RecordKind::Practitioner, "899700218896")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.record.get("Nom d'exercice"), "LEFÈVRE");
    assert_eq!(p.record.get("Prénom d'exercice"), "HÉLÈNE");
    assert!(p.active);

    // The same file again changes nothing.
    let again = import(&store, "again", &file, true, NOW + 10).await;
    assert_eq!(
        (
            again.summary.inserted,
            again.summary.updated,
            again.summary.unchanged
        ),
        (0, 0, 4)
    );
    let p2 = store
        .get(RecordKind::Practitioner, "899700218896")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p2, p);

    // A new complete extract without GUIGNARD and with LEFÈVRE renamed.
    let mut next = format!("{PA_HEADER}\n").into_bytes();
    next.extend_from_slice(pa_row("99700218896", "LEFEVRE", "HELENE", "", "R2").as_bytes());
    let out = import(&store, "next", &next, true, NOW + 100).await;
    let s = &out.summary;
    assert_eq!(
        (s.inserted, s.updated, s.unchanged, s.deactivated),
        (0, 1, 1, 2),
        "{s}"
    );
    let gone = store
        .get(RecordKind::Practitioner, "810001045367")
        .await
        .unwrap()
        .unwrap();
    assert!(!gone.active);
    assert_eq!(gone.deactivated_at, Some(NOW + 100));
    assert_eq!(
        store.count(RecordKind::Practitioner, true).await.unwrap(),
        1
    );
    assert_eq!(
        store.count(RecordKind::Practitioner, false).await.unwrap(),
        2
    );
    let changed = store
        .changed_since(RecordKind::Practitioner, p.version, 10)
        .await
        .unwrap();
    assert_eq!(changed.len(), 2);

    // The search index follows: the renamed professional under the new folded name only,
    // the deactivated one still found (active=false searches) with its new version.
    let family = |prefix: &str| Lookup::of(vec![index::FAMILY], vec![Value::Prefix(prefix.into())]);
    let kinds = [RecordKind::Practitioner];
    let (found, more) = store
        .by_index(&kinds, &family("lefevre"), None, 10)
        .await
        .unwrap();
    assert!(more.is_none());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.record.get("Nom d'exercice"), "LEFEVRE");
    let renamed = store
        .get(RecordKind::Practitioner, "899700218896")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found[0].1.version, renamed.version);
    let (found, _) = store
        .by_index(&kinds, &family("guig"), None, 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].1.active, found[0].1.version),
        (false, gone.version)
    );
    let (after, _) = store
        .by_index(&kinds, &family("guig"), Some(&found[0].0), 10)
        .await
        .unwrap();
    assert!(
        after.is_empty(),
        "keyset paging: nothing after the last position"
    );
    let rpps = Lookup::of(
        vec![index::IDENTIFIER],
        vec![Value::Token {
            system: Some(coeur_directory::fhir::map::SYSTEM_RPPS.into()),
            code: "99700218896".into(),
        }],
    );
    let (found, _) = store.by_index(&kinds, &rpps, None, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    let roles = store
        .owned_by_any(&[RecordKind::PractitionerRole], &["899700218896"], None)
        .await
        .unwrap();
    assert_eq!(roles.len(), 1);
    assert!(roles[0].record.fields.len() > 2, "every field");
    // Only some fields: those named (the site's FINESS number is empty: not stored), the
    // others not read.
    let only = [
        "Code profession",
        "Numéro FINESS site",
        "Libellé commune (coord. structure)",
    ];
    let part = store
        .owned_by_any(
            &[RecordKind::PractitionerRole],
            &["899700218896"],
            Some(&only),
        )
        .await
        .unwrap();
    assert_eq!(part.len(), 1);
    let kept: Vec<&str> = part[0].record.fields.keys().map(|k| k.as_ref()).collect();
    assert_eq!(
        kept,
        ["Code profession", "Libellé commune (coord. structure)"]
    );
    assert_eq!(
        part[0].record.get("Code profession"),
        roles[0].record.get("Code profession")
    );
    assert_eq!(
        (part[0].version, part[0].active),
        (roles[0].version, roles[0].active)
    );
});

both_dbs!(missing_columns_skip_the_file, |db| async move {
    let (store, _dir) = store(db).await;
    let header = PA_HEADER.replace("Numéro SIRET site|", "");
    let out = import(&store, "broken.txt", header.as_bytes(), true, NOW).await;
    assert_eq!(out.skipped.len(), 1);
    assert!(
        out.skipped[0].1.contains("Numéro SIRET site"),
        "{:?}",
        out.skipped
    );
});

both_dbs!(finess_latin1_semicolons_and_duplicates, |db| async move {
    let (store, _dir) = store(db).await;
    let header = coeur_directory::extract::columns::FINESS.join(";");
    let row = |et: &str, ej: &str, rs: &str| {
        let mut f = vec![String::new(); 42];
        f[0] = et.into();
        f[1] = ej.into();
        f[2] = rs.into();
        f[16] = "01000".into();
        f[26] = "26010004500012".into();
        f.join(";")
    };
    let text = [
        header,
        row("010000024", "010780054", "CH DE FLEYRIAT À BOURG"),
        row("010000025", "010780054", "BAD KEY"),
        row("010000024", "010780054", "DUPLICATE"),
    ]
    .join("\n");
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let out = import(&store, "finess.csv", &bytes, true, NOW).await;
    assert_eq!(out.summary.inserted, 2, "{}", out.summary);
    assert_eq!(out.rejected.len(), 2, "{:?}", out.rejected);
    let et = store
        .get(RecordKind::Establishment, "010000024")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(et.record.get("rs"), "CH DE FLEYRIAT À BOURG");
    assert!(
        store
            .get(RecordKind::LegalEntity, "010780054")
            .await
            .unwrap()
            .is_some()
    );
});

both_dbs!(generated_extracts_import_cleanly, |db| async move {
    let (store, _dir) = store(db).await;
    let (mut a, mut s, mut d, mut m, mut f, mut c) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    generate(
        7,
        120,
        15,
        Writers {
            activite: &mut a,
            savoir_faire: &mut s,
            diplome: &mut d,
            mssante: &mut m,
            finess: &mut f,
            cartes: &mut c,
        },
    )
    .unwrap();
    let mut total = Outcome::default();
    for (name, bytes) in [
        ("a", &a),
        ("s", &s),
        ("d", &d),
        ("m", &m),
        ("f", &f),
        ("c", &c),
    ] {
        let out = import(&store, name, bytes, true, NOW).await;
        assert!(
            out.rejected.is_empty() && out.skipped.is_empty(),
            "{name}: {:?}",
            out.rejected
        );
        total.summary.inserted += out.summary.inserted;
    }
    assert_eq!(
        store.count(RecordKind::Practitioner, true).await.unwrap(),
        120
    );
    assert_eq!(
        store.count(RecordKind::Establishment, true).await.unwrap(),
        15
    );
    // Every other professional's CPS card.
    assert_eq!(store.count(RecordKind::Card, true).await.unwrap(), 60);
    let cards = import(&store, "c", &c, true, NOW + 1).await;
    assert_eq!(
        (cards.summary.inserted, cards.summary.updated),
        (0, 0),
        "a card extract imported again changes nothing"
    );
    let again = import(&store, "a", &a, true, NOW + 1).await;
    assert_eq!(
        (
            again.summary.inserted,
            again.summary.updated,
            again.summary.deactivated
        ),
        (0, 0, 0)
    );
});

both_dbs!(zip_archives_and_plain_text, |db| async move {
    use coeur_directory::generate::zip_extract;
    use coeur_directory::import::import_input;
    use std::io::Cursor;
    let (store, _dir) = store(db).await;
    let (mut a, mut s, mut d, mut m, mut f, mut c) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    generate(
        11,
        40,
        5,
        Writers {
            activite: &mut a,
            savoir_faire: &mut s,
            diplome: &mut d,
            mssante: &mut m,
            finess: &mut f,
            cartes: &mut c,
        },
    )
    .unwrap();
    let archive = zip_extract(
        "PS_LibreAcces_Personne_activite_202501010000.txt",
        &mut &a[..],
        Cursor::new(vec![]),
    )
    .unwrap()
    .into_inner();
    assert_eq!(&archive[..4], b"PK\x03\x04");
    assert!(archive.len() < a.len(), "deflated");

    // A truncated archive (no central directory): an error, nothing written.
    let mut out = Outcome::default();
    let cut = Cursor::new(archive[..archive.len() / 2].to_vec());
    let e = import_input(&store, "cut.zip", cut, true, NOW, &mut out, &mut |_, _| {})
        .await
        .expect_err("a truncated archive");
    assert!(format!("{e:#}").contains("ZIP"), "{e:#}");
    assert_eq!(
        store.count(RecordKind::Practitioner, false).await.unwrap(),
        0
    );

    // The archive: its one file imported, named after the archive and the entry.
    let mut out = Outcome::default();
    let kinds = import_input(
        &store,
        "pa.zip",
        Cursor::new(archive.clone()),
        true,
        NOW,
        &mut out,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(kinds.len(), 1);
    assert!(out.rejected.is_empty() && out.skipped.is_empty());
    assert_eq!(
        store.count(RecordKind::Practitioner, true).await.unwrap(),
        40
    );
    let inserted = out.summary.inserted;
    assert!(inserted > 40, "{}", out.summary);

    // The same extract as plain text: nothing changes.
    let mut again = Outcome::default();
    import_input(
        &store,
        "pa.txt",
        Cursor::new(a.clone()),
        true,
        NOW + 1,
        &mut again,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (
            again.summary.unchanged,
            again.summary.inserted,
            again.summary.updated
        ),
        (inserted, 0, 0)
    );

    // Damaged deflate data: the import stops with an error instead of reading garbage.
    let mut bad = archive.clone();
    let middle = bad.len() / 2;
    for b in &mut bad[middle..middle + 30] {
        *b ^= 0x5a;
    }
    let mut out = Outcome::default();
    let r = import_input(
        &store,
        "bad.zip",
        Cursor::new(bad),
        true,
        NOW + 2,
        &mut out,
        &mut |_, _| {},
    )
    .await;
    assert!(
        r.is_err() || !out.rejected.is_empty() || !out.skipped.is_empty(),
        "damage must not pass unnoticed: {}",
        out.summary
    );
    assert_eq!(
        store.count(RecordKind::Practitioner, true).await.unwrap(),
        40,
        "nothing deactivated by a damaged archive"
    );
});
