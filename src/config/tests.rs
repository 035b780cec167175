//! The settings' tests: LDAP, the layering of command line, file and defaults, the
//! listeners and the directory.

mod ldap_tests {
    use super::super::*;

    fn ldap(o: Settings) -> Result<Config> {
        Config::resolve(o, None)
    }

    #[test]
    fn ldap_is_off_unless_configured() {
        let c = ldap(Settings::default()).unwrap();
        assert!(c.ldap.is_none());
        assert!(c.ldap_base_dn.is_none());
    }

    #[test]
    fn ldap_settings_are_checked() {
        let with = |url: Option<&str>, starttls: Option<bool>, base_dn: &str| CommonSettings {
            ldap_url: url.map(Into::into),
            ldap_starttls: starttls,
            ldap_bind_dn: Some("cn=coeur,dc=example".into()),
            ldap_base_dn: Some(base_dn.into()),
            ..CommonSettings::default()
        };
        let base = Settings {
            common: with(Some("ldap://dir.example:389"), None, "dc=example"),
            secrets: Secrets {
                ldap_bind_password: Some("s3cret".into()),
                ..Secrets::default()
            },
            ..Settings::default()
        };
        let c = ldap(base.clone()).unwrap();
        let l = c.ldap.as_ref().unwrap();
        assert_eq!(l.url, "ldap://dir.example:389");
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the password is never printed"
        );
        assert!(!format!("{base:?}").contains("s3cret"));
        assert!(!l.describe().contains("s3cret"));
        let bad = |o: Settings, want: &str| {
            let e = format!("{:#}", ldap(o).unwrap_err());
            assert!(e.contains(want), "{e}");
        };
        let common = |common| Settings {
            common,
            ..base.clone()
        };
        bad(
            common(with(Some("http://dir.example"), None, "dc=example")),
            "scheme",
        );
        bad(
            common(with(Some("ldaps://dir.example"), Some(true), "dc=example")),
            "TLS already",
        );
        bad(
            Settings {
                secrets: Secrets::default(),
                ..base.clone()
            },
            "needs a password",
        );
        bad(
            common(with(Some("ldap://dir.example:389"), None, "dc=,x")),
            "--ldap-base-dn",
        );
        bad(
            common(with(Some("ldap://dir.example/dc=x"), None, "dc=example")),
            "only scheme, host and port",
        );
        bad(common(with(None, None, "dc=example")), "without --ldap-url");
    }
}

mod layer_tests {
    use super::super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("coeur.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn the_command_line_beats_the_file_which_beats_the_defaults() {
        let (_dir, p) = file(
            "listen = \"127.0.0.1:9000\"\nca_realm = \"esante-wallet\"\npki_production = true\n\
             revocation_refresh_secs = 60\nexternal_revocation = [\"crl\"]\n",
        );
        let given = Settings {
            common: CommonSettings {
                ca_realm: Some("edit".into()),
                ..CommonSettings::default()
            },
            ..Settings::default()
        };
        let c = Config::resolve(given, Some(&p)).unwrap();
        assert_eq!(c.ca_realm, "edit");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.public_url, "http://127.0.0.1:9000");
        assert!(c.pki_production);
        assert_eq!(c.external.refresh_secs, 60);
        assert_eq!(c.external.methods, vec![RevocationMethod::Crl]);
        assert_eq!(c.external.fetch_timeout_secs, 10);
        assert_eq!(c.pki_hierarchy, "igc-sante");
        assert_eq!(c.database_url, "sqlite://coeur.db?mode=rwc");
    }

    #[test]
    fn secrets_come_from_files_named_in_the_file_not_from_keys_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("master.key");
        std::fs::write(&key, " a2V5\n").unwrap();
        let (_d, p) = file(&format!(
            "master_key_file = {:?}\n",
            key.display().to_string()
        ));
        let c = Config::resolve(Settings::default(), Some(&p)).unwrap();
        assert_eq!(c.master_key.as_deref(), Some("a2V5"));
        let given = Settings {
            secrets: Secrets {
                master_key: Some("ZW52".into()),
                ..Secrets::default()
            },
            ..Settings::default()
        };
        let c = Config::resolve(given, Some(&p)).unwrap();
        assert_eq!(
            c.master_key.as_deref(),
            Some("ZW52"),
            "the environment wins"
        );
        for key in [
            "master_key",
            "ldap_bind_password",
            "tls_self_issued",
            "nope",
        ] {
            let (_d, p) = file(&format!("{key} = \"x\"\n"));
            let e = format!(
                "{:#}",
                Config::resolve(Settings::default(), Some(&p)).unwrap_err()
            );
            assert!(e.contains(&format!("unknown field `{key}`")), "{e}");
        }
    }

    #[test]
    fn https_on_the_command_line_makes_the_default_public_url_https() {
        let given = Settings {
            serve: ServeSettings {
                listen: Some("127.0.0.1:9443".parse().unwrap()),
                tls_self_issued: Some(true),
                ..ServeSettings::default()
            },
            ..Settings::default()
        };
        let c = Config::resolve(given, None).unwrap();
        assert_eq!(c.public_url, "https://127.0.0.1:9443");
        assert!(c.tls_self_issued);
    }
}

mod listener_tests {
    use super::super::*;

