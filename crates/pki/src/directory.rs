//! LDAP publication, the pure part: distinguished names (RFC 4514), the directory layout of a
//! hierarchy (the `[ldap]` section of `pki/*.toml`), LDAP URLs (RFC 4516), and where each
//! certificate goes in the directory.
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
use super::hierarchy::{CaDef, Hierarchy, Profile, SanKind, SubjectKind};
use serde::Deserialize;
use std::fmt;
use x509_parser::prelude::FromDer as _;

/// One relative distinguished name (`attr=value`; multi-valued RDNs are not used by coeur).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdn {
    /// Attribute type, e.g. `cn`.
    pub attr: String,
    /// Value, unescaped.
    pub value: String,
}

/// A distinguished name, most specific RDN first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn(pub Vec<Rdn>);

/// Escapes an attribute value for a DN string (RFC 4514 §2.4).
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i + 1 == n => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

fn valid_attr_type(t: &str) -> bool {
    let mut chars = t.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => t.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        _ => false,
    }
}

impl Dn {
    /// Parses a string DN (RFC 4514). The empty string is the empty DN (the root DSE).
    pub fn parse(s: &str) -> Result<Dn, String> {
        if s.trim().is_empty() {
            return Ok(Dn::default());
        }
        let mut rdns = Vec::new();
        let mut chars = s.chars().peekable();
        loop {
            // Attribute type.
            let mut attr = String::new();
            for c in chars.by_ref() {
                if c == '=' {
                    break;
                }
                attr.push(c);
            }
            let attr = attr.trim().to_owned();
            if !valid_attr_type(&attr) {
                return Err(format!("{s:?} is not a DN: bad attribute type {attr:?}"));
            }
            // Value, up to an unescaped comma; each character with whether it was escaped.
            let mut chars_v: Vec<(char, bool)> = Vec::new();
            let mut bytes: Vec<u8> = Vec::new();
            let mut ended_by_comma = false;
            let flush = |bytes: &mut Vec<u8>, out: &mut Vec<(char, bool)>| -> Result<(), String> {
                if !bytes.is_empty() {
                    let t = std::str::from_utf8(bytes)
                        .map_err(|_| format!("{s:?} is not a DN: escaped bytes are not UTF-8"))?;
                    out.extend(t.chars().map(|c| (c, true)));
                    bytes.clear();
                }
                Ok(())
            };
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let Some(n) = chars.next() else {
                            return Err(format!("{s:?} is not a DN: dangling '\\'"));
                        };
                        if n.is_ascii_hexdigit() {
                            let Some(m) = chars.next().filter(char::is_ascii_hexdigit) else {
                                return Err(format!("{s:?} is not a DN: bad hex escape"));
                            };
                            let b = u8::from_str_radix(&format!("{n}{m}"), 16)
                                .map_err(|_| format!("{s:?} is not a DN: bad hex escape"))?;
                            bytes.push(b);
                        } else {
                            flush(&mut bytes, &mut chars_v)?;
                            chars_v.push((n, true));
                        }
                    }
                    ',' => {
                        ended_by_comma = true;
                        break;
                    }
                    '+' => {
                        return Err(format!("{s:?}: multi-valued RDNs are not supported here"));
                    }
                    '"' | ';' | '<' | '>' => {
                        return Err(format!("{s:?} is not a DN: unescaped {c:?}"));
                    }
                    c => {
                        flush(&mut bytes, &mut chars_v)?;
                        chars_v.push((c, false));
                    }
                }
            }
            flush(&mut bytes, &mut chars_v)?;
            // Unescaped surrounding spaces are not part of the value.
            while chars_v.last() == Some(&(' ', false)) {
                chars_v.pop();
            }
            let lead = chars_v.iter().take_while(|c| **c == (' ', false)).count();
            let chars_v = &chars_v[lead..];
            if chars_v.first() == Some(&('#', false)) {
                return Err(format!("{s:?}: BER-encoded values are not supported"));
            }
            let value: String = chars_v.iter().map(|(c, _)| *c).collect();
            if value.is_empty() {
                return Err(format!("{s:?} is not a DN: empty value for {attr}"));
            }
            rdns.push(Rdn { attr, value });
            if !ended_by_comma {
                break;
            }
        }
        Ok(Dn(rdns))
    }

    /// Whether this is the empty DN.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent (None for the empty DN).
    pub fn parent(&self) -> Option<Dn> {
        if self.0.is_empty() {
            None
        } else {
            Some(Dn(self.0[1..].to_vec()))
        }
    }

    /// A child entry's DN.
    pub fn child(&self, attr: &str, value: &str) -> Dn {
        let mut v = Vec::with_capacity(self.0.len() + 1);
        v.push(Rdn {
            attr: attr.to_owned(),
            value: value.to_owned(),
        });
        v.extend(self.0.iter().cloned());
        Dn(v)
    }

    /// The DN of `rel` (relative RDNs) under this one.
    pub fn under(&self, rel: &Dn) -> Dn {
        Dn(rel.0.iter().chain(self.0.iter()).cloned().collect())
    }

    /// The first RDN.
    pub fn rdn(&self) -> Option<&Rdn> {
        self.0.first()
    }

    /// A normalised form for comparisons (attribute types and values lowercased, as the
    /// naming attributes coeur uses all match case-insensitively).
    pub fn norm(&self) -> String {
        self.0
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r.attr.to_ascii_lowercase(),
                    escape_value(&r.value.to_lowercase())
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether `self` is `base` or below it.
    pub fn is_within(&self, base: &Dn) -> bool {
        self.0.len() >= base.0.len()
            && Dn(self.0[self.0.len() - base.0.len()..].to_vec()).norm() == base.norm()
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}={}", r.attr, escape_value(&r.value))?;
        }
        Ok(())
    }
}

