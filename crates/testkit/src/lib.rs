//! coeur's test harness: a real coeur server on a loopback port, on SQLite or on a throwaway
//! PostgreSQL cluster (`pg`), with an injected clock; a cookie-keeping browser; throwaway
//! OpenLDAP directories (`slapd`) and Apache httpd relying parties with mod_auth_openidc
//! (`apache`); `both_dbs!` to run a test on both databases; small helpers several test
//! modules share (`helpers`).
#![forbid(unsafe_code)]

pub mod apache;
mod helpers;
pub mod lab;
pub mod logs;
pub mod pg;
pub mod slapd;

use coeur::app::{App, SystemClock, SystemRandom};
use coeur::ca::CaService;
use coeur::common::identity::{Identity, admit};
use coeur::common::random::Clock;
use coeur::common::random::testing::FixedClock;
use coeur::config::{CommonSettings, Config, ServeSettings, Settings};
use coeur::oauth::client::{ClientSpec, GrantType, SecretMethods, TokenAuthMethod};
use coeur::oauth::secret::SecretHash;
use coeur::provider::AppState;
use coeur::provider::store::{ClientRow, IdentitiesWritten};
use std::sync::Arc;

pub use helpers::*;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A SQLite file in the test's temp dir.
    Sqlite,
    /// A fresh database on the throwaway PostgreSQL cluster.
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_dbs {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Db::Postgres).await
            }
        }
    };
}

/// The confidential test client's secret.
pub const SECRET: &str = "test-client-secret-0123456789abcdef0123456789";
/// A known active sandbox identity.
pub const NATIONAL_ID: &str = "899700218896";
/// The redirect URI of test clients.
pub const REDIRECT: &str = "https://rp.example/cb";
/// A second registered redirect URI.
pub const REDIRECT2: &str = "https://rp.example/cb2";
/// Post-logout redirect URI of test clients.
pub const POST_LOGOUT: &str = "https://rp.example/bye";

/// The master key test servers on PostgreSQL are given (base64 of 32 bytes).
pub const TEST_MASTER_KEY: &str = "Y29ldXItdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=";

