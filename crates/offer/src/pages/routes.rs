//! The pages' routes: home (the login button, or the professional's structures), the login
//! and its callback, a location's capacity form and its post (confirmation, conflict, errors,
//! refusal), its history, a region's dashboard, the logout and the page after it. Pages are
//! answered as templates that `coeur-web`'s `render_pages` layer renders in the request's
//! language (`ui_locales`, else `Accept-Language`; French by default); the pages showing the
//! value sets' labels are rendered in the language their handler read, the labels' too.

use super::dashboard::{HEIGHT, WIDTH, available_by_type, svg_body};
use super::form::{Row, patch_of, read_form, rows_of, version_of};
use super::view::{
    capacities_view, history_view, location_view, options, regions_of, structures_view,
};
use super::{
    CALLBACK, DASHBOARD_DAYS, HOME, LOCATIONS, LOGGED_OUT, LOGIN, LOGIN_SCOPES, LOGIN_SECS, LOGOUT,
    Pages, REGION, SESSION_SECS,
};
use crate::authz::{Editor, Refused};
use crate::codes::{CAPACITY_STATUS, CAPACITY_TYPE, REGION as REGIONS};
use crate::edit::{Edited, TiesUnknown, authorise, edit_capacities, structures_of};
use crate::model::LocationRecord;
use crate::patch::{PatchError, apply};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use coeur_common::random::token;
use coeur_rp::sealed::SealError;
use coeur_rp::session::{CsrfChecked, Session, national_id};
use coeur_web::i18n::Text;
use coeur_web::{Lang, error_page, localized_page, page, request_lang, see_other};
use std::collections::HashMap;
use std::sync::Arc;

type St = State<Arc<Pages>>;

/// The pages' routes (merge them with the FHIR API's).
pub fn router(pages: Arc<Pages>) -> axum::Router {
    axum::Router::new()
        .route(HOME, get(home))
        .route(LOGIN, get(login))
        .route(CALLBACK, get(callback))
        .route(&format!("{LOCATIONS}/{{id}}"), get(location).post(save))
        .route(&format!("{LOCATIONS}/{{id}}/historique"), get(history))
        .route(&format!("{REGION}/{{code}}"), get(region))
        .route(LOGOUT, post(logout))
        .route(LOGGED_OUT, get(logged_out))
        .with_state(pages)
}

fn failure(status: StatusCode, message: Text, detail: Option<&str>) -> Response {
    error_page(status, &Text::new("offer.error.title"), &message, detail)
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "offer pages");
    failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        Text::new("offer.error.internal"),
        None,
    )
}

fn provider_unavailable(e: anyhow::Error) -> Response {
    tracing::warn!(error = %format!("{e:#}"), "offer pages: the provider");
    failure(
        StatusCode::BAD_GATEWAY,
        Text::new("offer.error.provider"),
        None,
    )
}

fn directory_down(e: &anyhow::Error) -> Response {
    tracing::warn!(error = %format!("{e:#}"), "offer pages: the directory could not be asked");
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        Text::new("offer.error.directory"),
        None,
    )
}

fn refused(why: Refused) -> Response {
    let message = match why {
        Refused::NotTheirStructure => Text::new("offer.error.not_theirs"),
        Refused::Scope => Text::new("offer.error.scope"),
    };
    failure(StatusCode::FORBIDDEN, message, None)
}

fn not_found() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        Text::new("offer.error.not_found"),
        None,
    )
}

fn start_again(detail: &str) -> Response {
    failure(
        StatusCode::BAD_REQUEST,
        Text::new("offer.error.login"),
        Some(detail),
    )
}

/// A cookie that could not be sealed: too large for a browser (an ID token of several
/// kilobytes), or (not expected) a failure of the cipher.
fn unsealable(e: SealError) -> Response {
    tracing::error!(error = %e, "offer pages: the cookie");
    let message = match e {
        SealError::TooLarge(_) => Text::new("offer.error.too_large"),
        SealError::Key | SealError::Seal => Text::new("offer.error.internal"),
    };
    failure(StatusCode::INTERNAL_SERVER_ERROR, message, None)
}

