//! The CA hierarchy and the certificate profiles, read from `pki/*.toml`.

use super::dn::Dn;
use super::layout::{self, Layout, LayoutError, LayoutFile, LayoutVars};
use serde::Deserialize;
use std::fmt;

/// A key type for CAs and subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// RSA 2048.
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
}

impl KeyType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Rsa4096 => "rsa4096",
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
        }
    }
    /// The rcgen signature algorithm a key of this type signs with.
    pub fn sig_alg(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
            KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
    /// Whether this is an RSA type.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }
}

/// Which population a CA serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Natural persons (cards).
    Personnes,
    /// Organisations and servers.
    Organisations,
    /// Any issuing CA (e.g. OCSP responders).
    Any,
}

/// A CA of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct CaDef {
    /// Identifier (file naming, URLs), e.g. `ACI-EL-ORG-TEST`.
    pub id: String,
    /// Parent CA id; `None` for a root.
    pub parent: Option<String>,
    /// Common name.
    pub cn: String,
    /// Population served (issuing CAs).
    pub domain: Option<Domain>,
    /// Key type.
    pub key: KeyType,
    /// Validity.
    pub validity_days: i64,
    /// Whether this is a TEST CA.
    pub test: bool,
}

impl CaDef {
    /// The environment the CA serves: a TEST CA the sandbox only, a production CA production
    /// only.
    pub fn environment(&self) -> coeur_common::environment::Environment {
        coeur_common::environment::Environment::of_sandbox(self.test)
    }

    /// Whether it is a root.
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HierarchyFile {
    name: String,
    organization: String,
    organization_identifier: String,
    #[serde(default = "default_label")]
    label: String,
    base_url: String,
    ldap_url: String,
    policy_oid: String,
    cps_uri: String,
    #[serde(default)]
    ldap: LayoutFile,
    ca: Vec<CaFile>,
}

fn default_label() -> String {
    "IGC-SANTE".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaFile {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    cn: String,
    #[serde(default)]
    domain: Option<Domain>,
    key: KeyType,
    validity_days: i64,
}

/// A validated hierarchy, production CAs and their TEST twins.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// Name.
    pub name: String,
    /// O of every CA.
    pub organization: String,
    /// First OU (organisation identifier).
    pub organization_identifier: String,
    /// Second OU (`IGC-SANTE`; `IGC-SANTE TEST` for twins).
    pub label: String,
    /// Base of HTTP URLs.
    pub base_url: String,
    /// Base of LDAP URLs.
    pub ldap_url: String,
    /// Certificate policy OID.
    pub policy_oid: Vec<u64>,
    /// CPS qualifier URI.
    pub cps_uri: String,
    /// All CAs, parents before children.
    pub cas: Vec<CaDef>,
    /// The directory layout (`[ldap]`), resolved against the LDAP base DN.
    pub directory: Layout,
}

/// A refused `pki/` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiFileError {
    /// File.
    pub file: String,
    /// Reason.
    pub reason: String,
}

impl fmt::Display for PkiFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}

impl std::error::Error for PkiFileError {}

/// A string that is not a dotted OID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an OID")]
pub struct NotAnOid(pub String);