/// A running server.
pub struct TestServer {
    /// Base URL, e.g. `http://127.0.0.1:12345`.
    pub base: String,
    /// Base URL of the admin listener (`/metrics`).
    pub admin_base: String,
    /// The provider's state (store, realms, keys).
    pub state: Arc<AppState>,
    /// The certificate authority.
    pub ca: Arc<CaService>,
    /// The whole system.
    pub app: Arc<App>,
    /// The server's clock, which tests may move forward.
    pub clock: Arc<FixedClock>,
    /// The temp dir (keys, SQLite file).
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

/// The main listener: on a free port, or on `addr` once the server that had it has let it go
/// (its task is aborted on drop; the socket closes shortly after).
async fn bind_main(addr: Option<std::net::SocketAddr>) -> tokio::net::TcpListener {
    let Some(addr) = addr else {
        return tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
    };
    for _ in 0..100 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{addr} stayed taken");
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The repository's root folder.
pub fn repo_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's `realms/` folder.
pub fn realms_dir() -> std::path::PathBuf {
    repo_dir().join("realms")
}

impl TestServer {
    /// Starts a server with the shipped realms.
    pub async fn start(db: Db) -> Self {
        Self::start_with_realms(db, &realms_dir()).await
    }

    /// Starts a server with the realm files of `realms`.
    pub async fn start_with_realms(db: Db, realms: &std::path::Path) -> Self {
        Self::start_with(db, realms, |_| {}).await
    }

    /// Starts a server, letting the test adjust the settings (e.g. `common.ca_realm`,
    /// `common.pki_hierarchy`, `serve.card_trust_file`).
    pub async fn start_with(
        db: Db,
        realms: &std::path::Path,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::try_start_with(db, realms, adjust)
            .await
            .expect("server state")
    }

    /// Like [`TestServer::start_with`], but a configuration the server refuses to start with
    /// is an `Err` carrying its message.
    pub async fn try_start_with(
        db: Db,
        realms: &std::path::Path,
        adjust: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        Self::try_start_on(db, realms, None, adjust).await
    }

    /// Starts a server whose main listener takes over `base` (the `http://host:port` of a
    /// server that was dropped), so that its issuer URLs are the same as that server's: a
    /// restart, or a restore, of the same deployment.
    pub async fn start_again(db: Db, base: &str, adjust: impl FnOnce(&mut Settings)) -> Self {
        let addr: std::net::SocketAddr = base
            .trim_start_matches("http://")
            .parse()
            .expect("a base URL of a test server");
        Self::try_start_on(db, &realms_dir(), Some(addr), adjust)
            .await
            .expect("server state")
    }

    async fn try_start_on(
        db: Db,
        realms: &std::path::Path,
        main: Option<std::net::SocketAddr>,
        adjust: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        logs::install();
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match db {
            Db::Sqlite => format!("sqlite://{}/coeur.db", dir.path().display()),
            Db::Postgres => pg::new_database_url().await,
        };
        let listener = bind_main(main).await;
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let card_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind card listener");
        let card_addr = card_listener.local_addr().expect("card addr");
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind admin listener");
        let admin_addr = admin_listener.local_addr().expect("admin addr");
        let mut settings = Settings {
            common: CommonSettings {
                public_url: Some(base.clone()),
                database_url: Some(database_url),
                keys_dir: Some(dir.path().join("keys")),
                realms_dir: Some(realms.to_owned()),
                pki_dir: Some(repo_dir().join("pki")),
                pki_hierarchy: Some("modern".into()),
                crl_dir: Some(dir.path().join("crl")),
                ..CommonSettings::default()
            },
            serve: ServeSettings {
                listen: Some(addr),
                card_listen: Some(card_addr),
                card_public_url: Some(format!("https://{card_addr}")),
                admin_listen: Some(admin_addr),
                ..ServeSettings::default()
            },
            ..Settings::default()
        };
        // A PostgreSQL database may be shared: its instances are given one master key, as in
        // production (SQLite runs use the development key generated in the keys directory).
        if db == Db::Postgres {
            settings.secrets.master_key = Some(TEST_MASTER_KEY.into());
        }
        adjust(&mut settings);
        let cfg = Config::resolve(settings, None)?;
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let app = Arc::new(App::build_with(cfg, clock.clone(), Arc::new(SystemRandom)).await?);
        // The card listener's own certificate is issued (stored and audited) before the test
        // begins, so that no write of the server's start lands in the middle of a test.
        let card_tls = app.card_tls_config().await?;
        let main_app = app.clone();
        let task = tokio::spawn(async move {
            // Dropped with this task (when the server is), the set stops the other listeners.
            let mut others = tokio::task::JoinSet::new();
            let card_app = main_app.clone();
            others.spawn(async move { card_app.serve_card_with(card_listener, card_tls).await });
            let admin_app = main_app.clone();
            others.spawn(async move { admin_app.serve_admin(admin_listener).await });
            main_app.serve_main(listener, None).await;
        });
        Ok(TestServer {
            base,
            admin_base: format!("http://{admin_addr}"),
            state: app.provider.clone(),
            ca: app.ca.clone(),
            app,
            clock,
            dir,
            task,
        })
    }

    /// Base URL of the card (mutual TLS) listener.
    pub fn card_base(&self) -> String {
        self.app.cfg.card_public_url.clone()
    }

    /// Issuer of a realm.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/auth/realms/{realm}", self.base)
    }

    /// An endpoint URL of a realm (`token`, `userinfo`, `auth`…).
    pub fn endpoint(&self, realm: &str, name: &str) -> String {
        format!("{}/protocol/openid-connect/{name}", self.issuer(realm))
    }

    /// Registers a client in the database, as `coeur client add` does.
    pub async fn add_client(&self, realm: &str, spec: ClientSpec, secret: Option<&str>) {
        let hash = secret.map(|s| SecretHash::new(s, &[9; 16]).as_str().to_owned());
        let sealed = match (
            secret,
            spec.id_token_signed_response_alg == Some(coeur::oauth::jose::SigAlg::HS256),
        ) {
            (Some(s), true) => Some(
                self.state
                    .keys
                    .master()
                    .seal(
                        &coeur::provider::state::client_secret_context(realm, &spec.client_id),
                        s.as_bytes(),
                    )
                    .expect("seal"),
            ),
            _ => None,
        };
        let row = ClientRow {
            spec: serde_json::to_string(&spec).expect("spec"),
            secret_hash: hash,
            secret_sealed: sealed,
        };
        self.state
            .store
            .add_client(realm, &spec.client_id.clone(), &row, self.clock.now())
            .await
            .expect("add client");
    }

    /// Writes identities into `realm` as `coeur identity import` does: admitted for the
    /// realm's environment (an EDIT test identity is refused outside the sandbox), then
    /// written in one transaction.
    pub async fn put_identities(
        &self,
        realm: &str,
        ids: Vec<Identity>,
    ) -> anyhow::Result<IdentitiesWritten> {
        let rt = self
            .state
            .realm(realm)
            .ok_or_else(|| anyhow::anyhow!("no realm {realm}"))?;
        let admitted = admit(rt.realm.environment(), ids)?;
        self.state
            .store
            .put_identities(&rt.realm, &admitted, self.clock.now())
            .await
    }

    /// An access token of `client_id` (secret [`SECRET`]) in `realm` for `scope`, from the
    /// client credentials grant.
    pub async fn client_credentials_token(
        &self,
        realm: &str,
        client_id: &str,
        scope: &str,
    ) -> String {
        let r = reqwest::Client::new()
            .post(self.endpoint(realm, "token"))
            .basic_auth(client_id, Some(SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("token");
        assert_eq!(r.status(), 200, "client credentials grant");
        let v: serde_json::Value = r.json().await.expect("token json");
        v["access_token"].as_str().expect("access_token").to_owned()
    }

    /// Registers the standard confidential test client `rp` (secret [`SECRET`]).
    pub async fn add_rp(&self, realm: &str) {
        self.add_client(realm, rp_spec("rp"), Some(SECRET)).await;
    }

    /// A browser with its own cookie jar that does not follow redirects.
    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }
}

/// The standard confidential client registration.
pub fn rp_spec(id: &str) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        public: false,
        redirect_uris: vec![REDIRECT.into(), REDIRECT2.into()],
        post_logout_redirect_uris: vec![POST_LOGOUT.into()],
        token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
        secret_methods: SecretMethods::Either,
        id_token_signed_response_alg: None,
        userinfo_signed_response_alg: None,
        scopes: [
            "openid",
            "scope_all",
            "profile",
            "email",
            "phone",
            "address",
            "offline_access",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        grant_types: vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ],
        jwks: None,
        secret_hash: None,
        tls_client_auth_subject_dn: None,
        tls_client_auth_san_dns: None,
        resource_server_for: vec![],
        ca: None,
        web_origins: None,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        ciba: None,
    }
}

