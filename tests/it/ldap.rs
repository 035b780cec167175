//! LDAP publication against a real OpenLDAP slapd: CA entries and CRLs byte-identical to the
//! store (read with ldap3 and with the `ldapsearch` CLI), the LDAP URLs written into
//! certificates resolving to them, holders' entries after issuance and after revocation, a
//! directory outage in the middle of a burst, reconciliation, status and metrics.

use crate::both_dbs;
use crate::support::slapd::{ROOT_DN, ROOT_PW, SUFFIX, Slapd};
use crate::support::{Db, NATIONAL_ID, TestServer, realms_dir};
use coeur::ca::ldap::outbox;
use coeur::common::random::Clock as _;
use coeur::pki::csr::{self, SubjectRequest};
use coeur::pki::hierarchy::KeyType;
use coeur::pki::revocation::Reason;
use ldap3::{LdapConnAsync, Mod, Scope, SearchEntry};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PER: &str = "MOD-EL-PER-TEST";
const ORG: &str = "MOD-EL-ORG-TEST";
const SIRET: &str = "318751275100020";
const FINESS: &str = "1010000024";

fn tree() -> String {
    format!("ou=IGC-SANTE TEST,ou=0002 000000000,{SUFFIX}")
}

async fn start(db: Db, slapd: &Slapd) -> TestServer {
    let url = slapd.url.clone();
    TestServer::start_with(db, &realms_dir(), move |o| {
        o.common.ldap_url = Some(url);
        o.common.ldap_bind_dn = Some(ROOT_DN.into());
        o.secrets.ldap_bind_password = Some(ROOT_PW.into());
        o.common.ldap_base_dn = Some(SUFFIX.into());
    })
    .await
}

/// One P-256 key for every test certificate (the CA does not care).
fn spki() -> Vec<u8> {
    static K: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        rcgen::PublicKeyData::subject_public_key_info(&kp)
    })
    .clone()
}

async fn issue(
    s: &TestServer,
    ca_id: &str,
    profile: &str,
    req: &SubjectRequest,
) -> (String, Vec<u8>) {
    let ca = &s.state.ca.ca;
    let p = ca.profile(profile).expect("profile");
    let def = &ca.ca(ca_id).expect("ca").def;
    let approved = csr::approve_key(&spki(), KeyType::P256, req, p, def).expect("approved");
    // Concurrent issuers contend for the audit chain; like any API client, retry a refusal.
    let mut last = None;
    for _ in 0..5 {
        match ca
            .issue(
                &*s.state.rng,
                &coeur::ca::ca::Issuance {
                    approved: &approved,
                    ca_id,
                    profile,
                    actor: "test",
                    request: None,
                },
                s.clock.now(),
            )
            .await
        {
            Ok(r) => return r,
            Err(e) => last = Some(e),
        }
    }
    panic!("issuance failed: {last:?}")
}

fn person() -> SubjectRequest {
    SubjectRequest {
        national_id: Some(NATIONAL_ID.into()),
        family_name: Some("MARTIN".into()),
        given_name: Some("JEANNE".into()),
        title: Some("Médecin".into()),
        ..Default::default()
    }
}

fn service(structure: &str, name: &str) -> SubjectRequest {
    SubjectRequest {
        structure_id: Some(structure.into()),
        organization: Some("HOPITAL DE TEST, SITE NORD".into()),
        state: Some("Paris (75)".into()),
        service_name: Some(name.into()),
        ..Default::default()
    }
}

fn server_cert() -> SubjectRequest {
    SubjectRequest {
        structure_id: Some(SIRET.into()),
        organization: Some("HOPITAL DE TEST".into()),
        state: Some("Paris (75)".into()),
        dns_names: vec!["srv.hopital-test.fr".into()],
        ..Default::default()
    }
}

fn mailbox() -> SubjectRequest {
    SubjectRequest {
        structure_id: Some(SIRET.into()),
        organization: Some("HOPITAL DE TEST".into()),
        state: Some("Paris (75)".into()),
        emails: vec!["secretariat@hopital-test.mssante.fr".into()],
        ..Default::default()
    }
}

