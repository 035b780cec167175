//! The clients the services `coeur serve` runs beside the provider (the directory, its
//! identity sync, the offer) hold in their realm: registered when missing, completed with what
//! an existing one lacks (grants, scopes, redirect URIs of a newer version or a new public
//! URL), its secret generated once. The secret is held in the store, sealed under the master
//! key like the CA's keys, so that every instance sharing the database uses the same one; a
//! copy is written to a file of the key store's directory (owner read and write only) for the
//! operator. It is never printed nor logged.

use crate::app::App;
use anyhow::{Context, Result, anyhow};
use coeur_common::random::token;
use coeur_oauth::realm::Realm;
use coeur_provider::clients::{
    ClientRegistration, NewClient, SecretRequest, complete_client, list_clients, register_client,
};
use std::path::Path;

/// A client of a service's realm, the file of its secret, and its registration.
pub(crate) struct ClientOf<'a> {
    /// Its id.
    pub(crate) client_id: &'static str,
    /// The operator's copy of its secret, in the key store's directory.
    pub(crate) file: &'a Path,
    /// Its registration, with the secret given.
    pub(crate) wanted: &'a dyn Fn(SecretRequest) -> ClientRegistration,
}

/// Where the store holds the secret of a service's client.
fn held_id(realm: &str, client_id: &str) -> String {
    format!("client-secret/{realm}/{client_id}")
}

/// Registers `client` in `realm` when it is missing, or completes it with what it lacks of
/// its registration; returns its secret. The secret is the one the store holds (another
/// instance's, or an earlier start's); else the one of the secret file (a store of an
/// earlier version, or a database started afresh beside a kept key store), then held; else a
/// new one, held before the client is stored. `None` for a client stored by an earlier
/// version whose secret is known neither to the store nor to the file.
pub(crate) async fn ensure_client(
    app: &App,
    realm: &Realm,
    client: &ClientOf<'_>,
) -> Result<Option<String>> {
    let p = &app.provider;
    let (client_id, file, wanted) = (client.client_id, client.file, client.wanted);
    let id = held_id(&realm.name, client_id);
    let exists = |clients: &[coeur_provider::clients::ListedClient]| {
        clients.iter().any(|c| c.client_id == client_id)
    };
    let held = match p.keys.held_key(&id).await? {
        Some(b) => Some(String::from_utf8(b).context("a held client secret")?),
        None => None,
    };
    let in_file = read_secret(file)?;
    if exists(&list_clients(&p.store, realm).await?) {
        if complete_client(&p.store, realm, &wanted(SecretRequest::None)).await? {
            // Read again here and on the instances sharing the database.
            p.client_changed(&realm.name, client_id).await;
            tracing::info!(realm = %realm.name, client_id, "completed a client of a service");
        }
        let secret = match (held, in_file) {
            (Some(h), _) => h,
            (None, Some(f)) => hold(app, &id, &f).await?,
            (None, None) => {
                tracing::warn!(
                    realm = %realm.name,
                    file = %file.display(),
                    "the client exists but neither the store nor the file has its secret; to                      get a new secret, remove the client (coeur client remove --realm {}                      --client-id {}) and start again",
                    realm.name,
                    client_id
                );
                return Ok(None);
            }
        };
        keep_copy(file, &secret)?;
        return Ok(Some(secret));
    }
    let secret = match held.or(in_file) {
        Some(s) => s,
        None => token(&*p.rng),
    };
    // Another instance starting at the same moment may have held its own: the first wins.
    let secret = hold(app, &id, &secret).await?;
    keep_copy(file, &secret)?;
    let reg = wanted(SecretRequest::Given(secret.clone()));
    let new = NewClient::check(realm, reg, &*p.rng)
        .map_err(|e| anyhow!("registering the client {client_id}: {e}"))?;
    match register_client(&p.store, Some(p.keys.master()), new, p.now()).await {
        Ok(_) => {
            tracing::info!(realm = %realm.name, client_id, file = %file.display(), "registered the client; a copy of its secret is in the file");
            Ok(Some(secret))
        }
        // Another instance sharing the database registered it meanwhile.
        Err(_) if exists(&list_clients(&p.store, realm).await?) => Ok(Some(secret)),
        Err(e) => Err(anyhow!("registering the client {client_id}: {e}")),
    }
}

/// Holds `secret` under `id` unless a secret is held there already; the one held.
async fn hold(app: &App, id: &str, secret: &str) -> Result<String> {
    let held = app
        .provider
        .keys
        .hold_first_key(id, secret.as_bytes(), app.provider.now())
        .await?;
    String::from_utf8(held).context("a held client secret")
}

/// Writes the operator's copy of a secret when there is none; an existing copy that differs
/// (written by an instance whose secret lost the race, or edited) is left, with a warning.
fn keep_copy(file: &Path, secret: &str) -> Result<()> {
    match read_secret(file)? {
        None => write_private(file, secret),
        Some(s) if s == secret => Ok(()),
        Some(_) => {
            tracing::warn!(file = %file.display(), "the file's secret is not the client's (the store holds it); the file is left as it is");
            Ok(())
        }
    }
}

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The secret of a client from its file, `None` when the file does not exist.
fn read_secret(file: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(file) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}
