//! The realms' clients registered in the database, read through a short-lived cache shared
//! by every part of the process that looks clients up: the provider's endpoints (client
//! authentication, authorization requests) and the CA API's requesters
//! ([`crate::ca_clients::RealmRequesters`]).
//!
//! A client is read again after [`CLIENT_CACHE_TTL`], and dropped at once when this process
//! changes it or the bus tells of a change made elsewhere (`coeur client add`/`remove`,
//! another instance; [`ClientCache::forget`]). Clients of realm files are never cached here:
//! they are the realm's own.

use crate::state::{RealmRt, client_from_spec, client_secret_context};
use crate::store::{ClientRow, Store};
use anyhow::{Context as _, Result, anyhow};
use coeur_oauth::client::{Client, ClientSpec};
use coeur_storage::keystore::KeyStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a client read from the database is used before it is read again.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

/// Entries held at most; past this the cache starts afresh (a flood of unknown client ids
/// must not grow memory).
const MAX_ENTRIES: usize = 10_000;

/// A client as read (none: not registered), with the time it was read.
type Entry = (Instant, Option<Client>);

/// Clients read from the database, by (realm, client id), with the time they were read.
pub struct ClientCache {
    store: Store,
    keys: Arc<KeyStore>,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("ClientCache").field("held", &held).finish()
    }
}

impl ClientCache {
    /// An empty cache over the provider's store (whose sealed client secrets `keys` opens).
    pub fn new(store: Store, keys: Arc<KeyStore>) -> Arc<Self> {
        Arc::new(Self {
            store,
            keys,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// A client of a realm: from the realm file, else from the database through the cache.
    pub async fn client(&self, rt: &RealmRt, client_id: &str) -> Result<Option<Client>> {
        if let Some(c) = rt.file_client(client_id) {
            return Ok(Some(c.clone()));
        }
        let key = (rt.realm.name.clone(), client_id.to_owned());
        if let Ok(entries) = self.entries.lock()
            && let Some((t, c)) = entries.get(&key)
            && t.elapsed() < CLIENT_CACHE_TTL
        {
            return Ok(c.clone());
        }
        let c = match self.store.client(&rt.realm.name, client_id).await? {
            Some(row) => Some(self.opened(&rt.realm.name, row)?),
            None => None,
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), c.clone()));
        }
        Ok(c)
    }

    /// Forgets a client of `realm`, so that it is read from the store again.
    pub fn forget(&self, realm: &str, client_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(realm.to_owned(), client_id.to_owned()));
        }
    }

    /// Forgets every client (a bus message may have been missed).
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// A stored registration with its secret opened.
    fn opened(&self, realm: &str, row: ClientRow) -> Result<Client> {
        let spec: ClientSpec =
            serde_json::from_str(&row.spec).context("stored client registration")?;
        let hmac = match &row.secret_sealed {
            Some(s) => Some(
                String::from_utf8(
                    self.keys
                        .master()
                        .open(&client_secret_context(realm, &spec.client_id), s)?,
                )
                .map_err(|_| anyhow!("sealed secret is not text"))?,
            ),
            None => None,
        };
        client_from_spec(spec, row.secret_hash, hmac)
    }
}
