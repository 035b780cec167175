//! Pure: the sessions of a relying party's pages (the directory's professionals' space, the
//! offer's pages), server-side and in memory, by an opaque random id (the cookie's value),
//! each for a limited time and a bounded number of them; the proof that a form post carries
//! its session's CSRF token ([`CsrfChecked`]), which every change asks for; and the
//! professional's national id read from a login ([`national_id`]).
//!
//! Time comes in as `now`, the ids and tokens from the caller's randomness. Sessions do not
//! survive a restart and are not shared between instances: a professional then logs in again.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// A logged-in professional's session.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// Their national id (IdNat_PS), read from the provider's answer.
    pub national_id: String,
    /// The ID token of the login, the `id_token_hint` of the logout at the provider.
    pub id_token: String,
    /// The scopes the provider granted at the login, space-separated.
    pub scope: String,
    /// The token each form of the session carries.
    pub csrf: String,
    /// When it ends (seconds since the epoch).
    pub expires: i64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Proof that a form post carried its session's CSRF token.
#[derive(Debug)]
pub struct CsrfChecked<'a> {
    session: &'a Session,
}

impl<'a> CsrfChecked<'a> {
    /// The session the post acts for.
    pub fn session(&self) -> &'a Session {
        self.session
    }
}

impl Session {
    /// Checks the token a form post carried (constant time); `None` when it is missing or
    /// another.
    pub fn check_csrf(&self, given: Option<&str>) -> Option<CsrfChecked<'_>> {
        let given = given?.as_bytes();
        let expected = self.csrf.as_bytes();
        if given.len() != expected.len() || expected.is_empty() {
            return None;
        }
        let diff = given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (diff == 0).then_some(CsrfChecked { session: self })
    }
}

/// The sessions, by id.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    capacity: usize,
}

impl Sessions {
    /// No session yet; at most `capacity` at once.
    pub fn new(capacity: usize) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// Keeps `session` under `id`; false, keeping nothing, when full of unexpired sessions.
    pub fn insert(&self, id: String, session: Session, now: i64) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= self.capacity {
            return false;
        }
        map.insert(id, session);
        true
    }

    /// The unexpired session of `id`.
    pub fn get(&self, id: &str, now: i64) -> Option<Session> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).filter(|s| s.expires > now).cloned()
    }

    /// Ends the session of `id`.
    pub fn remove(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id)
    }
}

/// The professional's national id from a login: `SubjectNameID` of userinfo, else of the ID
/// token, else the last part of the subject (`f:<uuid>:<IdNat>`, or the id itself).
pub fn national_id(
    sub: &str,
    id_token_extra: &serde_json::Value,
    userinfo: &serde_json::Value,
) -> Option<String> {
    let named = |v: &serde_json::Value| {
        v.get("SubjectNameID")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    named(userinfo)
        .or_else(|| named(id_token_extra))
        .or_else(|| {
            sub.rsplit(':')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.map.lock().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("Sessions")
            .field("open", &n)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires: i64) -> Session {
        Session {
            national_id: "899700218896".into(),
            id_token: "eyJ.secret.token".into(),
            scope: "openid scope_all".into(),
            csrf: "csrf-token-0123456789".into(),
            expires,
        }
    }

    #[test]
    fn only_the_session_token_passes() {
        let s = session(2000);
        assert!(s.check_csrf(Some("csrf-token-0123456789")).is_some());
        for bad in [None, Some(""), Some("csrf-token-0123456788"), Some("csrf")] {
            assert!(s.check_csrf(bad).is_none(), "{bad:?}");
        }
        let empty = Session {
            csrf: String::new(),
            ..session(2000)
        };
        assert!(empty.check_csrf(Some("")).is_none());
    }

    #[test]
    fn the_national_id_is_psc_subject_name_id_else_the_subject_end() {
        use serde_json::json;
        let sub = "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700218896";
        assert_eq!(
            national_id(sub, &json!({}), &json!({"SubjectNameID": "899700218896"})).as_deref(),
            Some("899700218896")
        );
        assert_eq!(
            national_id(sub, &json!({"SubjectNameID": "810001"}), &json!({})).as_deref(),
            Some("810001")
        );
        assert_eq!(
            national_id(sub, &json!({}), &json!({})).as_deref(),
            Some("899700218896")
        );
        assert_eq!(national_id("", &json!({}), &json!({})), None);
    }

    #[test]
    fn sessions_expire_end_and_are_bounded() {
        let all = Sessions::new(2);
        assert!(all.insert("a".into(), session(2000), 1000));
        assert!(all.insert("b".into(), session(1500), 1000));
        assert!(!all.insert("c".into(), session(2000), 1000), "full");
        assert!(all.get("a", 1999).is_some());
        assert!(all.get("b", 1500).is_none(), "expired");
        assert!(all.insert("c".into(), session(3000), 1600), "b expired");
        assert!(all.remove("a").is_some());
        assert!(all.get("a", 1601).is_none(), "ended");
        let shown = format!("{:?}", all.get("c", 1601).unwrap());
        assert!(!shown.contains("secret") && !shown.contains("csrf-token"));
    }
}
