//! Names and identifiers the CA writes into certificates: structure identifiers with their
//! check keys, DNS names, e-mail addresses.

use coeur_common::identity::luhn_valid;

/// Why an identifier, DNS name or e-mail address is refused (each carries the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Neither `1`+FINESS nor `3`+SIRET (nor a bare one).
    #[error("{0:?} is not a structure identifier (1+FINESS or 3+SIRET)")]
    NotStructureId(String),
    /// An identifier with a character that is not a digit.
    #[error("{0:?}: identifiers are digits")]
    NotDigits(String),
    /// The Luhn key does not match.
    #[error("{0:?}: the check key is wrong")]
    CheckKey(String),
    /// A well-formed identifier no registry attributes (all one digit, SIREN zero).
    #[error("{0:?} is not an attributed identifier")]
    NotAttributed(String),
    /// Not a DNS name coeur certifies.
    #[error("{0:?} is not a valid DNS name")]
    DnsName(String),
    /// A wildcard over a public suffix (`*.co.uk`, `*.gouv.fr`): names nobody owns.
    #[error("{0:?}: a wildcard may not cover a public suffix")]
    PublicSuffixWildcard(String),
    /// No `@`.
    #[error("{0:?} is not an e-mail address")]
    NotEmail(String),
    /// A local part or domain coeur does not certify.
    #[error("{0:?} is not a valid e-mail address")]
    Email(String),
    /// The domain of an address is not a valid DNS name.
    #[error("{0:?} has an invalid domain")]
    EmailDomain(String),
}

/// A structure's national identifier (IdNat_Struct, TRE_G07): type digit + identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructureId {
    /// `1` + FINESS (9 characters, Luhn key).
    Finess(String),
    /// `3` + SIRET (14 digits, Luhn key).
    Siret(String),
}

impl StructureId {
    /// Parses `1<FINESS>`, `3<SIRET>`, or a bare FINESS (9) / SIRET (14).
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let s = s.trim();
        let (kind, body) = match (s.len(), s.chars().next()) {
            (10, Some('1')) => ('F', &s[1..]),
            (15, Some('3')) => ('S', &s[1..]),
            (9, _) => ('F', s),
            (14, _) => ('S', s),
            _ => return Err(NameError::NotStructureId(s.to_owned())),
        };
        if !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::NotDigits(s.to_owned()));
        }
        if !luhn_valid(body) {
            return Err(NameError::CheckKey(s.to_owned()));
        }
        // Patterns that pass the Luhn key but that the registries never attribute: one digit
        // repeated, and a SIRET whose SIREN is zero.
        let first = body.as_bytes()[0];
        if body.bytes().all(|b| b == first) || (kind == 'S' && body[..9].bytes().all(|b| b == b'0'))
        {
            return Err(NameError::NotAttributed(s.to_owned()));
        }
        Ok(if kind == 'F' {
            StructureId::Finess(body.to_owned())
        } else {
            StructureId::Siret(body.to_owned())
        })
    }

    /// The IdNat_Struct form written in the OU.
    pub fn idnat(&self) -> String {
        match self {
            StructureId::Finess(f) => format!("1{f}"),
            StructureId::Siret(s) => format!("3{s}"),
        }
    }
}

/// Checks a DNS name for a server certificate: LDH labels, at least two labels, no wildcard
/// beyond a leading `*.`, no trailing dot, at most 253 characters.
pub fn validate_dns_name(name: &str) -> Result<String, NameError> {
    let n = name.trim().to_ascii_lowercase();
    let body = n.strip_prefix("*.").unwrap_or(&n);
    let labels: Vec<&str> = body.split('.').collect();
    let ok = !n.is_empty()
        && n.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()));
    if !ok {
        return Err(NameError::DnsName(name.to_owned()));
    }
    if n.starts_with("*.") && is_public_suffix(body) {
        return Err(NameError::PublicSuffixWildcard(name.to_owned()));
    }
    Ok(n)
}

/// Whether `name` is itself a public suffix of the Public Suffix List (`co.uk`, `gouv.fr`).
fn is_public_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes() == name.as_bytes())
}

