use super::*;
use crate::der;

fn dn(s: &str) -> Dn {
    Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The single values of each RDN, as text.
fn values(d: &Dn) -> Vec<Vec<&str>> {
    d.rdns()
        .iter()
        .map(|r| {
            r.avas()
                .iter()
                .map(|a| a.text().unwrap_or("<ber>"))
                .collect()
        })
        .collect()
}

fn atv(arcs: &[u64], value: Vec<u8>) -> Vec<u8> {
    der::seq(&[der::oid(arcs), value])
}

#[test]
fn round_trip_and_escapes() {
    let d = dn("cn=A\\, B,ou=X Y,o=Z\\2B,c=FR");
    assert_eq!(
        values(&d),
        vec![vec!["A, B"], vec!["X Y"], vec!["Z+"], vec!["FR"]]
    );
    assert_eq!(d.to_string(), "cn=A\\, B,ou=X Y,o=Z\\+,c=FR");
    assert_eq!(dn(&d.to_string()), d);
    assert_eq!(d.parent().unwrap().to_string(), "ou=X Y,o=Z\\+,c=FR");
    assert_eq!(escape_value(" a "), "\\ a\\ ");
    assert_eq!(escape_value("#a=b"), "\\#a\\=b");
    assert_eq!(values(&dn("cn=\\ a\\ ")), vec![vec![" a "]]);
    assert_eq!(values(&dn("cn=\\#a")), vec![vec!["#a"]]);
    assert_eq!(values(&dn("cn=caf\\C3\\A9")), vec![vec!["café"]]);
    assert!(dn("CN=X,OU=Y,C=FR").is_within(&dn("ou=y,c=fr")));
    assert!(!dn("CN=X,OU=Y,C=FR").is_within(&dn("ou=z,c=fr")));
    assert!(Dn::parse("").unwrap().is_empty());
}

#[test]
fn refusals_say_why() {
    let e = |s: &str| Dn::parse(s).unwrap_err().to_string();
    assert_eq!(e("=x"), "\"=x\" is not a DN: bad attribute type \"\"");
    assert_eq!(e("cn"), "\"cn\" is not a DN: empty value for cn");
    assert_eq!(e("cn="), "\"cn=\" is not a DN: empty value for cn");
    assert_eq!(e("cn=a\\"), "\"cn=a\\\\\" is not a DN: dangling '\\'");
    assert_eq!(e("cn=a\\4"), "\"cn=a\\\\4\" is not a DN: bad hex escape");
    assert_eq!(
        e("cn=\\ff"),
        "\"cn=\\\\ff\" is not a DN: escaped bytes are not UTF-8"
    );
    assert_eq!(e("cn=a;o=b"), "\"cn=a;o=b\" is not a DN: unescaped ';'");
    assert_eq!(e("cn=#0"), "\"cn=#0\" is not a DN: bad hex value");
    assert_eq!(e("cn=#"), "\"cn=#\" is not a DN: bad hex value");
    assert_eq!(e("cn=#0c 01"), "\"cn=#0c 01\" is not a DN: bad hex value");
    assert_eq!(
        e("c n=a"),
        "\"c n=a\" is not a DN: bad attribute type \"c n\""
    );
    assert_eq!(
        e("2.5..4=a"),
        "\"2.5..4=a\" is not a DN: bad attribute type \"2.5..4\""
    );
    assert!(Dn::parse("cn=a,").is_err());
    assert!(Dn::parse("cn=a+").is_err());
}

#[test]
fn escaped_comma_is_part_of_the_value() {
    let one = dn("CN=a\\,O=evil");
    assert_eq!(one.rdns().len(), 1);
    assert_eq!(values(&one), vec![vec!["a,O=evil"]]);
    assert_ne!(one, dn("CN=a,O=evil"));
    assert_eq!(one, dn("CN=a\\2CO=evil"), "\\2C is the same comma");
    assert_eq!(one, dn("cn=A\\2co\\3devil"));
    assert_ne!(one.norm(), dn("CN=a,O=evil").norm());
}

#[test]
fn multi_valued_rdns_are_sets() {
    let d = dn("cn=a+sn=b,o=x");
    assert_eq!(values(&d), vec![vec!["a", "b"], vec!["x"]]);
    assert!(d.rdn().unwrap().single().is_none());
    assert_eq!(d.to_string(), "cn=a+sn=b,o=x");
    assert_eq!(
        d,
        dn("SN=b + CN=a, O=x"),
        "pair order and spaces do not matter"
    );
    assert_eq!(d.norm(), dn("sn=B+cn=A,o=X").norm());
    assert_ne!(d, dn("cn=a,sn=b,o=x"), "two RDNs are not one RDN of two");
    assert_ne!(d, dn("cn=a+sn=c,o=x"));
    assert_ne!(d, dn("cn=a,o=x"));
    assert_eq!(values(&dn("cn=a\\+sn=b")), vec![vec!["a+sn=b"]]);
}

#[test]
fn hex_values() {
    // UTF8String "a", PrintableString "a", BMPString "a": the directory string "a".
    assert_eq!(dn("cn=#0c0161"), dn("cn=a"));
    assert_eq!(dn("cn=#130141"), dn("CN=a"));
    assert_eq!(dn("cn=#1e020061 , o=x"), dn("cn=a,o=x"));
    assert_eq!(values(&dn("cn=#0C0161+sn=b")), vec![vec!["a", "b"]]);
    // A BOOLEAN is not a string: kept as BER, compared bytewise, written back in hex.
    let b = dn("1.2.3.4=#0101ff");
    assert_eq!(
        b.rdn().unwrap().single().unwrap().value(),
        &Value::Ber(vec![1, 1, 0xff])
    );
    assert_eq!(b.to_string(), "1.2.3.4=#0101ff");
    assert_eq!(b, dn("1.2.3.4=#0101FF"));
    assert_ne!(b, dn("1.2.3.4=#010100"));
    assert_ne!(b, dn("1.2.3.4=\\#0101ff"), "an escaped # is text");
}

#[test]
fn spaces_are_insignificant() {
    assert_eq!(dn("cn=  a  ,o=x"), dn("cn=a,o=x"));
    assert_eq!(dn("cn=\\ a\\ ,o=x"), dn("cn=a,o=x"));
    assert_eq!(dn("cn=a   b"), dn("cn=a b"));
    assert_eq!(dn("cn=a\\09b"), dn("cn=a b"), "a tab is a space");
    assert_eq!(dn("cn=a\\C2\\ADb"), dn("cn=ab"), "a soft hyphen is nothing");
    assert_ne!(dn("cn=a b"), dn("cn=ab"));
    assert_eq!(values(&dn("cn=  a  ")), vec![vec!["a"]]);
}

#[test]
fn case_and_attribute_names() {
    assert_eq!(dn("CN=Alice,O=ACME,C=FR"), dn("cn=alice,o=acme,c=fr"));
    assert_eq!(dn("commonName=Éloïse"), dn("2.5.4.3=éLOÏSE"));
    assert_eq!(dn("E=a@b.fr"), dn("emailAddress=A@B.FR"));
    assert_eq!(dn("ST=x"), dn("stateOrProvinceName=X"));
    assert_ne!(
        dn("mail=a@b.fr"),
        dn("emailAddress=a@b.fr"),
        "two attribute types"
    );
    // A type coeur does not know: its name is case-insensitive, its value is not.
    assert_eq!(dn("X-Foo=A"), dn("x-foo=A"));
    assert_ne!(dn("x-foo=A"), dn("x-foo=a"));
    assert_ne!(dn("cn=a"), dn("sn=a"));
}

#[test]
fn rdn_order_matters() {
    let d = dn("cn=a,o=b,c=FR");
    assert_ne!(d, dn("o=b,cn=a,c=FR"));
    assert_ne!(d, dn("c=FR,o=b,cn=a"));
    assert_eq!(d.reversed(), dn("C=FR, O=b, CN=a"));
    assert_eq!(d.reversed().reversed(), d);
}

#[test]
fn from_a_certificate_subject() {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CountryName, "FR");
    name.push(rcgen::DnType::OrganizationName, "evil");
    name.push(rcgen::DnType::CommonName, "a,O=evil");
    params.distinguished_name = name;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
    let subject = Dn::from_der(parsed.subject().as_raw()).unwrap();
    assert_eq!(subject.to_string(), "CN=a\\,O\\=evil,O=evil,C=FR");
    assert_eq!(subject, dn("cn=A\\,o=EVIL,o=evil,c=fr"));
    assert_ne!(subject, dn("CN=a,O=evil,O=evil,C=FR"));
    assert_ne!(subject, dn("CN=a,O=evil,C=FR"));
}

