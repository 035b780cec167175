//! The space's routes: its home page (the login button, or the professional's record and
//! contact form), the login and its callback, the contact form's post, the logout and the
//! page after it. Pages are answered as templates that `coeur-web`'s `render_pages` layer
//! renders in the request's language.

use super::contact::{Contact, ContactError, FormErrors, check_form};
use super::session::{CsrfChecked, Session};
use super::store::{Saved, contact, set_contact};
use super::view::{RecordView, record_view};
use super::{
    CALLBACK, CONTACT, HOME, LOGGED_OUT, LOGIN, LOGIN_SECS, LOGOUT, SESSION_SECS, Space,
    national_id,
};
use crate::record::{Record, RecordKind};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use coeur_common::random::token;
use coeur_rp::sealed::SealError;
use coeur_web::i18n::Text;
use coeur_web::{error_page, localized_page, request_lang, see_other};
use std::collections::HashMap;
use std::sync::Arc;

type St = State<Arc<Space>>;

/// The space's routes (merge them with the FHIR API's).
pub fn router(space: Arc<Space>) -> axum::Router {
    axum::Router::new()
        .route(HOME, get(home))
        .route(LOGIN, get(login))
        .route(CALLBACK, get(callback))
        .route(CONTACT, post(save_contact))
        .route(LOGOUT, post(logout))
        .route(LOGGED_OUT, get(logged_out))
        .with_state(space)
}

impl Space {
    fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        coeur_web::set_cookie(name, value, &self.path(HOME), Some(max_age), self.secure)
    }

    /// The unexpired session of the request's cookie.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let sealed = coeur_web::cookie(headers, self.cookies.session_name())?;
        self.cookies.open_session(&sealed, self.clock.now())
    }

    /// The professional's records as the page shows them; `None` when not in the directory.
    async fn view(&self, key: &str) -> anyhow::Result<Option<RecordView>> {
        let Some(p) = self.store.get(RecordKind::Practitioner, key).await? else {
            return Ok(None);
        };
        if !p.active {
            return Ok(None);
        }
        let prefix = format!("{key}|");
        let active = |v: Vec<crate::store::StoredRecord>| -> Vec<Record> {
            v.into_iter()
                .filter(|s| s.active)
                .map(|s| s.record)
                .collect()
        };
        let roles = active(
            self.store
                .with_key_prefix(RecordKind::PractitionerRole, &prefix)
                .await?,
        );
        let qualifications = active(
            self.store
                .with_key_prefix(RecordKind::Qualification, &prefix)
                .await?,
        );
        let diplomas = active(
            self.store
                .with_key_prefix(RecordKind::Diploma, &prefix)
                .await?,
        );
        let mut establishments = HashMap::new();
        for r in &roles {
            let finess = r.get("Numéro FINESS site");
            if !finess.is_empty()
                && !establishments.contains_key(finess)
                && let Some(o) = self.store.get(RecordKind::Establishment, finess).await?
            {
                establishments.insert(finess.to_owned(), o.record);
            }
        }
        let c = contact(&self.store, key).await?;
        Ok(Some(record_view(
            &p.record,
            &roles,
            &qualifications,
            &diplomas,
            &establishments,
            c.as_ref(),
        )))
    }

    /// The record page of `session`, with the contact form as typed and its errors.
    async fn record_page(
        &self,
        status: StatusCode,
        session: &Session,
        typed: Option<(&str, &str)>,
        errors: &FormErrors,
        saved: bool,
    ) -> Response {
        let view = match self.view(&session.national_id).await {
            Ok(Some(v)) => v,
            Ok(None) => return not_in_directory(),
            Err(e) => return internal(e),
        };
        let (email, phone) = match typed {
            Some((e, p)) => (e.to_owned(), p.to_owned()),
            None => (
                view.email.clone().unwrap_or_default(),
                view.phone.clone().unwrap_or_default(),
            ),
        };
        localized_page(
            status,
            "space.html",
            minijinja::context! {
                record => minijinja::Value::from_serialize(&view),
                csrf => session.csrf.clone(),
                contact_action => self.path(CONTACT),
                logout_action => self.path(LOGOUT),
                email, phone, saved,
                email_error => errors.email.map(error_text),
                phone_error => errors.phone.map(error_text),
            },
        )
    }
}