/// Characters never accepted in subject text: controls, and the invisible format characters
/// (bidirectional overrides and isolates, zero-width characters, BOM, tags…) that make a name
/// display as something else, and line or paragraph separators.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// Checks an e-mail address (ASCII, one `@`, valid domain).
pub fn validate_email(addr: &str) -> Result<String, NameError> {
    let a = addr.trim();
    let (local, domain) = a
        .split_once('@')
        .ok_or_else(|| NameError::NotEmail(addr.to_owned()))?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok || domain.starts_with("*.") {
        return Err(NameError::Email(addr.to_owned()));
    }
    let d = validate_dns_name(domain).map_err(|_| NameError::EmailDomain(addr.to_owned()))?;
    Ok(format!("{local}@{d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_ids() {
        assert_eq!(
            StructureId::parse("318751275100020").unwrap(),
            StructureId::Siret("18751275100020".into())
        );
        assert_eq!(
            StructureId::parse("010000024").unwrap().idnat(),
            "1010000024"
        );
        assert_eq!(
            StructureId::parse("318751275100021")
                .unwrap_err()
                .to_string(),
            "\"318751275100021\": the check key is wrong"
        );
        assert_eq!(
            StructureId::parse(" 12 ").unwrap_err().to_string(),
            "\"12\" is not a structure identifier (1+FINESS or 3+SIRET)"
        );
        assert_eq!(
            StructureId::parse("1A10000024").unwrap_err().to_string(),
            "\"1A10000024\": identifiers are digits"
        );
        // Luhn-valid, never attributed.
        for unattributed in [
            "300000000000000",
            "1000000000",
            "000000000",
            "300000000000018",
        ] {
            assert_eq!(
                StructureId::parse(unattributed).unwrap_err(),
                NameError::NotAttributed(unattributed.into()),
                "{unattributed}"
            );
        }
    }

    #[test]
    fn wildcards_on_public_suffixes_are_refused() {
        for w in ["*.co.uk", "*.gouv.fr", "*.github.io"] {
            assert_eq!(
                validate_dns_name(w),
                Err(NameError::PublicSuffixWildcard(w.into())),
                "{w}"
            );
        }
        assert!(validate_dns_name("*.sante.gouv.fr").is_ok());
        assert!(validate_dns_name("*.hopital.co.uk").is_ok());
        assert!(validate_dns_name("*.bench.example").is_ok());
        assert!(
            validate_dns_name("gouv.fr").is_ok(),
            "only wildcards are refused"
        );
    }

    #[test]
    fn invisible_characters_are_forbidden() {
        for c in [
            '\u{202E}',
            '\u{200B}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{E0041}',
            '\n',
            '\u{2028}',
        ] {
            assert!(is_forbidden_char(c), "{c:?}");
        }
        for c in ['a', 'É', 'ç', ' ', '-', '\'', '(', '—'] {
            assert!(!is_forbidden_char(c), "{c:?}");
        }
    }

    #[test]
    fn dns_and_email() {
        assert!(validate_dns_name("srv.hopital.fr").is_ok());
        assert!(validate_dns_name("*.hopital.fr").is_ok());
        assert!(validate_dns_name("localhost").is_err());
        assert!(validate_dns_name("a..fr").is_err());
        assert!(validate_dns_name("-a.fr").is_err());
        assert!(validate_dns_name("x.*.fr").is_err());
        assert!(validate_email("dr.martin@hopital.mssante.fr").is_ok());
        assert_eq!(
            validate_email("a@b").unwrap_err().to_string(),
            "\"a@b\" has an invalid domain"
        );
        assert_eq!(
            validate_email("a b@c.fr").unwrap_err().to_string(),
            "\"a b@c.fr\" is not a valid e-mail address"
        );
        assert_eq!(
            validate_email("ab.fr").unwrap_err().to_string(),
            "\"ab.fr\" is not an e-mail address"
        );
        assert_eq!(
            validate_dns_name("a..fr").unwrap_err().to_string(),
            "\"a..fr\" is not a valid DNS name"
        );
    }
}
