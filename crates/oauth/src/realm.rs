//! Realm definitions (`realms/*.toml`): parsing and validation, with file and line in errors.

use super::acr::Acr;
use super::client::{ClientSpec, validate_spec};
use super::jose::SigAlg;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A way to log in, offered as a button on the wallet page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// CPS smart card (TLS client certificate).
    Card,
    /// e-CPS mobile app.
    Ecps,
    /// FranceConnect federation.
    Franceconnect,
    /// Direct login of a test identity; sandbox realms only.
    Test,
    /// A passkey (WebAuthn credential with user verification) registered from an e-CPS;
    /// beyond PSC.
    Passkey,
}

impl AuthMethod {
    /// The form value and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Card => "card",
            AuthMethod::Ecps => "ecps",
            AuthMethod::Franceconnect => "franceconnect",
            AuthMethod::Test => "test",
            AuthMethod::Passkey => "passkey",
        }
    }
    /// Parses the form value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "card" => Some(AuthMethod::Card),
            "ecps" => Some(AuthMethod::Ecps),
            "franceconnect" => Some(AuthMethod::Franceconnect),
            "test" => Some(AuthMethod::Test),
            "passkey" => Some(AuthMethod::Passkey),
            _ => None,
        }
    }
    /// PSC's `authMode` claim value.
    pub fn auth_mode(self) -> &'static str {
        match self {
            AuthMethod::Card => "CARD",
            AuthMethod::Ecps => "MOBILE",
            AuthMethod::Franceconnect => "FRANCECONNECT",
            AuthMethod::Test => "TEST",
            // PSC knows no passkey: it is the professional's mobile means, as e-CPS.
            AuthMethod::Passkey => "MOBILE",
        }
    }
    /// Authentication method references (RFC 8176) for the ID token `amr` claim.
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            AuthMethod::Card => &["hwk", "pin", "mfa"],
            AuthMethod::Ecps => &["swk", "pin", "mfa"],
            AuthMethod::Franceconnect => &["fed"],
            // Not an RFC 8176 value: says plainly that no real authentication took place.
            AuthMethod::Test => &["test"],
            // RFC 8176: a key held by an authenticator (`hwk`), the user verified on it
            // (`user`: the authenticator says "verified", not whether by PIN or biometrics),
            // two factors (`mfa`).
            AuthMethod::Passkey => &["hwk", "user", "mfa"],
        }
    }
    /// The button label on the wallet page.
    pub fn label(self) -> &'static str {
        match self {
            AuthMethod::Card => "Carte CPS",
            AuthMethod::Ecps => "e-CPS",
            AuthMethod::Franceconnect => "FranceConnect",
            AuthMethod::Test => "Identité de test (bac à sable)",
            AuthMethod::Passkey => "Passkey",
        }
    }
}

/// The longest lifetime a realm may set (10 years), in seconds.
pub const MAX_LIFETIME: i64 = 10 * 366 * 24 * 3600;

/// Token and session lifetimes, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifetimes {
    /// Authorization code (≤ 60 s, FAPI 2.0).
    pub authorization_code: i64,
    /// Access token.
    pub access_token: i64,
    /// ID token.
    pub id_token: i64,
    /// Refresh token (idle) for online sessions.
    pub refresh_token: i64,
    /// Refresh token for `offline_access`.
    pub offline_refresh_token: i64,
    /// SSO session.
    pub sso_session: i64,
    /// A pending authorization request (the wallet page).
    pub login_page: i64,
    /// How long after a refresh token is used it may be presented again without being
    /// treated as stolen (concurrent refreshes from one client).
    pub refresh_reuse_window: i64,
    /// How long an e-CPS (an enrolled device) stays valid (default 3 years).
    pub ecps_validity: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            authorization_code: 60,
            access_token: 120,
            id_token: 300,
            refresh_token: 1800,
            offline_refresh_token: 30 * 24 * 3600,
            sso_session: 10 * 3600,
            login_page: 900,
            refresh_reuse_window: 2,
            ecps_validity: 94_608_000,
        }
    }
}

/// The acr each method yields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcrMap {
    /// Card login.
    pub card: Acr,
    /// e-CPS login.
    pub ecps: Acr,
    /// FranceConnect login.
    pub franceconnect: Acr,
    /// Test login.
    pub test: Acr,
    /// Passkey login.
    pub passkey: Acr,
}

impl Default for AcrMap {
    fn default() -> Self {
        Self {
            card: Acr::Eidas2,
            ecps: Acr::Eidas2,
            franceconnect: Acr::Eidas1,
            test: Acr::Eidas1,
            passkey: Acr::Eidas2,
        }
    }
}

