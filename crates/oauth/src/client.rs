//! Registered clients (relying parties) and their validation.

use super::jose::SigAlg;
use super::secret::SecretHash;
use serde::{Deserialize, Serialize};

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's key (RFC 7523).
    PrivateKeyJwt,
    /// A public client: no authentication, PKCE required.
    None,
    /// Mutual TLS with a certificate from coeur's ORGANISATIONS CAs (RFC 8705 §2.1).
    TlsClientAuth,
}

impl TokenAuthMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
            TokenAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenAuthMethod::None => "none",
            TokenAuthMethod::TlsClientAuth => "tls_client_auth",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
    /// Whether the method presents the client secret (Basic or in the form).
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost
        )
    }
}

/// Which of the two secret methods a client registered with `client_secret_basic` or
/// `client_secret_post` may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretMethods {
    /// Either one, whichever was registered, as Keycloak accepts: relying parties send the
    /// secret the way their library defaults to (`openid-client` v6 and mod_auth_openidc
    /// configured for it post it).
    #[default]
    Either,
    /// Only the registered one.
    RegisteredOnly,
}

impl SecretMethods {
    fn is_either(&self) -> bool {
        *self == SecretMethods::Either
    }
}

/// A grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// Authorization code (with PKCE).
    AuthorizationCode,
    /// Refresh token.
    RefreshToken,
    /// Client credentials.
    ClientCredentials,
    /// Client-Initiated Backchannel Authentication (CIBA Core 1.0 §10.1).
    #[serde(rename = "urn:openid:params:grant-type:ciba")]
    Ciba,
}

impl GrantType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Ciba => crate::ciba::GRANT_TYPE,
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// A client's registration, without its secret (which is stored as a hash beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The client identifier.
    pub client_id: String,
    /// A public client has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// Redirect URIs, matched exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Token endpoint authentication method.
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: TokenAuthMethod,
    /// For a secret method: whether the other secret method is accepted too (by default it
    /// is; `registered_only` keeps the client to the registered one).
    #[serde(default, skip_serializing_if = "SecretMethods::is_either")]
    pub secret_methods: SecretMethods,
    /// ID token signing algorithm.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<SigAlg>,
    /// When set, userinfo answers with a JWT signed with this algorithm.
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<SigAlg>,
    /// Scopes the client may obtain.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Grant types the client may use.
    #[serde(default = "default_grants")]
    pub grant_types: Vec<GrantType>,
    /// The client's public keys for `private_key_jwt` (a JWKS document).
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// Stored hash of the client secret (realm files only; the CLI stores it in the database).
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// `tls_client_auth`: the certificate's subject DN (RFC 4514, as coeur prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth`: a DNS name of the certificate's SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// The audiences (client ids) whose access tokens this client, as their resource server,
    /// may introspect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_server_for: Vec<String>,
    /// What the client may ask coeur's CA for with `ca:request`; none without this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaEntitlements>,
    /// The web origins whose pages may read the answers of the token, userinfo and revocation
    /// endpoints (CORS): exact origins, or `+` for the redirect URIs' origins. Unset, a
    /// public client gets `+` and a confidential client none ([`crate::cors::WebOrigins`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_origins: Option<Vec<String>>,
    /// Where coeur posts a Logout Token when a session the client took part in ends
    /// (OpenID Connect Back-Channel Logout 1.0): `https`, or `http` on a loopback host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the client needs `sid` in Logout Tokens (coeur always sends it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_logout_session_required: bool,
    /// CIBA: how the client gets its tokens, and what it registered for it (CIBA Core §4);
    /// unset, a client with the CIBA grant polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciba: Option<crate::ciba::CibaRegistration>,
}

/// What a CA client is entitled to request: certificates for its own structures and for DNS
/// names under its own suffixes, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaEntitlements {
    /// Structures the client acts for (FINESS or SIRET identifiers).
    #[serde(default)]
    pub structures: Vec<String>,
    /// DNS suffixes (`ch-exemple.fr`): the name itself and every name under it.
    #[serde(default)]
    pub dns_suffixes: Vec<String>,
}

impl CaEntitlements {
    /// Whether the client acts for `structure_id`.
    pub fn covers_structure(&self, structure_id: &str) -> bool {
        self.structures.iter().any(|s| s == structure_id)
    }

