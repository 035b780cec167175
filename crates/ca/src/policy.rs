//! Who may ask for which certificate: the issuance policy the API consults before a request
//! (with a CSR, or with a key pair the CA generates) is written or issued.
//!
//! The token's `ca:request` scope is checked first by the API; the policy then decides on what
//! is asked: CA, profile, structure and subject names. [`AllowAll`] is the default: any caller
//! holding `ca:request` may ask for anything the CA's own rules accept.

use coeur_oauth::claims::AccessTokenClaims;
use coeur_pki::csr::SubjectRequest;

/// Who calls, from the verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The OAuth client.
    pub client_id: String,
    /// The user's national identifier, for user tokens.
    pub national_id: Option<String>,
    /// The scopes granted to the token.
    pub scopes: Vec<String>,
}

impl Caller {
    /// The caller an access token names.
    pub fn from_claims(claims: &AccessTokenClaims) -> Self {
        Self {
            client_id: claims.client_id.clone(),
            national_id: claims.subject_name_id.clone(),
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// Whether the token was granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestScope<'a> {
    /// The CA asked.
    pub ca_id: &'a str,
    /// The profile asked.
    pub profile: &'a str,
    /// The structure the certificate is for (FINESS, SIRET…), if any.
    pub structure_id: Option<&'a str>,
    /// DNS names asked.
    pub dns_names: &'a [String],
    /// E-mail addresses asked.
    pub emails: &'a [String],
    /// The holder's national identifier asked (personal certificates).
    pub national_id: Option<&'a str>,
}

impl<'a> RequestScope<'a> {
    /// What a request for `ca_id` and `profile` with these subject attributes asks for.
    pub fn of(ca_id: &'a str, profile: &'a str, subject: &'a SubjectRequest) -> Self {
        Self {
            ca_id,
            profile,
            structure_id: subject.structure_id.as_deref(),
            dns_names: &subject.dns_names,
            emails: &subject.emails,
            national_id: subject.national_id.as_deref(),
        }
    }
}

/// A policy's refusal, with what the caller is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyRefusal(pub String);

/// Decides whether a caller may ask for a certificate. Consulted before anything is written:
/// a refusal leaves no trace in the store.
pub trait IssuancePolicy: Send + Sync {
    /// `Ok` when `caller` may ask for `request`.
    fn may_request(&self, caller: &Caller, request: &RequestScope<'_>)
    -> Result<(), PolicyRefusal>;
}

/// The default policy: every caller allowed to call the API may ask for anything the CA's own
/// rules (profiles, CSR checks) accept.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl IssuancePolicy for AllowAll {
    fn may_request(&self, _: &Caller, _: &RequestScope<'_>) -> Result<(), PolicyRefusal> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy that lets a client ask only for its own structure.
    struct OwnStructure;

    impl IssuancePolicy for OwnStructure {
        fn may_request(&self, caller: &Caller, r: &RequestScope<'_>) -> Result<(), PolicyRefusal> {
            match r.structure_id {
                Some(s) if caller.client_id == format!("structure-{s}") => Ok(()),
                _ => Err(PolicyRefusal(format!(
                    "client {} may not ask for this structure",
                    caller.client_id
                ))),
            }
        }
    }

    fn claims(client_id: &str, national_id: Option<&str>) -> AccessTokenClaims {
        serde_json::from_value(serde_json::json!({
            "iss": "https://coeur.test/realms/sandbox", "sub": "u", "aud": "coeur-ca",
            "client_id": client_id, "exp": 2, "iat": 1, "jti": "j",
            "scope": "openid ca:request", "SubjectNameID": national_id,
        }))
        .expect("claims")
    }

    #[test]
    fn caller_from_claims() {
        let c = Caller::from_claims(&claims("structure-1", Some("810001234567")));
        assert_eq!(c.client_id, "structure-1");
        assert_eq!(c.national_id.as_deref(), Some("810001234567"));
        assert!(c.has_scope("ca:request"));
        assert!(!c.has_scope("ca:approve"));
        assert_eq!(Caller::from_claims(&claims("x", None)).national_id, None);
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
        let r = RequestScope::of("CA", "SSL_SERV", &subject);
        assert_eq!(r.ca_id, "CA");
        assert_eq!(r.profile, "SSL_SERV");
        assert_eq!(r.structure_id, Some("1"));
        assert_eq!(r.dns_names, ["a.test".to_owned()]);
        assert_eq!(r.emails, ["x@a.test".to_owned()]);
        assert_eq!(r.national_id, Some("810001234567"));
    }

    #[test]
    fn a_policy_refuses_and_the_default_allows() {
        let subject = SubjectRequest {
            structure_id: Some("2".into()),
            ..Default::default()
        };
        let r = RequestScope::of("CA", "ORG_AUTH_CLI", &subject);
        let caller = Caller::from_claims(&claims("structure-1", None));
        assert_eq!(
            OwnStructure.may_request(&caller, &r),
            Err(PolicyRefusal(
                "client structure-1 may not ask for this structure".into()
            ))
        );
        let own = Caller::from_claims(&claims("structure-2", None));
        assert_eq!(OwnStructure.may_request(&own, &r), Ok(()));
        assert_eq!(AllowAll.may_request(&caller, &r), Ok(()));
    }
}
