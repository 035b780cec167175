//! The wallet page and its login methods.
//!
//! Each way of logging in is a [`LoginMethod`], registered in [`METHODS`]: the wallet page
//! offers the realm's methods through it, and the wallet form hands the submission to the
//! method the user chose. A method the realm lists but no implementation backs, or that the
//! realm cannot use (FranceConnect without an upstream), is shown disabled, saying it is not
//! available yet, and reaches no level; a form asking for it anyway is answered "not yet
//! available".

pub(crate) mod card;
pub(crate) mod ecps;
mod finish;
mod franceconnect;
mod passkey;
mod sandbox;

use sandbox::national_id_error;

pub(crate) use finish::{LoginContext, LoginRefusal, finish_login, pending_for_browser};
pub(crate) use franceconnect::upstream_logout;

use crate::St;
use crate::authorize::validate_request;
use crate::error::{ProviderError, realm_or_404};
use crate::state::{AppState, RealmRt};
use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use coeur_oauth::acr::Acr;
use coeur_oauth::authorize::{self, AuthorizationRequest, Params};
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::{AuthMethod, Realm};
use coeur_web::listener::PeerAddr;
use coeur_web::{Lang, Text, form_pairs, page, page_lang};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Which listener serves a route a login method contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The main listener (served on the card listener too, as mutual-TLS aliases).
    Main,
    /// The card listener only: it asks the browser for a client certificate.
    Card,
}

/// Why a realm may not use a login method at all: the method is not offered on its wallet
/// page, and a form asking for it anyway gets this message.
#[derive(Debug, Clone)]
pub(crate) struct Unavailable {
    /// Shown on the wallet page.
    pub message: Text,
    /// The status of that page.
    pub status: StatusCode,
}

/// A submission of the wallet form, handed to the method the user chose.
pub(crate) struct WalletSubmission<'a> {
    /// The login it continues.
    pub login: LoginContext<'a>,
    /// The national identifier as typed (trimmed; possibly empty).
    pub typed_national_id: &'a str,
    /// The source address of the request, for rate limits.
    pub source: String,
    /// The upstream the user chose (FranceConnect), if a button named one.
    pub upstream: Option<&'a str>,
}

/// One way of logging in from the wallet page.
pub(crate) trait LoginMethod: Send + Sync {
    /// The method, as sessions and grants record it.
    fn method(&self) -> AuthMethod;

    /// The assurance level a login by this method reaches in `realm`.
    fn acr(&self, realm: &Realm) -> Acr {
        realm.acr.of(self.method())
    }

    /// Whether `realm` may use this method at all.
    fn available_in(&self, realm: &Realm) -> Result<(), Unavailable> {
        let _ = realm;
        Ok(())
    }

    /// Answers the wallet form: sends the browser on (e.g. to the card listener) or completes
    /// the login at once.
    fn start<'a>(
        &'a self,
        form: WalletSubmission<'a>,
    ) -> BoxFuture<'a, Result<Response, LoginRefusal>>;

    /// The routes this method adds to `listener`.
    fn routes(&self, listener: Listener) -> Router<Arc<AppState>> {
        let _ = listener;
        Router::new()
    }
}

/// The login methods this provider implements.
static METHODS: &[&dyn LoginMethod] = &[
    &card::CardLogin,
    &ecps::EcpsLogin,
    &passkey::PasskeyLogin,
    &franceconnect::FRANCECONNECT,
    &sandbox::TestLogin,
];

/// The implementation of `method`, if there is one.
fn registered(method: AuthMethod) -> Option<&'static dyn LoginMethod> {
    METHODS.iter().copied().find(|m| m.method() == method)
}

/// The routes every login method adds to `listener`.
pub(crate) fn routes(listener: Listener) -> Router<Arc<AppState>> {
    METHODS
        .iter()
        .fold(Router::new(), |r, m| r.merge(m.routes(listener)))
}