#[test]
fn from_der_multi_valued_and_other_strings() {
    let name = der::seq(&[
        der::tlv(
            0x31,
            &[
                atv(&[2, 5, 4, 6], der::tlv(0x13, b"FR")),
                atv(&[2, 5, 4, 10], der::tlv(0x14, b"Caf\xe9")),
            ]
            .concat(),
        ),
        der::tlv(
            0x31,
            &[
                atv(&[2, 5, 4, 4], der::tlv(0x1e, &[0, b'b'])),
                atv(&[2, 5, 4, 3], der::tlv(0x0c, b"a")),
            ]
            .concat(),
        ),
        der::tlv(0x31, &atv(&[1, 2, 3, 4], der::tlv(0x01, &[0xff]))),
    ]);
    let d = Dn::from_der(&name).unwrap();
    assert_eq!(d, dn("1.2.3.4=#0101ff,sn=b+cn=a,o=café+c=fr"));
    assert_eq!(d.to_string(), "1.2.3.4=#0101ff,CN=a+SN=b,C=FR+O=Café");
    assert!(Dn::from_der(b"\x30\x03\x31").is_err());
    assert!(Dn::from_der(&[]).is_err());
}

#[test]
fn der_names_with_an_empty_rdn_are_refused() {
    // SEQUENCE { SET {}, SET {}, SET {} }: found by the `dn` fuzz target, which printed it
    // as ",," and could not read it back.
    assert!(Dn::from_der(&[0x30, 0x06, 0x31, 0x00, 0x31, 0x00, 0x31, 0x00]).is_err());
    assert!(Dn::from_der(&[0x30, 0x02, 0x31, 0x00]).is_err());
    // The empty name itself (no RDN at all) stays valid.
    assert!(Dn::from_der(&[0x30, 0x00]).unwrap().is_empty());
}

#[test]
fn empty_string_values_print_as_they_read_back() {
    // `O=#1400` (an empty TeletexString): found by the `dn` fuzz target, which printed it as
    // `O=`, a text `Dn::parse` refuses.
    let d = dn("CN=x,O=#1400");
    assert_eq!(d.to_string(), "CN=x,O=#1400");
    assert_eq!(dn(&d.to_string()), d);
    // The same from DER: SEQUENCE { SET { SEQUENCE { OID 2.5.4.10, UTF8String "" } } }.
    let der = [
        0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x00,
    ];
    let d = Dn::from_der(&der).expect("an empty value is valid DER");
    assert_eq!(dn(&d.to_string()), d);
}
