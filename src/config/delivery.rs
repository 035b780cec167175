//! The settings of outgoing messages (SMTP relay, SMS gateway) and of trusted reverse
//! proxies, resolved into the provider's typed settings. The flags are declared with the
//! others in [`super::ServeSettings`], the secrets in [`super::Secrets`] (environment only).

use super::{Secrets, ServeSettings};
use anyhow::{Context, Result, bail};
use coeur_provider::delivery::{
    DeliverySettings, HttpSmsSettings, SmtpCredentials, SmtpSettings, SmtpTls,
};
use coeur_web::proxy::{ForwardedHeader, TrustedProxies};
use serde::Deserialize;
use std::time::Duration;

/// `--smtp-tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTlsMode {
    /// Plain SMTP (a local relay; no credentials).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// `--forwarded-header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeaderName {
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

/// The SMTP relay and SMS gateway, checked; each `None` when not configured.
pub(super) fn settings(
    serve: &ServeSettings,
    secrets: &Secrets,
    public_url: &str,
) -> Result<DeliverySettings> {
    Ok(DeliverySettings {
        smtp: smtp(serve, secrets, public_url)?,
        sms: match &serve.sms_url {
            None => None,
            Some(url) => Some(HttpSmsSettings::new(
                url,
                secrets.sms_token.clone().unwrap_or_default(),
                Duration::from_secs(10),
            )?),
        },
    })
}

fn smtp(
    serve: &ServeSettings,
    secrets: &Secrets,
    public_url: &str,
) -> Result<Option<SmtpSettings>> {
    let Some(host) = serve.smtp_host.clone() else {
        let orphan = serve.smtp_from.is_some()
            || serve.smtp_port.is_some()
            || serve.smtp_tls.is_some()
            || serve.smtp_ca_file.is_some();
        if orphan {
            bail!("the SMTP settings need --smtp-host");
        }
        return Ok(None);
    };
    let tls = match serve.smtp_tls.unwrap_or(SmtpTlsMode::Starttls) {
        SmtpTlsMode::None => SmtpTls::None,
        SmtpTlsMode::Starttls => SmtpTls::StartTls,
        SmtpTlsMode::Tls => SmtpTls::Tls,
    };
    let port = serve.smtp_port.unwrap_or(match tls {
        SmtpTls::None => 25,
        SmtpTls::StartTls => 587,
        SmtpTls::Tls => 465,
    });
    let Some(from) = serve.smtp_from.clone() else {
        bail!("--smtp-from (the e-mails' sender) goes with --smtp-host");
    };
    let credentials = match (&secrets.smtp_username, &secrets.smtp_password) {
        (Some(u), Some(p)) => Some(SmtpCredentials {
            username: u.clone(),
            password: p.clone(),
        }),
        (None, None) => None,
        _ => bail!("COEUR_SMTP_USERNAME and COEUR_SMTP_PASSWORD go together"),
    };
    let ca_pem = match &serve.smtp_ca_file {
        Some(f) => Some(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?),
        None => None,
    };
    let timeout = match serve.smtp_timeout_secs.unwrap_or(10) {
        0 => bail!("--smtp-timeout must be positive"),
        n => Duration::from_secs(n),
    };
    let hello_name = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    let s = SmtpSettings {
        host,
        port,
        tls,
        from,
        credentials,
        ca_pem,
        timeout,
        hello_name,
    };
    s.check()?;
    Ok(Some(s))
}

/// `--trusted-proxies` and `--forwarded-header`.
pub(super) fn trusted_proxies(serve: &ServeSettings) -> Result<TrustedProxies> {
    let header = match serve.forwarded_header {
        None | Some(ForwardedHeaderName::XForwardedFor) => ForwardedHeader::XForwardedFor,
        Some(ForwardedHeaderName::Forwarded) => ForwardedHeader::Forwarded,
    };
    TrustedProxies::parse(serve.trusted_proxies.as_deref().unwrap_or_default(), header)
        .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Settings};
    use super::*;

    fn with(serve: ServeSettings, secrets: Secrets) -> Result<Config> {
        Config::resolve(
            Settings {
                serve,
                secrets,
                ..Settings::default()
            },
            None,
        )
    }

    #[test]
    fn messages_are_off_unless_configured() {
        let c = with(ServeSettings::default(), Secrets::default()).unwrap();
        assert!(c.delivery.smtp.is_none() && c.delivery.sms.is_none());
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn smtp_and_sms_settings_are_checked_and_secrets_never_printed() {
        let serve = ServeSettings {
            smtp_host: Some("smtp.example".into()),
            smtp_from: Some("coeur <no-reply@coeur.example>".into()),
            sms_url: Some("https://sms.example/send".into()),
            trusted_proxies: Some(vec!["10.0.0.0/8".into()]),
            ..ServeSettings::default()
        };
        let secrets = Secrets {
            smtp_username: Some("coeur".into()),
            smtp_password: Some("pa55word".into()),
            sms_token: Some("sms-t0ken".into()),
            ..Secrets::default()
        };
        let c = with(serve.clone(), secrets.clone()).unwrap();
        let smtp = c.delivery.smtp.as_ref().unwrap();
        assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::StartTls));
        assert_eq!(smtp.hello_name, "127.0.0.1");
        assert!(c.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        for printed in [
            format!("{:?}", c.delivery),
            format!("{secrets:?}"),
            format!("{c:?}"),
        ] {
            assert!(
                !printed.contains("pa55word") && !printed.contains("sms-t0ken"),
                "{printed}"
            );
        }
        let bad = |serve: ServeSettings, secrets: Secrets, want: &str| {
            let e = format!("{:#}", with(serve, secrets).unwrap_err());
            assert!(e.contains(want), "{e}");
        };
        bad(
            ServeSettings {
                smtp_tls: Some(SmtpTlsMode::None),
                ..serve.clone()
            },
            secrets.clone(),
            "over TLS only",
        );
        bad(
            ServeSettings {
                smtp_from: None,
                ..serve.clone()
            },
            secrets.clone(),
            "--smtp-from",
        );
        bad(
            serve.clone(),
            Secrets {
                smtp_password: None,
                ..secrets.clone()
            },
            "go together",
        );
        bad(
            serve.clone(),
            Secrets {
                sms_token: None,
                ..secrets.clone()
            },
            "COEUR_SMS_TOKEN",
        );
        bad(
            ServeSettings {
                smtp_host: None,
                ..serve.clone()
            },
            secrets.clone(),
            "need --smtp-host",
        );
        bad(
            ServeSettings {
                trusted_proxies: Some(vec!["proxy.example".into()]),
                ..serve
            },
            secrets,
            "--trusted-proxies",
        );
    }
}
