//! Verification of the realm's own access tokens.

use crate::error::ProviderError;
use crate::state::{AppState, RealmRt};
use coeur_oauth::claims::AccessTokenClaims;
use coeur_resource_server::{Binding, Verifier};
use std::sync::Arc;

/// The verifier of `rt`'s access tokens (every realm has one).
pub(crate) fn verifier<'a>(
    st: &'a AppState,
    rt: &RealmRt,
) -> Result<&'a Arc<Verifier>, ProviderError> {
    st.verifier(&rt.realm.name).ok_or_else(|| {
        ProviderError::Internal(anyhow::anyhow!("no verifier for realm {}", rt.realm.name))
    })
}

/// Verifies one of this realm's access tokens for a request presenting `presented`.
pub(crate) async fn verify_bound(
    st: &AppState,
    rt: &RealmRt,
    token: &str,
    presented: Binding<'_>,
) -> Result<AccessTokenClaims, ProviderError> {
    Ok(verifier(st, rt)?.verify(token, presented).await?)
}

/// Verifies one of this realm's access tokens, leaving its sender binding to the caller
/// (introspection reports `cnf`; revocation needs no proof of possession).
pub(crate) async fn verify_unbound(
    st: &AppState,
    rt: &RealmRt,
    token: &str,
) -> Result<AccessTokenClaims, ProviderError> {
    Ok(verifier(st, rt)?.verify_unbound(token).await?)
}