/// Parses a dotted OID.
pub fn parse_oid(s: &str) -> Result<Vec<u64>, NotAnOid> {
    let v: Result<Vec<u64>, _> = s.split('.').map(str::parse::<u64>).collect();
    match v {
        Ok(v) if v.len() >= 2 && v[0] <= 2 => Ok(v),
        _ => Err(NotAnOid(s.to_owned())),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

/// Why a part of a `pki/` file is refused (the file is named by [`PkiFileError`]).
struct Refusal(String);

/// The file's CAs, checked in order: ids, parents defined before their children (issuing CAs
/// directly under a root, with a domain), validity, key strength, names.
fn check_cas(raw: &[CaFile]) -> Result<Vec<CaDef>, Refusal> {
    let mut cas: Vec<CaDef> = Vec::new();
    for c in raw {
        if c.id.is_empty() || !c.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Refusal(format!(
                "CA id {:?}: letters, digits and '-' only",
                c.id
            )));
        }
        if cas.iter().any(|o| o.id == c.id) {
            return Err(Refusal(format!("CA {} is defined twice", c.id)));
        }
        check_place(c, &cas)?;
        if !(1..=9200).contains(&c.validity_days) {
            return Err(Refusal(format!(
                "CA {}: validity_days must be 1 to 9200",
                c.id
            )));
        }
        if matches!(c.key, KeyType::Rsa2048) {
            return Err(Refusal(format!(
                "CA {}: CA keys are at least RSA 3072 or P-256",
                c.id
            )));
        }
        if c.cn.trim().is_empty() {
            return Err(Refusal(format!("CA {}: cn is empty", c.id)));
        }
        cas.push(CaDef {
            id: c.id.clone(),
            parent: c.parent.clone(),
            cn: c.cn.clone(),
            domain: c.domain,
            key: c.key,
            validity_days: c.validity_days,
            test: false,
        });
    }
    if cas.is_empty() {
        return Err(Refusal("no CA defined".into()));
    }
    Ok(cas)
}

/// A root has no domain; an issuing CA sits directly under a root defined before it and has
/// a domain.
fn check_place(c: &CaFile, before: &[CaDef]) -> Result<(), Refusal> {
    let Some(p) = &c.parent else {
        return match c.domain {
            Some(_) => Err(Refusal(format!("CA {}: a root has no domain", c.id))),
            None => Ok(()),
        };
    };
    let parent = before
        .iter()
        .find(|o| &o.id == p)
        .ok_or_else(|| Refusal(format!("CA {}: parent {p} must be defined before it", c.id)))?;
    if !parent.is_root() {
        return Err(Refusal(format!(
            "CA {}: issuing CAs sit directly under a root (pathlen 0)",
            c.id
        )));
    }
    if c.domain.is_none() {
        return Err(Refusal(format!(
            "CA {}: an issuing CA needs a domain (personnes or organisations)",
            c.id
        )));
    }
    Ok(())
}

/// The CAs followed by their TEST twins (`<id>-TEST`, `TEST <cn>`), which serve sandbox
/// realms.
fn with_test_twins(mut cas: Vec<CaDef>) -> Vec<CaDef> {
    let twins: Vec<CaDef> = cas
        .iter()
        .map(|c| CaDef {
            id: format!("{}-TEST", c.id),
            parent: c.parent.as_ref().map(|p| format!("{p}-TEST")),
            cn: format!("TEST {}", c.cn),
            test: true,
            ..c.clone()
        })
        .collect();
    cas.extend(twins);
    cas
}

