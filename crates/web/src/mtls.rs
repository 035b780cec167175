//! The mutual-TLS listener (coeur's card listener): a dedicated endpoint where browsers present
//! CPS card certificates (and API clients their organisation certificates, RFC 8705). It asks
//! for a client certificate naming the acceptable issuers it is given, so other users of the
//! main listener never see a certificate prompt.
//!
//! At the TLS level any client certificate is accepted once the handshake proves possession of
//! its key; whether it is trusted (issuer, validity, usage, revocation) is decided by
//! the CA's trust (own CAs with the store, external ones with their OCSP/CRL) in the handler,
//! so that a refusal is a clear page rather than a TLS alert the user cannot read.

use anyhow::Result;
use rustls::DistinguishedName;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use std::sync::Arc;
use x509_parser::prelude::FromDer as _;

/// The client certificate of the connection, if one was presented.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificate(pub Option<Arc<Vec<u8>>>);

#[derive(Debug)]
struct AnyClientCert {
    hints: Vec<DistinguishedName>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Trust is decided by the application (see the module documentation); the signature
        // checks below still prove the client holds the certificate's key.
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A mutual-TLS server configuration: the server's chain (PEM) and PKCS#8 key, asking for a
/// client certificate and naming `hints` (DER subjects) as acceptable issuers. Any client
/// certificate whose key the handshake proves is accepted; handlers decide trust.
pub fn server_config(
    chain_pem: &str,
    key_pkcs8: Vec<u8>,
    hints: Vec<Vec<u8>>,
) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect::<Result<_, _>>()?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let verifier = Arc::new(AnyClientCert {
        hints: hints.into_iter().map(DistinguishedName::from).collect(),
        algs: provider.signature_verification_algorithms,
    });
    let mut c = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8)),
        )?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

/// The DER subject of a certificate (for [`server_config`]'s hints); `None` if it does not parse.
pub fn subject_der(cert_der: &[u8]) -> Option<Vec<u8>> {
    x509_parser::certificate::X509Certificate::from_der(cert_der)
        .ok()
        .map(|(_, x)| x.subject().as_raw().to_vec())
}
