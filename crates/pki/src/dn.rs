//! Distinguished names: the one type coeur uses wherever a DN is read, written or compared
//! (the LDAP directory's entries and the subject DNs of `tls_client_auth` registrations).
//!
//! A [`Dn`] is read from its string form (RFC 4514) or from a DER `Name` (X.501, as in a
//! certificate's subject), and written back in RFC 4514 form. Two DNs are equal when they
//! name the same thing (RFC 4517 `distinguishedNameMatch`): the same number of RDNs, in the
//! same order, each with the same set of attribute type and value pairs, whatever the order
//! of a multi-valued RDN's pairs. Attribute types compare case-insensitively, short names and
//! numeric OIDs alike (`CN`, `commonName`, `2.5.4.3`). Values compare after RFC 4518-style
//! preparation: characters RFC 4518 maps to nothing are removed, other spaces become U+0020,
//! leading and trailing spaces are dropped and inner runs folded into one, and, for the
//! attribute types matched with `caseIgnoreMatch` or `caseIgnoreIA5Match` (every type of the
//! table below), case is folded. Unicode normalisation (NFKC) is not applied. Values of
//! unknown types compare case-sensitively; BER values that are not strings compare bytewise.

use std::fmt;

/// Why a string or DER name is not a DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    /// An attribute type is neither a descriptor nor a numeric OID.
    #[error("{dn:?} is not a DN: bad attribute type {attr:?}")]
    BadAttributeType {
        /// The string read.
        dn: String,
        /// The attribute type found.
        attr: String,
    },
    /// `\XX` escapes that do not form UTF-8.
    #[error("{dn:?} is not a DN: escaped bytes are not UTF-8")]
    EscapedNotUtf8 {
        /// The string read.
        dn: String,
    },
    /// A `\` at the end of the string.
    #[error("{dn:?} is not a DN: dangling '\\'")]
    DanglingEscape {
        /// The string read.
        dn: String,
    },
    /// A `\` followed by one hex digit only.
    #[error("{dn:?} is not a DN: bad hex escape")]
    BadHexEscape {
        /// The string read.
        dn: String,
    },
    /// A character that must be escaped in a value.
    #[error("{dn:?} is not a DN: unescaped {c:?}")]
    Unescaped {
        /// The string read.
        dn: String,
        /// The character.
        c: char,
    },
    /// A `#` value that is not an even number of hex digits.
    #[error("{dn:?} is not a DN: bad hex value")]
    BadHexValue {
        /// The string read.
        dn: String,
    },
    /// `attr=` with nothing after it.
    #[error("{dn:?} is not a DN: empty value for {attr}")]
    EmptyValue {
        /// The string read.
        dn: String,
        /// The attribute type.
        attr: String,
    },
    /// A DER `Name` that does not decode.
    #[error("the name does not decode: {0}")]
    Der(String),
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string (unescaped), from a string value or a BER-encoded directory string.
    Text(String),
    /// The BER encoding of a value that is not a directory string (`#` hex form).
    Ber(Vec<u8>),
}

/// One attribute type and value pair.
#[derive(Debug, Clone)]
pub struct Ava {
    attr: String,
    value: Value,
}

impl Ava {
    /// A pair with a text value.
    pub fn new(attr: &str, value: &str) -> Self {
        Ava {
            attr: attr.to_owned(),
            value: Value::Text(value.to_owned()),
        }
    }

    /// The attribute type as written (e.g. `cn`, `2.5.4.3`).
    pub fn attr(&self) -> &str {
        &self.attr
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value when it is text.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Text(t) => Some(t),
            Value::Ber(_) => None,
        }
    }

    fn canonical(&self) -> (String, String) {
        let (ty, case_ignore) = canonical_type(&self.attr);
        let v = match &self.value {
            Value::Text(t) => format!("={}", escape_value(&prepare(t, case_ignore))),
            Value::Ber(b) => format!("=#{}", hex::encode(b)),
        };
        (ty, v)
    }
}

impl fmt::Display for Ava {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Value::Text(t) => write!(f, "{}={}", self.attr, escape_value(t)),
            Value::Ber(b) => write!(f, "{}=#{}", self.attr, hex::encode(b)),
        }
    }
}

/// A relative distinguished name: one pair, or several (`cn=a+sn=b`).
#[derive(Debug, Clone)]
pub struct Rdn {
    avas: Vec<Ava>,
}

impl Rdn {
    /// Its pairs, as written.
    pub fn avas(&self) -> &[Ava] {
        &self.avas
    }

    /// The pair of a single-valued RDN (None when multi-valued).
    pub fn single(&self) -> Option<&Ava> {
        match self.avas.as_slice() {
            [a] => Some(a),
            _ => None,
        }
    }

