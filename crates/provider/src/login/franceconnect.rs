//! Login through FranceConnect / FranceConnect+ (the realm's upstreams): the wallet sends the
//! browser upstream with `state`, `nonce`, PKCE and `acr_values`; the callback checks
//! everything before anything is stored (state of this browser's login, used once; `iss`;
//! the code redeemed; the ID token decrypted and verified by `coeur_oauth::upstream`; userinfo
//! of the same subject). A linked upstream identity logs its national id in; one seen for the
//! first time gets a pending link, proven by a card or e-CPS login in the same pending request
//! ([`after_login`]) or, where the upstream's `link_by_pivot_identity` allows it and its pivot
//! identity matches exactly one identity's record, confirmed by the person. coeur's logout also ends the upstream session ([`upstream_logout`]).

use super::{
    Listener, LoginContext, LoginMethod, LoginRefusal, Unavailable, WalletSubmission, finish_login,
    pending_for_browser,
};
use crate::St;
use crate::authorize::validate_request;
use crate::error::{ProviderError, realm_or_404};
use crate::state::{AppState, RealmRt};
use crate::store::UpstreamLoginRow;
use crate::upstream::{Discovered, UpstreamRt};
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use coeur_common::identity::NationalId;
use coeur_common::random::token as random_token;
use coeur_oauth::acr::Acr;
use coeur_oauth::authorize::{self, Params};
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::{AuthMethod, Realm};
use coeur_oauth::upstream::{
    self as core, Expected, LinkProven, PendingLink, UpstreamIdTokenVerified, UpstreamRefusal,
};
use coeur_web::{Text, query_pairs};
use futures_util::future::BoxFuture;
use std::sync::Arc;

#[path = "franceconnect_links.rs"]
mod links;

/// How long a login sent upstream may take (10 minutes).
const UPSTREAM_LOGIN_LIFETIME: i64 = 600;

/// Login through an upstream. In the table, `reached` is `None` (the level offered is the
/// best the realm's upstreams may give); a completed login carries the upstream's level.
pub(crate) struct FranceConnectLogin {
    reached: Option<Acr>,
}

/// The table's entry.
pub(crate) static FRANCECONNECT: FranceConnectLogin = FranceConnectLogin { reached: None };

/// The level a login through `spec`'s upstream reaches at most in `realm`.
fn level_of(realm: &Realm, asked: Acr) -> Acr {
    core::login_acr(asked, realm.acr.franceconnect)
}

impl LoginMethod for FranceConnectLogin {
    fn method(&self) -> AuthMethod {
        AuthMethod::Franceconnect
    }

    fn acr(&self, realm: &Realm) -> Acr {
        match self.reached {
            Some(a) => level_of(realm, a),
            None => realm
                .upstreams
                .iter()
                .map(|u| level_of(realm, u.acr_values))
                .max()
                .unwrap_or(Acr::Eidas1),
        }
    }

    fn available_in(&self, realm: &Realm) -> Result<(), Unavailable> {
        if realm.upstreams.is_empty() {
            return Err(Unavailable {
                message: Text::new("login.not_yet"),
                status: StatusCode::NOT_IMPLEMENTED,
            });
        }
        Ok(())
    }

    fn start<'a>(
        &'a self,
        form: WalletSubmission<'a>,
    ) -> BoxFuture<'a, Result<Response, LoginRefusal>> {
        Box::pin(async move { start(&form.login, form.upstream).await })
    }

    fn routes(&self, listener: Listener) -> Router<Arc<AppState>> {
        let fc = "/auth/realms/{realm}/franceconnect";
        match listener {
            Listener::Main => Router::new()
                .route(&format!("{fc}/callback"), get(callback))
                .route(&format!("{fc}/logout-return"), get(logout_return))
                .merge(links::routes(fc)),
            Listener::Card => Router::new(),
        }
    }
}

/// The upstream for this request: the one named (none if unknown), else the first whose
/// level meets the client's request, else the first.
fn choose<'a>(
    rt: &'a RealmRt,
    req: &authorize::AuthorizationRequest,
    named: Option<&str>,
) -> Option<&'a UpstreamRt> {
    if let Some(name) = named {
        return rt
            .upstreams
            .iter()
            .find(|u| u.spec.name == name)
            .map(|u| &**u);
    }
    rt.upstreams
        .iter()
        .find(|u| authorize::method_meets(req, level_of(&rt.realm, u.spec.acr_values)))
        .or_else(|| rt.upstreams.first())
        .map(|u| &**u)
}

