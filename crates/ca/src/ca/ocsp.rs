//! The OCSP responder with its cache of signed answers.

use super::*;
use coeur_pki::ocsp;

impl Ca {
    /// Answers an OCSP request (DER).
    pub async fn ocsp(&self, store: &CaStore, request: &[u8], now: i64) -> Vec<u8> {
        let req = match ocsp::parse_request(request) {
            Ok(r) => r,
            Err(e) => return ocsp::refusal(e),
        };
        match self
            .ocsp_answer(store, &req.ids, req.nonce_ext.as_deref(), now)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "OCSP");
                ocsp::refusal(OcspRefusal::InternalError)
            }
        }
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
    ) -> Result<Vec<u8>> {
        let first = ids.first().ok_or_else(|| anyhow!("empty request"))?;
        let Some(ca) = self.find_ca(first) else {
            return Ok(ocsp::refusal(OcspRefusal::Unauthorized));
        };
        if ids
            .iter()
            .any(|i| self.find_ca(i).map(|c| &c.def.id) != Some(&ca.def.id))
        {
            return Ok(ocsp::refusal(OcspRefusal::Malformed));
        }
        let cacheable = nonce.is_none() && ids.len() == 1;
        let key = (ca.def.id.clone(), first.serial.clone());
        if cacheable
            && let Ok(c) = self.ocsp_cache.lock()
            && let Some((exp, r)) = c.get(&key)
            && *exp > now
        {
            return Ok(r.as_ref().clone());
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
        let (rkey, rcert, rhash) = ca
            .responder
            .as_ref()
            .ok_or_else(|| anyhow!("CA {} has no OCSP responder", ca.def.id))?;
        let tbs = ocsp::response_data(rhash, now, &answers, nonce);
        let sig = rkey.sign(&tbs)?;
        let resp = ocsp::response(
            &tbs,
            &rkey.algorithm_der(),
            &sig,
            std::slice::from_ref(rcert),
        );
        if cacheable && let Ok(mut c) = self.ocsp_cache.lock() {
            if c.len() > 1_000_000 {
                c.clear();
            }
            // Cached until shortly before nextUpdate; revocation removes the entry at once.
            c.insert(key, (now + OCSP_LIFETIME / 2, Arc::new(resp.clone())));
        }
        Ok(resp)
    }
}