/// What the authorization endpoint answered.
#[derive(Debug)]
pub enum Authz {
    /// The wallet page, with its hidden `request_id` and form action.
    LoginPage {
        /// The `request_id` hidden field.
        request_id: String,
        /// The form's action path.
        action: String,
        /// The page.
        html: String,
    },
    /// A redirect (to the client, normally).
    Redirect(url::Url),
    /// An error page (no redirect).
    ErrorPage {
        /// HTTP status.
        status: u16,
        /// The page.
        html: String,
    },
}

impl Authz {
    /// The redirect URL; panics otherwise.
    pub fn redirect(self) -> url::Url {
        match self {
            Authz::Redirect(u) => u,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }
    /// The request id of a login page; panics otherwise.
    pub fn request_id(&self) -> String {
        match self {
            Authz::LoginPage { request_id, .. } => request_id.clone(),
            other => panic!("expected the login page, got {other:?}"),
        }
    }
}

/// A query parameter of a URL.
pub fn param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}

fn attr(html: &str, marker: &str) -> Option<String> {
    let i = html.find(marker)? + marker.len();
    let rest = &html[i..];
    let end = rest.find('"')?;
    Some(
        rest[..end]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/")
            .replace("&#x2F;", "/"),
    )
}

/// A browser.
pub struct Browser {
    /// The HTTP client (with cookies).
    pub http: reqwest::Client,
}

