//! Upstream identity providers at run time: the settings of a realm file's `[[upstreams]]`
//! with their secret and decryption keys loaded, the upstream's metadata and signing keys
//! (read on first use, keys read again on an unknown `kid` at most once a minute), and the
//! HTTP calls of a login (code redemption, userinfo) over `coeur-rp`'s client.

use anyhow::{Context, Result, anyhow, bail};
use coeur_oauth::jose::{VerificationKeys, token_hash};
use coeur_oauth::jwe::DecryptionKey;
use coeur_oauth::realm::Realm;
use coeur_oauth::upstream::{SignatureKeys, UpstreamSpec};
use coeur_rp::Http;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// How long the upstream's metadata is kept before it is read again.
const METADATA_TTL: i64 = 3600;
/// The shortest time between two reads of the upstream's keys.
const KEYS_REFRESH_MIN: i64 = 60;

/// What the upstream publishes, as read.
#[derive(Clone)]
pub(crate) struct Discovered {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    jwks_uri: String,
    /// Its signing keys.
    pub keys: VerificationKeys,
    read_at: i64,
    keys_read_at: i64,
}

/// An upstream of a realm, ready to serve logins.
pub struct UpstreamRt {
    /// Its settings.
    pub spec: UpstreamSpec,
    secret: String,
    /// coeur's keys for what it encrypts, current first.
    pub decryption: Vec<DecryptionKey>,
    http: Http,
    discovered: tokio::sync::Mutex<Option<Arc<Discovered>>>,
}

impl std::fmt::Debug for UpstreamRt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRt")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// The upstreams of `realm`, whose file is in `dir`: secrets from the environment or files,
/// decryption keys from PEM files (relative to `dir`). A refusal names the realm file, the
/// upstream and the reason.
pub fn load(realm: &Realm, dir: &Path) -> Result<Vec<Arc<UpstreamRt>>> {
    let file = dir.join(format!("{}.toml", realm.name));
    realm
        .upstreams
        .iter()
        .map(|spec| {
            load_one(spec, dir)
                .with_context(|| format!("{}: upstream {:?}", file.display(), spec.name))
        })
        .collect()
}

fn load_one(spec: &UpstreamSpec, dir: &Path) -> Result<Arc<UpstreamRt>> {
    let secret = match (&spec.client_secret_env, &spec.client_secret_file) {
        (Some(var), _) => std::env::var(var)
            .map_err(|_| anyhow!("the environment variable {var} (client secret) is not set"))?,
        (None, Some(f)) => std::fs::read_to_string(dir.join(f))
            .with_context(|| format!("reading the client secret file {f}"))?
            .trim()
            .to_owned(),
        (None, None) => bail!("no client secret"),
    };
    if secret.is_empty() {
        bail!("the client secret is empty");
    }
    if spec.hs256() && secret.len() < 32 {
        bail!("HS256 needs a client secret of at least 32 bytes (RFC 7518, 3.2)");
    }
    let mut decryption = Vec::new();
    for f in &spec.decryption_keys {
        let pem =
            std::fs::read(dir.join(f)).with_context(|| format!("reading the key file {f}"))?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
            .map_err(|e| anyhow!("the key file {f} is not PEM: {e}"))?;
        if pem.label != "PRIVATE KEY" {
            bail!("the key file {f} is not a PKCS#8 private key (PRIVATE KEY)");
        }
        // The kid follows the key: a new key is a new kid.
        let kid = token_hash(&coeur_common::encoding::b64url(&pem.contents));
        let kid = format!("{}-{}", spec.name, &kid[..16]);
        let key = DecryptionKey::from_pkcs8(&kid, &pem.contents)
            .map_err(|e| anyhow!("the key file {f}: {e}"))?;
        decryption.push(key);
    }
    let http = Http::new().map_err(|e| anyhow!("HTTP client: {e}"))?;
    Ok(Arc::new(UpstreamRt {
        spec: spec.clone(),
        secret,
        decryption,
        http,
        discovered: tokio::sync::Mutex::new(None),
    }))
}

