//! The token endpoint's CIBA grant (`urn:openid:params:grant-type:ciba`, CIBA Core §10.1):
//! what a poll gets is `coeur_oauth::ciba::poll`'s decision; an approved request is consumed
//! and turned into a grant (with its refresh token) in one transaction, then the tokens are
//! minted as for a code.

use super::Stored;
use crate::authorize::grant_expiry;
use crate::error::ProviderError;
use crate::state::{AppState, RealmRt};
use crate::store::{GrantRow, RefreshRow};
use crate::token::{Issued, mint, refresh_expiry};
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::Params;
use coeur_oauth::ciba::{self, INTERVAL, PollDecision, PollView};
use coeur_oauth::client::GrantType;
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
    let row = st
        .store
        .approval_by_secret(&token_hash(presented))
        .await?
        .filter(|r| r.realm == rt.realm.name && r.origin == Origin::Ciba)
        .ok_or_else(|| OAuthError::invalid_grant("unknown auth_req_id"))?;
    let view = PollView {
        client_id: &row.client_id,
        status: row.status,
        expires_at: row.expires_at,
        last_polled_at: row.last_polled_at,
        interval: row.poll_interval.unwrap_or(INTERVAL),
    };
    let decision = ciba::poll(&view, auth.client().id(), now);
    match &decision {
        PollDecision::Redeem(_) => {}
        PollDecision::Pending => st.store.record_ciba_poll(&row.id, now, None).await?,
        PollDecision::SlowDown(interval) => {
            st.store
                .record_ciba_poll(&row.id, now, Some(*interval))
                .await?;
        }
        PollDecision::Refuse(_) => {}
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
    let refresh = auth
        .client()
        .allows_grant(GrantType::RefreshToken)
        .then(|| random_token(&*st.rng));
    let refresh_row = refresh.as_ref().map(|_| RefreshRow {
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        expires_at: refresh_expiry(rt, &grant, now),
        used_at: None,
    });
    let refresh_hash = refresh.as_deref().map(token_hash);
    let stored_refresh = refresh_hash.as_deref().zip(refresh_row.as_ref());
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
        refresh,
        id_token: true,
    };
    mint(st, rt, auth, &grant, issued, now).await
}
