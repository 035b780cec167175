//! Full CRLs of external authorities: verified once, then indexed by serial.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    EndEntities,
    Cas,
}

/// A verified full CRL, indexed by serial for constant-time lookups.
#[derive(Debug)]
pub struct CrlIndex {
    issuer: Vec<u8>,
    issuer_key: Vec<u8>,
    scope: Scope,
    /// The issuing distribution point's names (URIs), when the CRL covers one partition.
    partition: Option<Vec<String>>,
    revoked: HashSet<Vec<u8>>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate, if the CRL has one.
    pub next_update: Option<i64>,
}

impl CrlIndex {
    /// Verifies `crl` (DER) as a full CRL of `issuer` (the certificate that issued the
    /// certificates to check) and indexes it.
    pub fn parse(crl: &[u8], issuer: &[u8], now: i64) -> Result<Self, StatusError> {
        let issuer = parse_cert(issuer)?;
        verify_signature(crl, &issuer)?;
        let (_, list) = x509_parser::revocation_list::CertificateRevocationList::from_der(crl)
            .map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
        if list.issuer().as_raw() != issuer.subject().as_raw() {
            return Err(StatusError::CrlIssuer {
                named: list.issuer().to_string(),
                issuer: issuer.subject().to_string(),
            });
        }
        if let Ok(Some(ku)) = issuer.key_usage()
            && !ku.value.crl_sign()
        {
            return Err(StatusError::MayNotSignCrls(issuer.subject().to_string()));
        }
        let this_update = list.last_update().timestamp();
        if this_update > now + CLOCK_SKEW {
            return Err(StatusError::CrlInTheFuture);
        }
        let (scope, partition) = coverage(&list)?;
        let revoked = list
            .iter_revoked_certificates()
            .map(|r| unsigned(r.raw_serial()))
            .collect();
        Ok(CrlIndex {
            issuer: issuer.subject().as_raw().to_vec(),
            issuer_key: issuer.public_key().raw.to_vec(),
            scope,
            partition,
            revoked,
            this_update,
            next_update: list.next_update().map(|t| t.timestamp()),
        })
    }

    /// Whether the CRL may still be relied on at `now` (a CRL without nextUpdate is left to
    /// the caller's refresh interval).
    pub fn fresh(&self, now: i64) -> bool {
        self.next_update.is_none_or(|n| now <= n + CLOCK_SKEW)
    }

    /// Number of revoked entries.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether the CRL lists nothing.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// The status of `cert` (DER), issued by `issuer` (DER), according to this CRL.
    pub fn status(&self, cert: &[u8], issuer: &[u8], now: i64) -> Result<Status, StatusError> {
        if !self.fresh(now) {
            return Err(StatusError::CrlStale);
        }
        let c = parse_cert(cert)?;
        let i = parse_cert(issuer)?;
        if c.issuer().as_raw() != self.issuer.as_slice()
            || i.public_key().raw != self.issuer_key.as_slice()
        {
            return Err(StatusError::CrlOfAnotherIssuer);
        }
        match (self.scope, c.is_ca()) {
            (Scope::EndEntities, true) | (Scope::Cas, false) => {
                return Err(StatusError::CrlScope);
            }
            _ => {}
        }
        // RFC 5280 §6.3.3 (b)(2)(i): a CRL of one partition covers the certificates that name
        // that partition among their distribution points.
        if let Some(names) = &self.partition
            && !distribution_points(&c).iter().any(|d| names.contains(d))
        {
            return Err(StatusError::CrlPartition);
        }
        Ok(if self.revoked.contains(&unsigned(c.raw_serial())) {
            Status::Revoked
        } else {
            Status::Good
        })
    }
}

/// Checks the CRL's signature by `issuer` on the raw bytes, before the entries are parsed, so
/// that a large forged CRL costs a hash, not an index in memory.
fn verify_signature(crl: &[u8], issuer: &X509Certificate<'_>) -> Result<(), StatusError> {
    let SignedParts { tbs, alg, sig } =
        signed_parts(crl).map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
    let named = tbs_issuer(tbs).map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
    if named != issuer.subject().as_raw() {
        let name = x509_parser::x509::X509Name::from_der(&named)
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        return Err(StatusError::CrlIssuer {
            named: name,
            issuer: issuer.subject().to_string(),
        });
    }
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(&alg)
        .map_err(|e| StatusError::UnreadableCrl(e.to_string()))?;
    acceptable_signature(&alg, issuer.public_key()).map_err(StatusError::CrlWeakSignature)?;
    let bits = x509_parser::asn1_rs::BitString {
        unused_bits: 0,
        data: std::borrow::Cow::Borrowed(&sig),
    };
    x509_parser::verify::verify_signature(issuer.public_key(), &alg, &bits, tbs)
        .map_err(|_| StatusError::CrlSignature)
}

/// What the CRL covers, from its issuingDistributionPoint: the kinds of certificates and the
/// partition. Delta CRLs, indirect and reason-partitioned CRLs, and critical extensions coeur
/// does not read are refused.
fn coverage(
    list: &x509_parser::revocation_list::CertificateRevocationList<'_>,
) -> Result<(Scope, Option<Vec<String>>), StatusError> {
    let mut scope = Scope::All;
    let mut partition = None;
    for ext in list.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::IssuingDistributionPoint(idp) => {
                if idp.indirect_crl
                    || idp.only_some_reasons.is_some()
                    || idp.only_contains_attribute_certs
                {
                    return Err(StatusError::CrlPartitioned);
                }
                match &idp.distribution_point {
                    None => {}
                    Some(DistributionPointName::FullName(names)) => {
                        partition = Some(names.iter().filter_map(uri).collect());
                    }
                    Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                        return Err(StatusError::CrlRelativePartition);
                    }
                }
                scope = match (idp.only_contains_user_certs, idp.only_contains_ca_certs) {
                    (true, false) => Scope::EndEntities,
                    (false, true) => Scope::Cas,
                    _ => Scope::All,
                };
            }
            _ if ext.oid == x509_parser::oid_registry::OID_X509_EXT_DELTA_CRL_INDICATOR => {
                return Err(StatusError::DeltaCrl);
            }
            ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. }
                if ext.critical =>
            {
                return Err(StatusError::CrlCriticalExtension(ext.oid.to_string()));
            }
            _ => {}
        }
    }
    Ok((scope, partition))
}
