//! pkilint runs: where its executables are, lint jobs run in parallel, and the findings kept
//! by design (`docs/pki-lint.md`).

use super::*;

/// Where the pkilint executables are: `$COEUR_PKILINT_BIN`, else the virtualenv that
/// `scripts/test.sh` makes under `target/`, else `PATH`.
pub(super) fn pkilint_exe(tool: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("COEUR_PKILINT_BIN") {
        return Path::new(&dir).join(tool);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/pkilint-venv/bin")
        .join(tool);
    if venv.exists() {
        venv
    } else {
        PathBuf::from(tool)
    }
}

/// One pkilint run: `TOOL lint ARGS -s ERROR -f JSON FILE`.
pub(super) struct LintJob {
    tool: &'static str,
    args: Vec<&'static str>,
    file: PathBuf,
    /// Finding codes of severity ERROR (or FATAL) that are expected by design.
    allowed: &'static [&'static str],
}

impl LintJob {
    pub(super) fn new(tool: &'static str, args: &[&'static str], file: PathBuf) -> Self {
        LintJob {
            tool,
            args: args.to_vec(),
            file,
            allowed: &[],
        }
    }

    pub(super) fn allowing(mut self, allowed: &'static [&'static str]) -> Self {
        self.allowed = allowed;
        self
    }

    fn spawn(&self) -> Child {
        Command::new(pkilint_exe(self.tool))
            .arg("lint")
            .args(&self.args)
            .args(["-s", "ERROR", "-f", "JSON"])
            .arg(&self.file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; install pkilint 0.13.3 (scripts/test.sh does) or set \
                     COEUR_PKILINT_BIN to the directory of its executables",
                    self.tool
                )
            })
    }
}

/// Runs the lint jobs in parallel; fails with every finding of severity ERROR or FATAL that
/// its job does not allow. Returns the allowed findings seen, as "tool: code".
pub(super) fn lint_all(jobs: &[LintJob]) -> BTreeSet<String> {
    let children: Vec<Child> = jobs.iter().map(LintJob::spawn).collect();
    let mut problems = Vec::new();
    let mut kept = BTreeSet::new();
    for (job, child) in jobs.iter().zip(children) {
        let o = child.wait_with_output().expect("pkilint");
        let name = job.file.file_name().unwrap_or_default().to_string_lossy();
        let report: Value = match serde_json::from_slice(&o.stdout) {
            Ok(v) => v,
            Err(_) => {
                problems.push(format!("{} {name}: no report:\n{}", job.tool, text(&o)));
                continue;
            }
        };
        for r in report["results"].as_array().into_iter().flatten() {
            for f in r["finding_descriptions"].as_array().into_iter().flatten() {
                let code = f["code"].as_str().unwrap_or_default();
                if !matches!(f["severity"].as_str(), Some("ERROR" | "FATAL")) {
                    continue;
                }
                if job.allowed.contains(&code) {
                    kept.insert(format!("{}: {code}", job.tool));
                } else {
                    problems.push(format!(
                        "{} {name}: {code} ({}) at {}: {}",
                        job.tool, f["severity"], r["node_path"], f["message"]
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pkilint findings:\n{}",
        problems.join("\n")
    );
    kept
}

/// `lint_cabf_serverauth_cert -t OV-FINAL-CERTIFICATE` on SSL_SERV: findings kept by design.
pub(super) const CABF_SERVERAUTH_KEPT: &[&str] = &[
    "cabf.internal_domain_name",
    "cabf.serverauth.certificate_validity_period_exceeds_200_days",
    "cabf.serverauth.certificate_validity_period_exceeds_398_days",
    "cabf.serverauth.ov.organizational_unit_name_attribute_present",
    "cabf.serverauth.crldp_dpname_prohibited_uri_scheme",
    "cabf.serverauth.subscriber_missing_reserved_policy_oid",
];

/// `lint_cabf_smime_cert -t ORGANIZATION-STRICT` on SMIME_MSS: findings kept by design.
pub(super) const CABF_SMIME_KEPT: &[&str] = &[
    "cabf.internal_domain_name",
    "cabf.smime.certificate_validity_period_exceeds_825_days",
    "cabf.smime.missing_required_attribute",
    "cabf.smime.crldp_fullname_prohibited_uri_scheme",
    "cabf.smime.no_required_reserved_policy_oid",
];