fn forbidden_post() -> Response {
    failure(StatusCode::FORBIDDEN, Text::new("offer.error.csrf"), None)
}

impl Pages {
    fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        coeur_web::set_cookie(name, value, &self.path(HOME), Some(max_age), self.secure)
    }

    /// The unexpired session of the request's cookie.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let sealed = coeur_web::cookie(headers, self.cookies.session_name())?;
        self.cookies.open_session(&sealed, self.offer.clock.now())
    }

    async fn rp(&self) -> anyhow::Result<Arc<coeur_rp::RelyingParty>> {
        self.rp
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("discovering {}: {e}", self.config.issuer))
    }

    fn location_path(&self, id: &str) -> String {
        self.path(&format!("{LOCATIONS}/{id}"))
    }

    /// The form page of `l` in `lang`: its capacities as `rows` (with their problems), a
    /// banner for `notice` (saved, conflict, not saved).
    fn form_page(
        &self,
        status: StatusCode,
        lang: Lang,
        session: &Session,
        l: &LocationRecord,
        rows: &[Row],
        notice: Notice,
    ) -> Response {
        let services = [];
        let problems: Vec<minijinja::Value> = rows
            .iter()
            .flat_map(|r| {
                [
                    (format!("type-{}", r.index), r.type_problem),
                    (format!("status-{}", r.index), r.status_problem),
                    (format!("nb-{}", r.index), r.nb_problem),
                ]
            })
            .filter_map(|(field, p)| {
                p.map(|p| minijinja::context! { field, message => p.message() })
            })
            .collect();
        let rows: Vec<minijinja::Value> = rows
            .iter()
            .map(|r| {
                minijinja::context! {
                    index => r.index,
                    capacity_type => r.capacity_type.clone(),
                    status => r.status.clone(),
                    nb => r.nb.clone(),
                    type_problem => r.type_problem.map(|p| p.message()),
                    status_problem => r.status_problem.map(|p| p.message()),
                    nb_problem => r.nb_problem.map(|p| p.message()),
                }
            })
            .collect();
        let (saved, conflict, not_saved) = match notice {
            Notice::None => (false, false, false),
            Notice::Saved => (true, false, false),
            Notice::Conflict => (false, true, false),
            Notice::NotSaved => (false, false, true),
        };
        page(
            status,
            "offer_location.html",
            lang,
            minijinja::context! {
                location => minijinja::Value::from_serialize(location_view(l, &services, lang)),
                current => minijinja::Value::from_serialize(capacities_view(&l.capacities, lang)),
                rows, problems, saved, conflict, not_saved,
                types => options(&CAPACITY_TYPE, lang),
                statuses => options(&CAPACITY_STATUS, lang),
                action => self.location_path(&l.id),
                history_url => self.path(&format!("{LOCATIONS}/{}/historique", l.id)),
                home_url => self.path(HOME),
                csrf => session.csrf.clone(),
                logout_action => self.path(LOGOUT),
            },
        )
    }
}

/// The banner of a form page.
#[derive(Debug, Clone, Copy)]
enum Notice {
    None,
    Saved,
    Conflict,
    NotSaved,
}

fn editor(session: &Session) -> Editor {
    Editor::Professional {
        national_id: session.national_id.clone(),
    }
}

fn login_page(p: &Pages, logged_out: bool) -> Response {
    localized_page(
        StatusCode::OK,
        "offer_login.html",
        minijinja::context! { login_url => p.path(LOGIN), logged_out },
    )
}

