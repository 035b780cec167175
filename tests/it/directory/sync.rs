//! The provider's identities synced from the directory (`coeur_provider::directory_sync`):
//! the real directory service beside a test server, extracts imported into its store, and
//! the sync reading its FHIR API with the client `identity-sync`. A professional of the
//! directory logs in (the wallet's `test` method) and the userinfo carries PSC's claims from
//! the directory's records; a contact change reaches the identity; a professional absent from
//! a new complete extract can no longer log in; the directory stopped, logins go on.

use super::import::PA_HEADER;
use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock;
use coeur::config::DirectoryConfig;
use coeur::directory::{DirectoryServer, SYNC_CLIENT_ID};
use coeur::provider::directory_sync::DirectorySync;
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::store::Store;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The professional who logs in, and another one.
pub(super) const GUIGNARD: &str = "810001045367";
pub(super) const LEFEVRE: &str = "810002000007";

/// A `Personne_activite` row: a salaried exercise of profession `profession` at a site.
pub(super) fn pa_row(
    idnat: &str,
    civility: &str,
    family: &str,
    given: &str,
    profession: &str,
) -> String {
    let mut f = vec![""; 52];
    f[0] = "8";
    f[1] = &idnat[1..];
    f[2] = idnat;
    f[3] = "DR";
    f[5] = civility;
    f[7] = family;
    f[8] = given;
    f[9] = profession;
    f[10] = "Profession";
    f[11] = "C";
    f[17] = "S";
    f[23] = "R10000";
    f[24] = "CABINET DES LILAS";
    f[35] = "75012";
    format!("{}|\n", f.join("|"))
}

pub(super) fn pa_file(rows: &[String]) -> Vec<u8> {
    let mut file = format!("{PA_HEADER}\n");
    for r in rows {
        file.push_str(r);
    }
    file.into_bytes()
}

/// An `Extraction_Correspondance_MSSante` file: one mailbox of `idnat`.
pub(super) fn mssante_file(idnat: &str, address: &str) -> Vec<u8> {
    let header = coeur_directory::extract::columns::MSSANTE.join("|");
    let mut f = vec![""; coeur_directory::extract::columns::MSSANTE.len()];
    f[0] = "PER";
    f[1] = address;
    f[2] = "8";
    f[3] = &idnat[1..];
    f[4] = idnat;
    format!("{header}\n{}\n", f.join("|")).into_bytes()
}

pub(super) async fn import(store: &Store, name: &str, bytes: Vec<u8>, now: i64) {
    let mut out = Outcome::default();
    import_file(
        store,
        name,
        bytes.as_slice(),
        true,
        now,
        &mut out,
        &mut |_, _| {},
    )
    .await
    .expect("import");
    assert!(
        out.rejected.is_empty() && out.skipped.is_empty(),
        "{name}: {:?} {:?}",
        out.rejected,
        out.skipped
    );
}

/// Logs `national_id` in through the wallet page and answers the userinfo of its token, or
/// the status of the refused login.
pub(super) async fn login_userinfo(s: &TestServer, national_id: &str) -> Result<Value, u16> {
    let browser = s.browser();
    let params = [
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all email phone"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
    ];
    let page = browser.authorize(&authz_url(s, "edit", &params)).await;
    let r = browser.login(&s.base, &page, national_id, "test").await;
    if r.status().as_u16() != 303 {
        return Err(r.status().as_u16());
    }
    let code = param(&location(&r), "code").expect("code");
    let tokens: Value = redeem(s, &code, &[]).await.json().await.expect("tokens");
    let at = tokens["access_token"].as_str().expect("access token");
    let r = reqwest::Client::new()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(r.status().as_u16(), 200, "userinfo");
    Ok(r.json().await.expect("userinfo json"))
}

/// The directory served beside `s` as `coeur serve` runs it (its store on `db`, its space, the
/// realm `edit`'s identity sync), on a listener of its own.
pub(super) struct Served {
    /// The realm's sync, whose passes the test runs.
    pub(super) sync: Arc<DirectorySync>,
    /// The directory's store, where extracts are imported.
    pub(super) store: Store,
    /// The directory's base URL.
    pub(super) base: String,
    /// The serving task.
    pub(super) serving: tokio::task::JoinHandle<()>,
}

