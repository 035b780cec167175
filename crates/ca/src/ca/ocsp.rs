//! The OCSP responder with its cache of signed answers.

use super::*;
use coeur_pki::ocsp;

/// The outcome of an OCSP answer with certificate statuses.
const SUCCESSFUL: &str = "successful";

/// A refusal and its outcome's name.
fn refused(e: OcspRefusal) -> (&'static str, Vec<u8>) {
    (e.as_str(), ocsp::refusal(e))
}

impl Ca {
    /// Answers an OCSP request (DER).
    /// Counted in `coeur_ocsp_responses_total` by outcome.
    pub async fn ocsp(&self, store: &CaStore, request: &[u8], now: i64) -> Vec<u8> {
        let (outcome, der) = match ocsp::parse_request(request) {
            Err(e) => refused(e),
            Ok(req) => match self
                .ocsp_answer(store, &req.ids, req.nonce_ext.as_deref(), now)
                .await
            {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "OCSP");
                    refused(OcspRefusal::InternalError)
                }
            },
        };
        metrics::counter!("coeur_ocsp_responses_total", "outcome" => outcome).increment(1);
        der
    }

    fn find_ca(&self, id: &CertIdReq) -> Option<&Arc<CaRt>> {
        self.cas.values().find(|c| {
            c.name_hash.get(&id.hash) == Some(&id.name_hash)
                && c.key_hash.get(&id.hash) == Some(&id.key_hash)
        })
    }

    async fn ocsp_answer(
        &self,
        store: &CaStore,
        ids: &[CertIdReq],
        nonce: Option<&[u8]>,
        now: i64,
    ) -> Result<(&'static str, Vec<u8>)> {
        let first = ids.first().ok_or_else(|| anyhow!("empty request"))?;
        let Some(ca) = self.find_ca(first) else {
            return Ok(refused(OcspRefusal::Unauthorized));
        };
        if ids
            .iter()
            .any(|i| self.find_ca(i).map(|c| &c.def.id) != Some(&ca.def.id))
        {
            return Ok(refused(OcspRefusal::Malformed));
        }
        let Some((rkey, rcert, rhash)) = ca.responder.as_ref() else {
            // A root CA answers for no certificate here: its CertIDs are not ours to answer.
            tracing::debug!(ca = %ca.def.id, "OCSP request for a CA without responder");
            return Ok(refused(OcspRefusal::Unauthorized));
        };
        let cacheable = nonce.is_none() && ids.len() == 1;
        let key = (ca.def.id.clone(), first.serial.clone());
        if cacheable && let Some(r) = self.cached_ocsp(&key, &first.cert_id_der, now) {
            return Ok((SUCCESSFUL, r));
        }
        let mut answers = Vec::new();
        for id in ids {
            let status = match store
                .revocation_state(&ca.def.id, &serial_hex(&id.serial))
                .await?
            {
                None => Status::Unknown,
                Some(None) => Status::Good,
                Some(Some((at, reason))) => Status::Revoked { at, reason },
            };
            answers.push(Answer {
                cert_id_der: id.cert_id_der.clone(),
                status,
                this_update: now,
                next_update: now + OCSP_LIFETIME,
            });
        }
        let tbs = ocsp::response_data(rhash, now, &answers, nonce);
        let sig = rkey.sign(&tbs)?;
        let resp = ocsp::response(
            &tbs,
            &rkey.algorithm_der(),
            &sig,
            std::slice::from_ref(rcert),
        );
        if cacheable {
            self.cache_ocsp(key, &first.cert_id_der, now, &resp);
        }
        Ok((SUCCESSFUL, resp))
    }

    /// The cached answer to exactly this CertID, if still fresh.
    fn cached_ocsp(
        &self,
        key: &(String, Vec<u8>),
        cert_id_der: &[u8],
        now: i64,
    ) -> Option<Vec<u8>> {
        let c = self.ocsp_cache.lock().ok()?;
        c.get(key)?
            .iter()
            .find(|e| e.cert_id_der == cert_id_der && e.until > now)
            .map(|e| e.response.as_ref().clone())
    }

    /// Caches the answer to this CertID until shortly before its nextUpdate; a revocation
    /// removes every answer for the serial at once.
    fn cache_ocsp(&self, key: (String, Vec<u8>), cert_id_der: &[u8], now: i64, resp: &[u8]) {
        let Ok(mut c) = self.ocsp_cache.lock() else {
            return;
        };
        if c.len() > 1_000_000 {
            c.clear();
        }
        let forms = c.entry(key).or_default();
        forms.retain(|e| e.cert_id_der != cert_id_der && e.until > now);
        if forms.len() < OCSP_FORMS_PER_SERIAL {
            forms.push(CachedOcsp {
                cert_id_der: cert_id_der.to_vec(),
                until: now + OCSP_LIFETIME / 2,
                response: Arc::new(resp.to_vec()),
            });
        }
    }
}