impl Hierarchy {
    /// Parses a hierarchy file; `{public_url}` is substituted.
    pub fn parse(file: &str, text: &str, public_url: &str) -> Result<Self, PkiFileError> {
        let err = |reason: String| PkiFileError {
            file: file.to_owned(),
            reason,
        };
        let raw: HierarchyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            err(format!("line {line}: {}", e.message()))
        })?;
        let public_url = public_url.trim_end_matches('/');
        let policy_oid = parse_oid(&raw.policy_oid).map_err(|e| err(e.to_string()))?;
        let cas = with_test_twins(check_cas(&raw.ca).map_err(|reason| err(reason.0))?);
        let label = raw.label.clone();
        let directory = Layout::resolve(
            &raw.ldap,
            &LayoutVars {
                organization: &raw.organization,
                organization_identifier: &raw.organization_identifier,
                label: &label,
                test_label: &format!("{label} TEST"),
            },
            None,
        )
        .map_err(|e| err(e.to_string()))?;
        Ok(Hierarchy {
            name: raw.name,
            organization: raw.organization,
            organization_identifier: raw.organization_identifier,
            label: raw.label,
            base_url: raw
                .base_url
                .replace("{public_url}", public_url)
                .trim_end_matches('/')
                .to_owned(),
            ldap_url: raw.ldap_url.trim_end_matches('/').to_owned(),
            policy_oid,
            cps_uri: raw.cps_uri.replace("{public_url}", public_url),
            cas,
            directory,
        })
    }

    /// Places the directory tree under the operator's LDAP base DN (`None` or empty: the
    /// default `o=<organization>,c=FR`). The LDAP URLs written into certificates follow.
    pub fn with_ldap_base_dn(mut self, base_dn: Option<&str>) -> Result<Self, LayoutError> {
        self.directory = Layout::resolve(
            &self.directory.file(),
            &LayoutVars {
                organization: &self.organization,
                organization_identifier: &self.organization_identifier,
                label: &self.label,
                test_label: &format!("{} TEST", self.label),
            },
            base_dn,
        )?;
        Ok(self)
    }

    /// A CA by id.
    pub fn ca(&self, id: &str) -> Option<&CaDef> {
        self.cas.iter().find(|c| c.id == id)
    }

    /// The second OU of a CA.
    pub fn label_of(&self, ca: &CaDef) -> String {
        if ca.test {
            format!("{} TEST", self.label)
        } else {
            self.label.clone()
        }
    }

    /// The CA's subject, in encoding order (C, O, OU, OU, CN).
    pub fn dn(&self, ca: &CaDef) -> rcgen::DistinguishedName {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CountryName,
            rcgen::DnValue::PrintableString(printable("FR")),
        );
        dn.push(
            rcgen::DnType::OrganizationName,
            rcgen::DnValue::Utf8String(self.organization.clone()),
        );
        dn.push(
            rcgen::DnType::OrganizationalUnitName,
            rcgen::DnValue::Utf8String(self.organization_identifier.clone()),
        );
        // rcgen keys a DN by attribute type; the second OU goes in as a custom type with the
        // same OID so that both are written, in order.
        dn.push(
            rcgen::DnType::CustomDnType(vec![2, 5, 4, 11]),
            rcgen::DnValue::Utf8String(self.label_of(ca)),
        );
        dn.push(
            rcgen::DnType::CommonName,
            rcgen::DnValue::Utf8String(ca.cn.clone()),
        );
        dn
    }

    /// The CA's LDAP entry DN in the configured layout (roots under the label OU, issuing CAs
    /// under their root's OU).
    pub fn ldap_dn(&self, ca: &CaDef) -> String {
        self.ca_entry_dn(ca).to_string()
    }

    /// The CA's LDAP entry DN: roots directly under the tree, issuing CAs under
    /// `ou=<root CN>` (IGC-Santé's shape).
    pub fn ca_entry_dn(&self, ca: &CaDef) -> Dn {
        let tree = &self.directory.trees(ca.test).tree;
        match ca.parent.as_deref().and_then(|p| self.ca(p)) {
            None => tree.child("cn", &ca.cn),
            Some(root) => tree.child("ou", &root.cn).child("cn", &ca.cn),
        }
    }

    /// HTTP URL of a CA's full CRL.
    pub fn crl_url(&self, ca_id: &str) -> String {
        format!("{}/crl/{ca_id}.crl", self.base_url)
    }
    /// HTTP URL of a CA's delta CRL.
    pub fn delta_crl_url(&self, ca_id: &str) -> String {
        format!("{}/crl/{ca_id}-delta.crl", self.base_url)
    }
    /// HTTP URL of a CA's certificate.
    pub fn cert_url(&self, ca_id: &str) -> String {
        format!("{}/ca/{ca_id}.cer", self.base_url)
    }
    /// OCSP responder URL.
    pub fn ocsp_url(&self) -> String {
        format!("{}/ocsp", self.base_url)
    }
    /// LDAP URL of an attribute of a CA's entry (RFC 4516).
    pub fn ldap_attr_url(&self, ca: &CaDef, attr: &str) -> String {
        format!(
            "{}/{}?{attr};binary?base?objectClass=pkiCA",
            self.ldap_url,
            layout::url_encode_dn(&self.ldap_dn(ca))
        )
    }
}

fn printable(s: &str) -> rcgen::string::PrintableString {
    // "FR" is a valid PrintableString.
    rcgen::string::PrintableString::try_from(s).unwrap_or_else(|_| {
        rcgen::string::PrintableString::try_from("FR").unwrap_or_else(|_| unreachable!())
    })
}

