//! The two logins the benchmarks drive, step by step, with the checks that make a login count.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail, ensure};
use aws_lc_rs::{digest, rand};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::header;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use url::Url;

use crate::http::{Answer, KeepAlive, Req, once_tls};

/// The login cookie the wallet page sets and the later steps carry.
const LOGIN_COOKIE: &str = "COEUR_LOGIN";

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    rand::fill(&mut b).map_err(|_| anyhow!("no randomness"))?;
    Ok(b)
}

/// A PKCE verifier (32 random bytes, base64url) and its S256 challenge.
fn pkce() -> Result<(String, String)> {
    let verifier = URL_SAFE_NO_PAD.encode(random::<32>()?);
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    Ok((verifier, challenge))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The request id of the wallet page's form (`name="request_id" value="…"`).
fn request_id(page: &Answer) -> Option<String> {
    let body = std::str::from_utf8(&page.body).ok()?;
    let rest = &body[body.find(r#"name="request_id""#)? + r#"name="request_id""#.len()..];
    let rest = rest.trim_start().strip_prefix(r#"value=""#)?;
    let end = rest.find('"')?;
    (end > 0).then(|| rest[..end].to_owned())
}

/// Fails the login with `what`, the status and the start of the body when `cond` is false.
fn expect(cond: bool, what: &str, res: &Answer) -> Result<()> {
    if cond {
        Ok(())
    } else {
        bail!("{what} (status {}) {}", res.status, res.excerpt())
    }
}

/// The realm's OpenID Connect endpoints on the main (plain-HTTP, loopback) origin.
pub struct Endpoints {
    base: Url,
    oc: String,
}

impl Endpoints {
    pub fn new(base: &str, realm: &str) -> Result<Self> {
        let base = Url::parse(base).context("--base")?;
        let loopback = matches!(
            base.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        ) || matches!(base.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || base.host_str() == Some("localhost");
        ensure!(
            base.scheme() == "http" && loopback,
            "--base: only plain http on the loopback interface is supported"
        );
        let realm = utf8_percent_encode(realm, URI_COMPONENT);
        Ok(Endpoints {
            oc: format!("/auth/realms/{realm}/protocol/openid-connect"),
            base,
        })
    }

    fn url(&self, path: &str) -> Result<Url> {
        Ok(self.base.join(&format!("{}{path}", self.oc))?)
    }

    pub fn keep_alive(&self) -> KeepAlive {
        KeepAlive::new(&self.base)
    }
}

/// What JavaScript's `encodeURIComponent` leaves alone: letters, digits and `-_.!~*'()`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A login the driver repeats: each virtual user owns one keep-alive connection to the main
/// origin and passes it to every login it makes.
pub trait Login: Send + Sync + 'static {
    fn endpoints(&self) -> &Endpoints;
    fn login(&self, conn: &mut KeepAlive) -> impl Future<Output = Result<()>> + Send;
}

impl Login for CodeFlow {
    fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }
    async fn login(&self, conn: &mut KeepAlive) -> Result<()> {
        self.steps(conn).await
    }
}

impl Login for CardLogin {
    fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }
    async fn login(&self, conn: &mut KeepAlive) -> Result<()> {
        self.steps(conn).await
    }
}

/// A full sandbox code-flow login: the client and identity it logs in with.
pub struct CodeFlow {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub redirect_uri: String,
    pub national_id: String,
    pub scope: String,
    /// `Basic base64(client_id:secret)`, both URI-encoded (client_secret_basic).
    pub basic: String,
}

impl CodeFlow {
    pub fn basic(client_id: &str, secret: &str) -> String {
        let pair = format!(
            "{}:{}",
            utf8_percent_encode(client_id, URI_COMPONENT),
            utf8_percent_encode(secret, URI_COMPONENT)
        );
        format!("Basic {}", STANDARD.encode(pair))
    }

    /// One login as a fresh browser (no session cookie), on the virtual user's connection:
    ///   1. GET  …/auth (PKCE S256, state, nonce)            -> 200 wallet page + COEUR_LOGIN
    ///   2. POST …/auth/login (method=test, the identity)    -> 302/303 redirect_uri?code=&state=
    ///   3. POST …/token (authorization_code, client_secret_basic, code_verifier)
    ///      -> 200 with an access token and an ID token.
    pub async fn steps(&self, conn: &mut KeepAlive) -> Result<()> {
        let (verifier, challenge) = pkce()?;
        let state = URL_SAFE_NO_PAD.encode(random::<12>()?);
        let nonce = URL_SAFE_NO_PAD.encode(random::<12>()?);

        let mut auth = self.endpoints.url("/auth")?;
        auth.set_query(Some(&form(&[
            ("client_id", &self.client_id),
            ("response_type", "code"),
            ("scope", &self.scope),
            ("redirect_uri", &self.redirect_uri),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])));
        let page = conn.send(Req::get(&auth)).await?;
        expect(page.status == 200, "authorize: expected 200", &page)?;
        let browser = page.cookie(LOGIN_COOKIE).map(str::to_owned);
        expect(browser.is_some(), "authorize: no COEUR_LOGIN cookie", &page)?;
        let rid = request_id(&page);
        expect(
            rid.is_some(),
            "authorize: no request_id in the wallet page",
            &page,
        )?;
        let cookie = format!("{LOGIN_COOKIE}={}", browser.unwrap_or_default());

        let login_url = self.endpoints.url("/auth/login")?;
        let body = form(&[
            ("request_id", &rid.unwrap_or_default()),
            ("national_id", &self.national_id),
            ("method", "test"),
        ]);
        let headers = [(header::COOKIE, cookie.as_str())];
        let done = conn
            .send(Req::post(&login_url, body).with(&headers))
            .await?;
        expect(
            done.status == 303 || done.status == 302,
            "login: expected a redirect",
            &done,
        )?;
        let loc = done.location(&Url::parse("http://invalid/")?);
        let at = loc
            .as_ref()
            .map(|l| format!("{}{}", l.origin().ascii_serialization(), l.path()));
        expect(
            at.as_deref() == Some(self.redirect_uri.as_str()),
            &format!("login: redirected to {}", at.unwrap_or_default()),
            &done,
        )?;
        let param = |k: &str| {
            loc.as_ref()?
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        expect(
            param("state").as_deref() == Some(&state),
            "login: state mismatch",
            &done,
        )?;
        let code = param("code");
        expect(code.is_some(), "login: no code in the redirect", &done)?;

        let token_url = self.endpoints.url("/token")?;
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code.unwrap_or_default()),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", &verifier),
        ]);
        let headers = [
            (header::AUTHORIZATION, self.basic.as_str()),
            (header::ACCEPT, "application/json"),
        ];
        let tok = conn
            .send(Req::post(&token_url, body).with(&headers))
            .await?;
        expect(tok.status == 200, "token: expected 200", &tok)?;
        let t: serde_json::Value = serde_json::from_slice(&tok.body).context("token: not JSON")?;
        expect(
            t["access_token"].is_string() && t["id_token"].is_string(),
            "token: missing tokens",
            &tok,
        )
    }
}

