//! e-CPS: enrolment of a device with an activation code shown after presenting a virtual CPS
//! card on the card listener, the device API (pending requests, signed decisions, devices,
//! revocation), the wallet's `method=ecps` login approved or denied by the device, and every
//! refusal leaving the request and the devices as they were.

use crate::both_dbs;
pub(crate) use crate::card::{
    card, card_client, first_card_clean, identity, redeem_in, root_pem, stranger, wallet,
};
use crate::support::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coeur::common::identity::Identity;
use coeur::oauth::ecps::{Challenge, Decision};
use serde_json::{Value, json};

pub(crate) mod cli;
pub(crate) mod contact;
mod login;
mod refusals;

/// A test's e-CPS device: its key and credential.
pub(crate) struct Device {
    pub(crate) key: EcdsaKeyPair,
    pub(crate) id: String,
    pub(crate) credential: String,
}

/// A new P-256 key pair, as a device makes it.
pub(crate) fn device_key() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("key")
}

/// The URL of the e-CPS API's `path` in `realm`.
pub(crate) fn api(s: &TestServer, realm: &str, path: &str) -> String {
    format!("{}/auth/realms/{realm}/ecps/{path}", s.base)
}

/// Presents `who`'s virtual card on the card listener's enrolment page: the activation code
/// it shows (as text; the page carries it as an inline SVG QR code too).
pub(crate) async fn activation_code(s: &TestServer, who: &Identity) -> String {
    let root = root_pem(s).await;
    let c = card(s, who).await;
    let client = card_client(&root, Some(&c.auth.identity_pem));
    let url = format!("{}/auth/realms/edit/ecps/enrol", s.card_base());
    let r = client.get(&url).send().await.expect("enrol page");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("page");
    assert!(html.contains("<svg"), "a QR code: {html}");
    assert!(html.contains(&fr("ecps.enrol.title")), "{html}");
    let code = html
        .split_once("id=\"activation-code\">")
        .and_then(|(_, rest)| rest.split_once('<'))
        .map(|(c, _)| c.to_owned())
        .expect("the code in text");
    assert!(code.contains('.') && code.len() == 21, "{code}");
    code
}

/// Enrols a new device with `code`: the raw answer.
pub(crate) async fn enrol_with(
    s: &TestServer,
    code: &str,
    key: &EcdsaKeyPair,
) -> reqwest::Response {
    http()
        .post(api(s, "edit", "devices"))
        .json(&json!({
            "activation_code": code,
            "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
            "name": "Test phone",
        }))
        .send()
        .await
        .expect("enrol")
}

/// A device enrolled for `who` through their card.
pub(crate) async fn enrolled(s: &TestServer, who: &Identity) -> Device {
    let code = activation_code(s, who).await;
    let key = device_key();
    let r = enrol_with(s, &code, &key).await;
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.expect("JSON");
    Device {
        key,
        id: v["device_id"].as_str().expect("device_id").to_owned(),
        credential: v["credential"].as_str().expect("credential").to_owned(),
    }
}

impl Device {
    /// GETs an API path with this device's credential.
    pub(crate) async fn get(&self, s: &TestServer, path: &str) -> reqwest::Response {
        http()
            .get(api(s, "edit", path))
            .bearer_auth(&self.credential)
            .send()
            .await
            .expect("device API")
    }

    /// The pending requests this device sees.
    pub(crate) async fn pending(&self, s: &TestServer) -> Vec<Value> {
        let r = self.get(s, "requests").await;
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.expect("JSON");
        v["requests"].as_array().expect("requests").clone()
    }

    /// Signs `decision` over a pending request as listed (the challenge rebuilt from its fields).
    pub(crate) fn sign(&self, req: &Value, decision: Decision) -> String {
        let c = Challenge {
            realm: req["realm"].as_str().expect("realm"),
            request_id: req["id"].as_str().expect("id"),
            decision,
            client_id: req["client_id"].as_str().expect("client_id"),
            binding_message: req["binding_message"].as_str(),
            nonce: req["nonce"].as_str().expect("nonce"),
            expires_at: req["expires_at"].as_i64().expect("expires_at"),
        };
        let text = c.signed_text().expect("signable");
        assert_eq!(
            req["signed_text"][decision.as_str()].as_str(),
            Some(text.as_str())
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), text.as_bytes())
            .expect("signature");
        URL_SAFE_NO_PAD.encode(sig.as_ref())
    }

    /// Posts a decision body on request `id`.
    pub(crate) async fn decide_raw(
        &self,
        s: &TestServer,
        id: &str,
        body: &str,
    ) -> reqwest::Response {
        http()
            .post(api(s, "edit", &format!("requests/{id}")))
            .bearer_auth(&self.credential)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("decide")
    }

    /// Decides on `req` with this device's own signature.
    pub(crate) async fn decide(
        &self,
        s: &TestServer,
        req: &Value,
        decision: Decision,
    ) -> reqwest::Response {
        let body = json!({ "decision": decision.as_str(), "signature": self.sign(req, decision) });
        self.decide_raw(s, req["id"].as_str().expect("id"), &body.to_string())
            .await
    }
}

/// Starts an e-CPS login of `rp` for `national_id` in a new browser: the browser and the
/// waiting page's URL.
pub(crate) async fn start_login(s: &TestServer, national_id: &str) -> (Browser, String) {
    let b = s.browser();
    let page = wallet(s, &b, "edit").await;
    let r = b.login(&s.base, &page, national_id, "ecps").await;
    assert_eq!(r.status().as_u16(), 303, "to the waiting page");
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    assert!(
        to.contains("/protocol/openid-connect/auth/ecps?request="),
        "{to}"
    );
    (b, format!("{}{to}", s.base))
}

/// The waiting page as the browser sees it now: status and body (or Location).
pub(crate) async fn check(b: &Browser, url: &str) -> (u16, String) {
    let r = b.http.get(url).send().await.expect("waiting page");
    let status = r.status().as_u16();
    if status == 303 {
        return (status, location(&r).to_string());
    }
    (status, r.text().await.unwrap_or_default())
}

/// The claims of a JWT, unverified (the signature is checked by the card tests' helpers).
pub(crate) fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// The request id in a waiting page URL.
pub(crate) fn request_of(waiting: &str) -> String {
    param(&url::Url::parse(waiting).expect("URL"), "request").expect("request")
}

/// The sandbox identity the tests log in as.
pub(crate) async fn me(s: &TestServer) -> Identity {
    identity(s, NATIONAL_ID).await
}