    /// Whether `name` (a DNS name, possibly a `*.` wildcard, or an e-mail domain) is one of
    /// the client's suffixes or under one, on a label boundary.
    pub fn covers_dns(&self, name: &str) -> bool {
        let name = name.strip_prefix("*.").unwrap_or(name).to_ascii_lowercase();
        self.dns_suffixes.iter().any(|suffix| {
            let suffix = suffix.to_ascii_lowercase();
            name == suffix
                || name
                    .strip_suffix(suffix.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

fn default_auth_method() -> TokenAuthMethod {
    TokenAuthMethod::ClientSecretBasic
}
fn default_scopes() -> Vec<String> {
    vec![
        "openid".into(),
        "scope_all".into(),
        "profile".into(),
        "email".into(),
    ]
}
fn default_grants() -> Vec<GrantType> {
    vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
}

/// A registered client, ready for use by the protocol core.
#[derive(Debug, Clone)]
pub struct Client {
    /// The registration.
    pub spec: ClientSpec,
    /// The secret hash, for confidential clients using a secret.
    pub secret_hash: Option<SecretHash>,
    /// The client secret itself, only for clients whose ID tokens are HS256-signed (the
    /// key is the secret by definition, OIDC Core §10.1); stored encrypted at rest.
    pub hmac_secret: Option<String>,
    /// The client's parsed JWKS, for `private_key_jwt`.
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
}

impl Client {
    /// The client id.
    pub fn id(&self) -> &str {
        &self.spec.client_id
    }
    /// Whether the client may authenticate with `used`: its registered method, or the other
    /// secret method unless it was registered as `registered_only`.
    pub fn accepts_method(&self, used: TokenAuthMethod) -> bool {
        let registered = self.spec.token_endpoint_auth_method;
        used == registered
            || (self.spec.secret_methods == SecretMethods::Either
                && registered.is_secret()
                && used.is_secret())
    }
    /// The methods the client may authenticate with, as said in a refusal.
    pub fn accepted_methods(&self) -> String {
        let registered = self.spec.token_endpoint_auth_method;
        if registered.is_secret() && self.spec.secret_methods == SecretMethods::Either {
            "client_secret_basic or client_secret_post".into()
        } else {
            registered.as_str().into()
        }
    }
    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.spec.grant_types.contains(&grant)
    }
    /// The ID token algorithm (ES256 unless the client asked otherwise).
    pub fn id_token_alg(&self) -> SigAlg {
        self.spec
            .id_token_signed_response_alg
            .unwrap_or(SigAlg::ES256)
    }
    /// Keeps only the requested scopes the client may obtain, in request order.
    pub fn filter_scopes<'a>(&self, requested: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in requested {
            if self.spec.scopes.iter().any(|a| a == s) && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        out
    }
}

/// What is wrong with a client registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The client id is empty, too long, or has characters it may not have.
    #[error("client_id must be 1 to 128 printable ASCII characters without ':'")]
    ClientId,
    /// `public` and `token_endpoint_auth_method = "none"` disagree.
    #[error(
        "a public client uses token_endpoint_auth_method = \"none\", and only a public client does"
    )]
    PublicMismatch,
    /// A public client asks for `client_credentials`.
    #[error("a public client cannot use client_credentials")]
    PublicClientCredentials,
    /// `authorization_code` without a redirect URI.
    #[error("a client using authorization_code needs at least one redirect URI")]
    NoRedirectUri,
    /// A redirect URI is refused.
    #[error("redirect URI {uri:?}: {reason}")]
    RedirectUri {
        /// The URI.
        uri: String,
        /// Why.
        reason: &'static str,
    },
    /// HS256 ID tokens for a client without a secret.
    #[error("HS256 ID tokens need a client secret; a public client has none")]
    Hs256Public,
    /// `tls_client_auth` without a name to match.
    #[error("tls_client_auth needs tls_client_auth_subject_dn or tls_client_auth_san_dns")]
    TlsClientAuthWithoutName,
    /// `private_key_jwt` without keys.
    #[error("private_key_jwt needs the client's jwks")]
    PrivateKeyJwtWithoutJwks,
    /// `jwks` is not a JWK set.
    #[error("jwks is not a JWK set: {0}")]
    Jwks(String),
    /// A web origin is refused.
    #[error("web origin {origin:?}: {reason}")]
    WebOrigin {
        /// The entry.
        origin: String,
        /// Why.
        reason: &'static str,
    },
    /// The back-channel logout URI is refused.
    #[error("backchannel_logout_uri {uri:?}: {reason}")]
    BackchannelLogoutUri {
        /// The URI.
        uri: String,
        /// Why.
        reason: &'static str,
    },
    /// `backchannel_logout_session_required` without a URI to post to.
    #[error("backchannel_logout_session_required needs backchannel_logout_uri")]
    BackchannelSessionWithoutUri,
    /// A CA entitlement's DNS suffix is not a plain DNS name.
    #[error("ca.dns_suffixes: {0:?} is not a DNS name of at least two labels")]
    CaDnsSuffix(String),
    /// The CIBA registration is refused.
    #[error("ciba: {0}")]
    Ciba(&'static str),
}

/// Checks a registration; `Err` says what is wrong.
pub fn validate_spec(spec: &ClientSpec) -> Result<(), SpecError> {
    if spec.client_id.is_empty()
        || spec.client_id.len() > 128
        || !spec
            .client_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':')
    {
        return Err(SpecError::ClientId);
    }
    if spec.public != (spec.token_endpoint_auth_method == TokenAuthMethod::None) {
        return Err(SpecError::PublicMismatch);
    }
    if spec.public && spec.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(SpecError::PublicClientCredentials);
    }
    if spec.grant_types.contains(&GrantType::AuthorizationCode) && spec.redirect_uris.is_empty() {
        return Err(SpecError::NoRedirectUri);
    }
    for u in spec
        .redirect_uris
        .iter()
        .chain(&spec.post_logout_redirect_uris)
    {
        validate_redirect_uri(u).map_err(|reason| SpecError::RedirectUri {
            uri: u.clone(),
            reason,
        })?;
    }
    for o in spec.web_origins.iter().flatten() {
        crate::cors::validate_web_origin(o).map_err(|reason| SpecError::WebOrigin {
            origin: o.clone(),
            reason,
        })?;
    }
    if let Some(u) = &spec.backchannel_logout_uri {
        validate_backchannel_logout_uri(u).map_err(|reason| SpecError::BackchannelLogoutUri {
            uri: u.clone(),
            reason,
        })?;
    } else if spec.backchannel_logout_session_required {
        return Err(SpecError::BackchannelSessionWithoutUri);
    }
    if spec.id_token_signed_response_alg == Some(SigAlg::HS256) && spec.public {
        return Err(SpecError::Hs256Public);
    }
    if spec.token_endpoint_auth_method == TokenAuthMethod::TlsClientAuth
        && spec.tls_client_auth_subject_dn.is_none()
        && spec.tls_client_auth_san_dns.is_none()
    {
        return Err(SpecError::TlsClientAuthWithoutName);
    }
    if spec.token_endpoint_auth_method == TokenAuthMethod::PrivateKeyJwt && spec.jwks.is_none() {
        return Err(SpecError::PrivateKeyJwtWithoutJwks);
    }
    if let Some(j) = &spec.jwks {
        serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(j.clone())
            .map_err(|e| SpecError::Jwks(e.to_string()))?;
    }
    crate::ciba::validate_registration(spec).map_err(SpecError::Ciba)?;
    for suffix in spec.ca.iter().flat_map(|c| &c.dns_suffixes) {
        let labels: Vec<&str> = suffix.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(SpecError::CaDnsSuffix(suffix.clone()));
        }
    }
    Ok(())
}