impl Browser {
    /// GETs an authorization URL.
    pub async fn authorize(&self, url: &str) -> Authz {
        let r = self.http.get(url).send().await.expect("authorize");
        Self::classify(r).await
    }

    /// POSTs an authorization request as a form.
    pub async fn authorize_post(&self, endpoint: &str, form: &[(&str, &str)]) -> Authz {
        let r = self
            .http
            .post(endpoint)
            .form(form)
            .send()
            .await
            .expect("authorize");
        Self::classify(r).await
    }

    async fn classify(r: reqwest::Response) -> Authz {
        let status = r.status().as_u16();
        if (300..400).contains(&status) {
            let loc = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Authz::Redirect(url::Url::parse(&loc).expect("absolute Location"));
        }
        let html = r.text().await.unwrap_or_default();
        if status == 200 && html.contains("name=\"request_id\"") {
            let request_id = attr(&html, "name=\"request_id\" value=\"").expect("request_id");
            let action = attr(&html, "<form method=\"post\" action=\"").expect("action");
            return Authz::LoginPage {
                request_id,
                action,
                html,
            };
        }
        Authz::ErrorPage { status, html }
    }

    /// Posts the wallet form.
    pub async fn login(
        &self,
        base: &str,
        page: &Authz,
        national_id: &str,
        method: &str,
    ) -> reqwest::Response {
        let Authz::LoginPage {
            request_id, action, ..
        } = page
        else {
            panic!("not a login page: {page:?}")
        };
        self.http
            .post(format!("{base}{action}"))
            .form(&[
                ("request_id", request_id.as_str()),
                ("national_id", national_id),
                ("method", method),
            ])
            .send()
            .await
            .expect("login")
    }
}

/// The `Location` of a redirect response.
pub fn location(r: &reqwest::Response) -> url::Url {
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location; status {}", r.status()));
    url::Url::parse(loc).expect("absolute Location")
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    use base64::Engine as _;
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).expect("rng");
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()),
    );
    (verifier, challenge)
}

/// Builds an authorization URL for realm `realm` from `params`.
pub fn authz_url(server: &TestServer, realm: &str, params: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&server.endpoint(realm, "auth")).expect("url");
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// Logs the test identity in through the wallet page for client `rp` and returns the
/// callback URL (with `code`).
pub async fn login_code(
    server: &TestServer,
    browser: &Browser,
    extra: &[(&str, &str)],
) -> url::Url {
    login_code_as(server, browser, NATIONAL_ID, extra).await
}

/// Logs `national_id` in to the sandbox realm through the wallet page (method `test`) for
/// client `rp` and returns the callback URL (with `code`).
pub async fn login_code_as(
    server: &TestServer,
    browser: &Browser,
    national_id: &str,
    extra: &[(&str, &str)],
) -> url::Url {
    let mut params = vec![
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
    ];
    params.extend_from_slice(extra);
    let page = browser.authorize(&authz_url(server, "edit", &params)).await;
    match page {
        Authz::Redirect(u) => u,
        p @ Authz::LoginPage { .. } => {
            let r = browser.login(&server.base, &p, national_id, "test").await;
            assert_eq!(r.status().as_u16(), 303, "login answers 303");
            location(&r)
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Redeems a code for client `rp` with Basic authentication.
pub async fn redeem(server: &TestServer, code: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    form.extend_from_slice(extra);
    reqwest::Client::new()
        .post(server.endpoint("edit", "token"))
        .basic_auth("rp", Some(SECRET))
        .form(&form)
        .send()
        .await
        .expect("token")
}
