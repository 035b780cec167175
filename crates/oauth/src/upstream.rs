//! Upstream identity providers (FranceConnect, FranceConnect+): their settings in realm files,
//! and the checks of what they answer, without IO.
//!
//! A login through an upstream is accepted only through [`verify_id_token`], whose
//! [`UpstreamIdTokenVerified`] says that the token was decrypted where encryption is required,
//! its signature verified with the upstream's key, and issuer, audience, expiry, nonce and
//! level checked; and through [`check_userinfo`], which reads the userinfo answer of that same
//! subject. Signatures are checked with the upstream's published keys or, for FranceConnect
//! v1, HS256 over the client secret ([`SignatureKeys`]); never one for the other. A link between an upstream identity and a national id is made only from a
//! [`LinkProven`], which only [`LinkProven::by_proof`] makes (a pending link of this browser's
//! login, unexpired, and a login by card or e-CPS completed for it), or, where the upstream's
//! `link_by_pivot_identity` allows it, [`LinkProven::by_confirmation`] (the person confirmed,
//! in the same browser, the one identity their pivot identity matched).

use crate::acr::Acr;
use crate::jose::VerificationKeys;
use crate::jwe::{self, DecryptionKey};
use crate::realm::AuthMethod;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How long a pending link waits for its proof (10 minutes).
pub const PENDING_LINK_LIFETIME: i64 = 600;
/// Leeway on the upstream's clock, in seconds.
pub const LEEWAY: i64 = 60;
/// The shortest `state` and `nonce` FranceConnect accepts.
pub const MIN_STATE_LEN: usize = 32;

/// Which FranceConnect an upstream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamKind {
    /// FranceConnect (eidas1): signed ID tokens, JSON userinfo.
    Franceconnect,
    /// FranceConnect+ (eidas2, eidas3): ID token and userinfo signed then encrypted to coeur.
    FranceconnectPlus,
}

/// An upstream as a realm file declares it (`[[upstreams]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// Identifier in URLs and links (letters, digits, `-`, `_`).
    pub name: String,
    /// Shown on the wallet page.
    pub display_name: String,
    /// FranceConnect or FranceConnect+.
    pub kind: UpstreamKind,
    /// The upstream's issuer: its metadata is read at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// coeur's client id there.
    pub client_id: String,
    /// The environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The file holding the client secret (relative to the realm file's folder).
    #[serde(default)]
    pub client_secret_file: Option<String>,
    /// Scopes asked for (`openid` first).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The level asked for (`acr_values`); the ID token's `acr` must reach it.
    pub acr_values: Acr,
    /// PKCS#8 PEM files of the private keys coeur decrypts with (relative to the realm file's
    /// folder), current first: the first is published for the upstream to encrypt to; the
    /// others still decrypt (a rotation adds a new first key and keeps the old ones until the
    /// tokens encrypted to them have expired). Required for FranceConnect+.
    #[serde(default)]
    pub decryption_keys: Vec<String>,
    /// `"HS256"` for FranceConnect v1: ID tokens signed with HMAC-SHA256 over the client
    /// secret. Absent: signed with the keys the upstream publishes (its JWKS).
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// The upstream's endpoints, given instead of discovery (FranceConnect v1, which has no
    /// discovery document). Required with HS256.
    #[serde(default)]
    pub endpoints: Option<UpstreamEndpoints>,
    /// Whether an upstream identity seen for the first time may be linked, after the person's
    /// explicit confirmation, to the one identity whose record its pivot identity (family
    /// name, given names, complete birth date, birth place or country) equals exactly
    /// ([`crate::pivot::PivotMatched`]). Off by default: the link is then proven by card or
    /// e-CPS only. Needs the pivot identity's scopes.
    #[serde(default)]
    pub link_by_pivot_identity: bool,
}

/// The scopes whose claims make the pivot identity.
pub const PIVOT_SCOPES: &[&str] = &[
    "given_name",
    "family_name",
    "birthdate",
    "birthplace",
    "birthcountry",
];

/// An upstream's endpoints as a realm file gives them (`[upstreams.endpoints]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamEndpoints {
    /// Where the browser is sent.
    pub authorization: String,
    /// Where codes are redeemed.
    pub token: String,
    /// Where the pivot identity is read.
    pub userinfo: String,
    /// Where the upstream session is ended.
    pub end_session: String,
    /// The upstream's signing keys (JWKS); only for asymmetric signatures, never with HS256.
    #[serde(default)]
    pub jwks: Option<String>,
}

