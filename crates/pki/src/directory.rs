//! LDAP publication, the pure part: where each certificate goes in the directory, and the
//! entries that hold it. Distinguished names are [`crate::dn`]'s, the layout of a hierarchy
//! (the `[ldap]` section of `pki/*.toml`) and LDAP URLs are [`crate::layout`]'s (both
//! re-exported here).
//!
//! The default layout mirrors IGC-Santé's directory under the operator's base DN (which plays
//! the part of IGC-Santé's `o=ASIP-SANTE,c=FR` and defaults to `o=<organization>,c=FR`):
//!
//! ```text
//! <base DN>
//!  └ ou=<organization_identifier>
//!     └ ou=<label>                                    (IGC-SANTE, IGC-SANTE TEST)
//!        ├ cn=<root CA>                               pkiCA: cACertificate, CRLs
//!        ├ ou=<root CA>
//!        │  └ cn=<issuing CA>                         pkiCA: cACertificate, CRLs
//!        ├ ou=Structures
//!        │  └ ou=<IdNat_Struct>                       one per organisation
//!        │     ├ cn=<server or service name>          userCertificate;binary
//!        │     └ mail=<address>                       S/MIME mailbox
//!        └ ou=Personnes
//!           └ cn=<IdNat>                              userCertificate;binary (CPS_*)
//! ```

use super::der;
pub use super::dn::{Ava, Dn, DnError, Rdn, Value, escape_value};
use super::hierarchy::{CaDef, Hierarchy, Profile, SanKind, SubjectKind};
pub use super::layout::{
    DEFAULT_BASE_DN, DEFAULT_PERSONS, DEFAULT_STRUCTURES, DEFAULT_TREE, Layout, LayoutError,
    LayoutFile, LayoutVars, SmimeAttribute, Trees, url_encode_dn,
};
use x509_parser::prelude::FromDer as _;

/// Why a certificate has no place in the directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The certificate does not parse.
    #[error("certificate does not parse: {0}")]
    Unreadable(String),
    /// A person certificate without CN.
    #[error("a person certificate without CN (IdNat)")]
    PersonWithoutCn,
    /// An organisation certificate (not S/MIME) without CN.
    #[error("an organisation certificate without CN")]
    OrganisationWithoutCn,
}
/// The attribute a certificate is published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertAttr {
    /// `userCertificate;binary`.
    UserCertificate,
    /// `userSMIMECertificate`.
    UserSmimeCertificate,
}

impl CertAttr {
    /// The attribute description used on the wire.
    pub fn ldap_name(self) -> &'static str {
        match self {
            CertAttr::UserCertificate => "userCertificate;binary",
            CertAttr::UserSmimeCertificate => "userSMIMECertificate",
        }
    }
    /// Whether the server can match single values (userCertificate has an equality rule;
    /// userSMIMECertificate has none, so it is rewritten whole).
    pub fn has_equality(self) -> bool {
        self == CertAttr::UserCertificate
    }
    /// Every certificate attribute.
    pub const ALL: [CertAttr; 2] = [CertAttr::UserCertificate, CertAttr::UserSmimeCertificate];
}

/// An entry to create: its DN, object classes and text attributes (naming attribute included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    /// DN.
    pub dn: Dn,
    /// Object classes.
    pub object_classes: Vec<&'static str>,
    /// Text attributes.
    pub attrs: Vec<(&'static str, String)>,
}

/// A certificate's place in the directory: the holder entry, the attribute and value, and the
/// specific ancestors to create first (outermost first) when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The entry holding the certificate.
    pub entry: EntrySpec,
    /// Attribute.
    pub attr: CertAttr,
    /// Value (certificate DER, or PKCS#7 for userSMIMECertificate).
    pub value: Vec<u8>,
    /// Ancestors with specific contents (e.g. the structure entry).
    pub ancestors: Vec<EntrySpec>,
}

/// An entry for a parent that must exist: object classes chosen by its naming attribute, from
/// OpenLDAP's core and cosine schemas. `None` when coeur does not know how to create it.
pub fn container_entry(dn: &Dn) -> Option<EntrySpec> {
    let ava = dn.rdn()?.single()?;
    let value = ava.text()?.to_owned();
    let (attr, classes): (&'static str, Vec<&'static str>) =
        match ava.attr().to_ascii_lowercase().as_str() {
            "c" => ("c", vec!["country"]),
            "o" => ("o", vec!["organization"]),
            "ou" => ("ou", vec!["organizationalUnit"]),
            "dc" => ("dc", vec!["domain"]),
            "l" => ("l", vec!["locality"]),
            "st" => ("st", vec!["locality"]),
            "cn" => ("cn", vec!["organizationalRole"]),
            _ => return None,
        };
    Some(EntrySpec {
        dn: dn.clone(),
        object_classes: classes,
        attrs: vec![(attr, value)],
    })
}

