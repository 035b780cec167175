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
    /// Not a DNS name coeur certifies.
    #[error("{0:?} is not a valid DNS name")]
    DnsName(String),
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
    if ok {
        Ok(n)
    } else {
        Err(NameError::DnsName(name.to_owned()))
    }
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
