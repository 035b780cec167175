//! e-CPS devices and their activation codes (tables `ecps_devices`, `ecps_activations`).
//!
//! An activation code has two parts: the first locates the activation (`code_hash`), the
//! second confirms it (`second_code_hash`); a wrong second part counts an attempt, and after
//! [`MAX_ACTIVATION_ATTEMPTS`] the activation is dead. A card activation shows both parts as one
//! code (`first.second`); an activation by contact details sends the first by e-mail and the
//! second by SMS. A device is known by the SHA-256 of its bearer credential (its
//! `device_id`): the credential itself is never stored.

use super::Store;
use anyhow::Result;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Wrong second parts an activation survives.
pub const MAX_ACTIVATION_ATTEMPTS: i64 = 5;

/// A new activation code.
#[derive(Debug, Clone, Copy)]
pub struct NewActivation<'a> {
    /// SHA-256 of the first part.
    pub code_hash: &'a str,
    /// SHA-256 of the second part.
    pub second_code_hash: &'a str,
    /// Realm.
    pub realm: &'a str,
    /// Whose e-CPS it activates.
    pub national_id: &'a str,
    /// How it was handed out (`card`, or `contact`: by e-mail and SMS).
    pub kind: &'a str,
    /// Now.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A device to record once its activation checks out.
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    /// SHA-256 of its credential.
    pub device_id: &'a str,
    /// Its name, as the professional gave it.
    pub name: &'a str,
    /// Its public key: the uncompressed P-256 point, base64url.
    pub public_key: &'a str,
    /// Now.
    pub created_at: i64,
    /// Expiry of the e-CPS.
    pub expires_at: i64,
}

/// What an enrolment attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolment {
    /// The device is recorded for this national id.
    Enrolled(String),
    /// No live activation has this code (unknown, expired, used, or too many attempts).
    NoActivation,
    /// The second part is wrong (an attempt counted).
    WrongCode,
}

/// A stored device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Its id (SHA-256 of its credential).
    pub device_id: String,
    /// Realm.
    pub realm: String,
    /// Its owner.
    pub national_id: String,
    /// Name.
    pub name: String,
    /// Public key (uncompressed P-256 point, base64url).
    pub public_key: String,
    /// Created.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Last decision.
    pub last_used_at: Option<i64>,
}

impl DeviceRow {
    /// Neither revoked nor expired at `now`: it may call the API and decide.
    pub fn active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

fn device_row(r: &AnyRow) -> Result<DeviceRow> {
    Ok(DeviceRow {
        device_id: r.try_get("device_id")?,
        realm: r.try_get("realm")?,
        national_id: r.try_get("national_id")?,
        name: r.try_get("name")?,
        public_key: r.try_get("public_key")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// The columns of a [`DeviceRow`], for `concat!` (queries stay static strings).
macro_rules! device_columns {
    () => {
        "device_id, realm, national_id, name, public_key, created_at, expires_at, revoked_at, last_used_at"
    };
}

impl Store {
    /// Records an activation code (hashed).
    pub async fn create_activation(&self, a: &NewActivation<'_>) -> Result<()> {
        sqlx::query("INSERT INTO ecps_activations (code_hash, realm, national_id, kind, second_code_hash, attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)")
            .bind(a.code_hash)
            .bind(a.realm)
            .bind(a.national_id)
            .bind(a.kind)
            .bind(a.second_code_hash)
            .bind(a.created_at)
            .bind(a.expires_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Enrols `device` with the activation whose parts hash to `code_hash` and `second_hash`,
    /// in one transaction: the activation is used once, live and unexpired; a wrong second part
    /// counts an attempt and records nothing else.
    pub async fn enrol_device(
        &self,
        realm: &str,
        code_hash: &str,
        second_hash: &str,
        device: &NewDevice<'_>,
    ) -> Result<Enrolment> {
        let now = device.created_at;
        let mut tx = self.db.pool().begin().await?;
        let found = sqlx::query("SELECT national_id, second_code_hash FROM ecps_activations WHERE code_hash = $1 AND realm = $2 AND used_at IS NULL AND expires_at > $3 AND attempts < $4")
            .bind(code_hash)
            .bind(realm)
            .bind(now)
            .bind(MAX_ACTIVATION_ATTEMPTS)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(found) = found else {
            return Ok(Enrolment::NoActivation);
        };
        let national_id: String = found.try_get("national_id")?;
        let expected: Option<String> = found.try_get("second_code_hash")?;
        if expected.as_deref() != Some(second_hash) {
            sqlx::query("UPDATE ecps_activations SET attempts = attempts + 1 WHERE code_hash = $1")
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Enrolment::WrongCode);
        }
        let used = sqlx::query(
            "UPDATE ecps_activations SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(Enrolment::NoActivation);
        }
        sqlx::query("INSERT INTO ecps_devices (device_id, realm, national_id, name, public_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(device.device_id)
            .bind(realm)
            .bind(&national_id)
            .bind(device.name)
            .bind(device.public_key)
            .bind(now)
            .bind(device.expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Enrolment::Enrolled(national_id))
    }

    /// The device `device_id` of `realm`, whatever its state.
    pub async fn device(&self, realm: &str, device_id: &str) -> Result<Option<DeviceRow>> {
        sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM ecps_devices WHERE device_id = $1 AND realm = $2"
        ))
        .bind(device_id)
        .bind(realm)
        .fetch_optional(self.db.pool())
        .await?
        .as_ref()
        .map(device_row)
        .transpose()
    }

    /// The devices of `national_id` in `realm`, whatever their state, oldest first.
    pub async fn devices(&self, realm: &str, national_id: &str) -> Result<Vec<DeviceRow>> {
        sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM ecps_devices WHERE realm = $1 AND national_id = $2 ORDER BY created_at, device_id"
        ))
            .bind(realm)
            .bind(national_id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(device_row)
            .collect()
    }

    /// Revokes a device; false if it was already revoked or does not exist.
    pub async fn revoke_device(&self, realm: &str, device_id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE ecps_devices SET revoked_at = $1 WHERE device_id = $2 AND realm = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(device_id)
            .bind(realm)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that a device decided at `now`.
    pub async fn device_used(&self, realm: &str, device_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE ecps_devices SET last_used_at = $1 WHERE device_id = $2 AND realm = $3",
        )
        .bind(now)
        .bind(device_id)
        .bind(realm)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}