    /// The comparison form: canonical pairs, sorted (a multi-valued RDN is a set).
    fn canonical(&self) -> String {
        let mut pairs: Vec<String> = self
            .avas
            .iter()
            .map(|a| {
                let (t, v) = a.canonical();
                t + &v
            })
            .collect();
        pairs.sort();
        pairs.join("+")
    }
}

impl fmt::Display for Rdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.avas.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl PartialEq for Rdn {
    fn eq(&self, other: &Self) -> bool {
        self.canonical() == other.canonical()
    }
}

impl Eq for Rdn {}

/// A distinguished name, most specific RDN first (RFC 4514 order). `==` is
/// `distinguishedNameMatch` (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Dn {
    rdns: Vec<Rdn>,
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.rdns == other.rdns
    }
}

impl Eq for Dn {}

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

/// Attribute types coeur knows by name: numeric OID, then its names (the first is the one
/// written when a DN is read from DER). All match with `caseIgnoreMatch` or
/// `caseIgnoreIA5Match` (RFC 4519, X.520, PKCS #9).
const KNOWN_TYPES: &[(&str, &[&str])] = &[
    ("2.5.4.3", &["CN", "commonName"]),
    ("2.5.4.4", &["SN", "surname"]),
    ("2.5.4.5", &["serialNumber"]),
    ("2.5.4.6", &["C", "countryName"]),
    ("2.5.4.7", &["L", "localityName"]),
    ("2.5.4.8", &["ST", "stateOrProvinceName", "S"]),
    ("2.5.4.9", &["STREET", "streetAddress"]),
    ("2.5.4.10", &["O", "organizationName"]),
    (
        "2.5.4.11",
        &["OU", "organizationalUnitName", "organizationalUnit"],
    ),
    ("2.5.4.12", &["title"]),
    ("2.5.4.13", &["description"]),
    ("2.5.4.17", &["postalCode"]),
    ("2.5.4.42", &["givenName", "GN"]),
    ("2.5.4.43", &["initials"]),
    ("2.5.4.44", &["generationQualifier"]),
    ("2.5.4.46", &["dnQualifier"]),
    ("2.5.4.65", &["pseudonym"]),
    ("2.5.4.97", &["organizationIdentifier"]),
    ("0.9.2342.19200300.100.1.1", &["UID", "userid"]),
    ("0.9.2342.19200300.100.1.3", &["mail", "rfc822Mailbox"]),
    ("0.9.2342.19200300.100.1.25", &["DC", "domainComponent"]),
    ("1.2.840.113549.1.9.1", &["emailAddress", "Email", "E"]),
];

/// The comparison form of an attribute type (its numeric OID when known, else the type
/// lowercased) and whether its values match case-insensitively.
fn canonical_type(attr: &str) -> (String, bool) {
    let known = KNOWN_TYPES
        .iter()
        .find(|(oid, names)| *oid == attr || names.iter().any(|n| n.eq_ignore_ascii_case(attr)));
    match known {
        Some((oid, _)) => ((*oid).to_owned(), true),
        None => (attr.to_ascii_lowercase(), false),
    }
}

/// The name written for an attribute type read from DER.
fn type_name(oid: &str) -> String {
    KNOWN_TYPES
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or_else(|| oid.to_owned(), |(_, names)| names[0].to_owned())
}

/// RFC 4518 string preparation, without Unicode normalisation: map, optionally case fold,
/// then insignificant space handling (trim, fold inner runs of spaces into one).
fn prepare(v: &str, case_ignore: bool) -> String {
    let mapped = v.chars().filter_map(|c| match c {
        // Mapped to nothing (RFC 4518 §2.2).
        '\u{00AD}'
        | '\u{1806}'
        | '\u{034F}'
        | '\u{180B}'..='\u{180D}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FFFC}'
        | '\u{200B}'
        | '\u{200C}'
        | '\u{200D}'
        | '\u{2060}'
        | '\u{FEFF}' => None,
        // Mapped to SPACE.
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' => Some(' '),
        c if c.is_control() => None,
        c if c.is_whitespace() => Some(' '),
        c => Some(c),
    });
    let mapped: String = if case_ignore {
        mapped.flat_map(char::to_lowercase).collect()
    } else {
        mapped.collect()
    };
    mapped
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn valid_attr_type(t: &str) -> bool {
    let mut chars = t.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => t
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// Reads one TLV with a definite length; `(tag, content)` when it is the whole input.
fn single_tlv(ber: &[u8]) -> Option<(u8, &[u8])> {
    let (&tag, rest) = ber.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() == len && tag & 0x1f != 0x1f).then_some((tag, rest))
}

/// The text of a BER-encoded directory string, `None` for other values.
fn decode_string(ber: &[u8]) -> Option<String> {
    let (tag, content) = single_tlv(ber)?;
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString.
        0x0c | 0x12 | 0x13 | 0x16 | 0x1a => String::from_utf8(content.to_vec()).ok(),
        // TeletexString: UTF-8 in practice, else Latin-1.
        0x14 => Some(
            String::from_utf8(content.to_vec())
                .unwrap_or_else(|_| content.iter().map(|b| char::from(*b)).collect()),
        ),
        // BMPString (UTF-16BE).
        0x1e if content.len() % 2 == 0 => {
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString (UTF-32BE).
        0x1c if content.len() % 4 == 0 => content
            .chunks_exact(4)
            .map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])))
            .collect(),
        _ => None,
    }
}

