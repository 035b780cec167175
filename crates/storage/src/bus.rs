//! Notifications between the instances sharing one PostgreSQL database (`LISTEN`/`NOTIFY`):
//! what one instance changes that another holds in memory or streams to its clients (e-CPS
//! live feeds, CIBA poll state, cached OCSP answers and CRLs, cached clients). On SQLite
//! there is one process, and nothing to send.
//!
//! A message is delivered at most once, to the instances listening at the time; an instance
//! whose listening connection dropped is told it may have missed messages (`Heard::Missed`)
//! and reads the store again for whatever it keeps. What travels is an [`Event`], formatted
//! and parsed here only; it names things by id (never a secret or a token).
//!
//! One `Bus` per process, shared by everything in it that keeps something in memory: one
//! listening connection, whose messages go to every subscriber.

use crate::Db;
use anyhow::Result;
use sqlx::postgres::PgListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The one PostgreSQL channel coeur uses; messages say what changed.
const CHANNEL: &str = "coeur_events";

/// What changed on one instance that the others may keep in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An e-CPS topic changed (a professional's requests or devices, one request): the live
    /// feeds on it read the store again.
    Ecps {
        /// The topic (it may contain line breaks).
        topic: String,
    },
    /// A CIBA request was decided: its poll state is forgotten, so that its next poll reads
    /// the decision.
    CibaDecided {
        /// The request's id (not its `auth_req_id`).
        request_id: String,
    },
    /// A certificate was revoked: its cached OCSP answers go, its CA's CRLs are stale.
    CertificateRevoked {
        /// The issuing CA's id.
        ca: String,
        /// The serial number, as stored (hexadecimal).
        serial: String,
    },
    /// A client of a realm was added, removed or changed (secret, registration): it is read
    /// from the store again.
    ClientChanged {
        /// The realm.
        realm: String,
        /// The client id.
        client_id: String,
    },
    /// A realm's key ring has a new version (a rotation): it is loaded from the store again.
    KeysRotated {
        /// The realm.
        realm: String,
    },
    /// A grant was revoked (logout, code replay, refresh token reuse, RFC 7009): the access
    /// tokens it issued are refused from memory.
    GrantRevoked {
        /// When, as stored (Unix seconds).
        at: i64,
        /// The grant's id.
        grant_id: String,
    },
    /// One access token was revoked (RFC 7009): refused from memory until it expires.
    TokenRevoked {
        /// The token's expiry (Unix seconds).
        exp: i64,
        /// The token's `jti`.
        jti: String,
    },
}

impl Event {
    /// The message carrying the event: a kind, then its fields, one a line (the last field
    /// takes the rest).
    pub fn format(&self) -> String {
        match self {
            Event::Ecps { topic } => format!("ecps\n{topic}"),
            Event::CibaDecided { request_id } => format!("ciba\n{request_id}"),
            Event::CertificateRevoked { ca, serial } => format!("cert-revoked\n{ca}\n{serial}"),
            Event::ClientChanged { realm, client_id } => {
                format!("client\n{realm}\n{client_id}")
            }
            Event::KeysRotated { realm } => format!("keys\n{realm}"),
            Event::GrantRevoked { at, grant_id } => format!("grant-revoked\n{at}\n{grant_id}"),
            Event::TokenRevoked { exp, jti } => format!("token-revoked\n{exp}\n{jti}"),
        }
    }

    /// The event a message carries; `None` for a message this version does not know (from a
    /// newer instance), or a malformed one.
    pub fn parse(message: &str) -> Option<Self> {
        let (kind, rest) = message.split_once('\n')?;
        let two = || {
            rest.split_once('\n')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        };
        match kind {
            "ecps" if !rest.is_empty() => Some(Event::Ecps {
                topic: rest.to_owned(),
            }),
            "ciba" if !rest.is_empty() && !rest.contains('\n') => Some(Event::CibaDecided {
                request_id: rest.to_owned(),
            }),
            "cert-revoked" => {
                let (ca, serial) = two()?;
                Some(Event::CertificateRevoked { ca, serial })
            }
            "client" => {
                let (realm, client_id) = two()?;
                Some(Event::ClientChanged { realm, client_id })
            }
            "keys" if !rest.is_empty() && !rest.contains('\n') => Some(Event::KeysRotated {
                realm: rest.to_owned(),
            }),
            "grant-revoked" => {
                let (at, grant_id) = two()?;
                Some(Event::GrantRevoked {
                    at: at.parse().ok()?,
                    grant_id,
                })
            }
            "token-revoked" => {
                let (exp, jti) = two()?;
                Some(Event::TokenRevoked {
                    exp: exp.parse().ok()?,
                    jti,
                })
            }
            _ => None,
        }
    }
}

