//! Connection statistics (table `login_stats`): a completed login counted in its own
//! transaction, and the report's rows.

use super::Store;
use crate::stats::{LoginCount, StatsQuery, day_of};
use anyhow::Result;
use sqlx::Row;

impl Store {
    /// Counts one completed login of `client_id` by `method` in `realm`, on the UTC day of
    /// `now`, inside the login's transaction.
    pub(super) async fn count_login_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        realm: &str,
        client_id: &str,
        method: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_stats (day, realm, client_id, method, logins) VALUES ($1, $2, $3, $4, 1) \
             ON CONFLICT (day, realm, client_id, method) DO UPDATE SET logins = login_stats.logins + 1",
        )
        .bind(day_of(now))
        .bind(realm)
        .bind(client_id)
        .bind(method)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The counts `q` covers, by day, realm, client and method.
    pub async fn login_stats(&self, q: &StatsQuery) -> Result<Vec<LoginCount>> {
        let rows = sqlx::query(
            "SELECT day, realm, client_id, method, logins FROM login_stats \
             WHERE day >= $1 AND day <= $2 AND ($3 = '' OR realm = $3) AND ($4 = '' OR client_id = $4) \
             ORDER BY day, realm, client_id, method",
        )
        .bind(&q.from)
        .bind(&q.to)
        .bind(q.realm.as_deref().unwrap_or(""))
        .bind(q.client_id.as_deref().unwrap_or(""))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LoginCount {
                    day: r.try_get("day")?,
                    realm: r.try_get("realm")?,
                    client_id: r.try_get("client_id")?,
                    method: r.try_get("method")?,
                    logins: r.try_get("logins")?,
                })
            })
            .collect()
    }
}