/// Percent-encodes a DN for the dn part of an LDAP URL (RFC 4516): spaces, `?`, `%`, non-ASCII
/// and characters URLs do not allow are encoded; `=` and `,` stay readable.
pub fn url_encode_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len() + 8);
    for b in dn.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~=,+;!$&'()*:@".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which attribute carries S/MIME certificates on mailbox entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum SmimeAttribute {
    /// `userCertificate;binary`, the certificate itself.
    #[default]
    #[serde(rename = "userCertificate")]
    UserCertificate,
    /// `userSMIMECertificate` (RFC 2798): a certs-only PKCS#7 SignedData holding it.
    #[serde(rename = "userSMIMECertificate")]
    UserSmimeCertificate,
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

/// The `[ldap]` section of a hierarchy file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutFile {
    tree: Option<String>,
    structures: Option<String>,
    persons: Option<String>,
    smime_attribute: Option<SmimeAttribute>,
}

/// Default DN template of a hierarchy's tree.
pub const DEFAULT_TREE: &str = "ou={label},ou={organization_identifier},{base_dn}";
/// Default DN template of the structures' container.
pub const DEFAULT_STRUCTURES: &str = "ou=Structures,{tree}";
/// Default DN template of the persons' container.
pub const DEFAULT_PERSONS: &str = "ou=Personnes,{tree}";
/// Default base DN template (IGC-Santé's `o=ASIP-SANTE,c=FR`).
pub const DEFAULT_BASE_DN: &str = "o={organization},c=FR";

/// The resolved trees of one label (production or TEST).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trees {
    /// Where CA entries go.
    pub tree: Dn,
    /// Parent of structure entries.
    pub structures: Dn,
    /// Parent of person entries.
    pub persons: Dn,
}

/// A hierarchy's directory layout, resolved against the operator's base DN.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    tree: String,
    structures: String,
    persons: String,
    /// Attribute of S/MIME certificates on mailbox entries.
    pub smime_attribute: SmimeAttribute,
    /// The base DN in force.
    pub base_dn: Dn,
    /// Production trees.
    pub production: Trees,
    /// TEST trees.
    pub test: Trees,
}

/// Values substituted into layout templates.
pub struct LayoutVars<'a> {
    /// O.
    pub organization: &'a str,
    /// First OU.
    pub organization_identifier: &'a str,
    /// Second OU of production CAs.
    pub label: &'a str,
    /// Second OU of TEST CAs.
    pub test_label: &'a str,
}