/// The wallet page's buttons for the realm's upstreams (`upstream` = its name), each disabled
/// with its reason when its level is below the client's request.
pub(super) fn buttons(
    rt: &RealmRt,
    req: &authorize::AuthorizationRequest,
) -> Vec<minijinja::Value> {
    rt.upstreams
        .iter()
        .map(|u| {
            let meets = authorize::method_meets(req, level_of(&rt.realm, u.spec.acr_values));
            let why = (!meets).then(|| Text::new("wallet.why.too_weak"));
            minijinja::context! {
                field => "upstream",
                value => u.spec.name,
                label => Text::new("method.upstream").arg("name", &u.spec.display_name),
                enabled => meets,
                why,
            }
        })
        .collect()
}

fn callback_uri(st: &AppState, rt: &RealmRt) -> String {
    format!(
        "{}/auth/realms/{}/franceconnect/callback",
        st.urls.public_url, rt.realm.name
    )
}

/// The wallet chose FranceConnect: sends the browser upstream.
async fn start(cx: &LoginContext<'_>, named: Option<&str>) -> Result<Response, LoginRefusal> {
    let LoginContext { st, rt, req, .. } = *cx;
    let Some(up) = choose(rt, req, named) else {
        return Err(LoginRefusal::Message(
            Text::new("login.not_yet"),
            StatusCode::NOT_IMPLEMENTED,
        ));
    };
    if !authorize::method_meets(req, level_of(&rt.realm, up.spec.acr_values)) {
        return Err(LoginRefusal::Message(
            Text::new("login.too_weak"),
            StatusCode::BAD_REQUEST,
        ));
    }
    let d = up.discovered(cx.now).await.map_err(|e| {
        tracing::warn!(realm = %rt.realm.name, upstream = %up.spec.name, "upstream unavailable: {e:#}");
        LoginRefusal::Message(
            Text::new("fc.unavailable").arg("name", &up.spec.display_name),
            StatusCode::BAD_GATEWAY,
        )
    })?;
    let (state, nonce, verifier) = (
        random_token(&*st.rng),
        random_token(&*st.rng),
        random_token(&*st.rng),
    );
    let row = UpstreamLoginRow {
        realm: rt.realm.name.clone(),
        upstream: up.spec.name.clone(),
        pending_hash: cx.pending_hash.to_owned(),
        nonce: nonce.clone(),
        pkce_verifier: verifier.clone(),
        acr: up.spec.acr_values.as_str().to_owned(),
        expires_at: cx.now + UPSTREAM_LOGIN_LIFETIME,
    };
    st.store
        .put_upstream_login(&token_hash(&state), &row)
        .await?;
    let challenge = coeur_common::encoding::b64url(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    );
    let mut to = url::Url::parse(&d.authorization_endpoint)
        .map_err(|e| anyhow::anyhow!("upstream authorization endpoint: {e}"))?;
    to.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &up.spec.client_id)
        .append_pair("redirect_uri", &callback_uri(st, rt))
        .append_pair("scope", &up.spec.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("acr_values", up.spec.acr_values.as_str())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    tracing::info!(realm = %rt.realm.name, upstream = %up.spec.name, "login sent upstream");
    Ok(Redirect::to(to.as_str()).into_response())
}

/// A refused callback: a page saying what happened; nothing was stored.
fn refused(status: StatusCode, message: Text) -> ProviderError {
    ProviderError::page(status, Text::new("fc.title"), message)
}

/// Verifies the ID token, reading the upstream's keys again (once) on an unknown `kid`.
async fn verified_id_token(
    up: &UpstreamRt,
    d: Arc<Discovered>,
    token: &str,
    expected: &Expected<'_>,
) -> Result<(UpstreamIdTokenVerified, Arc<Discovered>), UpstreamRefusal> {
    match core::verify_id_token(token, &up.decryption, up.signature_keys(&d), expected) {
        Err(UpstreamRefusal::UnknownKey(kid)) => {
            let Ok(Some(fresh)) = up.refresh_keys(expected.now).await else {
                return Err(UpstreamRefusal::UnknownKey(kid));
            };
            let v =
                core::verify_id_token(token, &up.decryption, up.signature_keys(&fresh), expected)?;
            Ok((v, fresh))
        }
        other => other.map(|v| (v, d)),
    }
}

