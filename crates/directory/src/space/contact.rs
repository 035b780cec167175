//! Pure: a professional's contact details for correspondence (e-mail, phone), checked and
//! normalised from what they type, and shown in `Practitioner.telecom` with `use` `work`.
//!
//! - E-mail: trimmed; one `@`; a local part of 1 to 64 printable ASCII characters without
//!   spaces, quotes, angle brackets or commas; a domain of dot-separated labels (letters,
//!   digits, hyphens, not at a label's ends), at least two labels, lower-cased; 254 characters
//!   at most.
//! - Phone: E.164 (`+` and 8 to 15 digits). French numbers may be typed as `0X XX XX XX XX`
//!   or `0033…` (spaces, dots, hyphens and parentheses ignored), and become `+33X XXXXXXXX`
//!   without the spaces.
//!
//! An empty field means "none". A form with a bad field changes nothing: [`check_form`] gives
//! both details or the errors of each bad field.

use crate::fhir::model::ContactPoint;
use std::fmt;

/// A checked, normalised e-mail address.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

/// A checked phone number in E.164 form (`+33612345678`).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

/// Why a typed value is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactError {
    /// Not an e-mail address.
    BadEmail,
    /// Not a phone number.
    BadPhone,
}

impl fmt::Display for ContactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContactError::BadEmail => "not an e-mail address",
            ContactError::BadPhone => "not a phone number",
        })
    }
}

impl std::error::Error for ContactError {}

impl Email {
    /// Checks and normalises a typed address.
    pub fn parse(typed: &str) -> Result<Self, ContactError> {
        let s = typed.trim();
        if s.len() > 254 {
            return Err(ContactError::BadEmail);
        }
        let (local, domain) = s.split_once('@').ok_or(ContactError::BadEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_graphic() && !"\"<>(),;:@[]\\".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
        if !(local_ok && domain_ok) {
            return Err(ContactError::BadEmail);
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Phone {
    /// Checks and normalises a typed number.
    pub fn parse(typed: &str) -> Result<Self, ContactError> {
        let s: String = typed
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}'))
            .collect();
        let international = if let Some(rest) = s.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = s.strip_prefix("00") {
            rest.to_owned()
        } else if let Some(rest) = s.strip_prefix('0') {
            // A French national number: 0 and nine digits.
            if rest.len() != 9 {
                return Err(ContactError::BadPhone);
            }
            format!("33{rest}")
        } else {
            return Err(ContactError::BadPhone);
        };
        if !international.chars().all(|c| c.is_ascii_digit())
            || !(8..=15).contains(&international.len())
            || international.starts_with('0')
        {
            return Err(ContactError::BadPhone);
        }
        // France: +33 and nine digits, the first not 0.
        if let Some(national) = international.strip_prefix("33")
            && (national.len() != 9 || national.starts_with('0'))
        {
            return Err(ContactError::BadPhone);
        }
        Ok(Phone(format!("+{international}")))
    }

    /// The number, E.164.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(…)")
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(…)")
    }
}

/// A professional's contact details for correspondence, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The e-mail address.
    pub email: Option<Email>,
    /// The phone number.
    pub phone: Option<Phone>,
}

impl Contact {
    /// Reads stored values (written checked; one that no longer reads is left out).
    pub fn from_stored(email: Option<&str>, phone: Option<&str>) -> Self {
        Contact {
            email: email.and_then(|e| Email::parse(e).ok()),
            phone: phone.and_then(|p| Phone::parse(p).ok()),
        }
    }

    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }

    /// The contact points of `Practitioner.telecom`: `email` then `phone`, `use` `work`.
    pub fn telecom(&self) -> Vec<ContactPoint> {
        let point = |system: &str, value: &str| ContactPoint {
            system: Some(system.to_owned()),
            value: Some(value.to_owned()),
            use_: Some("work".to_owned()),
        };
        self.email
            .iter()
            .map(|e| point("email", e.as_str()))
            .chain(self.phone.iter().map(|p| point("phone", p.as_str())))
            .collect()
    }
}

