//! Several coeur instances on one machine as on several hosts: each instance in a Linux
//! network namespace of its own (iproute2 `ip netns`), joined to the others by a bridge and
//! veth pairs, with PostgreSQL and HAProxy (round robin, health checks on `/readyz`) in the
//! root namespace, on the bridge's address.
//!
//! ```text
//!   root namespace: HAProxy on 127.0.0.1 (the public URL); bridge 10.A.B.1: PostgreSQL
//!     ├── veth ── netns coeur-A-B-1: 10.A.B.11, coeur on :8080
//!     ├── veth ── netns coeur-A-B-2: 10.A.B.12, coeur on :8080
//!     └── veth ── netns coeur-A-B-3: 10.A.B.13, coeur on :8080
//! ```
//!
//! The integration tests (`tests/it/cluster/`) and `scripts/bench-cluster.sh` (through the
//! `coeur-lab` command) use it. It needs root (network namespaces), `ip`, `haproxy`, and the
//! PostgreSQL server binaries; [`Lab::missing`] says what is not there.
//!
//! Nothing here is specific to a test: a [`Deployment`] is what an operator runs, three
//! instances of one configuration behind a balancer, on one database, with one master key.

use crate::pg::Dedicated;
use std::fs;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The port every instance listens on in its namespace.
pub const PORT: u16 = 8080;

