//! Encodings shared by every domain: base64 (standard and URL-safe, unpadded) and the
//! SHA-256 thumbprint of a certificate (`x5t#S256`, RFC 8705 §3.1), the one place each is
//! defined.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Standard base64 with padding (PEM bodies, LDAP, stored blobs).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// URL-safe base64 without padding (JOSE, thumbprints, opaque tokens).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `x5t#S256` of a DER certificate: the URL-safe base64 of its SHA-256.
pub fn x5t_s256(cert_der: &[u8]) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert_der).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(b64(b"\xfb\xff"), "+/8=");
        assert_eq!(b64url(b"\xfb\xff"), "-_8");
        // SHA-256 of the empty string, base64url.
        assert_eq!(x5t_s256(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }
}
