//! Links between upstream identities and national ids: the page proposing a first link (to be
//! proven by card or e-CPS in the same pending request), the person's page listing and
//! removing their links, the audit records, and the JWKS coeur publishes for each upstream
//! (its decryption key).

use super::super::{
    LoginContext, LoginRefusal, WalletSubmission, label, lang_of, pending_for_browser, registered,
};
use crate::St;
use crate::authorize::validate_request;
use crate::error::{ProviderError, realm_or_404};
use crate::session::{SESSION_COOKIE, current_session};
use crate::state::{AppState, RealmRt};
use crate::upstream::UpstreamRt;
use axum::Extension;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use coeur_ca::store::AuditEntry;
use coeur_common::identity::{Identity, NationalId};
use coeur_common::random::token as random_token;
use coeur_oauth::authorize::Params;
use coeur_oauth::jose::token_hash;
use coeur_oauth::pivot::{Pivot, PivotMatched};
use coeur_oauth::realm::AuthMethod;
use coeur_oauth::upstream::{
    LinkMethod, LinkProven, PENDING_LINK_LIFETIME, PendingLink, UpstreamIdTokenVerified,
};
use coeur_web::listener::PeerAddr;
use coeur_web::{Text, cookie, form_pairs, page, request_lang};
use std::sync::Arc;

/// The routes under `fc` (`/auth/realms/{realm}/franceconnect`).
pub(super) fn routes(fc: &str) -> Router<Arc<AppState>> {
    Router::new()
        .route(&format!("{fc}/link"), axum::routing::post(link))
        .route(&format!("{fc}/links"), get(my_links).post(remove_mine))
        .route(&format!("{fc}/{{upstream}}/jwks"), get(jwks))
}

/// Writes a link or unlink to the audit chain (a failure is logged: the change is made).
pub(super) async fn audit(
    st: &AppState,
    action: &str,
    link: (&str, &str, &str),
    national_id: &str,
    actor: &str,
    method: Option<&str>,
    now: i64,
) {
    let (realm, upstream, sub) = link;
    let subject = format!("{realm}/{upstream}/{sub}");
    let details = match method {
        Some(m) => serde_json::json!({ "national_id": national_id, "method": m }),
        None => serde_json::json!({ "national_id": national_id }),
    }
    .to_string();
    let entry = AuditEntry {
        at: now,
        action,
        subject: &subject,
        actor,
        details: &details,
    };
    if let Err(e) = st.ca.store.append_audit(&entry).await {
        tracing::error!(realm, upstream, "audit record not written: {e:#}");
    }
}

/// The methods that may prove a national id in this realm.
fn proving_methods(rt: &RealmRt) -> Vec<&'static str> {
    [AuthMethod::Card, AuthMethod::Ecps]
        .into_iter()
        .filter(|m| rt.realm.auth_methods.contains(m) && registered(*m).is_some())
        .map(AuthMethod::as_str)
        .collect()
}

fn link_page(
    cx: &LoginContext<'_>,
    name: &str,
    handle: &str,
    account: Option<Text>,
    error: Option<Text>,
    status: StatusCode,
) -> Response {
    let rt = cx.rt;
    page(
        status,
        "franceconnect_link.html",
        lang_of(cx.req, cx.headers),
        minijinja::context! {
            realm => rt.realm.display_name,
            upstream => name,
            action => format!("/auth/realms/{}/franceconnect/link", rt.realm.name),
            handle,
            methods => proving_methods(rt)
                .into_iter()
                .filter_map(|m| {
                    let m = AuthMethod::parse(m)?;
                    Some(minijinja::context! { value => m.as_str(), label => label(m) })
                })
                .collect::<Vec<_>>(),
            ecps => proving_methods(rt).contains(&"ecps"),
            minutes => PENDING_LINK_LIFETIME / 60,
            account,
            error,
        },
    )
}