fn default_scopes() -> Vec<String> {
    [
        "openid",
        "given_name",
        "family_name",
        "birthdate",
        "birthplace",
        "birthcountry",
        "gender",
        "preferred_username",
        "email",
    ]
    .map(str::to_owned)
    .to_vec()
}

impl UpstreamSpec {
    /// Whether ID tokens and userinfo answers must come encrypted.
    pub fn encrypted(&self) -> bool {
        self.kind == UpstreamKind::FranceconnectPlus
    }

    /// Whether ID tokens are signed HS256 with the client secret (FranceConnect v1).
    pub fn hs256(&self) -> bool {
        self.id_token_signed_response_alg.as_deref() == Some("HS256")
    }

    /// Why this upstream's settings are refused, if they are.
    pub fn check(&self) -> Result<(), String> {
        self.check_signing()?;
        self.check_common()
    }

    /// The signature settings and the endpoints: HS256 only for FranceConnect (v1), never
    /// with encryption, always with explicit endpoints; explicit endpoints without HS256
    /// name the upstream's JWKS.
    fn check_signing(&self) -> Result<(), String> {
        let me = &self.name;
        match self.id_token_signed_response_alg.as_deref() {
            None | Some("HS256") => {}
            Some(other) => {
                return Err(format!(
                    "upstream {me:?}: id_token_signed_response_alg {other:?}: only \"HS256\" \
                     (FranceConnect v1) may be given; asymmetric keys come with their algorithm \
                     from the upstream's JWKS"
                ));
            }
        }
        if self.hs256() {
            if self.kind == UpstreamKind::FranceconnectPlus {
                return Err(format!(
                    "upstream {me:?}: FranceConnect+ signs with its published keys, never HS256"
                ));
            }
            if !self.decryption_keys.is_empty() {
                return Err(format!(
                    "upstream {me:?}: HS256 (FranceConnect v1) tokens are not encrypted: \
                     no decryption_keys"
                ));
            }
            let Some(e) = &self.endpoints else {
                return Err(format!(
                    "upstream {me:?}: HS256 (FranceConnect v1) has no discovery: give \
                     [upstreams.endpoints] (authorization, token, userinfo, end_session)"
                ));
            };
            if e.jwks.is_some() {
                return Err(format!(
                    "upstream {me:?}: endpoints.jwks is for asymmetric signatures, not HS256"
                ));
            }
        }
        if let Some(e) = &self.endpoints {
            if !self.hs256() && e.jwks.is_none() {
                return Err(format!(
                    "upstream {me:?}: without discovery or HS256, endpoints.jwks names the \
                     upstream's signing keys"
                ));
            }
            let all = [
                ("authorization", Some(&e.authorization)),
                ("token", Some(&e.token)),
                ("userinfo", Some(&e.userinfo)),
                ("end_session", Some(&e.end_session)),
                ("jwks", e.jwks.as_ref()),
            ];
            for (what, url) in all {
                if let Some(u) = url {
                    https_or_loopback(u)
                        .map_err(|why| format!("upstream {me:?}: endpoints.{what} {why}"))?;
                }
            }
        }
        Ok(())
    }

