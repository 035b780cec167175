//! The CA's issuance policy, in one place: who may ask for which certificate through the API,
//! and how an allowed request is approved.
//!
//! The token's `ca:request` scope is checked first by the API; [`EntitledRequests`] then
//! decides on what is asked, before anything is written: card profiles (`CPS_AUTH`,
//! `CPS_SIGN`) never come from the API (cards come from the card lifecycle only), and a client
//! asks only for the structures and DNS names its registration entitles it to
//! ([`CaEntitlements`]). [`Approval`] follows from the CA's environment: TEST CAs approve
//! automatically, production CAs never do.

use coeur_common::environment::Environment;
use coeur_oauth::claims::AccessTokenClaims;
pub use coeur_oauth::client::CaEntitlements;
use coeur_pki::csr::SubjectRequest;
use coeur_pki::hierarchy::SubjectKind;
use std::future::Future;
use std::pin::Pin;

/// Who calls, from the verified access token and the client's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The OAuth client.
    pub client_id: String,
    /// The user's national identifier, for user tokens.
    pub national_id: Option<String>,
    /// The scopes granted to the token.
    pub scopes: Vec<String>,
    /// What the client's registration entitles it to request (`None`: nothing).
    pub entitlements: Option<CaEntitlements>,
}

impl Caller {
    /// The caller an access token names, with its client's entitlements.
    pub fn from_claims(claims: &AccessTokenClaims, entitlements: Option<CaEntitlements>) -> Self {
        Self {
            client_id: claims.client_id.clone(),
            national_id: claims.subject_name_id.clone(),
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
            entitlements,
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
    /// The subject the profile builds (an organisation's, a card holder's, a responder's).
    pub subject_kind: SubjectKind,
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
    /// What a request for `ca_id` and `profile` (building a `subject_kind` subject) with these
    /// subject attributes asks for.
    pub fn of(
        ca_id: &'a str,
        profile: &'a str,
        subject_kind: SubjectKind,
        subject: &'a SubjectRequest,
    ) -> Self {
        Self {
            ca_id,
            profile,
            subject_kind,
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

/// The policy of the API: organisation certificates only, for the caller's own structures and
/// DNS names.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntitledRequests;

impl IssuancePolicy for EntitledRequests {
    fn may_request(&self, caller: &Caller, r: &RequestScope<'_>) -> Result<(), PolicyRefusal> {
        let refuse = |why: String| Err(PolicyRefusal(why));
        if r.subject_kind == SubjectKind::Person || r.national_id.is_some() {
            return refuse(format!(
                "profile {} is not issued through the API: cards come from the card lifecycle",
                r.profile
            ));
        }
        let Some(e) = &caller.entitlements else {
            return refuse(format!(
                "client {} is not entitled to request certificates",
                caller.client_id
            ));
        };
        if let Some(s) = r.structure_id
            && !e.covers_structure(s)
        {
            return refuse(format!(
                "client {} is not entitled to request certificates for structure {s}",
                caller.client_id
            ));
        }
        let domains = r
            .dns_names
            .iter()
            .map(String::as_str)
            .chain(r.emails.iter().map(|m| m.rsplit('@').next().unwrap_or(m)));
        for name in domains {
            if !e.covers_dns(name) {
                return refuse(format!(
                    "client {} is not entitled to request certificates for {name}",
                    caller.client_id
                ));
            }
        }
        Ok(())
    }
}

/// How a request the policy allowed becomes a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Issued at once (TEST CAs only).
    Automatic,
    /// Kept pending until an operator approves it (production CAs, always).
    Operator,
}

impl Approval {
    /// The approval of the CAs of `env`: nothing a realm or a setting says can make a
    /// production CA approve automatically.
    pub fn of(env: Environment) -> Self {
        match env {
            Environment::Test => Self::Automatic,
            Environment::Production => Self::Operator,
        }
    }
}

/// A boxed future of a lookup.
pub type Lookup<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// Where the API finds what a client is entitled to request: its registration in the CA
/// realm (realm file or database).
pub trait Requesters: Send + Sync {
    /// The entitlements of `client_id` (`None`: the client may request nothing).
    fn entitlements<'a>(&'a self, client_id: &'a str) -> Lookup<'a, Option<CaEntitlements>>;
}

/// No client is entitled to anything (a CA without registrations).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRequesters;

impl Requesters for NoRequesters {
    fn entitlements<'a>(&'a self, _: &'a str) -> Lookup<'a, Option<CaEntitlements>> {
        Box::pin(async { Ok(None) })
    }
}

#[cfg(test)]
mod tests;
