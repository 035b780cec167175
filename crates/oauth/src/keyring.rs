//! The life of a realm's signing keys, as pure state transitions.
//!
//! For each algorithm the ring holds one `Active` key (signs), one `Next` key (published in
//! the JWKS before it signs anything, so relying parties have it cached when it takes over)
//! and any number of `Retired` keys (no longer sign, still verify until every token they
//! signed has expired).

use super::jose::SigAlg;
use serde::{Deserialize, Serialize};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Published, not yet signing.
    Next,
    /// Signing.
    Active,
    /// Verifying only, until `verify_until`.
    Retired,
}

/// One key of the ring as stored (the private key sealed by the key store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: SigAlg,
    /// Status.
    pub status: KeyStatus,
    /// Creation time.
    pub created_at: i64,
    /// For retired keys: when it stops being published.
    #[serde(default)]
    pub verify_until: Option<i64>,
    /// The sealed PKCS#8 private key (base64), opaque to the core.
    pub sealed: String,
}

/// A realm's key ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Ring {
    /// Format version.
    pub version: u32,
    /// Keys.
    pub keys: Vec<KeyRecord>,
}

impl Ring {
    /// The keys to generate so that every algorithm has an active and a next key.
    pub fn missing(&self, algs: &[SigAlg]) -> Vec<(SigAlg, KeyStatus)> {
        let mut out = Vec::new();
        for &alg in algs {
            for st in [KeyStatus::Active, KeyStatus::Next] {
                if !self.keys.iter().any(|k| k.alg == alg && k.status == st) {
                    out.push((alg, st));
                }
            }
        }
        out
    }

    /// Rotates every algorithm: the active key retires (verifying for `retain_secs` more),
    /// the next key becomes active. The caller then fills the new gaps with [`Ring::missing`].
    /// Retired keys past their date are dropped.
    pub fn rotate(&mut self, now: i64, retain_secs: i64) {
        let algs: Vec<SigAlg> = self
            .keys
            .iter()
            .filter(|k| k.status == KeyStatus::Next)
            .map(|k| k.alg)
            .collect();
        for alg in algs {
            for k in self.keys.iter_mut().filter(|k| k.alg == alg) {
                match k.status {
                    KeyStatus::Active => {
                        k.status = KeyStatus::Retired;
                        k.verify_until = Some(now + retain_secs);
                    }
                    KeyStatus::Next => k.status = KeyStatus::Active,
                    KeyStatus::Retired => {}
                }
            }
        }
        self.prune(now);
    }

    /// Drops retired keys whose tokens have all expired.
    pub fn prune(&mut self, now: i64) {
        self.keys
            .retain(|k| k.status != KeyStatus::Retired || k.verify_until.is_some_and(|t| t > now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kid: &str, status: KeyStatus) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            alg: SigAlg::ES256,
            status,
            created_at: 0,
            verify_until: None,
            sealed: String::new(),
        }
    }

    #[test]
    fn rotation_promotes_next_and_retires_active() {
        let mut r = Ring {
            version: 1,
            keys: vec![rec("a", KeyStatus::Active), rec("n", KeyStatus::Next)],
        };
        assert!(r.missing(&[SigAlg::ES256]).is_empty());
        assert_eq!(r.missing(&[SigAlg::RS256]).len(), 2);
        r.rotate(100, 600);
        fn st(r: &Ring, kid: &str) -> Option<KeyStatus> {
            r.keys.iter().find(|k| k.kid == kid).map(|k| k.status)
        }
        assert_eq!(st(&r, "a"), Some(KeyStatus::Retired));
        assert_eq!(st(&r, "n"), Some(KeyStatus::Active));
        assert_eq!(
            r.missing(&[SigAlg::ES256]),
            vec![(SigAlg::ES256, KeyStatus::Next)]
        );
        r.prune(699);
        assert_eq!(st(&r, "a"), Some(KeyStatus::Retired));
        r.prune(700);
        assert_eq!(st(&r, "a"), None);
    }
}
