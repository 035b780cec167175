//! The deployment files: the Kubernetes manifests of deploy/kubernetes checked offline
//! (tests/python/check_manifests.py: strict validation against the Kubernetes schemas of
//! `kubernetes-validate`, and the resources' agreement with each other), their probes answered
//! by a running coeur, and the container build's settings being coeur's.

use crate::support::*;
use serde_json::Value;

/// What check_manifests.py reports, or `None` when the Python peer is missing.
fn manifests() -> Option<Value> {
    let python = python_peer("the manifests' check (kubernetes-validate)")?;
    let out = std::process::Command::new(python)
        .arg(repo_dir().join("tests/python/check_manifests.py"))
        .arg(repo_dir().join("deploy/kubernetes"))
        .output()
        .expect("run check_manifests.py");
    assert!(
        out.status.success(),
        "the manifests are refused:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the check's report"))
}

crate::both_dbs!(kubernetes_manifests_are_valid_and_probed, |db| async move {
    let Some(report) = manifests() else {
        return;
    };
    let kinds: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().split('/').next().unwrap())
        .collect();
    for kind in [
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Cluster",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {report}");
    }
    let deployments = report["deployments"].as_object().unwrap();
    assert_eq!(deployments["coeur"]["ports"]["http"], 8080, "{report}");
    // Every setting a Deployment gives its container is one its binary reads: an environment
    // variable clap or the configuration reads, a flag of its `serve`.
    for (name, d) in deployments {
        let source = match d["binary"].as_str().unwrap() {
            "coeur" => "src/config.rs",
            "coeur-annuaire" => "crates/directory/src/main.rs",
            "coeur-ror" => "crates/offer/src/main.rs",
            other => panic!("{name} runs {other}, which is none of coeur's binaries"),
        };
        let source = std::fs::read_to_string(repo_dir().join(source)).unwrap();
        for var in d["env"].as_array().unwrap() {
            let var = var.as_str().unwrap();
            assert!(
                source.contains(&format!("\"{var}\"")),
                "{name} sets {var}, which its binary does not read"
            );
        }
        for arg in d["args"].as_array().unwrap() {
            let arg = arg.as_str().unwrap();
            let Some(flag) = arg.strip_prefix("--") else {
                assert_eq!(arg, "serve", "{name}'s command");
                continue;
            };
            let flag = flag.split('=').next().unwrap();
            assert!(
                source.contains(&format!("{}:", flag.replace('-', "_")))
                    || source.contains(&format!("long = \"{flag}\"")),
                "{name} gives --{flag}, which its binary does not take"
            );
        }
        // The directory and the offer answer the same probes as coeur (the `coeur_web`
        // lifecycle's), checked on coeur below.
        assert_eq!(d["probes"], deployments["coeur"]["probes"], "{name}");
    }

    // The probes' paths, on coeur's main listener: answered, and ready once started; while
    // stopping, the readiness probe takes the pod out of the Service, the others keep it alive.
    let s = TestServer::start(db).await;
    let statuses = || async {
        let mut out = vec![];
        for (probe, path) in report["deployments"]["coeur"]["probes"]
            .as_object()
            .unwrap()
        {
            let path = path.as_str().unwrap();
            let r = http()
                .get(format!("{}{path}", s.base))
                .send()
                .await
                .unwrap();
            out.push((probe.clone(), path.to_owned(), r.status().as_u16()));
        }
        out
    };
    for (probe, path, status) in statuses().await {
        assert_eq!(status, 200, "{probe} probe {path}");
    }
    s.app.lifecycle.enter(coeur_web::lifecycle::Phase::Draining);
    for (probe, path, status) in statuses().await {
        let want = if probe == "readiness" { 503 } else { 200 };
        assert_eq!(status, want, "{probe} probe {path} while draining");
    }
});

#[test]
fn the_container_sets_only_settings_coeur_reads() {
    let containerfile =
        std::fs::read_to_string(repo_dir().join("deploy/Containerfile")).expect("Containerfile");
    let config = std::fs::read_to_string(repo_dir().join("src/config.rs")).expect("config.rs");
    let set: Vec<&str> = containerfile
        .split(|c: char| c.is_whitespace() || c == '\\')
        .filter_map(|w| w.split_once('=').map(|(k, _)| k))
        .filter(|k| k.starts_with("COEUR_"))
        .collect();
    assert!(set.len() >= 5, "{set:?}");
    for var in set {
        assert!(
            config.contains(&format!("\"{var}\"")),
            "the Containerfile sets {var}, which coeur does not read"
        );
    }
    // The realm and PKI definitions it copies exist where it copies them from.
    for dir in ["realms", "pki"] {
        assert!(containerfile.contains(&format!("COPY {dir} /etc/coeur/{dir}")));
        assert!(repo_dir().join(dir).is_dir());
    }
}