/// An upstream identity seen for the first time: a pending link (the only one of this pending
/// request), and the page asking for the proof of a national id, naming the upstream account
/// (from its userinfo) so that a person sent there with someone else's account notices before
/// proving anything. Nothing else is stored, no one is logged in.
///
/// Where the upstream links by pivot identity and that identity matches exactly one
/// identity's record ([`pivot_match`]), the pending link offers that identity and the page
/// asks the person to confirm it instead (or to decline, and prove).
pub(super) async fn propose(
    cx: &LoginContext<'_>,
    up: &UpstreamRt,
    id: &UpstreamIdTokenVerified,
    info: &serde_json::Map<String, serde_json::Value>,
) -> Result<Response, ProviderError> {
    let handle = random_token(&*cx.st.rng);
    let mut pending = PendingLink {
        realm: cx.rt.realm.name.clone(),
        upstream: up.spec.name.clone(),
        sub: id.sub.clone(),
        pending_hash: cx.pending_hash.to_owned(),
        expires_at: cx.now + PENDING_LINK_LIFETIME,
        offer: None,
        acr: None,
    };
    let offered = if up.spec.link_by_pivot_identity {
        pivot_match(cx, info).await?
    } else {
        None
    };
    if let Some((matched, _)) = &offered {
        pending = pending.offering(matched, id.acr);
    }
    cx.st
        .store
        .put_pending_link(&token_hash(&handle), &pending)
        .await?;
    if let Some((_, identity)) = offered {
        super::keep_upstream_session(cx, up, id).await?;
        tracing::info!(realm = %cx.rt.realm.name, upstream = %up.spec.name, "upstream identity not linked yet: pivot identity matched, confirmation asked");
        return Ok(confirm_page(cx, &up.spec.display_name, &handle, &identity));
    }
    tracing::info!(realm = %cx.rt.realm.name, upstream = %up.spec.name, "upstream identity not linked yet: proof asked");
    let claim = |k: &str| {
        info.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let account = Text::new("fc.link.account")
        .arg("given_name", claim("given_name"))
        .arg("family_name", claim("family_name"))
        .arg("birthdate", claim("birthdate"));
    Ok(link_page(
        cx,
        &up.spec.display_name,
        &handle,
        Some(account),
        None,
        StatusCode::OK,
    ))
}

/// The one identity of the realm whose record the upstream's pivot identity equals: the store
/// narrows by complete birth date, [`PivotMatched::find`] decides (none on a partial birth
/// date, no record, or several).
async fn pivot_match(
    cx: &LoginContext<'_>,
    info: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<(PivotMatched, Identity)>, ProviderError> {
    let upstream = Pivot::of_claims(info);
    let Some(born) = upstream.full_birth_date() else {
        return Ok(None);
    };
    let candidates = cx
        .st
        .store
        .identities_born_on(&cx.rt.realm.name, &born)
        .await?;
    let records: Vec<(&str, Pivot)> = candidates
        .iter()
        .map(|i| (i.national_id.as_str(), Pivot::of_identity(i)))
        .collect();
    let Some(matched) = PivotMatched::find(&upstream, records.iter().map(|(n, p)| (*n, p))) else {
        return Ok(None);
    };
    // An identity whose logins are refused is not offered: the proof page says why.
    let identity = candidates
        .into_iter()
        .find(|i| i.national_id.as_str() == matched.national_id())
        .filter(|i| i.active);
    Ok(identity.map(|i| (matched, i)))
}

/// A national id shown partially: its first three and last two characters.
fn masked(national_id: &str) -> String {
    let n = national_id.chars().count();
    national_id
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 3 || i + 2 >= n { c } else { '•' })
        .collect()
}

/// The page asking the person to confirm the identity their pivot identity matched, named
/// partially (given name, family name, national id masked).
fn confirm_page(cx: &LoginContext<'_>, name: &str, handle: &str, identity: &Identity) -> Response {
    let rt = cx.rt;
    page(
        StatusCode::OK,
        "franceconnect_confirm.html",
        lang_of(cx.req, cx.headers),
        minijinja::context! {
            realm => rt.realm.display_name,
            upstream => name,
            action => format!("/auth/realms/{}/franceconnect/link", rt.realm.name),
            handle,
            given_name => identity.given_name,
            family_name => identity.family_name,
            masked_id => masked(identity.national_id.as_str()),
        },
    )
}

/// The person's reply on the confirmation page (`confirm=yes|no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// "Yes, that is me": the offered link is made.
    Confirm,
    /// "No, that is not me": the proof by card or e-CPS is asked instead.
    Decline,
}

