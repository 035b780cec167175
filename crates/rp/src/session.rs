//! Pure: the sessions of a relying party's pages (the directory's professionals' space, the
//! offer's pages), each held by the browser in a sealed cookie ([`crate::sealed`]), and the
//! login in progress in another ([`SessionCookies`]); the proof that a form post carries its
//! session's CSRF token ([`CsrfChecked`]), which every change asks for; and the professional's
//! national id read from a login ([`national_id`]).
//!
//! Time comes in as `now`, the nonces and tokens from the caller's randomness. Nothing is
//! kept in the relying party's memory: every instance given the same client secret reads the
//! cookies of the others, after a restart too, so replicas behind a load balancer need no
//! stickiness and no shared store. A session lasts until its expiry; clearing its cookie (at
//! logout) ends it in the browser, not a copy of the cookie taken before.

use crate::login::PendingLogin;
use crate::sealed::{Purpose, SealError, Sealer};
use coeur_common::random::Random;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A logged-in professional's session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let given = given?;
        (!self.csrf.is_empty() && same(given, &self.csrf)).then_some(CsrfChecked { session: self })
    }
}

/// Whether `a` and `b` are the same, in a time that depends on their lengths only.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The two sealed cookies of a relying party's pages: the login in progress (its state,
/// nonce and PKCE verifier, between the redirect to the provider and the callback) and the
/// session. Both are keyed from the client secret, each for its own purpose and name.
pub struct SessionCookies {
    login: Sealer,
    session: Sealer,
}

impl fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookies")
            .field("login", &self.login.name())
            .field("session", &self.session.name())
            .finish_non_exhaustive()
    }
}

impl SessionCookies {
    /// The cookies named `login` and `session` of the client whose secret is `client_secret`.
    pub fn new(client_secret: &str, login: &str, session: &str) -> Result<Self, SealError> {
        Ok(SessionCookies {
            login: Sealer::new(client_secret, Purpose::Login, login)?,
            session: Sealer::new(client_secret, Purpose::Session, session)?,
        })
    }

    /// The login cookie's name.
    pub fn login_name(&self) -> &str {
        self.login.name()
    }

    /// The session cookie's name.
    pub fn session_name(&self) -> &str {
        self.session.name()
    }

    /// The login cookie's value for `pending`, good until `expires`.
    pub fn seal_login(
        &self,
        pending: &PendingLogin,
        expires: i64,
        random: &dyn Random,
    ) -> Result<String, SealError> {
        self.login.seal(pending, expires, random)
    }

    /// The login of the cookie `sealed` if it is unexpired at `now` and its state is the
    /// callback's `state`: the login this browser started.
    pub fn open_login(&self, sealed: &str, state: &str, now: i64) -> Option<PendingLogin> {
        self.login
            .open::<PendingLogin>(sealed, now)
            .filter(|p| same(&p.state, state))
    }

    /// The session cookie's value for `session`, good until the session's end. Refused
    /// ([`SealError::TooLarge`]) when the cookie would be too long for a browser to keep: with
    /// an ID token of a few kilobytes (PSC's are 1 to 1.5 KB, the cookie about 2.3 KB), rather
    /// than compressed, which would put the ID token's size in a cookie's length and an
    /// inflater in front of hostile input for a case that is not expected.
    pub fn seal_session(
        &self,
        session: &Session,
        random: &dyn Random,
    ) -> Result<String, SealError> {
        self.session.seal(session, session.expires, random)
    }

    /// The session of the cookie `sealed`, unless it ended at `now`.
    pub fn open_session(&self, sealed: &str, now: i64) -> Option<Session> {
        self.session
            .open::<Session>(sealed, now)
            .filter(|s| s.expires > now)
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

#[cfg(test)]
mod tests {
    use super::*;
    use coeur_common::random::testing::SeededRandom;

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

    const SECRET: &str = "client-secret-0123456789abcdef0123456789";
    const NOW: i64 = 1_767_225_600;

    fn cookies(secret: &str) -> SessionCookies {
        SessionCookies::new(secret, "annuaire_login", "annuaire_session").expect("cookies")
    }

    /// A session with an ID token of `len` characters (PSC's: about 1 to 1.5 KB).
    fn session_with_token(len: usize) -> Session {
        Session {
            id_token: "e".repeat(len),
            ..session(NOW + 8 * 3600)
        }
    }

    fn pending() -> PendingLogin {
        PendingLogin {
            state: "state-0123456789abcdef0123456789abcdef0123456".into(),
            nonce: "nonce-0123456789abcdef0123456789abcdef0123456".into(),
            pkce_verifier: "verifier-0123456789abcdef0123456789abcdef012".into(),
        }
    }

    #[test]
    fn a_session_cookie_opens_at_any_instance_until_the_session_ends() {
        let rng = SeededRandom::new(1);
        let (a, b) = (cookies(SECRET), cookies(SECRET));
        let s = session_with_token(1500);
        let v = a.seal_session(&s, &rng).expect("seal");
        assert!(
            v.len() < 2400,
            "a PSC-sized session: {} characters",
            v.len()
        );
        assert_eq!(b.open_session(&v, NOW), Some(s.clone()), "another instance");
        assert_eq!(a.open_session(&v, NOW + 8 * 3600 - 1), Some(s.clone()));
        assert_eq!(a.open_session(&v, NOW + 8 * 3600), None, "ended");
        assert_eq!(cookies("another-secret").open_session(&v, NOW), None);
        let offer = SessionCookies::new(SECRET, "offre_login", "offre_session").expect("cookies");
        assert_eq!(
            offer.open_session(&v, NOW),
            None,
            "another service's cookie"
        );
        assert_eq!(a.open_login(&v, &pending().state, NOW), None, "not a login");
        assert_eq!(a.open_session(&format!("{v}x"), NOW), None);
    }

    #[test]
    fn a_login_cookie_opens_for_its_state_until_it_expires() {
        let rng = SeededRandom::new(2);
        let (a, b) = (cookies(SECRET), cookies(SECRET));
        let p = pending();
        let v = a.seal_login(&p, NOW + 900, &rng).expect("seal");
        assert_eq!(b.open_login(&v, &p.state, NOW), Some(p.clone()));
        assert_eq!(b.open_login(&v, "another-state", NOW), None);
        assert_eq!(b.open_login(&v, "", NOW), None);
        assert_eq!(b.open_login(&v, &p.state, NOW + 900), None, "expired");
        assert_eq!(b.open_session(&v, NOW), None, "not a session");
        assert_eq!(
            cookies("another-secret").open_login(&v, &p.state, NOW),
            None
        );
    }

    #[test]
    fn a_session_too_large_for_a_cookie_is_refused() {
        let c = cookies(SECRET);
        match c.seal_session(&session_with_token(3000), &SeededRandom::new(3)) {
            Err(SealError::TooLarge(n)) => assert!(n > crate::sealed::MAX_SEALED),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = cookies(SECRET);
        let shown = format!("{c:?} {:?}", session(2000));
        assert!(shown.contains("annuaire_session"), "{shown}");
        for secret in [SECRET, "secret.token", "csrf-token", "899700218896"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
