//! coeur's own HTTPS certificates, issued by its first ORGANISATIONS CA.

use super::*;

impl Ca {
    /// coeur's own HTTPS certificate, issued at first start by the first ORGANISATIONS CA for
    /// the host of `public_url` (plus `localhost` and `127.0.0.1` on loopback), renewed when
    /// missing, expiring or naming other hosts. Returns (certificate chain PEM, key PKCS#8 DER,
    /// root certificate PEM). `id` names the certificate (one per listener).
    #[allow(clippy::too_many_arguments)] // Wiring at start.
    pub async fn own_server_certificate(
        &self,
        store: &CaStore,
        keys_dir: &Path,
        master: &MasterKey,
        rng: &dyn Random,
        id: &str,
        public_url: &str,
        now: i64,
    ) -> Result<(String, Vec<u8>, String)> {
        let url = url::Url::parse(public_url)?;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        match url.host() {
            Some(url::Host::Domain(d)) => dns.push(d.to_ascii_lowercase()),
            Some(url::Host::Ipv4(i)) => ips.push(std::net::IpAddr::V4(i)),
            Some(url::Host::Ipv6(i)) => ips.push(std::net::IpAddr::V6(i)),
            None => bail!("public URL has no host"),
        }
        let loopback = dns.iter().any(|d| d == "localhost") || ips.iter().any(|i| i.is_loopback());
        if loopback {
            for d in ["localhost"] {
                if !dns.iter().any(|x| x == d) {
                    dns.push(d.into());
                }
            }
            for i in [std::net::IpAddr::from([127, 0, 0, 1])] {
                if !ips.contains(&i) {
                    ips.push(i);
                }
            }
        }
        let mut org_cas: Vec<&Arc<CaRt>> = self
            .cas
            .values()
            .filter(|c| c.def.domain == Some(coeur_pki::hierarchy::Domain::Organisations))
            .collect();
        org_cas.sort_by(|a, b| a.def.id.cmp(&b.def.id));
        let ca = (*org_cas
            .first()
            .ok_or_else(|| anyhow!("no ORGANISATIONS CA to issue coeur's server certificate"))?)
        .clone();
        let profile = self
            .profile("SSL_SERV")
            .cloned()
            .ok_or_else(|| anyhow!("profiles.toml has no SSL_SERV profile"))?;
        let kt = KeyType::P256;
        let key = match KeyFile::load(keys_dir, master, id, kt)? {
            Some(k) => k,
            None => {
                let (k, der) = CaKey::generate(kt)?;
                KeyFile::save(keys_dir, master, id, &der)?;
                k
            }
        };
        let key_der = master.open(
            &KeyFile::context(id),
            std::fs::read_to_string(KeyFile::path(keys_dir, id))?.trim(),
        )?;
        let wanted: Vec<String> = dns
            .iter()
            .cloned()
            .chain(ips.iter().map(|i| i.to_string()))
            .collect();
        let current = store.ca_cert(id).await?.filter(|d| {
            x509_parser::certificate::X509Certificate::from_der(d).is_ok_and(|(_, c)| {
                let names: Vec<String> = c
                    .subject_alternative_name()
                    .ok()
                    .flatten()
                    .map(|s| {
                        s.value
                            .general_names
                            .iter()
                            .filter_map(|g| match g {
                                x509_parser::extensions::GeneralName::DNSName(d) => {
                                    Some((*d).to_owned())
                                }
                                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len()
                                {
                                    4 => Some(
                                        std::net::IpAddr::from(
                                            <[u8; 4]>::try_from(*b).unwrap_or_default(),
                                        )
                                        .to_string(),
                                    ),
                                    16 => Some(
                                        std::net::IpAddr::from(
                                            <[u8; 16]>::try_from(*b).unwrap_or_default(),
                                        )
                                        .to_string(),
                                    ),
                                    _ => None,
                                },
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
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
                let approved = csr::approve_own_server(
                    &spki,
                    kt,
                    dns,
                    ips,
                    &self.hierarchy.organization,
                    &profile,
                    &ca.def,
                )?;
                let (serial, der) = self
                    .issue(
                        store, rng, &approved, &ca.def.id, "SSL_SERV", None, "coeur", now,
                    )
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
}