impl Reply {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "yes" => Some(Reply::Confirm),
            "no" => Some(Reply::Decline),
            _ => None,
        }
    }
}

/// The person's answer on the confirmation page (`confirm=yes|no`): yes links (audited) and
/// completes the login through the upstream; no withdraws the offer and shows the proof page.
async fn answer(
    cx: &LoginContext<'_>,
    p: &PendingLink,
    handle: &str,
    name: &str,
    reply: Reply,
) -> Result<Response, ProviderError> {
    let st = cx.st;
    let expired = ProviderError::page_expired;
    if reply == Reply::Decline {
        st.store.decline_offer(&token_hash(handle)).await?;
        tracing::info!(realm = %cx.rt.realm.name, upstream = %p.upstream, "pivot identity match declined: proof asked");
        return Ok(link_page(cx, name, handle, None, None, StatusCode::OK));
    }
    let (Some(proven), Some(acr)) = (
        LinkProven::by_confirmation(p, cx.pending_hash, cx.now),
        p.acr,
    ) else {
        return Err(expired().with_detail("nothing offered for confirmation"));
    };
    let Ok(national_id) = NationalId::parse(proven.national_id()) else {
        return Err(expired());
    };
    if !st.store.link_upstream(&proven, cx.now).await? {
        return Err(expired().with_detail("already linked or confirmation used"));
    }
    let link = (p.realm.as_str(), p.upstream.as_str(), p.sub.as_str());
    let nid = national_id.as_str();
    let how = proven.method().as_str();
    audit(st, "upstream.link", link, nid, nid, Some(how), cx.now).await;
    tracing::info!(realm = %cx.rt.realm.name, upstream = %p.upstream, method = how, "upstream identity linked");
    super::complete(cx, &national_id, acr).await
}

/// `POST …/franceconnect/link` (`link`, `method`, `national_id`): the proof starts, by card or
/// e-CPS, in the pending request the link belongs to; or (`link`, `confirm`) the answer on
/// the confirmation page of a pivot identity match. Either only from the browser of that
/// pending request.
async fn link(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let now = st.now();
    let expired = ProviderError::page_expired;
    let form = Params::from_pairs(form_pairs(&body));
    let Some(handle) = form.get("link") else {
        return Err(expired());
    };
    let Some(p) = st.store.pending_link(&token_hash(handle)).await? else {
        return Err(expired());
    };
    if p.realm != rt.realm.name || now >= p.expires_at {
        return Err(expired());
    }
    let params = pending_for_browser(&st, &rt, &p.pending_hash, &headers, now, expired).await?;
    let (req, _client) = validate_request(&st, &rt, &params).await?;
    let cx = LoginContext {
        st: &st,
        rt: &rt,
        req: &req,
        pending_hash: &p.pending_hash,
        headers: &headers,
        now,
    };
    let name = rt
        .upstreams
        .iter()
        .find(|u| u.spec.name == p.upstream)
        .map_or(p.upstream.clone(), |u| u.spec.display_name.clone());
    if let Some(confirm) = form.get("confirm") {
        let Some(reply) = Reply::parse(confirm) else {
            return Err(expired().with_detail("confirm is yes or no"));
        };
        return answer(&cx, &p, handle, &name, reply).await;
    }
    let method = form
        .get("method")
        .and_then(AuthMethod::parse)
        .filter(|m| proving_methods(&rt).contains(&m.as_str()))
        .and_then(registered);
    let Some(method) = method else {
        let text = Text::new("fc.link.method");
        return Ok(link_page(
            &cx,
            &name,
            handle,
            None,
            Some(text),
            StatusCode::BAD_REQUEST,
        ));
    };
    let typed = form
        .get("national_id")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let submission = WalletSubmission {
        login: cx,
        typed_national_id: &typed,
        source: crate::ecps::source(&st, peer.as_deref(), &headers),
        upstream: None,
    };
    match method.start(submission).await {
        Ok(r) => Ok(r),
        Err(LoginRefusal::Message(m, status) | LoginRefusal::NationalId(m, status)) => {
            Ok(link_page(&cx, &name, handle, None, Some(m), status))
        }
        Err(LoginRefusal::RateLimited(wait)) => {
            let text = Text::new("ecps.too_many").arg("seconds", wait);
            Ok(link_page(
                &cx,
                &name,
                handle,
                None,
                Some(text),
                StatusCode::TOO_MANY_REQUESTS,
            ))
        }
        Err(LoginRefusal::Expired) => Err(expired()),
        Err(LoginRefusal::Internal(e)) => Err(e.into()),
    }
}

