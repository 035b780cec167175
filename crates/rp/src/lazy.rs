//! A relying party discovered on first use ([`LazyParty`]): a service's pages can start before
//! the provider answers, and a failed discovery is tried again on the next login.

use crate::{Http, RelyingParty, RpError};
use std::sync::{Arc, Mutex};

/// Where and as whom a relying party logs users in.
#[derive(Clone)]
pub struct PartySettings {
    /// The provider's issuer URL.
    pub issuer: String,
    /// The client there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The redirect URI of the logins.
    pub redirect_uri: String,
}

impl std::fmt::Debug for PartySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartySettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The relying party of [`PartySettings`], discovered when first asked for.
pub struct LazyParty {
    settings: PartySettings,
    http: Http,
    clock: crate::Clock,
    party: Mutex<Option<Arc<RelyingParty>>>,
}

impl std::fmt::Debug for LazyParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyParty")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl LazyParty {
    /// Nothing discovered yet; ID tokens will be checked against `clock`.
    pub fn new(settings: PartySettings, http: Http, clock: crate::Clock) -> Self {
        Self {
            settings,
            http,
            clock,
            party: Mutex::new(None),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &PartySettings {
        &self.settings
    }

    /// The relying party, discovering the provider when it was not yet (or failed).
    pub async fn get(&self) -> Result<Arc<RelyingParty>, RpError> {
        if let Some(p) = self
            .party
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(p.clone());
        }
        let s = &self.settings;
        let discovered = Arc::new(
            RelyingParty::discover(
                &s.issuer,
                &s.client_id,
                Some(&s.client_secret),
                &s.redirect_uri,
                self.http.clone(),
            )
            .await?
            .with_clock(self.clock.clone()),
        );
        let mut slot = self.party.lock().unwrap_or_else(|e| e.into_inner());
        Ok(slot.get_or_insert(discovered).clone())
    }
}
