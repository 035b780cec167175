//! The `coeur client` commands.

use super::*;

fn coeur_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let db = format!("sqlite://{}/cli.db", dir.display());
    let keys = dir.join("keys");
    let realms = realms_dir();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_coeur"));
    for (k, _) in std::env::vars() {
        if k.starts_with("COEUR_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("COEUR_LOG", "error")
        .arg("--database-url")
        .arg(&db)
        .arg("--keys-dir")
        .arg(&keys)
        .arg("--realms-dir")
        .arg(&realms)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run coeur")
}

fn cli_add(dir: &std::path::Path, id: &str, secret: &str) -> std::process::Output {
    coeur_cli(
        dir,
        &[
            "client",
            "add",
            "--realm",
            "edit",
            "--client-id",
            id,
            "--redirect-uri",
            REDIRECT,
            "--secret",
            secret,
        ],
    )
}

#[test]
fn cli_client_add_list_remove() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let list = || {
        let out = coeur_cli(dir, &["client", "list", "--realm", "edit"]);
        assert!(out.status.success(), "list: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };

    // A short secret is refused, clearly, and nothing is stored.
    let out = cli_add(dir, "cli-rp", &"s".repeat(MIN_SECRET_LEN - 1));
    assert!(!out.status.success(), "short secret accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("at least {MIN_SECRET_LEN} characters")),
        "unclear message: {err}"
    );
    assert!(!list().contains("cli-rp"), "refused client listed");

    // A client of the realm file cannot be shadowed.
    let out = cli_add(dir, "demo-rp", SECRET);
    assert!(!out.status.success(), "realm-file client redefined");
    assert!(String::from_utf8_lossy(&out.stderr).contains("realm file"));

    // add, list, remove.
    let out = cli_add(dir, "cli-rp", SECRET);
    assert!(out.status.success(), "add: {out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("registration JSON");
    assert_eq!(printed["client_id"], "cli-rp");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(SECRET),
        "a given secret is not echoed"
    );
    let listed = list();
    assert!(listed.contains("cli-rp\t(database)"), "{listed}");
    assert!(listed.contains("demo-rp\t(realm file)"), "{listed}");
    let remove = [
        "client",
        "remove",
        "--realm",
        "edit",
        "--client-id",
        "cli-rp",
    ];
    let out = coeur_cli(dir, &remove);
    assert!(out.status.success(), "remove: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed cli-rp"));
    assert!(!list().contains("cli-rp"), "removed client still listed");
    let out = coeur_cli(dir, &remove);
    assert!(!out.status.success(), "second remove succeeded");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client cli-rp"));
}

#[test]
fn cli_client_add_registers_back_channel_logout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let add = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "client",
            "add",
            "--realm",
            "edit",
            "--client-id",
            id,
            "--redirect-uri",
            REDIRECT,
            "--secret",
            SECRET,
        ];
        args.extend_from_slice(extra);
        coeur_cli(dir, &args)
    };
    let out = add(
        "bcl-cli",
        &[
            "--backchannel-logout-uri",
            "https://rp.example/logout/backchannel",
            "--backchannel-logout-session-required",
        ],
    );
    assert!(out.status.success(), "add: {out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("registration JSON");
    assert_eq!(
        printed["backchannel_logout_uri"],
        "https://rp.example/logout/backchannel"
    );
    assert_eq!(printed["backchannel_logout_session_required"], true);

    // A URI coeur would post to in clear off loopback, or with a fragment, is refused, and
    // nothing is stored.
    for bad in ["http://rp.example/bcl", "https://rp.example/bcl#x"] {
        let out = add("bcl-bad", &["--backchannel-logout-uri", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("backchannel_logout_uri"), "{bad}: {err}");
    }
    let out = add("bcl-bad", &["--backchannel-logout-session-required"]);
    assert!(!out.status.success(), "session required without a URI");
    let out = coeur_cli(dir, &["client", "list", "--realm", "edit"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("bcl-cli") && !listed.contains("bcl-bad"),
        "{listed}"
    );
}