    fn check_common(&self) -> Result<(), String> {
        let me = &self.name;
        if self.link_by_pivot_identity {
            let missing: Vec<&str> = PIVOT_SCOPES
                .iter()
                .copied()
                .filter(|p| !self.scopes.iter().any(|s| s == p))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "upstream {me:?}: link_by_pivot_identity compares the pivot identity: \
                     scopes must include {}",
                    missing.join(", ")
                ));
            }
        }
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "upstream {me:?}: name must be letters, digits, '-' or '_'"
            ));
        }
        if self.client_id.is_empty() {
            return Err(format!("upstream {me:?}: client_id is empty"));
        }
        match (&self.client_secret_env, &self.client_secret_file) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(format!(
                    "upstream {me:?}: give the client secret through exactly one of \
                     client_secret_env and client_secret_file (never in the realm file)"
                ));
            }
        }
        https_or_loopback(&self.issuer).map_err(|why| format!("upstream {me:?}: issuer {why}"))?;
        if self.scopes.first().map(String::as_str) != Some("openid") {
            return Err(format!(
                "upstream {me:?}: scopes must start with \"openid\""
            ));
        }
        match self.kind {
            UpstreamKind::FranceconnectPlus => {
                if self.acr_values < Acr::Eidas2 {
                    return Err(format!(
                        "upstream {me:?}: FranceConnect+ is asked for eidas2 or eidas3"
                    ));
                }
                if self.decryption_keys.is_empty() {
                    return Err(format!(
                        "upstream {me:?}: FranceConnect+ encrypts to coeur: decryption_keys \
                         lists at least one key file"
                    ));
                }
            }
            UpstreamKind::Franceconnect => {
                if self.acr_values != Acr::Eidas1 {
                    return Err(format!(
                        "upstream {me:?}: FranceConnect is asked for eidas1"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Why `u` is not an https URL (or http on loopback, for tests).
fn https_or_loopback(u: &str) -> Result<(), String> {
    let url = url::Url::parse(u).map_err(|e| format!("is not a URL: {e}"))?;
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err("must be an https URL".into());
    }
    Ok(())
}

/// How an upstream's JWS are verified.
#[derive(Clone, Copy)]
pub enum SignatureKeys<'a> {
    /// With the keys the upstream publishes, each with its (asymmetric) algorithm.
    Published(&'a VerificationKeys),
    /// HS256 with coeur's client secret (FranceConnect v1).
    ClientSecret(&'a [u8]),
}

impl std::fmt::Debug for SignatureKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureKeys::Published(_) => f.write_str("Published"),
            SignatureKeys::ClientSecret(_) => f.write_str("ClientSecret(..)"),
        }
    }
}

impl<'a> From<&'a VerificationKeys> for SignatureKeys<'a> {
    fn from(k: &'a VerificationKeys) -> Self {
        SignatureKeys::Published(k)
    }
}

/// Why an upstream's answer was refused. Nothing is stored on any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamRefusal {
    /// Not a JWT, or unreadable.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Signed only where the upstream must encrypt.
    #[error("the token is not encrypted, and this upstream must encrypt")]
    NotEncrypted,
    /// Encrypted, and does not decrypt with coeur's keys.
    #[error("decryption: {0}")]
    Decryption(#[from] jwe::JweError),
    /// Signed with a key the upstream does not publish (yet): refresh its keys, once.
    #[error("unknown signing key {0:?}")]
    UnknownKey(String),
    /// The signature, or the algorithm, is not the upstream key's.
    #[error("bad signature: {0}")]
    Signature(String),
    /// Another issuer.
    #[error("issuer {0:?} is not the upstream's")]
    Issuer(String),
    /// Not for coeur's client.
    #[error("audience is not coeur's client")]
    Audience,
    /// Expired, or issued in the future.
    #[error("expired or not yet valid")]
    Expired,
    /// Not the nonce of this login.
    #[error("nonce mismatch")]
    Nonce,
    /// Below the level asked for.
    #[error("acr {0:?} is below the level asked for")]
    Acr(String),
    /// No subject.
    #[error("no subject")]
    Subject,
    /// Userinfo about another subject.
    #[error("userinfo is about another subject")]
    OtherSubject,
}

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The upstream's issuer.
    pub issuer: &'a str,
    /// coeur's client id at the upstream.
    pub client_id: &'a str,
    /// The nonce sent with this login.
    pub nonce: &'a str,
    /// The level asked for.
    pub acr: Acr,
    /// Now.
    pub now: i64,
    /// Whether the token must come encrypted.
    pub encrypted: bool,
}

/// An upstream ID token that passed every check of [`verify_id_token`].
#[derive(Debug, Clone)]
pub struct UpstreamIdTokenVerified {
    /// The upstream subject.
    pub sub: String,
    /// The level the upstream asserts (at least the one asked for).
    pub acr: Acr,
    /// The signed token (the decrypted one, when it came encrypted), for `id_token_hint`.
    pub jws: String,
    /// Its claims.
    pub claims: Map<String, Value>,
}

/// Decrypts (where needed) and verifies a JWT of the upstream: the JWS and its claims.
fn open(
    token: &str,
    decryption: &[DecryptionKey],
    encrypted: bool,
    keys: SignatureKeys<'_>,
) -> Result<(String, Map<String, Value>), UpstreamRefusal> {
    let jws = if jwe::is_jwe(token) {
        let plain = jwe::decrypt(token, decryption)?;
        String::from_utf8(plain).map_err(|_| UpstreamRefusal::Malformed("not UTF-8".into()))?
    } else if encrypted {
        return Err(UpstreamRefusal::NotEncrypted);
    } else {
        token.to_owned()
    };
    let keys = match keys {
        SignatureKeys::ClientSecret(secret) => {
            let claims = crate::hs256::verify(&jws, secret)?;
            return Ok((jws, claims));
        }
        SignatureKeys::Published(k) => k,
    };
    let header =
        jsonwebtoken::decode_header(&jws).map_err(|e| UpstreamRefusal::Malformed(e.to_string()))?;
    // A symmetric algorithm where public keys are expected is refused before any key is
    // chosen: a public key is never used as an HMAC secret (algorithm confusion).
    if matches!(
        header.alg,
        jsonwebtoken::Algorithm::HS256
            | jsonwebtoken::Algorithm::HS384
            | jsonwebtoken::Algorithm::HS512
    ) {
        return Err(UpstreamRefusal::Signature(format!(
            "{:?} where the upstream signs with published keys",
            header.alg
        )));
    }
    let kid = header.kid.clone().unwrap_or_default();
    let (alg, key) = keys
        .get(&kid)
        .ok_or_else(|| UpstreamRefusal::UnknownKey(kid.clone()))?;
    if header.alg != alg {
        return Err(UpstreamRefusal::Signature(format!(
            "{:?} is not the key's algorithm",
            header.alg
        )));
    }
    // Claims are checked below, by hand, against the injected time.
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(&jws, key, &v)
        .map_err(|e| UpstreamRefusal::Signature(e.to_string()))?;
    Ok((jws, data.claims))
}

