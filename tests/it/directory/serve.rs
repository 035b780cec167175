//! The directory served by `coeur serve` beside the provider: its listener, data generated on
//! first start only, its client `annuaire` registered once with its secret held in the store
//! (a copy in the key store's directory, written again when missing), the provider's client-credentials tokens accepted, the professionals' space's
//! login accepted by coeur for that client, and the listener closed with the others on
//! SIGTERM.

use crate::support::{ServeChild, free_addr, serve_command, server_log};
use std::path::Path;
use std::time::Duration;

/// Starts `coeur serve` in `dir` with the directory on `directory`, generating `professionals`
/// into an empty store; waits for `/readyz`.
async fn start(
    dir: &Path,
    (listen, card, directory): (&str, &str, &str),
    professionals: &str,
) -> ServeChild {
    let server = ServeChild(
        serve_command(dir, env!("CARGO_BIN_EXE_coeur"), &["serve"], (listen, card))
            .env_remove("COEUR_NO_DIRECTORY")
            .env("COEUR_DIRECTORY_LISTEN", directory)
            .env("COEUR_DIRECTORY_GENERATE_PROFESSIONALS", professionals)
            .env("COEUR_DIRECTORY_GENERATE_STRUCTURES", "5")
            .spawn()
            .expect("coeur binary"),
    );
    let ready = format!("http://{listen}/readyz");
    for _ in 0..600 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().as_u16() == 200)
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready:\n{}", server_log(dir));
}

