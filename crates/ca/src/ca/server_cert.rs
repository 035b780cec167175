//! coeur's own HTTPS certificates, issued by its first ORGANISATIONS CA.

use super::*;
use std::net::IpAddr;

/// Which of coeur's own HTTPS certificates, for which URL, with its key kept where.
#[derive(Clone, Copy)]
pub struct OwnCertificate<'a> {
    /// Names the certificate and its key (one per listener).
    pub id: &'a str,
    /// The listener's public URL: its host is the certificate's name.
    pub public_url: &'a str,
    /// Where the key is held.
    pub keys: &'a dyn KeyProvider,
}

impl Ca {
    /// coeur's own HTTPS certificate, issued at first start by the first ORGANISATIONS CA for
    /// the host of `public_url` (plus `localhost` and `127.0.0.1` on loopback), renewed when
    /// missing, expiring or naming other hosts. Returns (certificate chain PEM, key PKCS#8 DER,
    /// root certificate PEM).
    pub async fn own_server_certificate(
        &self,
        store: &CaStore,
        rng: &dyn Random,
        what: &OwnCertificate<'_>,
        now: i64,
    ) -> Result<(String, Vec<u8>, String)> {
        let OwnCertificate {
            id,
            public_url,
            keys,
        } = *what;
        let (dns, ips) = server_names(public_url)?;
        let ca = self.first_organisations_ca()?;
        let profile = self
            .profile("SSL_SERV")
            .ok_or_else(|| anyhow!("profiles.toml has no SSL_SERV profile"))?;
        let kt = KeyType::P256;
        let key = keys.key(id, kt, now).await?;
        let key_der = key.pkcs8_der();
        let wanted: Vec<String> = dns
            .iter()
            .cloned()
            .chain(ips.iter().map(|i| i.to_string()))
            .collect();
        let current = store.ca_cert(id).await?.filter(|d| {
            x509_parser::certificate::X509Certificate::from_der(d).is_ok_and(|(_, c)| {
                let names = san_names(&c);
                c.validity().not_after.timestamp() > now + 30 * 86_400
                    && c.public_key().subject_public_key.data.as_ref()
                        == rcgen::PublicKeyData::der_bytes(&key.rcgen)
                    && wanted.iter().all(|w| names.contains(w))
                    && c.issuer().as_raw() == ca.subject_der.as_slice()
            })
        });
        let der = match current {
            Some(d) => d,
            None => {
                let spki = rcgen::PublicKeyData::subject_public_key_info(&key.rcgen);
                let org = &self.hierarchy.organization;
                let approved = csr::approve_own_server(&spki, kt, dns, ips, org, profile, &ca.def)?;
                let what = Issuance {
                    approved: &approved,
                    ca_id: &ca.def.id,
                    profile: "SSL_SERV",
                    actor: "coeur",
                    request: None,
                };
                let (serial, der) = self
                    .issue(rng, &what, now)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                store
                    .put_ca_cert(id, &self.hierarchy.name, &der, now)
                    .await?;
                tracing::info!(ca = %ca.def.id, serial = %serial, "issued coeur's own HTTPS certificate");
                der
            }
        };
        let chain = self.chain(&ca.def.id);
        let mut pem_chain = cert_pem(&der);
        for c in &chain[..chain.len().saturating_sub(1)] {
            pem_chain.push_str(&cert_pem(c));
        }
        let root = chain.last().map(|r| cert_pem(r)).unwrap_or_default();
        Ok((pem_chain, key_der, root))
    }

    /// The ORGANISATIONS CA that issues coeur's own certificates: the first by id.
    fn first_organisations_ca(&self) -> Result<Arc<CaRt>> {
        let mut org_cas: Vec<&Arc<CaRt>> = self
            .cas
            .values()
            .filter(|c| c.def.domain == Some(coeur_pki::hierarchy::Domain::Organisations))
            .collect();
        org_cas.sort_by(|a, b| a.def.id.cmp(&b.def.id));
        org_cas
            .first()
            .map(|c| (*c).clone())
            .ok_or_else(|| anyhow!("no ORGANISATIONS CA to issue coeur's server certificate"))
    }
}

/// The names a server certificate for `public_url` carries: its host, plus `localhost` and
/// `127.0.0.1` when that host is a loopback one.
fn server_names(public_url: &str) -> Result<(Vec<String>, Vec<IpAddr>)> {
    let url = url::Url::parse(public_url)?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    match url.host() {
        Some(url::Host::Domain(d)) => dns.push(d.to_ascii_lowercase()),
        Some(url::Host::Ipv4(i)) => ips.push(IpAddr::V4(i)),
        Some(url::Host::Ipv6(i)) => ips.push(IpAddr::V6(i)),
        None => bail!("public URL has no host"),
    }
    let loopback = dns.iter().any(|d| d == "localhost") || ips.iter().any(|i| i.is_loopback());
    if loopback {
        if !dns.iter().any(|x| x == "localhost") {
            dns.push("localhost".into());
        }
        let v4 = IpAddr::from([127, 0, 0, 1]);
        if !ips.contains(&v4) {
            ips.push(v4);
        }
    }
    Ok((dns, ips))
}

/// The DNS names and IP addresses (as text) of a certificate's subjectAltName.
fn san_names(c: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Some(san) = c.subject_alternative_name().ok().flatten() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            GeneralName::IPAddress(b) => match b.len() {
                4 => Some(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string()),
                16 => Some(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
