//! Sandbox virtual cards (CPS_AUTH and CPS_SIGN with their keys) and card opposition.

use super::*;

/// The profession label written in card certificates' `title` (TRE_G15): that of the
/// identities' table ([`coeur_common::identity::PROFESSIONS`]).
pub fn profession_label(code: &str) -> &'static str {
    coeur_common::identity::profession_label(code).unwrap_or("Professionnel de santé")
}

impl Ca {
    /// Sandbox virtual card for an identity: CPS_AUTH and CPS_SIGN certificates from the first
    /// PERSONNES CA (or `ca_id`), each with its key in a PKCS#12 protected by the card PIN.
    /// Returns ((auth serial, auth PKCS#12), (sign serial, sign PKCS#12)).
    pub async fn issue_virtual_card(
        &self,
        rng: &dyn Random,
        identity: &coeur_common::identity::Identity,
        pin: &str,
        ca_id: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<((String, Vec<u8>), (String, Vec<u8>)), CaError> {
        let ca_id = match ca_id {
            Some(c) => c.to_owned(),
            None => {
                let mut ids: Vec<&String> = self
                    .cas
                    .iter()
                    .filter(|(_, c)| c.def.domain == Some(coeur_pki::hierarchy::Domain::Personnes))
                    .map(|(id, _)| id)
                    .collect();
                ids.sort();
                ids.first()
                    .map(|s| (*s).clone())
                    .ok_or_else(|| CaError::UnknownCa("PERSONNES".into()))?
            }
        };
        let title = identity
            .exercices
            .first()
            .map(|e| profession_label(&e.code_profession).to_owned());
        let subject = SubjectRequest {
            national_id: Some(identity.national_id.to_string()),
            family_name: Some(identity.family_name.clone()),
            given_name: Some(identity.given_name.clone()),
            title,
            ..Default::default()
        };
        let (a_serial, _, a_p12) = self
            .issue_with_generated_key(
                rng,
                &KeyRequest {
                    requester: actor,
                    ca_id: &ca_id,
                    profile: "CPS_AUTH",
                    key_type: KeyType::P256,
                    subject: &subject,
                    password: pin,
                },
                now,
            )
            .await?;
        let (s_serial, _, s_p12) = self
            .issue_with_generated_key(
                rng,
                &KeyRequest {
                    requester: actor,
                    ca_id: &ca_id,
                    profile: "CPS_SIGN",
                    key_type: KeyType::P256,
                    subject: &subject,
                    password: pin,
                },
                now,
            )
            .await?;
        Ok(((a_serial, a_p12), (s_serial, s_p12)))
    }

    /// Revokes every valid card certificate (CPS_AUTH, CPS_SIGN) of a national identifier:
    /// the "opposition" of a lost or stolen card. Returns the revoked (CA, serial) pairs.
    pub async fn revoke_cards(
        &self,
        store: &CaStore,
        national_id: &str,
        reason: Reason,
        actor: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>, CaError> {
        let mut out = Vec::new();
        for (ca, serial) in store.valid_card_certificates(national_id).await? {
            match self.revoke(store, &ca, &serial, reason, actor, now).await {
                Ok(()) | Err(CaError::AlreadyRevoked) => out.push((ca, serial)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}
