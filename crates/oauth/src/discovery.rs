//! The OpenID provider metadata document (OIDC Discovery 1.0, RFC 8414), under
//! Keycloak-compatible endpoint paths so that existing PSC connectors work unchanged.

use super::acr::Acr;
use super::realm::{AuthMethod, Realm};
use serde_json::{Value, json};

/// Endpoint URLs of a realm.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Authorization.
    pub authorization: String,
    /// Token.
    pub token: String,
    /// Userinfo.
    pub userinfo: String,
    /// JWKS.
    pub jwks: String,
    /// End session.
    pub logout: String,
    /// Introspection.
    pub introspection: String,
    /// Revocation.
    pub revocation: String,
    /// CIBA authentication requests (Keycloak's path).
    pub backchannel_authentication: String,
}

impl Endpoints {
    /// The endpoints below `issuer`.
    pub fn of(issuer: &str) -> Self {
        let b = format!("{issuer}/protocol/openid-connect");
        Self {
            authorization: format!("{b}/auth"),
            token: format!("{b}/token"),
            userinfo: format!("{b}/userinfo"),
            jwks: format!("{b}/certs"),
            logout: format!("{b}/logout"),
            introspection: format!("{b}/token/introspect"),
            revocation: format!("{b}/revoke"),
            backchannel_authentication: format!("{b}/ext/ciba/auth"),
        }
    }
}

/// The scopes coeur understands.
pub const SCOPES: &[&str] = &[
    "openid",
    "scope_all",
    "profile",
    "email",
    "phone",
    "address",
    "offline_access",
];

/// The acr values some login method of `realm` yields, lowest first.
pub fn acr_values(realm: &Realm) -> Vec<&'static str> {
    Acr::ALL
        .into_iter()
        .filter(|a| realm.auth_methods.iter().any(|m| realm.acr.of(*m) == *a))
        .map(Acr::as_str)
        .collect()
}

/// The discovery document of `realm`; `mtls_base` is the base URL of the mutual-TLS listener
/// (RFC 8705 endpoint aliases).
pub fn document(realm: &Realm, mtls_base: &str) -> Value {
    let m = Endpoints::of(&format!(
        "{}/auth/realms/{}",
        mtls_base.trim_end_matches('/'),
        realm.name
    ));
    let e = Endpoints::of(&realm.issuer);
    let mut algs: Vec<&str> = realm.signing_algs.iter().map(|a| a.as_str()).collect();
    algs.push("HS256");
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "tls_client_auth",
    ];
    let token_auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "tls_client_auth",
        "none",
    ];
    let assertion_algs = ["ES256", "PS256", "RS256"];
    let mut doc = json!({
        "issuer": realm.issuer,
        "authorization_endpoint": e.authorization,
        "token_endpoint": e.token,
        "userinfo_endpoint": e.userinfo,
        "jwks_uri": e.jwks,
        "end_session_endpoint": e.logout,
        "introspection_endpoint": e.introspection,
        "revocation_endpoint": e.revocation,
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": token_auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
            "at_hash", "authMode", "preferred_username", "name", "given_name", "family_name",
            "email", "email_verified", "phone_number", "phone_number_verified", "address",
            "SubjectNameID", "SubjectRefPro", "SubjectRole", "SubjectOrganization",
            "SubjectOrganizationID", "Secteur_Activite", "PSI_Locale",
            "Palier_Authentification", "otherIds", "codeCivilite", "Acces_Regulation_Medicale",
            "Mode_Acces_Raison", "UITVersion", "codeGenreActivite", "jti"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "acr_values_supported": acr_values(realm),
        // The pages speak French, and English when asked.
        "ui_locales_supported": ["fr-FR", "en"],
        "claims_locales_supported": ["fr-FR"],
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        // Back-Channel Logout 1.0, with `sid` in every Logout Token.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "tls_client_certificate_bound_access_tokens": true,
        "mtls_endpoint_aliases": {
            "token_endpoint": m.token,
            "userinfo_endpoint": m.userinfo,
            "introspection_endpoint": m.introspection,
            "revocation_endpoint": m.revocation,
        },
    });
    // CIBA, where the realm offers one of its channels (the e-CPS devices, the card).
    if realm
        .auth_methods
        .iter()
        .any(|m| matches!(m, AuthMethod::Ecps | AuthMethod::Card))
    {
        let d = doc.as_object_mut().expect("an object");
        d.insert(
            "backchannel_authentication_endpoint".into(),
            e.backchannel_authentication.clone().into(),
        );
        d.insert(
            "backchannel_token_delivery_modes_supported".into(),
            json!(["poll", "ping"]),
        );
        d.insert(
            "backchannel_authentication_request_signing_alg_values_supported".into(),
            json!(assertion_algs),
        );
        d.insert(
            "backchannel_user_code_parameter_supported".into(),
            false.into(),
        );
        doc["grant_types_supported"]
            .as_array_mut()
            .expect("an array")
            .push(crate::ciba::GRANT_TYPE.into());
        doc["mtls_endpoint_aliases"]["backchannel_authentication_endpoint"] =
            m.backchannel_authentication.into();
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_consistent() {
        let r = Realm::parse(
            "edit.toml",
            "name=\"edit\"\nsandbox=true\nauth_methods=[\"test\"]\n",
            "https://idp.example",
        )
        .unwrap();
        let d = document(&r, "https://idp.example:8443");
        assert_eq!(d["issuer"], "https://idp.example/auth/realms/edit");
        for k in [
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
        ] {
            let v = d[k].as_str().unwrap();
            assert!(
                v.starts_with("https://idp.example/auth/realms/edit/protocol/openid-connect/"),
                "{k}"
            );
        }
        assert!(
            d["scopes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "openid")
        );
        assert!(
            !d["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "none")
        );
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        // Only what works: the test login yields eidas1; the pages are French and English;
        // no CIBA channel (neither card nor e-CPS) in this realm.
        assert_eq!(d["acr_values_supported"], json!(["eidas1"]));
        assert_eq!(d["ui_locales_supported"], json!(["fr-FR", "en"]));
        assert!(d.get("backchannel_authentication_endpoint").is_none());
        assert_eq!(d["backchannel_logout_supported"], true);
        assert_eq!(d["backchannel_logout_session_supported"], true);
        assert_eq!(d["frontchannel_logout_supported"], false);
        assert!(d.get("display_values_supported").is_none());
        for endpoint in ["introspection", "revocation"] {
            let methods = &d[format!("{endpoint}_endpoint_auth_methods_supported")];
            assert!(
                methods
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m == "tls_client_auth"),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn acr_values_are_those_the_realm_methods_yield() {
        let r = Realm::parse(
            "r.toml",
            "name=\"r\"\nauth_methods=[\"card\",\"franceconnect\"]\n[acr]\ncard=\"eidas3\"\n",
            "https://idp.example",
        )
        .unwrap();
        assert_eq!(acr_values(&r), ["eidas1", "eidas3"]);
    }
}
