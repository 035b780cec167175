//! The card listener: a dedicated mutual-TLS endpoint where browsers present CPS card
//! certificates (and API clients their organisation certificates, RFC 8705). It asks for a
//! client certificate naming coeur's PERSONNES CAs (and the external card authorities the
//! operator configured) as acceptable, so other users of the main listener never see a
//! certificate prompt.
//!
//! At the TLS level any client certificate is accepted once the handshake proves possession of
//! its key; whether it is trusted (issuer, validity, usage, revocation) is decided by
//! `shell::trust` (own CAs with the store, external ones with their OCSP/CRL) in the handler,
//! so that a refusal is a clear page rather than a TLS alert the user cannot read.

use super::state::AppState;
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

/// The card listener's TLS configuration: its own certificate from coeur's CA, and the
/// PERSONNES CAs advertised as acceptable issuers.
pub async fn tls_config(state: &AppState) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let (chain, key, root) = state
        .ca
        .own_server_certificate(
            &state.store,
            &state.cfg.keys_dir,
            state.keys.master(),
            &*state.rng,
            "CARD-TLS",
            &state.cfg.card_public_url,
            state.now(),
        )
        .await?;
    let _ = std::fs::create_dir_all(&state.cfg.crl_dir);
    std::fs::write(state.cfg.crl_dir.join("coeur-root.pem"), root)?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain.as_bytes()).collect::<Result<_, _>>()?;
    let mut hints = Vec::new();
    for a in state
        .ca
        .anchors(crate::core::pki::hierarchy::Domain::Personnes)
    {
        if let Ok((_, x)) = x509_parser::certificate::X509Certificate::from_der(&a.cert_der) {
            hints.push(DistinguishedName::from(x.subject().as_raw().to_vec()));
        }
    }
    hints.extend(
        state
            .trust
            .card_subjects()
            .iter()
            .map(|s| DistinguishedName::from(s.clone())),
    );
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let verifier = Arc::new(AnyClientCert {
        hints,
        algs: provider.signature_verification_algorithms,
    });
    let mut c = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

/// Serves the card listener on `listener` until the task is dropped.
pub async fn serve(state: Arc<AppState>, listener: tokio::net::TcpListener) -> Result<()> {
    let tls = tls_config(&state).await?;
    state.trust.prefetch(state.now());
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let app = super::http::card_router(state);
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let peer = PeerCertificate(
                stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| Arc::new(c.to_vec())),
            );
            let app = app.layer(axum::Extension(peer));
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
        });
    }
}
