//! The health directory (Annuaire Santé) as the offer sees it: a FHIR R4 API over HTTP, called
//! with the offer's own client-credentials token (`directory:read`), never a dependency on the
//! directory's crate.
//!
//! Three questions are asked of it: which structures a professional works for (their
//! `PractitionerRole`s' organizations, on every capacity change), which structures exist
//! (the Organizations of geographical entities, to generate offer data at first start), and
//! the Organizations of given structures, with their legal entities, as the directory serves
//! them (a HealthcareService search's `_include=HealthcareService:organization`).

use crate::generate::Structure;
use anyhow::{Context, Result, anyhow, bail};
use coeur_common::random::Clock;
use serde_json::Value;
use std::sync::{Arc, Mutex};

const FINESS: &str = "https://finess.esante.gouv.fr";

/// How the offer reaches the directory.
#[derive(Clone)]
pub struct DirectorySettings {
    /// The directory's FHIR base URL, without a trailing `/`.
    pub base_url: String,
    /// The provider's token endpoint.
    pub token_url: String,
    /// The client the offer uses there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

impl std::fmt::Debug for DirectorySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectorySettings")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A client of the directory's FHIR API.
pub struct DirectoryClient {
    settings: DirectorySettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    token: Mutex<Option<(String, i64)>>,
}

impl DirectoryClient {
    /// A client over `http`, reading time from `clock` (token expiry).
    pub fn new(settings: DirectorySettings, http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            http,
            clock,
            token: Mutex::new(None),
        }
    }