    #[test]
    fn the_directory_is_served_by_default_and_checked() {
        let c = Config::resolve(Settings::default(), None).unwrap();
        let d = c.directory.expect("on by default");
        assert_eq!(d.listen, "127.0.0.1:8083".parse().unwrap());
        assert_eq!(d.public_url, "http://127.0.0.1:8083");
        assert_eq!(d.database_url, "sqlite://annuaire.db");
        assert_eq!(d.realm, "edit");
        assert!(d.audiences.is_empty());
        assert_eq!((d.generate_professionals, d.generate_structures), (500, 50));
        assert_eq!(d.sync_interval, Some(std::time::Duration::from_secs(30)));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("coeur.toml");
        std::fs::write(
            &p,
            "directory_public_url = \"https://annuaire.example/fhir/\"\n\
             directory_audiences = [\"portal\", \" \"]\n\
             directory_generate_professionals = 0\n\
             directory_sync_interval_secs = 0\n",
        )
        .unwrap();
        let d = Config::resolve(Settings::default(), Some(&p))
            .unwrap()
            .directory
            .unwrap();
        assert_eq!(d.public_url, "https://annuaire.example/fhir");
        assert_eq!(d.audiences, ["portal"]);
        assert_eq!(d.generate_professionals, 0);
        assert_eq!(d.sync_interval, None, "0: no sync");

        std::fs::write(&p, "no_directory = true\n").unwrap();
        let c = Config::resolve(Settings::default(), Some(&p)).unwrap();
        assert!(c.directory.is_none(), "turned off");

        for (serve, flag) in [
            (
                ServeSettings {
                    directory_listen: Some(DEFAULT_LISTEN.parse().unwrap()),
                    ..ServeSettings::default()
                },
                "--directory-listen",
            ),
            (
                ServeSettings {
                    directory_public_url: Some("ftp://annuaire.example".into()),
                    ..ServeSettings::default()
                },
                "--directory-public-url",
            ),
        ] {
            let s = Settings {
                serve,
                ..Settings::default()
            };
            let e = Config::resolve(s, None).unwrap_err().to_string();
            assert!(e.contains(flag), "{e}");
        }
    }

    #[test]
    fn the_directory_and_the_offer_may_run_elsewhere() {
        let s = Settings {
            serve: ServeSettings {
                directory_url: Some("http://coeur-annuaire.coeur.svc/".into()),
                directory_public_url: Some("https://annuaire.example.org".into()),
                // Their default listeners' addresses are then free for others.
                directory_listen: Some(DEFAULT_LISTEN.parse().unwrap()),
                offer_url: Some("https://offre.example.org/".into()),
                offer_public_url: Some("https://ignored.example.org".into()),
                ..ServeSettings::default()
            },
            ..Settings::default()
        };
        let c = Config::resolve(s, None).unwrap();
        let d = c.directory.unwrap();
        assert_eq!(
            d.elsewhere.as_deref(),
            Some("http://coeur-annuaire.coeur.svc")
        );
        assert_eq!(d.api_url(), "http://coeur-annuaire.coeur.svc");
        assert_eq!(d.public_url, "https://annuaire.example.org");
        let o = c.offer.unwrap();
        assert!(o.elsewhere);
        assert_eq!(
            o.public_url, "https://offre.example.org",
            "the offer's URL is its pages'"
        );

        // The directory's public URL is its URL unless given.
        let s = Settings {
            serve: ServeSettings {
                directory_url: Some("https://annuaire.example.org".into()),
                ..ServeSettings::default()
            },
            ..Settings::default()
        };
        let d = Config::resolve(s, None).unwrap().directory.unwrap();
        assert_eq!(d.public_url, "https://annuaire.example.org");
        let served = Config::resolve(Settings::default(), None)
            .unwrap()
            .directory
            .unwrap();
        assert_eq!(served.elsewhere, None);
        assert_eq!(served.api_url(), served.public_url);

        for (serve, flag) in [
            (
                ServeSettings {
                    directory_url: Some("annuaire".into()),
                    ..ServeSettings::default()
                },
                "--directory-url",
            ),
            (
                ServeSettings {
                    offer_url: Some("file:///offre".into()),
                    ..ServeSettings::default()
                },
                "--offer-url",
            ),
        ] {
            let s = Settings {
                serve,
                ..Settings::default()
            };
            let e = Config::resolve(s, None).unwrap_err().to_string();
            assert!(e.contains(flag), "{e}");
        }
    }

    #[test]
    fn listener_limits_have_defaults_and_refuse_zero() {
        let c = Config::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.limits.handshake_timeout, Duration::from_secs(10));
        assert_eq!(c.limits.header_read_timeout, Duration::from_secs(30));
        assert_eq!(c.limits.max_connections, 512);
        assert_eq!(c.card_limits.handshake_timeout, Duration::from_secs(120));
        assert_eq!(c.card_limits.max_connections, 512);
        assert!(c.admin_listen.is_none(), "no admin listener unless asked");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("coeur.toml");
        std::fs::write(
            &p,
            "max_connections = 64\nheader_read_timeout_secs = 5\ncard_handshake_timeout_secs = 60\n\
             admin_listen = \"127.0.0.1:9090\"\n",
        )
        .unwrap();
        let c = Config::resolve(Settings::default(), Some(&p)).unwrap();
        assert_eq!(c.limits.max_connections, 64);
        assert_eq!(c.card_limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.card_limits.handshake_timeout, Duration::from_secs(60));
        assert_eq!(c.admin_listen, Some("127.0.0.1:9090".parse().unwrap()));
        for (serve, flag) in [
            (
                ServeSettings {
                    max_connections: Some(0),
                    ..ServeSettings::default()
                },
                "--max-connections",
            ),
            (
                ServeSettings {
                    handshake_timeout_secs: Some(0),
                    ..ServeSettings::default()
                },
                "--handshake-timeout",
            ),
        ] {
            let given = Settings {
                serve,
                ..Settings::default()
            };
            let e = format!("{:#}", Config::resolve(given, None).unwrap_err());
            assert!(e.contains(flag), "{e}");
        }
    }
}
