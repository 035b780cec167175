//! A minimal DER writer for the structures the CA assembles itself: certificate extensions
//! rcgen has no type for, CRLs (which must stream: their length is known only after a first
//! pass over the store, and a full in-memory builder would hold a million entries), and OCSP
//! responses. Parsing is never done here: x509-parser and x509-ocsp do that.

/// Tag numbers used here.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// ENUMERATED.
    pub const ENUMERATED: u8 = 0x0a;
    /// IA5String.
    pub const IA5: u8 = 0x16;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE.
    pub const SEQUENCE: u8 = 0x30;
}

/// The length octets of a DER length.
pub fn len_bytes(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let be = len.to_be_bytes();
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mut out = vec![0x80 | (be.len() - skip) as u8];
    out.extend_from_slice(&be[skip..]);
    out
}

/// Size of a TLV whose content has `len` bytes (one tag byte).
pub fn tlv_size(len: usize) -> usize {
    1 + len_bytes(len).len() + len
}

/// Tag, length, value.
pub fn tlv(t: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tlv_size(content.len()));
    out.push(t);
    out.extend_from_slice(&len_bytes(content.len()));
    out.extend_from_slice(content);
    out
}

/// Header of a TLV whose content (of `len` bytes) is written separately.
pub fn header(t: u8, len: usize) -> Vec<u8> {
    let mut out = vec![t];
    out.extend_from_slice(&len_bytes(len));
    out
}

/// SEQUENCE of already-encoded parts.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// Context-specific constructed `[n]` (explicit tagging).
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// Context-specific primitive `[n]` (implicit tagging of a primitive).
pub fn implicit_prim(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

/// OBJECT IDENTIFIER.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    if arcs.len() >= 2 {
        push_base128(&mut body, arcs[0] * 40 + arcs[1]);
        for a in &arcs[2..] {
            push_base128(&mut body, *a);
        }
    }
    tlv(tag::OID, &body)
}

fn push_base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = vec![(v & 0x7f) as u8];
    v >>= 7;
    while v > 0 {
        tmp.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    tmp.reverse();
    out.extend_from_slice(&tmp);
}

/// INTEGER from unsigned big-endian bytes (minimal, with a 0x00 when the top bit is set).
pub fn uint(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len().saturating_sub(1));
    let b = &bytes[skip..];
    let mut body = Vec::with_capacity(b.len() + 1);
    if b.first().is_none_or(|x| x & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(b);
    tlv(tag::INTEGER, &body)
}

/// INTEGER from a u64.
pub fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

/// BIT STRING with no unused bits.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &body)
}

/// OCTET STRING.
pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, bytes)
}

/// ENUMERATED (small values).
pub fn enumerated(v: u8) -> Vec<u8> {
    tlv(tag::ENUMERATED, &[v])
}

/// IA5String.
pub fn ia5(s: &str) -> Vec<u8> {
    tlv(tag::IA5, s.as_bytes())
}

/// NULL.
pub fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

/// BOOLEAN TRUE.
pub fn true_() -> Vec<u8> {
    vec![tag::BOOLEAN, 1, 0xff]
}

/// Civil date of a Unix time: (year, month, day, hour, minute, second).
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        ((secs % 3600) / 60) as u32,
        (secs % 60) as u32,
    )
}

/// RFC 5280 Time: UTCTime through 2049, GeneralizedTime after.
pub fn time(t: i64) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil(t);
    if (1950..2050).contains(&y) {
        tlv(
            tag::UTC_TIME,
            format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100).as_bytes(),
        )
    } else {
        generalized_time(t)
    }
}

/// GeneralizedTime (OCSP uses it throughout).
pub fn generalized_time(t: i64) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil(t);
    tlv(
        tag::GENERALIZED_TIME,
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z").as_bytes(),
    )
}

/// An Extension: SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }.
pub fn extension(arcs: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(arcs)];
    if critical {
        parts.push(true_());
    }
    parts.push(octets(value));
    seq(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(len_bytes(5), vec![5]);
        assert_eq!(len_bytes(200), vec![0x81, 200]);
        assert_eq!(len_bytes(0x1234), vec![0x82, 0x12, 0x34]);
        assert_eq!(oid(&[2, 5, 29, 20]), vec![0x06, 3, 0x55, 0x1d, 0x14]);
        assert_eq!(
            oid(&[1, 2, 840, 113549]),
            vec![0x06, 6, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]
        );
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(uint_u64(0), vec![2, 1, 0]);
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(time(1_700_000_000), tlv(tag::UTC_TIME, b"231114221320Z"));
        assert_eq!(time(2_600_000_000)[0], tag::GENERALIZED_TIME);
    }
}
