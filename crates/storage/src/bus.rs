//! Notifications between the instances sharing one PostgreSQL database (`LISTEN`/`NOTIFY`):
//! what one instance changes that another holds in memory or streams to its clients (e-CPS
//! live feeds). On SQLite there is one process, and nothing to send.
//!
//! A message is delivered at most once, to the instances listening at the time; an instance
//! whose listening connection dropped is told it may have missed messages (`Heard::Missed`)
//! and reads the store again for whatever it keeps.

use crate::Db;
use anyhow::Result;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The one PostgreSQL channel coeur uses; messages say what changed.
const CHANNEL: &str = "coeur_events";

/// What a listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Another instance's message.
    Message(String),
    /// The connection dropped (and is being made again): messages may have been lost.
    Missed,
}

/// The bus of an instance: it tells the others, and hears them (never itself).
#[derive(Clone)]
pub struct Bus {
    db: Db,
    /// This instance's id, so that it ignores its own messages.
    instance: String,
}

impl Bus {
    /// The bus over `db`, for the instance `instance` (a random id, unique per process).
    pub fn new(db: Db, instance: String) -> Self {
        Self { db, instance }
    }

    /// Whether other instances may share the database (PostgreSQL).
    pub fn shared(&self) -> bool {
        self.db.postgres_url().is_some()
    }

    /// Tells the other instances `message` (nothing on SQLite). Best effort: a failure is
    /// logged, and the others' next reading of the store catches up.
    pub async fn publish(&self, message: &str) {
        if self.db.postgres_url().is_none() {
            return;
        }
        let payload = format!("{}\n{message}", self.instance);
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(self.db.pool())
            .await
        {
            tracing::warn!(error = %e, "notification to the other instances failed");
        }
    }

    /// Calls `heard` with each other instance's message, from a spawned task that keeps
    /// listening (reconnecting after a pause when the connection drops) for the life of the
    /// runtime. Nothing on SQLite.
    pub fn listen(&self, heard: impl Fn(Heard) + Send + Sync + 'static) {
        let Some(url) = self.db.postgres_url().map(str::to_owned) else {
            return;
        };
        let me = format!("{}\n", self.instance);
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen_once(&url, &me, &heard).await {
                    tracing::warn!(error = %e, "listening to the other instances: retrying");
                }
                heard(Heard::Missed);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// Listens on one connection until it fails.
async fn listen_once(url: &str, me: &str, heard: &(impl Fn(Heard) + Send + Sync)) -> Result<()> {
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    tracing::debug!("listening to the other instances");
    // Whatever happened while not listening is unknown.
    heard(Heard::Missed);
    loop {
        // `None`: the connection was lost; start again on a new one.
        let Some(n) = l.try_recv().await? else {
            return Ok(());
        };
        let p = n.payload();
        if p.starts_with(me) {
            continue;
        }
        if let Some((_, message)) = p.split_once('\n') {
            heard(Heard::Message(message.to_owned()));
        }
    }
}
