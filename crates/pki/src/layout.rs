//! The directory layout of a hierarchy (the `[ldap]` section of `pki/*.toml`) resolved
//! against the operator's LDAP base DN, and LDAP URLs (RFC 4516). Shared by the hierarchy
//! (which writes LDAP URLs into certificates) and the directory placement of certificates.

use super::dn::{Dn, DnError, escape_value};
use serde::Deserialize;

/// Why a directory layout cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// A template names a placeholder that does not exist.
    #[error("unknown placeholder {placeholder} in {template:?}")]
    UnknownPlaceholder {
        /// The placeholder, braces included.
        placeholder: String,
        /// The template.
        template: String,
    },
    /// A DN that does not parse.
    #[error(transparent)]
    Dn(#[from] DnError),
    /// The operator's base DN does not parse.
    #[error("LDAP base DN: {0}")]
    BaseDn(DnError),
    /// A template of the `[ldap]` section is wrong.
    #[error("[ldap]: {0}")]
    Section(Box<LayoutError>),
    /// A template resolves to the empty DN.
    #[error("[ldap]: {template:?} gives an empty DN")]
    EmptyDn {
        /// The template.
        template: String,
    },
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

fn substitute(template: &str, pairs: &[(&str, String)]) -> Result<String, LayoutError> {
    let mut out = template.to_owned();
    for (k, v) in pairs {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    if let Some(i) = out.find('{') {
        let rest = &out[i..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        return Err(LayoutError::UnknownPlaceholder {
            placeholder: rest[..end].to_owned(),
            template: template.to_owned(),
        });
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
    ) -> Result<Self, LayoutError> {
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
            Some(b) => Dn::parse(b).map_err(LayoutError::BaseDn)?,
            None => Dn::parse(&substitute(
                DEFAULT_BASE_DN,
                &[("organization", escape_value(vars.organization))],
            )?)?,
        };
        let trees = |label: &str| -> Result<Trees, LayoutError> {
            let common = |t: &str, tree: Option<&Dn>| -> Result<Dn, LayoutError> {
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
                let section = |e: LayoutError| LayoutError::Section(Box::new(e));
                let s = substitute(t, &pairs).map_err(section)?;
                let dn = Dn::parse(&s).map_err(|e| section(e.into()))?;
                if dn.is_empty() {
                    return Err(LayoutError::EmptyDn {
                        template: t.to_owned(),
                    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_errors() {
        let vars = LayoutVars {
            organization: "ASIP-SANTE",
            organization_identifier: "0002 187512751",
            label: "IGC-SANTE",
            test_label: "IGC-SANTE TEST",
        };
        let bad = LayoutFile {
            tree: Some("ou={nope},{base_dn}".into()),
            ..LayoutFile::default()
        };
        let e = Layout::resolve(&bad, &vars, None).unwrap_err().to_string();
        assert_eq!(
            e,
            "[ldap]: unknown placeholder {nope} in \"ou={nope},{base_dn}\""
        );
        let e = Layout::resolve(&LayoutFile::default(), &vars, Some("dc=x,,")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "LDAP base DN: \"dc=x,,\" is not a DN: bad attribute type \",\""
        );
        let bad = LayoutFile {
            persons: Some("{tree}".into()),
            tree: Some("ou=a\\".into()),
            ..LayoutFile::default()
        };
        let e = Layout::resolve(&bad, &vars, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[ldap]: \"ou=a\\\\\" is not a DN: dangling '\\'"
        );
        let bad = LayoutFile {
            tree: Some(String::new()),
            ..LayoutFile::default()
        };
        let e = Layout::resolve(&bad, &vars, None).unwrap_err();
        assert_eq!(e.to_string(), "[ldap]: \"\" gives an empty DN");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_encode_dn("cn=AC TEST,ou=é?,c=FR"),
            "cn=AC%20TEST,ou=%C3%A9%3F,c=FR"
        );
    }
}
