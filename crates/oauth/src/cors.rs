//! Which web origins may read a client's answers (CORS, for browser applications).
//!
//! A client registers its origins in `web_origins`: exact origins (`https://app.example`), or
//! `+` for the origins of its redirect URIs (Keycloak's shorthand). A public client that
//! registers none gets `+`: a single-page application is served from where it is redirected
//! back to. A confidential client gets none unless it registers them.
//!
//! The decision is [`WebOrigins::allow`]: an [`OriginAllowed`] is the only way to say that an
//! origin may read an answer, and only that function makes one.

use super::client::ClientSpec;
use std::collections::BTreeSet;

/// The `web_origins` entry that stands for the origins of the client's redirect URIs.
pub const REDIRECT_URIS: &str = "+";

/// A web origin (RFC 6454): scheme, host and port, serialized as browsers send it in the
/// `Origin` header (`https://app.example`, `http://127.0.0.1:5173`; no default port, no
/// path).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin(String);

impl Origin {
    /// The origin of an `http` or `https` URL; `None` for other schemes (a native app's
    /// private-use scheme has no web origin).
    pub fn of_url(u: &url::Url) -> Option<Origin> {
        if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
            return None;
        }
        Some(Origin(u.origin().ascii_serialization()))
    }

    /// An `Origin` request header, exactly as a browser serializes it; anything else (an
    /// opaque `null` origin, a path, upper case, a default port spelled out) is `None` and is
    /// never allowed.
    pub fn from_header(value: &str) -> Option<Origin> {
        let u = url::Url::parse(value).ok()?;
        let origin = Origin::of_url(&u)?;
        (origin.0 == value).then_some(origin)
    }

    /// A registered origin (`web_origins`): an absolute `http`/`https` URL with nothing after
    /// its authority but an optional `/`; normalized as browsers serialize it. `http` only for
    /// loopback hosts, as for redirect URIs.
    pub fn registered(entry: &str) -> Result<Origin, &'static str> {
        let u = url::Url::parse(entry).map_err(|_| "not an absolute URL")?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err("must not contain user information");
        }
        if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
            return Err("an origin has no path, query or fragment");
        }
        if u.scheme() == "http" && !is_loopback(&u) {
            return Err("http is allowed only for loopback hosts");
        }
        Origin::of_url(&u).ok_or("an origin is http or https")
    }

    /// The serialized origin, as the `Access-Control-Allow-Origin` header carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks one `web_origins` entry at registration.
pub fn validate_web_origin(entry: &str) -> Result<(), &'static str> {
    if entry == REDIRECT_URIS {
        return Ok(());
    }
    if entry == "*" {
        return Err("no wildcard: list the application's origins");
    }
    Origin::registered(entry).map(|_| ())
}

/// A set of origins allowed to read answers: one client's, or every client's of a realm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebOrigins(BTreeSet<Origin>);

impl WebOrigins {
    /// The origins `spec` registered, `+` expanded; a public client without `web_origins`
    /// gets its redirect URIs' origins. Entries that do not parse (checked at registration)
    /// allow nothing.
    pub fn of_client(spec: &ClientSpec) -> WebOrigins {
        let default = [REDIRECT_URIS.to_owned()];
        let entries: &[String] = match &spec.web_origins {
            Some(list) => list,
            None if spec.public => &default,
            None => &[],
        };
        let mut set = BTreeSet::new();
        for entry in entries {
            if entry == REDIRECT_URIS {
                set.extend(
                    spec.redirect_uris
                        .iter()
                        .filter_map(|r| url::Url::parse(r).ok())
                        .filter_map(|u| Origin::of_url(&u)),
                );
            } else if let Ok(o) = Origin::registered(entry) {
                set.insert(o);
            }
        }
        WebOrigins(set)
    }

    /// The origins of any of `specs` (a realm's clients): those a preflight, which names no
    /// client, may be answered for.
    pub fn of_clients<'a>(specs: impl IntoIterator<Item = &'a ClientSpec>) -> WebOrigins {
        let mut set = BTreeSet::new();
        for spec in specs {
            set.extend(WebOrigins::of_client(spec).0);
        }
        WebOrigins(set)
    }

    /// Whether the page at `origin` (the request's `Origin` header) may read the answer.
    pub fn allow(&self, origin: &str) -> Option<OriginAllowed> {
        let o = Origin::from_header(origin)?;
        self.0.contains(&o).then_some(OriginAllowed(o))
    }

    /// Whether no origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The origins, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Origin> {
        self.0.iter()
    }
}

