//! The wallet page and its login methods.
//!
//! Each way of logging in is a [`LoginMethod`], registered in [`METHODS`]: the wallet page
//! offers the realm's methods through it, and the wallet form hands the submission to the
//! method the user chose. A method the realm lists but no implementation backs (e-CPS,
//! FranceConnect for now) is shown disabled, saying it is not available yet, and reaches no
//! level; a form asking for it anyway is answered "not yet available".

pub(crate) mod card;
mod finish;
mod sandbox;

pub(crate) use finish::{LoginContext, LoginRefusal, finish_login, pending_for_browser};

use crate::St;
use crate::authorize::validate_request;
use crate::error::{ProviderError, realm_or_404};
use crate::state::{AppState, RealmRt};
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use coeur_oauth::acr::Acr;
use coeur_oauth::authorize::{self, AuthorizationRequest, Params};
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::{AuthMethod, Realm};
use coeur_web::{Lang, form_pairs, page, page_lang};
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unavailable {
    /// Shown on the wallet page.
    pub message: &'static str,
    /// The status of that page.
    pub status: StatusCode,
}

/// A submission of the wallet form, handed to the method the user chose.
pub(crate) struct WalletSubmission<'a> {
    /// The login it continues.
    pub login: LoginContext<'a>,
    /// The national identifier as typed (trimmed; possibly empty).
    pub typed_national_id: &'a str,
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