/// Which subject a profile builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// C, ST, O, OU=IdNat_Struct, CN.
    Organisation,
    /// C, SN, GN, CN=IdNat, title.
    Person,
    /// C, O, OU, CN: an OCSP responder.
    Responder,
}

/// Which SANs a profile takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SanKind {
    /// None.
    None,
    /// DNS names (at least one).
    Dns,
    /// E-mail addresses (at least one).
    Email,
}

/// keyUsage bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyUsage {
    /// digitalSignature.
    DigitalSignature,
    /// nonRepudiation (contentCommitment).
    NonRepudiation,
    /// keyEncipherment.
    KeyEncipherment,
    /// keyAgreement.
    KeyAgreement,
}

/// Extended key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Eku {
    /// id-kp-serverAuth.
    ServerAuth,
    /// id-kp-clientAuth.
    ClientAuth,
    /// id-kp-emailProtection.
    EmailProtection,
    /// id-kp-OCSPSigning.
    OcspSigning,
}

/// An end-entity certificate profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Identifier (`SSL_SERV`…).
    pub id: String,
    /// Description.
    pub description: String,
    /// CAs that may issue it.
    pub domain: Domain,
    /// Validity.
    pub validity_days: i64,
    /// Accepted subject key types.
    pub key_types: Vec<KeyType>,
    /// keyUsage (critical).
    pub key_usage: Vec<KeyUsage>,
    /// extendedKeyUsage.
    pub extended_key_usage: Vec<Eku>,
    /// Subject kind.
    pub subject: SubjectKind,
    /// SAN kind.
    pub san: SanKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    profile: Vec<Profile>,
}