/// `GET …/franceconnect/callback`: the upstream's answer.
async fn callback(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let now = st.now();
    let expired = ProviderError::page_expired;
    let p = Params::from_pairs(query_pairs(q.as_deref()));
    let Some(state) = p.get("state").filter(|s| s.len() >= core::MIN_STATE_LEN) else {
        return Err(
            refused(StatusCode::BAD_REQUEST, Text::new("fc.refused")).with_detail("no state")
        );
    };
    let state_hash = token_hash(state);
    let Some(row) = st.store.upstream_login(&state_hash).await? else {
        return Err(expired().with_detail("unknown or used state"));
    };
    if row.realm != rt.realm.name || now >= row.expires_at {
        return Err(expired());
    }
    let Some(up) = rt.upstreams.iter().find(|u| u.spec.name == row.upstream) else {
        return Err(expired());
    };
    // Only the browser that started the login; then the state is spent, whatever follows.
    let params = pending_for_browser(&st, &rt, &row.pending_hash, &headers, now, expired).await?;
    if !st.store.consume_upstream_login(&state_hash, now).await? {
        return Err(expired().with_detail("state already used"));
    }
    if let Some(error) = p.get("error") {
        tracing::info!(realm = %rt.realm.name, upstream = %up.spec.name, error, "upstream login not completed");
        let key = if error == "access_denied" {
            Text::new("fc.denied")
        } else {
            Text::new("fc.refused")
        };
        return Err(
            refused(StatusCode::BAD_REQUEST, key).with_detail(format!("upstream error {error}"))
        );
    }
    if let Some(iss) = p.get("iss")
        && iss != up.spec.issuer
    {
        return Err(refused(StatusCode::BAD_REQUEST, Text::new("fc.refused"))
            .with_detail("the iss parameter is not the upstream's issuer"));
    }
    let Some(code) = p.get("code") else {
        return Err(
            refused(StatusCode::BAD_REQUEST, Text::new("fc.refused")).with_detail("no code")
        );
    };
    let down = |e: anyhow::Error| {
        tracing::warn!(realm = %rt.realm.name, upstream = %up.spec.name, "upstream unavailable: {e:#}");
        ProviderError::page(
            StatusCode::BAD_GATEWAY,
            Text::new("fc.title"),
            Text::new("fc.unavailable").arg("name", &up.spec.display_name),
        )
        .with_detail(format!("{e:#}"))
    };
    let d = up.discovered(now).await.map_err(down)?;
    let (id_token, access) = up
        .redeem(&d, code, &row.pkce_verifier, &callback_uri(&st, &rt))
        .await
        .map_err(down)?;
    let asked = Acr::parse(&row.acr).unwrap_or(up.spec.acr_values);
    let expected = Expected {
        issuer: &up.spec.issuer,
        client_id: &up.spec.client_id,
        nonce: &row.nonce,
        acr: asked,
        now,
        encrypted: up.spec.encrypted(),
    };
    let bad = |e: UpstreamRefusal| {
        tracing::warn!(realm = %rt.realm.name, upstream = %up.spec.name, "upstream answer refused: {e}");
        let key = if matches!(e, UpstreamRefusal::Acr(_)) {
            Text::new("fc.too_weak")
        } else {
            Text::new("fc.refused")
        };
        refused(StatusCode::BAD_REQUEST, key).with_detail(e.to_string())
    };
    let (id, d) = verified_id_token(up, d, &id_token, &expected)
        .await
        .map_err(bad)?;
    let (body, jwt) = up.userinfo(&d, &access).await.map_err(down)?;
    let info = core::check_userinfo(
        &body,
        jwt,
        &up.decryption,
        up.signature_keys(&d),
        &expected,
        &id,
    )
    .map_err(bad)?;

    let (req, _client) = validate_request(&st, &rt, &params).await?;
    let cx = LoginContext {
        st: &st,
        rt: &rt,
        req: &req,
        pending_hash: &row.pending_hash,
        headers: &headers,
        now,
    };
    let linked = st
        .store
        .upstream_link(&rt.realm.name, &up.spec.name, &id.sub)
        .await?;
    let Some(national_id) = linked.and_then(|n| NationalId::parse(&n).ok()) else {
        return links::propose(&cx, up, &id, &info).await;
    };
    keep_upstream_session(&cx, up, &id).await?;
    complete(&cx, &national_id, id.acr).await
}

/// Records the upstream session of the login under way (for coeur's logout).
async fn keep_upstream_session(
    cx: &LoginContext<'_>,
    up: &UpstreamRt,
    id: &UpstreamIdTokenVerified,
) -> Result<(), ProviderError> {
    cx.st
        .store
        .put_upstream_session(
            cx.pending_hash,
            &cx.rt.realm.name,
            &up.spec.name,
            &id.jws,
            cx.now + cx.rt.realm.lifetimes.sso_session,
        )
        .await?;
    Ok(())
}

