//! What serving needs beyond each setting's own check: on PostgreSQL, a database several
//! instances may share, the master key must be given. A key coeur generates in its keys
//! directory is for the single-node SQLite default only: two instances generating their own
//! would each seal what the other cannot open.

use super::Config;
use anyhow::{Result, bail};

impl Config {
    /// Refuses to serve a PostgreSQL database without a master key given by
    /// `COEUR_MASTER_KEY` or `master_key_file`.
    pub fn check_serving(&self) -> Result<()> {
        let postgres = self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://");
        if postgres && self.master_key.is_none() {
            bail!(
                "coeur on PostgreSQL needs its master key from COEUR_MASTER_KEY or \
                 master_key_file, the same for every instance (base64 of 32 random bytes); a \
                 generated development key is for the single-node SQLite default only"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Settings};

    fn config(url: &str, key: Option<&str>) -> Config {
        let mut s = Settings::default();
        s.common.database_url = Some(url.into());
        s.secrets.master_key = key.map(str::to_owned);
        Config::resolve(s, None).expect("config")
    }

    #[test]
    fn postgres_needs_a_given_master_key() {
        let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        for url in ["postgres://db/coeur", "postgresql://db/coeur"] {
            let e = config(url, None).check_serving().unwrap_err();
            assert!(e.to_string().contains("COEUR_MASTER_KEY"), "{e}");
            config(url, Some(key)).check_serving().expect("given");
        }
        config("sqlite://coeur.db", None)
            .check_serving()
            .expect("SQLite generates its development key");
    }
}
