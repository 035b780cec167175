//! `coeur ecps`, the command-line authenticator, end to end: enrolled with the code the card
//! listener shows, it lists, approves and denies wallet logins, then revokes itself.

use super::*;
use std::process::{Output, Stdio};
use tokio::process::Command;

/// Runs `coeur ecps` with the device file `file`.
pub(crate) async fn ecps(file: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coeur"))
        .arg("ecps")
        .arg("--key-file")
        .arg(file)
        .args(args)
        .env_remove("COEUR_CONFIG")
        .env_remove("COEUR_ECPS_KEY_FILE")
        .env("COEUR_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("coeur binary")
}

pub(crate) fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

both_dbs!(ecps_cli_enrols_approves_denies_revokes, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("device.json");
    let code = activation_code(&s, &me(&s).await).await;
    let enrol = [
        "enrol", "--server", &s.base, "--realm", "edit", "--code", &code, "--name", "cli",
    ];
    let out = ok(&ecps(&file, &enrol).await, "enrol");
    assert!(out.starts_with("enrolled: device "), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the device file is its owner's only");
    }
    // Enrolling again over the same file is refused, the file kept.
    let before = std::fs::read_to_string(&file).unwrap();
    let again = ecps(&file, &enrol).await;
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    let id = request_of(&waiting);
    let listed = ok(&ecps(&file, &["list"]).await, "list");
    assert!(
        listed.contains(&id) && listed.contains("client rp"),
        "{listed}"
    );
    ok(&ecps(&file, &["approve", "--", &id]).await, "approve");
    let (status, cb) = check(&b, &waiting).await;
    assert_eq!(status, 303, "{cb}");
    let cb = url::Url::parse(&cb).unwrap();
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").unwrap()).await;
    let c = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(c["authMode"], "MOBILE", "{c}");

    // Nothing pending: approving names nothing.
    assert!(!ecps(&file, &["approve"]).await.status.success());
    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    ok(&ecps(&file, &["deny", "--all"]).await, "deny");
    let (_, html) = check(&b, &waiting).await;
    assert!(html.contains(&fr("ecps.wait.denied")), "{html}");

    let devices = ok(&ecps(&file, &["devices"]).await, "devices");
    assert!(devices.contains("cli\tactive\t(this device)"), "{devices}");
    ok(&ecps(&file, &["revoke"]).await, "revoke");
    let after = ecps(&file, &["list"]).await;
    assert!(!after.status.success());
    assert!(text(&after).contains("invalid_token"), "{}", text(&after));
});

/// The audit records of `action`: (subject, details).
async fn audited(s: &TestServer, action: &str) -> Vec<(String, String)> {
    use sqlx::Row as _;
    sqlx::query("SELECT subject, details FROM audit_log WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(s.state.store.db().pool())
        .await
        .expect("audit")
        .iter()
        .map(|r| (r.get("subject"), r.get("details")))
        .collect()
}

both_dbs!(operators_list_and_revoke_devices, |db| async move {
    let s = TestServer::start(db).await;
    let me = me(&s).await;
    let phone = enrolled(&s, &me).await;
    let tablet = enrolled(&s, &me).await;
    let passkey = coeur::provider::store::NewPasskey {
        credential_id: "cred-1",
        national_id: NATIONAL_ID,
        name: "portable",
        public_key: "BAAA",
        sign_count: 0,
        created_at: s.state.now(),
    };
    assert!(
        s.state
            .store
            .create_passkey("edit", &passkey)
            .await
            .unwrap()
    );

    let list = ok(
        &coeur_cli(
            &s,
            &[
                "device",
                "list",
                "--realm",
                "edit",
                "--national-id",
                NATIONAL_ID,
            ],
        )
        .await,
        "device list",
    );
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    // Devices first (oldest first, then by id), then passkeys.
    for d in [&phone, &tablet] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("ecps\t{}\t", d.id)));
        assert!(line.is_some_and(|l| l.ends_with("\tactive")), "{list}");
    }
    assert!(
        lines[2].starts_with("passkey\tcred-1\tportable\t"),
        "{list}"
    );

    // One device revoked: it can no longer call the API; the other still can.
    let o = coeur_cli(
        &s,
        &[
            "device",
            "revoke",
            "--realm",
            "edit",
            // An id may begin with "-": given with "=", it is never read as an option.
            &format!("--device-id={}", phone.id),
        ],
    )
    .await;
    ok(&o, "device revoke");
    assert_eq!(phone.get(&s, "requests").await.status().as_u16(), 401);
    assert_eq!(tablet.get(&s, "requests").await.status().as_u16(), 200);
    let o = coeur_cli(
        &s,
        &[
            "device",
            "revoke",
            "--realm",
            "edit",
            // An id may begin with "-": given with "=", it is never read as an option.
            &format!("--device-id={}", phone.id),
        ],
    )
    .await;
    assert!(!o.status.success(), "already revoked");
    let o = coeur_cli(
        &s,
        &["device", "revoke", "--realm", "edit", "--device-id", "nope"],
    )
    .await;
    assert!(!o.status.success(), "unknown device");
    let o = coeur_cli(&s, &["device", "revoke", "--realm", "edit"]).await;
    assert!(!o.status.success(), "nothing named");

    // Everything of the professional.
    let o = coeur_cli(
        &s,
        &[
            "device",
            "revoke",
            "--realm",
            "edit",
            "--all",
            "--national-id",
            NATIONAL_ID,
        ],
    )
    .await;
    assert!(ok(&o, "revoke --all").contains("revoked 1 e-CPS device(s) and removed 1 passkey(s)"));
    assert_eq!(tablet.get(&s, "requests").await.status().as_u16(), 401);
    assert!(
        s.state
            .store
            .passkeys("edit", NATIONAL_ID)
            .await
            .unwrap()
            .is_empty()
    );
    let list = ok(
        &coeur_cli(
            &s,
            &[
                "device",
                "list",
                "--realm",
                "edit",
                "--national-id",
                NATIONAL_ID,
            ],
        )
        .await,
        "device list",
    );
    assert_eq!(
        list.lines().filter(|l| l.ends_with("\trevoked")).count(),
        2,
        "{list}"
    );

    let revoked = audited(&s, "ecps.revoke").await;
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert_eq!(revoked[0].0, format!("edit/{}", phone.id));
    assert!(revoked[0].1.contains(NATIONAL_ID));
    assert_eq!(audited(&s, "passkey.remove").await.len(), 1);
    ok(&coeur_cli(&s, &["audit", "verify"]).await, "audit verify");
});