/// Opens and serves the directory beside `s` (see [`Served`]).
pub(super) async fn serve_directory(s: &TestServer, db: Db) -> Served {
    let database_url = match db {
        Db::Sqlite => format!("sqlite://{}/annuaire.db", s.dir.path().display()),
        Db::Postgres => coeur_testkit::pg::new_database_url().await,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let settings = DirectoryConfig {
        listen: addr,
        public_url: format!("http://{addr}"),
        database_url: database_url.clone(),
        realm: "edit".into(),
        audiences: vec![],
        generate_professionals: 0,
        generate_structures: 0,
        sync_interval: Some(Duration::from_secs(30)),
        elsewhere: None,
    };
    let mut server = DirectoryServer::open(&s.app, &settings, &[])
        .await
        .expect("directory");
    let sync = server.sync.take().expect("the sync is on");
    assert!(
        s.dir
            .path()
            .join("keys/identity-sync-client-secret")
            .exists(),
        "the sync's client secret is in the key store's directory"
    );
    let app = s.app.clone();
    let serving = tokio::spawn(async move { server.serve(&app, listener).await });
    let store = Store::connect(&database_url)
        .await
        .expect("directory store");
    Served {
        sync,
        store,
        base: format!("http://{addr}"),
        serving,
    }
}

both_dbs!(identities_come_from_the_directory, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let Served {
        sync,
        store,
        serving,
        ..
    } = serve_directory(&s, db).await;

    // Readiness covers the directory's database.
    let ready = reqwest::get(format!("{}/readyz", s.base))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);

    let now = s.clock.now();
    import(
        &store,
        "PS_LibreAcces_Personne_activite_202601010000.txt",
        pa_file(&[
            pa_row(GUIGNARD, "M", "GUIGNARD", "ERIC", "10"),
            pa_row(LEFEVRE, "MME", "LEFEVRE", "HELENE", "21"),
        ]),
        now - 100,
    )
    .await;
    import(
        &store,
        "Extraction_Correspondance_MSSante_202601010000.txt",
        mssante_file(GUIGNARD, "eric.guignard@medecin.mssante.fr"),
        now - 100,
    )
    .await;

    // Before the sync the provider does not know them.
    assert_eq!(login_userinfo(&s, GUIGNARD).await.unwrap_err(), 400);
    let first = sync.pass(false).await.expect("first pass");
    assert!(first.full, "the first pass is a full one: {first:?}");
    assert_eq!(
        (first.read, first.added, first.refused),
        (2, 2, 0),
        "{first:?}"
    );
    let p = &s.state.store;
    assert_eq!(
        p.identity_source("edit", GUIGNARD)
            .await
            .unwrap()
            .as_deref(),
        Some("directory")
    );
    assert_eq!(
        p.identity_source("edit", NATIONAL_ID)
            .await
            .unwrap()
            .as_deref(),
        Some("local"),
        "the realm's own test identities stay theirs"
    );

    // The professional logs in; PSC's claims are the directory's records.
    let u = login_userinfo(&s, GUIGNARD).await.expect("login");
    assert_eq!(u["SubjectNameID"], GUIGNARD);
    assert_eq!(u["given_name"], "ERIC");
    assert_eq!(u["family_name"], "GUIGNARD");
    assert_eq!(u["codeCivilite"], "M");
    assert_eq!(
        u["SubjectRole"],
        serde_json::json!(["10^1.2.250.1.213.1.1.5.5"])
    );
    assert_eq!(
        u["otherIds"],
        serde_json::json!([{"identifiant": GUIGNARD, "origine": "RPPS", "qualite": 1}])
    );
    let e = &u["SubjectRefPro"]["exercices"][0];
    assert_eq!(e["codeProfession"], "10");
    assert_eq!(e["codeCiviliteDexercice"], "DR");
    assert_eq!(e["nomDexercice"], "GUIGNARD");
    assert_eq!(e["activities"][0]["codeModeExercice"], "S");
    assert_eq!(e["activities"][0]["raisonSocialeSite"], "CABINET DES LILAS");
    assert_eq!(u["SubjectOrganization"], "CABINET DES LILAS");
    assert_eq!(u["email"], "eric.guignard@medecin.mssante.fr");
    let lefevre = login_userinfo(&s, LEFEVRE).await.expect("login");
    assert_eq!(lefevre["codeCivilite"], "MME");
    assert_eq!(lefevre["SubjectRole"][0], "21^1.2.250.1.213.1.1.5.5");

    // Nothing changed: an increment writes nothing.
    let idle = sync.pass(false).await.expect("increment");
    assert!(!idle.full);
    assert_eq!(
        (idle.added, idle.updated, idle.deactivated),
        (0, 0, 0),
        "{idle:?}"
    );

    // A contact change (a new MSSanté extract) reaches the identity with a full resync, as
    // the admin listener's `POST /directory/resync` runs it.
    import(
        &store,
        "Extraction_Correspondance_MSSante_202601020000.txt",
        mssante_file(GUIGNARD, "e.guignard@chu.mssante.fr"),
        now - 90,
    )
    .await;
    let resync = sync.pass(true).await.expect("resync");
    assert!(resync.full);
    assert_eq!((resync.updated, resync.deactivated), (1, 0), "{resync:?}");
    let i = p
        .identity("edit", GUIGNARD)
        .await
        .unwrap()
        .expect("identity");
    assert_eq!(i.email.as_deref(), Some("e.guignard@chu.mssante.fr"));
    assert!(
        p.identity("edit", NATIONAL_ID)
            .await
            .unwrap()
            .expect("test identity")
            .active,
        "a full resync leaves the realm's own identities alone"
    );

    // A new complete extract without GUIGNARD: once synced, the login is refused.
    import(
        &store,
        "PS_LibreAcces_Personne_activite_202601030000.txt",
        pa_file(&[pa_row(LEFEVRE, "MME", "LEFEVRE", "HELENE", "21")]),
        now - 80,
    )
    .await;
    assert!(login_userinfo(&s, GUIGNARD).await.is_ok(), "not synced yet");
    let gone = sync.pass(false).await.expect("increment");
    assert!(!gone.full);
    assert_eq!(gone.deactivated, 1, "{gone:?}");
    assert_eq!(login_userinfo(&s, GUIGNARD).await.unwrap_err(), 403);
    assert!(login_userinfo(&s, LEFEVRE).await.is_ok());

    // The directory stopped: the sync fails, logins of synced professionals go on.
    serving.abort();
    let _ = serving.await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = sync.pass(false).await.expect_err("the directory is down");
    let why = format!("{err:#}");
    assert!(why.contains("directory"), "{why}");
    let secret = std::fs::read_to_string(s.dir.path().join("keys/identity-sync-client-secret"))
        .expect("secret");
    assert!(!why.contains(secret.trim()), "no secret in errors");
    let u = login_userinfo(&s, LEFEVRE)
        .await
        .expect("login while the directory is down");
    assert_eq!(u["SubjectNameID"], LEFEVRE);
    assert_eq!(SYNC_CLIENT_ID, "identity-sync");
});

