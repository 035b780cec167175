//! The whole flow driven by an independent relying-party library, `openidconnect`:
//! discovery, authorization with PKCE and nonce, code exchange, ID token verification with the
//! published keys (ES256, RS256, PS256) or the client secret (HS256), userinfo, refresh token
//! rotation and RP-initiated logout.

use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock as _;
use coeur::oauth::jose::SigAlg;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthenticationContextClass, AuthorizationCode, Client,
    ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpClientError, HttpRequest, HttpResponse, IdToken, IdTokenFields, IssuerUrl,
    JsonWebKey as _, LogoutRequest, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    StandardErrorResponse, StandardTokenResponse, SubjectIdentifier, TokenResponse as _,
    UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

// ---------------------------------------------------------------- the library's HTTP client

/// The library's HTTP transport: reqwest, never following redirects.
struct Http(reqwest::Client);

impl Http {
    fn new() -> Self {
        Http(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        )
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            Ok(builder.body(body)?)
        })
    }
}

// ---------------------------------------------------------------- PSC claim types

/// PSC claims of the ID token beyond the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PscIdClaims {
    #[serde(rename = "authMode")]
    auth_mode: String,
    #[serde(rename = "SubjectNameID", default)]
    subject_name_id: Option<String>,
    #[serde(default)]
    sid: Option<String>,
}
impl AdditionalClaims for PscIdClaims {}

/// PSC `scope_all` userinfo claims beyond the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PscUserInfo {
    #[serde(rename = "SubjectNameID")]
    subject_name_id: String,
    #[serde(rename = "SubjectRole")]
    subject_role: Vec<String>,
    #[serde(rename = "SubjectOrganization")]
    subject_organization: String,
    #[serde(rename = "SubjectOrganizationID")]
    subject_organization_id: String,
    #[serde(rename = "Secteur_Activite")]
    secteur_activite: String,
    #[serde(rename = "codeCivilite")]
    code_civilite: String,
    #[serde(rename = "otherIds")]
    other_ids: Vec<serde_json::Value>,
    #[serde(rename = "SubjectRefPro")]
    subject_ref_pro: serde_json::Value,
    #[serde(rename = "PSI_Locale")]
    psi_locale: String,
    #[serde(rename = "authMode")]
    auth_mode: Option<String>,
}
impl AdditionalClaims for PscUserInfo {}

type PscIdToken = IdToken<
    PscIdClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type PscTokenResponse = StandardTokenResponse<
    IdTokenFields<
        PscIdClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
/// A client as `from_provider_metadata` builds it, reading PSC's ID token claims.
type PscClient = Client<
    PscIdClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    PscTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

// ---------------------------------------------------------------- helpers

/// PSC's subject format for the test identity.
fn expected_sub() -> String {
    format!("f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:{NATIONAL_ID}")
}