impl AcrMap {
    /// The level a method yields.
    pub fn of(&self, m: AuthMethod) -> Acr {
        match m {
            AuthMethod::Card => self.card,
            AuthMethod::Ecps => self.ecps,
            AuthMethod::Franceconnect => self.franceconnect,
            AuthMethod::Test => self.test,
            AuthMethod::Passkey => self.passkey,
        }
    }
}

/// Where a realm's identities come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySeed {
    /// Seed of the generator.
    pub seed: u64,
    /// How many identities to generate on first start.
    pub count: usize,
}

/// Rate limits of the realm's e-CPS and CIBA starts (push-bombing), per minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// e-CPS logins, CIBA requests and enrolments started for one national id.
    pub ecps_per_national_id: u32,
    /// e-CPS logins and enrolments started from one address (a hospital's NAT serves many).
    pub ecps_per_address: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            ecps_per_national_id: 5,
            ecps_per_address: 30,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RealmFile {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    sandbox: bool,
    #[serde(default)]
    issuer: Option<String>,
    auth_methods: Vec<AuthMethod>,
    #[serde(default = "default_subject")]
    subject: String,
    #[serde(default = "default_algs")]
    signing_algs: Vec<SigAlg>,
    #[serde(default)]
    lifetimes: Lifetimes,
    #[serde(default)]
    acr: AcrMap,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    generated_identities: Option<IdentitySeed>,
    #[serde(default)]
    clients: Vec<toml::Spanned<ClientSpec>>,
    #[serde(default)]
    upstreams: Vec<toml::Spanned<crate::upstream::UpstreamSpec>>,
}

fn default_subject() -> String {
    "{national_id}".into()
}
fn default_algs() -> Vec<SigAlg> {
    vec![SigAlg::ES256, SigAlg::RS256, SigAlg::PS256]
}

/// A validated realm.
#[derive(Debug, Clone)]
pub struct Realm {
    /// Realm name (URL path segment).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Sandbox realms accept `method=test`.
    pub sandbox: bool,
    /// The issuer identifier.
    pub issuer: String,
    /// Enabled methods, in display order.
    pub auth_methods: Vec<AuthMethod>,
    /// `sub` template; `{national_id}` is replaced.
    pub subject: String,
    /// Asymmetric algorithms with keys in the ring.
    pub signing_algs: Vec<SigAlg>,
    /// Lifetimes.
    pub lifetimes: Lifetimes,
    /// acr per method.
    pub acr: AcrMap,
    /// Rate limits.
    pub limits: Limits,
    /// Generated identities (sandbox realms only): the realm is seeded with them, and the
    /// shipped EDIT ones, when it has no identity.
    pub generated_identities: Option<IdentitySeed>,
    /// Clients defined in the file.
    pub clients: Vec<ClientSpec>,
    /// Upstream identity providers (FranceConnect, FranceConnect+), in wallet order.
    pub upstreams: Vec<crate::upstream::UpstreamSpec>,
}

impl Realm {
    /// The side of the sandbox/production boundary the realm is on: a sandbox realm trusts
    /// only TEST CAs, a production realm only production CAs.
    pub fn environment(&self) -> coeur_common::environment::Environment {
        coeur_common::environment::Environment::of_sandbox(self.sandbox)
    }
}

/// Why a realm file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmError {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The reason.
    pub reason: String,
}

impl fmt::Display for RealmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for RealmError {}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

/// Why a realm's issuer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Not a URL.
    #[error("issuer {issuer:?} is not a URL: {error}")]
    NotAUrl {
        /// The issuer.
        issuer: String,
        /// Why it does not parse.
        error: url::ParseError,
    },
    /// A query or fragment.
    #[error("issuer must not have a query or fragment")]
    QueryOrFragment,
    /// `http` on a host that is not loopback.
    #[error("issuer {0} uses http on a non-loopback host; use https")]
    HttpNotLoopback(String),
    /// Neither `https` nor loopback `http`.
    #[error("issuer {0} must be an https URL")]
    NotHttps(String),
}

impl Realm {
    /// The `sub` of an identity in this realm.
    pub fn subject_of(&self, national_id: &str) -> String {
        self.subject.replace("{national_id}", national_id)
    }

    /// The national id whose subject is `sub` (the inverse of [`Realm::subject_of`]: the
    /// template's text around `{national_id}` removed), if `sub` has the template's shape.
    pub fn national_id_of_subject(&self, sub: &str) -> Option<String> {
        let (before, after) = self.subject.split_once("{national_id}")?;
        let id = sub.strip_prefix(before)?.strip_suffix(after)?;
        (!id.is_empty() && self.subject_of(id) == sub).then(|| id.to_owned())
    }

