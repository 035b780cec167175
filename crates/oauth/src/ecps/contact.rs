//! Enrolment by contact details: a professional without their card asks for an activation by
//! national id; when the identity may have one (known, active, admissible in the realm's
//! environment, with an e-mail address **and** a phone), the first code goes by e-mail and the
//! second by SMS. Neither alone activates a device: enrolling takes both
//! ([`ActivationParts::parse`]).
//!
//! Pure: the identity, the environment and the randomness are given.

use coeur_common::environment::Environment;
use coeur_common::identity::Identity;
use coeur_common::random::Random;

/// Seconds an activation sent by e-mail and SMS stays usable: e-mail may take minutes to
/// arrive (greylisting, a relay's queue), so longer than a card's code
/// ([`super::ACTIVATION_TTL`], shown on the screen next to the device), still single use and
/// still ended by the store after five wrong second codes.
pub const CONTACT_ACTIVATION_TTL: i64 = 15 * 60;

/// Characters of the e-mail code: upper-case letters and digits a person can read back and
/// type without ambiguity (no `0`/`O`, `1`/`I`/`L`), 31 of them.
const MAIL_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Length of the e-mail code (31^12, about 59 bits, like a card code's part).
const MAIL_CODE_LEN: usize = 12;
/// Digits of the SMS code.
const SMS_CODE_LEN: usize = 8;

/// How an activation reaches a professional who has contact details: their mailbox and the
/// phone number SMS are sent to (E.164). Only [`route`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRoute {
    email: String,
    sms_to: String,
}

impl ContactRoute {
    /// The e-mail address the first code is sent to.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The phone number (E.164, `+33…`) the second code is sent to.
    pub fn sms_to(&self) -> &str {
        &self.sms_to
    }
}

/// Where to send an activation for `identity` in a realm of `environment`: nowhere for an
/// unknown, inactive or inadmissible identity, nor for one lacking an e-mail address or a
/// phone number SMS can reach. The caller answers the same whatever this returns.
pub fn route(identity: Option<&Identity>, environment: Environment) -> Option<ContactRoute> {
    let i = identity?;
    if !i.active || i.national_id.admissible_in(environment).is_err() {
        return None;
    }
    let email = i
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.contains('@'))?;
    let sms_to = sms_number(i.phone.as_deref()?)?;
    Some(ContactRoute {
        email: email.to_owned(),
        sms_to,
    })
}

/// A phone number as SMS gateways take it (E.164): `+` and digits. Separators (spaces, dots,
/// dashes, parentheses) are dropped; `00` becomes `+`; a French national number (`0` and nine
/// digits) becomes `+33…`. Anything else is no number.
pub fn sms_number(phone: &str) -> Option<String> {
    let mut compact = String::new();
    for (i, c) in phone.trim().chars().enumerate() {
        match c {
            '+' if i == 0 => compact.push('+'),
            '0'..='9' => compact.push(c),
            ' ' | '.' | '-' | '(' | ')' => {}
            _ => return None,
        }
    }
    let e164 = if let Some(rest) = compact.strip_prefix('+') {
        format!("+{rest}")
    } else if let Some(rest) = compact.strip_prefix("00") {
        format!("+{rest}")
    } else if compact.len() == 10 && compact.starts_with('0') {
        format!("+33{}", &compact[1..])
    } else {
        return None;
    };
    let digits = e164.len() - 1;
    let ok = (8..=15).contains(&digits) && !e164[1..].starts_with('0');
    ok.then_some(e164)
}

/// The two codes of an activation by contact details: the e-mail code (it locates the
/// activation) and the SMS code (it confirms it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCodes {
    /// Sent by e-mail: twelve characters of an unambiguous alphabet.
    pub mail: String,
    /// Sent by SMS: eight digits.
    pub sms: String,
}

/// Draws a new pair of codes (uniformly: rejection sampling, no modulo bias).
pub fn new_codes(rng: &dyn Random) -> ContactCodes {
    ContactCodes {
        mail: draw(rng, MAIL_ALPHABET, MAIL_CODE_LEN),
        sms: draw(rng, b"0123456789", SMS_CODE_LEN),
    }
}

fn draw(rng: &dyn Random, alphabet: &[u8], len: usize) -> String {
    // The largest multiple of the alphabet's size a byte can hold: bytes above are redrawn.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 32];
    while out.len() < len {
        rng.fill(&mut buf);
        for b in buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    out
}

/// The two parts of an activation code as a device presents them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationParts {
    /// The part locating the activation (the card code's first part, or the e-mail code).
    pub first: String,
    /// The part confirming it (the card code's second part, or the SMS code).
    pub second: String,
}