/// What the lab needs and this machine lacks, if anything (root, `ip`, `haproxy`, network
/// namespaces that can be created).
pub fn missing() -> Option<String> {
    if !is_root() {
        return Some("network namespaces need root".into());
    }
    for tool in ["ip", "haproxy"] {
        if find(tool).is_none() {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    let probe = format!("coeur-probe-{}", std::process::id());
    if !ip(&["netns", "add", &probe]) {
        return Some("`ip netns add` fails here".into());
    }
    ip(&["netns", "del", &probe]);
    None
}

/// The network: a bridge in the root namespace and one namespace per host.
pub struct Lab {
    bridge: String,
    prefix: String,
    hosts: Vec<Host>,
}

/// A host of the lab: a network namespace with one address.
#[derive(Clone, Debug)]
pub struct Host {
    /// The namespace's name.
    pub netns: String,
    /// Its address on the bridge.
    pub addr: String,
}

impl Host {
    /// `program` run inside the host's namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(find("ip").unwrap_or_else(|| PathBuf::from("ip")));
        c.args(["netns", "exec", &self.netns]).arg(program);
        c
    }
}

impl Lab {
    /// Builds a network of `hosts` namespaces on a subnet no other lab of this machine uses.
    pub fn new(hosts: usize) -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (a, b) = (100 + pid % 100, (pid / 100 + n * 7) % 250 + 2);
        let prefix = format!("10.{a}.{b}");
        let tag = format!("{}{n}", pid % 100_000);
        let mut lab = Self {
            bridge: format!("clb{tag}"),
            prefix: prefix.clone(),
            hosts: Vec::new(),
        };
        let gateway = lab.gateway();
        run_ip(&["link", "add", &lab.bridge, "type", "bridge"])?;
        run_ip(&["addr", "add", &format!("{gateway}/24"), "dev", &lab.bridge])?;
        run_ip(&["link", "set", &lab.bridge, "up"])?;
        for i in 1..=hosts {
            let host = Host {
                netns: format!("coeur-{a}-{b}-{i}"),
                addr: format!("{prefix}.{}", 10 + i),
            };
            let (outer, inner) = (format!("cl{tag}h{i}"), format!("cl{tag}i{i}"));
            // Pushed first: a failure below still removes what was made.
            lab.hosts.push(host.clone());
            let _ = ip(&["netns", "del", &host.netns]);
            run_ip(&["netns", "add", &host.netns])?;
            run_ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            run_ip(&["link", "set", &inner, "netns", &host.netns])?;
            run_ip(&["link", "set", &outer, "master", &lab.bridge])?;
            run_ip(&["link", "set", &outer, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &host.netns, "ip"];
                all.extend_from_slice(args);
                run_ip(&all)
            };
            inside(&["addr", "add", &format!("{}/24", host.addr), "dev", &inner])?;
            inside(&["link", "set", &inner, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    /// The root namespace's address on the bridge (where PostgreSQL listens).
    pub fn gateway(&self) -> String {
        format!("{}.1", self.prefix)
    }

    /// The subnet, as a CIDR.
    pub fn subnet(&self) -> String {
        format!("{}.0/24", self.prefix)
    }

    /// The hosts.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for h in &self.hosts {
            // Deleting the namespace deletes its end of the veth pair, and so the pair.
            ip(&["netns", "del", &h.netns]);
        }
        ip(&["link", "del", &self.bridge]);
    }
}

/// One coeur instance of a [`Deployment`], in its host's namespace.
pub struct Instance {
    /// Its host.
    pub host: Host,
    /// Its working directory (log, CRL files).
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Instance {
    /// Its base URL, reached directly (not through the balancer).
    pub fn base(&self) -> String {
        format!("http://{}:{PORT}", self.host.addr)
    }

    /// The process id of the running `coeur serve`, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("coeur.log")).unwrap_or_default()
    }

    /// `kill -9`: the process dies at once, whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the process to end (its drain and grace included), for at
    /// most `within`; returns whether it ended cleanly (exit status 0) in time.
    pub fn terminate(&mut self, within: Duration) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let until = Instant::now() + within;
        loop {
            match c.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a deployment is started.
pub struct Settings {
    /// The `coeur` binary.
    pub coeur: PathBuf,
    /// The repository (for `realms/` and `pki/`).
    pub repo: PathBuf,
    /// How many instances.
    pub instances: usize,
    /// Extra environment for every instance.
    pub env: Vec<(String, String)>,
    /// CPUs the instances are pinned to (`taskset -c` list), if any.
    pub pin: Option<String>,
    /// Load `pg_stat_statements` into PostgreSQL (for measuring what each operation costs).
    pub pg_stats: bool,
}

/// Instances of coeur behind HAProxy, on one PostgreSQL database, with one master key.
pub struct Deployment {
    /// The instances, in host order.
    pub instances: Vec<Instance>,
    /// The database server (to stop and start again).
    pub pg: Dedicated,
    /// The database's URL as the instances reach it.
    pub database_url: String,
    /// The public URL: HAProxy's frontend.
    pub public: String,
    /// The master key every instance is given (base64 of 32 random bytes).
    master_key: String,
    dir: PathBuf,
    settings: Settings,
    haproxy: Option<Child>,
    // Last: the namespaces go after the processes in them.
    lab: Lab,
}

impl Deployment {
    /// Builds the lab, starts PostgreSQL, the first instance (which creates the schema, the
    /// test CA hierarchy and the realms' keys), then the others and HAProxy, and waits until
    /// the balancer sees every instance ready.
    pub fn start(settings: Settings) -> Result<Self, String> {
        let lab = Lab::new(settings.instances)?;
        let gateway = lab.gateway();
        let conf = if settings.pg_stats {
            "shared_preload_libraries = 'pg_stat_statements'\n\
             pg_stat_statements.track = all\n\
             track_io_timing = on\n"
        } else {
            ""
        };
        let pg = Dedicated::start(&[&gateway], Some(&lab.subnet()), conf);
        let database_url = pg.new_database(&gateway);
        let dir = tempfile::Builder::new()
            .prefix("coeur-lab-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        // The public URL is the balancer's loopback address: coeur requires https for any
        // other host, and TLS is the balancer's business, not what these tests look at.
        let front = free_port_on("127.0.0.1")?;
        let public = format!("http://127.0.0.1:{front}");
        let instances = lab
            .hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| Instance {
                host: h.clone(),
                dir: dir.join(format!("instance-{}", i + 1)),
                child: None,
            })
            .collect();
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| "no randomness")?;
        let master_key = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(key)
        };
        let mut d = Self {
            instances,
            pg,
            database_url,
            public,
            master_key,
            dir,
            settings,
            haproxy: None,
            lab,
        };
        d.start_instance(0)?;
        for i in 1..d.instances.len() {
            d.spawn_instance(i)?;
        }
        for i in 1..d.instances.len() {
            d.wait_ready(i, Duration::from_secs(60))?;
        }
        d.start_haproxy(front)?;
        Ok(d)
    }

    /// The directory shared by the instances' files (the key store until keys live in the
    /// database) and the lab's logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment every instance runs with: the configuration of the deployment.
    pub fn environment(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        let mut env: Vec<(String, String)> = [
            ("COEUR_DATABASE_URL", self.database_url.clone()),
            ("COEUR_MASTER_KEY", self.master_key.clone()),
            (
                "COEUR_KEYS_DIR",
                self.dir.join("keys").display().to_string(),
            ),
            (
                "COEUR_REALMS_DIR",
                s.repo.join("realms").display().to_string(),
            ),
            ("COEUR_PKI_DIR", s.repo.join("pki").display().to_string()),
            ("COEUR_PKI_HIERARCHY", "modern".to_owned()),
            ("COEUR_PUBLIC_URL", self.public.clone()),
            ("COEUR_LISTEN", format!("0.0.0.0:{PORT}")),
            ("COEUR_CARD_LISTEN", "0.0.0.0:8443".to_owned()),
            (
                "COEUR_TRUSTED_PROXIES",
                format!("{}/32", self.lab.gateway()),
            ),
            ("COEUR_NO_DIRECTORY", "true".to_owned()),
            ("COEUR_SHUTDOWN_DELAY", "2".to_owned()),
            ("COEUR_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(s.env.iter().cloned());
        env
    }

    /// Writes the deployment's environment to `coeur.env` in its directory (owner only:
    /// it holds the master key), one `KEY=VALUE` per line, for `coeur` commands run from
    /// scripts; returns its path.
    pub fn write_env_file(&self) -> Result<PathBuf, String> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.join("coeur.env");
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| e.to_string())?;
        for (k, v) in self.environment() {
            writeln!(f, "{k}={v}").map_err(|e| e.to_string())?;
        }
        Ok(path)
    }

    /// A `coeur` command (a CLI subcommand) with the deployment's configuration, run from the
    /// root namespace.
    pub fn cli(&self) -> Command {
        let mut c = Command::new(&self.settings.coeur);
        clean_env(&mut c);
        c.envs(self.environment());
        c
    }

    fn spawn_instance(&mut self, i: usize) -> Result<(), String> {
        let env = self.environment();
        let inst = &mut self.instances[i];
        fs::create_dir_all(&inst.dir).map_err(|e| e.to_string())?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(inst.dir.join("coeur.log"))
            .map_err(|e| e.to_string())?;
        let mut c = match &self.settings.pin {
            // taskset execs coeur in turn: the child's pid stays coeur's.
            Some(cpus) => {
                let mut c = inst.host.command("taskset");
                c.args(["-c", cpus]).arg(&self.settings.coeur);
                c
            }
            None => inst.host.command(&self.settings.coeur),
        };
        clean_env(&mut c);
        c.arg("serve")
            .envs(env)
            .env("COEUR_CRL_DIR", inst.dir.join("crl"))
            .current_dir(&inst.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // `ip netns exec` execs the program: the child's pid is coeur's.
        inst.child = Some(c.spawn().map_err(|e| format!("starting coeur: {e}"))?);
        Ok(())
    }

    fn wait_ready(&mut self, i: usize, within: Duration) -> Result<(), String> {
        let until = Instant::now() + within;
        let addr = format!("{}:{PORT}", self.instances[i].host.addr);
        loop {
            if http_status(&addr, "/readyz") == Some(200) {
                return Ok(());
            }
            if !self.instances[i].running() {
                return Err(format!(
                    "instance {} ended at start:\n{}",
                    i + 1,
                    self.instances[i].log()
                ));
            }
            if Instant::now() >= until {
                return Err(format!(
                    "instance {} not ready in {within:?}:\n{}",
                    i + 1,
                    self.instances[i].log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts instance `i` (stopped or killed before) and waits until it is ready.
    pub fn start_instance(&mut self, i: usize) -> Result<(), String> {
        self.spawn_instance(i)?;
        self.wait_ready(i, Duration::from_secs(60))
    }

    /// Waits until HAProxy sees instance `i` up again (its health checks passed).
    pub fn wait_balanced(&self, i: usize, within: Duration) -> bool {
        let until = Instant::now() + within;
        let name = format!("coeur{}", i + 1);
        loop {
            if self.haproxy_state(&name).as_deref() == Some("UP") {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The requests HAProxy logged as failed on the server's side (a 5xx answer, or a
    /// termination state naming the server, the proxy or a resource), as logged.
    pub fn balancer_failures(&self) -> Vec<String> {
        let log = fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.starts_with("<6>"))
            .filter(|l| {
                // `… status bytes cookie cookie TERM …` after the frontend/backend fields.
                let f: Vec<&str> = l.split_whitespace().collect();
                let status = f.get(5).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
                let term = f.get(9).copied().unwrap_or("----");
                status >= 500 || term.starts_with(['S', 'P', 'R', 'I', 'D', 'K'])
            })
            .map(str::to_owned)
            .collect()
    }

    /// What HAProxy's stats say of server `name` (`UP`, `DOWN`…), through its admin socket.
    fn haproxy_state(&self, name: &str) -> Option<String> {
        let sock = self.dir.join("haproxy.sock");
        let mut s = std::os::unix::net::UnixStream::connect(sock).ok()?;
        s.write_all(b"show stat\n").ok()?;
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).ok()?;
        // CSV: pxname,svname,…; status is the 18th field.
        out.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.len() > 17 && f[0] == "coeur" && f[1] == name)
            .map(|f| f[17].to_owned())
    }

    fn start_haproxy(&mut self, front: u16) -> Result<(), String> {
        let mut servers = String::new();
        for (i, inst) in self.instances.iter().enumerate() {
            servers.push_str(&format!(
                "    server coeur{} {}:{PORT} check\n",
                i + 1,
                inst.host.addr
            ));
        }
        let cfg = format!(
            "global\n\
             \x20   maxconn 4000\n\
             \x20   stats socket {sock} mode 600 level admin\n\
             \x20   log stderr format short local0 info\n\
             defaults\n\
             \x20   mode http\n\
             \x20   log global\n\
             \x20   option httplog\n\
             \x20   option dontlog-normal\n\
             \x20   timeout connect 2s\n\
             \x20   timeout client 60s\n\
             \x20   timeout server 60s\n\
             \x20   timeout check 2s\n\
             \x20   retries 2\n\
             \x20   option redispatch\n\
             frontend public\n\
             \x20   bind 127.0.0.1:{front}\n\
             \x20   option forwardfor\n\
             \x20   default_backend coeur\n\
             backend coeur\n\
             \x20   balance roundrobin\n\
             \x20   option httpchk GET /readyz\n\
             \x20   http-check expect status 200\n\
             \x20   default-server inter 200ms fastinter 100ms downinter 300ms fall 2 rise 2\n\
             \x20   http-response set-header X-Coeur-Instance %s\n\
             {servers}",
            sock = self.dir.join("haproxy.sock").display(),
        );
        let path = self.dir.join("haproxy.cfg");
        fs::write(&path, cfg).map_err(|e| e.to_string())?;
        let log = fs::File::create(self.dir.join("haproxy.log")).map_err(|e| e.to_string())?;
        let child = Command::new(find("haproxy").ok_or("haproxy is not installed")?)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting haproxy: {e}"))?;
        self.haproxy = Some(child);
        for i in 0..self.instances.len() {
            if !self.wait_balanced(i, Duration::from_secs(20)) {
                return Err(format!(
                    "HAProxy does not see instance {} up:\n{}",
                    i + 1,
                    fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some(mut h) = self.haproxy.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        for i in &mut self.instances {
            i.kill();
        }
        if std::env::var_os("COEUR_LAB_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The status of `GET path` on `addr` (plain HTTP/1.1), or `None` if it does not answer.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    std::io::Read::read_exact(&mut s, &mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Removes the caller's `COEUR_*` settings so that only the deployment's apply.
fn clean_env(c: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("COEUR_") {
            c.env_remove(k);
        }
    }
}

fn free_port_on(addr: &str) -> Result<u16, String> {
    std::net::TcpListener::bind((addr, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on {addr}: {e}"))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn ip(args: &[&str]) -> bool {
    Command::new(find("ip").unwrap_or_else(|| PathBuf::from("ip")))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(find("ip").unwrap_or_else(|| PathBuf::from("ip")))
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