fn value_from_ber(ber: Vec<u8>) -> Value {
    match decode_string(&ber) {
        // An empty string stays encoded: its text (`O=`) is refused by `Dn::parse`, and
        // `#1400` reads back as the same value.
        Some(t) if !t.is_empty() => Value::Text(t),
        _ => Value::Ber(ber),
    }
}

/// The string reader of [`Dn::parse`].
struct Reader<'a> {
    dn: &'a str,
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

/// What ended a value.
#[derive(PartialEq, Eq)]
enum End {
    Comma,
    Plus,
    Eof,
}

impl Reader<'_> {
    fn attr_type(&mut self) -> Result<String, DnError> {
        let mut attr = String::new();
        for c in self.chars.by_ref() {
            if c == '=' {
                break;
            }
            attr.push(c);
        }
        let attr = attr.trim().to_owned();
        if valid_attr_type(&attr) {
            Ok(attr)
        } else {
            Err(DnError::BadAttributeType {
                dn: self.dn.to_owned(),
                attr,
            })
        }
    }

    /// The value up to an unescaped `,` or `+`, with what ended it.
    fn value(&mut self, attr: &str) -> Result<(Value, End), DnError> {
        while self.chars.next_if_eq(&' ').is_some() {}
        if self.chars.next_if_eq(&'#').is_some() {
            return self.hex_value();
        }
        let dn = self.dn;
        // Each character with whether it was escaped; `\XX` bytes gather until flushed.
        let mut chars_v: Vec<(char, bool)> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let flush = |bytes: &mut Vec<u8>, out: &mut Vec<(char, bool)>| -> Result<(), DnError> {
            if !bytes.is_empty() {
                let t = std::str::from_utf8(bytes)
                    .map_err(|_| DnError::EscapedNotUtf8 { dn: dn.to_owned() })?;
                out.extend(t.chars().map(|c| (c, true)));
                bytes.clear();
            }
            Ok(())
        };
        let mut end = End::Eof;
        while let Some(c) = self.chars.next() {
            match c {
                '\\' => {
                    let Some(n) = self.chars.next() else {
                        return Err(DnError::DanglingEscape { dn: dn.to_owned() });
                    };
                    if let Some(hi) = n.to_digit(16) {
                        let Some(lo) = self.chars.next().and_then(|m| m.to_digit(16)) else {
                            return Err(DnError::BadHexEscape { dn: dn.to_owned() });
                        };
                        bytes.push(u8::try_from(hi * 16 + lo).unwrap_or_default());
                    } else {
                        flush(&mut bytes, &mut chars_v)?;
                        chars_v.push((n, true));
                    }
                }
                ',' | '+' => {
                    end = if c == ',' { End::Comma } else { End::Plus };
                    break;
                }
                '"' | ';' | '<' | '>' | '\0' => {
                    return Err(DnError::Unescaped {
                        dn: dn.to_owned(),
                        c,
                    });
                }
                c => {
                    flush(&mut bytes, &mut chars_v)?;
                    chars_v.push((c, false));
                }
            }
        }
        flush(&mut bytes, &mut chars_v)?;
        // Unescaped trailing spaces are not part of the value (leading ones were skipped).
        while chars_v.last() == Some(&(' ', false)) {
            chars_v.pop();
        }
        if chars_v.is_empty() {
            return Err(DnError::EmptyValue {
                dn: dn.to_owned(),
                attr: attr.to_owned(),
            });
        }
        Ok((Value::Text(chars_v.iter().map(|(c, _)| *c).collect()), end))
    }

    /// `#` followed by the hex of a BER encoding (RFC 4514 §2.4).
    fn hex_value(&mut self) -> Result<(Value, End), DnError> {
        let bad = || DnError::BadHexValue {
            dn: self.dn.to_owned(),
        };
        let mut hex_digits = String::new();
        let mut end = End::Eof;
        let mut trailing = false;
        for c in self.chars.by_ref() {
            match c {
                ',' => {
                    end = End::Comma;
                    break;
                }
                '+' => {
                    end = End::Plus;
                    break;
                }
                ' ' => trailing = true,
                c if c.is_ascii_hexdigit() && !trailing => hex_digits.push(c),
                _ => return Err(bad()),
            }
        }
        let ber = hex::decode(&hex_digits).map_err(|_| bad())?;
        if ber.is_empty() {
            return Err(bad());
        }
        Ok((value_from_ber(ber), end))
    }
}