/// The errors of a contact form, per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    /// The e-mail field's error.
    pub email: Option<ContactError>,
    /// The phone field's error.
    pub phone: Option<ContactError>,
}

/// Checks a contact form (an empty field: none): both details, or the error of each bad one.
pub fn check_form(email: &str, phone: &str) -> Result<Contact, FormErrors> {
    fn optional<T>(
        s: &str,
        parse: fn(&str) -> Result<T, ContactError>,
    ) -> Result<Option<T>, ContactError> {
        if s.trim().is_empty() {
            Ok(None)
        } else {
            parse(s).map(Some)
        }
    }
    let email = optional(email, Email::parse);
    let phone = optional(phone, Phone::parse);
    match (email, phone) {
        (Ok(email), Ok(phone)) => Ok(Contact { email, phone }),
        (e, p) => Err(FormErrors {
            email: e.err(),
            phone: p.err(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_addresses_are_checked_and_normalised() {
        assert_eq!(
            Email::parse("  Jeanne.Martin@Cabinet-Sante.FR ")
                .unwrap()
                .as_str(),
            "Jeanne.Martin@cabinet-sante.fr"
        );
        assert!(Email::parse("a+b@x.example.org").is_ok());
        for bad in [
            "",
            "jeanne",
            "jeanne@",
            "@x.fr",
            "jeanne@x",
            "jeanne@@x.fr",
            "jeanne martin@x.fr",
            "jeanne@x..fr",
            "jeanne@-x.fr",
            "jeanne@x.f1",
            ".jeanne@x.fr",
            "<jeanne@x.fr>",
            "jeanne@x\n.fr",
        ] {
            assert_eq!(Email::parse(bad), Err(ContactError::BadEmail), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@x.fr", "a".repeat(65))).is_err());
    }

    #[test]
    fn phone_numbers_become_e164() {
        for (typed, e164) in [
            ("06 12 34 56 78", "+33612345678"),
            ("06.12.34.56.78", "+33612345678"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("0033612345678", "+33612345678"),
            ("01-23-45-67-89", "+33123456789"),
            ("+32 2 123 45 67", "+3221234567"),
            ("+262 262 12 34 56", "+262262123456"),
        ] {
            assert_eq!(Phone::parse(typed).unwrap().as_str(), e164, "{typed}");
        }
        for bad in [
            "",
            "12345",
            "06 12 34 56",
            "06 12 34 56 789",
            "+33 06 12 34 56 78",
            "+33 6 12 34 56",
            "+1234",
            "+1 234 567 890 123 456",
            "06 12 34 56 7a",
            "+0612345678",
        ] {
            assert_eq!(Phone::parse(bad), Err(ContactError::BadPhone), "{bad:?}");
        }
    }

    #[test]
    fn a_form_gives_both_details_or_every_error() {
        let c = check_form(" j@x.fr ", "").unwrap();
        assert_eq!(c.email.unwrap().as_str(), "j@x.fr");
        assert!(c.phone.is_none());
        assert!(check_form("", "").unwrap().is_empty());
        assert_eq!(
            check_form("bad", "06 12 34 56 78"),
            Err(FormErrors {
                email: Some(ContactError::BadEmail),
                phone: None
            })
        );
        assert_eq!(
            check_form("bad", "bad"),
            Err(FormErrors {
                email: Some(ContactError::BadEmail),
                phone: Some(ContactError::BadPhone)
            })
        );
    }

    #[test]
    fn telecom_carries_work_contact_points() {
        let c = check_form("j@x.fr", "0612345678").unwrap();
        let t = serde_json::to_value(c.telecom()).unwrap();
        assert_eq!(
            t,
            serde_json::json!([
                {"system": "email", "value": "j@x.fr", "use": "work"},
                {"system": "phone", "value": "+33612345678", "use": "work"},
            ])
        );
        assert!(
            !format!("{c:?}").contains("j@x.fr"),
            "details stay out of logs"
        );
    }
}
