//! The provider as a token source for verifiers in this process (its own userinfo and
//! introspection, the CA API): a realm's keys straight from its key ring (reloaded when
//! another process rotated it), revocation (revoked `jti`, revoked grant) from the store's memory of revocations.

use crate::state::RealmRt;
use crate::store::Store;
use coeur_oauth::claims::AccessTokenClaims;
use coeur_oauth::jose::VerificationKeys;
use coeur_resource_server::TokenSource;
use coeur_storage::keystore::KeyStore;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// One realm's access tokens, checked in-process.
pub struct RealmTokens {
    realm: Arc<RealmRt>,
    store: Store,
    keys: Arc<KeyStore>,
}

impl RealmTokens {
    /// The source of `realm`'s tokens.
    pub fn new(realm: Arc<RealmRt>, store: Store, keys: Arc<KeyStore>) -> Self {
        Self { realm, store, keys }
    }
}

impl TokenSource for RealmTokens {
    fn issuer(&self) -> &str {
        &self.realm.realm.issuer
    }

    fn keys(&self) -> BoxFuture<'_, anyhow::Result<Arc<VerificationKeys>>> {
        Box::pin(async move {
            if let Err(e) = self.realm.refresh_ring_soon(&self.keys).await {
                tracing::warn!(realm = %self.realm.realm.name, error = %format!("{e:#}"), "key ring reload");
            }
            Ok(self.realm.ring().verification.clone())
        })
    }

    fn revoked<'a>(&'a self, claims: &'a AccessTokenClaims) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            self.store
                .token_revoked(&claims.jti, claims.gid.as_deref())
                .await
        })
    }
}