    /// Whether the issuer is an acceptable URL for `public_url`'s listener: `https`, or
    /// `http` on a loopback host only.
    fn check_issuer(issuer: &str) -> Result<(), IssuerError> {
        let u = url::Url::parse(issuer).map_err(|error| IssuerError::NotAUrl {
            issuer: issuer.to_owned(),
            error,
        })?;
        if u.query().is_some() || u.fragment().is_some() {
            return Err(IssuerError::QueryOrFragment);
        }
        match (u.scheme(), u.host()) {
            ("https", Some(_)) => Ok(()),
            ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => Ok(()),
            ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(()),
            ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
            ("http", _) => Err(IssuerError::HttpNotLoopback(issuer.to_owned())),
            _ => Err(IssuerError::NotHttps(issuer.to_owned())),
        }
    }

    /// Parses and validates a realm file. `{public_url}` in the file is replaced with
    /// `public_url` (no trailing slash).
    pub fn parse(file: &str, text: &str, public_url: &str) -> Result<Realm, RealmError> {
        let err = |line: Option<usize>, reason: String| RealmError {
            file: file.to_owned(),
            line,
            reason,
        };
        let public_url = public_url.trim_end_matches('/');
        let raw: RealmFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            err(line, e.message().to_owned())
        })?;
        check_settings(file, &raw)?;
        check_lifetimes(file, &raw.lifetimes)?;
        let issuer = match raw.issuer {
            Some(i) => i.replace("{public_url}", public_url),
            None => format!("{public_url}/auth/realms/{}", raw.name),
        };
        Self::check_issuer(&issuer).map_err(|r| err(None, r.to_string()))?;
        let mut clients: Vec<ClientSpec> = Vec::new();
        for c in raw.clients {
            let line = Some(line_of(text, c.span().start));
            let mut spec = c.into_inner();
            for u in spec
                .redirect_uris
                .iter_mut()
                .chain(spec.post_logout_redirect_uris.iter_mut())
                .chain(spec.backchannel_logout_uri.iter_mut())
            {
                *u = u.replace("{public_url}", public_url);
            }
            check_client(file, line, &spec)?;
            if clients.iter().any(|o| o.client_id == spec.client_id) {
                return Err(err(
                    line,
                    format!("client {:?} is defined twice", spec.client_id),
                ));
            }
            clients.push(spec);
        }
        let mut upstreams: Vec<crate::upstream::UpstreamSpec> = Vec::new();
        for u in raw.upstreams {
            let line = Some(line_of(text, u.span().start));
            let mut spec = u.into_inner();
            spec.issuer = spec.issuer.replace("{public_url}", public_url);
            spec.check().map_err(|r| err(line, r))?;
            if upstreams.iter().any(|o| o.name == spec.name) {
                return Err(err(
                    line,
                    format!("upstream {:?} is defined twice", spec.name),
                ));
            }
            upstreams.push(spec);
        }
        Ok(Realm {
            upstreams,
            display_name: raw.display_name.unwrap_or_else(|| raw.name.clone()),
            name: raw.name,
            sandbox: raw.sandbox,
            issuer,
            auth_methods: raw.auth_methods,
            subject: raw.subject,
            signing_algs: raw.signing_algs,
            lifetimes: raw.lifetimes,
            acr: raw.acr,
            limits: raw.limits,
            generated_identities: raw.generated_identities,
            clients,
        })
    }

    /// The longest lifetime of a JWT this realm signs: how long a retired key must keep
    /// verifying.
    pub fn max_jwt_lifetime(&self) -> i64 {
        self.lifetimes.access_token.max(self.lifetimes.id_token)
    }
}

fn refused(file: &str, line: Option<usize>, reason: String) -> RealmError {
    RealmError {
        file: file.to_owned(),
        line,
        reason,
    }
}

/// The realm's name (that of its file), login methods, signing algorithms and subject.
fn check_settings(file: &str, raw: &RealmFile) -> Result<(), RealmError> {
    let refuse = |reason: String| Err(refused(file, None, reason));
    if raw.name.is_empty()
        || !raw
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return refuse("name must be letters, digits, '-' or '_'".into());
    }
    let stem = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if !stem.is_empty() && stem != raw.name {
        return refuse(format!(
            "realm name {:?} must match the file name",
            raw.name
        ));
    }
    if raw.auth_methods.is_empty() {
        return refuse("auth_methods must list at least one method".into());
    }
    if raw.auth_methods.contains(&AuthMethod::Test) && !raw.sandbox {
        return refuse(
            "method \"test\" is allowed only in a sandbox realm (sandbox = true)".into(),
        );
    }
    // The generated identities include EDIT test identities, which exist only in the
    // sandbox; a production realm holds none of them.
    if raw.generated_identities.is_some() && !raw.sandbox {
        return refuse(
            "generated_identities (test identities, EDIT ones among them) are allowed only in a \
             sandbox realm (sandbox = true)"
                .into(),
        );
    }
    if raw.signing_algs.is_empty() || raw.signing_algs.contains(&SigAlg::HS256) {
        return refuse(
            "signing_algs lists asymmetric algorithms (ES256, RS256, PS256), at least one".into(),
        );
    }
    if !raw.subject.contains("{national_id}") {
        return refuse("subject must contain {national_id}".into());
    }
    Ok(())
}