/// The login methods this provider implements; e-CPS and FranceConnect join here.
static METHODS: &[&dyn LoginMethod] = &[&card::CardLogin, &sandbox::TestLogin];

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
fn unmet_text(lang: Lang, acr: Acr, stuck: bool) -> (String, &'static str) {
    match (lang, stuck) {
        (Lang::Fr, true) => (
            format!(
                "Aucun des moyens de connexion proposés ici n'atteint le niveau d'authentification qu'exige l'application ({acr}) : vous ne pouvez pas vous y connecter depuis cette page."
            ),
            "Retour à l'application",
        ),
        (Lang::Fr, false) => (
            format!(
                "L'application exige le niveau d'authentification {acr} : seuls les moyens de connexion actifs ci-dessus l'atteignent."
            ),
            "Je n'en ai aucun : retour à l'application",
        ),
        (Lang::En, true) => (
            format!(
                "None of the login methods offered here reaches the authentication level the application requires ({acr}): you cannot log in to it from this page."
            ),
            "Back to the application",
        ),
        (Lang::En, false) => (
            format!(
                "The application requires authentication level {acr}: only the login methods enabled above reach it."
            ),
            "I have none of them: back to the application",
        ),
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
    lang: Lang,
) -> Vec<minijinja::Value> {
    let (too_weak, not_here) = match lang {
        Lang::Fr => (
            "Niveau d'authentification insuffisant pour cette application.",
            "Pas encore disponible sur ce serveur.",
        ),
        Lang::En => (
            "Authentication level too low for this application.",
            "Not available on this server yet.",
        ),
    };
    let mut shown: Vec<(AuthMethod, Option<&str>)> = offered
        .iter()
        .map(|(m, acr)| {
            (
                *m,
                (!authorize::method_meets(req, *acr)).then_some(too_weak),
            )
        })
        .collect();
    shown.extend(
        rt.realm
            .auth_methods
            .iter()
            .filter(|m| registered(**m).is_none())
            .map(|m| (*m, Some(not_here))),
    );
    let rank = |m: AuthMethod| match m {
        AuthMethod::Test => 0,
        AuthMethod::Ecps => 1,
        AuthMethod::Card => 2,
        AuthMethod::Franceconnect => 3,
    };
    // Stable: enabled first, then by rank.
    shown.sort_by_key(|(m, why)| (why.is_some(), rank(*m)));
    shown
        .into_iter()
        .map(|(m, why)| {
            minijinja::context! { value => m.as_str(), label => m.label(), enabled => why.is_none(), why }
        })
        .collect()
}

/// The wallet page: the realm's login methods, those below the level the client asks for
/// disabled; when the client asks for a level some cannot reach, why, and a way back to the
/// application (`unmet_authentication_requirements`).
pub(crate) fn wallet_page(
    rt: &RealmRt,
    req: &AuthorizationRequest,
    request_id: &str,
    national_id: &str,
    error: Option<&str>,
    status: StatusCode,
    lang: Lang,
) -> Response {
    let offered = offered(rt);
    let methods = buttons(rt, req, &offered, lang);
    let levels: Vec<Acr> = offered.iter().map(|(_, a)| *a).collect();
    let back = req
        .acr_min
        .filter(|_| authorize::unmet_requirements(req, &levels).is_some())
        .map(|acr| {
            let stuck = !levels.iter().any(|a| *a >= acr);
            let (text, label) = unmet_text(lang, acr, stuck);
            minijinja::context! { lang => lang.tag(), text, label, stuck }
        });
    page(
        status,
        "wallet.html",
        minijinja::context! {
            realm => rt.realm.display_name,
            sandbox => rt.realm.sandbox,
            client_id => req.client_id,
            action => format!("/auth/realms/{}/protocol/openid-connect/auth/login", rt.realm.name),
            request_id,
            national_id,
            error,
            methods,
            back,
            lang => lang.tag(),
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
) -> Result<&'static dyn LoginMethod, (&'static str, StatusCode)> {
    let parsed = form.get("method").and_then(AuthMethod::parse);
    // Checked before the realm's list: a production realm refuses test logins plainly,
    // whatever the form says.
    if let Some(Err(u)) = parsed.and_then(registered).map(|l| l.available_in(realm)) {
        return Err((u.message, u.status));
    }
    let method = match parsed {
        Some(m) if realm.auth_methods.contains(&m) => m,
        _ => {
            return Err((
                "Ce moyen de connexion n'est pas proposé ici.",
                StatusCode::BAD_REQUEST,
            ));
        }
    };
    registered(method).ok_or((
        "Ce moyen de connexion n'est pas encore disponible sur ce serveur.",
        StatusCode::NOT_IMPLEMENTED,
    ))
}

/// The wallet form: `request_id`, `national_id`, `method`.
pub(crate) async fn wallet_login(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let form = Params::from_pairs(form_pairs(&body));
    let now = st.now();
    let expired = || {
        ProviderError::page(
            StatusCode::BAD_REQUEST,
            "Page expirée",
            "This login page has expired or was already used. Go back to the application and start again.",
        )
    };
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
    let again = |msg: &str, status: StatusCode| {
        wallet_page(&rt, &req, request_id, &typed, Some(msg), status, lang)
    };
    if form.get("unmet").is_some() {
        return match give_up(&st, &rt, &req, &pending_hash, expired).await? {
            Some(back) => Ok(back),
            None => Ok(again(
                "L'application n'exige aucun niveau hors de portée : choisissez un moyen de connexion.",
                StatusCode::BAD_REQUEST,
            )),
        };
    }
    let login = match chosen_method(&rt.realm, &form) {
        Ok(l) => l,
        Err((msg, status)) => return Ok(again(msg, status)),
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
    };
    match login.start(submission).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status)) => Ok(again(&m, status)),
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

    fn chosen(realm: &Realm, method: &str) -> Result<AuthMethod, (&'static str, StatusCode)> {
        chosen_method(realm, &form(method)).map(|l| l.method())
    }

    #[test]
    fn the_table_backs_card_and_test_only() {
        assert!(registered(AuthMethod::Card).is_some());
        assert!(registered(AuthMethod::Test).is_some());
        assert!(registered(AuthMethod::Ecps).is_none());
        assert!(registered(AuthMethod::Franceconnect).is_none());
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
        assert!(message.contains("bac à sable"));
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
            assert!(message.contains("pas proposé"), "{m}");
        }
    }

    #[test]
    fn listed_but_unimplemented_methods_are_not_yet_available() {
        let r = realm(true, "\"ecps\", \"franceconnect\", \"test\"");
        for m in ["ecps", "franceconnect"] {
            let (message, status) = chosen(&r, m).unwrap_err();
            assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{m}");
            assert!(message.contains("pas encore disponible"), "{m}");
        }
    }
}
