//! Encodings of the CA's outputs: serials as stored, PEM, base64, certs-only PKCS#7.

use super::*;

/// A serial as typed (hex, any case, optional `0x` and `:` separators, leading zero bytes or
/// digits) in the stored form of [`serial_hex`].
pub fn normalize_serial(s: &str) -> String {
    let h: String = s
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    match decode_serial(&h) {
        Ok(b) => serial_hex(&b),
        // Not hex: cannot match a stored serial; keep it as is for the "not found" answer.
        Err(_) => h,
    }
}

/// Serial as stored: lowercase hex without leading zeros.
pub fn serial_hex(serial: &[u8]) -> String {
    let s: Vec<u8> = serial.iter().copied().skip_while(|b| *b == 0).collect();
    if s.is_empty() {
        "0".into()
    } else {
        hex::encode(s)
    }
}

pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let b = coeur_common::encoding::b64(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// PEM of a certificate.
pub fn cert_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// A stored serial (lowercase hex without leading zeros, so possibly of odd length) as bytes.
pub(crate) fn decode_serial(hex_serial: &str) -> Result<Vec<u8>> {
    Ok(if hex_serial.len() % 2 == 1 {
        hex::decode(format!("0{hex_serial}"))?
    } else {
        hex::decode(hex_serial)?
    })
}

/// A certs-only PKCS#7 SignedData (a chain bundle).
pub fn pkcs7_certs(certs: &[Vec<u8>]) -> Vec<u8> {
    let signed_data = der::seq(&[
        der::uint_u64(1),
        der::tlv(0x31, &[]),
        der::seq(&[der::oid(&[1, 2, 840, 113549, 1, 7, 1])]),
        der::tlv(0xa0, &certs.concat()),
        der::tlv(0x31, &[]),
    ]);
    der::seq(&[
        der::oid(&[1, 2, 840, 113549, 1, 7, 2]),
        der::explicit(0, &signed_data),
    ])
}