/// Checks one redirect URI at registration: absolute, no fragment, no dangerous scheme,
/// `http` only for loopback hosts (RFC 8252 §7.3), no user information.
pub fn validate_redirect_uri(u: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(u).map_err(|_| "not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user information");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host_str() {
            Some("localhost") | Some("127.0.0.1") | Some("[::1]") => Ok(()),
            Some(h) if h.starts_with("127.") => Ok(()),
            _ => Err("http is allowed only for loopback hosts"),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => Err("scheme not allowed"),
        // Private-use schemes of native apps (RFC 8252 §7.1) contain a dot.
        s if s.contains('.') => Ok(()),
        _ => Err("scheme not allowed"),
    }
}

/// Checks a back-channel logout URI at registration: an absolute `https` URI, or `http` on a
/// loopback host as for redirect URIs; no fragment (Back-Channel Logout 1.0 §2.2), no user
/// information. coeur posts to it from the server, so no other scheme makes sense.
pub fn validate_backchannel_logout_uri(u: &str) -> Result<(), &'static str> {
    validate_redirect_uri(u)?;
    match url::Url::parse(u).map(|url| url.scheme().to_owned()) {
        Ok(s) if s == "https" || s == "http" => Ok(()),
        _ => Err("must be an https URI (or http on a loopback host)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://rp.example/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb").is_ok());
        assert!(validate_redirect_uri("http://rp.example/cb").is_err());
        assert!(validate_redirect_uri("https://rp.example/cb#x").is_err());
        assert!(validate_redirect_uri("https://u:p@rp.example/cb").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
    }

    #[test]
    fn web_origins_are_checked_at_registration() {
        let spec = |origins: &[&str]| -> ClientSpec {
            serde_json::from_value(serde_json::json!({
                "client_id": "spa",
                "public": true,
                "token_endpoint_auth_method": "none",
                "redirect_uris": ["https://app.example/cb"],
                "web_origins": origins,
            }))
            .unwrap()
        };
        assert_eq!(validate_spec(&spec(&["+", "https://cdn.example"])), Ok(()));
        assert_eq!(
            validate_spec(&spec(&["https://cdn.example/app"])),
            Err(SpecError::WebOrigin {
                origin: "https://cdn.example/app".into(),
                reason: "an origin has no path, query or fragment",
            })
        );
        assert!(validate_spec(&spec(&["*"])).is_err());
    }

    #[test]
    fn backchannel_logout_uri_rules() {
        for ok in [
            "https://rp.example/logout?backchannel=1",
            "http://127.0.0.1:9000/bcl",
            "http://[::1]/bcl",
        ] {
            assert!(validate_backchannel_logout_uri(ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://rp.example/bcl#frag",
            "http://rp.example/bcl",
            "com.example.app:/bcl",
            "https://u:p@rp.example/bcl",
            "/bcl",
            "javascript:alert(1)",
        ] {
            assert!(
                validate_backchannel_logout_uri(refused).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn backchannel_fields_are_validated_with_the_registration() {
        let spec = |uri: Option<&str>, session: bool| -> ClientSpec {
            let mut s: ClientSpec = serde_json::from_value(serde_json::json!({
                "client_id": "rp",
                "redirect_uris": ["https://rp.example/cb"],
            }))
            .expect("spec");
            s.backchannel_logout_uri = uri.map(str::to_owned);
            s.backchannel_logout_session_required = session;
            s
        };
        assert_eq!(validate_spec(&spec(None, false)), Ok(()));
        assert_eq!(
            validate_spec(&spec(Some("https://rp.example/bcl"), true)),
            Ok(())
        );
        assert!(matches!(
            validate_spec(&spec(Some("http://rp.example/bcl"), false)),
            Err(SpecError::BackchannelLogoutUri { .. })
        ));
        assert_eq!(
            validate_spec(&spec(None, true)),
            Err(SpecError::BackchannelSessionWithoutUri)
        );
        // Registrations stored before these fields existed still read, and a client without
        // them is stored as before.
        let plain = serde_json::to_value(spec(None, false)).expect("JSON");
        assert!(plain.get("backchannel_logout_uri").is_none());
        assert!(plain.get("backchannel_logout_session_required").is_none());
    }

    #[test]
    fn ca_entitlements_cover_their_structures_and_suffixes() {
        let e = CaEntitlements {
            structures: vec!["318751275100020".into()],
            dns_suffixes: vec!["ch-test.fr".into()],
        };
        assert!(e.covers_structure("318751275100020"));
        assert!(!e.covers_structure("318751275100021"));
        for ok in [
            "ch-test.fr",
            "srv.ch-test.fr",
            "*.ch-test.fr",
            "A.CH-TEST.FR",
        ] {
            assert!(e.covers_dns(ok), "{ok}");
        }
        for refused in [
            "evil-ch-test.fr",
            "ch-test.fr.evil",
            "gouv.fr",
            "*.fr",
            "fr",
        ] {
            assert!(!e.covers_dns(refused), "{refused}");
        }
        assert!(!CaEntitlements::default().covers_dns("ch-test.fr"));
    }
}
