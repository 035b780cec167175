//! The CA as the rest of coeur sees it: the CA itself with its store, clock and randomness,
//! trust in client certificates, the LDAP settings, and the verifier of the access tokens
//! that authorise its API. Built once by the `coeur` binary.

use crate::ca::{Ca, CaSetup, KeyProvider, load_pki};
use crate::config::{ExternalTrustConfig, LdapConfig};
use crate::policy::{EntitledRequests, IssuancePolicy, NoRequesters, Requesters};
use crate::store::CaStore;
use crate::trust::ClientTrust;
use anyhow::{Result, anyhow};
use coeur_common::environment::Environment;
use coeur_common::random::{Clock, Random};
use coeur_pki::validate::{Refusal, Usage, Validated};
use coeur_resource_server::Verifier;
use coeur_storage::Db;
use std::path::PathBuf;
use std::sync::Arc;

/// What the CA needs at start.
pub struct CaSettings {
    /// `pki/`: hierarchies and profiles.
    pub pki_dir: PathBuf,
    /// The hierarchy's name (`igc-sante`, `modern`).
    pub hierarchy: String,
    /// The production CAs (production realms only) or the TEST twins (sandbox realms only).
    pub environment: Environment,
    /// Base DN of the LDAP directory the CA publishes to (URLs in certificates name it).
    pub ldap_base_dn: Option<String>,
    /// The public base URL (CRL, OCSP and CA certificate URLs).
    pub public_url: String,
    /// Where CRLs are assembled (scratch files; CRLs are kept in the store).
    pub crl_dir: PathBuf,
    /// The realm whose access tokens authorise the API (for audit and listings).
    pub realm: String,
    /// External authorities trusted for client certificates.
    pub external: ExternalTrustConfig,
    /// LDAP publication (`None`: off).
    pub ldap: Option<LdapConfig>,
}

/// The running CA.
pub struct CaService {
    /// The CA.
    pub ca: Arc<Ca>,
    /// Its repository.
    pub store: CaStore,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Random>,
    /// Trust in client certificates (own CAs, external authorities).
    pub trust: ClientTrust,
    /// LDAP publication settings.
    pub ldap: Option<LdapConfig>,
    /// Verifies the access tokens of the API's callers.
    pub verifier: Arc<Verifier>,
    /// Where the CA's keys are held.
    pub keys: Arc<dyn KeyProvider>,
    /// Where CRLs are assembled.
    pub crl_dir: PathBuf,
    /// Who may ask for which certificate (consulted by the API before a request is written).
    pub policy: Arc<dyn IssuancePolicy>,
    /// What each API client is entitled to request (from its registration in the CA realm).
    pub requesters: Arc<dyn Requesters>,
}

impl CaService {
    /// Opens the CA, creating its keys and certificates on first start.
    pub async fn open(
        settings: CaSettings,
        store: Db,
        keys: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        verifier: Arc<Verifier>,
    ) -> Result<Self> {
        let (hierarchy, profiles) =
            load_pki(&settings.pki_dir, &settings.hierarchy, &settings.public_url)?;
        let hierarchy = hierarchy
            .with_ldap_base_dn(settings.ldap_base_dn.as_deref())
            .map_err(|e| anyhow!("hierarchy {}: {e}", settings.hierarchy))?;
        let store = CaStore::new(store);
        let setup = CaSetup {
            keys: &*keys,
            crl_dir: &settings.crl_dir,
            env: settings.environment,
            realm: &settings.realm,
        };
        let ca = Ca::open(&store, &setup, hierarchy, profiles, &*rng, clock.now()).await?;
        let trust = ClientTrust::new(&settings.external)?;
        Ok(Self {
            ca: Arc::new(ca),
            store,
            clock,
            rng,
            trust,
            ldap: settings.ldap,
            verifier,
            keys,
            crl_dir: settings.crl_dir,
            policy: Arc::new(EntitledRequests),
            requesters: Arc::new(NoRequesters),
        })
    }

    /// The same service with another issuance policy than the default [`EntitledRequests`].
    pub fn with_policy(mut self, policy: Arc<dyn IssuancePolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// The same service telling the instances sharing the database of its revocations, and
    /// hearing theirs (see [`Ca::attach_bus`]).
    pub fn with_bus(self, bus: &coeur_storage::Bus) -> Self {
        self.ca
            .attach_bus(bus, self.store.clone(), self.clock.clone());
        self
    }

    /// The same service with the registrations of its API clients (by default nobody is
    /// entitled to request anything).
    pub fn with_requesters(mut self, requesters: Arc<dyn Requesters>) -> Self {
        self.requesters = requesters;
        self
    }

    /// Current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Validates a client certificate for `usage` (cards, organisations' `tls_client_auth`)
    /// presented to a realm of environment `realm`: own CAs (only when they serve that
    /// environment) with the store's revocation state, then external authorities. `Err` is an
    /// internal failure.
    pub async fn check_client_certificate(
        &self,
        der: &[u8],
        usage: Usage,
        realm: Environment,
    ) -> Result<Result<Validated, Refusal>> {
        self.trust
            .check(&self.ca, &self.store, der, usage, realm, self.now())
            .await
    }
}
