//! Revocation: revoking certificates, the revocation state of a certificate, and keeping the
//! OCSP cache and CRLs in step with revocations made by other processes: told at once through
//! the bus (on PostgreSQL), and read from the store by the server's poll as a fallback and
//! after the bus's connection was lost.

use super::*;
use coeur_common::random::Clock;
use coeur_storage::{Bus, Event, Heard};
use std::sync::atomic::{AtomicI64, Ordering};

impl Ca {
    /// Revokes a certificate; the OCSP cache forgets it at once and CRLs are rebuilt, here and
    /// (told through the bus once committed) on the other instances.
    /// `certificateHold` is refused: coeur cannot lift a hold (`removeFromCRL`), and a hold
    /// that can never be lifted would be a revocation under a misleading reason.
    pub async fn revoke(
        &self,
        store: &CaStore,
        ca_id: &str,
        serial: &str,
        reason: Reason,
        actor: &str,
        now: i64,
    ) -> Result<(), CaError> {
        self.ca(ca_id)?;
        if reason == Reason::CertificateHold {
            return Err(CaError::Invalid(
                "certificateHold is not supported (a hold could not be lifted): revoke with \
                 another reason"
                    .into(),
            ));
        }
        let serial = normalize_serial(serial);
        match store.revoke(ca_id, &serial, reason, actor, now).await? {
            RevokeOutcome::Revoked => {
                metrics::counter!(
                    "coeur_ca_revocations_total",
                    "ca" => ca_id.to_owned(),
                    "reason" => reason.as_str(),
                )
                .increment(1);
            }
            RevokeOutcome::AlreadyRevoked => return Err(CaError::AlreadyRevoked),
            RevokeOutcome::NotFound => return Err(CaError::NotFound),
        }
        self.forget_revoked(ca_id, &serial);
        if let Some(bus) = self.bus.get() {
            bus.publish(&Event::CertificateRevoked {
                ca: ca_id.to_owned(),
                serial,
            })
            .await;
        }
        Ok(())
    }

    /// Tells the instances sharing the database of this CA's revocations, and hears theirs:
    /// their revoked certificates' cached OCSP answers go and their CAs' CRLs are stale at
    /// once. When the bus's connection was (re)made, revocations since the previous one are
    /// read from `store`, as they may have been missed. Set once; a second bus is ignored.
    pub fn attach_bus(self: &Arc<Self>, bus: &Bus, store: CaStore, clock: Arc<dyn Clock>) {
        if self.bus.set(bus.clone()).is_err() {
            return;
        }
        let ca = Arc::downgrade(self);
        // Revocations up to here are in the store, read by whoever needs them (the cache is
        // empty); from here on they are heard, or read again after a lost connection.
        let heard_since = Arc::new(AtomicI64::new(clock.now()));
        bus.listen(move |heard| {
            let Some(ca) = ca.upgrade() else {
                return;
            };
            match heard {
                Heard::Event(Event::CertificateRevoked { ca: ca_id, serial }) => {
                    ca.forget_revoked(ca_id, serial);
                }
                Heard::Event(_) => {}
                Heard::Missed => {
                    let now = clock.now();
                    let since = heard_since.swap(now, Ordering::SeqCst) - 2;
                    let store = store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = ca.sync_revocations(&store, since).await {
                            tracing::error!(error = %format!("{e:#}"), "revocation sync failed");
                        }
                    });
                }
            }
        });
    }

    /// After a revocation of `serial` (as stored): its cached OCSP answer goes, the CA's CRLs
    /// are stale.
    fn forget_revoked(&self, ca_id: &str, serial: &str) {
        if let Ok(mut c) = self.ocsp_cache.lock() {
            c.remove(&(ca_id.to_owned(), decode_serial(serial).unwrap_or_default()));
        }
        if let Ok(mut d) = self.crl_dirty.lock() {
            d.insert(ca_id.to_owned(), true);
        }
    }

    /// Forgets cached OCSP answers and marks CRLs stale for certificates revoked since `since`
    /// by any process (the CLI, another node). Run every second by the server (a fallback for
    /// the bus, which tells of them at once), and when the bus's connection was lost.
    pub async fn sync_revocations(&self, store: &CaStore, since: i64) -> Result<usize> {
        let revoked = store.revoked_since(since).await?;
        for (ca_id, serial) in &revoked {
            self.forget_revoked(ca_id, serial);
        }
        Ok(revoked.len())
    }

    /// The revocation of a certificate (time, reason), or `None` if it is not revoked. An
    /// unknown certificate counts as revoked.
    pub async fn revocation(
        &self,
        store: &CaStore,
        ca_id: &str,
        serial: &str,
    ) -> Result<Option<(i64, Reason)>> {
        Ok(store
            .revocation_state(ca_id, &normalize_serial(serial))
            .await?
            .unwrap_or(Some((0, Reason::Unspecified))))
    }
}