/// A URL without its query and fragment.
fn without_query(u: &url::Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

async fn discover(s: &TestServer, http: &Http) -> ProviderMetadataWithLogout {
    let issuer = IssuerUrl::new(s.issuer("edit")).expect("issuer URL");
    ProviderMetadataWithLogout::discover_async(issuer, http)
        .await
        .expect("discovery")
}

fn client_for(meta: &ProviderMetadataWithLogout, client_id: &str, secret: &str) -> PscClient {
    PscClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(client_id.into()),
        Some(ClientSecret::new(secret.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect URI"))
}

/// The outcome of an authorization request made by the library and answered by the browser.
struct Authorized {
    callback: url::Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: openidconnect::PkceCodeVerifier,
}

/// Builds the library's authorization URL (PKCE S256, nonce, state, `openid scope_all
/// offline_access`, `acr_values=eidas1`) and drives the wallet page with the browser.
async fn authorize(s: &TestServer, b: &Browser, client: &PscClient) -> Authorized {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("scope_all".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_auth_context_value(AuthenticationContextClass::new("eidas1".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert!(
        url.as_str().starts_with(&s.endpoint("edit", "auth")),
        "{url}"
    );
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&url, "acr_values").as_deref(), Some("eidas1"));
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("openid scope_all offline_access")
    );
    let page = b.authorize(url.as_str()).await;
    assert!(
        matches!(page, Authz::LoginPage { .. }),
        "a new browser gets the wallet page: {page:?}"
    );
    let r = b.login(&s.base, &page, NATIONAL_ID, "test").await;
    assert_eq!(r.status().as_u16(), 303, "the wallet form answers 303");
    Authorized {
        callback: location(&r),
        state,
        nonce,
        verifier,
    }
}

/// Checks the callback (`state`, `iss`) and redeems its code with the PKCE verifier.
async fn redeem_with_library(
    meta: &ProviderMetadataWithLogout,
    client: &PscClient,
    http: &Http,
    a: Authorized,
) -> (PscTokenResponse, Nonce) {
    let cb = &a.callback;
    assert_eq!(without_query(cb), REDIRECT);
    assert_eq!(param(cb, "error"), None, "{cb}");
    assert_eq!(
        param(cb, "state").as_deref(),
        Some(a.state.secret().as_str())
    );
    assert_eq!(
        param(cb, "iss").as_deref(),
        Some(meta.issuer().as_str()),
        "the callback's iss is the discovered issuer"
    );
    let code = param(cb, "code").expect("code in the callback");
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(a.verifier)
        .request_async(http)
        .await
        .expect("code exchange");
    (token, a.nonce)
}

/// Checks that an ID token's `at_hash` matches the access token issued with it.
fn assert_at_hash(
    id_token: &PscIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    token: &PscTokenResponse,
    key: Option<&CoreJsonWebKey>,
) {
    let claims = id_token
        .claims(verifier, |_: Option<&Nonce>| Ok(()))
        .expect("claims");
    let alg = id_token.signing_alg().expect("signing alg");
    let key = match key {
        Some(k) => k,
        None => id_token.signing_key(verifier).expect("signing key"),
    };
    let expected = AccessTokenHash::from_token(token.access_token(), alg, key).expect("at_hash");
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
}

fn error_of<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> CoreErrorResponseType {
    match e {
        RequestTokenError::ServerResponse(r) => r.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

// ---------------------------------------------------------------- the full flow

both_dbs!(full_flow_with_openidconnect, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let http = Http::new();

    // Discovery.
    let meta = discover(&s, &http).await;
    assert_eq!(meta.issuer().as_str(), s.issuer("edit"));
    assert_eq!(
        meta.authorization_endpoint().as_str(),
        s.endpoint("edit", "auth")
    );
    assert_eq!(
        meta.token_endpoint().map(|u| u.as_str()),
        Some(s.endpoint("edit", "token").as_str())
    );
    assert_eq!(
        meta.userinfo_endpoint().map(|u| u.as_str()),
        Some(s.endpoint("edit", "userinfo").as_str())
    );
    let end_session = meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    assert_eq!(end_session.as_str(), s.endpoint("edit", "logout"));
    for alg in [
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    ] {
        assert!(
            meta.id_token_signing_alg_values_supported().contains(&alg),
            "{alg:?} advertised"
        );
    }
    assert!(!meta.jwks().keys().is_empty(), "the JWKS was fetched");

    // Authorization, wallet page, callback, code exchange.
    let client = client_for(&meta, "rp", SECRET);
    let b = s.browser();
    let authorized = authorize(&s, &b, &client).await;
    let login_time = s.clock.now();
    let (token, nonce) = redeem_with_library(&meta, &client, &http, authorized).await;
    assert_eq!(*token.token_type(), CoreTokenType::Bearer);
    let granted: Vec<String> = token
        .scopes()
        .expect("granted scopes")
        .iter()
        .map(|s| s.to_string())
        .collect();
    for sc in ["openid", "scope_all", "offline_access"] {
        assert!(granted.iter().any(|g| g == sc), "{sc} granted: {granted:?}");
    }
    let refresh1 = token.refresh_token().expect("refresh token").clone();

    // The ID token, verified by the library against the JWKS (default client: ES256).
    let id_token = token.id_token().expect("ID token").clone();
    assert_eq!(
        *id_token.signing_alg().expect("alg"),
        CoreJwsSigningAlgorithm::EcdsaP256Sha256
    );
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &nonce).expect("valid ID token");
    assert_eq!(claims.issuer().as_str(), s.issuer("edit"));
    assert_eq!(
        claims
            .audiences()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["rp"]
    );
    assert_eq!(claims.subject().as_str(), expected_sub());
    assert_eq!(claims.nonce().map(|n| n.secret()), Some(nonce.secret()));
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("eidas1")
    );
    assert_eq!(
        claims.auth_time().map(|t| t.timestamp()),
        Some(login_time),
        "auth_time is the login time"
    );
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some(NATIONAL_ID)
    );
    assert_eq!(claims.additional_claims().auth_mode, "TEST");
    assert_eq!(
        claims.additional_claims().subject_name_id.as_deref(),
        Some(NATIONAL_ID)
    );
    let sid = claims.additional_claims().sid.clone().expect("sid");
    assert_at_hash(&id_token, &verifier, &token, None);
    // The library refuses it with another nonce, or when it only accepts another algorithm.
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("another-nonce".into()))
            .is_err(),
        "nonce mismatch detected"
    );
    let rs_only = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    assert!(id_token.claims(&rs_only, &nonce).is_err());

    // Userinfo, with the `scope_all` fields.
    let ui: UserInfoClaims<PscUserInfo, CoreGenderClaim> = client
        .user_info(
            token.access_token().clone(),
            Some(SubjectIdentifier::new(expected_sub())),
        )
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo");
    let identity = s
        .state
        .store
        .identity("edit", NATIONAL_ID)
        .await
        .expect("store")
        .expect("test identity");
    assert_eq!(ui.subject().as_str(), expected_sub());
    assert_eq!(
        ui.preferred_username().map(|u| u.as_str()),
        Some(NATIONAL_ID)
    );
    assert_eq!(
        ui.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some(identity.given_name.as_str())
    );
    assert_eq!(
        ui.family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some(identity.family_name.as_str())
    );
    let psc = ui.additional_claims();
    assert_eq!(psc.subject_name_id, NATIONAL_ID);
    assert_eq!(psc.code_civilite, identity.civilite);
    assert_eq!(psc.auth_mode.as_deref(), Some("TEST"));
    assert_eq!(psc.psi_locale, "1.2.250.1.213.1.3.1.1");
    assert!(!psc.subject_role.is_empty());
    for role in &psc.subject_role {
        assert!(role.ends_with("^1.2.250.1.213.1.1.5.5"), "{role}");
    }
    assert!(psc.secteur_activite.ends_with("^1.2.250.1.71.4.2.4"));
    assert!(!psc.subject_organization.is_empty());
    assert!(!psc.subject_organization_id.is_empty());
    assert_eq!(psc.other_ids[0]["origine"], identity.origin.as_str());
    assert_eq!(
        psc.subject_ref_pro["exercices"].as_array().map(Vec::len),
        Some(identity.exercices.len())
    );
    // The wrong expected subject is detected by the library.
    let wrong_sub = client
        .user_info(
            token.access_token().clone(),
            Some(SubjectIdentifier::new("someone-else".into())),
        )
        .expect("userinfo endpoint known")
        .request_async::<PscUserInfo, _, CoreGenderClaim>(&http)
        .await;
    assert!(
        matches!(wrong_sub, Err(UserInfoError::ClaimsVerification(_))),
        "{wrong_sub:?}"
    );

    // Refresh: a new refresh token and a new, valid ID token for the same session.
    let refreshed = client
        .exchange_refresh_token(&refresh1)
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect("refresh");
    let refresh2 = refreshed.refresh_token().expect("rotated refresh token");
    assert_ne!(refresh2.secret(), refresh1.secret());
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    let id2 = refreshed.id_token().expect("ID token on refresh");
    let claims2 = id2.claims(&verifier, &nonce).expect("refreshed ID token");
    assert_eq!(claims2.subject().as_str(), expected_sub());
    assert_eq!(claims2.auth_time(), claims.auth_time());
    assert_eq!(
        claims2.additional_claims().sid.as_deref(),
        Some(sid.as_str())
    );
    assert_at_hash(id2, &verifier, &refreshed, None);

    // After the reuse window the old refresh token is refused, and the reuse revokes the
    // whole grant: the rotated refresh token and its access token die with it.
    s.clock.advance(5);
    let reuse = client
        .exchange_refresh_token(&refresh1)
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect_err("old refresh token refused");
    assert_eq!(error_of(reuse), CoreErrorResponseType::InvalidGrant);
    let after = client
        .exchange_refresh_token(refresh2)
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect_err("the rotated token belongs to the revoked grant");
    assert_eq!(error_of(after), CoreErrorResponseType::InvalidGrant);
    let revoked_at = client
        .user_info(refreshed.access_token().clone(), None)
        .expect("userinfo endpoint known")
        .request_async::<PscUserInfo, _, CoreGenderClaim>(&http)
        .await;
    assert!(
        matches!(&revoked_at, Err(UserInfoError::Response(st, _, _)) if st.as_u16() == 401),
        "{revoked_at:?}"
    );

    // The SSO session still lets a prompt=none request through before logout; its code is
    // bound to the PKCE challenge and refused with another verifier.
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (silent_url, silent_state, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_prompt(CoreAuthPrompt::None)
        .set_pkce_challenge(challenge)
        .url();
    let cb = b.authorize(silent_url.as_str()).await.redirect();
    assert_eq!(
        param(&cb, "state").as_deref(),
        Some(silent_state.secret().as_str())
    );
    let code = param(&cb, "code").expect("silent login gives a code");
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    let bad_pkce = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(other_verifier)
        .request_async(&http)
        .await
        .expect_err("wrong PKCE verifier refused");
    assert_eq!(error_of(bad_pkce), CoreErrorResponseType::InvalidGrant);

    // RP-initiated logout.
    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(POST_LOGOUT.into()).expect("post-logout URI"),
        )
        .set_state(CsrfToken::new("bye-state".into()))
        .http_get_url();
    let r = b.http.get(logout_url).send().await.expect("logout");
    assert_eq!(r.status().as_u16(), 302);
    let back = location(&r);
    assert_eq!(without_query(&back), POST_LOGOUT);
    assert_eq!(param(&back, "state").as_deref(), Some("bye-state"));

    // The session is over: prompt=none now answers login_required.
    let (silent_url, silent_state, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_prompt(CoreAuthPrompt::None)
        .url();
    let cb = b.authorize(silent_url.as_str()).await.redirect();
    assert_eq!(param(&cb, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&cb, "code"), None);
    assert_eq!(
        param(&cb, "state").as_deref(),
        Some(silent_state.secret().as_str())
    );
    assert_eq!(param(&cb, "iss").as_deref(), Some(meta.issuer().as_str()));
});

