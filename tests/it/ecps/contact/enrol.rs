//! Enrolment by e-mail and SMS: the e-mail over STARTTLS with AUTH, then the device approves
//! a login; the CLI enrols the same way; every refusal (e-mail code alone, wrong SMS codes up
//! to the fifth, reuse, expiry, mixed forms) enrols nothing; unknown national ids and
//! identities without a phone get the same answer and no message; nothing secret is logged.

use super::*;
use coeur::oauth::ecps::contact::CONTACT_ACTIVATION_TTL;
use sqlx::Row as _;

/// The enrolled device of a `201` answer.
async fn device_of(r: reqwest::Response, key: EcdsaKeyPair) -> Device {
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.expect("JSON");
    Device {
        key,
        id: v["device_id"].as_str().expect("device_id").to_owned(),
        credential: v["credential"].as_str().expect("credential").to_owned(),
    }
}

/// The wrong second codes counted on the activation of `mail_code`.
async fn attempts(s: &TestServer, mail_code: &str) -> i64 {
    let hash = coeur::oauth::jose::token_hash(mail_code);
    sqlx::query("SELECT attempts FROM ecps_activations WHERE code_hash = $1")
        .bind(hash)
        .fetch_one(s.state.store.db().pool())
        .await
        .expect("the activation")
        .try_get("attempts")
        .expect("attempts")
}

both_dbs!(ecps_contact_enrolment_by_mail_and_sms, |db| async move {
    let Some(mut smtp) = SmtpSink::start(Mode::StartTls, true).await else {
        return;
    };
    let mut sms = SmsSink::start().await;
    let s = server(db, &smtp, &sms, true).await;
    let me = me(&s).await;

    let r = http()
        .post(api(&s, "edit", "activations"))
        .header("accept-language", "fr-FR")
        .json(&json!({ "national_id": NATIONAL_ID }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "expires_in": 900 })
    );

    // The e-mail: over TLS, authenticated, to the identity's address, in French, with the
    // code in a link to the web app and in text.
    let mail = smtp.next().await;
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["auth"], SMTP_USER, "{mail}");
    assert_eq!(mail["from"], FROM);
    assert_eq!(mail["to"], json!([me.email.as_deref().unwrap()]));
    assert_eq!(mail["content_type"], "text/plain");
    assert!(mail["sender"].as_str().unwrap().contains(FROM), "{mail}");
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Activation de votre e-CPS"),
        "{subject}"
    );
    let code = mail_code(&mail);
    let body = mail["body"].as_str().unwrap();
    let link = format!("{}/auth/realms/edit/ecps/app/#activate={code}", s.base);
    assert!(body.contains(&link), "{body}");
    assert!(
        body.contains(&format!(
            "saisissez dans l'application e-CPS le code d'activation : {code}"
        )),
        "{body}"
    );
    assert!(body.contains(&me.given_name), "{body}");
    assert!(body.contains("15 minutes"), "{body}");
    assert_eq!(code.len(), 12, "{code}");

    // The SMS: to the identity's phone in E.164, with the gateway's token.
    let text = sms.next().await;
    assert_eq!(text.bearer.as_deref(), Some(SMS_TOKEN));
    let phone = coeur::oauth::ecps::contact::sms_number(me.phone.as_deref().unwrap()).unwrap();
    assert_eq!(text.to, phone);
    let second = sms_code(&text);
    assert!(!body.contains(&second), "the SMS code is not in the e-mail");
    assert!(
        !text.text.contains(&code),
        "the e-mail code is not in the SMS"
    );

    let row = sqlx::query("SELECT kind, national_id, expires_at - created_at AS ttl FROM ecps_activations WHERE code_hash = $1")
        .bind(coeur::oauth::jose::token_hash(&code))
        .fetch_one(s.state.store.db().pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<String, _>("kind").unwrap(), "contact");
    assert_eq!(
        row.try_get::<String, _>("national_id").unwrap(),
        NATIONAL_ID
    );
    assert_eq!(
        row.try_get::<i64, _>("ttl").unwrap(),
        CONTACT_ACTIVATION_TTL
    );

    // The e-mail code alone activates nothing.
    let key = device_key();
    let r = enrol_contact(&s, &code, None, &key).await;
    expect_error(r, 400, "invalid_activation", "the e-mail code alone").await;
    // Nor the e-mail code with an empty or another form's second code.
    let r = enrol_contact(&s, &code, Some("  "), &key).await;
    expect_error(r, 400, "invalid_activation", "an empty SMS code").await;
    let r = enrol_contact(&s, &format!("{code}.{second}"), Some(&second), &key).await;
    expect_error(r, 400, "invalid_activation", "both forms at once").await;
    assert_eq!(attempts(&s, &code).await, 0);
    assert!(
        s.state
            .store
            .devices("edit", NATIONAL_ID)
            .await
            .unwrap()
            .is_empty()
    );

    // Both codes, typed as a person would (lower case, grouped): enrolled.
    let typed = format!("{}-{}", &code[..6].to_lowercase(), &code[6..]);
    let spaced = format!("{} {}", &second[..4], &second[4..]);
    let r = enrol_contact(&s, &typed, Some(&spaced), &key).await;
    let device = device_of(r, key).await;
    // Used once.
    let r = enrol_contact(&s, &code, Some(&second), &device_key()).await;
    expect_error(r, 400, "invalid_activation", "a used activation").await;

    // The device approves a login.
    let (b, waiting) = start_login(&s, NATIONAL_ID).await;
    let pending = device.pending(&s).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let r = device.decide(&s, &pending[0], Decision::Approve).await;
    assert_eq!(r.status().as_u16(), 200);
    let (status, cb) = check(&b, &waiting).await;
    assert_eq!(status, 303, "{cb}");
    assert!(cb.starts_with(REDIRECT), "{cb}");
    let cb = url::Url::parse(&cb).unwrap();
    let tokens = redeem_in(&s, "edit", &param(&cb, "code").unwrap()).await;
    let c = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(c["authMode"], "MOBILE", "{c}");

    // In English when the device asks in English.
    let r = http()
        .post(api(&s, "edit", "activations"))
        .header("accept-language", "en")
        .form(&[("national_id", NATIONAL_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "a form works as well as JSON");
    let mail = smtp.next().await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .starts_with("Activating your e-CPS"),
        "{mail}"
    );
    let text = sms.next().await;
    assert!(
        text.text.starts_with("e-CPS: your confirmation code"),
        "{text:?}"
    );

    // Nothing secret in the logs: neither the relay's password, the gateway's token, nor any
    // code.
    let logs = coeur_testkit::logs::captured();
    assert!(logs.contains("e-mail sent"), "the delivery is logged");
    for secret in [
        SMTP_PASSWORD,
        SMS_TOKEN,
        &code,
        &second,
        &mail_code(&mail),
        &sms_code(&text),
    ] {
        assert!(!logs.contains(secret), "{secret} is in the logs");
    }
});