/// The proof a removal form came from this browser's own page.
fn form_token(session_cookie: &str) -> String {
    token_hash(&format!("links:{session_cookie}"))
}

/// `GET …/franceconnect/links`: the links of the professional logged in in this browser.
async fn my_links(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let Some(session) = current_session(&st, &rt, &headers, st.now()).await? else {
        return Err(ProviderError::page(
            StatusCode::UNAUTHORIZED,
            Text::new("fc.links.title"),
            Text::new("fc.links.login_first"),
        ));
    };
    let links = st
        .store
        .upstream_links(&rt.realm.name, Some(&session.national_id))
        .await?;
    let names = |u: &str| {
        rt.upstreams
            .iter()
            .find(|x| x.spec.name == u)
            .map_or(u.to_owned(), |x| x.spec.display_name.clone())
    };
    let rows: Vec<minijinja::Value> = links
        .iter()
        .map(|l| {
            minijinja::context! {
                upstream => l.upstream, name => names(&l.upstream), sub => l.sub,
                method => match LinkMethod::PivotIdentity.as_str() == l.method {
                    true => Some(Text::new("fc.links.by_pivot")),
                    false => AuthMethod::parse(&l.method).map(label),
                },
            }
        })
        .collect();
    let token = cookie(&headers, SESSION_COOKIE).map(|c| form_token(&c));
    Ok(page(
        StatusCode::OK,
        "franceconnect_links.html",
        request_lang(&headers, None),
        minijinja::context! {
            realm => rt.realm.display_name,
            action => format!("/auth/realms/{}/franceconnect/links", rt.realm.name),
            links => rows,
            token,
        },
    ))
}

/// `POST …/franceconnect/links` (`token`, `upstream`, `sub`): removes one of the professional's
/// links, with its audit record.
async fn remove_mine(
    st: St,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let now = st.now();
    let form = Params::from_pairs(form_pairs(&body));
    let session = current_session(&st, &rt, &headers, now).await?;
    let token = cookie(&headers, SESSION_COOKIE).map(|c| form_token(&c));
    let (Some(session), Some(token)) = (session, token) else {
        return Err(ProviderError::page(
            StatusCode::UNAUTHORIZED,
            Text::new("fc.links.title"),
            Text::new("fc.links.login_first"),
        ));
    };
    if form.get("token") != Some(token.as_str()) {
        return Err(ProviderError::page(
            StatusCode::BAD_REQUEST,
            Text::new("fc.links.title"),
            Text::new("error.page_expired.message"),
        ));
    }
    let (upstream, sub) = (
        form.get("upstream").unwrap_or_default(),
        form.get("sub").unwrap_or_default(),
    );
    let nid = session.national_id.as_str();
    if let Some(l) = st
        .store
        .remove_upstream_link(&rt.realm.name, upstream, sub, Some(nid))
        .await?
    {
        audit(
            &st,
            "upstream.unlink",
            (&l.realm, &l.upstream, &l.sub),
            nid,
            nid,
            None,
            now,
        )
        .await;
        tracing::info!(realm = %rt.realm.name, upstream, "upstream identity unlinked by its holder");
    }
    Ok(crate::error::found(&format!(
        "{}/auth/realms/{}/franceconnect/links",
        st.urls.public_url, rt.realm.name
    )))
}

/// `GET …/franceconnect/{upstream}/jwks`: coeur's current decryption key for that upstream.
async fn jwks(
    st: St,
    Path((realm, upstream)): Path<(String, String)>,
) -> Result<Response, ProviderError> {
    let rt = realm_or_404(&st, &realm)?;
    let Some(up) = rt.upstreams.iter().find(|u| u.spec.name == upstream) else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    Ok(Json(up.public_jwks()).into_response())
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn national_ids_are_shown_masked() {
        assert_eq!(masked("899700218896"), "899•••••••96");
        assert_eq!(masked("ANS20240305091547"), "ANS••••••••••••47");
        assert_eq!(masked("81234"), "81234");
    }
}