impl ActivationParts {
    /// Reads what a device sent: a card's `first.second` as one `activation_code`, or an
    /// e-mail code with the SMS code in `second_code`. The e-mail code is read as a person may
    /// type it (any case, spaces and dashes ignored); the SMS code without its spaces. `None`
    /// when a part is missing (an e-mail code alone never activates anything) or the two forms
    /// are mixed.
    pub fn parse(activation_code: &str, second_code: Option<&str>) -> Option<Self> {
        let code = activation_code.trim();
        let (first, second) = match second_code {
            None => {
                let (f, s) = code.split_once('.')?;
                (f.to_owned(), s.to_owned())
            }
            Some(_) if code.contains('.') => return None,
            Some(s) => (
                code.chars()
                    .filter(|c| !c.is_whitespace() && *c != '-')
                    .map(|c| c.to_ascii_uppercase())
                    .collect(),
                s.chars().filter(|c| !c.is_whitespace()).collect(),
            ),
        };
        (!first.is_empty() && !second.is_empty()).then_some(ActivationParts { first, second })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coeur_common::identity::sandbox_identities;
    use coeur_common::random::testing::SeededRandom;

    fn someone() -> Identity {
        sandbox_identities(7, 1).remove(0)
    }

    #[test]
    fn an_activation_goes_only_to_an_identity_with_both_contact_details() {
        let i = someone();
        let r = route(Some(&i), Environment::Test).expect("a route");
        assert_eq!(r.email(), i.email.as_deref().unwrap());
        assert!(r.sms_to().starts_with("+33"), "{r:?}");
        assert_eq!(route(None, Environment::Test), None, "unknown");
        let no_phone = Identity {
            phone: None,
            ..i.clone()
        };
        assert_eq!(route(Some(&no_phone), Environment::Test), None);
        let no_mail = Identity {
            email: None,
            ..i.clone()
        };
        assert_eq!(route(Some(&no_mail), Environment::Test), None);
        let inactive = Identity {
            active: false,
            ..i.clone()
        };
        assert_eq!(route(Some(&inactive), Environment::Test), None);
        let edit = coeur_common::identity::edit_test_identities().remove(0);
        let edit = Identity {
            phone: Some("06 12 34 56 78".into()),
            ..edit
        };
        assert!(route(Some(&edit), Environment::Test).is_some());
        assert_eq!(
            route(Some(&edit), Environment::Production),
            None,
            "an EDIT test identity is nobody in production"
        );
    }

    #[test]
    fn phone_numbers_become_e164() {
        for (given, want) in [
            ("+33 1 23 45 67 89", Some("+33123456789")),
            ("06.12.34.56.78", Some("+33612345678")),
            ("(06) 12-34-56-78", Some("+33612345678")),
            ("0033 6 12 34 56 78", Some("+33612345678")),
            ("+262 692 12 34 56", Some("+262692123456")),
            ("612345678", None),
            ("+33 6 12 34 56 78 ext 2", None),
            ("+0123456789", None),
            ("+1234", None),
            ("", None),
            ("6+12345678", None),
        ] {
            assert_eq!(sms_number(given).as_deref(), want, "{given:?}");
        }
    }

    #[test]
    fn codes_are_drawn_from_their_alphabets() {
        let rng = SeededRandom::new(3);
        let a = new_codes(&rng);
        let b = new_codes(&rng);
        assert_ne!(a, b);
        for c in [&a, &b] {
            assert_eq!(c.mail.len(), MAIL_CODE_LEN);
            assert!(c.mail.bytes().all(|x| MAIL_ALPHABET.contains(&x)), "{c:?}");
            assert_eq!(c.sms.len(), SMS_CODE_LEN);
            assert!(c.sms.bytes().all(|x| x.is_ascii_digit()), "{c:?}");
        }
    }

    #[test]
    fn both_parts_are_needed_in_either_form() {
        let card = ActivationParts::parse(" abc.DEF-_ ", None).unwrap();
        assert_eq!(
            (card.first.as_str(), card.second.as_str()),
            ("abc", "DEF-_")
        );
        let contact = ActivationParts::parse("abcd-efgh 2345", Some("1234 5678")).unwrap();
        assert_eq!(
            (contact.first.as_str(), contact.second.as_str()),
            ("ABCDEFGH2345", "12345678")
        );
        for (code, second) in [
            ("ABCDEFGH2345", None),
            ("ABCDEFGH2345", Some("")),
            ("ABCDEFGH2345", Some("  ")),
            ("abc.def", Some("12345678")),
            ("abc.", None),
            (".def", None),
            ("", Some("12345678")),
        ] {
            assert_eq!(
                ActivationParts::parse(code, second),
                None,
                "{code:?} {second:?}"
            );
        }
    }
}