/// Home: the structures of a logged-in professional, else the login button.
async fn home(State(p): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let Some(session) = p.session(&headers) else {
        return login_page(&p, false);
    };
    let lang = request_lang(&headers, q.as_deref());
    let o = &p.offer;
    let ties = match structures_of(o, &editor(&session)).await {
        Ok(t) => t,
        Err(TiesUnknown::Directory(e)) => return directory_down(&e),
        Err(TiesUnknown::Store(e)) => return internal(e),
    };
    let listed = async {
        let locations = o.store.locations_of(&ties).await?;
        let ids: Vec<String> = locations.iter().map(|l| l.id.clone()).collect();
        let services = o.store.services_at(&ids).await?;
        anyhow::Ok(structures_view(&ties, &locations, &services, lang))
    };
    let structures = match listed.await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let regions: Vec<minijinja::Value> = regions_of(&structures)
        .into_iter()
        .map(|(code, name)| {
            minijinja::context! { url => p.path(&format!("{REGION}/{code}")), name }
        })
        .collect();
    page(
        StatusCode::OK,
        "offer_structures.html",
        lang,
        minijinja::context! {
            structures => minijinja::Value::from_serialize(&structures),
            regions,
            national_id => session.national_id.clone(),
            locations_url => p.path(LOCATIONS),
            csrf => session.csrf.clone(),
            logout_action => p.path(LOGOUT),
        },
    )
}

/// Starts a login: to the provider's authorization endpoint, in the page's language.
async fn login(State(p): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let rp = match p.rp().await {
        Ok(rp) => rp,
        Err(e) => return provider_unavailable(e),
    };
    let lang = request_lang(&headers, q.as_deref());
    let (url, pending) = match rp.authorize_url(&LOGIN_SCOPES, &[("ui_locales", lang.tag())]) {
        Ok(x) => x,
        Err(e) => return internal(e.into()),
    };
    let sealed = match p
        .cookies
        .seal_login(&pending, p.offer.clock.now() + LOGIN_SECS, &*p.random)
    {
        Ok(v) => v,
        Err(e) => return unsealable(e),
    };
    see_other(
        url.as_str(),
        &[p.cookie(p.cookies.login_name(), &sealed, LOGIN_SECS)],
    )
}

/// The provider's answer: the code redeemed, the ID token checked, the session opened.
/// Whatever the outcome, the login cookie is cleared.
async fn callback(State(p): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let mut r = finish_login(&p, &headers, q.as_deref()).await;
    r.headers_mut()
        .append(header::SET_COOKIE, p.cookie(p.cookies.login_name(), "", 0));
    r
}

