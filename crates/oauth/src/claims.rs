//! What tokens and userinfo say: ID token and access token claims, and the userinfo document
//! per scope, with PSC's field names for `scope_all` (shared reference psc.md §2.2).

use crate::client::Client;
use coeur_common::identity::{IdOrigin, Identity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// OID of the profession nomenclature used in `SubjectRole` (`code^OID`).
pub const PROFESSION_OID: &str = "1.2.250.1.213.1.1.5.5";
/// OID of the activity-sector nomenclature used in `Secteur_Activite`.
pub const SECTOR_OID: &str = "1.2.250.1.71.4.2.4";

/// Claims of an ID token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience (the client id).
    pub aud: String,
    /// Authorized party.
    pub azp: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// Authentication time.
    pub auth_time: i64,
    /// Nonce from the request.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    /// Level.
    pub acr: String,
    /// Methods (RFC 8176).
    pub amr: Vec<String>,
    /// Session id.
    pub sid: String,
    /// Access token hash.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at_hash: Option<String>,
    /// PSC: how the user authenticated (`CARD`, `MOBILE`, …).
    #[serde(rename = "authMode")]
    pub auth_mode: String,
    /// PSC: the national identifier (with `scope_all`).
    #[serde(
        rename = "SubjectNameID",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub subject_name_id: Option<String>,
    /// The national identifier as username (with `scope_all` or `profile`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preferred_username: Option<String>,
}

/// Claims of a JWT access token (RFC 9068).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's `sub`, or the client id for client credentials.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Client.
    pub client_id: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// Authentication time (user tokens).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// Level (user tokens).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// Session id (user tokens).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// The grant (code redemption and its refresh chain) this token belongs to; revoking
    /// the grant revokes the token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gid: Option<String>,
    /// The national identifier (user tokens).
    #[serde(
        rename = "SubjectNameID",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub subject_name_id: Option<String>,
    /// Confirmation: the certificate the token is bound to (RFC 8705 §3.1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
}

impl AccessTokenClaims {
    /// Whether introspection may describe this token to `caller` (RFC 7662 §4): the client it
    /// was issued to, or a client registered as resource server for its audience.
    pub fn introspectable_by(&self, caller: &Client) -> bool {
        self.client_id == caller.id() || caller.spec.resource_server_for.contains(&self.aud)
    }
}

/// The `cnf` claim of a certificate-bound token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 thumbprint of the certificate.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

fn has(scopes: &[String], s: &str) -> bool {
    scopes.iter().any(|x| x == s)
}

/// The userinfo document for `identity` and the granted `scopes`.
pub fn userinfo(
    sub: &str,
    identity: &Identity,
    scopes: &[String],
    auth_mode: Option<&str>,
) -> Value {
    let mut m = Map::new();
    m.insert("sub".into(), sub.into());
    let id = identity.national_id.as_str();
    if has(scopes, "profile") || has(scopes, "scope_all") {
        m.insert("preferred_username".into(), id.into());
        m.insert("given_name".into(), identity.given_name.clone().into());
        m.insert("family_name".into(), identity.family_name.clone().into());
    }
    if has(scopes, "profile") {
        m.insert(
            "name".into(),
            format!("{} {}", identity.given_name, identity.family_name).into(),
        );
    }
    if has(scopes, "email") {
        if let Some(e) = &identity.email {
            m.insert("email".into(), e.clone().into());
        }
        m.insert("email_verified".into(), false.into());
    }
    if has(scopes, "phone")
        && let Some(p) = &identity.phone
    {
        m.insert("phone_number".into(), p.clone().into());
        m.insert("phone_number_verified".into(), false.into());
    }
    if has(scopes, "address")
        && let Some(a) = identity
            .exercices
            .first()
            .and_then(|e| e.activities.first())
    {
        let street = format!(
            "{} {} {}",
            a.numero_voie,
            street_type(&a.code_type_de_voie),
            a.libelle_voie
        );
        let locality = a
            .bureau_cedex
            .trim_start_matches(a.code_postal.as_str())
            .trim()
            .to_owned();
        m.insert(
            "address".into(),
            json!({
                "formatted": format!("{street}\n{} {locality}\nFrance", a.code_postal),
                "street_address": street,
                "postal_code": a.code_postal,
                "locality": locality,
                "country": "FR",
            }),
        );
    }
    if has(scopes, "scope_all") {
        psc_claims(&mut m, identity, auth_mode);
    }
    Value::Object(m)
}

