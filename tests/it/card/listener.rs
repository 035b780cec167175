//! The card listener's TLS CertificateRequest: the acceptable CA names it advertises are the
//! PERSONNES CAs.

use super::*;

both_dbs!(
    card_listener_asks_for_personnes_certificates,
    |db| async move {
        let s = TestServer::start(db).await;
        root_pem(&s).await;
        let host_port = s
            .card_base()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let personnes: Vec<String> = s
            .state
            .ca
            .ca
            .cas
            .values()
            .filter(|c| c.def.domain == Some(Domain::Personnes))
            .map(|c| c.def.cn.clone())
            .collect();
        assert!(!personnes.is_empty());
        for version in ["-tls1_3", "-tls1_2"] {
            let o = Command::new("openssl")
                .args(["s_client", "-connect", &host_port, "-showcerts", version])
                .stdin(Stdio::null())
                .output()
                .await
                .expect("openssl s_client");
            let out = text(&o);
            let marker = "Acceptable client certificate CA names";
            let i = out
                .find(marker)
                .unwrap_or_else(|| panic!("{version}: no {marker:?} in:\n{out}"));
            let names: Vec<&str> = out[i + marker.len()..]
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("Requested") && !l.starts_with("Client Certificate"))
                .take_while(|l| !l.starts_with("---"))
                .collect();
            let names = names.join("\n");
            assert_eq!(names.lines().count(), personnes.len(), "{version}: {names}");
            assert!(names.contains("PERSONNES"), "{version}: {names}");
            assert!(!names.contains("ORGANISATIONS"), "{version}: {names}");
            for cn in &personnes {
                assert!(names.contains(cn.as_str()), "{version}: {cn} in {names}");
            }
        }
    }
);