fn json_of(what: &str, r: (reqwest::StatusCode, Option<String>, Vec<u8>)) -> Result<Value> {
    let (status, _, body) = r;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        bail!(
            "{what} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    serde_json::from_slice(&body).with_context(|| format!("{what} is not JSON"))
}

impl UpstreamRt {
    /// The public JWKS of coeur's current decryption key, for the upstream to encrypt to.
    pub fn public_jwks(&self) -> Value {
        let keys: Vec<&Value> = self
            .decryption
            .first()
            .map(|k| k.public_jwk())
            .into_iter()
            .collect();
        serde_json::json!({ "keys": keys })
    }

    async fn read_keys(&self, jwks_uri: &str) -> Result<VerificationKeys> {
        let r = self
            .http
            .send(self.http.client().get(jwks_uri))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(json_of("the upstream's JWKS", r)?)
                .context("the upstream's JWKS")?;
        Ok(VerificationKeys::from_jwks(&set))
    }

    /// How this upstream's JWS are verified: HS256 over the client secret (FranceConnect v1),
    /// or the keys it publishes.
    pub(crate) fn signature_keys<'a>(&'a self, d: &'a Discovered) -> SignatureKeys<'a> {
        if self.spec.hs256() {
            SignatureKeys::ClientSecret(self.secret.as_bytes())
        } else {
            SignatureKeys::Published(&d.keys)
        }
    }

    /// The upstream's metadata and keys, read if not known or older than an hour; with
    /// explicit endpoints (FranceConnect v1), those, and the keys of `endpoints.jwks` if any.
    pub(crate) async fn discovered(&self, now: i64) -> Result<Arc<Discovered>> {
        let mut guard = self.discovered.lock().await;
        if let Some(d) = guard.as_ref()
            && now - d.read_at < METADATA_TTL
        {
            return Ok(d.clone());
        }
        if let Some(e) = &self.spec.endpoints {
            let jwks_uri = e.jwks.clone().unwrap_or_default();
            let keys = if jwks_uri.is_empty() {
                VerificationKeys::new([])
            } else {
                self.read_keys(&jwks_uri).await?
            };
            let d = Arc::new(Discovered {
                authorization_endpoint: e.authorization.clone(),
                token_endpoint: e.token.clone(),
                userinfo_endpoint: Some(e.userinfo.clone()),
                end_session_endpoint: Some(e.end_session.clone()),
                jwks_uri,
                keys,
                read_at: now,
                keys_read_at: now,
            });
            *guard = Some(d.clone());
            return Ok(d);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.spec.issuer.trim_end_matches('/')
        );
        let r = self
            .http
            .send(self.http.client().get(&url))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let m = json_of("the upstream's metadata", r)?;
        if m["issuer"].as_str() != Some(self.spec.issuer.as_str()) {
            bail!(
                "the upstream's metadata names another issuer: {}",
                m["issuer"]
            );
        }
        let s = |k: &str| m[k].as_str().map(str::to_owned);
        let need = |k: &str| s(k).ok_or_else(|| anyhow!("the upstream's metadata lacks {k}"));
        let jwks_uri = need("jwks_uri")?;
        let keys = self.read_keys(&jwks_uri).await?;
        let d = Arc::new(Discovered {
            authorization_endpoint: need("authorization_endpoint")?,
            token_endpoint: need("token_endpoint")?,
            userinfo_endpoint: s("userinfo_endpoint"),
            end_session_endpoint: s("end_session_endpoint"),
            jwks_uri,
            keys,
            read_at: now,
            keys_read_at: now,
        });
        *guard = Some(d.clone());
        Ok(d)
    }

    /// The upstream's keys read again (a token names a `kid` not known): `None` when they were
    /// read less than a minute ago.
    pub(crate) async fn refresh_keys(&self, now: i64) -> Result<Option<Arc<Discovered>>> {
        let mut guard = self.discovered.lock().await;
        let Some(d) = guard.as_ref() else {
            return Ok(None);
        };
        if now - d.keys_read_at < KEYS_REFRESH_MIN || d.jwks_uri.is_empty() {
            return Ok(None);
        }
        let mut fresh = (**d).clone();
        fresh.keys_read_at = now;
        fresh.keys = self.read_keys(&d.jwks_uri).await?;
        let fresh = Arc::new(fresh);
        *guard = Some(fresh.clone());
        tracing::info!(upstream = %self.spec.name, "upstream keys read again");
        Ok(Some(fresh))
    }

    /// Redeems `code` (`client_secret_post`, with the PKCE verifier): the ID token and access
    /// token.
    pub(crate) async fn redeem(
        &self,
        d: &Discovered,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<(String, String)> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.spec.client_id.as_str()),
            ("client_secret", self.secret.as_str()),
            ("code_verifier", verifier),
        ];
        let r = self
            .http
            .send(self.http.client().post(&d.token_endpoint).form(&form))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let v = json_of("the upstream's token endpoint", r)?;
        let id_token = v["id_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no id_token in the token response"))?;
        let access = v["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no access_token in the token response"))?;
        Ok((id_token.to_owned(), access.to_owned()))
    }

    /// Reads userinfo: the body, and whether it is a JWT (`application/jwt`).
    pub(crate) async fn userinfo(&self, d: &Discovered, access: &str) -> Result<(Vec<u8>, bool)> {
        let endpoint = d
            .userinfo_endpoint
            .as_deref()
            .ok_or_else(|| anyhow!("the upstream has no userinfo endpoint"))?;
        let (status, ct, body) = self
            .http
            .send(self.http.client().get(endpoint).bearer_auth(access))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if !status.is_success() {
            bail!("the upstream's userinfo answered {status}");
        }
        let jwt = ct.is_some_and(|c| c.starts_with("application/jwt"));
        Ok((body, jwt))
    }
}