/// Verifies the upstream's ID token: decryption (an unencrypted token where encryption is
/// expected is refused), signature with the upstream's keys (an unknown `kid` is
/// [`UpstreamRefusal::UnknownKey`], for the caller to refresh the keys and try once more),
/// issuer, audience (and `azp` when several), expiry and issue time (within [`LEEWAY`]),
/// nonce, `acr` at least the one asked for, a subject.
pub fn verify_id_token<'k>(
    token: &str,
    decryption: &[DecryptionKey],
    keys: impl Into<SignatureKeys<'k>>,
    expected: &Expected<'_>,
) -> Result<UpstreamIdTokenVerified, UpstreamRefusal> {
    let (jws, claims) = open(token, decryption, expected.encrypted, keys.into())?;
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    if s("iss") != Some(expected.issuer) {
        return Err(UpstreamRefusal::Issuer(
            s("iss").unwrap_or_default().to_owned(),
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == expected.client_id,
        Some(Value::Array(a)) => {
            a.iter().any(|x| x.as_str() == Some(expected.client_id))
                && (a.len() == 1 || s("azp") == Some(expected.client_id))
        }
        _ => false,
    };
    if !aud_ok {
        return Err(UpstreamRefusal::Audience);
    }
    let n = |k: &str| claims.get(k).and_then(Value::as_i64);
    match (n("exp"), n("iat")) {
        (Some(exp), Some(iat))
            if expected.now < exp.saturating_add(LEEWAY)
                && iat <= expected.now.saturating_add(LEEWAY) => {}
        _ => return Err(UpstreamRefusal::Expired),
    }
    let nonce_ok = s("nonce").is_some_and(|n| {
        subtle::ConstantTimeEq::ct_eq(n.as_bytes(), expected.nonce.as_bytes()).into()
    });
    if !nonce_ok {
        return Err(UpstreamRefusal::Nonce);
    }
    let acr = s("acr").and_then(Acr::parse);
    let acr = match acr {
        Some(a) if a >= expected.acr => a,
        _ => {
            return Err(UpstreamRefusal::Acr(
                s("acr").unwrap_or_default().to_owned(),
            ));
        }
    };
    let sub = s("sub")
        .filter(|v| !v.is_empty())
        .ok_or(UpstreamRefusal::Subject)?
        .to_owned();
    Ok(UpstreamIdTokenVerified {
        sub,
        acr,
        jws,
        claims,
    })
}

/// Reads the userinfo answer (`body`, JSON or a JWT as its content type says) for the verified
/// ID token `id`: decrypted and verified like the ID token when it is a JWT (encrypted where
/// the upstream must encrypt), about the same subject.
pub fn check_userinfo<'k>(
    body: &[u8],
    is_jwt: bool,
    decryption: &[DecryptionKey],
    keys: impl Into<SignatureKeys<'k>>,
    expected: &Expected<'_>,
    id: &UpstreamIdTokenVerified,
) -> Result<Map<String, Value>, UpstreamRefusal> {
    let claims = if is_jwt {
        let text = std::str::from_utf8(body)
            .map_err(|_| UpstreamRefusal::Malformed("not UTF-8".into()))?
            .trim();
        let (_, claims) = open(text, decryption, expected.encrypted, keys.into())?;
        if let Some(iss) = claims.get("iss").and_then(Value::as_str)
            && iss != expected.issuer
        {
            return Err(UpstreamRefusal::Issuer(iss.to_owned()));
        }
        claims
    } else if expected.encrypted {
        return Err(UpstreamRefusal::NotEncrypted);
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => return Err(UpstreamRefusal::Malformed("not a JSON object".into())),
        }
    };
    if claims.get("sub").and_then(Value::as_str) != Some(id.sub.as_str()) {
        return Err(UpstreamRefusal::OtherSubject);
    }
    Ok(claims)
}

