//! Check keys of the identifiers found in the extracts (igc digest §4): RPPS, FINESS, SIREN
//! and SIRET all end with a Luhn key; SIRETs of La Poste (SIREN 356000000) are the known
//! exception, their digit sum being a multiple of 5.

use coeur_common::identity::luhn_valid;

/// Why an identifier is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Wrong length or non-digit characters.
    #[error("{kind} {value:?}: expected {len} digits")]
    Format {
        kind: &'static str,
        value: String,
        len: usize,
    },
    /// The Luhn key does not match.
    #[error("{kind} {value:?}: wrong check key")]
    Key { kind: &'static str, value: String },
}

fn digits(kind: &'static str, value: &str, len: usize) -> Result<(), KeyError> {
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyError::Format {
            kind,
            value: value.to_owned(),
            len,
        });
    }
    Ok(())
}

fn luhn(kind: &'static str, value: &str, len: usize) -> Result<(), KeyError> {
    digits(kind, value, len)?;
    if luhn_valid(value) {
        Ok(())
    } else {
        Err(KeyError::Key {
            kind,
            value: value.to_owned(),
        })
    }
}

/// An RPPS number: 11 digits, Luhn.
pub fn check_rpps(value: &str) -> Result<(), KeyError> {
    luhn("RPPS", value, 11)
}

/// A FINESS number: 9 digits, Luhn. Corsican numbers (`2A`, `2B`) carry letters and their key
/// algorithm is not documented: they are accepted on their format alone.
pub fn check_finess(value: &str) -> Result<(), KeyError> {
    let corsica = value.len() == 9
        && (value.starts_with("2A") || value.starts_with("2B"))
        && value[2..].bytes().all(|b| b.is_ascii_digit());
    if corsica {
        return Ok(());
    }
    luhn("FINESS", value, 9)
}

/// A SIREN number: 9 digits, Luhn.
pub fn check_siren(value: &str) -> Result<(), KeyError> {
    luhn("SIREN", value, 9)
}

/// A SIRET number: 14 digits, Luhn, except La Poste's (digit sum a multiple of 5).
pub fn check_siret(value: &str) -> Result<(), KeyError> {
    digits("SIRET", value, 14)?;
    if value.starts_with("356000000") {
        let sum: u32 = value.bytes().map(|b| u32::from(b - b'0')).sum();
        if sum.is_multiple_of(5) {
            return Ok(());
        }
    }
    luhn("SIRET", value, 14)
}

/// Checks `value` with `check` when it is present (extract columns are often empty).
pub fn check_optional(
    value: &str,
    check: fn(&str) -> Result<(), KeyError>,
) -> Result<(), KeyError> {
    if value.is_empty() {
        Ok(())
    } else {
        check(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_numbers_pass() {
        check_rpps("10001045367").unwrap();
        check_rpps("99700218896").unwrap();
        check_finess("010000024").unwrap();
        check_finess("750712184").unwrap();
        check_siret("85131528300016").unwrap();
        check_siret("26010004500012").unwrap();
        check_finess("2A0000011").unwrap();
    }

    #[test]
    fn wrong_keys_and_formats_are_refused() {
        assert!(matches!(
            check_rpps("10001045368"),
            Err(KeyError::Key { .. })
        ));
        assert!(matches!(
            check_rpps("1000104536"),
            Err(KeyError::Format { .. })
        ));
        assert!(matches!(
            check_finess("010000025"),
            Err(KeyError::Key { .. })
        ));
        assert!(matches!(
            check_siret("8513152830001x"),
            Err(KeyError::Format { .. })
        ));
        assert!(check_optional("", check_siret).is_ok());
    }
}