impl Dn {
    /// Parses a string DN (RFC 4514), most specific RDN first. Spaces around `,`, `+` and
    /// `=` are allowed (as OpenSSL writes them). The empty string is the empty DN (the root
    /// DSE).
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        if s.trim().is_empty() {
            return Ok(Dn::default());
        }
        let mut r = Reader {
            dn: s,
            chars: s.chars().peekable(),
        };
        let mut rdns = Vec::new();
        let mut avas = Vec::new();
        loop {
            let attr = r.attr_type()?;
            let (value, end) = r.value(&attr)?;
            avas.push(Ava { attr, value });
            if end != End::Plus {
                rdns.push(Rdn {
                    avas: std::mem::take(&mut avas),
                });
            }
            if end == End::Eof {
                break;
            }
        }
        Ok(Dn { rdns })
    }

    /// Reads a DER-encoded X.501 `Name` (e.g. a certificate's subject, as
    /// `X509Certificate::subject().as_raw()` gives it). Directory strings become text;
    /// other values keep their encoding.
    pub fn from_der(name: &[u8]) -> Result<Dn, DnError> {
        use x509_cert::der::{Decode as _, Encode as _};
        let parsed =
            x509_cert::name::Name::from_der(name).map_err(|e| DnError::Der(e.to_string()))?;
        let mut rdns = Vec::with_capacity(parsed.0.len());
        // DER order is least specific first; a Dn is most specific first.
        for rdn in parsed.0.iter().rev() {
            // RelativeDistinguishedName ::= SET SIZE (1..MAX) (X.501): an empty RDN has no
            // RFC 4514 text and would print as a bare separator.
            if rdn.0.is_empty() {
                return Err(DnError::Der("empty relative distinguished name".into()));
            }
            let mut avas = Vec::with_capacity(rdn.0.len());
            for atv in rdn.0.iter() {
                let ber = atv
                    .value
                    .to_der()
                    .map_err(|e| DnError::Der(e.to_string()))?;
                avas.push(Ava {
                    attr: type_name(&atv.oid.to_string()),
                    value: value_from_ber(ber),
                });
            }
            rdns.push(Rdn { avas });
        }
        Ok(Dn { rdns })
    }

    /// Its RDNs, most specific first.
    pub fn rdns(&self) -> &[Rdn] {
        &self.rdns
    }

    /// Whether this is the empty DN.
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The parent (None for the empty DN).
    pub fn parent(&self) -> Option<Dn> {
        if self.rdns.is_empty() {
            None
        } else {
            Some(Dn {
                rdns: self.rdns[1..].to_vec(),
            })
        }
    }

    /// A child entry's DN (single-valued RDN `attr=value`).
    pub fn child(&self, attr: &str, value: &str) -> Dn {
        let mut rdns = Vec::with_capacity(self.rdns.len() + 1);
        rdns.push(Rdn {
            avas: vec![Ava::new(attr, value)],
        });
        rdns.extend(self.rdns.iter().cloned());
        Dn { rdns }
    }

    /// The DN of `rel` (relative RDNs) under this one.
    pub fn under(&self, rel: &Dn) -> Dn {
        Dn {
            rdns: rel.rdns.iter().chain(self.rdns.iter()).cloned().collect(),
        }
    }

    /// The same RDNs in the opposite order: the reading of a DN string written least specific
    /// first (as OpenSSL's and x509-parser's one-line forms print a certificate's subject).
    pub fn reversed(&self) -> Dn {
        Dn {
            rdns: self.rdns.iter().rev().cloned().collect(),
        }
    }

    /// The first RDN.
    pub fn rdn(&self) -> Option<&Rdn> {
        self.rdns.first()
    }

    /// The canonical form (see the module documentation): two DNs are equal exactly when
    /// their canonical forms are, so it can key maps.
    pub fn norm(&self) -> String {
        self.rdns
            .iter()
            .map(Rdn::canonical)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether `self` is `base` or below it.
    pub fn is_within(&self, base: &Dn) -> bool {
        self.rdns.len() >= base.rdns.len()
            && self.rdns[self.rdns.len() - base.rdns.len()..] == base.rdns[..]
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Dn {
    type Err = DnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dn::parse(s)
    }
}

#[cfg(test)]
#[path = "dn_tests.rs"]
mod tests;