/// `coeur serve` with the directory on (and the main listener's certificate self-issued, the
/// directory reading the realm's JWKS and the sync its tokens over it): the sandbox realm's
/// identities come from the directory, and the admin listener's resync runs a full pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coeur_serve_syncs_the_sandbox_realm_from_its_directory() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let w = tempfile::tempdir().expect("dir");
    let (listen, card, directory, admin) = (free_addr(), free_addr(), free_addr(), free_addr());
    let _server = ServeChild(
        serve_command(
            w.path(),
            env!("CARGO_BIN_EXE_coeur"),
            &["serve"],
            (&listen, &card),
        )
        .env_remove("COEUR_NO_DIRECTORY")
        .env("COEUR_DIRECTORY_LISTEN", &directory)
        .env("COEUR_DIRECTORY_GENERATE_PROFESSIONALS", "20")
        .env("COEUR_DIRECTORY_GENERATE_STRUCTURES", "5")
        .env("COEUR_TLS_SELF_ISSUED", "true")
        .env("COEUR_ADMIN_LISTEN", &admin)
        .spawn()
        .expect("coeur binary"),
    );
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..600 {
        if http
            .get(format!("http://{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "not ready:\n{}", server_log(w.path()));

    let r = http
        .post(format!("http://{admin}/directory/resync"))
        .send()
        .await
        .expect("resync");
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    assert_eq!(status, 200, "{body}\n{}", server_log(w.path()));
    let pass: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(pass["full"], true);
    assert_eq!(pass["read"], 20, "{pass}");
    assert_eq!(pass["refused"], 0, "{pass}");
    let taken = ["added", "updated", "unchanged"]
        .iter()
        .map(|k| pass[k].as_u64().expect("count"))
        .sum::<u64>();
    assert_eq!(
        taken, 20,
        "every professional is an identity of the realm: {pass}"
    );
    let log = server_log(w.path());
    assert!(!log.contains("directory sync failed"), "{log}");
    let secret = std::fs::read_to_string(w.path().join("keys/identity-sync-client-secret"))
        .expect("the sync's secret file");
    assert!(!log.contains(secret.trim()), "the secret is logged");
}

both_dbs!(
    identities_come_from_a_directory_run_elsewhere,
    |db| async move {
        // The provider's pods of a deployment where the directory has its own (`coeur serve` with
        // --directory-url): nothing served here, the clients registered, the sync reading the
        // directory at its URL.
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let elsewhere = DirectoryConfig {
            listen: "127.0.0.1:1".parse().unwrap(),
            public_url: "https://annuaire.example.org".into(),
            database_url: "sqlite://nowhere/never-opened.db".into(),
            realm: "edit".into(),
            audiences: vec![],
            generate_professionals: 500,
            generate_structures: 50,
            sync_interval: Some(Duration::from_secs(30)),
            elsewhere: Some(format!("http://{addr}")),
        };
        assert_eq!(elsewhere.api_url(), format!("http://{addr}"));
        let mut provider_side = DirectoryServer::open(&s.app, &elsewhere, &[])
            .await
            .expect("the directory elsewhere");
        assert!(!provider_side.served_here());
        assert!(provider_side.generated.is_none(), "nothing generated here");
        let sync = provider_side.sync.take().expect("the sync is on");
        assert_eq!(sync.settings().directory_url, format!("http://{addr}"));
        let realm = s.state.realm("edit").expect("realm").realm.clone();
        let clients = coeur::provider::clients::list_clients(&s.state.store, &realm)
            .await
            .expect("clients");
        let annuaire = clients
            .iter()
            .find(|c| c.client_id == coeur::directory::CLIENT_ID)
            .expect("the directory's client is registered");
        assert_eq!(
            annuaire.redirect_uris,
            ["https://annuaire.example.org/espace/retour"],
            "its space's redirect URI is under its public URL"
        );
        assert!(clients.iter().any(|c| c.client_id == SYNC_CLIENT_ID));
        // Serving nothing, it returns at once.
        let idle = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), provider_side.serve(&s.app, idle))
            .await
            .expect("nothing to serve");

        // The directory itself, at that address, accepting the sync's tokens.
        let database_url = match db {
            Db::Sqlite => format!("sqlite://{}/annuaire.db", s.dir.path().display()),
            Db::Postgres => coeur_testkit::pg::new_database_url().await,
        };
        let directory = DirectoryConfig {
            listen: addr,
            public_url: format!("http://{addr}"),
            database_url: database_url.clone(),
            generate_professionals: 0,
            generate_structures: 0,
            sync_interval: None,
            elsewhere: None,
            audiences: vec![SYNC_CLIENT_ID.into()],
            ..elsewhere.clone()
        };
        let server = DirectoryServer::open(&s.app, &directory, &[])
            .await
            .expect("directory");
        let app = s.app.clone();
        let serving = tokio::spawn(async move { server.serve(&app, listener).await });
        let store = Store::connect(&database_url).await.expect("store");
        import(
            &store,
            "PS_LibreAcces_Personne_activite_202601010000.txt",
            pa_file(&[pa_row(GUIGNARD, "M", "GUIGNARD", "ERIC", "10")]),
            s.clock.now() - 100,
        )
        .await;

        assert_eq!(login_userinfo(&s, GUIGNARD).await.unwrap_err(), 400);
        let first = sync.pass(false).await.expect("first pass");
        assert_eq!((first.read, first.added), (1, 1), "{first:?}");
        let u = login_userinfo(&s, GUIGNARD).await.expect("login");
        assert_eq!(u["SubjectNameID"], GUIGNARD);
        serving.abort();
    }
);