    async fn token(&self) -> Result<String> {
        let now = self.clock.now();
        if let Ok(guard) = self.token.lock()
            && let Some((t, exp)) = guard.as_ref()
            && *exp > now + 30
        {
            return Ok(t.clone());
        }
        let r = self
            .http
            .post(&self.settings.token_url)
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "directory:read"),
            ])
            .send()
            .await
            .context("asking the provider for the directory's token")?;
        if !r.status().is_success() {
            bail!(
                "the provider refused the directory's token ({})",
                r.status()
            );
        }
        let body: Value = r.json().await.context("the token answer")?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("the token answer has no access_token"))?
            .to_owned();
        let ttl = body["expires_in"].as_i64().unwrap_or(60);
        if let Ok(mut guard) = self.token.lock() {
            *guard = Some((token.clone(), now + ttl));
        }
        Ok(token)
    }

    async fn get(&self, url: &str) -> Result<Value> {
        let token = self.token().await?;
        let r = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .context("calling the directory")?;
        if !r.status().is_success() {
            bail!("the directory answered {}", r.status());
        }
        r.json().await.context("the directory's answer")
    }

    /// The resources of every page of a search, from its first URL.
    async fn search_all(&self, first: String, limit: usize) -> Result<Vec<Value>> {
        let entries = self.search_entries(first, limit).await?;
        Ok(entries
            .into_iter()
            .map(|mut e| e["resource"].take())
            .collect())
    }

    /// The entries (`fullUrl`, `resource`, `search`) of every page of a search, from its
    /// first URL.
    async fn search_entries(&self, first: String, limit: usize) -> Result<Vec<Value>> {
        let mut out = vec![];
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let mut bundle = self.get(&url).await?;
            if let Some(entries) = bundle["entry"].as_array_mut() {
                out.append(entries);
            }
            if out.len() >= limit {
                break;
            }
            next = bundle["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str())
                .map(str::to_owned);
        }
        Ok(out)
    }

    /// The structures (FINESS of geographical entities) `national_id` works for, from their
    /// PractitionerRoles' organizations.
    pub async fn structures_of(&self, national_id: &str) -> Result<Vec<String>> {
        let base = &self.settings.base_url;
        let mut url = url::Url::parse(&format!("{base}/Practitioner"))?;
        url.query_pairs_mut().append_pair("identifier", national_id);
        let practitioners = self.search_all(url.into(), 10).await?;
        let mut out = vec![];
        for p in practitioners {
            let Some(id) = p["id"].as_str() else { continue };
            let mut url = url::Url::parse(&format!("{base}/PractitionerRole"))?;
            url.query_pairs_mut()
                .append_pair("practitioner", &format!("Practitioner/{id}"))
                .append_pair("_include", "PractitionerRole:organization");
            for r in self.search_all(url.into(), 1000).await? {
                if r["resourceType"] == "Organization"
                    && let Some(f) = finess_et(&r)
                    && !out.contains(&f)
                {
                    out.push(f);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The Organizations of the structures `finess` (FINESS of geographical entities) and,
    /// with `partof`, of their legal entities, each once: `(fullUrl, resource)` as the
    /// directory serves them. Asked by lists of [`FINESS_PER_SEARCH`].
    pub async fn organizations(&self, finess: &[String], partof: bool) -> Result<Vec<Included>> {
        let mut out: Vec<Included> = vec![];
        for chunk in finess.chunks(FINESS_PER_SEARCH) {
            let mut url = url::Url::parse(&format!("{}/Organization", self.settings.base_url))?;
            {
                let mut q = url.query_pairs_mut();
                let asked: Vec<String> = chunk.iter().map(|f| format!("{FINESS}|{f}")).collect();
                q.append_pair("identifier", &asked.join(","));
                q.append_pair("_count", &(2 * FINESS_PER_SEARCH).to_string());
                if partof {
                    q.append_pair("_include", "Organization:partof");
                }
            }
            for mut e in self.search_entries(url.into(), usize::MAX).await? {
                let resource = e["resource"].take();
                let full_url = e["fullUrl"].as_str().map(str::to_owned);
                let asked = e["search"]["mode"] == "include"
                    || finess_et(&resource).is_some_and(|f| chunk.contains(&f));
                if resource["resourceType"] != "Organization" || !asked {
                    continue;
                }
                let Some(full_url) = full_url else { continue };
                if !out.iter().any(|i| i.full_url == full_url) {
                    out.push(Included { full_url, resource });
                }
            }
        }
        Ok(out)
    }

    /// The directory's structures (geographical entities with a FINESS), `limit` at most.
    pub async fn structures(&self, limit: usize) -> Result<Vec<Structure>> {
        let url = format!("{}/Organization?_count=500", self.settings.base_url);
        let orgs = self.search_all(url, limit).await?;
        Ok(orgs.iter().filter_map(structure_of).take(limit).collect())
    }
}

/// Structures asked of the directory in one search.
pub const FINESS_PER_SEARCH: usize = 50;

/// A resource of the directory included in an answer of the offer.
#[derive(Debug, Clone)]
pub struct Included {
    /// Its URL at the directory.
    pub full_url: String,
    /// The resource as the directory serves it.
    pub resource: Value,
}

/// The FINESS of a geographical entity's Organization.
fn finess_et(org: &Value) -> Option<String> {
    org["identifier"]
        .as_array()?
        .iter()
        .find(|i| {
            i["system"] == FINESS
                && i["type"]["coding"]
                    .as_array()
                    .is_none_or(|c| c.iter().any(|c| c["code"] == "FINEG"))
        })
        .and_then(|i| i["value"].as_str())
        .map(str::to_owned)
}

/// A structure from an Organization (a geographical entity with a postal address).
pub fn structure_of(org: &Value) -> Option<Structure> {
    let finess = finess_et(org)?;
    let address = org["address"].as_array().and_then(|a| a.first())?;
    Some(Structure {
        finess,
        name: org["name"].as_str()?.to_owned(),
        postal_code: address["postalCode"].as_str()?.to_owned(),
        city: address["city"].as_str().unwrap_or("").to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_from_organizations() {
        let org = serde_json::json!({
            "resourceType": "Organization", "id": "x", "name": "C.H. LYON 3",
            "identifier": [
                {"system": FINESS, "type": {"coding": [{"code": "FINEG"}]}, "value": "699000031"},
                {"system": "https://sirene.fr", "value": "1"}
            ],
            "address": [{"postalCode": "69003", "city": "Lyon"}]
        });
        let s = structure_of(&org).unwrap();
        assert_eq!(
            (s.finess.as_str(), s.postal_code.as_str()),
            ("699000031", "69003")
        );
        let ej = serde_json::json!({"identifier": [{"system": FINESS,
            "type": {"coding": [{"code": "FINEJ"}]}, "value": "1"}]});
        assert_eq!(finess_et(&ej), None);
    }
}
