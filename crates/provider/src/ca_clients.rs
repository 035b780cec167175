//! The CA realm's clients as the CA API's requesters: what each client's registration (realm
//! file or database) entitles it to request.

use crate::client_cache::ClientCache;
use crate::state::RealmRt;
use coeur_ca::policy::{CaEntitlements, Lookup, Requesters};
use std::sync::Arc;

/// The clients of the realm whose tokens authorise the CA API, read through the provider's
/// client cache (an issuance does not read the client's registration from the database each
/// time; a change is seen as the provider's endpoints see it).
pub struct RealmRequesters {
    realm: Arc<RealmRt>,
    clients: Arc<ClientCache>,
}

impl RealmRequesters {
    /// The requesters of `realm`.
    pub fn new(realm: Arc<RealmRt>, clients: Arc<ClientCache>) -> Self {
        Self { realm, clients }
    }
}

impl Requesters for RealmRequesters {
    fn entitlements<'a>(&'a self, client_id: &'a str) -> Lookup<'a, Option<CaEntitlements>> {
        Box::pin(async move {
            Ok(self
                .clients
                .client(&self.realm, client_id)
                .await?
                .and_then(|c| c.spec.ca))
        })
    }
}
