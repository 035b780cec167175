//! Revoked access tokens and grants, answered from memory.
//!
//! Every access token the realm's verifiers accept is checked against revocation (its `jti`,
//! RFC 7009, and the grant it came from: logout, code replay, refresh token reuse). Asking the
//! store for each of them costs two queries per token; instead each process keeps in memory
//! every revocation that can still matter:
//! - a revoked `jti` until the token expires;
//! - a revoked grant for as long as a token issued before its revocation may be alive (the
//!   longest access token lifetime of the realms, plus a margin: the `window`).
//!
//! The memory is filled from the store when the server starts ([`Store::load_revoked`]),
//! learns this process's own revocations as they are committed (the store's writes below),
//! the other instances' from the bus ([`Event::GrantRevoked`], [`Event::TokenRevoked`]), and,
//! as a fallback for a lost message or another process writing, reads the store's recent
//! revocations every few seconds ([`Store::poll_revoked`]). Until it is loaded (or while it
//! is being loaded again after the bus lost its connection) the store answers, as a process
//! that never loads it (the command line) always has it.

use super::Store;
use anyhow::Result;
use coeur_storage::Bus;
use coeur_storage::bus::Event;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// What is known of revocations (pure: no clock, no store).
#[derive(Debug, Default)]
pub(crate) struct RevokedSet {
    /// Whether every revocation that can matter is here; if not, the store answers.
    complete: bool,
    /// Revoked `jti`s, with the token's expiry.
    jtis: HashMap<String, i64>,
    /// Revoked grants, with the time of the revocation.
    grants: HashMap<String, i64>,
}

impl RevokedSet {
    /// Whether a token with `jti`, from the grant `grant_id` if any, is revoked; `None` when
    /// the set is not complete.
    pub(crate) fn answer(&self, jti: &str, grant_id: Option<&str>) -> Option<bool> {
        if !self.complete {
            return None;
        }
        Some(self.jtis.contains_key(jti) || grant_id.is_some_and(|g| self.grants.contains_key(g)))
    }

    /// Notes a revoked token.
    pub(crate) fn jti(&mut self, jti: &str, exp: i64) {
        self.jtis.insert(jti.to_owned(), exp);
    }

    /// Notes a revoked grant (the earliest time heard is kept).
    pub(crate) fn grant(&mut self, grant_id: &str, at: i64) {
        self.grants
            .entry(grant_id.to_owned())
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }

    /// Forgets what can no longer matter at `now`: tokens expired, grants revoked longer than
    /// `window` seconds ago (every token they issued has expired).
    pub(crate) fn prune(&mut self, now: i64, window: i64) {
        self.jtis.retain(|_, exp| *exp >= now - LEEWAY);
        self.grants.retain(|_, at| *at >= now - window);
    }

    /// How many revocations are held (tokens, grants).
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.jtis.len(), self.grants.len())
    }
}

/// Seconds a token is still held after its expiry (the verifiers' clock leeway and more).
const LEEWAY: i64 = 300;

/// The process's memory of revocations, shared by every clone of the [`Store`].
#[derive(Debug, Default)]
pub(crate) struct Revoked {
    set: RwLock<RevokedSet>,
    /// Where this process's revocations are told to the other instances.
    bus: OnceLock<Bus>,
}

