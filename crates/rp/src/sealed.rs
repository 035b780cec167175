//! Pure: sealed cookies, whose value only the relying party can read and write, so that what
//! it keeps between requests (a login in progress, a session) lives in the browser and any
//! instance sharing the client secret reads it, after a restart too.
//!
//! - The key: AES-256-GCM, derived by HKDF-SHA256 from the relying party's client secret
//!   (the input keying material; a fixed salt naming this format) for one [`Purpose`] and one
//!   cookie name (the info). A login cookie does not open as a session cookie, and a service's
//!   cookies do not open at another service (another secret, other names).
//! - The value: `base64url-no-pad(version ‖ nonce ‖ ciphertext ‖ tag)`, the 96-bit nonce
//!   random for each seal (from the caller's [`Random`]), the cookie name as associated data,
//!   the plaintext the expiry (seconds since the epoch, 8 bytes big-endian) then the JSON of
//!   the value. Random nonces keep AES-GCM within its bounds up to about 2³² seals per key,
//!   far beyond the logins of a client secret's lifetime.
//! - [`Sealer::open`] gives nothing (`None`) for a value tampered with, sealed under another
//!   key, for another cookie name or purpose, expired at the given `now`, badly encoded or
//!   longer than a cookie may be; it never panics.
//! - A sealed value is at most [`MAX_SEALED`] characters: a browser keeps cookies of at most
//!   4096 bytes (name, value and attributes). [`Sealer::seal`] refuses a longer one
//!   ([`SealError::TooLarge`]) rather than set a cookie the browser would drop.
//!
//! Nothing is kept server-side: a sealed cookie holds until its expiry even after the
//! relying party cleared it (e.g. at logout) in the browser that held it. Changing the client
//! secret makes every cookie sealed under the former one unreadable (users log in again).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur_common::random::Random;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// The longest sealed value, in characters: with the cookie's name and attributes, well
/// within the 4096 bytes a browser keeps of a cookie.
pub const MAX_SEALED: usize = 3800;

/// The first byte of a sealed value: this format.
const VERSION: u8 = 1;
/// The salt of the key derivation: this format's name.
const SALT: &[u8] = b"coeur-rp sealed cookie v1";
/// The expiry's bytes at the start of the plaintext.
const EXPIRY_LEN: usize = 8;
/// The authentication tag's length (AES-GCM).
const TAG_LEN: usize = 16;

/// What a sealed cookie carries; each has keys of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A login in progress, between the authorization request and its callback.
    Login,
    /// A logged-in user's session.
    Session,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Login => b"login",
            Purpose::Session => b"session",
        }
    }
}

/// Why a value could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key could not be derived (not expected with AES-256-GCM and HKDF-SHA256).
    #[error("the cookie key could not be derived")]
    Key,
    /// The value did not serialise or encrypt (not expected).
    #[error("the cookie value could not be sealed")]
    Seal,
    /// The sealed value would exceed [`MAX_SEALED`] characters.
    #[error("the sealed cookie would be {0} characters, more than {MAX_SEALED}")]
    TooLarge(usize),
}