both_dbs!(ecps_contact_codes_refused, |db| async move {
    let Some(mut smtp) = SmtpSink::start(Mode::Plain, false).await else {
        return;
    };
    let mut sms = SmsSink::start().await;
    let s = server(db, &smtp, &sms, true).await;

    // Four wrong SMS codes are counted; the right one still enrols.
    let (code, second) = codes_for(&s, &mut smtp, &mut sms, NATIONAL_ID).await;
    let key = device_key();
    for n in 1..=4 {
        let r = enrol_contact(&s, &code, Some("00000000"), &key).await;
        expect_error(r, 400, "invalid_activation", "a wrong SMS code").await;
        assert_eq!(attempts(&s, &code).await, n);
    }
    let r = enrol_contact(&s, &code, Some(&second), &key).await;
    assert_eq!(r.status().as_u16(), 201, "the fifth try is the right code");

    // Five wrong SMS codes end the activation: the right one is refused after them.
    let (code, second) = codes_for(&s, &mut smtp, &mut sms, NATIONAL_ID).await;
    for _ in 0..5 {
        let r = enrol_contact(&s, &code, Some("12345678"), &key).await;
        expect_error(r, 400, "invalid_activation", "a wrong SMS code").await;
    }
    assert_eq!(attempts(&s, &code).await, 5);
    let r = enrol_contact(&s, &code, Some(&second), &key).await;
    expect_error(r, 400, "invalid_activation", "after five wrong codes").await;
    assert_eq!(
        attempts(&s, &code).await,
        5,
        "a dead activation counts no more"
    );

    // Expired after fifteen minutes.
    let (code, second) = codes_for(&s, &mut smtp, &mut sms, NATIONAL_ID).await;
    s.clock.advance(CONTACT_ACTIVATION_TTL);
    let r = enrol_contact(&s, &code, Some(&second), &key).await;
    expect_error(r, 400, "invalid_activation", "an expired activation").await;
    assert_eq!(
        s.state
            .store
            .devices("edit", NATIONAL_ID)
            .await
            .unwrap()
            .len(),
        1
    );

    // An unknown national id and an identity without a phone get the same answer, and no
    // message leaves: the next message is the next real one's.
    let nobody = stranger(&s).await;
    ask_ok(&s, &nobody).await;
    let edit = coeur::common::identity::edit_test_identities().remove(0);
    assert!(edit.phone.is_none() && edit.email.is_some());
    ask_ok(&s, edit.national_id.as_str()).await;
    let mut no_mail = identity(&s, "899700366240").await;
    no_mail.email = None;
    s.put_identities("edit", vec![no_mail.clone()])
        .await
        .unwrap();
    ask_ok(&s, no_mail.national_id.as_str()).await;
    assert!(
        smtp.any_within(Duration::from_secs(2)).await.is_none(),
        "no e-mail"
    );
    assert!(
        sms.any_within(Duration::from_millis(100)).await.is_none(),
        "no SMS"
    );
    let me = me(&s).await;
    ask_ok(&s, NATIONAL_ID).await;
    assert_eq!(
        smtp.next().await["to"],
        json!([me.email.as_deref().unwrap()])
    );
    sms.next().await;

    // Bad requests, each with a clear error.
    for (body, what) in [
        ("{}", "no national id"),
        ("{\"national_id\":\"12\"}", "a malformed national id"),
        (
            "{\"national_id\":\"899700218896\",\"x\":1}",
            "an unknown member",
        ),
        ("not json", "not JSON"),
    ] {
        let r = http()
            .post(api(&s, "edit", "activations"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_request", what).await;
    }
    let r = http()
        .post(format!("{}/auth/realms/nowhere/ecps/activations", s.base))
        .json(&json!({ "national_id": NATIONAL_ID }))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "unknown_realm", "an unknown realm").await;
});

both_dbs!(
    ecps_contact_mail_over_implicit_tls_and_cli_enrolment,
    |db| async move {
        let Some(mut smtp) = SmtpSink::start(Mode::Tls, true).await else {
            return;
        };
        let mut sms = SmsSink::start().await;
        let s = server(db, &smtp, &sms, true).await;
        let (code, second) = codes_for(&s, &mut smtp, &mut sms, NATIONAL_ID).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("device.json");
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_coeur"))
            .args(["ecps", "--key-file"])
            .arg(&file)
            .args([
                "enrol", "--server", &s.base, "--realm", "edit", "--code", &code,
            ])
            .args(["--second-code", &second, "--name", "cli by mail"])
            .env_remove("COEUR_CONFIG")
            .env_remove("COEUR_ECPS_KEY_FILE")
            .env("COEUR_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("enrolled: device "));
        let devices = s.state.store.devices("edit", NATIONAL_ID).await.unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].name, "cli by mail");
    }
);

both_dbs!(
    ecps_contact_failures_are_logged_without_secrets,
    |db| async move {
        // The relay's certificate is not trusted (its CA not given): the message is not sent, and
        // the log says why without the password or the code.
        let Some(mut smtp) = SmtpSink::start(Mode::StartTls, true).await else {
            return;
        };
        let mut sms = SmsSink::start().await;
        let s = server(db, &smtp, &sms, false).await;
        ask_ok(&s, NATIONAL_ID).await;
        let text = sms.next().await;
        assert!(smtp.any_within(Duration::from_secs(2)).await.is_none());
        let mut logs = String::new();
        for _ in 0..100 {
            logs = coeur_testkit::logs::captured();
            if logs.contains("e-mail not sent") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(logs.contains("e-mail not sent"), "{logs}");
        assert!(
            !logs.contains(SMTP_PASSWORD) && !logs.contains(&sms_code(&text)),
            "{logs}"
        );
    }
);