impl Revoked {
    fn read<T>(&self, f: impl FnOnce(&RevokedSet) -> T) -> T {
        f(&self
            .set
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut RevokedSet) -> T) -> T {
        f(&mut self
            .set
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Notes this process's revocation of grants and tells the other instances.
    pub(super) async fn grants_revoked(&self, ids: &[String], at: i64) {
        self.write(|s| ids.iter().for_each(|g| s.grant(g, at)));
        if let Some(bus) = self.bus.get() {
            for grant_id in ids {
                bus.publish(&Event::GrantRevoked {
                    at,
                    grant_id: grant_id.clone(),
                })
                .await;
            }
        }
    }

    /// Notes this process's revocation of a token and tells the other instances.
    pub(super) async fn token_revoked(&self, jti: &str, exp: i64) {
        self.write(|s| s.jti(jti, exp));
        if let Some(bus) = self.bus.get() {
            bus.publish(&Event::TokenRevoked {
                exp,
                jti: jti.to_owned(),
            })
            .await;
        }
    }
}

impl Store {
    /// Whether the access token `jti`, issued from `grant_id` if any, is revoked: from memory
    /// once loaded, else from the store (an unknown grant counting as revoked there).
    pub async fn token_revoked(&self, jti: &str, grant_id: Option<&str>) -> Result<bool> {
        if let Some(a) = self.revoked.read(|s| s.answer(jti, grant_id)) {
            return Ok(a);
        }
        if self.jti_revoked(jti).await? {
            return Ok(true);
        }
        match grant_id {
            Some(g) => self.grant_revoked(g).await,
            None => Ok(false),
        }
    }

    /// Tells this process's revocations to the other instances on `bus` from now on (set
    /// once).
    pub fn tell_revocations(&self, bus: &Bus) {
        let _ = self.revoked.bus.set(bus.clone());
    }

    /// Hears another instance's revocation.
    pub fn heard_revocation(&self, event: &Event) {
        match event {
            Event::GrantRevoked { at, grant_id } => self.revoked.write(|s| s.grant(grant_id, *at)),
            Event::TokenRevoked { exp, jti } => self.revoked.write(|s| s.jti(jti, *exp)),
            _ => {}
        }
    }

    /// Stops answering revocations from memory until the next [`Store::load_revoked`] (the
    /// bus lost its connection: messages may be missing).
    pub fn distrust_revoked(&self) {
        self.revoked.write(|s| s.complete = false);
    }

    /// Reads every revocation that can matter at `now` (tokens not expired, grants revoked
    /// in the last `window` seconds) into memory, which answers from then on. Returns how
    /// many are held (tokens, grants).
    pub async fn load_revoked(&self, now: i64, window: i64) -> Result<(usize, usize)> {
        let tokens =
            sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= $1")
                .bind(now - LEEWAY)
                .fetch_all(self.db.pool())
                .await?;
        let grants = self.grants_revoked_since(now - window).await?;
        self.revoked.write(|s| {
            note(s, &tokens, &grants, now, window)?;
            s.complete = true;
            Ok(s.len())
        })
    }

    /// The fallback for lost messages and other processes' writes: reads the revocations
    /// stored since `since` (by any instance's clock) into memory, and forgets what no longer
    /// matters at `now`. Returns how many were read.
    pub async fn poll_revoked(&self, since: i64, now: i64, window: i64) -> Result<usize> {
        let tokens =
            sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE revoked_at >= $1")
                .bind(since)
                .fetch_all(self.db.pool())
                .await?;
        let grants = self.grants_revoked_since(since).await?;
        self.revoked
            .write(|s| note(s, &tokens, &grants, now, window))?;
        Ok(tokens.len() + grants.len())
    }

    /// Grants revoked at or after `since`, with the time.
    async fn grants_revoked_since(&self, since: i64) -> Result<Vec<(String, i64)>> {
        sqlx::query("SELECT grant_id, revoked_at FROM grants WHERE revoked_at >= $1")
            .bind(since)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("grant_id")?, r.try_get("revoked_at")?)))
            .collect()
    }
}

/// Notes revoked tokens (rows of `revoked_tokens`) and grants read from the store, then
/// forgets what no longer matters at `now`.
fn note(
    s: &mut RevokedSet,
    tokens: &[sqlx::any::AnyRow],
    grants: &[(String, i64)],
    now: i64,
    window: i64,
) -> Result<()> {
    for r in tokens {
        s.jti(r.try_get("jti")?, r.try_get("expires_at")?);
    }
    for (g, at) in grants {
        s.grant(g, *at);
    }
    s.prune(now, window);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RevokedSet;

    #[test]
    fn an_incomplete_set_does_not_answer() {
        let mut s = RevokedSet::default();
        s.jti("j1", 100);
        assert_eq!(s.answer("j1", None), None);
        s.complete = true;
        assert_eq!(s.answer("j1", None), Some(true));
    }

    #[test]
    fn a_token_is_revoked_by_its_jti_or_its_grant() {
        let mut s = RevokedSet {
            complete: true,
            ..Default::default()
        };
        s.jti("j1", 1_000);
        s.grant("g1", 500);
        assert_eq!(s.answer("j1", None), Some(true));
        assert_eq!(s.answer("j2", Some("g1")), Some(true));
        assert_eq!(s.answer("j2", Some("g2")), Some(false));
        assert_eq!(s.answer("j2", None), Some(false));
    }

    #[test]
    fn what_can_no_longer_matter_is_forgotten() {
        let mut s = RevokedSet {
            complete: true,
            ..Default::default()
        };
        s.jti("old", 1_000);
        s.jti("live", 2_000);
        s.grant("long-ago", 1_000);
        s.grant("recent", 1_900);
        s.prune(1_200, 600);
        assert_eq!(
            s.answer("old", None),
            Some(true),
            "expired within the leeway"
        );
        assert_eq!(s.answer("x", Some("long-ago")), Some(true));
        // At 2_000 with tokens living at most 600 s: "old" expired more than the leeway ago,
        // and every token of "long-ago" has expired.
        s.prune(2_000, 600);
        assert_eq!(s.answer("old", None), Some(false));
        assert_eq!(s.answer("live", None), Some(true));
        assert_eq!(s.answer("x", Some("long-ago")), Some(false));
        assert_eq!(s.answer("x", Some("recent")), Some(true));
    }

    #[test]
    fn the_earliest_revocation_of_a_grant_is_kept() {
        let mut s = RevokedSet::default();
        s.grant("g", 900);
        s.grant("g", 800);
        s.grant("g", 950);
        s.prune(1_000 + 150, 300);
        assert_eq!(s.len(), (0, 0), "pruned from 800, not 950");
    }
}
