//! Throwaway Apache httpd servers with mod_auth_openidc, as relying parties of a test server.
//!
//! [`Apache::start`] writes an `httpd.conf` into a fresh temporary directory (the modules of
//! `/usr/lib/apache2/modules`, a file `/protected/hello.txt` behind `AuthType openid-connect`,
//! mod_auth_openidc configured with `OIDCProviderMetadataURL` and the settings given) and runs
//! `apache2 -X` (one process) in the foreground on a free port of 127.0.0.1. Its access log
//! (`"%r" %>s`) and error log (mod_auth_openidc at debug level) are read with
//! [`Apache::access_log`] and [`Apache::error_log`].
//!
//! Dropping the handle kills the server and removes the directory; a detached shell watchdog
//! does the same once the test process is gone, in case it dies without unwinding.
//!
//! Binaries: `$COEUR_APACHE2` or `/usr/sbin/apache2`, modules from `/usr/lib/apache2/modules`
//! (packages `apache2` and `libapache2-mod-auth-openidc`). scripts/test.sh installs them.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MODULES: &str = "/usr/lib/apache2/modules";

const MISSING_HINT: &str = "install apache2 and libapache2-mod-auth-openidc: scripts/test.sh \
     does it (or set COEUR_APACHE2 to the apache2 binary)";

/// How mod_auth_openidc is configured: the values of its directives.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `OIDCProviderMetadataURL`.
    pub metadata_url: String,
    /// `OIDCClientID`.
    pub client_id: String,
    /// `OIDCClientSecret`.
    pub client_secret: String,
    /// `OIDCProviderTokenEndpointAuth`.
    pub token_endpoint_auth: String,
    /// `OIDCScope`.
    pub scope: String,
}

/// A running throwaway Apache httpd.
pub struct Apache {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    root: PathBuf,
    child: Option<Child>,
}

fn apache_bin() -> PathBuf {
    std::env::var_os("COEUR_APACHE2")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/apache2"))
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The `OIDCRedirectURI` of a server at `base`: mod_auth_openidc's own endpoint, which also
/// takes Logout Tokens with `?logout=backchannel`.
pub fn redirect_uri(base: &str) -> String {
    format!("{base}/protected/redirect_uri")
}

impl Apache {
    /// A port for [`Apache::start_on`], free now: the relying party's redirect URI must be
    /// registered before the server starts (mod_auth_openidc reads the provider at start).
    pub fn reserve_port() -> u16 {
        free_port()
    }

    /// Starts a server on `port`; panics with an explanation when Apache or mod_auth_openidc
    /// is missing or the server does not start.
    pub fn start_on(port: u16, oidc: &OidcSettings) -> Self {
        let bin = apache_bin();
        assert!(bin.is_file(), "{} not found: {MISSING_HINT}", bin.display());
        assert!(
            Path::new(MODULES).join("mod_auth_openidc.so").is_file(),
            "{MODULES}/mod_auth_openidc.so not found: {MISSING_HINT}"
        );
        let root = tempfile::Builder::new()
            .prefix("coeur-apache-")
            .tempdir()
            .expect("temp dir")
            .keep();
        // Run as root, httpd serves as www-data: it must read the document root.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir_all(root.join("htdocs/protected")).expect("htdocs");
        std::fs::write(root.join("htdocs/protected/hello.txt"), "hello\n").expect("hello.txt");
        let base = format!("http://127.0.0.1:{port}");
        std::fs::write(root.join("httpd.conf"), config(&root, port, &base, oidc))
            .expect("httpd.conf");
        spawn_watchdog(&root);
        let mut a = Apache {
            base,
            root,
            child: None,
        };
        a.launch(port)
            .unwrap_or_else(|e| panic!("apache2 did not start: {e}"));
        a
    }

    fn launch(&mut self, port: u16) -> Result<(), String> {
        let mut child = Command::new(apache_bin())
            .arg("-X")
            .arg("-f")
            .arg(self.root.join("httpd.conf"))
            .arg("-d")
            .arg(&self.root)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}; {MISSING_HINT}", apache_bin().display()))?;
        let _ = std::fs::write(self.root.join("apache2.child"), child.id().to_string());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("apache2 exited ({status}):\n{}", self.error_log()));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "apache2 did not listen within 15 s:\n{}",
                    self.error_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    /// The access log: one `"<request line>" <status>` a line.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.root.join("access.log")).unwrap_or_default()
    }

    /// The error log (mod_auth_openidc at debug level).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.join("error.log")).unwrap_or_default()
    }
}

fn config(root: &Path, port: u16, base: &str, oidc: &OidcSettings) -> String {
    let r = root.display();
    let redirect = redirect_uri(base);
    let modules = [
        "mpm_event",
        "authn_core",
        "authz_core",
        "authz_user",
        "auth_openidc",
    ]
    .iter()
    .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so\n"))
    .collect::<String>();
    // One fresh passphrase per server: it encrypts mod_auth_openidc's state and sessions.
    let passphrase = format!("coeur-test-{}-{port}", std::process::id());
    format!(
        "{modules}\
         ServerName 127.0.0.1\n\
         Listen 127.0.0.1:{port}\n\
         User www-data\n\
         Group www-data\n\
         PidFile {r}/apache2.pid\n\
         DefaultRuntimeDir {r}\n\
         ErrorLog {r}/error.log\n\
         LogLevel warn auth_openidc:debug\n\
         LogFormat \"\\\"%r\\\" %>s\" coeur\n\
         CustomLog {r}/access.log coeur\n\
         DocumentRoot {r}/htdocs\n\
         OIDCProviderMetadataURL {metadata}\n\
         OIDCClientID {client_id}\n\
         OIDCClientSecret {secret}\n\
         OIDCProviderTokenEndpointAuth {auth}\n\
         OIDCRedirectURI {redirect}\n\
         OIDCScope \"{scope}\"\n\
         OIDCCryptoPassphrase {passphrase}\n\
         <Location /protected>\n\
         \x20 AuthType openid-connect\n\
         \x20 Require valid-user\n\
         </Location>\n",
        metadata = oidc.metadata_url,
        client_id = oidc.client_id,
        secret = oidc.client_secret,
        auth = oidc.token_endpoint_auth,
        scope = oidc.scope,
    )
}

impl Drop for Apache {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn spawn_watchdog(root: &Path) {
    // $1 = pid to watch, $2 = directory (the server's pid inside, removed at the end).
    const SCRIPT: &str = r#"
pid=$1; dir=$2
while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
if [ -f "$dir/apache2.child" ]; then kill -9 "$(cat "$dir/apache2.child")" 2>/dev/null; fi
rm -rf "$dir"
"#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("coeur-apache-watchdog")
        .arg(std::process::id().to_string())
        .arg(root)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}