/// The methods a user can log in with in `rt` (listed by the realm, implemented here and
/// available to it), with the level each reaches.
fn offered(rt: &RealmRt) -> Vec<(AuthMethod, Acr)> {
    rt.realm
        .auth_methods
        .iter()
        .filter_map(|m| {
            let login = registered(*m)?;
            login.available_in(&rt.realm).ok()?;
            Some((*m, login.acr(&rt.realm)))
        })
        .collect()
}

/// The language of the wallet page for `req` from this browser.
pub(crate) fn lang_of(req: &AuthorizationRequest, headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    page_lang(req.ui_locales.as_deref(), accept)
}

/// What the wallet page says when the client asks for a level some methods offered cannot
/// reach, with the label of the button back to the application: `stuck` when none reaches it.
fn unmet_text(acr: Acr, stuck: bool) -> (Text, Text) {
    if stuck {
        (
            Text::new("wallet.unmet.stuck").arg("acr", acr),
            Text::new("wallet.back.stuck"),
        )
    } else {
        (
            Text::new("wallet.unmet.some").arg("acr", acr),
            Text::new("wallet.back.some"),
        )
    }
}

/// The label of a method's button.
fn label(m: AuthMethod) -> Text {
    match m {
        AuthMethod::Card => Text::new("method.card"),
        AuthMethod::Ecps => Text::new("method.ecps"),
        AuthMethod::Franceconnect => Text::new("method.franceconnect"),
        AuthMethod::Test => Text::new("method.test"),
        AuthMethod::Passkey => Text::new("method.passkey"),
    }
}

/// The wallet page's buttons: the methods offered, those the client's level rules out
/// disabled, then the methods the realm lists that this server does not implement yet,
/// disabled; each disabled one with its reason in visible text.
///
/// The first enabled button is the one Enter submits (HTML's implicit submission): the
/// sandbox's test login, then e-CPS, before the card, which sends the browser to a
/// certificate prompt and so must be an explicit choice.
fn buttons(
    rt: &RealmRt,
    req: &AuthorizationRequest,
    offered: &[(AuthMethod, Acr)],
) -> Vec<minijinja::Value> {
    let too_weak = Text::new("wallet.why.too_weak");
    let not_here = Text::new("wallet.why.not_here");
    let mut shown: Vec<(AuthMethod, Option<Text>)> = offered
        .iter()
        .map(|(m, acr)| {
            (
                *m,
                (!authorize::method_meets(req, *acr)).then(|| too_weak.clone()),
            )
        })
        .collect();
    shown.extend(
        rt.realm
            .auth_methods
            .iter()
            .filter(|m| registered(**m).is_none_or(|l| l.available_in(&rt.realm).is_err()))
            .map(|m| (*m, Some(not_here.clone()))),
    );
    let rank = |m: AuthMethod| match m {
        AuthMethod::Test => 0,
        AuthMethod::Ecps => 1,
        AuthMethod::Card => 2,
        AuthMethod::Passkey => 3,
        AuthMethod::Franceconnect => 4,
    };
    // Stable: enabled first, then by rank.
    shown.sort_by_key(|(m, why)| (why.is_some(), rank(*m)));
    shown
        .into_iter()
        .flat_map(|(m, why)| match m {
            // One button per upstream, named as the realm file names it.
            AuthMethod::Franceconnect if why.is_none() => franceconnect::buttons(rt, req),
            _ => vec![
                minijinja::context! { value => m.as_str(), label => label(m), enabled => why.is_none(), why },
            ],
        })
        .collect()
}

/// A message on the wallet page: about the whole form, or about the national identifier typed
/// (then shown beside that field, which is marked invalid).
pub(crate) enum WalletError {
    /// About the form.
    Form(Text),
    /// About the national identifier.
    NationalId(Text),
}