/// Every lifetime positive and bounded (so that `now + lifetime` can never overflow), codes
/// short-lived, the refresh reuse window a minute at most.
fn check_lifetimes(file: &str, l: &Lifetimes) -> Result<(), RealmError> {
    let refuse = |reason: String| Err(refused(file, None, reason));
    for (name, v) in [
        ("authorization_code", l.authorization_code),
        ("access_token", l.access_token),
        ("id_token", l.id_token),
        ("refresh_token", l.refresh_token),
        ("offline_refresh_token", l.offline_refresh_token),
        ("sso_session", l.sso_session),
        ("login_page", l.login_page),
        ("ecps_validity", l.ecps_validity),
    ] {
        if v <= 0 {
            return refuse(format!("lifetimes.{name} must be positive"));
        }
        if v > MAX_LIFETIME {
            return refuse(format!(
                "lifetimes.{name} must be at most {MAX_LIFETIME} seconds (10 years)"
            ));
        }
    }
    if l.authorization_code > 600 {
        return refuse("lifetimes.authorization_code must be at most 600 seconds".into());
    }
    if !(0..=60).contains(&l.refresh_reuse_window) {
        return refuse("lifetimes.refresh_reuse_window must be 0 to 60 seconds".into());
    }
    Ok(())
}

/// A client of a realm file: valid registration, a secret unless public or `private_key_jwt`,
/// no HS256 (whose secret is kept encrypted in the database, not in files).
fn check_client(file: &str, line: Option<usize>, spec: &ClientSpec) -> Result<(), RealmError> {
    let refuse = |reason: String| {
        Err(refused(
            file,
            line,
            format!("client {:?}: {reason}", spec.client_id),
        ))
    };
    if let Err(r) = validate_spec(spec) {
        return refuse(r.to_string());
    }
    if let Some(h) = &spec.secret_hash {
        if let Err(r) = super::secret::SecretHash::parse(h) {
            return refuse(r.to_string());
        }
    } else if !spec.public
        && spec.token_endpoint_auth_method != super::client::TokenAuthMethod::PrivateKeyJwt
    {
        return refuse(
            "a confidential client needs secret_hash (see `coeur client hash-secret`)".into(),
        );
    }
    if spec.id_token_signed_response_alg == Some(SigAlg::HS256) {
        return refuse(
            "HS256 clients keep their secret encrypted in the database; register them with `coeur client add`"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
name = "edit"
sandbox = true
auth_methods = ["card", "test"]

[[clients]]
client_id = "demo"
public = true
token_endpoint_auth_method = "none"
redirect_uris = ["{public_url}/demo/callback"]
"#;

    #[test]
    fn parses_and_substitutes() {
        let r = Realm::parse("realms/edit.toml", OK, "http://127.0.0.1:8080/").unwrap();
        assert_eq!(r.issuer, "http://127.0.0.1:8080/auth/realms/edit");
        assert_eq!(
            r.clients[0].redirect_uris[0],
            "http://127.0.0.1:8080/demo/callback"
        );
    }

    #[test]
    fn subjects_map_back_to_national_ids() {
        let text = OK.replace(
            "auth_methods",
            "subject = \"f:550dc1c8:{national_id}\"\nauth_methods",
        );
        let r = Realm::parse("realms/edit.toml", &text, "http://127.0.0.1:8080").unwrap();
        let sub = r.subject_of("899700218896");
        assert_eq!(sub, "f:550dc1c8:899700218896");
        assert_eq!(
            r.national_id_of_subject(&sub).as_deref(),
            Some("899700218896")
        );
        assert_eq!(r.national_id_of_subject("f:550dc1c8:"), None);
        assert_eq!(r.national_id_of_subject("899700218896"), None);
    }

    #[test]
    fn errors_carry_file_and_line() {
        let bad = OK.replace("sandbox = true", "sandbox = \"yes\"");
        let e = Realm::parse("realms/edit.toml", &bad, "http://127.0.0.1:8080").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().starts_with("realms/edit.toml:3:"), "{e}");
        let bad = OK.replace("{public_url}/demo/callback", "http://evil.example/cb");
        let e = Realm::parse("realms/edit.toml", &bad, "http://127.0.0.1:8080").unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        let bad = OK.replace("name = \"edit\"", "name = \"edit\"\ncolour = 1");
        assert!(Realm::parse("realms/edit.toml", &bad, "http://127.0.0.1:8080").is_err());
    }

    #[test]
    fn production_realm_cannot_enable_test() {
        let bad = OK.replace("sandbox = true", "sandbox = false");
        let e = Realm::parse("realms/edit.toml", &bad, "http://127.0.0.1:8080").unwrap_err();
        assert!(e.reason.contains("sandbox"));
    }

    #[test]
    fn production_realm_cannot_generate_identities() {
        let seeded = format!("{OK}\n[generated_identities]\nseed = 1\ncount = 3\n");
        let r = Realm::parse("realms/edit.toml", &seeded, "http://127.0.0.1:8080").unwrap();
        assert!(r.generated_identities.is_some());
        let bad = seeded
            .replace("sandbox = true", "sandbox = false")
            .replace("[\"card\", \"test\"]", "[\"card\"]");
        let e = Realm::parse("realms/edit.toml", &bad, "http://127.0.0.1:8080").unwrap_err();
        assert!(e.reason.contains("generated_identities"), "{e}");
    }

    #[test]
    fn http_issuer_only_on_loopback() {
        assert!(Realm::parse("realms/edit.toml", OK, "http://idp.example").is_err());
        assert!(Realm::parse("realms/edit.toml", OK, "https://idp.example").is_ok());
        assert!(Realm::parse("realms/edit.toml", OK, "http://[::1]:8080").is_ok());
    }

    #[test]
    fn lifetimes_are_bounded() {
        for (line, ok) in [
            ("access_token = 9223372036854775807", false),
            ("offline_refresh_token = 316224001", false),
            ("ecps_validity = 0", false),
            ("ecps_validity = 316224001", false),
            ("ecps_validity = 94608000", true),
            ("offline_refresh_token = 316224000", true),
        ] {
            let text = OK.replace(
                "[[clients]]",
                &format!("[lifetimes]\n{line}\n\n[[clients]]"),
            );
            let r = Realm::parse("realms/edit.toml", &text, "http://127.0.0.1:8080");
            assert_eq!(r.is_ok(), ok, "{line}: {r:?}");
        }
    }

    #[test]
    fn a_client_may_register_back_channel_logout() {
        let with = |uri: &str| {
            OK.replace(
                "redirect_uris = [",
                &format!(
                    "backchannel_logout_uri = \"{uri}\"\nbackchannel_logout_session_required = true\nredirect_uris = ["
                ),
            )
        };
        let r = Realm::parse(
            "realms/edit.toml",
            &with("{public_url}/demo/backchannel"),
            "http://127.0.0.1:8080",
        )
        .unwrap();
        assert_eq!(
            r.clients[0].backchannel_logout_uri.as_deref(),
            Some("http://127.0.0.1:8080/demo/backchannel")
        );
        assert!(r.clients[0].backchannel_logout_session_required);
        assert!(
            !Realm::parse("realms/edit.toml", OK, "http://127.0.0.1:8080")
                .unwrap()
                .clients[0]
                .backchannel_logout_session_required
        );
        let e = Realm::parse(
            "realms/edit.toml",
            &with("https://rp.example/bcl#x"),
            "http://127.0.0.1:8080",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.reason.contains("backchannel_logout_uri"), "{e}");
    }

    #[test]
    fn a_client_may_be_kept_to_its_registered_secret_method() {
        let hash = crate::secret::SecretHash::new("s3cret-s3cret-s3cret-s3cret", &[1; 16]);
        let strict = format!(
            "[[clients]]\nclient_id = \"strict\"\ntoken_endpoint_auth_method = \"client_secret_post\"\nsecret_methods = \"registered_only\"\nsecret_hash = \"{}\"\nredirect_uris = [\"https://rp.example/cb\"]\n\n[[clients]]",
            hash.as_str()
        );
        let text = OK.replace("[[clients]]", &strict);
        let r = Realm::parse("realms/edit.toml", &text, "http://127.0.0.1:8080").unwrap();
        assert_eq!(
            r.clients[0].secret_methods,
            crate::client::SecretMethods::RegisteredOnly
        );
        assert_eq!(
            r.clients[1].secret_methods,
            crate::client::SecretMethods::Either
        );
    }
}
