//! The professionals' own space: web pages where a professional logs in through coeur (the
//! directory is a relying party like any other: authorization code with PKCE through
//! `coeur-rp`, its client `annuaire`), sees their record (names, identifiers, savoir-faire,
//! diplomas, exercises and activities with their structures) and edits their contact details
//! for correspondence (e-mail, phone), shown in `Practitioner.telecom` (`use` `work`), where
//! the provider reads them for the e-CPS enrolment by contact details. Logout is
//! RP-initiated at coeur (`end_session_endpoint` with `id_token_hint` and
//! `post_logout_redirect_uri`), and ends the local session.
//!
//! - [`contact`] (pure): e-mail and phone checked and normalised.
//! - [`session`] (pure, `coeur-rp`'s, shared with the offer's pages): sessions and logins in
//!   progress in sealed cookies ([`session::SessionCookies`]) and the CSRF proof
//!   ([`session::CsrfChecked`]).
//! - [`view`] (pure): what the page shows of the records.
//! - [`store`]: the contact details' statements.
//! - [`pages`]: the routes (`/espace…`), pages rendered by `coeur-web` (French first,
//!   English complete, no JavaScript).
//!
//! The professional is the one whose national id (PSC's `SubjectNameID`, in userinfo with
//! `scope_all`; else the last part of the subject `f:<uuid>:<IdNat>`) is a practitioner of
//! the directory. The login in progress and then the session live in the browser, in cookies
//! sealed (AES-256-GCM) under keys derived from the directory's client secret: HttpOnly,
//! SameSite=Lax (Secure when the public URL is https), limited to the space's path. Nothing is
//! kept in the directory's memory, so a login started at one instance ends at another, and a
//! session opened at one is good at every instance sharing the client secret, after a restart
//! too. Every form post carries the session's CSRF token; the only redirects go to the
//! provider's endpoints and to the space's own pages.

pub mod contact;
mod pages;
pub mod store;
pub mod view;

use crate::store::Store;
use coeur_common::random::{Clock, Random};
use coeur_rp::{LazyParty, PartySettings, RelyingParty};
use session::SessionCookies;
use std::sync::Arc;

pub use coeur_rp::Http;
pub use coeur_rp::session::{self, national_id};
pub use pages::router;

/// The space's home page, under the directory's public URL.
pub const HOME: &str = "/espace";
/// Where a login starts.
pub const LOGIN: &str = "/espace/connexion";
/// The redirect URI's path.
pub const CALLBACK: &str = "/espace/retour";
/// Where contact details are posted.
pub const CONTACT: &str = "/espace/coordonnees";
/// Where the logout is posted.
pub const LOGOUT: &str = "/espace/deconnexion";
/// The post-logout redirect URI's path.
pub const LOGGED_OUT: &str = "/espace/au-revoir";

/// The redirect URI of the directory's client for its public URL `public_url`.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}{CALLBACK}", public_url.trim_end_matches('/'))
}

/// The post-logout redirect URI of the directory's client for its public URL `public_url`.
pub fn post_logout_redirect_uri(public_url: &str) -> String {
    format!("{}{LOGGED_OUT}", public_url.trim_end_matches('/'))
}

/// How the space logs professionals in.
#[derive(Clone)]
pub struct SpaceConfig {
    /// The realm's issuer URL.
    pub issuer: String,
    /// The directory's client there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The directory's public URL (its FHIR base), without a trailing `/`.
    pub public_url: String,
}

impl std::fmt::Debug for SpaceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpaceConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Logins kept at most this long between the redirect to the provider and the callback.
const LOGIN_SECS: i64 = 900;
/// A session lasts this long.
const SESSION_SECS: i64 = 8 * 3600;
/// The session cookie.
const SESSION_COOKIE: &str = "annuaire_session";
/// The cookie binding a login in progress to the browser that started it.
const LOGIN_COOKIE: &str = "annuaire_login";

/// The space's state.
pub struct Space {
    store: Store,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    config: SpaceConfig,
    /// Discovered on first use: the provider need not be up when the directory starts.
    rp: LazyParty,
    /// The login and session cookies, sealed under the client secret.
    cookies: SessionCookies,
    /// The public URL's path (`/fhir`, or empty), before the space's paths.
    base_path: String,
    /// Cookies `Secure`: the public URL is https.
    secure: bool,
}

impl Space {
    /// The space over `store`, logging in through `config`'s provider with `http`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        config: SpaceConfig,
        http: coeur_rp::Http,
    ) -> anyhow::Result<Arc<Self>> {
        let public = url::Url::parse(&config.public_url)
            .map_err(|e| anyhow::anyhow!("the directory's public URL: {e}"))?;
        let base_path = public.path().trim_end_matches('/').to_owned();
        let cookies = SessionCookies::new(&config.client_secret, LOGIN_COOKIE, SESSION_COOKIE)?;
        let now = clock.clone();
        let rp = LazyParty::new(
            PartySettings {
                issuer: config.issuer.clone(),
                client_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                redirect_uri: redirect_uri(&config.public_url),
            },
            http,
            Arc::new(move || now.now()),
        );
        Ok(Arc::new(Space {
            store,
            clock,
            random,
            secure: public.scheme() == "https",
            base_path,
            config,
            rp,
            cookies,
        }))
    }

    /// The relying party, discovering the provider on first use (again after a failure).
    async fn rp(&self) -> anyhow::Result<Arc<RelyingParty>> {
        self.rp
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("discovering {}: {e}", self.config.issuer))
    }

    /// A path of the space as the browser sees it.
    fn path(&self, p: &str) -> String {
        format!("{}{p}", self.base_path)
    }

    /// The absolute URL of a page of the space.
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.config.public_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_uris_follow_the_public_url() {
        assert_eq!(
            redirect_uri("https://annuaire.example/fhir/"),
            "https://annuaire.example/fhir/espace/retour"
        );
        assert_eq!(
            post_logout_redirect_uri("http://127.0.0.1:8083"),
            "http://127.0.0.1:8083/espace/au-revoir"
        );
    }
}
