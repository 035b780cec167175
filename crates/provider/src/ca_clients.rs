//! The CA realm's clients as the CA API's requesters: what each client's registration (realm
//! file or database) entitles it to request.

use crate::state::RealmRt;
use crate::store::Store;
use anyhow::Context as _;
use coeur_ca::policy::{CaEntitlements, Lookup, Requesters};
use coeur_oauth::client::ClientSpec;
use std::sync::Arc;

/// The clients of the realm whose tokens authorise the CA API.
pub struct RealmRequesters {
    realm: Arc<RealmRt>,
    store: Store,
}

impl RealmRequesters {
    /// The requesters of `realm`.
    pub fn new(realm: Arc<RealmRt>, store: Store) -> Self {
        Self { realm, store }
    }
}

impl Requesters for RealmRequesters {
    fn entitlements<'a>(&'a self, client_id: &'a str) -> Lookup<'a, Option<CaEntitlements>> {
        Box::pin(async move {
            if let Some(c) = self.realm.file_client(client_id) {
                return Ok(c.spec.ca.clone());
            }
            let Some(row) = self.store.client(&self.realm.realm.name, client_id).await? else {
                return Ok(None);
            };
            let spec: ClientSpec =
                serde_json::from_str(&row.spec).context("stored client registration")?;
            Ok(spec.ca)
        })
    }
}