/// The wallet page: the realm's login methods, those below the level the client asks for
/// disabled; when the client asks for a level some cannot reach, why, and a way back to the
/// application (`unmet_authentication_requirements`).
pub(crate) fn wallet_page(
    rt: &RealmRt,
    req: &AuthorizationRequest,
    request_id: &str,
    national_id: &str,
    error: Option<WalletError>,
    status: StatusCode,
    lang: Lang,
) -> Response {
    let offered = offered(rt);
    let methods = buttons(rt, req, &offered);
    let (error, error_field) = match error {
        Some(WalletError::Form(t)) => (Some(t), false),
        Some(WalletError::NationalId(t)) => (Some(t), true),
        None => (None, false),
    };
    let levels: Vec<Acr> = offered.iter().map(|(_, a)| *a).collect();
    let back = req
        .acr_min
        .filter(|_| authorize::unmet_requirements(req, &levels).is_some())
        .map(|acr| {
            let stuck = !levels.iter().any(|a| *a >= acr);
            let (text, label) = unmet_text(acr, stuck);
            minijinja::context! { text, label, stuck }
        });
    page(
        status,
        "wallet.html",
        lang,
        minijinja::context! {
            realm => rt.realm.display_name,
            sandbox => rt.realm.sandbox,
            client_id => req.client_id,
            action => format!("/auth/realms/{}/protocol/openid-connect/auth/login", rt.realm.name),
            request_id,
            national_id,
            error,
            error_field,
            methods,
            back,
        },
    )
}

/// The user goes back to the application for want of a method reaching the level it asks
/// for: the pending request ends and the client gets `unmet_authentication_requirements`.
/// `None` when the request asks for no level out of reach (nothing to give up for).
async fn give_up(
    st: &AppState,
    rt: &RealmRt,
    req: &AuthorizationRequest,
    pending_hash: &str,
    expired: impl Fn() -> ProviderError,
) -> Result<Option<Response>, ProviderError> {
    let levels: Vec<Acr> = offered(rt).iter().map(|(_, a)| *a).collect();
    let Some(error) = authorize::unmet_requirements(req, &levels) else {
        return Ok(None);
    };
    if !st.store.abandon_pending(pending_hash).await? {
        return Err(expired());
    }
    tracing::info!(realm = %rt.realm.name, client = %req.client_id, reason = %error.description, "login abandoned: authentication requirements unmet");
    Ok(Some(finish::back_to_client(st, rt, req, &error)))
}

/// The method the wallet form asks for, if this realm may use it; the refusal shown on the
/// wallet page otherwise.
fn chosen_method(
    realm: &Realm,
    form: &Params,
) -> Result<&'static dyn LoginMethod, (Text, StatusCode)> {
    // A FranceConnect button names its upstream instead of the method.
    let parsed = match form.get("upstream") {
        Some(_) => Some(AuthMethod::Franceconnect),
        None => form.get("method").and_then(AuthMethod::parse),
    };
    // Checked before the realm's list: a production realm refuses test logins plainly,
    // whatever the form says.
    if let Some(Err(u)) = parsed.and_then(registered).map(|l| l.available_in(realm)) {
        return Err((u.message, u.status));
    }
    let method = match parsed {
        Some(m) if realm.auth_methods.contains(&m) => m,
        _ => {
            return Err((Text::new("login.not_offered"), StatusCode::BAD_REQUEST));
        }
    };
    registered(method).ok_or((Text::new("login.not_yet"), StatusCode::NOT_IMPLEMENTED))
}