/// Seals and opens the values of one cookie for one purpose.
pub struct Sealer {
    key: LessSafeKey,
    name: String,
    purpose: Purpose,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("name", &self.name)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The sealer of the cookie `name` for `purpose`, keyed from `client_secret`; every
    /// instance given the same three seals and opens the same values.
    pub fn new(client_secret: &str, purpose: Purpose, name: &str) -> Result<Self, SealError> {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(client_secret.as_bytes());
        // The purpose's label has no NUL: the info reads back one way only.
        let info: [&[u8]; 3] = [purpose.label(), b"\0", name.as_bytes()];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| SealError::Key)?;
        Ok(Sealer {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            name: name.to_owned(),
            purpose,
        })
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `value` sealed until `expires` (seconds since the epoch), with a fresh nonce from
    /// `random`.
    pub fn seal<T: Serialize>(
        &self,
        value: &T,
        expires: i64,
        random: &dyn Random,
    ) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut buf = expires.to_be_bytes().to_vec();
        serde_json::to_writer(&mut buf, value).map_err(|_| SealError::Seal)?;
        let sealed_len = 1 + NONCE_LEN + buf.len() + TAG_LEN;
        let encoded_len = base64::encoded_len(sealed_len, false).unwrap_or(usize::MAX);
        if encoded_len > MAX_SEALED {
            return Err(SealError::TooLarge(encoded_len));
        }
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.name.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(sealed_len);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The value sealed in `sealed`, unless it was tampered with, sealed by another key or for
    /// another cookie, expired at `now`, or does not read as a `T`.
    pub fn open<T: DeserializeOwned>(&self, sealed: &str, now: i64) -> Option<T> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (&version, rest) = raw.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN + EXPIRY_LEN + TAG_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(self.name.as_bytes()), &mut buf)
            .ok()?;
        let (expiry, json) = plain.split_first_chunk::<EXPIRY_LEN>()?;
        if i64::from_be_bytes(*expiry) <= now {
            return None;
        }
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coeur_common::random::testing::SeededRandom;
    use serde::Deserialize;

    const SECRET: &str = "client-secret-0123456789abcdef0123456789";
    const NOW: i64 = 1_767_225_600;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Value {
        who: String,
        token: String,
    }

    fn value(token_len: usize) -> Value {
        Value {
            who: "899700218896".into(),
            token: "x".repeat(token_len),
        }
    }

    fn sealer(secret: &str, purpose: Purpose, name: &str) -> Sealer {
        Sealer::new(secret, purpose, name).expect("sealer")
    }

    fn sealed(s: &Sealer, expires: i64) -> String {
        s.seal(&value(1500), expires, &SeededRandom::new(7))
            .expect("seal")
    }

    #[test]
    fn a_sealed_value_opens_until_it_expires() {
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let v = sealed(&s, NOW + 60);
        assert_eq!(s.open::<Value>(&v, NOW), Some(value(1500)));
        assert_eq!(s.open::<Value>(&v, NOW + 59), Some(value(1500)));
        assert_eq!(s.open::<Value>(&v, NOW + 60), None, "expired");
        assert_eq!(s.open::<Value>(&sealed(&s, NOW), NOW), None, "expired");
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "base64url without padding: {v}"
        );
        assert!(!v.contains("899700218896") && !v.contains("xxxx"), "sealed");
    }

    #[test]
    fn each_seal_takes_a_fresh_nonce() {
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let rng = SeededRandom::new(1);
        let a = s.seal(&value(10), NOW + 60, &rng).expect("seal");
        let b = s.seal(&value(10), NOW + 60, &rng).expect("seal");
        assert_ne!(a, b);
        assert_eq!(s.open::<Value>(&a, NOW), s.open::<Value>(&b, NOW));
    }

    #[test]
    fn a_change_of_any_byte_is_refused() {
        let s = sealer(SECRET, Purpose::Login, "offre_login");
        let v = s
            .seal(&value(20), NOW + 60, &SeededRandom::new(3))
            .expect("seal");
        let raw = URL_SAFE_NO_PAD.decode(&v).expect("base64");
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80] {
                let mut t = raw.clone();
                t[i] ^= flip;
                let t = URL_SAFE_NO_PAD.encode(t);
                assert_eq!(s.open::<Value>(&t, NOW), None, "byte {i} ^ {flip:#x}");
            }
        }
        // Cut or lengthened.
        for cut in 1..raw.len() {
            let t = URL_SAFE_NO_PAD.encode(&raw[..cut]);
            assert_eq!(s.open::<Value>(&t, NOW), None, "cut at {cut}");
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert_eq!(s.open::<Value>(&URL_SAFE_NO_PAD.encode(longer), NOW), None);
    }

    #[test]
    fn another_key_name_or_purpose_is_refused() {
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let v = sealed(&s, NOW + 60);
        for other in [
            sealer("another-secret", Purpose::Session, "annuaire_session"),
            sealer(SECRET, Purpose::Session, "offre_session"),
            sealer(SECRET, Purpose::Login, "annuaire_session"),
            sealer(SECRET, Purpose::Login, "annuaire_login"),
        ] {
            assert_eq!(other.open::<Value>(&v, NOW), None, "{other:?}");
        }
    }

    #[test]
    fn the_name_is_bound_as_associated_data() {
        // Even under the same key, a value sealed for another name does not open.
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let mut other = sealer(SECRET, Purpose::Session, "annuaire_session");
        other.name = "offre_session".into();
        let v = other
            .seal(&value(10), NOW + 60, &SeededRandom::new(5))
            .expect("seal");
        assert!(other.open::<Value>(&v, NOW).is_some());
        assert_eq!(s.open::<Value>(&v, NOW), None);
    }

    #[test]
    fn two_instances_with_the_same_secret_read_each_others_cookies() {
        let a = sealer(SECRET, Purpose::Session, "offre_session");
        let b = sealer(SECRET, Purpose::Session, "offre_session");
        let from_a = sealed(&a, NOW + 60);
        let from_b = b
            .seal(&value(1500), NOW + 60, &SeededRandom::new(99))
            .expect("seal");
        assert_eq!(b.open::<Value>(&from_a, NOW), Some(value(1500)));
        assert_eq!(a.open::<Value>(&from_b, NOW), Some(value(1500)));
        let c = sealer(
            "the-secret-of-another-client",
            Purpose::Session,
            "offre_session",
        );
        assert_eq!(c.open::<Value>(&from_a, NOW), None);
        assert_eq!(a.open::<Value>(&sealed(&c, NOW + 60), NOW), None);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let huge = "A".repeat(1 << 20);
        let valid = sealed(&s, NOW + 60);
        let padded = format!("{valid}=");
        let wrong_version = {
            let mut raw = URL_SAFE_NO_PAD.decode(&valid).expect("base64");
            raw[0] = 2;
            URL_SAFE_NO_PAD.encode(raw)
        };
        let bad: Vec<String> = [
            "",
            "=",
            "A",
            "AA",
            "not base64 at all!",
            "%00%ff",
            "\u{0}\u{1}",
            "été",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([
            huge,
            padded,
            valid[1..].to_owned(),
            wrong_version,
            URL_SAFE_NO_PAD.encode([VERSION]),
            URL_SAFE_NO_PAD.encode([0u8; 64]),
            URL_SAFE_NO_PAD.encode([VERSION; 1 + NONCE_LEN + EXPIRY_LEN + TAG_LEN]),
        ])
        .collect();
        for b in &bad {
            assert_eq!(s.open::<Value>(b, NOW), None, "{:?}", &b[..b.len().min(40)]);
        }
        let rng = SeededRandom::new(11);
        for len in 0..200 {
            let mut b = vec![0u8; len];
            rng.fill(&mut b);
            assert_eq!(s.open::<Value>(&URL_SAFE_NO_PAD.encode(&b), NOW), None);
        }
    }

    #[test]
    fn a_value_of_another_shape_does_not_open() {
        let s = sealer(SECRET, Purpose::Login, "annuaire_login");
        let v = s
            .seal(&"just a string", NOW + 60, &SeededRandom::new(2))
            .expect("seal");
        assert_eq!(s.open::<Value>(&v, NOW), None);
        assert_eq!(s.open::<String>(&v, NOW).as_deref(), Some("just a string"));
    }

    #[test]
    fn a_value_too_large_for_a_cookie_is_refused() {
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let rng = SeededRandom::new(4);
        let fits = s.seal(&value(2000), NOW + 60, &rng).expect("2 KB fits");
        assert!(fits.len() <= MAX_SEALED);
        match s.seal(&value(3000), NOW + 60, &rng) {
            Err(SealError::TooLarge(n)) => assert!(n > MAX_SEALED),
            other => panic!("{other:?}"),
        }
        // The largest that fits, and one byte more.
        let largest = (0..3000)
            .rev()
            .find(|n| s.seal(&value(*n), NOW + 60, &rng).is_ok())
            .expect("some fit");
        let v = s.seal(&value(largest), NOW + 60, &rng).expect("fits");
        assert!(
            v.len() <= MAX_SEALED && v.len() > MAX_SEALED - 4,
            "{}",
            v.len()
        );
        assert_eq!(s.open::<Value>(&v, NOW), Some(value(largest)));
    }

    #[test]
    fn debug_output_shows_no_key() {
        let s = sealer(SECRET, Purpose::Session, "annuaire_session");
        let shown = format!("{s:?}");
        assert!(
            shown.contains("annuaire_session") && !shown.contains(SECRET),
            "{shown}"
        );
    }
}
