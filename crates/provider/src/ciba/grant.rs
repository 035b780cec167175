//! The token endpoint's CIBA grant (`urn:openid:params:grant-type:ciba`, CIBA Core §10.1):
//! what a poll gets is `coeur_oauth::ciba::poll`'s decision; an approved request is consumed
//! and turned into a grant (with its refresh token) in one transaction, then the tokens are
//! minted as for a code.

use super::Stored;
use super::polls::Poll;
use crate::authorize::grant_expiry;
use crate::error::ProviderError;
use crate::state::{AppState, RealmRt};
use crate::store::GrantRow;
use crate::token::{Issued, NewRefresh, mint};
use coeur_common::random::id128;
use coeur_oauth::authorize::Params;
use coeur_oauth::ciba::{self, INTERVAL, PollDecision, PollView};
use coeur_oauth::ecps::Origin;
use coeur_oauth::error::OAuthError;
use coeur_oauth::jose::token_hash;
use coeur_oauth::realm::AuthMethod;
use coeur_oauth::token::ClientAuthenticated;

/// The CIBA grant: a poll (or the call after a ping) with `auth_req_id`.
pub(crate) async fn ciba_grant(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, ProviderError> {
    let now = st.now();
    let presented = form
        .get("auth_req_id")
        .ok_or_else(|| OAuthError::invalid_request("auth_req_id is missing"))?;
    let hash = token_hash(presented);
    let client = auth.client().id();
    // Too early after the last poll seen here: slowed down without reading the request.
    if let Some(e) = st
        .ciba_polls
        .early(&hash, client, now)
        .and_then(|d| d.error())
    {
        return Err(e.into());
    }
    let row = st
        .store
        .approval_by_secret(&hash)
        .await?
        .filter(|r| r.realm == rt.realm.name && r.origin == Origin::Ciba)
        .ok_or_else(|| OAuthError::invalid_grant("unknown auth_req_id"))?;
    // The later of the polls seen here and the one the store knows.
    let stored_poll = row
        .last_polled_at
        .map(|at| (at, row.poll_interval.unwrap_or(INTERVAL)));
    let here = st.ciba_polls.recent(&hash, |r| {
        r.filter(|r| r.client_id == row.client_id)
            .map(|r| (r.polled_at, r.interval))
    });
    let last = match (here, stored_poll) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let view = PollView {
        client_id: &row.client_id,
        status: row.status,
        expires_at: row.expires_at,
        last_polled_at: last.map(|(at, _)| at),
        interval: last.map_or(row.poll_interval.unwrap_or(INTERVAL), |(_, i)| i),
    };
    let decision = ciba::poll(&view, client, now);
    let polled = match &decision {
        PollDecision::Pending => Some(view.interval),
        PollDecision::SlowDown(interval) => Some(*interval),
        PollDecision::Redeem(_) | PollDecision::Refuse(_) => None,
    };
    match polled {
        // Only the client the request was issued to is remembered polling it.
        Some(interval) if row.client_id == client => {
            let p = Poll {
                request_id: &row.id,
                client_id: &row.client_id,
                expires_at: row.expires_at,
                at: now,
                interval,
            };
            if !st.ciba_polls.record(&hash, &p) {
                st.store
                    .record_ciba_poll(&row.id, now, Some(interval))
                    .await?;
            }
        }
        Some(_) => {}
        None if row.client_id == client => st.ciba_polls.forget(&hash),
        None => {}
    }
    if let Some(e) = decision.error() {
        return Err(e.into());
    }
    let stored: Stored = serde_json::from_str(&row.params).map_err(anyhow::Error::from)?;
    let method = row
        .method
        .as_deref()
        .and_then(AuthMethod::parse)
        .ok_or_else(|| anyhow::anyhow!("CIBA request {} approved without a method", row.id))?;
    let scope: Vec<String> = stored.scope.split(' ').map(str::to_owned).collect();
    let grant = GrantRow {
        grant_id: id128(&*st.rng),
        client_id: row.client_id.clone(),
        national_id: row.national_id.clone(),
        // No browser session: the grant is a session of its own.
        sid: id128(&*st.rng),
        scope: stored.scope.clone(),
        nonce: None,
        auth_time: row.decided_at.unwrap_or(now),
        acr: rt.realm.acr.of(method).as_str().to_owned(),
        method: method.as_str().to_owned(),
        expires_at: grant_expiry(rt, &scope, now),
        revoked_at: None,
    };
    let refresh = NewRefresh::for_grant(st, rt, auth, &grant, now);
    let stored_refresh = refresh.as_ref().map(NewRefresh::stored);
    if !st
        .store
        .redeem_ciba(&rt.realm.name, &row.id, &grant, stored_refresh, now)
        .await?
    {
        return Err(OAuthError::invalid_grant("this auth_req_id was already used").into());
    }
    tracing::info!(realm = %rt.realm.name, client = %row.client_id, request = %row.id, method = method.as_str(), "CIBA tokens issued");
    let issued = Issued {
        scope: &stored.scope,
        refresh: refresh.map(|r| r.token),
        id_token: true,
    };
    mint(st, rt, auth, &grant, issued, now).await
}
