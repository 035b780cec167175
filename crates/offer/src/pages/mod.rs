//! The editors' pages: the offer service as a relying party of coeur, in the browser. A
//! professional logs in through coeur (authorization code with PKCE through `coeur-rp`, the
//! offer's client `ror`), sees the structures the directory ties them to with their locations,
//! services and current capacities, changes a location's capacities through a form (no
//! JavaScript), gets a confirmation, reads the history of a location's changes (who, when,
//! before, after), and a regional dashboard of the available capacities by type over the last
//! days (an SVG chart drawn on the server, with its data as a table). Logout is RP-initiated
//! at coeur.
//!
//! - [`form`] (pure): the capacity form read into capacities, each field's problem named.
//! - [`view`] (pure): what the pages show of the records.
//! - [`dashboard`] (pure): the daily counts from the history and their chart.
//! - [`routes`]: the `/offre…` routes.
//!
//! Every change goes through [`crate::edit::edit_capacities`], the FHIR API's own write path:
//! the editor's structures asked of the directory on every change, [`crate::authz`]'s
//! decision, the version the form was drawn from compared (a stale form gets the conflict
//! page, with the current values), the form's capacities checked by the API's JSON Patch
//! check, the change and its history row written in one transaction. Sessions are
//! `coeur-rp`'s: the login in progress and then the session live in the browser, in cookies
//! sealed (AES-256-GCM) under keys derived from the offer's client secret (HttpOnly,
//! SameSite=Lax, limited to the pages' path, Secure on https), nothing in the offer's memory:
//! a login started at one instance ends at another, a session opened at one is good at every
//! instance sharing the client secret, after a restart too. Every form post carries the
//! session's CSRF token; the only redirects go to the provider's endpoints and to the pages'
//! own paths.

pub mod dashboard;
pub mod form;
mod routes;
pub mod view;

use crate::http::Offer;
use coeur_common::random::Random;
use coeur_rp::session::SessionCookies;
use coeur_rp::{LazyParty, PartySettings};
use std::sync::Arc;

pub use coeur_rp::Http;
pub use routes::router;

/// The pages' home: the login button, or the professional's structures.
pub const HOME: &str = "/offre";
/// Where a login starts.
pub const LOGIN: &str = "/offre/connexion";
/// The redirect URI's path.
pub const CALLBACK: &str = "/offre/retour";
/// A location's capacity form (`/offre/lieux/{id}`), where it is posted too.
pub const LOCATIONS: &str = "/offre/lieux";
/// Where the logout is posted.
pub const LOGOUT: &str = "/offre/deconnexion";
/// The post-logout redirect URI's path.
pub const LOGGED_OUT: &str = "/offre/au-revoir";
/// A region's dashboard (`/offre/region/{code}`).
pub const REGION: &str = "/offre/region";

/// The days the dashboard covers.
pub const DASHBOARD_DAYS: usize = 14;

/// The scopes the pages' logins ask for: PSC's claims (the national id) and changing
/// capacities.
pub const LOGIN_SCOPES: [&str; 2] = ["scope_all", crate::authz::WRITE_SCOPE];

/// The redirect URI of the offer's client for its public URL `public_url`.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}{CALLBACK}", public_url.trim_end_matches('/'))
}

/// The post-logout redirect URI of the offer's client for its public URL `public_url`.
pub fn post_logout_redirect_uri(public_url: &str) -> String {
    format!("{}{LOGGED_OUT}", public_url.trim_end_matches('/'))
}

/// How the pages log professionals in.
#[derive(Clone)]
pub struct PagesConfig {
    /// The realm's issuer URL.
    pub issuer: String,
    /// The offer's client there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The offer's public URL (its FHIR base), without a trailing `/`.
    pub public_url: String,
}

impl std::fmt::Debug for PagesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagesConfig")
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
const SESSION_COOKIE: &str = "offre_session";
/// The cookie binding a login in progress to the browser that started it.
const LOGIN_COOKIE: &str = "offre_login";

/// The pages' state.
pub struct Pages {
    offer: Arc<Offer>,
    random: Arc<dyn Random>,
    config: PagesConfig,
    /// Discovered on first use: the provider need not be up when the offer starts.
    rp: LazyParty,
    /// The login and session cookies, sealed under the client secret.
    cookies: SessionCookies,
    /// The public URL's path (`/ror`, or empty), before the pages' paths.
    base_path: String,
    /// Cookies `Secure`: the public URL is https.
    secure: bool,
}

impl Pages {
    /// The pages over `offer`, logging in through `config`'s provider with `http`.
    pub fn new(
        offer: Arc<Offer>,
        random: Arc<dyn Random>,
        config: PagesConfig,
        http: Http,
    ) -> anyhow::Result<Arc<Self>> {
        let public = url::Url::parse(&config.public_url)
            .map_err(|e| anyhow::anyhow!("the offer's public URL: {e}"))?;
        let cookies = SessionCookies::new(&config.client_secret, LOGIN_COOKIE, SESSION_COOKIE)?;
        let clock = offer.clock.clone();
        let rp = LazyParty::new(
            PartySettings {
                issuer: config.issuer.clone(),
                client_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                redirect_uri: redirect_uri(&config.public_url),
            },
            http,
            Arc::new(move || clock.now()),
        );
        Ok(Arc::new(Pages {
            offer,
            random,
            secure: public.scheme() == "https",
            base_path: public.path().trim_end_matches('/').to_owned(),
            config,
            rp,
            cookies,
        }))
    }

    /// A path of the pages as the browser sees it.
    fn path(&self, p: &str) -> String {
        format!("{}{p}", self.base_path)
    }

    /// The absolute URL of a page.
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
            redirect_uri("https://ror.example/fhir/"),
            "https://ror.example/fhir/offre/retour"
        );
        assert_eq!(
            post_logout_redirect_uri("http://127.0.0.1:8084"),
            "http://127.0.0.1:8084/offre/au-revoir"
        );
    }
}
