//! Passkeys (tables `passkeys`, `passkey_challenges`): a professional's WebAuthn credentials
//! and the one-time challenges of their registrations and logins (stored hashed, taken once).

use super::Store;
use anyhow::Result;
use sqlx::Row;

/// What a challenge was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// A registration, for a national id.
    Register,
    /// A login, for a pending login (its hash).
    Login,
}

impl ChallengePurpose {
    fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::Register => "register",
            ChallengePurpose::Login => "login",
        }
    }
}

/// A credential to record.
#[derive(Debug, Clone, Copy)]
pub struct NewPasskey<'a> {
    /// Its id, base64url.
    pub credential_id: &'a str,
    /// Whose.
    pub national_id: &'a str,
    /// Its name, as the professional gave it.
    pub name: &'a str,
    /// The uncompressed P-256 point, base64url.
    pub public_key: &'a str,
    /// Its counter at registration.
    pub sign_count: i64,
    /// Now.
    pub created_at: i64,
}

/// A stored credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    /// Its id, base64url.
    pub credential_id: String,
    /// Whose.
    pub national_id: String,
    /// Its name.
    pub name: String,
    /// The uncompressed P-256 point, base64url.
    pub public_key: String,
    /// The last counter seen.
    pub sign_count: i64,
    /// Registered.
    pub created_at: i64,
    /// Last login.
    pub last_used_at: Option<i64>,
}

fn row(r: &sqlx::any::AnyRow) -> Result<PasskeyRow> {
    Ok(PasskeyRow {
        credential_id: r.try_get("credential_id")?,
        national_id: r.try_get("national_id")?,
        name: r.try_get("name")?,
        public_key: r.try_get("public_key")?,
        sign_count: r.try_get("sign_count")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

impl Store {
    /// Records a challenge (hashed) given for `purpose` to `subject` (a national id, or a
    /// pending login's hash).
    pub async fn create_passkey_challenge(
        &self,
        realm: &str,
        challenge_hash: &str,
        purpose: ChallengePurpose,
        subject: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO passkey_challenges (challenge_hash, realm, purpose, subject, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(challenge_hash)
            .bind(realm)
            .bind(purpose.as_str())
            .bind(subject)
            .bind(now)
            .bind(expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Takes the live challenge `challenge_hash` given for `purpose`, once: whom it was given
    /// to (a national id, or a pending login's hash), if it was there (it is gone after).
    pub async fn take_passkey_challenge(
        &self,
        realm: &str,
        challenge_hash: &str,
        purpose: ChallengePurpose,
        now: i64,
    ) -> Result<Option<String>> {
        let found = sqlx::query("SELECT subject FROM passkey_challenges WHERE challenge_hash = $1 AND realm = $2 AND purpose = $3 AND expires_at > $4")
            .bind(challenge_hash)
            .bind(realm)
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let subject: String = found.try_get("subject")?;
        let done = sqlx::query("DELETE FROM passkey_challenges WHERE challenge_hash = $1")
            .bind(challenge_hash)
            .execute(self.db.pool())
            .await?;
        sqlx::query("DELETE FROM passkey_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.db.pool())
            .await?;
        Ok((done.rows_affected() == 1).then_some(subject))
    }

    /// Records a credential; false if its id is already registered.
    pub async fn create_passkey(&self, realm: &str, p: &NewPasskey<'_>) -> Result<bool> {
        let done = sqlx::query("INSERT INTO passkeys (credential_id, realm, national_id, name, public_key, sign_count, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (credential_id) DO NOTHING")
            .bind(p.credential_id)
            .bind(realm)
            .bind(p.national_id)
            .bind(p.name)
            .bind(p.public_key)
            .bind(p.sign_count)
            .bind(p.created_at)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The credential `credential_id` of `realm`.
    pub async fn passkey(&self, realm: &str, credential_id: &str) -> Result<Option<PasskeyRow>> {
        sqlx::query("SELECT credential_id, national_id, name, public_key, sign_count, created_at, last_used_at FROM passkeys WHERE credential_id = $1 AND realm = $2")
            .bind(credential_id)
            .bind(realm)
            .fetch_optional(self.db.pool())
            .await?
            .as_ref()
            .map(row)
            .transpose()
    }

    /// The credentials of `national_id` in `realm`, oldest first.
    pub async fn passkeys(&self, realm: &str, national_id: &str) -> Result<Vec<PasskeyRow>> {
        sqlx::query("SELECT credential_id, national_id, name, public_key, sign_count, created_at, last_used_at FROM passkeys WHERE realm = $1 AND national_id = $2 ORDER BY created_at, credential_id")
            .bind(realm)
            .bind(national_id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(row)
            .collect()
    }

    /// Removes the credential `credential_id` of `national_id` in `realm`; false when that
    /// professional has no such credential (another's is never touched).
    pub async fn remove_passkey(
        &self,
        realm: &str,
        national_id: &str,
        credential_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM passkeys WHERE credential_id = $1 AND realm = $2 AND national_id = $3",
        )
        .bind(credential_id)
        .bind(realm)
        .bind(national_id)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a login's counter, if the stored one is still `seen` (compare-and-set: of two
    /// concurrent uses of one assertion, one only succeeds).
    pub async fn passkey_used(
        &self,
        realm: &str,
        credential_id: &str,
        seen: i64,
        sign_count: i64,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE passkeys SET sign_count = $1, last_used_at = $2 WHERE credential_id = $3 AND realm = $4 AND sign_count = $5")
            .bind(sign_count)
            .bind(now)
            .bind(credential_id)
            .bind(realm)
            .bind(seen)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