/// Stops the server with SIGTERM and waits for its exit; the directory's listener is closed.
fn stop(mut server: ServeChild, directory: &str, dir: &Path) {
    let pid = server.0.id();
    let ok = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -TERM {pid}");
    let mut exited = None;
    for _ in 0..300 {
        if let Some(status) = server.0.try_wait().expect("wait") {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = exited.unwrap_or_else(|| panic!("coeur did not stop:\n{}", server_log(dir)));
    assert!(status.success(), "{status}\n{}", server_log(dir));
    assert!(
        std::net::TcpStream::connect(directory).is_err(),
        "the directory still accepts after the stop"
    );
}

/// A client-credentials token of the realm `edit` for `annuaire` with `secret`.
async fn token(http: &reqwest::Client, listen: &str, secret: &str) -> String {
    let r = http
        .post(format!(
            "http://{listen}/auth/realms/edit/protocol/openid-connect/token"
        ))
        .basic_auth("annuaire", Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "directory:read"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status().as_u16(), 200, "token endpoint");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["scope"], "directory:read");
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// The number of active practitioners the directory reports to a caller holding `token`.
async fn practitioners(http: &reqwest::Client, directory: &str, token: &str) -> u64 {
    let r = http
        .get(format!("http://{directory}/Practitioner?_summary=count"))
        .bearer_auth(token)
        .send()
        .await
        .expect("search");
    assert_eq!(r.status().as_u16(), 200, "Practitioner search");
    let bundle: serde_json::Value = r.json().await.expect("bundle");
    assert_eq!(bundle["resourceType"], "Bundle");
    bundle["total"].as_u64().expect("total")
}

/// The professionals' space is on: its login goes to the realm's authorization endpoint as
/// client `annuaire` with the space's redirect URI, which coeur accepts (the wallet page).
async fn space_login_starts(listen: &str, directory: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let home = http
        .get(format!("http://{directory}/espace"))
        .send()
        .await
        .expect("space");
    assert_eq!(home.status().as_u16(), 200);
    let r = http
        .get(format!("http://{directory}/espace/connexion"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let auth = format!("http://{listen}/auth/realms/edit/protocol/openid-connect/auth?");
    assert!(to.starts_with(&auth), "{to}");
    let redirect = format!(
        "redirect_uri=http%3A%2F%2F{}%2Fespace%2Fretour",
        directory.replace(':', "%3A")
    );
    assert!(
        to.contains("client_id=annuaire") && to.contains(&redirect),
        "{to}"
    );
    let wallet = http.get(&to).send().await.expect("wallet");
    assert_eq!(
        wallet.status().as_u16(),
        200,
        "coeur accepts the space's request"
    );
    assert!(
        wallet
            .text()
            .await
            .expect("html")
            .contains("name=\"request_id\"")
    );
}

/// Makes the stored client `annuaire` what an earlier version registered (client credentials
/// and `directory:read` only, no redirect URI); its secret hash.
async fn downgrade_client(dir: &Path) -> String {
    use sqlx::Row as _;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", dir.join("coeur.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.expect("store");
    let row = sqlx::query(
        "SELECT spec, secret_hash FROM clients WHERE realm = 'edit' AND client_id = 'annuaire'",
    )
    .fetch_one(&pool)
    .await
    .expect("client row");
    let mut spec: serde_json::Value =
        serde_json::from_str(&row.try_get::<String, _>(0).expect("spec")).expect("json");
    let hash: String = row.try_get(1).expect("hash");
    spec["grant_types"] = serde_json::json!(["client_credentials"]);
    spec["scopes"] = serde_json::json!(["directory:read"]);
    spec["redirect_uris"] = serde_json::json!([]);
    spec["post_logout_redirect_uris"] = serde_json::json!([]);
    sqlx::query("UPDATE clients SET spec = $1 WHERE realm = 'edit' AND client_id = 'annuaire'")
        .bind(spec.to_string())
        .execute(&pool)
        .await
        .expect("update");
    pool.close().await;
    hash
}

/// The stored secret hash of the client `annuaire`.
async fn stored_secret_hash(dir: &Path) -> String {
    use sqlx::Row as _;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", dir.join("coeur.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.expect("store");
    let row = sqlx::query(
        "SELECT secret_hash FROM clients WHERE realm = 'edit' AND client_id = 'annuaire'",
    )
    .fetch_one(&pool)
    .await
    .expect("client row");
    let hash = row.try_get(0).expect("hash");
    pool.close().await;
    hash
}

/// `coeur client list --realm edit` on the server's store: the lines naming `annuaire`.
fn annuaire_registrations(dir: &Path) -> usize {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coeur"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("COEUR_LOG", "warn")
        .current_dir(dir)
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("coeur.db").display()))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .arg("--realms-dir")
        .arg(repo.join("realms"))
        .args(["client", "list", "--realm", "edit"])
        .output()
        .expect("coeur client list");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split('\t').next() == Some("annuaire"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coeur_serve_serves_the_directory_with_its_own_client_and_generated_data() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let w = tempfile::tempdir().expect("dir");
    let (listen, card, directory) = (free_addr(), free_addr(), free_addr());
    let addrs = (listen.as_str(), card.as_str(), directory.as_str());
    let http = reqwest::Client::new();

    let server = start(w.path(), addrs, "40").await;
    space_login_starts(&listen, &directory).await;
    // Public: the capability statement, with the headers of every listener's answers.
    let meta = http
        .get(format!("http://{directory}/metadata"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(meta.headers()["x-content-type-options"], "nosniff");
    let meta: serde_json::Value = meta.json().await.expect("json");
    assert_eq!(meta["resourceType"], "CapabilityStatement");
    // Searches need a token.
    let anonymous = http
        .get(format!("http://{directory}/Practitioner"))
        .send()
        .await
        .expect("search");
    assert_eq!(anonymous.status().as_u16(), 401);

    // The operator reads the client's secret from the key store's directory (owner only);
    // the log never shows it.
    let file = w.path().join("keys/directory-client-secret");
    let secret = std::fs::read_to_string(&file).expect("secret file");
    let secret = secret.trim().to_owned();
    assert!(secret.len() >= 32, "a generated secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    let bearer = token(&http, &listen, &secret).await;
    assert_eq!(practitioners(&http, &directory, &bearer).await, 40);
    let page: serde_json::Value = http
        .get(format!("http://{directory}/Practitioner?_count=5"))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("bundle");
    let entries = page["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 5, "{page}");
    assert_eq!(entries[0]["resource"]["resourceType"], "Practitioner");
    assert!(
        entries[0]["fullUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("http://{directory}/Practitioner/"))),
        "{page}"
    );
    stop(server, &directory, w.path());
    assert!(
        !server_log(w.path()).contains(&secret),
        "the secret is logged"
    );
    assert_eq!(annuaire_registrations(w.path()), 1);

    // A store of an earlier version: the client has the client-credentials grant only.
    let secret_hash = downgrade_client(w.path()).await;

    // Started again, asking for another size: the data is left alone, the client kept with
    // its secret and completed for the professionals' space.
    let server = start(w.path(), addrs, "60").await;
    let again = std::fs::read_to_string(&file).expect("secret file");
    assert_eq!(again.trim(), secret, "the secret file is kept");
    let bearer = token(&http, &listen, &secret).await;
    assert_eq!(
        practitioners(&http, &directory, &bearer).await,
        40,
        "the data of the first start is kept, not generated again"
    );
    space_login_starts(&listen, &directory).await;
    assert_eq!(
        stored_secret_hash(w.path()).await,
        secret_hash,
        "the secret is untouched"
    );
    stop(server, &directory, w.path());
    assert_eq!(
        annuaire_registrations(w.path()),
        1,
        "the client is not duplicated"
    );
    assert!(
        !server_log(w.path()).contains(&secret),
        "the secret is logged"
    );

    // Another instance of the deployment has none of these files on its disk: the secrets
    // come from the store, where they are held sealed; the operator's copies are written again.
    std::fs::remove_file(&file).expect("remove the secret file");
    std::fs::remove_file(w.path().join("keys/identity-sync-client-secret"))
        .expect("remove the identity sync's secret file");
    let server = start(w.path(), addrs, "60").await;
    let again = std::fs::read_to_string(&file).expect("secret file written again");
    assert_eq!(again.trim(), secret, "the secret held in the store");
    space_login_starts(&listen, &directory).await;
    let bearer = token(&http, &listen, &secret).await;
    assert_eq!(practitioners(&http, &directory, &bearer).await, 40);
    stop(server, &directory, w.path());
    assert_eq!(annuaire_registrations(w.path()), 1);
}
