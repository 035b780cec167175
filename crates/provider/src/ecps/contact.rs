//! Enrolment by contact details, `POST /auth/realms/{realm}/ecps/activations` on the main
//! listener with `{"national_id": "…"}` (JSON, or the same as a form): for a professional
//! without their card. When the identity may have one ([`contact::route`]: known, active,
//! admissible in the realm, with an e-mail address and a phone), an activation is recorded
//! (kind `contact`, valid [`CONTACT_ACTIVATION_TTL`]) and, once committed, its first code
//! goes by e-mail (with a link to the web app) and its second by SMS, from a spawned task.
//! A device enrols with both (`POST …/ecps/devices` with `activation_code` and
//! `second_code`); the e-mail alone never activates.
//!
//! No enumeration: the answer (`202 {"expires_in": …}`) and the work done (the identity
//! read, an activation written) are the same whatever the national id; an activation for
//! an identity that cannot receive it is written all the same, and its codes go nowhere.
//! Rate-limited per source address and per national id like other enrolments, and more
//! tightly per national id (a professional's mailbox and phone are not to be flooded).

use super::api::{bad_request, json_body, realm_of};
use super::limiter::Rule;
use super::{ApiError, Attempt, limit, source};
use crate::St;
use crate::delivery::Mail;
use crate::store::NewActivation;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coeur_common::identity::{Identity, NationalId};
use coeur_oauth::ecps::contact::{self, CONTACT_ACTIVATION_TTL, ContactCodes, ContactRoute};
use coeur_oauth::jose::token_hash;
use coeur_web::listener::PeerAddr;
use coeur_web::{Lang, Text, form_pairs, request_lang};
use serde::Deserialize;
use serde_json::json;

/// Activations by contact details one national id may ask for per quarter of an hour.
const PER_NATIONAL_ID: Rule = Rule {
    max: 3,
    window: 15 * 60,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationBody {
    national_id: String,
}

/// The national id of the body: JSON `{"national_id"}` or the form field `national_id`.
fn national_id_of(headers: &HeaderMap, body: &[u8]) -> Result<NationalId, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let typed = if form {
        let pairs = form_pairs(body);
        if pairs.iter().any(|(k, _)| k != "national_id") || pairs.len() != 1 {
            return Err(bad_request("the form has one field, national_id"));
        }
        pairs[0].1.clone()
    } else {
        json_body::<ActivationBody>(body)?.national_id
    };
    NationalId::parse(typed.trim()).map_err(|e| bad_request(format!("national_id: {e}")))
}

/// `POST …/ecps/activations`.
pub(crate) async fn request_activation(
    st: St,
    Path(realm): Path<String>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rt = realm_of(&st, &realm)?;
    let national_id = national_id_of(&headers, &body)?;
    let from = source(&st, peer.as_deref(), &headers);
    limit(
        &st,
        &rt.realm,
        Attempt::Enrolment,
        &from,
        Some(national_id.as_str()),
    )
    .map_err(ApiError::rate_limited)?;
    let now = st.now();
    st.ecps_limits
        .hit(
            &format!("contact:nid:{}:{}", rt.realm.name, national_id.as_str()),
            PER_NATIONAL_ID,
            now,
        )
        .map_err(ApiError::rate_limited)?;
    let identity = st
        .store
        .identity(&rt.realm.name, national_id.as_str())
        .await?;
    let route = contact::route(identity.as_ref(), rt.realm.environment());
    let codes = contact::new_codes(&*st.rng);
    st.store
        .create_activation(&NewActivation {
            code_hash: &token_hash(&codes.mail),
            second_code_hash: &token_hash(&codes.sms),
            realm: &rt.realm.name,
            national_id: national_id.as_str(),
            kind: "contact",
            created_at: now,
            expires_at: now + CONTACT_ACTIVATION_TTL,
        })
        .await?;
    if let (Some(route), Some(who)) = (route, identity.as_ref()) {
        let lang = request_lang(&headers, None);
        let link = format!(
            "{}/auth/realms/{}/ecps/app/#activate={}",
            st.urls.public_url, rt.realm.name, codes.mail
        );
        let (mail, sms) = messages(&rt.realm.display_name, who, &route, &codes, &link, lang);
        st.delivery
            .spawn_both("e-CPS activation", mail, route.sms_to().to_owned(), sms);
    }
    tracing::info!(realm = %rt.realm.name, "e-CPS activation by contact details requested");
    let out = json!({ "expires_in": CONTACT_ACTIVATION_TTL });
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}

/// The e-mail (the first code, in text and in a link to the web app) and the SMS text (the
/// second code), in `lang`, from the catalogues.
fn messages(
    realm: &str,
    who: &Identity,
    route: &ContactRoute,
    codes: &ContactCodes,
    link: &str,
    lang: Lang,
) -> (Mail, String) {
    let minutes = CONTACT_ACTIVATION_TTL / 60;
    let subject = Text::new("ecps.contact.mail_subject")
        .arg("realm", realm)
        .in_lang(lang);
    let body = Text::new("ecps.contact.mail_body")
        .arg("name", format!("{} {}", who.given_name, who.family_name))
        .arg("link", link)
        .arg("code", &codes.mail)
        .arg("minutes", minutes)
        .in_lang(lang);
    let sms = Text::new("ecps.contact.sms")
        .arg("code", &codes.sms)
        .arg("minutes", minutes)
        .in_lang(lang);
    let mail = Mail {
        to: route.email().to_owned(),
        subject,
        body,
    };
    (mail, sms)
}