fn substitute(template: &str, pairs: &[(&str, String)]) -> Result<String, String> {
    let mut out = template.to_owned();
    for (k, v) in pairs {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    if let Some(i) = out.find('{') {
        let rest = &out[i..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        return Err(format!(
            "unknown placeholder {} in {template:?}",
            &rest[..end]
        ));
    }
    Ok(out)
}

impl Layout {
    /// Reads the `[ldap]` section (or the defaults) and resolves it against `base_dn`
    /// (`None`: `o=<organization>,c=FR`).
    pub fn resolve(
        file: &LayoutFile,
        vars: &LayoutVars<'_>,
        base_dn: Option<&str>,
    ) -> Result<Self, String> {
        let tree = file.tree.clone().unwrap_or_else(|| DEFAULT_TREE.into());
        let structures = file
            .structures
            .clone()
            .unwrap_or_else(|| DEFAULT_STRUCTURES.into());
        let persons = file
            .persons
            .clone()
            .unwrap_or_else(|| DEFAULT_PERSONS.into());
        let base = match base_dn.map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => Dn::parse(b).map_err(|e| format!("LDAP base DN: {e}"))?,
            None => Dn::parse(&substitute(
                DEFAULT_BASE_DN,
                &[("organization", escape_value(vars.organization))],
            )?)?,
        };
        let trees = |label: &str| -> Result<Trees, String> {
            let common = |t: &str, tree: Option<&Dn>| -> Result<Dn, String> {
                let mut pairs = vec![
                    ("label", escape_value(label)),
                    ("organization", escape_value(vars.organization)),
                    (
                        "organization_identifier",
                        escape_value(vars.organization_identifier),
                    ),
                    ("base_dn", base.to_string()),
                ];
                if let Some(tr) = tree {
                    pairs.push(("tree", tr.to_string()));
                }
                let s = substitute(t, &pairs).map_err(|e| format!("[ldap]: {e}"))?;
                let dn = Dn::parse(&s).map_err(|e| format!("[ldap]: {e}"))?;
                if dn.is_empty() {
                    return Err(format!("[ldap]: {t:?} gives an empty DN"));
                }
                Ok(dn)
            };
            let tree_dn = common(&tree, None)?;
            Ok(Trees {
                structures: common(&structures, Some(&tree_dn))?,
                persons: common(&persons, Some(&tree_dn))?,
                tree: tree_dn,
            })
        };
        Ok(Layout {
            production: trees(vars.label)?,
            test: trees(vars.test_label)?,
            tree,
            structures,
            persons,
            smime_attribute: file.smime_attribute.unwrap_or_default(),
            base_dn: base,
        })
    }

    /// The trees of a CA's label.
    pub fn trees(&self, test: bool) -> &Trees {
        if test { &self.test } else { &self.production }
    }

    /// The templates, for re-resolving against another base DN.
    pub fn file(&self) -> LayoutFile {
        LayoutFile {
            tree: Some(self.tree.clone()),
            structures: Some(self.structures.clone()),
            persons: Some(self.persons.clone()),
            smime_attribute: Some(self.smime_attribute),
        }
    }
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
    let rdn = dn.rdn()?;
    let (attr, classes): (&'static str, Vec<&'static str>) =
        match rdn.attr.to_ascii_lowercase().as_str() {
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
        attrs: vec![(attr, rdn.value.clone())],
    })
}

