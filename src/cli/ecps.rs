//! `coeur ecps`: an e-CPS authenticator on the command line (the sandbox's "e-CPS BAS", and
//! the tests' driver). It enrols as a device with an activation code, keeps its P-256 key,
//! device id and credential in a file only its owner may read, and answers requests over the
//! device API, signing each decision itself.

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use coeur::oauth::ecps::{Challenge, Decision};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The device file's default name.
const DEFAULT_KEY_FILE: &str = "coeur-ecps.json";

/// An e-CPS authenticator (sandbox): enrol, then answer requests.
#[derive(Args)]
pub struct EcpsCmd {
    /// The device file (key, device id, credential), created readable by its owner only.
    #[arg(long, global = true, env = "COEUR_ECPS_KEY_FILE", default_value = DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// A PEM file of CA certificates to trust for the server (e.g. coeur's TEST root).
    #[arg(long, global = true)]
    ca_file: Option<PathBuf>,
    #[command(subcommand)]
    cmd: EcpsSub,
}

#[derive(Subcommand)]
enum EcpsSub {
    /// Enrol this authenticator with an activation code (shown after presenting the card on
    /// `…/ecps/enrol` of the card listener), or with the code received by e-mail and the one
    /// received by SMS (`--code` and `--second-code`, after asking for them on
    /// `…/ecps/activations`); makes the device's P-256 key.
    Enrol {
        /// The server's public URL (its main listener).
        #[arg(long)]
        server: String,
        /// The realm.
        #[arg(long)]
        realm: String,
        /// The activation code (the card's, or the one received by e-mail). It may begin with
        /// `-`, like any base64url text.
        #[arg(long, allow_hyphen_values = true)]
        code: String,
        /// The confirmation code received by SMS, with an e-mail's activation code.
        #[arg(long, allow_hyphen_values = true)]
        second_code: Option<String>,
        /// The device's name, as the professional's device list shows it.
        #[arg(long)]
        name: String,
    },
    /// The requests awaiting the professional.
    List,
    /// Approve a request (the only one pending if no id is given).
    Approve(Which),
    /// Deny a request (the only one pending if no id is given).
    Deny(Which),
    /// The professional's devices.
    Devices,
    /// Revoke this device.
    Revoke,
}

#[derive(Args)]
struct Which {
    /// The request's id.
    request_id: Option<String>,
    /// Every pending request.
    #[arg(long, conflicts_with = "request_id")]
    all: bool,
}

/// What the device file holds.
#[derive(Serialize, Deserialize)]
struct DeviceFile {
    server: String,
    realm: String,
    device_id: String,
    credential: String,
    /// PKCS#8 (base64url).
    private_key: String,
    expires_at: i64,
}

/// Runs an `ecps` command.
pub async fn run(c: EcpsCmd) -> Result<()> {
    let http = client(c.ca_file.as_deref())?;
    match c.cmd {
        EcpsSub::Enrol {
            server,
            realm,
            code,
            second_code,
            name,
        } => {
            let codes = (code.as_str(), second_code.as_deref());
            enrol(&http, &c.key_file, &server, &realm, codes, &name).await
        }
        EcpsSub::List => {
            let d = load(&c.key_file)?;
            for r in pending(&http, &d).await? {
                println!("{}", describe(&r));
            }
            Ok(())
        }
        EcpsSub::Approve(w) => decide(&http, &c.key_file, &w, Decision::Approve).await,
        EcpsSub::Deny(w) => decide(&http, &c.key_file, &w, Decision::Deny).await,
        EcpsSub::Devices => {
            let d = load(&c.key_file)?;
            let v = call(http.get(url(&d, "devices")).bearer_auth(&d.credential)).await?;
            for dev in v["devices"].as_array().into_iter().flatten() {
                println!(
                    "{}\t{}\t{}{}",
                    dev["device_id"].as_str().unwrap_or_default(),
                    dev["name"].as_str().unwrap_or_default(),
                    if dev["active"] == true {
                        "active"
                    } else {
                        "inactive"
                    },
                    if dev["this_device"] == true {
                        "\t(this device)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        EcpsSub::Revoke => {
            let d = load(&c.key_file)?;
            call(
                http.post(url(&d, "devices/revoke"))
                    .bearer_auth(&d.credential),
            )
            .await?;
            println!("device {} revoked", d.device_id);
            Ok(())
        }
    }
}

fn client(ca_file: Option<&Path>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30));
    if let Some(f) = ca_file {
        let pem = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        for c in reqwest::Certificate::from_pem_bundle(&pem)? {
            b = b.add_root_certificate(c);
        }
    }
    Ok(b.build()?)
}

fn url(d: &DeviceFile, path: &str) -> String {
    format!(
        "{}/auth/realms/{}/ecps/{path}",
        d.server.trim_end_matches('/'),
        d.realm
    )
}

/// Sends a request: its JSON answer, or the server's error as an error.
async fn call(req: reqwest::RequestBuilder) -> Result<Value> {
    let r = req.send().await.context("reaching the server")?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "{status}: {} ({})",
            v["error"].as_str().unwrap_or("error"),
            v["error_description"].as_str().unwrap_or("no description")
        );
    }
    Ok(v)
}