async fn finish_login(p: &Pages, headers: &HeaderMap, q: Option<&str>) -> Response {
    let params: HashMap<String, String> = coeur_web::query_pairs(q).into_iter().collect();
    let get = |k: &str| params.get(k).map(String::as_str);
    let Some(state) = get("state") else {
        return start_again("no state");
    };
    // The login must be the one this browser started (no login forced from elsewhere), and
    // unexpired: its sealed cookie, opened at whichever instance took the callback.
    let Some(sealed) = coeur_web::cookie(headers, p.cookies.login_name()) else {
        return start_again("no login in progress in this browser");
    };
    let now = p.offer.clock.now();
    let Some(pending) = p.cookies.open_login(&sealed, state, now) else {
        return start_again("the state is not this browser's login, or it expired");
    };
    if let Some(error) = get("error") {
        return failure(
            StatusCode::FORBIDDEN,
            Text::new("offer.error.refused"),
            Some(error),
        );
    }
    let rp = match p.rp().await {
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
    // Granted scopes; a token answer without `scope` grants what was asked (RFC 6749 §5.1).
    let scope = login
        .scopes
        .clone()
        .unwrap_or_else(|| LOGIN_SCOPES.map(str::to_owned).to_vec())
        .join(" ");
    let session = Session {
        national_id: id,
        id_token: login.id_token,
        scope,
        csrf: token(&*p.random),
        expires: now + SESSION_SECS,
    };
    let sealed = match p.cookies.seal_session(&session, &*p.random) {
        Ok(v) => v,
        Err(e) => return unsealable(e),
    };
    tracing::info!("a professional logged in to the offer's pages");
    see_other(
        &p.url(HOME),
        &[p.cookie(p.cookies.session_name(), &sealed, SESSION_SECS)],
    )
}

/// A location's form, for an editor of its structure; `?enregistre=N`: after the change to
/// version N (the confirmation).
async fn location(
    State(p): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(session) = p.session(&headers) else {
        return login_page(&p, false);
    };
    let o = &p.offer;
    let l = match o.store.location(&id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    match authorise(o, &editor(&session), &session.scope, &l).await {
        Ok(Ok(_)) => {}
        Ok(Err(Edited::Refused(why))) => return refused(why),
        Ok(Err(Edited::DirectoryDown(e))) => return directory_down(&e),
        Ok(Err(_)) => return not_found(),
        Err(e) => return internal(e),
    }
    let saved = coeur_web::query_pairs(q.as_deref())
        .iter()
        .any(|(k, v)| k == "enregistre" && v.parse::<i64>().is_ok_and(|v| v == l.version));
    let notice = if saved { Notice::Saved } else { Notice::None };
    p.form_page(
        StatusCode::OK,
        request_lang(&headers, q.as_deref()),
        &session,
        &l,
        &rows_of(&l.capacities),
        notice,
    )
}

/// The form's post: checked (session, CSRF), then the one write path: authorised, the form's
/// version current, every field valid, written whole or not at all.
async fn save(
    State(p): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let Some(session) = p.session(&headers) else {
        return login_page(&p, false);
    };
    let form = coeur_web::form_pairs(&body);
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    let Some(checked) = session.check_csrf(csrf) else {
        return forbidden_post();
    };
    let Some(version) = version_of(&form) else {
        return failure(
            StatusCode::BAD_REQUEST,
            Text::new("offer.error.malformed"),
            Some("no version"),
        );
    };
    let lang = request_lang(&headers, q.as_deref());
    change(&p, &checked, lang, &id, version, &form).await
}

/// Changes the capacities of `id` as the checked post asks; the form again in `lang` when
/// it is not saved.
async fn change(
    p: &Pages,
    checked: &CsrfChecked<'_>,
    lang: Lang,
    id: &str,
    version: i64,
    form: &[(String, String)],
) -> Response {
    let session = checked.session();
    let o = &p.offer;
    let now = o.clock.now();
    let mut problems = None;
    let edited = edit_capacities(
        o,
        &editor(session),
        &session.scope,
        id,
        Some(version),
        |current| match read_form(&current.capacities, form, now) {
            Ok(caps) => apply(&current.resource(), &patch_of(&caps)),
            Err(rows) => {
                problems = Some(rows);
                Err(PatchError::Unprocessable("the form has errors".into()))
            }
        },
    )
    .await;
    match edited {
        Ok(Edited::Done(l)) => see_other(
            &format!(
                "{}?enregistre={}",
                p.url(&format!("{LOCATIONS}/{id}")),
                l.version
            ),
            &[],
        ),
        Ok(Edited::Stale(l)) => p.form_page(
            StatusCode::CONFLICT,
            lang,
            session,
            &l,
            &rows_of(&l.capacities),
            Notice::Conflict,
        ),
        Ok(Edited::Invalid(e)) => match (problems, o.store.location(id).await) {
            (Some(rows), Ok(Some(l))) => p.form_page(
                StatusCode::BAD_REQUEST,
                lang,
                session,
                &l,
                &rows,
                Notice::NotSaved,
            ),
            (_, Err(e)) => internal(e),
            _ => failure(
                StatusCode::BAD_REQUEST,
                Text::new("offer.error.malformed"),
                Some(e.diagnostics()),
            ),
        },
        Ok(Edited::Missing) => not_found(),
        Ok(Edited::Refused(why)) => refused(why),
        Ok(Edited::DirectoryDown(e)) => directory_down(&e),
        Err(e) => internal(e),
    }
}

/// The history of a location's capacities, for an editor of its structure.
async fn history(
    State(p): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(session) = p.session(&headers) else {
        return login_page(&p, false);
    };
    let o = &p.offer;
    let l = match o.store.location(&id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    match authorise(o, &editor(&session), &session.scope, &l).await {
        Ok(Ok(_)) => {}
        Ok(Err(Edited::Refused(why))) => return refused(why),
        Ok(Err(Edited::DirectoryDown(e))) => return directory_down(&e),
        Ok(Err(_)) => return not_found(),
        Err(e) => return internal(e),
    }
    let entries = match o.store.history(&id).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let lang = request_lang(&headers, q.as_deref());
    page(
        StatusCode::OK,
        "offer_history.html",
        lang,
        minijinja::context! {
            location => minijinja::Value::from_serialize(location_view(&l, &[], lang)),
            rows => minijinja::Value::from_serialize(history_view(&entries, lang)),
            form_url => p.location_path(&l.id),
            home_url => p.path(HOME),
            csrf => session.csrf.clone(),
            logout_action => p.path(LOGOUT),
        },
    )
}

/// A region's dashboard: available capacities by type over the last days, for any logged-in
/// professional.
async fn region(
    State(p): St,
    Path(code): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(session) = p.session(&headers) else {
        return login_page(&p, false);
    };
    let lang = request_lang(&headers, q.as_deref());
    let Some(name) = REGIONS.label_in(&code, lang) else {
        return not_found();
    };
    let o = &p.offer;
    let now = o.clock.now();
    let end_of_today = (now.div_euclid(86_400) + 1) * 86_400;
    let history = match o.store.region_history(&code, end_of_today).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let chart = available_by_type(&history, now, DASHBOARD_DAYS, lang);
    let table: Vec<minijinja::Value> = chart
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let values: Vec<u64> = chart
                .series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .collect();
            minijinja::context! { day => d.clone(), values }
        })
        .collect();
    page(
        StatusCode::OK,
        "offer_region.html",
        lang,
        minijinja::context! {
            code, name,
            days => DASHBOARD_DAYS,
            width => WIDTH, height => HEIGHT,
            svg => svg_body(&chart),
            series => minijinja::Value::from_serialize(&chart.series),
            table,
            first => chart.days.first().cloned().unwrap_or_default(),
            last => chart.days.last().cloned().unwrap_or_default(),
            home_url => p.path(HOME),
            csrf => session.csrf.clone(),
            logout_action => p.path(LOGOUT),
        },
    )
}

/// Ends the local session (its cookie cleared) and sends the browser to the provider's
/// logout, which comes back to the page after it.
async fn logout(State(p): St, headers: HeaderMap, body: Bytes) -> Response {
    let Some(session) = p.session(&headers) else {
        return see_other(&p.url(LOGGED_OUT), &[]);
    };
    let form = coeur_web::form_pairs(&body);
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if session.check_csrf(csrf).is_none() {
        return forbidden_post();
    }
    let clear = p.cookie(p.cookies.session_name(), "", 0);
    let end_session = match p.rp().await {
        Ok(rp) => rp.end_session_endpoint().cloned(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "logout: the provider");
            None
        }
    };
    let Some(mut url) = end_session else {
        return see_other(&p.url(LOGGED_OUT), &[clear]);
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", &session.id_token)
        .append_pair(
            "post_logout_redirect_uri",
            &super::post_logout_redirect_uri(&p.config.public_url),
        )
        .append_pair("client_id", &p.config.client_id);
    see_other(url.as_str(), &[clear])
}

/// After the logout at the provider.
async fn logged_out(State(p): St) -> Response {
    login_page(&p, true)
}
