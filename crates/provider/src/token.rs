//! The token endpoint and its grants.

use crate::St;
use crate::client_auth::{AuthAt, authenticate_client};
use crate::error::{ProviderError, realm_or_invalid};
use crate::state::{AppState, RealmRt};
use crate::store::{CodeUse, GrantRow, RefreshRow};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use coeur_common::random::{id128, token as random_token};
use coeur_oauth::authorize::Params;
use coeur_oauth::claims::Confirmation;
use coeur_oauth::claims::{AccessTokenClaims, IdTokenClaims};
use coeur_oauth::client::{Client, GrantType};
use coeur_oauth::error::{ErrorCode, OAuthError};
use coeur_oauth::jose::{SigAlg, Signer, half_hash, token_hash};
use coeur_oauth::realm::AuthMethod;
use coeur_oauth::token::{self as tok, ClientAuthenticated, CodeDecision, RefreshDecision};
use coeur_storage::keystore::LoadedRing;
use coeur_web::mtls::PeerCertificate;
use coeur_web::{client_form, no_store};
use serde_json::json;

/// The token endpoint: authenticates the client, then the grant it asks for.
pub(crate) async fn token(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ProviderError> {
    let rt = realm_or_invalid(&st, &realm)?;
    let form = Params::from_pairs(client_form(&headers, &body)?);
    let grant = tok::grant_type(&form)
        .ok()
        .and_then(GrantType::parse)
        .map_or("unsupported", GrantType::as_str);
    let r = grant_tokens(&st, &rt, peer, &headers, &form).await;
    crate::metrics::token_request(&rt.realm.name, grant, &r);
    r
}

/// The token endpoint's work once the realm and the form are read.
async fn grant_tokens(
    st: &AppState,
    rt: &RealmRt,
    peer: Option<Extension<PeerCertificate>>,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Response, ProviderError> {
    let gt = tok::grant_type(form)?.to_owned();
    let auth = authenticate_client(st, rt, AuthAt::Token, headers, form, peer.as_ref()).await?;
    let grant = GrantType::parse(&gt).ok_or_else(|| {
        OAuthError::new(ErrorCode::UnsupportedGrantType, "unsupported grant_type")
    })?;
    if !auth.client().allows_grant(grant) {
        return Err(
            OAuthError::unauthorized_client("this client may not use this grant type").into(),
        );
    }
    let body = match grant {
        GrantType::AuthorizationCode => code_grant(st, rt, &auth, form).await?,
        GrantType::RefreshToken => refresh_grant(st, rt, &auth, form).await?,
        GrantType::ClientCredentials => client_credentials(st, rt, &auth, form)?,
        GrantType::Ciba => crate::ciba::grant::ciba_grant(st, rt, &auth, form).await?,
    };
    Ok((StatusCode::OK, no_store(), axum::Json(body)).into_response())
}

/// The `authorization_code` grant: redeems the code once, then mints the tokens.
async fn code_grant(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, ProviderError> {
    let now = st.now();
    let (code_hash, grant) = redeemable_code(st, rt, auth, form, now).await?;
    let refresh = NewRefresh::for_grant(st, rt, auth, &grant, now);
    let stored = refresh.as_ref().map(NewRefresh::stored);
    match st
        .store
        .redeem_code(&code_hash, &grant.grant_id, stored, now)
        .await?
    {
        CodeUse::First => {}
        CodeUse::Replay => {
            tracing::warn!(realm = %rt.realm.name, client = %grant.client_id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant("the code was already used").into());
        }
    }
    let issued = Issued {
        scope: &grant.scope,
        refresh: refresh.map(|r| r.token),
        id_token: true,
    };
    mint(st, rt, auth, &grant, issued, now).await
}

/// The refresh token issued with a new grant, when the client may refresh: the token, its
/// hash and its row, as the store keeps them.
pub(crate) struct NewRefresh {
    /// The token, for the client.
    pub token: String,
    hash: String,
    row: RefreshRow,
}

impl NewRefresh {
    /// A refresh token for `grant`, if `auth`'s client may use the refresh grant.
    pub(crate) fn for_grant(
        st: &AppState,
        rt: &RealmRt,
        auth: &ClientAuthenticated,
        grant: &GrantRow,
        now: i64,
    ) -> Option<Self> {
        if !auth.client().allows_grant(GrantType::RefreshToken) {
            return None;
        }
        let token = random_token(&*st.rng);
        Some(NewRefresh {
            hash: token_hash(&token),
            row: RefreshRow {
                grant_id: grant.grant_id.clone(),
                client_id: grant.client_id.clone(),
                expires_at: refresh_expiry(rt, grant, now),
                used_at: None,
            },
            token,
        })
    }

    /// Its hash and row, for the store.
    pub(crate) fn stored(&self) -> (&str, &RefreshRow) {
        (&self.hash, &self.row)
    }
}

/// The code `form` presents, checked for `auth`'s client (redirect URI, PKCE, expiry), and its
/// live grant. A code replayed by its own client revokes its grant; presented by another
/// client, it is refused and nothing changes.
async fn redeemable_code(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
    now: i64,
) -> Result<(String, GrantRow), ProviderError> {
    let code_hash = presented_hash(form, "code")?;
    let row = st
        .store
        .code(&rt.realm.name, &code_hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown or expired code"))?;
    let grant_view = tok::CodeGrant {
        client_id: row.client_id.clone(),
        redirect_uri: row.redirect_uri.clone(),
        redirect_uri_given: row.redirect_uri_given,
        code_challenge: row.code_challenge.clone(),
        expires_at: row.expires_at,
        used: row.used_at.is_some(),
    };
    match tok::check_code(
        &grant_view,
        auth,
        form.get("redirect_uri"),
        form.get("code_verifier"),
        now,
    )? {
        CodeDecision::Redeem(_redeemable) => {}
        CodeDecision::Replay => {
            st.store.revoke_grant(&row.grant_id, now).await?;
            tracing::warn!(realm = %rt.realm.name, client = %row.client_id, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant("the code was already used").into());
        }
    }
    let grant = grant_of(st, &row.grant_id).await?;
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the grant was revoked").into());
    }
    Ok((code_hash, grant))
}

/// The hash of the code or refresh token `form` presents in `name`.
fn presented_hash(form: &Params, name: &str) -> Result<String, OAuthError> {
    form.get(name)
        .map(token_hash)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
}

/// The grant a code or refresh token belongs to.
async fn grant_of(st: &AppState, grant_id: &str) -> Result<GrantRow, ProviderError> {
    Ok(st
        .store
        .grant(grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown grant"))?)
}

/// When a refresh token issued now for grant `g` expires: never after the grant.
fn refresh_expiry(rt: &RealmRt, g: &GrantRow, now: i64) -> i64 {
    let l = &rt.realm.lifetimes;
    let life = if g.scope.split(' ').any(|s| s == "offline_access") {
        l.offline_refresh_token
    } else {
        l.refresh_token
    };
    (now + life).min(g.expires_at)
}

/// The `refresh_token` grant: rotates the refresh token (a reuse revokes the grant), then
/// mints the tokens.
async fn refresh_grant(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, ProviderError> {
    let now = st.now();
    let hash = presented_hash(form, "refresh_token")?;
    let row = st
        .store
        .refresh(&rt.realm.name, &hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    match refresh_decision(st, rt, &row, auth.client().id(), now).await?? {
        RefreshDecision::RevokeFamily => {
            st.store.revoke_grant(&row.grant_id, now).await?;
            tracing::warn!(realm = %rt.realm.name, client = %row.client_id, "refresh token reused; grant revoked");
            return Err(OAuthError::invalid_grant("the refresh token was already used").into());
        }
        RefreshDecision::Repeat => return repeated_answer(st, rt, &hash).await,
        RefreshDecision::Rotate => {}
    }
    let grant = grant_of(st, &row.grant_id).await?;
    let scope = tok::refresh_scope(&grant.scope, form.get("scope"))?;
    let next = random_token(&*st.rng);
    let next_row = RefreshRow {
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        expires_at: refresh_expiry(rt, &grant, now),
        used_at: None,
    };
    let openid = scope.split(' ').any(|s| s == "openid");
    let issued = Issued {
        scope: &scope,
        refresh: Some(next.clone()),
        id_token: openid,
    };
    let body = mint(st, rt, auth, &grant, issued, now).await?;
    let sealed = st
        .keys
        .master()
        .seal(&successor_context(rt, &hash), body.to_string().as_bytes())?;
    if !st
        .store
        .rotate_refresh(&hash, &sealed, &token_hash(&next), &next_row, now)
        .await?
    {
        // A concurrent use of the same token rotated it first: its answer is the answer.
        return repeated_answer(st, rt, &hash).await;
    }
    Ok(body)
}

/// What to do with stored refresh token `row` presented by `client_id` (its grant's
/// revocation read from the store).
pub(crate) async fn refresh_decision(
    st: &AppState,
    rt: &RealmRt,
    row: &RefreshRow,
    client_id: &str,
    now: i64,
) -> Result<Result<RefreshDecision, OAuthError>, ProviderError> {
    let rec = tok::RefreshRecord {
        client_id: row.client_id.clone(),
        expires_at: row.expires_at,
        used_at: row.used_at,
        revoked: st.store.grant_revoked(&row.grant_id).await?,
    };
    let window = rt.realm.lifetimes.refresh_reuse_window;
    Ok(tok::refresh_decision(&rec, client_id, window, now))
}

/// The sealing context of the answer to the refresh token of hash `hash`.
fn successor_context(rt: &RealmRt, hash: &str) -> String {
    format!("coeur/refresh/{}/{hash}", rt.realm.name)
}

/// The answer the first use of a refresh token got, for a retry within the reuse window.
async fn repeated_answer(
    st: &AppState,
    rt: &RealmRt,
    hash: &str,
) -> Result<serde_json::Value, ProviderError> {
    let Some(sealed) = st.store.refresh_successor(hash).await? else {
        return Err(OAuthError::invalid_grant("the refresh token was already used").into());
    };
    let plain = st
        .keys
        .master()
        .open(&successor_context(rt, hash), &sealed)?;
    Ok(serde_json::from_slice(&plain).map_err(anyhow::Error::from)?)
}

/// The `client_credentials` grant: an access token for the client itself.
fn client_credentials(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    form: &Params,
) -> Result<serde_json::Value, ProviderError> {
    let now = st.now();
    let client = auth.client();
    let scope: Vec<String> = client
        .filter_scopes(
            form.get("scope")
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty()),
        )
        .into_iter()
        .filter(|s| s != "openid" && s != "offline_access")
        .collect();
    let at = AccessTokenClaims {
        iss: rt.realm.issuer.clone(),
        sub: client.id().to_owned(),
        aud: client.id().to_owned(),
        client_id: client.id().to_owned(),
        exp: now + rt.realm.lifetimes.access_token,
        iat: now,
        jti: id128(&*st.rng),
        scope: scope.join(" "),
        auth_time: None,
        acr: None,
        sid: None,
        gid: None,
        subject_name_id: None,
        cnf: auth.bound_thumbprint().map(|t| Confirmation {
            x5t_s256: t.to_owned(),
        }),
    };
    let token = sign_access_token(rt, &at)?;
    let mut body = json!({ "access_token": token, "token_type": "Bearer", "expires_in": rt.realm.lifetimes.access_token });
    if !scope.is_empty() {
        body["scope"] = scope.join(" ").into();
    }
    Ok(body)
}

/// What a token response of a user grant carries beside the access token.
pub(crate) struct Issued<'a> {
    /// The tokens' scope: the grant's, or narrower.
    pub scope: &'a str,
    /// The refresh token, if one is issued.
    pub refresh: Option<String>,
    /// Whether an ID token is issued.
    pub id_token: bool,
}

/// Signs the access token and (for `openid`) the ID token of a user grant.
pub(crate) async fn mint(
    st: &AppState,
    rt: &RealmRt,
    auth: &ClientAuthenticated,
    grant: &GrantRow,
    issued: Issued<'_>,
    now: i64,
) -> Result<serde_json::Value, ProviderError> {
    let (client, bound) = (auth.client(), auth.bound_thumbprint());
    let identity = st
        .store
        .identity(&rt.realm.name, &grant.national_id)
        .await?;
    if !identity.as_ref().is_some_and(|i| i.active) {
        st.store.revoke_grant(&grant.grant_id, now).await?;
        return Err(OAuthError::invalid_grant("the user is no longer active").into());
    }
    let sub = rt.realm.subject_of(&grant.national_id);
    let l = &rt.realm.lifetimes;
    let psc = issued.scope.split(' ').any(|s| s == "scope_all");
    let at = AccessTokenClaims {
        iss: rt.realm.issuer.clone(),
        sub: sub.clone(),
        aud: client.id().to_owned(),
        client_id: client.id().to_owned(),
        exp: now + l.access_token,
        iat: now,
        jti: id128(&*st.rng),
        scope: issued.scope.to_owned(),
        auth_time: Some(grant.auth_time),
        acr: Some(grant.acr.clone()),
        sid: Some(grant.sid.clone()),
        gid: Some(grant.grant_id.clone()),
        subject_name_id: psc.then(|| grant.national_id.clone()),
        cnf: bound.map(|t| Confirmation {
            x5t_s256: t.to_owned(),
        }),
    };
    let access_token = sign_access_token(rt, &at)?;
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": l.access_token,
        "scope": issued.scope,
    });
    if let Some(r) = issued.refresh {
        body["refresh_token"] = r.into();
        body["refresh_expires_in"] = (refresh_expiry(rt, grant, now) - now).into();
    }
    if issued.id_token {
        let claims = id_token_claims(st, rt, client, grant, sub, &access_token, psc, now);
        body["id_token"] =
            sign_for_client(rt, client, client.id_token_alg(), "JWT", &claims)?.into();
    }
    Ok(body)
}

/// The ID token of `grant` for `client`, issued with `access_token`.
#[allow(clippy::too_many_arguments)] // The claims come from all of them.
fn id_token_claims(
    st: &AppState,
    rt: &RealmRt,
    client: &Client,
    grant: &GrantRow,
    sub: String,
    access_token: &str,
    psc: bool,
    now: i64,
) -> IdTokenClaims {
    let method = AuthMethod::parse(&grant.method).unwrap_or(AuthMethod::Test);
    IdTokenClaims {
        iss: rt.realm.issuer.clone(),
        sub,
        aud: client.id().to_owned(),
        azp: client.id().to_owned(),
        exp: now + rt.realm.lifetimes.id_token,
        iat: now,
        jti: id128(&*st.rng),
        auth_time: grant.auth_time,
        nonce: grant.nonce.clone(),
        acr: grant.acr.clone(),
        amr: method.amr().iter().map(|s| (*s).to_owned()).collect(),
        sid: grant.sid.clone(),
        at_hash: Some(half_hash(access_token)),
        auth_mode: method.auth_mode().to_owned(),
        subject_name_id: psc.then(|| grant.national_id.clone()),
        preferred_username: psc.then(|| grant.national_id.clone()),
    }
}

/// Signs an access token with the realm's ES256 key, or its first algorithm's.
fn sign_access_token(rt: &RealmRt, at: &AccessTokenClaims) -> anyhow::Result<String> {
    let ring = rt.ring();
    let key = ring
        .signer(SigAlg::ES256)
        .or_else(|| rt.realm.signing_algs.first().and_then(|a| ring.signer(*a)))
        .ok_or_else(|| anyhow::anyhow!("no active key"))?;
    key.sign("at+jwt", at).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Signs `claims` for `client` with `alg`: HS256 with the client's secret, otherwise with the
/// realm's active key of that algorithm.
pub(crate) fn sign_for_client<T: serde::Serialize>(
    rt: &RealmRt,
    client: &Client,
    alg: SigAlg,
    typ: &str,
    claims: &T,
) -> anyhow::Result<String> {
    let ring = rt.ring();
    client_signer(rt, &ring, client, alg)?
        .sign(typ, claims)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// What signs tokens of algorithm `alg` for `client`: its secret for HS256, otherwise the
/// active key of `ring` (the realm's) for that algorithm.
pub(crate) fn client_signer<'a>(
    rt: &RealmRt,
    ring: &'a LoadedRing,
    client: &'a Client,
    alg: SigAlg,
) -> anyhow::Result<Signer<'a>> {
    if alg == SigAlg::HS256 {
        let secret = client
            .hmac_secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("HS256 client without a sealed secret"))?;
        return Ok(Signer::Secret(secret.as_bytes()));
    }
    let key = ring.signer(alg).ok_or_else(|| {
        anyhow::anyhow!("no active {} key in realm {}", alg.as_str(), rt.realm.name)
    })?;
    Ok(Signer::Key(key))
}