/// Parses the profiles file.
pub fn parse_profiles(file: &str, text: &str) -> Result<Vec<Profile>, PkiFileError> {
    let err = |reason: String| PkiFileError {
        file: file.to_owned(),
        reason,
    };
    let raw: ProfilesFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        err(format!("line {line}: {}", e.message()))
    })?;
    let mut seen = Vec::new();
    for p in &raw.profile {
        if seen.contains(&p.id) {
            return Err(err(format!("profile {} is defined twice", p.id)));
        }
        seen.push(p.id.clone());
        if !(1..=1185).contains(&p.validity_days) {
            return Err(err(format!(
                "profile {}: validity_days must be 1 to 1185",
                p.id
            )));
        }
        if p.key_types.is_empty() || p.key_usage.is_empty() || p.extended_key_usage.is_empty() {
            return Err(err(format!(
                "profile {}: key_types, key_usage and extended_key_usage must be given",
                p.id
            )));
        }
        if p.extended_key_usage.contains(&Eku::ServerAuth) && p.san != SanKind::Dns {
            return Err(err(format!(
                "profile {}: serverAuth certificates carry DNS names (san = \"dns\")",
                p.id
            )));
        }
        if p.key_usage.contains(&KeyUsage::KeyEncipherment)
            && p.key_types.iter().any(|k| !k.is_rsa())
            && p.key_usage.len() == 1
        {
            return Err(err(format!(
                "profile {}: keyEncipherment alone needs RSA keys",
                p.id
            )));
        }
        if p.subject == SubjectKind::Responder && p.extended_key_usage != [Eku::OcspSigning] {
            return Err(err(format!(
                "profile {}: a responder profile has only ocspSigning",
                p.id
            )));
        }
    }
    Ok(raw.profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_files_parse() {
        for f in ["igc-sante.toml", "modern.toml"] {
            let text =
                std::fs::read_to_string(format!("{}/../../pki/{f}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap();
            let h = Hierarchy::parse(f, &text, "http://127.0.0.1:8080").unwrap();
            assert_eq!(h.cas.len(), 18, "9 CAs and 9 TEST twins");
            assert!(h.cas.iter().any(|c| c.test && c.cn.starts_with("TEST AC")));
        }
        let text = std::fs::read_to_string(format!(
            "{}/../../pki/profiles.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let p = parse_profiles("profiles.toml", &text).unwrap();
        for id in [
            "SSL_SERV",
            "ORG_AUTH_CLI",
            "ORG_SIGN",
            "ORG_CONF",
            "SMIME_MSS",
            "CPS_AUTH",
            "CPS_SIGN",
            "OCSP",
        ] {
            assert!(p.iter().any(|x| x.id == id), "{id}");
        }
    }

    #[test]
    fn ldap_dn_shape() {
        let text = std::fs::read_to_string(format!(
            "{}/../../pki/igc-sante.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let h = Hierarchy::parse("igc-sante.toml", &text, "http://x").unwrap();
        let ca = h.ca("ACI-EL-ORG-TEST").unwrap();
        assert_eq!(
            h.ldap_dn(ca),
            "cn=TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS,ou=TEST AC RACINE IGC-SANTE ELEMENTAIRE,ou=IGC-SANTE TEST,ou=0002 187512751,o=ASIP-SANTE,c=FR"
        );
        assert_eq!(
            h.ldap_attr_url(ca, "certificateRevocationList"),
            "ldap://annuaire-igc.example/cn=TEST%20AC%20IGC-SANTE%20ELEMENTAIRE%20ORGANISATIONS,ou=TEST%20AC%20RACINE%20IGC-SANTE%20ELEMENTAIRE,ou=IGC-SANTE%20TEST,ou=0002%20187512751,o=ASIP-SANTE,c=FR?certificateRevocationList;binary?base?objectClass=pkiCA"
        );
        // Under an operator's base DN, the URLs follow the entries.
        let h = h.with_ldap_base_dn(Some("dc=sante,dc=example")).unwrap();
        let root = h.ca("ACR-EL").unwrap();
        assert_eq!(
            h.ldap_dn(root),
            "cn=AC RACINE IGC-SANTE ELEMENTAIRE,ou=IGC-SANTE,ou=0002 187512751,dc=sante,dc=example"
        );
        assert!(h.with_ldap_base_dn(Some("not a dn")).is_err());
    }

    #[test]
    fn ldap_section() {
        let text = "name='x'\norganization='O, Inc'\norganization_identifier='1'\nbase_url='u'\nldap_url='l'\npolicy_oid='1.2'\ncps_uri='c'\n[ldap]\ntree='ou={label},{base_dn}'\npersons='ou=PS,{tree}'\nsmime_attribute='userSMIMECertificate'\n[[ca]]\nid='R'\ncn='Root'\nkey='p256'\nvalidity_days=10\n";
        let h = Hierarchy::parse("h.toml", text, "http://x").unwrap();
        assert_eq!(
            h.ldap_dn(h.ca("R").unwrap()),
            "cn=Root,ou=IGC-SANTE,o=O\\, Inc,c=FR"
        );
        assert_eq!(
            h.directory.test.persons.to_string(),
            "ou=PS,ou=IGC-SANTE TEST,o=O\\, Inc,c=FR"
        );
        let bad = text.replace("persons='ou=PS,{tree}'", "persons='ou=PS,{oops}'");
        let e = Hierarchy::parse("h.toml", &bad, "http://x").unwrap_err();
        assert!(e.to_string().contains("{oops}"), "{e}");
        let bad = text.replace("persons=", "people=");
        assert!(Hierarchy::parse("h.toml", &bad, "http://x").is_err());
    }

    #[test]
    fn bad_files_are_refused() {
        let bad = "name='x'\norganization='O'\norganization_identifier='1'\nbase_url='u'\nldap_url='l'\npolicy_oid='1.2'\ncps_uri='c'\n[[ca]]\nid='A'\nparent='B'\ncn='A'\ndomain='personnes'\nkey='p256'\nvalidity_days=10\n";
        let e = Hierarchy::parse("h.toml", bad, "http://x").unwrap_err();
        assert!(e.to_string().contains("parent B"), "{e}");
        let e = Hierarchy::parse("h.toml", "name=1", "http://x").unwrap_err();
        assert!(e.to_string().starts_with("h.toml: line 1"), "{e}");
    }
}
