//! The professionals' space and the provider's identity sync together, on SQLite and
//! PostgreSQL: a professional of the directory, synced into the provider, logs in to the
//! directory's space through coeur and changes their e-mail and phone in the contact form;
//! the next increment of the sync (not a full resync) brings them into the provider's
//! identity, which the userinfo's `email` claim then carries.

use super::space::{browser, csrf, log_in_as, post_contact};
use super::sync::{
    GUIGNARD, LEFEVRE, Served, import, login_userinfo, mssante_file, pa_file, pa_row,
    serve_directory,
};
use crate::both_dbs;
use crate::support::*;
use coeur::common::random::Clock;

both_dbs!(
    contact_details_changed_in_the_space_reach_the_provider_by_an_increment,
    |db| async move {
        let s = TestServer::start(db).await;
        s.add_rp("edit").await;
        let Served {
            sync, store, base, ..
        } = serve_directory(&s, db).await;
        let now = s.clock.now();
        import(
            &store,
            "PS_LibreAcces_Personne_activite_202601010000.txt",
            pa_file(&[
                pa_row(GUIGNARD, "M", "GUIGNARD", "ERIC", "10"),
                pa_row(LEFEVRE, "MME", "LEFEVRE", "HELENE", "21"),
            ]),
            now - 100,
        )
        .await;
        import(
            &store,
            "Extraction_Correspondance_MSSante_202601010000.txt",
            mssante_file(GUIGNARD, "eric.guignard@medecin.mssante.fr"),
            now - 100,
        )
        .await;
        let first = sync.pass(false).await.expect("first pass");
        assert!(first.full, "{first:?}");
        assert_eq!((first.added, first.refused), (2, 0), "{first:?}");
        let p = &s.state.store;
        let before = p
            .identity("edit", GUIGNARD)
            .await
            .unwrap()
            .expect("identity");
        assert_eq!(
            before.email.as_deref(),
            Some("eric.guignard@medecin.mssante.fr")
        );
        assert_eq!(before.phone, None);

        // A minute later the professional logs in to the space and gives their contact details.
        s.clock.advance(60);
        let b = browser();
        let html = log_in_as(&s, &b, &base, GUIGNARD).await;
        assert!(html.contains(GUIGNARD), "{html}");
        let r = post_contact(
            &b,
            &base,
            &[
                ("csrf", &csrf(&html)),
                ("email", " Eric.Guignard@Cabinet-Des-Lilas.FR "),
                ("phone", "06 12 34 56 78"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        assert_eq!(location(&r).as_str(), format!("{base}/espace?enregistre=1"));

        // The next increment takes that professional, and only them.
        let inc = sync.pass(false).await.expect("increment");
        assert!(!inc.full, "an increment: {inc:?}");
        assert_eq!(
            (
                inc.read,
                inc.added,
                inc.updated,
                inc.deactivated,
                inc.refused
            ),
            (1, 0, 1, 0, 0),
            "{inc:?}"
        );
        let after = p
            .identity("edit", GUIGNARD)
            .await
            .unwrap()
            .expect("identity");
        assert_eq!(
            after.email.as_deref(),
            Some("Eric.Guignard@cabinet-des-lilas.fr"),
            "the contact details of the space come first"
        );
        assert_eq!(after.phone.as_deref(), Some("+33612345678"));
        assert!(after.active);
        assert_eq!(
            p.identity_source("edit", GUIGNARD)
                .await
                .unwrap()
                .as_deref(),
            Some("directory")
        );
        let lefevre = p
            .identity("edit", LEFEVRE)
            .await
            .unwrap()
            .expect("identity");
        assert_eq!((lefevre.email, lefevre.phone), (None, None));

        // A new login: the userinfo's e-mail is the new one.
        let u = login_userinfo(&s, GUIGNARD).await.expect("login");
        assert_eq!(u["SubjectNameID"], GUIGNARD);
        assert_eq!(u["email"], "Eric.Guignard@cabinet-des-lilas.fr");

        // Nothing more changed: the following increment writes nothing.
        s.clock.advance(30);
        let idle = sync.pass(false).await.expect("increment");
        assert!(!idle.full);
        assert_eq!(
            (idle.added, idle.updated, idle.deactivated),
            (0, 0, 0),
            "{idle:?}"
        );
    }
);
