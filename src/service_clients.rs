//! The clients the services `coeur serve` runs beside the provider (the directory, its
//! identity sync, the offer) hold in their realm: registered when missing, completed with what
//! an existing one lacks (grants, scopes, redirect URIs of a newer version or a new public
//! URL), its secret generated once and written to a file of the key store's directory
//! (owner read and write only), never printed nor logged.

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
    /// The file of its secret, in the key store's directory.
    pub(crate) file: &'a Path,
    /// Its registration, with the secret given.
    pub(crate) wanted: &'a dyn Fn(SecretRequest) -> ClientRegistration,
}

/// Registers `client` in `realm` when it is missing, or completes it with what it lacks of
/// its registration. Its secret is the one of the secret file if there is one (a database
/// started afresh beside a kept key store), else a new one, written to the file before the
/// client is stored.
pub(crate) async fn ensure_client(app: &App, realm: &Realm, client: &ClientOf<'_>) -> Result<()> {
    let p = &app.provider;
    let (client_id, file, wanted) = (client.client_id, client.file, client.wanted);
    let exists = |clients: &[coeur_provider::clients::ListedClient]| {
        clients.iter().any(|c| c.client_id == client_id)
    };
    if exists(&list_clients(&p.store, realm).await?) {
        if complete_client(&p.store, realm, &wanted(SecretRequest::None)).await? {
            // Read again here and on the instances sharing the database.
            p.client_changed(&realm.name, client_id).await;
            tracing::info!(realm = %realm.name, client_id, "completed a client of a service");
        }
        if !file.exists() {
            tracing::warn!(
                realm = %realm.name,
                file = %file.display(),
                "the client exists but its secret file does not; to get a new secret, remove \
                 the client (coeur client remove --realm {} --client-id {}) and start again",
                realm.name,
                client_id
            );
        }
        return Ok(());
    }
    let secret = match std::fs::read_to_string(file) {
        Ok(s) => s.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let s = token(&*p.rng);
            write_private(file, &s)?;
            s
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let reg = wanted(SecretRequest::Given(secret));
    let new = NewClient::check(realm, reg, &*p.rng)
        .map_err(|e| anyhow!("registering the client {client_id}: {e}"))?;
    match register_client(&p.store, Some(p.keys.master()), new, p.now()).await {
        Ok(_) => {
            tracing::info!(realm = %realm.name, client_id, file = %file.display(), "registered the client; its secret is in the file");
            Ok(())
        }
        // Another instance sharing the database registered it meanwhile.
        Err(_) if exists(&list_clients(&p.store, realm).await?) => Ok(()),
        Err(e) => Err(anyhow!("registering the client {client_id}: {e}")),
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
pub(crate) fn read_secret(file: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(file) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}