/// What a listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Another instance's event.
    Event(Event),
    /// The connection dropped (and is being made again): messages may have been lost.
    Missed,
}

/// Something in the process that keeps state the other instances change.
type Subscriber = Arc<dyn Fn(&Heard) + Send + Sync>;

/// The bus of an instance: it tells the others, and hears them (never itself).
#[derive(Clone)]
pub struct Bus {
    db: Db,
    /// This instance's id, so that it ignores its own messages.
    instance: String,
    /// Who hears the other instances.
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
    /// Whether the listening task runs.
    listening: Arc<AtomicBool>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("instance", &self.instance)
            .field("shared", &self.shared())
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// The bus over `db`, for the instance `instance` (a random id, unique per process).
    pub fn new(db: Db, instance: String) -> Self {
        Self {
            db,
            instance,
            subscribers: Arc::default(),
            listening: Arc::default(),
        }
    }

    /// Whether other instances may share the database (PostgreSQL).
    pub fn shared(&self) -> bool {
        self.db.postgres_url().is_some()
    }

    /// Tells the other instances `event` (nothing on SQLite). Best effort: a failure is
    /// logged, and the others' next reading of the store catches up. Call it after the change
    /// is committed, so that whoever hears it reads the new state.
    pub async fn publish(&self, event: &Event) {
        if self.db.postgres_url().is_none() {
            return;
        }
        let payload = format!("{}\n{}", self.instance, event.format());
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(self.db.pool())
            .await
        {
            tracing::warn!(error = %e, "notification to the other instances failed");
        }
    }

    /// Calls `heard` with each other instance's event, and with [`Heard::Missed`] whenever
    /// the listening connection was (re)made. The first subscriber starts a spawned task that
    /// keeps listening (reconnecting after a pause when the connection drops) for the life of
    /// the runtime; later ones share its connection. Nothing on SQLite.
    pub fn listen(&self, heard: impl Fn(&Heard) + Send + Sync + 'static) {
        let Some(url) = self.db.postgres_url().map(str::to_owned) else {
            return;
        };
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(heard));
        if self.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = format!("{}\n", self.instance);
        let subscribers = self.subscribers.clone();
        let tell = move |h: Heard| {
            let all: Vec<Subscriber> = subscribers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for s in all {
                s(&h);
            }
        };
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen_once(&url, &me, &tell).await {
                    tracing::warn!(error = %e, "listening to the other instances: retrying");
                }
                tell(Heard::Missed);
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
        let Some((_, message)) = p.split_once('\n') else {
            continue;
        };
        match Event::parse(message) {
            Some(e) => heard(Heard::Event(e)),
            None => tracing::debug!("unknown message from another instance, ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn events_read_back_as_formatted() {
        let all = [
            Event::Ecps {
                topic: "nid\nedit\n899700000001".into(),
            },
            Event::CibaDecided {
                request_id: "r1".into(),
            },
            Event::CertificateRevoked {
                ca: "org".into(),
                serial: "0a1b".into(),
            },
            Event::ClientChanged {
                realm: "edit".into(),
                client_id: "rp\nodd".into(),
            },
            Event::KeysRotated {
                realm: "edit".into(),
            },
            Event::GrantRevoked {
                at: 1_767_225_600,
                grant_id: "g1".into(),
            },
            Event::TokenRevoked {
                exp: 1_767_225_900,
                jti: "j\n1".into(),
            },
        ];
        for e in all {
            assert_eq!(Event::parse(&e.format()), Some(e));
        }
    }

    #[test]
    fn unknown_or_malformed_messages_are_no_event() {
        for m in [
            "",
            "ecps",
            "ecps\n",
            "ciba\na\nb",
            "cert-revoked\norg",
            "cert-revoked\n\n0a",
            "client\nedit\n",
            "keys\n",
            "keys\na\nb",
            "later-kind\nx",
            "grant-revoked\nsoon\ng1",
            "grant-revoked\n1767225600",
            "token-revoked\n\nj1",
        ] {
            assert_eq!(Event::parse(m), None, "{m:?}");
        }
    }
}
