//! Throwaway OpenLDAP `slapd` servers for the LDAP publication tests.
//!
//! [`Slapd::start`] writes a `slapd.conf` (the Debian schemas of `/etc/ldap/schema`: core,
//! cosine, inetorgperson; one mdb database with suffix [`SUFFIX`], root DN [`ROOT_DN`] and
//! password [`ROOT_PW`]) into a fresh temporary directory and runs `slapd` in the foreground on
//! a free port of 127.0.0.1. The suffix entry itself is not created: coeur creates missing
//! parents. [`Slapd::kill`] and [`Slapd::restart`] simulate an outage (same port, same data).
//!
//! Dropping the handle kills the server and removes the directory; a detached shell watchdog
//! does the same once the test process is gone, in case it dies without unwinding (the pid is
//! read from the server's pid file, so restarts are covered).
//!
//! Binaries: `$COEUR_SLAPD` or `/usr/sbin/slapd`; `ldapsearch` from `PATH` (package
//! `ldap-utils`). scripts/test.sh installs both.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The database suffix (and the base DN the tests configure).
pub const SUFFIX: &str = "dc=coeur,dc=test";
/// The root DN.
pub const ROOT_DN: &str = "cn=admin,dc=coeur,dc=test";
/// Its password.
pub const ROOT_PW: &str = "slapd-test-password";

const MISSING_HINT: &str = "install slapd and ldap-utils: scripts/test.sh does it \
     (or set COEUR_SLAPD to the slapd binary)";

/// A running throwaway slapd.
pub struct Slapd {
    /// `ldap://127.0.0.1:<port>`.
    pub url: String,
    /// Its port.
    pub port: u16,
    root: PathBuf,
    child: Mutex<Option<Child>>,
}

fn slapd_bin() -> PathBuf {
    std::env::var_os("COEUR_SLAPD")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/slapd"))
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn module_dir() -> Option<&'static str> {
    [
        "/usr/lib/ldap",
        "/usr/lib/x86_64-linux-gnu/ldap",
        "/usr/lib64/openldap",
    ]
    .into_iter()
    .find(|d| {
        Path::new(d).join("back_mdb.la").exists() || Path::new(d).join("back_mdb.so").exists()
    })
}

impl Slapd {
    /// Starts a server; panics with an explanation when slapd is missing or does not start.
    pub fn start() -> Self {
        let bin = slapd_bin();
        assert!(bin.is_file(), "{} not found: {MISSING_HINT}", bin.display());
        assert!(
            Path::new("/etc/ldap/schema/core.schema").is_file(),
            "/etc/ldap/schema/core.schema not found: {MISSING_HINT}"
        );
        let root = tempfile::Builder::new()
            .prefix("coeur-slapd-")
            .tempdir()
            .expect("temp dir")
            .keep();
        std::fs::create_dir_all(root.join("db")).expect("db dir");
        let modules = module_dir()
            .map(|d| format!("modulepath {d}\nmoduleload back_mdb\n"))
            .unwrap_or_default();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             pidfile {r}/slapd.pid\n\
             argsfile {r}/slapd.args\n\
             {modules}\
             sizelimit unlimited\n\
             sockbuf_max_incoming_auth 67108863\n\
             database mdb\n\
             maxsize 2147483648\n\
             suffix \"{SUFFIX}\"\n\
             rootdn \"{ROOT_DN}\"\n\
             rootpw {ROOT_PW}\n\
             directory {r}/db\n\
             dbnosync\n\
             index objectClass eq\n",
            r = root.display()
        );
        std::fs::write(root.join("slapd.conf"), conf).expect("slapd.conf");
        spawn_watchdog(&root);
        let mut s = Slapd {
            url: String::new(),
            port: 0,
            root,
            child: Mutex::new(None),
        };
        let mut last = String::new();
        for _ in 0..5 {
            s.port = free_port();
            s.url = format!("ldap://127.0.0.1:{}", s.port);
            match s.launch() {
                Ok(()) => return s,
                Err(e) => last = e,
            }
        }
        panic!("slapd did not start: {last}");
    }

    fn launch(&self) -> Result<(), String> {
        let log = std::fs::File::create(self.root.join("slapd.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(slapd_bin())
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{}/", self.port))
            .arg("-f")
            .arg(self.root.join("slapd.conf"))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}; {MISSING_HINT}", slapd_bin().display()))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.root.join("slapd.log")).unwrap_or_default();
                return Err(format!("slapd exited ({status}):\n{log}"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("slapd did not listen within 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *self.child.lock().expect("lock") = Some(child);
        Ok(())
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().expect("lock").take() {
            let _ = c.kill();
            let _ = c.wait();
            // The watchdog must never signal a recycled pid.
            let _ = std::fs::remove_file(self.root.join("slapd.pid"));
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&self) {
        self.kill();
        let mut last = String::new();
        for _ in 0..50 {
            match self.launch() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("slapd did not restart: {last}");
    }

    /// Runs `ldapsearch` (simple bind as the root DN) and returns its LDIF output.
    pub fn ldapsearch(&self, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> String {
        let out = Command::new("ldapsearch")
            .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H", &self.url])
            .args([
                "-D", ROOT_DN, "-w", ROOT_PW, "-b", base, "-s", scope, filter,
            ])
            .args(attrs)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run ldapsearch: {e}; {MISSING_HINT}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // 32: no such object — an empty answer.
        assert!(
            out.status.success() || out.status.code() == Some(32),
            "ldapsearch -b {base} {filter} failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// The values of `attr` in `ldapsearch` LDIF output (base64 values decoded).
    pub fn ldif_values(ldif: &str, attr: &str) -> Vec<Vec<u8>> {
        use base64::Engine as _;
        let lower = attr.to_ascii_lowercase();
        ldif.lines()
            .filter_map(|l| {
                let (name, rest) = l.split_once(':')?;
                if name.to_ascii_lowercase() != lower {
                    return None;
                }
                match rest.strip_prefix(':') {
                    Some(b64) => base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .ok(),
                    None => Some(rest.trim().as_bytes().to_vec()),
                }
            })
            .collect()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn spawn_watchdog(root: &Path) {
    // $1 = pid to watch, $2 = directory (pid file inside, removed at the end).
    const SCRIPT: &str = r#"
pid=$1; dir=$2
while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
if [ -f "$dir/slapd.pid" ]; then kill -9 "$(cat "$dir/slapd.pid")" 2>/dev/null; fi
rm -rf "$dir"
"#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("coeur-slapd-watchdog")
        .arg(std::process::id().to_string())
        .arg(root)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}