/// An origin that may read this answer: the only value that lets the HTTP layer send
/// `Access-Control-Allow-Origin`, made by [`WebOrigins::allow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginAllowed(Origin);

impl OriginAllowed {
    /// The origin, for `Access-Control-Allow-Origin`.
    pub fn origin(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{GrantType, SecretMethods, TokenAuthMethod};

    fn spec(public: bool, redirect_uris: &[&str], web_origins: Option<&[&str]>) -> ClientSpec {
        ClientSpec {
            client_id: "spa".into(),
            public,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            token_endpoint_auth_method: if public {
                TokenAuthMethod::None
            } else {
                TokenAuthMethod::ClientSecretBasic
            },
            secret_methods: SecretMethods::Either,
            id_token_signed_response_alg: None,
            userinfo_signed_response_alg: None,
            scopes: vec!["openid".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            jwks: None,
            secret_hash: None,
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            resource_server_for: vec![],
            ca: None,
            web_origins: web_origins.map(|w| w.iter().map(|s| s.to_string()).collect()),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            ciba: None,
        }
    }

    fn allowed(s: &ClientSpec, origin: &str) -> bool {
        WebOrigins::of_client(s).allow(origin).is_some()
    }

    #[test]
    fn a_public_client_gets_its_redirect_uris_origins() {
        let s = spec(
            true,
            &[
                "https://app.example/cb",
                "https://app.example:8443/other/cb",
                "http://localhost:5173/cb",
                "com.example.app:/cb",
            ],
            None,
        );
        for ok in [
            "https://app.example",
            "https://app.example:8443",
            "http://localhost:5173",
        ] {
            assert!(allowed(&s, ok), "{ok}");
        }
        for refused in [
            "https://evil.example",
            "http://app.example",
            "https://app.example:443",
            "https://APP.example",
            "https://app.example/",
            "https://sub.app.example",
            "http://localhost:5174",
            "http://localhost",
            "null",
            "",
            "com.example.app:",
        ] {
            assert!(!allowed(&s, refused), "{refused}");
        }
        let allowed = WebOrigins::of_client(&s)
            .allow("https://app.example")
            .unwrap();
        assert_eq!(allowed.origin(), "https://app.example");
    }

    #[test]
    fn a_confidential_client_gets_only_what_it_registers() {
        assert!(WebOrigins::of_client(&spec(false, &["https://app.example/cb"], None)).is_empty());
        let s = spec(
            false,
            &["https://app.example/cb"],
            Some(&["https://Other.example:443/", "+"]),
        );
        assert!(allowed(&s, "https://other.example"));
        assert!(allowed(&s, "https://app.example"));
    }

    #[test]
    fn registered_origins_replace_the_default() {
        let s = spec(
            true,
            &["https://app.example/cb"],
            Some(&["https://static.example"]),
        );
        assert!(allowed(&s, "https://static.example"));
        assert!(!allowed(&s, "https://app.example"));
        let none = spec(true, &["https://app.example/cb"], Some(&[]));
        assert!(WebOrigins::of_client(&none).is_empty());
    }

    #[test]
    fn a_realm_allows_the_origins_of_any_client() {
        let a = spec(true, &["https://a.example/cb"], None);
        let b = spec(false, &["https://b.example/cb"], Some(&["+"]));
        let realm = WebOrigins::of_clients([&a, &b]);
        assert!(realm.allow("https://a.example").is_some());
        assert!(realm.allow("https://b.example").is_some());
        assert!(realm.allow("https://c.example").is_none());
    }

    #[test]
    fn registration_rules() {
        for ok in [
            "+",
            "https://app.example",
            "https://app.example/",
            "https://app.example:8443",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ] {
            assert!(validate_web_origin(ok).is_ok(), "{ok}");
        }
        for refused in [
            "*",
            "https://app.example/path",
            "https://app.example?x=1",
            "https://app.example#f",
            "https://u:p@app.example",
            "http://app.example",
            "ftp://app.example",
            "com.example.app:",
            "app.example",
            "",
        ] {
            assert!(validate_web_origin(refused).is_err(), "{refused}");
        }
    }
}