/// The wallet form: `request_id`, `national_id`, `method`.
pub(crate) async fn wallet_login(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let form = Params::from_pairs(form_pairs(&body));
    let now = st.now();
    let expired = ProviderError::page_expired;
    let Some(request_id) = form.get("request_id") else {
        return Err(expired());
    };
    let pending_hash = token_hash(request_id);
    let params = pending_for_browser(&st, &rt, &pending_hash, &headers, now, expired).await?;
    let (req, _client) = validate_request(&st, &rt, &params).await?;
    let typed = form
        .get("national_id")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let lang = lang_of(&req, &headers);
    let again = |error: WalletError, status: StatusCode| {
        wallet_page(&rt, &req, request_id, &typed, Some(error), status, lang)
    };
    if form.get("unmet").is_some() {
        return match give_up(&st, &rt, &req, &pending_hash, expired).await? {
            Some(back) => Ok(back),
            None => Ok(again(
                WalletError::Form(Text::new("login.nothing_unmet")),
                StatusCode::BAD_REQUEST,
            )),
        };
    }
    let login = match chosen_method(&rt.realm, &form) {
        Ok(l) => l,
        Err((msg, status)) => return Ok(again(WalletError::Form(msg), status)),
    };
    let submission = WalletSubmission {
        login: LoginContext {
            st: &st,
            rt: &rt,
            req: &req,
            pending_hash: &pending_hash,
            headers: &headers,
            now,
        },
        typed_national_id: &typed,
        source: crate::ecps::source(&st, peer.as_deref(), &headers),
        upstream: form.get("upstream"),
    };
    match login.start(submission).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status)) => Ok(again(WalletError::Form(m), status)),
        Err(LoginRefusal::NationalId(m, status)) => Ok(again(WalletError::NationalId(m), status)),
        Err(LoginRefusal::RateLimited(wait)) => {
            let text = Text::new("ecps.too_many").arg("seconds", wait);
            let mut page = again(WalletError::Form(text), StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            Ok(page)
        }
        Err(LoginRefusal::Expired) => Err(expired()),
        Err(LoginRefusal::Internal(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm(sandbox: bool, methods: &str) -> Realm {
        let text = format!(
            "name = \"r\"\nsandbox = {sandbox}\nauth_methods = [{methods}]\n\n[[clients]]\nclient_id = \"demo\"\npublic = true\ntoken_endpoint_auth_method = \"none\"\nredirect_uris = [\"https://rp.example/cb\"]\n"
        );
        Realm::parse("realms/r.toml", &text, "https://idp.example/").unwrap()
    }

    fn form(method: &str) -> Params {
        Params::from_pairs(vec![("method".to_owned(), method.to_owned())])
    }

    fn chosen(realm: &Realm, method: &str) -> Result<AuthMethod, (Text, StatusCode)> {
        chosen_method(realm, &form(method)).map(|l| l.method())
    }

    #[test]
    fn the_table_backs_every_method() {
        assert!(registered(AuthMethod::Card).is_some());
        assert!(registered(AuthMethod::Test).is_some());
        assert!(registered(AuthMethod::Ecps).is_some());
        assert!(registered(AuthMethod::Franceconnect).is_some());
    }

    #[test]
    fn a_sandbox_realm_takes_its_methods() {
        let r = realm(true, "\"card\", \"test\"");
        assert_eq!(chosen(&r, "card"), Ok(AuthMethod::Card));
        assert_eq!(chosen(&r, "test"), Ok(AuthMethod::Test));
    }

    #[test]
    fn a_production_realm_refuses_test_logins_plainly() {
        let r = realm(false, "\"card\"");
        let (message, status) = chosen(&r, "test").unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(message, Text::new("login.sandbox_only"));
        let test = registered(AuthMethod::Test).unwrap();
        assert!(test.available_in(&r).is_err());
        assert_eq!(chosen(&r, "card"), Ok(AuthMethod::Card));
    }

    #[test]
    fn unknown_or_unlisted_methods_are_not_offered() {
        let r = realm(true, "\"test\"");
        for m in ["card", "bogus", ""] {
            let (message, status) = chosen(&r, m).unwrap_err();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{m}");
            assert_eq!(message, Text::new("login.not_offered"), "{m}");
        }
    }

    #[test]
    fn franceconnect_without_an_upstream_is_not_yet_available() {
        let r = realm(true, "\"ecps\", \"franceconnect\", \"test\"");
        assert_eq!(chosen(&r, "ecps"), Ok(AuthMethod::Ecps));
        let (message, status) = chosen(&r, "franceconnect").unwrap_err();
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(message, Text::new("login.not_yet"));
    }
}