/// A CA's entry DN: roots directly under the tree, issuing CAs under `ou=<root CN>`
/// (IGC-Santé's shape).
pub fn ca_dn(h: &Hierarchy, ca: &CaDef) -> Dn {
    h.ca_entry_dn(ca)
}

/// A CA's entry: `pkiCA` (cACertificate, certificateRevocationList) and `deltaCRL`
/// (deltaRevocationList) on an `organizationalRole`.
pub fn ca_entry(h: &Hierarchy, ca: &CaDef) -> EntrySpec {
    EntrySpec {
        dn: ca_dn(h, ca),
        object_classes: vec!["organizationalRole", "pkiCA", "deltaCRL"],
        attrs: vec![("cn", ca.cn.clone())],
    }
}

/// LDAP attribute of a CA's certificate.
pub const CA_CERT_ATTR: &str = "cACertificate;binary";
/// LDAP attribute of a CA's full CRL.
pub const CRL_ATTR: &str = "certificateRevocationList;binary";
/// LDAP attribute of a CA's delta CRL.
pub const DELTA_CRL_ATTR: &str = "deltaRevocationList;binary";

/// A certs-only PKCS#7 SignedData holding one certificate (the userSMIMECertificate value).
pub fn smime_value(cert_der: &[u8]) -> Vec<u8> {
    let signed_data = der::seq(&[
        der::uint_u64(1),
        der::tlv(0x31, &[]),
        der::seq(&[der::oid(&[1, 2, 840, 113549, 1, 7, 1])]),
        der::tlv(0xa0, cert_der),
        der::tlv(0x31, &[]),
    ]);
    der::seq(&[
        der::oid(&[1, 2, 840, 113549, 1, 7, 2]),
        der::explicit(0, &signed_data),
    ])
}

struct Subject {
    cn: Option<String>,
    ou: Option<String>,
    o: Option<String>,
    st: Option<String>,
    sn: Option<String>,
    gn: Option<String>,
    title: Option<String>,
    emails: Vec<String>,
}

