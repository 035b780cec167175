use super::*;
use crate::hierarchy::{Eku, KeyUsage};

fn profile(san: SanKind, subject: SubjectKind) -> Profile {
    Profile {
        id: "P".into(),
        description: String::new(),
        domain: Domain::Organisations,
        validity_days: 365,
        key_types: vec![KeyType::P256, KeyType::Rsa2048],
        key_usage: vec![KeyUsage::DigitalSignature],
        extended_key_usage: vec![Eku::ServerAuth],
        subject,
        san,
    }
}
fn ca() -> CaDef {
    CaDef {
        id: "C".into(),
        parent: Some("R".into()),
        cn: "C".into(),
        domain: Some(Domain::Organisations),
        key: KeyType::P256,
        validity_days: 10,
        test: true,
    }
}
fn csr(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
    let kp = rcgen::KeyPair::generate_for(alg).unwrap();
    rcgen::CertificateParams::new(vec!["ignored.example".to_string()])
        .unwrap()
        .serialize_request(&kp)
        .unwrap()
        .der()
        .to_vec()
}
fn req() -> SubjectRequest {
    SubjectRequest {
        structure_id: Some("318751275100020".into()),
        organization: Some("HOPITAL TEST".into()),
        state: Some("Paris (75)".into()),
        dns_names: vec!["srv.hopital.example".into()],
        ..Default::default()
    }
}

#[test]
fn accepts_and_builds_subject() {
    let a = check(
        &csr(&rcgen::PKCS_ECDSA_P256_SHA256),
        &req(),
        &profile(SanKind::Dns, SubjectKind::Organisation),
        &ca(),
    )
    .unwrap();
    assert_eq!(a.dns, vec!["srv.hopital.example"]);
    assert!(a.subject_text.contains("OU=318751275100020"));
}

#[test]
fn refusals() {
    let p = profile(SanKind::Dns, SubjectKind::Organisation);
    let mut bad = csr(&rcgen::PKCS_ECDSA_P256_SHA256);
    let n = bad.len();
    bad[n - 3] ^= 0x55;
    assert!(matches!(
        check(&bad, &req(), &p, &ca()),
        Err(CsrError::BadSignature | CsrError::Malformed)
    ));
    let p384 = csr(&rcgen::PKCS_ECDSA_P384_SHA384);
    assert!(matches!(
        check(&p384, &req(), &p, &ca()),
        Err(CsrError::KeyNotAllowed { .. })
    ));
    let mut r = req();
    r.structure_id = Some("318751275100021".into());
    assert!(matches!(
        check(&csr(&rcgen::PKCS_ECDSA_P256_SHA256), &r, &p, &ca()),
        Err(CsrError::ForbiddenName(_))
    ));
    let mut r = req();
    r.dns_names = vec!["bad..name".into()];
    assert!(matches!(
        check(&csr(&rcgen::PKCS_ECDSA_P256_SHA256), &r, &p, &ca()),
        Err(CsrError::ForbiddenName(_))
    ));
    let mut personnes = ca();
    personnes.domain = Some(Domain::Personnes);
    assert!(matches!(
        check(&csr(&rcgen::PKCS_ECDSA_P256_SHA256), &req(), &p, &personnes),
        Err(CsrError::WrongCa { .. })
    ));
}

/// The policy's answer for `req` on a P-256 key (no CSR: the key is taken as proven).
fn approve(req: &SubjectRequest, p: &Profile) -> Result<CsrApproved, CsrError> {
    approve_key(b"spki", KeyType::P256, req, p, &ca())
}

