//! FranceConnect v1: an upstream given its endpoints (no discovery) whose ID tokens are signed
//! HS256 with coeur's client secret. A login links by card then logs in; a token signed
//! otherwise (another secret, an asymmetric key, `none`) is refused; and where published keys
//! are expected, an HS256 token MACed with the public key is refused (algorithm confusion).

use super::*;

/// A login through the upstream `named` as `citizen`, up to coeur's answer to the callback.
async fn login_at(fc: &Fc, b: &Browser, named: &str, citizen: &str) -> Answer {
    let to = to_named(fc, b, None, Some(named)).await;
    assert!(to.path().ends_with("/api/v1/authorize"), "{to}");
    let cb = through_upstream(b, &to, Some(citizen)).await;
    answer(b.http.get(cb).send().await.expect("callback")).await
}

both_dbs!(
    franceconnect_v1_hs256_links_by_card_then_logs_in,
    |db| async move {
        let fc = start(db, json!({})).await;
        // The upstream has no discovery document: coeur uses the endpoints it was given.
        let wk = reqwest::get(format!("{}/.well-known/openid-configuration", fc.v1.issuer))
            .await
            .expect("upstream");
        assert_eq!(wk.status().as_u16(), 404);

        let b = fc.s.browser();
        let first = login_at(&fc, &b, "fcv1", "angela").await;
        let handle = link_handle(&first);
        let a = post_link(&fc, &b, &handle, "card").await;
        assert_eq!(a.status, 303, "to the card listener: {}", a.body);
        let root = root_pem(&fc.s).await;
        let c = card(&fc.s, &identity(&fc.s, NATIONAL_ID).await).await;
        let leg = card_leg(
            &card_client(&root, Some(&c.auth.identity_pem)),
            a.location.as_deref().expect("to"),
        )
        .await;
        back_to_client(&b, &back_url(&fc.s, "edit", &leg)).await;
        let audit = audited(&fc, "upstream.link").await;
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert!(audit[0].0.starts_with("edit/fcv1/b6048e"), "{audit:?}");

        // Next time FranceConnect v1 alone logs the professional in, at eidas1.
        let b = fc.s.browser();
        let a = login_at(&fc, &b, "fcv1", "angela").await;
        assert_eq!(a.status, 303, "{}", a.body);
        let cb = url::Url::parse(a.location.as_deref().expect("to the client")).expect("URL");
        assert!(cb.as_str().starts_with(REDIRECT), "{cb}");
        let tokens = redeem_in(&fc.s, "edit", &param(&cb, "code").expect("code")).await;
        let c = id_claims(&fc, &tokens).await;
        assert_eq!(c["authMode"], "FRANCECONNECT", "{c}");
        assert_eq!(c["acr"], "eidas1", "{c}");
        assert!(
            c["sub"].as_str().is_some_and(|s| s.ends_with(NATIONAL_ID)),
            "{c}"
        );
    }
);

both_dbs!(
    franceconnect_v1_tokens_signed_otherwise_are_refused,
    |db| async move {
        let fc = start(db, json!({})).await;
        for (mode, detail) in [
            ("foreign", "HS256 MAC does not verify"),
            ("es256", "where HS256 with the client secret is expected"),
            ("none", "where HS256 with the client secret is expected"),
            ("nonce", "nonce mismatch"),
            ("expired", "expired or not yet valid"),
        ] {
            fc.v1.tamper(mode).await;
            let a = login_at(&fc, &fc.s.browser(), "fcv1", "angela").await;
            assert_eq!(a.status, 400, "{mode}: {}", a.body);
            assert!(a.location.is_none(), "{mode}: {a:?}");
            assert!(a.body.contains(&fr("fc.refused")), "{mode}: {}", a.body);
            assert!(a.body.contains(detail), "{mode}: {}", a.body);
        }
        // Algorithm confusion where published keys are expected (FranceConnect v2): an HS256
        // token whose MAC key is the upstream's public key is refused, never verified.
        fc.v2.tamper("confused").await;
        let a = fc_login(&fc, &fc.s.browser(), Some("eidas1"), "angela").await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(
            a.body
                .contains("HS256 where the upstream signs with published keys"),
            "{}",
            a.body
        );
        for t in [
            "upstream_links",
            "upstream_pending_links",
            "upstream_sessions",
            "sessions",
        ] {
            assert_eq!(rows(&fc, t).await, 0, "{t} is empty");
        }
    }
);

both_dbs!(
    inconsistent_v1_settings_are_refused_at_start,
    |db| async move {
        let v1 = v1_toml("https://fcp.example");
        let refused = |toml: String| {
            let e = coeur::oauth::realm::Realm::parse(
                "realms/edit.toml",
                &realm_with(&toml),
                "http://127.0.0.1:1",
            )
            .expect_err("refused");
            let all = e.to_string();
            assert!(
                all.contains("edit.toml") && all.contains("\"fcv1\""),
                "{all}"
            );
            e.reason
        };
        // HS256 with encryption.
        let enc = v1.replace(
            "id_token_signed_response_alg",
            "decryption_keys = [\"k.pem\"]\nid_token_signed_response_alg",
        );
        assert!(refused(enc).contains("not encrypted"));
        // FranceConnect+ with HS256.
        let plus = v1
            .replace("kind = \"franceconnect\"", "kind = \"franceconnect-plus\"")
            .replace("acr_values = \"eidas1\"", "acr_values = \"eidas2\"");
        assert!(refused(plus).contains("never HS256"));
        // Missing endpoints, in full or one of them.
        let cut = v1.find("[upstreams.endpoints]").expect("endpoints");
        assert!(refused(v1[..cut].to_owned()).contains("no discovery"));
        let no_token = v1.replace("token = \"https://fcp.example/api/v1/token\"\n", "");
        let e = coeur::oauth::realm::Realm::parse(
            "realms/edit.toml",
            &realm_with(&no_token),
            "http://127.0.0.1:1",
        )
        .expect_err("refused")
        .to_string();
        assert!(e.contains("edit.toml") && e.contains("token"), "{e}");
        // `none`, or an asymmetric algorithm named here.
        assert!(refused(v1.replace("\"HS256\"", "\"none\"")).contains("only \"HS256\""));
        // A secret too short for HMAC-SHA256: refused when the server starts.
        let realms = tempfile::tempdir().expect("realms dir");
        let dir = realms.path();
        std::fs::write(dir.join("fcv1.secret"), "short").expect("secret");
        std::fs::write(dir.join("edit.toml"), realm_with(&v1)).expect("realm");
        let e = match TestServer::try_start_with(db, dir, |_| {}).await {
            Ok(_) => panic!("started with a short HS256 secret"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            e.contains("edit.toml") && e.contains("\"fcv1\"") && e.contains("32 bytes"),
            "{e}"
        );
        assert!(!e.contains("short"), "the secret is not shown: {e}");
    }
);
