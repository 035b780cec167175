//! Enrolment by card: on the card listener, the professional presents their CPS card (checked
//! as for a card login) and gets an activation code, as a QR code and in text, valid
//! [`ACTIVATION_TTL`] seconds, to give to the device being enrolled. The QR code is a link to
//! the web app carrying the code (`…/ecps/app/#activate=CODE`).

use super::{Attempt, limit, source};
use crate::St;
use crate::error::ProviderError;
use crate::login::card::{card_holder, refused};
use crate::store::NewActivation;
use axum::Extension;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coeur_common::random::token as random_token;
use coeur_oauth::ecps::ACTIVATION_TTL;
use coeur_oauth::jose::token_hash;
use coeur_web::listener::PeerAddr;
use coeur_web::mtls::PeerCertificate;
use coeur_web::{Text, localized_page};

/// The characters of each part of an activation code (base64url: 60 bits, then 60 bits).
const PART: usize = 10;

/// `GET /auth/realms/{realm}/ecps/enrol` on the card listener.
pub(crate) async fn enrol_page(
    st: St,
    Path(realm): Path<String>,
    Extension(peer): Extension<PeerCertificate>,
    addr: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
) -> Result<Response, ProviderError> {
    let Some(rt) = st.realm(&realm).cloned() else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            Text::new("error.unknown_realm.message"),
        ));
    };
    let Some(cert) = peer.0 else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            Text::new("card.no_certificate"),
        ));
    };
    let (national_id, valid) = card_holder(&st, &rt, &cert).await?;
    if let Err(wait) = limit(
        &st,
        &rt.realm,
        Attempt::Enrolment,
        &source(&st, addr.as_deref(), &headers),
        Some(national_id.as_str()),
    ) {
        return Err(ProviderError::page(
            StatusCode::TOO_MANY_REQUESTS,
            Text::new("ecps.enrol.title"),
            Text::new("ecps.too_many").arg("seconds", wait),
        ));
    }
    let now = st.now();
    let first: String = random_token(&*st.rng).chars().take(PART).collect();
    let second: String = random_token(&*st.rng).chars().take(PART).collect();
    st.store
        .create_activation(&NewActivation {
            code_hash: &token_hash(&first),
            second_code_hash: &token_hash(&second),
            realm: &rt.realm.name,
            national_id: national_id.as_str(),
            kind: "card",
            created_at: now,
            expires_at: now + ACTIVATION_TTL,
        })
        .await?;
    tracing::info!(realm = %rt.realm.name, ca = %valid.ca_id, serial = %valid.serial, "e-CPS activation code issued");
    let code = format!("{first}.{second}");
    // The QR code opens the web app with the code in the fragment (never sent to a server);
    // the text code stays for `coeur ecps` and for typing.
    let app_url = format!(
        "{}/auth/realms/{}/ecps/app/#activate={code}",
        st.urls.public_url, rt.realm.name
    );
    Ok(localized_page(
        StatusCode::OK,
        "ecps_enrol.html",
        minijinja::context! {
            realm => rt.realm.display_name,
            qr => minijinja::Value::from_safe_string(qr_svg(&app_url)?),
            app_url,
            code,
            seconds => ACTIVATION_TTL,
            server => st.urls.public_url,
            realm_name => rt.realm.name,
        },
    ))
}

/// `text` as a QR code, an inline `<svg>` element (the pages' policy allows no image URL).
fn qr_svg(text: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .build();
    // Inline in HTML: without the XML declaration.
    Ok(svg
        .find("<svg")
        .map_or(svg.clone(), |i| svg[i..].to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_qr_code_is_an_inline_svg() {
        let svg = super::qr_svg("abc.def").unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"), "{svg}");
    }
}
