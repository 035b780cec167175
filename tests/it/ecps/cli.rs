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
    ok(&ecps(&file, &["approve", &id]).await, "approve");
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