async fn enrol(
    http: &reqwest::Client,
    file: &Path,
    server: &str,
    realm: &str,
    (code, second_code): (&str, Option<&str>),
    name: &str,
) -> Result<()> {
    if file.exists() {
        bail!(
            "{} exists: this authenticator is enrolled already (revoke it, or give another --key-file)",
            file.display()
        );
    }
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow!("cannot make a P-256 key"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|_| anyhow!("cannot read the P-256 key"))?;
    let mut d = DeviceFile {
        server: server.trim_end_matches('/').to_owned(),
        realm: realm.to_owned(),
        device_id: String::new(),
        credential: String::new(),
        private_key: URL_SAFE_NO_PAD.encode(pkcs8.as_ref()),
        expires_at: 0,
    };
    let mut body = json!({
        "activation_code": code,
        "public_key": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        "name": name,
    });
    if let Some(second) = second_code {
        body["second_code"] = second.into();
    }
    let v = call(http.post(url(&d, "devices")).json(&body)).await?;
    d.device_id = v["device_id"].as_str().unwrap_or_default().to_owned();
    d.credential = v["credential"].as_str().unwrap_or_default().to_owned();
    d.expires_at = v["expires_at"].as_i64().unwrap_or_default();
    save(file, &d)?;
    println!(
        "enrolled: device {} (key in {})",
        d.device_id,
        file.display()
    );
    Ok(())
}

/// Writes the device file, readable and writable by its owner only, never over another.
fn save(file: &Path, d: &DeviceFile) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(file)
        .with_context(|| format!("creating {}", file.display()))?;
    f.write_all(serde_json::to_string_pretty(d)?.as_bytes())?;
    Ok(())
}

fn load(file: &Path) -> Result<DeviceFile> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "reading {} (enrol first: coeur ecps enrol …)",
            file.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", file.display()))
}

async fn pending(http: &reqwest::Client, d: &DeviceFile) -> Result<Vec<Value>> {
    let v = call(http.get(url(d, "requests")).bearer_auth(&d.credential)).await?;
    Ok(v["requests"].as_array().cloned().unwrap_or_default())
}

fn describe(r: &Value) -> String {
    format!(
        "{}\tclient {}\tbinding message {}\tacr {}\texpires at {}",
        r["id"].as_str().unwrap_or_default(),
        r["client_id"].as_str().unwrap_or_default(),
        r["binding_message"].as_str().unwrap_or("-"),
        r["acr"].as_str().unwrap_or("-"),
        r["expires_at"]
    )
}

/// The challenge of `decision` on request `r`, rebuilt from its fields (the text signed is
/// the device's own, not one the server wrote).
fn signed_text(d: &DeviceFile, r: &Value, decision: Decision) -> Result<String> {
    let field = |k: &str| {
        r[k].as_str()
            .ok_or_else(|| anyhow!("the server's request lacks {k}"))
    };
    let c = Challenge {
        realm: &d.realm,
        request_id: field("id")?,
        decision,
        client_id: field("client_id")?,
        binding_message: r["binding_message"].as_str(),
        nonce: field("nonce")?,
        expires_at: r["expires_at"]
            .as_i64()
            .ok_or_else(|| anyhow!("the server's request lacks expires_at"))?,
    };
    Ok(c.signed_text()?)
}

async fn decide(http: &reqwest::Client, file: &Path, w: &Which, decision: Decision) -> Result<()> {
    let d = load(file)?;
    let pkcs8 = URL_SAFE_NO_PAD.decode(&d.private_key)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
        .map_err(|_| anyhow!("the key in {} is not a P-256 key", file.display()))?;
    let all = pending(http, &d).await?;
    let chosen: Vec<&Value> = match (&w.request_id, w.all) {
        (Some(id), _) => all.iter().filter(|r| r["id"] == id.as_str()).collect(),
        (None, true) => all.iter().collect(),
        (None, false) if all.len() <= 1 => all.iter().collect(),
        (None, false) => bail!(
            "{} requests are pending: name one, or --all:\n{}",
            all.len(),
            all.iter().map(describe).collect::<Vec<_>>().join("\n")
        ),
    };
    if chosen.is_empty() {
        bail!("no such request is pending");
    }
    for r in chosen {
        let text = signed_text(&d, r, decision)?;
        let sig = pair
            .sign(&SystemRandom::new(), text.as_bytes())
            .map_err(|_| anyhow!("cannot sign"))?;
        let id = r["id"].as_str().unwrap_or_default();
        let body = json!({ "decision": decision.as_str(), "signature": URL_SAFE_NO_PAD.encode(sig.as_ref()) });
        call(
            http.post(url(&d, &format!("requests/{id}")))
                .bearer_auth(&d.credential)
                .json(&body),
        )
        .await?;
        println!("{id}\t{}", decision.as_str());
    }
    Ok(())
}