/// A CA's entry DN: roots directly under the tree, issuing CAs under `ou=<root CN>`
/// (IGC-Santé's shape).
pub fn ca_dn(h: &Hierarchy, ca: &CaDef) -> Dn {
    let tree = &h.directory.trees(ca.test).tree;
    match ca.parent.as_deref().and_then(|p| h.ca(p)) {
        None => tree.child("cn", &ca.cn),
        Some(root) => tree.child("ou", &root.cn).child("cn", &ca.cn),
    }
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

fn read_subject(cert_der: &[u8]) -> Result<Subject, String> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der)
        .map_err(|e| format!("certificate does not parse: {e}"))?;
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
) -> Result<Vec<Holder>, String> {
    let s = read_subject(cert_der)?;
    let trees = h.directory.trees(ca.test);
    match profile.subject {
        SubjectKind::Responder => Ok(vec![]),
        SubjectKind::Person => {
            let Some(cn) = s.cn.clone() else {
                return Err("a person certificate without CN (IdNat)".into());
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
            Ok(vec![Holder {
                entry: EntrySpec {
                    dn: trees.persons.child("cn", &cn),
                    object_classes: vec!["inetOrgPerson"],
                    attrs,
                },
                attr: CertAttr::UserCertificate,
                value: cert_der.to_vec(),
                ancestors: vec![],
            }])
        }
        SubjectKind::Organisation => {
            let Some(ou) = s.ou.clone() else {
                return Ok(vec![]);
            };
            let structure_dn = trees.structures.child("ou", &ou);
            let mut sattrs = vec![("ou", ou.clone())];
            if let Some(o) = &s.o {
                sattrs.push(("description", o.clone()));
            }
            if let Some(st) = &s.st {
                sattrs.push(("st", st.clone()));
            }
            let structure = EntrySpec {
                dn: structure_dn.clone(),
                object_classes: vec!["organizationalUnit"],
                attrs: sattrs,
            };
            if profile.san == SanKind::Email {
                let attr = match h.directory.smime_attribute {
                    SmimeAttribute::UserCertificate => CertAttr::UserCertificate,
                    SmimeAttribute::UserSmimeCertificate => CertAttr::UserSmimeCertificate,
                };
                let value = match attr {
                    CertAttr::UserCertificate => cert_der.to_vec(),
                    CertAttr::UserSmimeCertificate => smime_value(cert_der),
                };
                return Ok(s
                    .emails
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
                                dn: structure_dn.child("mail", mail),
                                object_classes: vec!["inetOrgPerson"],
                                attrs,
                            },
                            attr,
                            value: value.clone(),
                            ancestors: vec![structure.clone()],
                        }
                    })
                    .collect());
            }
            let Some(cn) = s.cn.clone() else {
                return Err("an organisation certificate without CN".into());
            };
            Ok(vec![Holder {
                entry: EntrySpec {
                    dn: structure_dn.child("cn", &cn),
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
    fn dn_round_trip_and_escapes() {
        let d = Dn::parse("cn=A\\, B,ou=X Y,o=Z\\2B,c=FR").unwrap();
        assert_eq!(d.0[0].value, "A, B");
        assert_eq!(d.0[2].value, "Z+");
        assert_eq!(d.to_string(), "cn=A\\, B,ou=X Y,o=Z\\+,c=FR");
        assert_eq!(Dn::parse(&d.to_string()).unwrap(), d);
        assert_eq!(d.parent().unwrap().to_string(), "ou=X Y,o=Z\\+,c=FR");
        assert!(Dn::parse("cn").is_err());
        assert!(Dn::parse("cn=a+sn=b").is_err());
        assert!(Dn::parse("=x").is_err());
        assert!(Dn::parse("cn=").is_err());
        assert_eq!(escape_value(" a "), "\\ a\\ ");
        assert_eq!(Dn::parse("cn=\\ a\\ ").unwrap().0[0].value, " a ");
        assert!(
            Dn::parse("CN=X,OU=Y,C=FR")
                .unwrap()
                .is_within(&Dn::parse("ou=y,c=fr").unwrap())
        );
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_encode_dn("cn=AC TEST,ou=é?,c=FR"),
            "cn=AC%20TEST,ou=%C3%A9%3F,c=FR"
        );
    }

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
        let bad = LayoutFile {
            tree: Some("ou={nope},{base_dn}".into()),
            ..LayoutFile::default()
        };
        let e = Layout::resolve(&bad, &vars, None).unwrap_err();
        assert!(e.contains("{nope}"), "{e}");
        let e = Layout::resolve(&LayoutFile::default(), &vars, Some("dc=x,,")).unwrap_err();
        assert!(e.contains("base DN"), "{e}");
    }

    #[test]
    fn containers() {
        let d = Dn::parse("dc=coeur,dc=test").unwrap();
        assert_eq!(container_entry(&d).unwrap().object_classes, vec!["domain"]);
        assert!(container_entry(&Dn::parse("uid=x").unwrap()).is_none());
    }
}