/// The level of a login through an upstream: the upstream's, never above what the realm
/// grants FranceConnect logins.
pub fn login_acr(upstream: Acr, realm_ceiling: Acr) -> Acr {
    upstream.min(realm_ceiling)
}

/// A link waiting for its proof, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    /// The realm.
    pub realm: String,
    /// The upstream's name.
    pub upstream: String,
    /// The upstream subject.
    pub sub: String,
    /// The hash of the pending authorization request (of this browser) it belongs to.
    pub pending_hash: String,
    /// Until when it may be proven.
    pub expires_at: i64,
    /// The national id whose record the upstream's pivot identity matched
    /// ([`crate::pivot::PivotMatched`]), offered for the person's confirmation; `None` when
    /// only a proof may link (option off, no match, or declined).
    pub offer: Option<String>,
    /// The level the upstream login reached, for the login a confirmation completes.
    pub acr: Option<Acr>,
}

impl PendingLink {
    /// A pending link offering the identity `matched` for confirmation.
    pub fn offering(mut self, matched: &crate::pivot::PivotMatched, acr: Acr) -> Self {
        self.offer = Some(matched.national_id().to_owned());
        self.acr = Some(acr);
        self
    }
}

/// How a link was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMethod {
    /// A login by card or e-CPS of the national id.
    Proof(AuthMethod),
    /// The person confirmed the one identity their pivot identity matched exactly.
    PivotIdentity,
}

impl LinkMethod {
    /// As stored and audited: `card`, `ecps`, `pivot_identity`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMethod::Proof(m) => m.as_str(),
            LinkMethod::PivotIdentity => "pivot_identity",
        }
    }
}

/// A link between an upstream identity and a national id, proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkProven {
    realm: String,
    upstream: String,
    sub: String,
    national_id: String,
    method: LinkMethod,
}

impl LinkProven {
    /// A pending link proven by a login by card or e-CPS of `national_id`, completed `now`
    /// for the same pending authorization request (so in the same browser) before the link
    /// expired. `None` otherwise: another method, another login, or too late.
    pub fn by_proof(
        pending: &PendingLink,
        login_pending_hash: &str,
        national_id: &str,
        method: AuthMethod,
        now: i64,
    ) -> Option<Self> {
        let proving = matches!(method, AuthMethod::Card | AuthMethod::Ecps);
        (proving && pending.pending_hash == login_pending_hash && now < pending.expires_at).then(
            || LinkProven {
                realm: pending.realm.clone(),
                upstream: pending.upstream.clone(),
                sub: pending.sub.clone(),
                national_id: national_id.to_owned(),
                method: LinkMethod::Proof(method),
            },
        )
    }

    /// A pending link confirmed by the person for the identity its pivot identity matched:
    /// the link offered one, it belongs to the same pending authorization request (so the
    /// same browser), and it has not expired. `None` otherwise.
    pub fn by_confirmation(
        pending: &PendingLink,
        login_pending_hash: &str,
        now: i64,
    ) -> Option<Self> {
        let national_id = pending.offer.as_ref()?;
        (pending.pending_hash == login_pending_hash && now < pending.expires_at).then(|| {
            LinkProven {
                realm: pending.realm.clone(),
                upstream: pending.upstream.clone(),
                sub: pending.sub.clone(),
                national_id: national_id.clone(),
                method: LinkMethod::PivotIdentity,
            }
        })
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// The upstream.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }
    /// The upstream subject.
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The national id proven.
    pub fn national_id(&self) -> &str {
        &self.national_id
    }
    /// How it was made.
    pub fn method(&self) -> LinkMethod {
        self.method
    }
}

/// The upstream's `end_session_endpoint` with `id_token_hint`, `state` and
/// `post_logout_redirect_uri` (all three, as FranceConnect requires).
pub fn end_session_url(
    endpoint: &str,
    id_token_hint: &str,
    state: &str,
    post_logout_redirect_uri: &str,
) -> Option<String> {
    let mut u = url::Url::parse(endpoint).ok()?;
    u.query_pairs_mut()
        .append_pair("id_token_hint", id_token_hint)
        .append_pair("state", state)
        .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
    Some(u.into())
}

/// A `state` or `nonce` of at least [`MIN_STATE_LEN`] characters from 32 random bytes.
pub fn secret_of(bytes: &[u8; 32]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