// ---------------------------------------------------------------- RS256 and PS256 ID tokens

both_dbs!(rsa_id_tokens_verified_with_jwks, |db| async move {
    let s = TestServer::start(db).await;
    let http = Http::new();
    for (id, alg, lib_alg) in [
        (
            "rp-rs256",
            SigAlg::RS256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        (
            "rp-ps256",
            SigAlg::PS256,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        ),
    ] {
        let mut spec = rp_spec(id);
        spec.id_token_signed_response_alg = Some(alg);
        s.add_client("edit", spec, Some(SECRET)).await;
        let meta = discover(&s, &http).await;
        let client = client_for(&meta, id, SECRET);
        let b = s.browser();
        let authorized = authorize(&s, &b, &client).await;
        let (token, nonce) = redeem_with_library(&meta, &client, &http, authorized).await;
        let id_token = token.id_token().expect("ID token");
        assert_eq!(*id_token.signing_alg().expect("alg"), lib_alg, "{id}");

        let verifier = client
            .id_token_verifier()
            .set_allowed_algs([lib_alg.clone()]);
        let claims = id_token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{id}: ID token rejected: {e}"));
        assert_eq!(claims.audiences()[0].as_str(), id);
        assert_eq!(claims.subject().as_str(), expected_sub());
        assert_eq!(
            claims.auth_context_ref().map(|a| a.as_str()),
            Some("eidas1")
        );
        assert_eq!(claims.additional_claims().auth_mode, "TEST");
        // The key is a published RSA key for exactly this algorithm.
        let key = id_token.signing_key(&verifier).expect("key in the JWKS");
        assert_eq!(
            key.key_type(),
            &openidconnect::core::CoreJsonWebKeyType::RSA
        );
        assert_at_hash(id_token, &verifier, &token, None);

        // Only the registered algorithm is accepted by a strict verifier.
        let es_only = client
            .id_token_verifier()
            .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        assert!(id_token.claims(&es_only, &nonce).is_err(), "{id}");
    }
});

// ---------------------------------------------------------------- HS256 ID tokens

both_dbs!(
    hs256_id_token_verified_with_client_secret,
    |db| async move {
        let s = TestServer::start(db).await;
        let mut spec = rp_spec("rp-hs256");
        spec.id_token_signed_response_alg = Some(SigAlg::HS256);
        s.add_client("edit", spec, Some(SECRET)).await;
        let http = Http::new();
        let meta = discover(&s, &http).await;
        assert!(
            meta.id_token_signing_alg_values_supported()
                .contains(&CoreJwsSigningAlgorithm::HmacSha256)
        );
        let client = client_for(&meta, "rp-hs256", SECRET);
        let b = s.browser();
        let authorized = authorize(&s, &b, &client).await;
        let (token, nonce) = redeem_with_library(&meta, &client, &http, authorized).await;
        let id_token = token.id_token().expect("ID token").clone();
        assert_eq!(
            *id_token.signing_alg().expect("alg"),
            CoreJwsSigningAlgorithm::HmacSha256
        );

        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new("rp-hs256".into()),
            ClientSecret::new(SECRET.into()),
            meta.issuer().clone(),
            meta.jwks().clone(),
        )
        .set_allowed_algs([CoreJwsSigningAlgorithm::HmacSha256]);
        let claims = id_token
            .claims(&verifier, &nonce)
            .expect("ID token verified with the client secret");
        assert_eq!(claims.audiences()[0].as_str(), "rp-hs256");
        assert_eq!(claims.subject().as_str(), expected_sub());
        assert_eq!(
            claims.auth_context_ref().map(|a| a.as_str()),
            Some("eidas1")
        );
        assert_eq!(claims.additional_claims().auth_mode, "TEST");
        let hmac_key = CoreJsonWebKey::new_symmetric(SECRET.as_bytes().to_vec());
        assert_at_hash(&id_token, &verifier, &token, Some(&hmac_key));

        // Another secret does not verify it, and a public client may not accept HS256 at all.
        let wrong = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new("rp-hs256".into()),
            ClientSecret::new("another-secret-0123456789abcdef0123456789".into()),
            meta.issuer().clone(),
            meta.jwks().clone(),
        )
        .set_allowed_algs([CoreJwsSigningAlgorithm::HmacSha256]);
        assert!(id_token.claims(&wrong, &nonce).is_err());
        let public = CoreIdTokenVerifier::new_public_client(
            ClientId::new("rp-hs256".into()),
            meta.issuer().clone(),
            meta.jwks().clone(),
        )
        .set_allowed_algs([CoreJwsSigningAlgorithm::HmacSha256]);
        assert!(id_token.claims(&public, &nonce).is_err());

        // The HS256 ID token works as id_token_hint for RP-initiated logout.
        let end_session = meta
            .additional_metadata()
            .end_session_endpoint
            .clone()
            .expect("end_session_endpoint");
        let logout_url = LogoutRequest::from(end_session)
            .set_id_token_hint(&id_token)
            .set_post_logout_redirect_uri(
                PostLogoutRedirectUrl::new(POST_LOGOUT.into()).expect("post-logout URI"),
            )
            .set_state(CsrfToken::new("hs-bye".into()))
            .http_get_url();
        let r = b.http.get(logout_url).send().await.expect("logout");
        assert_eq!(r.status().as_u16(), 302);
        let back = location(&r);
        assert_eq!(without_query(&back), POST_LOGOUT);
        assert_eq!(param(&back, "state").as_deref(), Some("hs-bye"));
    }
);