/// The message beside a refused field.
fn error_text(e: ContactError) -> Text {
    match e {
        ContactError::BadEmail => Text::new("space.contact.bad_email"),
        ContactError::BadPhone => Text::new("space.contact.bad_phone"),
    }
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "professionals' space");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        &Text::new("space.error.title"),
        &Text::new("space.error.internal"),
        None,
    )
}

fn not_in_directory() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        &Text::new("space.error.title"),
        &Text::new("space.error.unknown"),
        None,
    )
}

fn provider_unavailable(e: anyhow::Error) -> Response {
    tracing::warn!(error = %format!("{e:#}"), "professionals' space: the provider");
    error_page(
        StatusCode::BAD_GATEWAY,
        &Text::new("space.error.title"),
        &Text::new("space.error.provider"),
        None,
    )
}

/// A cookie that could not be sealed: too large for a browser (an ID token of several
/// kilobytes), or (not expected) a failure of the cipher.
fn unsealable(e: SealError) -> Response {
    tracing::error!(error = %e, "professionals' space: the cookie");
    let message = match e {
        SealError::TooLarge(_) => Text::new("space.error.too_large"),
        SealError::Key | SealError::Seal => Text::new("space.error.internal"),
    };
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        &Text::new("space.error.title"),
        &message,
        None,
    )
}

fn start_again(detail: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        &Text::new("space.error.title"),
        &Text::new("space.error.login"),
        Some(detail),
    )
}

/// The home page: the record of a logged-in professional, else the login button.
async fn home(State(s): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let Some(session) = s.session(&headers) else {
        return login_page(&s, false);
    };
    let saved = coeur_web::query_pairs(q.as_deref())
        .iter()
        .any(|(k, v)| k == "enregistre" && v == "1");
    s.record_page(
        StatusCode::OK,
        &session,
        None,
        &FormErrors::default(),
        saved,
    )
    .await
}

fn login_page(s: &Space, logged_out: bool) -> Response {
    localized_page(
        StatusCode::OK,
        "space_login.html",
        minijinja::context! { login_url => s.path(LOGIN), logged_out },
    )
}

/// Starts a login: to the provider's authorization endpoint, in the page's language.
async fn login(State(s): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let rp = match s.rp().await {
        Ok(rp) => rp,
        Err(e) => return provider_unavailable(e),
    };
    let lang = request_lang(&headers, q.as_deref());
    let (url, pending) = match rp.authorize_url(&["scope_all"], &[("ui_locales", lang.tag())]) {
        Ok(x) => x,
        Err(e) => return internal(e.into()),
    };
    let sealed = match s
        .cookies
        .seal_login(&pending, s.clock.now() + LOGIN_SECS, &*s.random)
    {
        Ok(v) => v,
        Err(e) => return unsealable(e),
    };
    see_other(
        url.as_str(),
        &[s.cookie(s.cookies.login_name(), &sealed, LOGIN_SECS)],
    )
}

/// The provider's answer: the code redeemed, the ID token checked, the professional found by
/// national id, the session opened.
/// Whatever the outcome, the login cookie is cleared.
async fn callback(State(s): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let mut r = finish_login(&s, &headers, q.as_deref()).await;
    r.headers_mut()
        .append(header::SET_COOKIE, s.cookie(s.cookies.login_name(), "", 0));
    r
}