/// Completes the login through an upstream, at level `reached`, as `national_id`.
async fn complete(
    cx: &LoginContext<'_>,
    national_id: &NationalId,
    reached: Acr,
) -> Result<Response, ProviderError> {
    let expired = ProviderError::page_expired;
    let login = FranceConnectLogin {
        reached: Some(reached),
    };
    match finish_login(cx, national_id, &login).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status) | LoginRefusal::NationalId(m, status)) => Err(
            ProviderError::page(status, Text::new("error.login_refused.title"), m),
        ),
        Err(LoginRefusal::Expired | LoginRefusal::RateLimited(_)) => Err(expired()),
        Err(LoginRefusal::Internal(e)) => Err(e.into()),
    }
}

/// After any login completed for the pending request of `cx` as session `sid`: a login
/// through an upstream ties its upstream session to `sid` (for logout); a login by card or
/// e-CPS proves the links waiting in that pending request (written with their audit
/// record). Failures are logged: the login itself is done.
pub(crate) async fn after_login(
    cx: &LoginContext<'_>,
    sid: &str,
    national_id: &NationalId,
    method: AuthMethod,
) {
    let LoginContext { st, rt, now, .. } = *cx;
    if method == AuthMethod::Franceconnect {
        if let Err(e) = st.store.attach_upstream_session(cx.pending_hash, sid).await {
            tracing::warn!(realm = %rt.realm.name, "upstream session not recorded: {e:#}");
        }
        return;
    }
    let pending: Vec<PendingLink> = match st.store.pending_links_of(cx.pending_hash).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(realm = %rt.realm.name, "pending links unreadable: {e:#}");
            return;
        }
    };
    for p in pending {
        let Some(proven) =
            LinkProven::by_proof(&p, cx.pending_hash, national_id.as_str(), method, now)
        else {
            continue;
        };
        match st.store.link_upstream(&proven, now).await {
            Ok(true) => {
                let link = (p.realm.as_str(), p.upstream.as_str(), p.sub.as_str());
                let nid = national_id.as_str();
                let how = proven.method().as_str();
                links::audit(st, "upstream.link", link, nid, nid, Some(how), now).await;
                tracing::info!(realm = %rt.realm.name, upstream = %p.upstream, method = method.as_str(), "upstream identity linked");
            }
            Ok(false) => {
                tracing::warn!(realm = %rt.realm.name, upstream = %p.upstream, "upstream identity not linked: already linked or proof used");
            }
            Err(e) => tracing::error!(realm = %rt.realm.name, "link not written: {e:#}"),
        }
    }
}

/// The upstream logout for the coeur session `sid` just ended, if it was opened through an
/// upstream: the URL of the upstream's `end_session_endpoint` (`id_token_hint`, `state`,
/// `post_logout_redirect_uri` back to coeur, then on to `next`). `None` when there is nothing
/// to end upstream or the upstream cannot be reached (coeur's logout is done either way).
pub(crate) async fn upstream_logout(
    st: &AppState,
    rt: &RealmRt,
    sid: &str,
    next: Option<&str>,
) -> Option<String> {
    let state = random_token(&*st.rng);
    let row = match st
        .store
        .start_upstream_logout(sid, &token_hash(&state), next.unwrap_or_default())
        .await
    {
        Ok(r) => r?,
        Err(e) => {
            tracing::warn!(realm = %rt.realm.name, "upstream session unreadable: {e:#}");
            return None;
        }
    };
    let up = rt.upstreams.iter().find(|u| u.spec.name == row.upstream)?;
    let d = match up.discovered(st.now()).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(realm = %rt.realm.name, upstream = %up.spec.name, "upstream logout skipped: {e:#}");
            return None;
        }
    };
    let back = format!(
        "{}/auth/realms/{}/franceconnect/logout-return",
        st.urls.public_url, rt.realm.name
    );
    core::end_session_url(
        d.end_session_endpoint.as_deref()?,
        &row.id_token,
        &state,
        &back,
    )
}

/// `GET …/franceconnect/logout-return?state=…`: back from the upstream's logout, on to where
/// coeur's logout was going (the client's `post_logout_redirect_uri`, or the logged-out page).
async fn logout_return(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let p = Params::from_pairs(query_pairs(q.as_deref()));
    let next = match p.get("state") {
        Some(s) => {
            st.store
                .finish_upstream_logout(&rt.realm.name, &token_hash(s))
                .await?
        }
        None => None,
    };
    match next.filter(|n| !n.is_empty()) {
        Some(n) => Ok(crate::error::found(&n)),
        None => Ok(crate::logout::logged_out_page(&st, &rt, &headers)),
    }
}
