//! The operators' view, checked by a real Prometheus (Debian's `prometheus`): it scrapes a
//! running coeur's admin listener after logins, token requests, an issuance, a revocation and
//! OCSP requests; `promtool` checks the alert rules (`deploy/prometheus/alerts.yml`), which
//! Prometheus then loads and evaluates without error; every expression of the Grafana dashboard
//! (`deploy/grafana/coeur.json`) evaluates, and those of the activity above return series.

use crate::both_dbs;
use crate::ca::{Api, Key, ORG_CA, Work, org_subject};
use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Prometheus child process, stopped when dropped.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (host:port, `/metrics`) every second as job `coeur`,
    /// with the repository's alert rules evaluated every second.
    fn start(bin: &Path, target: &str) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let rules = repo_dir().join("deploy/prometheus/alerts.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: coeur\n    static_configs:\n      - targets: ['{target}']\n",
            rules.display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("config");
        let listen = free_addr();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus");
        Prometheus {
            child,
            base: format!("http://{listen}"),
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query's `data.result`; panics on an evaluation error.
    async fn query(&self, expr: &str) -> Vec<Value> {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/query", self.base))
            .form(&[("query", expr)])
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("json");
        assert_eq!(r["status"], "success", "{expr}: {r}");
        r["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `expr` returns a series (the scrapes are in).
    async fn wait_for(&self, expr: &str) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::Client::new()
                .post(format!("{}/api/v1/query", self.base))
                .form(&[("query", expr)])
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && v["data"]["result"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no series for {expr}:\n{}", self.log());
    }
}

/// The alert rules' names (the file is YAML: Prometheus itself reads the expressions).
fn rule_names() -> Vec<String> {
    let text = std::fs::read_to_string(repo_dir().join("deploy/prometheus/alerts.yml"))
        .expect("alerts.yml");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect()
}

/// Every `expr` of the dashboard's panels.
fn dashboard_exprs() -> Vec<String> {
    let d: Value = serde_json::from_slice(
        &std::fs::read(repo_dir().join("deploy/grafana/coeur.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    let mut out = vec![];
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            out.push(t["expr"].as_str().expect("expr").to_owned());
        }
    }
    out
}

both_dbs!(
    dashboard_and_alerts_evaluate_on_a_real_prometheus,
    |db| async move {
        let (Some(prometheus), Some(promtool)) = (
            program_or_skip("prometheus", "prometheus"),
            program_or_skip("promtool", "prometheus"),
        ) else {
            return;
        };
        let rules = repo_dir().join("deploy/prometheus/alerts.yml");
        let check = Command::new(promtool)
            .args(["check", "rules"])
            .arg(&rules)
            .output()
            .expect("promtool");
        assert!(
            check.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );

        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        // A login and its code redeemed; a token request with an unknown grant.
        let b = s.browser();
        let cb = login_code(&s, &b, &[]).await;
        let code = param(&cb, "code").expect("code");
        assert_eq!(redeem(&s, &code, &[]).await.status(), 200);
        let r = reqwest::Client::new()
            .post(s.endpoint("edit", "token"))
            .form(&[
                ("grant_type", "urn:example:nothing"),
                ("client_id", "rp"),
                ("client_secret", SECRET),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(r.status().as_u16(), 400);
        // An issuance, its revocation, and an OCSP request that is not one.
        let api = Api::new(&s, "edit").await;
        let w = Work::new();
        let csr = w.csr("leaf", Key::P256);
        let (serial, _) = api
            .issue(
                ORG_CA,
                "ORG_AUTH_CLI",
                &csr,
                &org_subject(json!({ "service_name": "METRICS" })),
            )
            .await;
        assert_eq!(api.revoke(ORG_CA, &serial, "superseded").await.0, 200);
        let r = reqwest::Client::new()
            .post(format!("{}/pki/ocsp", s.base))
            .header("content-type", "application/ocsp-request")
            .body(vec![0x30, 0x00])
            .send()
            .await
            .expect("ocsp");
        assert_eq!(r.status().as_u16(), 200);

        let target = s.admin_base.trim_start_matches("http://").to_owned();
        let p = Prometheus::start(&prometheus, &target);
        p.wait_for(r#"up{job="coeur"} == 1"#).await;
        p.wait_for(r#"coeur_logins_total{realm="edit",outcome="success"}"#)
            .await;
        // Rates need two scrapes of a counter.
        p.wait_for(r#"count_over_time(coeur_logins_total{realm="edit"}[1m]) > 1"#)
            .await;

        let mut empty = vec![];
        for expr in dashboard_exprs() {
            if p.query(&expr).await.is_empty() {
                empty.push(expr);
            }
        }
        // Every figure this test produced is on the dashboard; only the LDAP age and the
        // latency quantiles of idle routes may be empty.
        let must_have = [
            "coeur_logins_total",
            "coeur_token_requests_total",
            "coeur_http_requests_total",
            "coeur_ca_certificates_issued_total",
            "coeur_ca_revocations_total",
            "coeur_ocsp_responses_total",
            "coeur_ldap_outbox_pending",
            "up{",
        ];
        for name in must_have {
            assert!(
                !empty.iter().any(|e| e.contains(name)),
                "a panel on {name} shows nothing: {empty:?}"
            );
        }
        // The figures carry the labels the panels group by.
        let issued = p
            .query("sum by (ca, profile) (coeur_ca_certificates_issued_total)")
            .await;
        assert!(
            issued
                .iter()
                .any(|v| v["metric"]["ca"] == ORG_CA && v["metric"]["profile"] == "ORG_AUTH_CLI"),
            "{issued:?}"
        );
        let ocsp = p
            .query(r#"coeur_ocsp_responses_total{outcome="malformed_request"}"#)
            .await;
        assert!(!ocsp.is_empty(), "the malformed OCSP request is counted");
        let grants = p
        .query(r#"coeur_token_requests_total{realm="edit",grant_type="authorization_code",outcome="issued"}"#)
        .await;
        assert!(!grants.is_empty(), "the code redeemed is counted");
        let refused = p
        .query(r#"coeur_token_requests_total{realm="edit",grant_type="unsupported",outcome="unsupported_grant_type"}"#)
        .await;
        assert!(!refused.is_empty(), "the unknown grant is counted");

        // The alert rules: loaded, every one evaluated, none in error.
        let names = rule_names();
        let mut healthy = false;
        for _ in 0..100 {
            let r: Value = reqwest::get(format!("{}/api/v1/rules", p.base))
                .await
                .expect("rules")
                .json()
                .await
                .expect("json");
            let rules: Vec<&Value> = r["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                .collect();
            for rule in &rules {
                assert_ne!(rule["health"], "err", "{rule}");
            }
            if rules.len() == names.len()
                && rules
                    .iter()
                    .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z")
            {
                healthy = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            healthy,
            "the rules ({}) were not all evaluated:\n{}",
            names.len(),
            p.log()
        );
    }
);