fn why(r: Result<CsrApproved, CsrError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn domain_and_key_type() {
    let p = profile(SanKind::Dns, SubjectKind::Organisation);
    let mut persons = ca();
    persons.domain = Some(Domain::Personnes);
    assert_eq!(
        why(approve_key(b"k", KeyType::P256, &req(), &p, &persons)),
        "profile P is not issued by CA C"
    );
    let mut root = ca();
    root.domain = None;
    assert!(matches!(
        approve_key(b"k", KeyType::P256, &req(), &p, &root),
        Err(CsrError::WrongCa { .. })
    ));
    assert_eq!(
        why(approve_key(b"k", KeyType::Rsa4096, &req(), &p, &ca())),
        "key type rsa4096 is not allowed by profile P (allowed: p256, rsa2048)"
    );
    let mut any = p.clone();
    any.domain = Domain::Any;
    assert!(approve_key(b"k", KeyType::Rsa2048, &req(), &any, &persons).is_ok());
}

#[test]
fn dns_names_policy() {
    let p = profile(SanKind::Dns, SubjectKind::Organisation);
    let mut r = req();
    r.dns_names = vec![
        " SRV.Hopital.example ".into(),
        "srv.hopital.example".into(),
        "*.hopital.example".into(),
    ];
    let a = approve(&r, &p).unwrap();
    assert_eq!(a.dns, vec!["srv.hopital.example", "*.hopital.example"]);
    assert_eq!(
        a.subject_text,
        "CN=srv.hopital.example,OU=318751275100020,O=HOPITAL TEST"
    );
    r.dns_names = vec!["localhost".into()];
    assert_eq!(
        why(approve(&r, &p)),
        "forbidden name: \"localhost\" is not a valid DNS name"
    );
    r.dns_names = vec![];
    assert_eq!(why(approve(&r, &p)), "missing field: dns_names");
    r.dns_names = (0..101).map(|i| format!("h{i}.hopital.example")).collect();
    assert_eq!(
        why(approve(&r, &p)),
        "forbidden name: at most 100 DNS names"
    );
    let mut r = req();
    r.emails = vec!["a@hopital.example".into()];
    assert_eq!(
        why(approve(&r, &p)),
        "forbidden name: e-mail addresses are not allowed in this profile"
    );
    let none = profile(SanKind::None, SubjectKind::Organisation);
    assert_eq!(
        why(approve(&req(), &none)),
        "forbidden name: profile P carries no subject alternative names"
    );
}

#[test]
fn email_policy() {
    let p = profile(SanKind::Email, SubjectKind::Organisation);
    let mut r = req();
    r.dns_names = vec![];
    r.emails = vec![
        "Dr.Martin@Hopital.example".into(),
        "x@hopital.example".into(),
    ];
    let a = approve(&r, &p).unwrap();
    assert_eq!(
        a.emails,
        vec!["Dr.Martin@hopital.example", "x@hopital.example"]
    );
    assert!(a.subject_text.starts_with("CN=Dr.Martin@hopital.example,"));
    r.emails = vec!["not-an-address".into()];
    assert_eq!(
        why(approve(&r, &p)),
        "forbidden name: \"not-an-address\" is not an e-mail address"
    );
    r.emails = vec![];
    assert_eq!(why(approve(&r, &p)), "missing field: emails");
    let mut r = req();
    r.emails = vec!["a@hopital.example".into()];
    assert_eq!(
        why(approve(&r, &p)),
        "forbidden name: DNS names are not allowed in this profile"
    );
}

#[test]
fn organisation_fields() {
    let p = profile(SanKind::None, SubjectKind::Organisation);
    let base = || SubjectRequest {
        dns_names: vec![],
        service_name: Some("  Messagerie  ".into()),
        ..req()
    };
    let a = approve(&base(), &p).unwrap();
    assert_eq!(
        a.subject_text,
        "CN=Messagerie,OU=318751275100020,O=HOPITAL TEST"
    );
    for (change, expected) in [
        (
            (|r: &mut SubjectRequest| r.structure_id = None) as fn(&mut SubjectRequest),
            "missing field: structure_id",
        ),
        (
            |r| r.structure_id = Some("12".into()),
            "forbidden name: \"12\" is not a structure identifier (1+FINESS or 3+SIRET)",
        ),
        (|r| r.organization = None, "missing field: organization"),
        (
            |r| r.organization = Some("   ".into()),
            "missing field: organization",
        ),
        (
            |r| r.organization = Some("x".repeat(65)),
            "forbidden name: organization: at most 64 printable characters",
        ),
        (
            |r| r.organization = Some("a\nb".into()),
            "forbidden name: organization: at most 64 printable characters",
        ),
        (
            |r| r.organization = Some("HOPITAL \u{202E}TSET".into()),
            "forbidden name: organization: at most 64 printable characters",
        ),
        (
            |r| r.service_name = Some("Messa\u{200B}gerie".into()),
            "forbidden name: service_name: at most 64 printable characters",
        ),
        (
            |r| r.structure_id = Some("300000000000000".into()),
            "forbidden name: \"300000000000000\" is not an attributed identifier",
        ),
        (|r| r.state = None, "missing field: state"),
        (|r| r.service_name = None, "missing field: service_name"),
    ] {
        let mut r = base();
        change(&mut r);
        assert_eq!(why(approve(&r, &p)), expected);
    }
    // Values are escaped in the stored text: one attribute stays one attribute.
    let mut r = base();
    r.organization = Some("CN=evil,O=x".into());
    assert_eq!(
        approve(&r, &p).unwrap().subject_text,
        "CN=Messagerie,OU=318751275100020,O=CN\\=evil\\,O\\=x"
    );
    // A responder has no state.
    let responder = profile(SanKind::None, SubjectKind::Responder);
    let mut r = base();
    r.state = None;
    assert!(approve(&r, &responder).is_ok());
}

#[test]
fn person_fields() {
    let mut p = profile(SanKind::None, SubjectKind::Person);
    p.domain = Domain::Any;
    let r = SubjectRequest {
        national_id: Some("899700218896".into()),
        family_name: Some("DUPONT".into()),
        given_name: Some("Jean".into()),
        ..Default::default()
    };
    let a = approve(&r, &p).unwrap();
    assert_eq!(a.subject_text, "CN=899700218896,SN=DUPONT,GN=Jean");
    let mut no_id = r.clone();
    no_id.national_id = None;
    assert_eq!(why(approve(&no_id, &p)), "missing field: national_id");
    let mut bad_id = r.clone();
    bad_id.national_id = Some("x".into());
    assert!(why(approve(&bad_id, &p)).starts_with("forbidden name: national_id: "));
    let mut edit = r.clone();
    edit.national_id = Some("ANS20231122132732".into());
    assert_eq!(
        approve(&edit, &p).unwrap().subject_text,
        "CN=ANS20231122132732,SN=DUPONT,GN=Jean",
        "a TEST CA certifies EDIT test identities"
    );
    let mut production = ca();
    production.test = false;
    let e = why(approve_key(b"spki", KeyType::P256, &edit, &p, &production));
    assert!(e.contains("is an EDIT test identity"), "{e}");
    assert!(approve_key(b"spki", KeyType::P256, &r, &p, &production).is_ok());
    let mut no_gn = r.clone();
    no_gn.given_name = None;
    assert_eq!(why(approve(&no_gn, &p)), "missing field: given_name");
    let mut title = r;
    title.title = Some("y".repeat(65));
    assert_eq!(
        why(approve(&title, &p)),
        "forbidden name: title: at most 64 printable characters"
    );
}

#[test]
fn own_server_names() {
    let p = profile(SanKind::Dns, SubjectKind::Organisation);
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let a = approve_own_server(b"k", KeyType::P256, vec![], vec![ip], "O", &p, &ca()).unwrap();
    assert_eq!(a.subject_text, "CN=127.0.0.1");
    let a = approve_own_server(
        b"k",
        KeyType::P256,
        vec!["localhost".into()],
        vec![ip],
        "O",
        &p,
        &ca(),
    )
    .unwrap();
    assert_eq!(a.subject_text, "CN=localhost");
    assert_eq!(
        why(approve_own_server(
            b"k",
            KeyType::P256,
            vec![],
            vec![],
            "O",
            &p,
            &ca()
        )),
        "missing field: a server name"
    );
}