/// A full CPS card login: the client, and the TLS configuration presenting the card.
pub struct CardLogin {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub redirect_uri: String,
    pub tls: Arc<rustls::ClientConfig>,
}

impl CardLogin {
    /// The TLS client of the card listener: trusts `card_ca` (PEM), presents the key and chain
    /// of the PKCS#12 `pfx` opened with `pin`, and never resumes a session, so that every
    /// login makes a full handshake with client authentication. It offers the key exchanges a
    /// default OpenSSL 3.0 client offers (X25519 first, no post-quantum hybrid).
    pub fn tls(card_ca: &[u8], pfx: &[u8], pin: &str) -> Result<Arc<rustls::ClientConfig>> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(card_ca) {
            roots.add(c.context("--card-ca")?)?;
        }
        ensure!(!roots.is_empty(), "--card-ca: no certificate");
        let ks = p12_keystore::KeyStore::from_pkcs12(
            pfx,
            pin,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| anyhow!("--pfx: {e}"))?;
        let (_, chain) = ks
            .private_key_chain()
            .context("--pfx: no key with its certificate")?;
        let certs: Vec<CertificateDer<'static>> = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        ensure!(!certs.is_empty(), "--pfx: no certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        use rustls::crypto::aws_lc_rs::kx_group;
        provider.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)?;
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(config))
    }

    /// One login (4 requests, the third on a new TLS connection presenting the card):
    ///   1. GET  …/auth (PKCE S256, state)                         -> 200 wallet page
    ///   2. POST …/auth/login (method=card)                        -> 303 to the card listener
    ///   3. GET  {card}/auth/realms/{realm}/card/login?handoff=…   -> 303 back to the main origin
    ///   4. GET  …/auth/card-return?result=… (COEUR_LOGIN)         -> 303 redirect_uri?code=
    pub async fn steps(&self, conn: &mut KeepAlive) -> Result<()> {
        let state = hex::encode(random::<8>()?);
        let (_verifier, challenge) = pkce()?;
        let mut auth = self.endpoints.url("/auth")?;
        auth.set_query(Some(&form(&[
            ("client_id", &self.client_id),
            ("response_type", "code"),
            ("scope", "openid scope_all"),
            ("redirect_uri", &self.redirect_uri),
            ("state", &state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])));
        let page = conn.send(Req::get(&auth)).await?;
        expect(page.status == 200, "authorize: expected 200", &page)?;
        let (Some(rid), Some(browser)) = (request_id(&page), page.cookie(LOGIN_COOKIE)) else {
            bail!("authorize: no wallet form");
        };
        let cookie = format!("{LOGIN_COOKIE}={browser}");
        let headers = [(header::COOKIE, cookie.as_str())];

        let login_url = self.endpoints.url("/auth/login")?;
        let body = form(&[
            ("request_id", &rid),
            ("national_id", ""),
            ("method", "card"),
        ]);
        let post = conn
            .send(Req::post(&login_url, body).with(&headers))
            .await?;
        expect(post.status == 303, "wallet: expected 303", &post)?;
        let card_url = post.location(&login_url).context("wallet: no location")?;

        let card = once_tls(&self.tls, Req::get(&card_url)).await?;
        expect(card.status == 303, "card: expected 303", &card)?;
        let back_url = card.location(&card_url).context("card: no location")?;

        let back = conn.send(Req::get(&back_url).with(&headers)).await?;
        let to_client = back
            .headers
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.contains("code="));
        expect(
            back.status == 303 && to_client,
            "return: expected 303 with a code",
            &back,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str, cookies: &[&str]) -> Answer {
        let mut headers = hyper::HeaderMap::new();
        for c in cookies {
            headers.append(header::SET_COOKIE, c.parse().unwrap());
        }
        Answer {
            status: 200,
            headers,
            body: bytes::Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn the_wallet_forms_request_id_is_read() {
        let p = page(
            r#"<input type="hidden" name="request_id"  value="r-1_x">"#,
            &[],
        );
        assert_eq!(request_id(&p).as_deref(), Some("r-1_x"));
        assert_eq!(
            request_id(&page(r#"name="request_id" value="""#, &[])),
            None
        );
        assert_eq!(request_id(&page(r#"name="nonce" value="n""#, &[])), None);
    }

    #[test]
    fn the_login_cookie_is_found_among_others() {
        let p = page("", &["A=1; Path=/", " COEUR_LOGIN=v=w; HttpOnly"]);
        assert_eq!(p.cookie(LOGIN_COOKIE), Some("v=w"));
        assert_eq!(page("", &["COEUR_LOGINX=1"]).cookie(LOGIN_COOKIE), None);
    }

    #[test]
    fn client_secret_basic_encodes_as_uri_components() {
        let expected = format!("Basic {}", STANDARD.encode("c%3A1:s!~*'()%20%2B"));
        assert_eq!(CodeFlow::basic("c:1", "s!~*'() +"), expected);
    }

    #[test]
    fn only_plain_http_on_loopback_is_driven() {
        assert!(Endpoints::new("http://127.0.0.1:8080", "edit").is_ok());
        assert!(Endpoints::new("http://[::1]:8080", "edit").is_ok());
        assert!(Endpoints::new("https://127.0.0.1:8080", "edit").is_err());
        assert!(Endpoints::new("http://192.0.2.1:8080", "edit").is_err());
    }
}