async fn finish_login(s: &Space, headers: &HeaderMap, q: Option<&str>) -> Response {
    let params: HashMap<String, String> = coeur_web::query_pairs(q).into_iter().collect();
    let get = |k: &str| params.get(k).map(String::as_str);
    let Some(state) = get("state") else {
        return start_again("no state");
    };
    // The login must be the one this browser started (no login forced from elsewhere), and
    // unexpired: its sealed cookie, opened at whichever instance took the callback.
    let Some(sealed) = coeur_web::cookie(headers, s.cookies.login_name()) else {
        return start_again("no login in progress in this browser");
    };
    let Some(pending) = s.cookies.open_login(&sealed, state, s.clock.now()) else {
        return start_again("the state is not this browser's login, or it expired");
    };
    if let Some(error) = get("error") {
        return error_page(
            StatusCode::FORBIDDEN,
            &Text::new("space.error.title"),
            &Text::new("space.error.refused"),
            Some(error),
        );
    }
    let rp = match s.rp().await {
        Ok(rp) => rp,
        Err(e) => return provider_unavailable(e),
    };
    if rp.check_callback_issuer(get("iss")).is_err() {
        return start_again("the iss parameter is not the provider's");
    }
    let Some(code) = get("code") else {
        return start_again("no code");
    };
    let login = match rp.exchange(code, pending).await {
        Ok(l) => l,
        Err(e) => return provider_unavailable(anyhow::anyhow!("code exchange: {e}")),
    };
    let userinfo = match rp.userinfo_for(&login).await {
        Ok(u) => u,
        Err(e) => return provider_unavailable(anyhow::anyhow!("userinfo: {e}")),
    };
    let extra = serde_json::Value::Object(login.claims.extra.clone());
    let Some(id) = national_id(&login.claims.sub, &extra, &userinfo) else {
        return start_again("no national id in the provider's answer");
    };
    match s.store.get(RecordKind::Practitioner, &id).await {
        Ok(Some(p)) if p.active => {}
        Ok(_) => return not_in_directory(),
        Err(e) => return internal(e),
    }
    let now = s.clock.now();
    let session = Session {
        national_id: id,
        scope: login.scopes.clone().unwrap_or_default().join(" "),
        id_token: login.id_token,
        csrf: token(&*s.random),
        expires: now + SESSION_SECS,
    };
    let sealed = match s.cookies.seal_session(&session, &*s.random) {
        Ok(v) => v,
        Err(e) => return unsealable(e),
    };
    tracing::info!("a professional logged in to their space");
    see_other(
        &s.url(HOME),
        &[s.cookie(s.cookies.session_name(), &sealed, SESSION_SECS)],
    )
}

fn forbidden_post() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        &Text::new("space.error.title"),
        &Text::new("space.error.csrf"),
        None,
    )
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The contact form: checked (CSRF, then each field); saved whole or not at all.
async fn save_contact(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let Some(session) = s.session(&headers) else {
        return login_page(&s, false);
    };
    let form = coeur_web::form_pairs(&body);
    let Some(checked) = session.check_csrf(field(&form, "csrf")) else {
        return forbidden_post();
    };
    let email = field(&form, "email").unwrap_or_default();
    let phone = field(&form, "phone").unwrap_or_default();
    match check_form(email, phone) {
        Err(errors) => {
            s.record_page(
                StatusCode::BAD_REQUEST,
                &session,
                Some((email, phone)),
                &errors,
                false,
            )
            .await
        }
        Ok(c) => match save(&s, &checked, &c).await {
            Ok(Saved::Changed | Saved::Unchanged) => {
                see_other(&format!("{}?enregistre=1", s.url(HOME)), &[])
            }
            Ok(Saved::NoPractitioner) => not_in_directory(),
            Err(e) => internal(e),
        },
    }
}

/// Saves the contact details of the professional whose form post was checked.
async fn save(s: &Space, checked: &CsrfChecked<'_>, c: &Contact) -> anyhow::Result<Saved> {
    let saved = set_contact(&s.store, &checked.session().national_id, c, s.clock.now()).await?;
    if saved == Saved::Changed {
        tracing::info!("a professional changed their contact details");
    }
    Ok(saved)
}

/// Ends the local session (its cookie cleared) and sends the browser to the provider's
/// logout, which comes back to the page after it.
async fn logout(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let Some(session) = s.session(&headers) else {
        return see_other(&s.url(LOGGED_OUT), &[]);
    };
    let form = coeur_web::form_pairs(&body);
    if session.check_csrf(field(&form, "csrf")).is_none() {
        return forbidden_post();
    }
    let clear = s.cookie(s.cookies.session_name(), "", 0);
    let end_session = match s.rp().await {
        Ok(rp) => rp.end_session_endpoint().cloned(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "logout: the provider");
            None
        }
    };
    let Some(mut url) = end_session else {
        return see_other(&s.url(LOGGED_OUT), &[clear]);
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", &session.id_token)
        .append_pair(
            "post_logout_redirect_uri",
            &super::post_logout_redirect_uri(&s.config.public_url),
        )
        .append_pair("client_id", &s.config.client_id);
    see_other(url.as_str(), &[clear])
}

/// After the logout at the provider.
async fn logged_out(State(s): St) -> Response {
    login_page(&s, true)
}