fn read_subject(cert_der: &[u8]) -> Result<Subject, PlacementError> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der)
        .map_err(|e| PlacementError::Unreadable(e.to_string()))?;
    let subj = cert.subject();
    let first = |oid: &x509_parser::der_parser::Oid<'_>| -> Option<String> {
        subj.iter_by_oid(oid)
            .next()
            .and_then(|a| a.as_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    use x509_parser::oid_registry as r;
    let emails = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::RFC822Name(e) => {
                        Some(e.to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Subject {
        cn: first(&r::OID_X509_COMMON_NAME),
        ou: first(&r::OID_X509_ORGANIZATIONAL_UNIT),
        o: first(&r::OID_X509_ORGANIZATION_NAME),
        st: first(&r::OID_X509_STATE_OR_PROVINCE_NAME),
        sn: first(&r::OID_X509_SURNAME),
        gn: first(&r::OID_X509_GIVEN_NAME),
        title: first(&r::OID_X509_TITLE),
        emails,
    })
}

/// Where an end-entity certificate of `profile`, issued by `ca`, is published. Empty when it
/// has no place (OCSP responders; organisation certificates without a structure identifier,
/// such as coeur's own HTTPS certificate).
pub fn placement(
    h: &Hierarchy,
    ca: &CaDef,
    profile: &Profile,
    cert_der: &[u8],
) -> Result<Vec<Holder>, PlacementError> {
    let s = read_subject(cert_der)?;
    let trees = h.directory.trees(ca.test);
    match profile.subject {
        SubjectKind::Responder => Ok(vec![]),
        SubjectKind::Person => person(&s, trees, cert_der).map(|p| vec![p]),
        SubjectKind::Organisation => {
            let Some(structure) = structure(&s, trees) else {
                return Ok(vec![]);
            };
            if profile.san == SanKind::Email {
                return Ok(mailboxes(h, &s, &structure, cert_der));
            }
            let Some(cn) = s.cn.clone() else {
                return Err(PlacementError::OrganisationWithoutCn);
            };
            Ok(vec![Holder {
                entry: EntrySpec {
                    dn: structure.dn.child("cn", &cn),
                    object_classes: vec!["applicationProcess", "pkiUser"],
                    attrs: vec![("cn", cn.clone())],
                },
                attr: CertAttr::UserCertificate,
                value: cert_der.to_vec(),
                ancestors: vec![structure],
            }])
        }
    }
}

/// A person's entry, under the persons tree, named by the certificate's CN.
fn person(s: &Subject, trees: &Trees, cert_der: &[u8]) -> Result<Holder, PlacementError> {
    let Some(cn) = s.cn.clone() else {
        return Err(PlacementError::PersonWithoutCn);
    };
    let mut attrs = vec![
        ("cn", cn.clone()),
        ("sn", s.sn.clone().unwrap_or(cn.clone())),
    ];
    if let Some(g) = &s.gn {
        attrs.push(("givenName", g.clone()));
    }
    if let Some(t) = &s.title {
        attrs.push(("title", t.clone()));
    }
    Ok(Holder {
        entry: EntrySpec {
            dn: trees.persons.child("cn", &cn),
            object_classes: vec!["inetOrgPerson"],
            attrs,
        },
        attr: CertAttr::UserCertificate,
        value: cert_der.to_vec(),
        ancestors: vec![],
    })
}

/// The structure entry an organisation certificate goes under (named by its OU, the
/// structure identifier); `None` without one.
fn structure(s: &Subject, trees: &Trees) -> Option<EntrySpec> {
    let ou = s.ou.clone()?;
    let mut attrs = vec![("ou", ou.clone())];
    if let Some(o) = &s.o {
        attrs.push(("description", o.clone()));
    }
    if let Some(st) = &s.st {
        attrs.push(("st", st.clone()));
    }
    Some(EntrySpec {
        dn: trees.structures.child("ou", &ou),
        object_classes: vec!["organizationalUnit"],
        attrs,
    })
}

/// One entry per mailbox of an S/MIME certificate, under its structure, holding the
/// certificate in the attribute the hierarchy chose.
fn mailboxes(h: &Hierarchy, s: &Subject, structure: &EntrySpec, cert_der: &[u8]) -> Vec<Holder> {
    let attr = match h.directory.smime_attribute {
        SmimeAttribute::UserCertificate => CertAttr::UserCertificate,
        SmimeAttribute::UserSmimeCertificate => CertAttr::UserSmimeCertificate,
    };
    let value = match attr {
        CertAttr::UserCertificate => cert_der.to_vec(),
        CertAttr::UserSmimeCertificate => smime_value(cert_der),
    };
    s.emails
        .iter()
        .map(|mail| {
            let mut attrs = vec![
                ("mail", mail.clone()),
                ("cn", s.cn.clone().unwrap_or_else(|| mail.clone())),
                ("sn", mail.clone()),
            ];
            if let Some(o) = &s.o {
                attrs.push(("o", o.clone()));
            }
            Holder {
                entry: EntrySpec {
                    dn: structure.dn.child("mail", mail),
                    object_classes: vec!["inetOrgPerson"],
                    attrs,
                },
                attr,
                value: value.clone(),
                ancestors: vec![structure.clone()],
            }
        })
        .collect()
}

/// Whether a stored certificate belongs in the directory now: not revoked and not expired.
pub fn publishable(revoked_at: Option<i64>, not_after: i64, now: i64) -> bool {
    revoked_at.is_none() && not_after > now
}

/// The bases to scan when comparing the directory with the store: the tree and the holders'
/// containers, without those nested in another.
pub fn scan_bases(t: &Trees) -> Vec<Dn> {
    let all = [&t.tree, &t.structures, &t.persons];
    let mut out: Vec<Dn> = Vec::new();
    for d in all {
        if all.iter().any(|o| o.norm() != d.norm() && d.is_within(o)) {
            continue;
        }
        if !out.iter().any(|o| o.norm() == d.norm()) {
            out.push(d.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_defaults_and_errors() {
        let vars = LayoutVars {
            organization: "ASIP-SANTE",
            organization_identifier: "0002 187512751",
            label: "IGC-SANTE",
            test_label: "IGC-SANTE TEST",
        };
        let l = Layout::resolve(&LayoutFile::default(), &vars, None).unwrap();
        assert_eq!(
            l.test.tree.to_string(),
            "ou=IGC-SANTE TEST,ou=0002 187512751,o=ASIP-SANTE,c=FR"
        );
        assert_eq!(
            l.production.persons.to_string(),
            "ou=Personnes,ou=IGC-SANTE,ou=0002 187512751,o=ASIP-SANTE,c=FR"
        );
        let l = Layout::resolve(&LayoutFile::default(), &vars, Some("dc=coeur,dc=test")).unwrap();
        assert_eq!(
            l.test.structures.to_string(),
            "ou=Structures,ou=IGC-SANTE TEST,ou=0002 187512751,dc=coeur,dc=test"
        );
        assert_eq!(scan_bases(&l.test), vec![l.test.tree.clone()]);
    }

    #[test]
    fn containers() {
        let d = Dn::parse("dc=coeur,dc=test").unwrap();
        assert_eq!(container_entry(&d).unwrap().object_classes, vec!["domain"]);
        assert!(container_entry(&Dn::parse("uid=x").unwrap()).is_none());
        assert!(
            container_entry(&Dn::parse("ou=a+cn=b,dc=test").unwrap()).is_none(),
            "a multi-valued RDN is not created as a container"
        );
        assert_eq!(
            container_entry(&Dn::parse("OU=A,dc=test").unwrap())
                .unwrap()
                .attrs,
            vec![("ou", "A".to_owned())]
        );
    }
}