fn street_type(code: &str) -> &'static str {
    match code {
        "R" => "RUE",
        "AV" => "AVENUE",
        "BD" => "BOULEVARD",
        "PL" => "PLACE",
        _ => "",
    }
}

/// PSC's `scope_all` claims.
fn psc_claims(m: &mut Map<String, Value>, identity: &Identity, auth_mode: Option<&str>) {
    let id = identity.national_id.as_str();
    m.insert("SubjectNameID".into(), id.into());
    m.insert("email_verified".into(), false.into());
    m.insert("codeCivilite".into(), identity.civilite.clone().into());
    let first_activity = identity
        .exercices
        .iter()
        .flat_map(|e| e.activities.iter())
        .next();
    m.insert(
        "SubjectOrganization".into(),
        first_activity
            .map(|a| a.raison_sociale_site.clone())
            .unwrap_or_default()
            .into(),
    );
    m.insert(
        "SubjectOrganizationID".into(),
        first_activity
            .map(|a| a.identifiant_technique_de_la_structure.clone())
            .unwrap_or_default()
            .into(),
    );
    m.insert(
        "Secteur_Activite".into(),
        first_activity
            .map(|a| format!("{}^{SECTOR_OID}", a.code_secteur_dactivite))
            .unwrap_or_default()
            .into(),
    );
    m.insert(
        "codeGenreActivite".into(),
        first_activity
            .map(|a| a.code_genre_activite.clone())
            .unwrap_or_default()
            .into(),
    );
    let roles: Vec<Value> = identity
        .exercices
        .iter()
        .map(|e| Value::String(format!("{}^{PROFESSION_OID}", e.code_profession)))
        .collect();
    m.insert("SubjectRole".into(), Value::Array(roles));
    m.insert("PSI_Locale".into(), "1.2.250.1.213.1.3.1.1".into());
    m.insert(
        "Palier_Authentification".into(),
        "APPPRIP3^1.2.250.1.213.1.5.1.1.1".into(),
    );
    m.insert("Acces_Regulation_Medicale".into(), "FAUX".into());
    m.insert("Mode_Acces_Raison".into(), "".into());
    m.insert("UITVersion".into(), "1.0".into());
    // An EDIT test identity is `EDIT` by its form, whatever was stored with it.
    let origine = match identity.national_id.origin() {
        IdOrigin::Edit => IdOrigin::Edit.as_str(),
        IdOrigin::Rpps | IdOrigin::Structure => identity.origin.as_str(),
    };
    m.insert(
        "otherIds".into(),
        json!([{ "identifiant": id, "origine": origine, "qualite": 1 }]),
    );
    m.insert(
        "SubjectRefPro".into(),
        json!({ "codeCivilite": identity.civilite, "exercices": identity.exercices }),
    );
    if let Some(mode) = auth_mode {
        m.insert("authMode".into(), mode.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coeur_common::identity::generate_test_identities;

    #[test]
    fn only_the_tokens_client_and_its_resource_servers_introspect_it() {
        let spec = |id: &str, rs: &[&str]| {
            let mut spec: crate::client::ClientSpec =
                serde_json::from_value(json!({ "client_id": id })).unwrap();
            spec.resource_server_for = rs.iter().map(|s| (*s).to_owned()).collect();
            Client {
                spec,
                secret_hash: None,
                hmac_secret: None,
                jwks: None,
            }
        };
        let at = AccessTokenClaims {
            iss: "https://idp.example".into(),
            sub: "s".into(),
            aud: "rp".into(),
            client_id: "rp".into(),
            exp: 2,
            iat: 1,
            jti: "j".into(),
            scope: "openid".into(),
            auth_time: None,
            acr: None,
            sid: None,
            gid: None,
            subject_name_id: None,
            cnf: None,
        };
        assert!(at.introspectable_by(&spec("rp", &[])));
        assert!(at.introspectable_by(&spec("rs", &["rp"])));
        assert!(!at.introspectable_by(&spec("rp2", &[])));
        assert!(!at.introspectable_by(&spec("rs2", &["other"])));
    }

    #[test]
    fn scope_all_has_psc_shape() {
        let i = &generate_test_identities(1, 1)[0];
        let u = userinfo(
            "sub-1",
            i,
            &["openid".into(), "scope_all".into()],
            Some("CARD"),
        );
        assert_eq!(u["SubjectNameID"], "899700218896");
        assert_eq!(u["preferred_username"], "899700218896");
        let role = u["SubjectRole"][0].as_str().unwrap();
        assert!(role.ends_with("^1.2.250.1.213.1.1.5.5"), "{role}");
        let act = &u["SubjectRefPro"]["exercices"][0]["activities"][0];
        assert!(act.get("codeModeExercice").is_some());
        assert!(act.get("numeroFinessetablissementJuridique").is_some());
        assert!(act.get("identifiantTechniqueDeLaStructure").is_some());
        // PSC's shape: a list of objects; identifiant is the national identifier itself.
        assert_eq!(
            u["otherIds"],
            json!([{ "identifiant": "899700218896", "origine": "RPPS", "qualite": 1 }])
        );
        assert!(u.get("email").is_none(), "email only with the email scope");
    }

    #[test]
    fn edit_identities_are_edit_in_other_ids() {
        let mut i = coeur_common::identity::edit_test_identities().remove(0);
        let scopes = ["openid".to_owned(), "scope_all".to_owned()];
        let u = userinfo("sub-1", &i, &scopes, None);
        assert_eq!(u["preferred_username"], "ANS20231122132732");
        assert_eq!(u["SubjectNameID"], "ANS20231122132732");
        assert_eq!(
            u["otherIds"],
            json!([{ "identifiant": "ANS20231122132732", "origine": "EDIT", "qualite": 1 }])
        );
        // Even if the stored origin says otherwise.
        i.origin = "RPPS".into();
        let u = userinfo("sub-1", &i, &scopes, None);
        assert_eq!(u["otherIds"][0]["origine"], "EDIT");
    }

    #[test]
    fn userinfo_reads_back_as_the_same_identity() {
        // What `coeur identity add --json` accepts is what userinfo gives (but birth data).
        use coeur_common::identity::import::identity_from_psc;
        let scopes: Vec<String> = ["openid", "scope_all", "email", "phone"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let identities = generate_test_identities(5, 20)
            .into_iter()
            .filter(|i| i.active)
            .chain(coeur_common::identity::edit_test_identities());
        for mut i in identities {
            let u = userinfo("s", &i, &scopes, Some("CARD"));
            // Birth data, compared with FranceConnect's pivot identity only, is never given.
            for k in ["birthdate", "birthplace", "birthcountry", "birth_date"] {
                assert!(u.get(k).is_none(), "{k}: {u}");
            }
            (i.birth_date, i.birth_place, i.birth_country) = (None, None, None);
            assert_eq!(
                identity_from_psc(&u, None).as_ref(),
                Ok(&i),
                "{}",
                i.national_id
            );
        }
    }

    #[test]
    fn standard_scopes() {
        let i = &generate_test_identities(1, 1)[0];
        let u = userinfo("s", i, &["openid".into()], None);
        assert_eq!(u.as_object().unwrap().len(), 1);
        let u = userinfo(
            "s",
            i,
            &[
                "openid".into(),
                "profile".into(),
                "email".into(),
                "phone".into(),
                "address".into(),
            ],
            None,
        );
        for k in [
            "name",
            "given_name",
            "family_name",
            "email",
            "phone_number",
            "address",
        ] {
            assert!(u.get(k).is_some(), "{k}");
        }
        assert!(u.get("SubjectRefPro").is_none());
    }
}
