use super::*;

fn claims(client_id: &str, national_id: Option<&str>) -> AccessTokenClaims {
    serde_json::from_value(serde_json::json!({
        "iss": "https://coeur.test/realms/sandbox", "sub": "u", "aud": "coeur-ca",
        "client_id": client_id, "exp": 2, "iat": 1, "jti": "j",
        "scope": "openid ca:request", "SubjectNameID": national_id,
    }))
    .expect("claims")
}

fn entitled() -> Option<CaEntitlements> {
    Some(CaEntitlements {
        structures: vec!["318751275100020".into()],
        dns_suffixes: vec!["ch-test.fr".into(), "mssante.fr".into()],
    })
}

fn caller() -> Caller {
    Caller::from_claims(&claims("structure-1", None), entitled())
}

fn server(structure: &str, dns: &[&str]) -> SubjectRequest {
    SubjectRequest {
        structure_id: Some(structure.into()),
        dns_names: dns.iter().map(|d| d.to_string()).collect(),
        ..Default::default()
    }
}

fn ask(
    caller: &Caller,
    profile: &str,
    kind: SubjectKind,
    s: &SubjectRequest,
) -> Result<(), String> {
    EntitledRequests
        .may_request(caller, &RequestScope::of("CA", profile, kind, s))
        .map_err(|r| r.0)
}

#[test]
fn caller_from_claims() {
    let c = Caller::from_claims(&claims("structure-1", Some("810001234567")), None);
    assert_eq!(c.client_id, "structure-1");
    assert_eq!(c.national_id.as_deref(), Some("810001234567"));
    assert!(c.has_scope("ca:request"));
    assert!(!c.has_scope("ca:approve"));
    assert_eq!(c.entitlements, None);
    assert_eq!(
        Caller::from_claims(&claims("x", None), None).national_id,
        None
    );
}

#[test]
fn request_scope_names_what_is_asked() {
    let subject = SubjectRequest {
        structure_id: Some("1".into()),
        dns_names: vec!["a.test".into()],
        emails: vec!["x@a.test".into()],
        national_id: Some("810001234567".into()),
        ..Default::default()
    };
    let r = RequestScope::of("CA", "SSL_SERV", SubjectKind::Organisation, &subject);
    assert_eq!(r.ca_id, "CA");
    assert_eq!(r.profile, "SSL_SERV");
    assert_eq!(r.subject_kind, SubjectKind::Organisation);
    assert_eq!(r.structure_id, Some("1"));
    assert_eq!(r.dns_names, ["a.test".to_owned()]);
    assert_eq!(r.emails, ["x@a.test".to_owned()]);
    assert_eq!(r.national_id, Some("810001234567"));
}

#[test]
fn an_entitled_client_gets_its_own_names() {
    let own = server("318751275100020", &["srv.ch-test.fr", "*.ch-test.fr"]);
    assert_eq!(
        ask(&caller(), "SSL_SERV", SubjectKind::Organisation, &own),
        Ok(())
    );
    let mail = SubjectRequest {
        structure_id: Some("318751275100020".into()),
        emails: vec!["secretariat@ch-test.mssante.fr".into()],
        ..Default::default()
    };
    assert_eq!(
        ask(&caller(), "SMIME_MSS", SubjectKind::Organisation, &mail),
        Ok(())
    );
}

#[test]
fn names_outside_the_entitlements_are_refused() {
    let c = caller();
    assert_eq!(
        ask(
            &c,
            "SSL_SERV",
            SubjectKind::Organisation,
            &server(
                "318751275100020",
                &["srv.ch-test.fr", "esante-wallet.gouv.fr"]
            )
        ),
        Err(
            "client structure-1 is not entitled to request certificates for esante-wallet.gouv.fr"
                .into()
        )
    );
    assert_eq!(
        ask(
            &c,
            "SSL_SERV",
            SubjectKind::Organisation,
            &server("318751275100020", &["*.gouv.fr"])
        ),
        Err("client structure-1 is not entitled to request certificates for *.gouv.fr".into())
    );
    assert_eq!(
        ask(
            &c,
            "SSL_SERV",
            SubjectKind::Organisation,
            &server("318751275100020", &["evilch-test.fr"])
        ),
        Err("client structure-1 is not entitled to request certificates for evilch-test.fr".into())
    );
    assert_eq!(
        ask(
            &c,
            "ORG_AUTH_CLI",
            SubjectKind::Organisation,
            &server("110000015", &[])
        ),
        Err(
            "client structure-1 is not entitled to request certificates for structure 110000015"
                .into()
        )
    );
    let mail = SubjectRequest {
        structure_id: Some("318751275100020".into()),
        emails: vec!["x@ars.sante.fr".into()],
        ..Default::default()
    };
    assert_eq!(
        ask(&c, "SMIME_MSS", SubjectKind::Organisation, &mail),
        Err("client structure-1 is not entitled to request certificates for ars.sante.fr".into())
    );
}

#[test]
fn a_client_without_entitlements_gets_nothing() {
    let c = Caller::from_claims(&claims("rp", None), None);
    assert_eq!(
        ask(
            &c,
            "SSL_SERV",
            SubjectKind::Organisation,
            &server("318751275100020", &["srv.ch-test.fr"])
        ),
        Err("client rp is not entitled to request certificates".into())
    );
    let empty = Caller::from_claims(&claims("rp", None), Some(CaEntitlements::default()));
    assert!(
        ask(
            &empty,
            "SSL_SERV",
            SubjectKind::Organisation,
            &server("318751275100020", &[])
        )
        .is_err()
    );
}

#[test]
fn card_profiles_never_come_from_the_api() {
    let person = SubjectRequest {
        national_id: Some("899700218896".into()),
        ..Default::default()
    };
    for profile in ["CPS_AUTH", "CPS_SIGN"] {
        assert_eq!(
            ask(&caller(), profile, SubjectKind::Person, &person),
            Err(format!(
                "profile {profile} is not issued through the API: cards come from the card lifecycle"
            ))
        );
    }
    // Nor a national identifier slipped into an organisation's request.
    let mut org = server("318751275100020", &["srv.ch-test.fr"]);
    org.national_id = Some("899700218896".into());
    assert!(ask(&caller(), "SSL_SERV", SubjectKind::Organisation, &org).is_err());
}

#[test]
fn only_test_cas_approve_automatically() {
    assert_eq!(Approval::of(Environment::Test), Approval::Automatic);
    assert_eq!(Approval::of(Environment::Production), Approval::Operator);
}
