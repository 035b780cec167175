//! Throwaway PostgreSQL cluster for the integration tests.
//!
//! The first call to [`new_database_url`] in a test process starts one
//! private cluster (`initdb` + `pg_ctl start`) in a fresh temporary
//! directory, listening on a random free port of 127.0.0.1 with `trust`
//! authentication and durability turned off. Every call then creates a new,
//! empty database on it and returns its URL.
//!
//! The cluster start is synchronous (std only): each `#[tokio::test]` runs on
//! its own runtime, so nothing here may belong to one runtime.
//!
//! Statics are never dropped, so cleanup is done by a small detached shell
//! watchdog: once the test process is gone it stops the cluster
//! (`pg_ctl -m immediate stop`) and removes the directory.
//!
//! PostgreSQL refuses to run as root: when the tests run as uid 0, the server
//! tools run through `runuser -u postgres --` and the directory is handed over
//! to the `postgres` user (the Debian `postgresql` package creates it).
//!
//! Binaries are taken from `$COEUR_PG_BIN` if set, else from the newest
//! `/usr/lib/postgresql/*/bin`, else from `PATH`.

use std::fs;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Superuser of the throwaway cluster (also the OS user the server runs as
/// when the tests run as root).
const SUPERUSER: &str = "postgres";

const MISSING_HINT: &str = "install postgresql: scripts/test.sh does it \
     (or set COEUR_PG_BIN to the directory holding initdb, pg_ctl and postgres)";

/// Returns a `postgres://` URL to a brand-new empty database on the
/// throwaway cluster of this test process, starting the cluster on first use.
///
/// Panics with an explanation if PostgreSQL cannot be found or started.
pub async fn new_database_url() -> String {
    let cluster = cluster();
    let name = format!("t_{}", random_hex());
    cluster.psql(&format!("CREATE DATABASE {name}"));
    format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", cluster.port)
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn cluster() -> &'static Cluster {
    // A failed start is remembered, so every test fails fast with the same
    // message instead of trying initdb again.
    match CLUSTER.get_or_init(Cluster::start) {
        Ok(cluster) => cluster,
        Err(message) => panic!("throwaway PostgreSQL cluster: {message}"),
    }
}

/// A PostgreSQL cluster of one test's own, which the test may stop and start again (the
/// shared cluster of [`new_database_url`] must never be): listening on 127.0.0.1 and on
/// `extra_listen`, trusting `trusted` (a CIDR) besides the loopback. Stopped and removed
/// when dropped (and by the watchdog if the test process dies first).
pub struct Dedicated(Cluster);

impl Dedicated {
    /// Starts the cluster with extra `postgresql.conf` lines `conf`; panics with an
    /// explanation if it cannot.
    pub fn start(extra_listen: &[&str], trusted: Option<&str>, conf: &str) -> Self {
        let network = Network {
            extra_listen: extra_listen.iter().map(|a| (*a).to_owned()).collect(),
            trusted: trusted.map(str::to_owned),
            conf: conf.to_owned(),
        };
        match Cluster::start_with(network) {
            Ok(c) => Self(c),
            Err(message) => panic!("dedicated PostgreSQL cluster: {message}"),
        }
    }

    /// The port it listens on (on every address).
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// Creates an empty database and returns its URL at `host` (an address it listens on).
    pub fn new_database(&self, host: &str) -> String {
        let name = format!("t_{}", random_hex());
        self.0.psql(&format!("CREATE DATABASE {name}"));
        format!("postgres://{SUPERUSER}@{host}:{}/{name}", self.0.port)
    }

    /// Runs `sql` as the superuser in database `postgres`.
    pub fn psql(&self, sql: &str) {
        self.0.psql(sql)
    }

    /// The postmaster's process id (its children are the server's other processes).
    pub fn pid(&self) -> Option<u32> {
        fs::read_to_string(self.0.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops the server (`fast`: sessions are cut; `immediate`: as a crash).
    pub fn stop(&self, mode: &str) {
        self.0
            .pg_ctl_stop(mode)
            .unwrap_or_else(|e| panic!("stopping PostgreSQL: {e}"))
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&self) {
        self.0
            .pg_ctl_start()
            .unwrap_or_else(|(e, _)| panic!("starting PostgreSQL again: {e}"))
    }
}

impl Drop for Dedicated {
    fn drop(&mut self) {
        let _ = self.0.pg_ctl_stop("immediate");
        let _ = fs::remove_dir_all(&self.0.root);
    }
}

struct Cluster {
    /// Directory holding the server tools.
    bin: PathBuf,
    /// Temporary directory: `data/`, the log and the Unix socket.
    root: PathBuf,
    port: u16,
    /// Set when we are root: the server tools then run as the `postgres` user
    /// through this `runuser`.
    runuser: Option<PathBuf>,
    /// `listen_addresses`, and the extra subnet trusted by `pg_hba.conf`.
    network: Network,
}

/// Where a cluster listens and whom it trusts besides the loopback.
#[derive(Clone, Default)]
struct Network {
    /// Addresses besides 127.0.0.1.
    extra_listen: Vec<String>,
    /// A CIDR trusted in `pg_hba.conf` besides the loopback.
    trusted: Option<String>,
    /// Extra lines of `postgresql.conf`.
    conf: String,
}

impl Cluster {
    fn start() -> Result<Self, String> {
        Self::start_with(Network::default())
    }

    fn start_with(network: Network) -> Result<Self, String> {
        let bin = find_bin_dir()
            .filter(|dir| {
                ["initdb", "pg_ctl", "postgres"]
                    .iter()
                    .all(|t| dir.join(t).is_file())
            })
            .ok_or_else(|| {
                format!(
                    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: \
                     {MISSING_HINT}"
                )
            })?;
        // PostgreSQL refuses to run as root.
        let runuser = if current_uid() == Some(0) {
            let known = Command::new("id")
                .args(["-u", SUPERUSER])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !known {
                return Err(format!(
                    "running as root needs a `{SUPERUSER}` system user to run the server: \
                     {MISSING_HINT}"
                ));
            }
            // Often in /usr/sbin, which a non-login PATH may lack.
            let found = which("runuser").or_else(|| {
                ["/usr/sbin/runuser", "/sbin/runuser"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.is_file())
            });
            Some(found.ok_or("running as root needs `runuser` (util-linux)")?)
        } else {
            None
        };

        let root = tempfile::Builder::new()
            .prefix("coeur-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        let cluster = Cluster {
            bin,
            root,
            port: 0,
            runuser,
            network,
        };
        // Cleanup first, so that even a failed start leaves nothing behind.
        cluster.spawn_watchdog()?;
        cluster.init()?;
        cluster.launch()
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// A command running server tool `tool`, as `postgres` when we are root,
    /// from inside the cluster directory (the `postgres` user may not be able
    /// to enter the current directory).
    fn server_command(&self, tool: &str) -> Command {
        let mut command = if let Some(runuser) = &self.runuser {
            let mut c = Command::new(runuser);
            c.args(["-u", SUPERUSER, "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        command.current_dir(&self.root).stdin(Stdio::null());
        command
    }

    fn spawn_watchdog(&self) -> Result<(), String> {
        // $1 = pid to watch, $2 = data dir, $3 = dir to remove,
        // rest = command prefix running pg_ctl.
        const SCRIPT: &str = r#"
pid=$1; data=$2; dir=$3; shift 3
while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
if [ -f "$data/postmaster.pid" ]; then
    "$@" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
    if [ -f "$data/postmaster.pid" ]; then
        kill -9 "$(head -n 1 "$data/postmaster.pid")" 2>/dev/null
        sleep 1
    fi
fi
rm -rf "$dir"
"#;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg("coeur-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(self.data_dir())
            .arg(&self.root);
        if let Some(runuser) = &self.runuser {
            command.arg(runuser).args(["-u", SUPERUSER, "--"]);
        }
        command
            .arg(self.bin.join("pg_ctl"))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: a Ctrl-C on the test run must not kill it.
            .process_group(0)
            .spawn()
            .map(drop)
            .map_err(|e| format!("cannot spawn the cleanup watchdog: {e}"))
    }

    fn init(&self) -> Result<(), String> {
        if self.runuser.is_some() {
            let status = Command::new("chown")
                .args(["-R", &format!("{SUPERUSER}:")])
                .arg(&self.root)
                .status()
                .map_err(|e| format!("cannot run chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown of {} failed", self.root.display()));
            }
            let reachable = self
                .runuser
                .as_ref()
                .map(Command::new)
                .is_some_and(|mut test| {
                    test.args(["-u", SUPERUSER, "--", "test", "-w"])
                        .arg(&self.root)
                        .current_dir("/")
                        .status()
                        .is_ok_and(|s| s.success())
                });
            if !reachable {
                return Err(format!(
                    "the `{SUPERUSER}` user cannot enter {}: \
                     point TMPDIR to a directory it can reach, such as /tmp",
                    self.root.display()
                ));
            }
        }
        let mut initdb = self.server_command("initdb");
        initdb
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        let output = run(&mut initdb)?;
        if !output.status.success() {
            return Err(format!("initdb failed:\n{}", output_text(&output)));
        }

        let mut listen = vec!["127.0.0.1".to_owned()];
        listen.extend(self.network.extra_listen.iter().cloned());
        let settings = format!(
            "\n# throwaway test cluster\n\
             listen_addresses = '{}'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 300\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             logging_collector = off\n{}",
            listen.join(","),
            self.root.display(),
            self.network.conf,
        );
        if let Some(cidr) = &self.network.trusted {
            fs::OpenOptions::new()
                .append(true)
                .open(self.data_dir().join("pg_hba.conf"))
                .and_then(|mut f| writeln!(f, "host all all {cidr} trust"))
                .map_err(|e| format!("cannot write pg_hba.conf: {e}"))?;
        }
        fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(|e| format!("cannot write postgresql.conf: {e}"))
    }

    /// Starts the server on a free port; retries with another port if the one
    /// picked was taken in the meantime.
    fn launch(mut self) -> Result<Self, String> {
        let mut last_error = String::new();
        for _ in 0..5 {
            self.port = free_port()?;
            match self.pg_ctl_start() {
                Ok(()) => return Ok(self),
                Err((message, retry)) => {
                    last_error = message;
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_error)
    }

    /// `pg_ctl start` on the cluster's port; on failure, the message and whether another port
    /// may do better.
    fn pg_ctl_start(&self) -> Result<(), (String, bool)> {
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {}", self.port))
            .arg("start");
        let output = run(&mut pg_ctl).map_err(|e| (e, false))?;
        if output.status.success() {
            return Ok(());
        }
        let log = fs::read_to_string(self.log_file()).unwrap_or_default();
        let retry = log.contains("could not bind") || log.contains("already in use");
        Err((
            format!(
                "pg_ctl start failed:\n{}\nserver log ({}):\n{}",
                output_text(&output),
                self.log_file().display(),
                tail(&log, 40)
            ),
            retry,
        ))
    }

    /// `pg_ctl stop` in `mode` (`fast`: connections are cut, `immediate`: a crash).
    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", "60", "stop"]);
        let output = run(&mut pg_ctl)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("pg_ctl stop failed:\n{}", output_text(&output)))
        }
    }

    fn psql(&self, sql: &str) {
        let local = self.bin.join("psql");
        let mut psql = Command::new(if local.is_file() {
            local
        } else {
            PathBuf::from("psql")
        });
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
            ])
            .args(["-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null());
        let output = run(&mut psql).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "psql `{sql}` failed on the throwaway PostgreSQL cluster:\n{}",
            output_text(&output)
        );
    }
}

/// `$COEUR_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`, else the
/// `PATH` directory that holds `initdb`.
/// A tool of the PostgreSQL installation the clusters run from (`pg_dump`, `pg_restore`…).
pub fn tool(name: &str) -> PathBuf {
    find_bin_dir()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: {MISSING_HINT}"))
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("COEUR_PG_BIN").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| dir.join("bin/initdb").is_file())
        .max_by_key(|dir| version_key(dir));
    if let Some(dir) = newest {
        return Some(dir.join("bin"));
    }
    which("initdb").and_then(|p| p.parent().map(Path::to_path_buf))
}

/// "15" -> [15], "9.6" -> [9, 6]; anything else sorts first.
fn version_key(dir: &Path) -> Vec<u32> {
    dir.file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.split('.').map(|p| p.parse().unwrap_or(0)).collect())
        .unwrap_or_default()
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
}

fn current_uid() -> Option<u32> {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Some(meta.uid());
    }
    let output = Command::new("id").arg("-u").output().ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

fn run(command: &mut Command) -> Result<Output, String> {
    command.output().map_err(|e| {
        format!(
            "cannot run {:?}: {e}; {MISSING_HINT}",
            command.get_program()
        )
    })
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    format!("{:016x}", hasher.finish())
}