async fn wait_drained(s: &TestServer, within: Duration) {
    let t0 = Instant::now();
    loop {
        let q = outbox::status(&s.ca.store, s.clock.now())
            .await
            .expect("status");
        if q.pending == 0 {
            return;
        }
        assert!(
            t0.elapsed() < within,
            "outbox not drained after {within:?}: {q:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ldap(slapd: &Slapd) -> ldap3::Ldap {
    let (conn, mut l) = LdapConnAsync::new(&slapd.url).await.expect("connect");
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    l.simple_bind(ROOT_DN, ROOT_PW)
        .await
        .expect("bind")
        .success()
        .expect("bind ok");
    l
}

/// The values of `attr` on `dn` (`None`: no such entry).
async fn read(l: &mut ldap3::Ldap, dn: &str, attr: &str) -> Option<Vec<Vec<u8>>> {
    let res = l
        .search(dn, Scope::Base, "(objectClass=*)", vec![attr])
        .await
        .expect("search");
    if res.1.rc == 32 {
        return None;
    }
    let (entries, _) = res.success().expect("search ok");
    let e = SearchEntry::construct(entries.into_iter().next()?);
    let key = attr.to_ascii_lowercase();
    let mut out = Vec::new();
    for (k, v) in e.bin_attrs {
        if k.to_ascii_lowercase() == key {
            out.extend(v);
        }
    }
    for (k, v) in e.attrs {
        if k.to_ascii_lowercase() == key {
            out.extend(v.into_iter().map(String::into_bytes));
        }
    }
    Some(out)
}

/// Every certificate value below `base`, by entry DN.
async fn all_certs(l: &mut ldap3::Ldap, base: &str) -> HashMap<String, Vec<Vec<u8>>> {
    let res = l
        .search(
            base,
            Scope::Subtree,
            "(userCertificate=*)",
            vec!["userCertificate;binary"],
        )
        .await
        .expect("search");
    if res.1.rc == 32 {
        return HashMap::new();
    }
    let (entries, _) = res.success().expect("search ok");
    entries
        .into_iter()
        .map(|e| {
            let e = SearchEntry::construct(e);
            let vals: Vec<Vec<u8>> = e.bin_attrs.into_values().flatten().collect();
            (e.dn, vals)
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 3 <= b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// URIs ([6] IA5String) inside a DER value, such as CRLDistributionPoints.
fn uris(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(i) = b.iter().position(|x| *x == 0x86) {
        b = &b[i + 1..];
        let (len, skip) = match b.first() {
            Some(l) if *l < 0x80 => (usize::from(*l), 1),
            Some(0x81) if b.len() > 1 => (usize::from(b[1]), 2),
            Some(0x82) if b.len() > 2 => (usize::from(b[1]) << 8 | usize::from(b[2]), 3),
            _ => continue,
        };
        if let Some(v) = b.get(skip..skip + len)
            && let Ok(u) = std::str::from_utf8(v)
            && u.contains("://")
        {
            out.push(u.to_owned());
            b = &b[skip + len..];
        }
    }
    out
}

/// The LDAP URLs of a certificate's CRL distribution points and freshest CRL: (DN, attribute).
fn ldap_urls(der: &[u8]) -> Vec<(String, String)> {
    use x509_parser::prelude::FromDer as _;
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der).expect("cert");
    let mut out = Vec::new();
    for ext in c.extensions() {
        let oid = ext.oid.to_id_string();
        if oid != "2.5.29.31" && oid != "2.5.29.46" {
            continue;
        }
        for u in uris(ext.value) {
            let Some(rest) = u.strip_prefix("ldap://") else {
                continue;
            };
            let (_, path) = rest.split_once('/').expect("dn");
            let mut parts = path.split('?');
            let dn = percent_decode(parts.next().expect("dn"));
            let attr = parts.next().expect("attr").to_owned();
            assert_eq!(parts.next(), Some("base"));
            assert_eq!(parts.next(), Some("objectClass=pkiCA"));
            out.push((dn, attr));
        }
    }
    out
}

both_dbs!(publishes_and_withdraws, |db: Db| async move {
    let slapd = Slapd::start();
    let s = start(db, &slapd).await;
    let publisher = coeur::ca::ldap::spawn(&s.ca).expect("LDAP is configured");
    let store = &s.ca.store;
    let ca = &s.state.ca.ca;
    let now = s.clock.now();
    let (p_serial, p_der) = issue(&s, PER, "CPS_AUTH", &person()).await;
    let (_, o_der) = issue(&s, ORG, "SSL_SERV", &server_cert()).await;
    let (_, m_der) = issue(&s, ORG, "SMIME_MSS", &mailbox()).await;
    build_all_crls(&s).await;
    wait_drained(&s, Duration::from_secs(20)).await;
    let mut l = ldap(&slapd).await;

    // Every CA entry: certificate, CRL and delta CRL byte-identical to the store.
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort();
    assert_eq!(ids.len(), 9, "the TEST twins run");
    for id in ids {
        let rt = &ca.cas[id];
        let dn = ca.hierarchy.ldap_dn(&rt.def);
        assert!(dn.ends_with(&tree()), "{dn}");
        let crl = stored_crl(&s, id, false).await;
        let delta = stored_crl(&s, id, true).await;
        assert_eq!(
            read(&mut l, &dn, "cACertificate;binary").await,
            Some(vec![rt.cert_der.clone()]),
            "{id}"
        );
        assert_eq!(
            read(&mut l, &dn, "certificateRevocationList;binary").await,
            Some(vec![crl.clone()]),
            "{id}"
        );
        assert_eq!(
            read(&mut l, &dn, "deltaRevocationList;binary").await,
            Some(vec![delta.clone()]),
            "{id}"
        );
        let ldif = slapd.ldapsearch(
            &dn,
            "base",
            "(objectClass=pkiCA)",
            &[
                "cACertificate;binary",
                "certificateRevocationList;binary",
                "deltaRevocationList;binary",
            ],
        );
        assert_eq!(
            Slapd::ldif_values(&ldif, "cACertificate;binary"),
            vec![rt.cert_der.clone()],
            "{id}"
        );
        assert_eq!(
            Slapd::ldif_values(&ldif, "certificateRevocationList;binary"),
            vec![crl],
            "{id}"
        );
        assert_eq!(
            Slapd::ldif_values(&ldif, "deltaRevocationList;binary"),
            vec![delta],
            "{id}"
        );
    }

    // The LDAP URLs written into a certificate name these entries and attributes.
    let urls = ldap_urls(&p_der);
    assert_eq!(urls.len(), 2, "{urls:?}");
    for (dn, attr) in &urls {
        let delta = attr.starts_with("deltaRevocationList");
        let file = stored_crl(&s, PER, delta).await;
        assert_eq!(
            read(&mut l, dn, attr).await,
            Some(vec![file]),
            "{dn}?{attr}"
        );
    }

    // Holders: the person by IdNat, the server under its structure, the mailbox by address.
    let person_dn = format!("cn={NATIONAL_ID},ou=Personnes,{}", tree());
    let server_dn = format!("cn=srv.hopital-test.fr,ou={SIRET},ou=Structures,{}", tree());
    let mailbox_dn = format!(
        "mail=secretariat@hopital-test.mssante.fr,ou={SIRET},ou=Structures,{}",
        tree()
    );
    assert_eq!(
        read(&mut l, &person_dn, "userCertificate;binary").await,
        Some(vec![p_der.clone()])
    );
    assert_eq!(
        read(&mut l, &server_dn, "userCertificate;binary").await,
        Some(vec![o_der.clone()])
    );
    assert_eq!(
        read(&mut l, &mailbox_dn, "userCertificate;binary").await,
        Some(vec![m_der])
    );
    let ldif = slapd.ldapsearch(
        &person_dn,
        "base",
        "(objectClass=inetOrgPerson)",
        &["userCertificate;binary", "sn", "givenName"],
    );
    assert_eq!(
        Slapd::ldif_values(&ldif, "userCertificate;binary"),
        vec![p_der.clone()]
    );
    assert_eq!(Slapd::ldif_values(&ldif, "sn"), vec![b"MARTIN".to_vec()]);
    let structure = read(
        &mut l,
        &format!("ou={SIRET},ou=Structures,{}", tree()),
        "st",
    )
    .await;
    assert_eq!(structure, Some(vec![b"Paris (75)".to_vec()]));

    // Revocation: the certificate leaves its holder's entry (empty, so gone), the CRL and the
    // delta CRL are replaced.
    ca.revoke(store, PER, &p_serial, Reason::KeyCompromise, "test", now)
        .await
        .expect("revoke");
    ca.current_crl(store, PER, false, now).await.expect("crl");
    wait_drained(&s, Duration::from_secs(20)).await;
    assert_eq!(
        read(&mut l, &person_dn, "userCertificate;binary").await,
        None
    );
    assert!(
        slapd
            .ldapsearch(&person_dn, "base", "(objectClass=*)", &["cn"])
            .trim()
            .is_empty()
    );
    assert_eq!(
        read(&mut l, &server_dn, "userCertificate;binary").await,
        Some(vec![o_der])
    );
    let dn = ca.hierarchy.ldap_dn(&ca.cas[PER].def);
    let crl = stored_crl(&s, PER, false).await;
    let delta = stored_crl(&s, PER, true).await;
    assert_eq!(
        read(&mut l, &dn, "certificateRevocationList;binary").await,
        Some(vec![crl.clone()])
    );
    assert_eq!(
        read(&mut l, &dn, "deltaRevocationList;binary").await,
        Some(vec![delta])
    );
    {
        use x509_parser::prelude::FromDer as _;
        let (_, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&crl).expect("crl");
        assert!(
            parsed
                .iter_revoked_certificates()
                .any(|r| coeur::ca::ca::serial_hex(r.raw_serial()) == p_serial),
            "the published CRL lists the revoked certificate"
        );
    }
    publisher.stop().await;
});

both_dbs!(outage_during_burst_converges, |db: Db| async move {
    let slapd = Arc::new(Slapd::start());
    let s = Arc::new(start(db, &slapd).await);
    let publisher = coeur::ca::ldap::spawn(&s.ca).expect("LDAP is configured");
    wait_drained(&s, Duration::from_secs(20)).await;
    let t0 = Instant::now();
    let issued = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (s, issued) = (s.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..250 {
                let structure = if i % 2 == 0 { SIRET } else { FINESS };
                let r = issue(
                    &s,
                    ORG,
                    "ORG_AUTH_CLI",
                    &service(structure, &format!("svc-{t}-{i}")),
                )
                .await;
                issued.fetch_add(1, Ordering::SeqCst);
                out.push(r);
            }
            out
        }));
    }
    while issued.load(Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    slapd.kill();
    let failures_before = failures_total(&s).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let q = outbox::status(&s.ca.store, s.clock.now())
        .await
        .expect("status");
    assert!(
        q.pending > 0,
        "rows wait while the directory is down: {q:?}"
    );
    assert!(
        failures_total(&s).await > failures_before,
        "the outage is counted"
    );
    let sl = slapd.clone();
    tokio::task::spawn_blocking(move || sl.restart())
        .await
        .expect("restart");
    let mut certs = Vec::new();
    for t in tasks {
        certs.extend(t.await.expect("issuer task"));
    }
    assert_eq!(certs.len(), 1000);
    wait_drained(&s, Duration::from_secs(60)).await;
    eprintln!(
        "{db:?}: 1000 issuances with an outage published in {:?}",
        t0.elapsed()
    );

    // Nothing lost, nothing duplicated: exactly the 1,000 certificates, once each.
    let mut l = ldap(&slapd).await;
    let found = all_certs(&mut l, &format!("ou=Structures,{}", tree())).await;
    let values: Vec<&Vec<u8>> = found.values().flatten().collect();
    if values.len() != 1000 {
        for (dn, v) in &found {
            if v.len() != 1 {
                eprintln!("{dn}: {} values", v.len());
            }
        }
        let wanted: HashSet<&Vec<u8>> = certs.iter().map(|(_, d)| d).collect();
        for (dn, v) in &found {
            for x in v {
                if !wanted.contains(x) {
                    eprintln!("unexpected value on {dn}");
                }
            }
        }
    }
    assert_eq!(values.len(), 1000, "one value per certificate");
    let distinct: HashSet<&Vec<u8>> = values.iter().copied().collect();
    assert_eq!(distinct.len(), 1000);
    let wanted: HashSet<&Vec<u8>> = certs.iter().map(|(_, d)| d).collect();
    assert_eq!(distinct, wanted);
    assert_eq!(found.len(), 1000, "one entry per service");
    let done: i64 = sqlx::Row::get(
        &sqlx::query(
            "SELECT COUNT(*) AS n FROM ldap_outbox WHERE id LIKE 'issue:%' AND done_at IS NOT NULL",
        )
        .fetch_one(s.state.store.db().pool())
        .await
        .expect("count"),
        "n",
    );
    // Every issuance row was delivered (the server's own TLS certificates, issued in the
    // background at start, have no place in the directory but are delivered all the same).
    let stored: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM certificates")
            .fetch_one(s.state.store.db().pool())
            .await
            .expect("count"),
        "n",
    );
    assert_eq!(done, stored);
    assert!(done >= 1000);
    publisher.stop().await;
});

/// What the server's housekeeping does at start: a CRL and a delta CRL for every CA.
async fn build_all_crls(s: &TestServer) {
    let ca = &s.state.ca.ca;
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort();
    for id in ids {
        ca.current_crl(&s.ca.store, id, false, s.clock.now())
            .await
            .expect("crls");
    }
}

async fn failures_total(s: &TestServer) -> u64 {
    metric(s, "coeur_ldap_publish_failures_total").await
}

async fn metric(s: &TestServer, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", s.admin_base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
        .trim()
        .parse()
        .expect("number")
}

both_dbs!(reconcile_repairs_the_directory, |db: Db| async move {
    let slapd = Slapd::start();
    let s = start(db, &slapd).await;
    let publisher = coeur::ca::ldap::spawn(&s.ca).expect("LDAP is configured");
    let store = &s.ca.store;
    let ca = &s.state.ca.ca;
    let now = s.clock.now();
    build_all_crls(&s).await;
    let (_, a) = issue(&s, ORG, "ORG_SIGN", &service(SIRET, "cachet-a")).await;
    let (b_serial, _) = issue(&s, ORG, "ORG_SIGN", &service(SIRET, "cachet-b")).await;
    let (_, c) = issue(&s, ORG, "ORG_SIGN", &service(FINESS, "cachet-c")).await;
    wait_drained(&s, Duration::from_secs(20)).await;
    publisher.stop().await;
    let dn = |sid: &str, n: &str| format!("cn={n},ou={sid},ou=Structures,{}", tree());
    let mut l = ldap(&slapd).await;

    // Damage: an entry deleted by hand, a CRL attribute dropped, a revocation the directory
    // never heard of, a certificate nobody issued.
    l.delete(&dn(SIRET, "cachet-a"))
        .await
        .expect("delete")
        .success()
        .expect("deleted");
    let org_dn = ca.hierarchy.ldap_dn(&ca.cas[ORG].def);
    l.modify(
        &org_dn,
        vec![Mod::Delete(
            "certificateRevocationList;binary",
            HashSet::new(),
        )],
    )
    .await
    .expect("modify")
    .success()
    .expect("dropped");
    sqlx::query(
        "UPDATE certificates SET revoked_at = $1, reason = 1 WHERE ca_id = $2 AND serial = $3",
    )
    .bind(now)
    .bind(ORG)
    .bind(&b_serial)
    .execute(store.pool())
    .await
    .expect("revoked behind the publisher's back");
    let stranger = rcgen::CertificateParams::new(vec!["stranger.example.fr".into()])
        .expect("params")
        .self_signed(&rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key"))
        .expect("self-signed")
        .der()
        .to_vec();
    l.modify(
        &dn(FINESS, "cachet-c"),
        vec![Mod::Add(
            b"userCertificate;binary".to_vec(),
            HashSet::from([stranger.clone()]),
        )],
    )
    .await
    .expect("modify")
    .success()
    .expect("added");

    let d = coeur::ca::ldap::connect_cli(s.app.cfg.ldap.as_ref())
        .await
        .expect("connect");
    let dry = coeur::ca::ldap::reconcile::reconcile(ca, store, &d, now, true)
        .await
        .expect("dry run");
    assert_eq!(
        (dry.added, dry.removed, dry.ca_attrs_fixed),
        (1, 2, 1),
        "{dry:?}"
    );
    assert_eq!(
        read(&mut l, &dn(SIRET, "cachet-a"), "cn").await,
        None,
        "a dry run writes nothing"
    );

    let r = coeur::ca::ldap::reconcile::reconcile(ca, store, &d, now, false)
        .await
        .expect("reconcile");
    assert_eq!((r.added, r.removed, r.ca_attrs_fixed), (1, 2, 1), "{r:?}");
    assert_eq!(
        read(&mut l, &dn(SIRET, "cachet-a"), "userCertificate;binary").await,
        Some(vec![a])
    );
    assert_eq!(
        read(&mut l, &dn(SIRET, "cachet-b"), "userCertificate;binary").await,
        None
    );
    assert_eq!(
        read(&mut l, &dn(FINESS, "cachet-c"), "userCertificate;binary").await,
        Some(vec![c])
    );
    let crl = stored_crl(&s, ORG, false).await;
    assert_eq!(
        read(&mut l, &org_dn, "certificateRevocationList;binary").await,
        Some(vec![crl])
    );

    let again = coeur::ca::ldap::reconcile::reconcile(ca, store, &d, now, false)
        .await
        .expect("again");
    assert_eq!(
        (again.added, again.removed, again.ca_attrs_fixed),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.in_place, 2);
});

both_dbs!(off_until_configured, |db: Db| async move {
    let s = TestServer::start(db).await;
    assert!(s.app.cfg.ldap.is_none());
    assert!(
        coeur::ca::ldap::spawn(&s.ca).is_none(),
        "no publisher without --ldap-url"
    );
    let before = outbox::status(&s.ca.store, s.clock.now())
        .await
        .expect("status")
        .pending;
    let (serial, _) = issue(&s, PER, "CPS_SIGN", &person()).await;
    // Rows are kept while publication is off, so that turning it on publishes the history.
    let q = outbox::status(&s.ca.store, s.clock.now())
        .await
        .expect("status");
    // (The server's own TLS certificates may be issued in the background meanwhile.)
    assert!(q.pending > before, "{q:?}");
    let rows = outbox::due(&s.ca.store, i64::MAX, 10_000)
        .await
        .expect("rows");
    assert!(rows.iter().any(|r| r.id == format!("issue:{PER}/{serial}")));
    assert!(q.oldest_pending_at.is_some());
    assert_eq!(metric(&s, "coeur_ldap_publication_enabled").await, 0);
    assert!(
        metric(&s, "coeur_ldap_outbox_pending").await >= u64::try_from(q.pending).expect("count")
    );
});

/// The CRL of `id` (full, or the delta) as the store holds it.
async fn stored_crl(s: &TestServer, id: &str, delta: bool) -> Vec<u8> {
    s.ca.ca
        .stored_crl(&s.ca.store, id, delta)
        .await
        .expect("CRL")
        .expect("a CRL in the store")
        .to_vec()
}
