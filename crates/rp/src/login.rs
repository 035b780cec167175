//! A login in progress ([`PendingLogin`], kept in a sealed cookie by
//! [`crate::session::SessionCookies`]) and a finished one ([`Login`], [`IdClaims`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// What the relying party keeps between the authorization request and its callback. Secret:
/// keep it server-side (or sealed), never in the URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The `state` sent, to find this login again from the callback.
    pub state: String,
    /// The `nonce` sent, which the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier whose S256 challenge was sent.
    pub pkce_verifier: String,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The claims of a verified ID token.
#[derive(Clone, Debug, PartialEq)]
pub struct IdClaims {
    /// The subject.
    pub sub: String,
    /// The authentication context class reached (e.g. `eidas1`).
    pub acr: Option<String>,
    /// The authentication methods used.
    pub amr: Vec<String>,
    /// When the user authenticated, in seconds since the Unix epoch.
    pub auth_time: Option<i64>,
    /// The claims beyond those of JWT and OpenID Connect Core (PSC's `authMode`,
    /// `SubjectNameID`, `sid`...).
    pub extra: Map<String, Value>,
    /// Every claim of the token, as issued.
    pub all: Map<String, Value>,
}

/// Claims that JWT and OpenID Connect Core define for ID tokens and the standard profile claims;
/// whatever else an ID token carries is in [`IdClaims::extra`].
const REGISTERED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

impl IdClaims {
    /// Reads the claims of a payload whose signature and claims were verified.
    pub(crate) fn from_verified(all: Map<String, Value>) -> Self {
        let string = |k: &str| all.get(k).and_then(Value::as_str).map(str::to_owned);
        let amr = match all.get("amr") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let extra = all
            .iter()
            .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        IdClaims {
            sub: string("sub").unwrap_or_default(),
            acr: string("acr"),
            amr,
            auth_time: all.get("auth_time").and_then(Value::as_i64),
            extra,
            all,
        }
    }
}

/// A finished login: the verified ID token and the tokens issued with it.
#[derive(Clone)]
pub struct Login {
    /// The verified ID token's claims.
    pub claims: IdClaims,
    /// The access token, for userinfo and resource servers.
    pub access_token: String,
    /// The refresh token, when one was issued.
    pub refresh_token: Option<String>,
    /// The access token's lifetime, when the provider said.
    pub expires_in: Option<Duration>,
    /// The scopes granted, when the provider said.
    pub scopes: Option<Vec<String>>,
    /// The ID token as issued (e.g. for `id_token_hint` at logout).
    pub id_token: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("claims", &self.claims)
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(state: &str) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: format!("nonce-{state}"),
            pkce_verifier: format!("verifier-{state}"),
        }
    }

    #[test]
    fn pending_login_round_trips_through_json() {
        let p = pending("s1");
        let json = serde_json::to_string(&p).expect("serialize");
        let back: PendingLogin = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, p);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let p = pending("s1");
        let d = format!("{p:?}");
        assert!(d.contains("s1") && !d.contains("nonce-s1") && !d.contains("verifier-s1"));
    }

    #[test]
    fn claims_split_registered_and_extra() {
        let all: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "iss": "https://idp.example", "sub": "f:x:899700218896", "aud": "rp",
            "exp": 2000, "iat": 1000, "auth_time": 990, "acr": "eidas1",
            "amr": ["pop", "mfa"], "nonce": "n", "authMode": "TEST",
            "SubjectNameID": "899700218896", "sid": "abc",
        }))
        .expect("map");
        let c = IdClaims::from_verified(all.clone());
        assert_eq!(c.sub, "f:x:899700218896");
        assert_eq!(c.acr.as_deref(), Some("eidas1"));
        assert_eq!(c.amr, ["pop", "mfa"]);
        assert_eq!(c.auth_time, Some(990));
        let mut extra: Vec<&str> = c.extra.keys().map(String::as_str).collect();
        extra.sort();
        assert_eq!(extra, ["SubjectNameID", "authMode", "sid"]);
        assert_eq!(c.all, all);
    }
}
