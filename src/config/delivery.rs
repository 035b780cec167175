//! The settings of outgoing messages (SMTP relay, SMS gateway) and of trusted reverse
//! proxies, declared once here ([`MessagingSettings`], part of `serve`'s flags and of the
//! file) with their secrets in [`super::Secrets`] (environment only), and resolved into the
//! provider's typed settings.

use super::Secrets;
use anyhow::{Context, Result, bail};
use coeur_provider::delivery::{
    DeliverySettings, HttpSmsSettings, SmtpCredentials, SmtpSettings, SmtpTls,
};
use coeur_web::proxy::{ForwardedHeader, TrustedProxies};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

layered! {
    /// E-mail and SMS to professionals (e-CPS enrolment by contact details) and trusted
    /// reverse proxies: flags of `serve`, file keys at the top level like the others.
    #[derive(Debug, Default, Clone, clap::Args, Deserialize)]
    pub struct MessagingSettings {
        /// SMTP relay for e-CPS activation e-mails (host name or address); without it e-mails
        /// are not sent (the log says so). User name and password come from
        /// COEUR_SMTP_USERNAME and COEUR_SMTP_PASSWORD only.
        #[arg(long, env = "COEUR_SMTP_HOST")]
        pub smtp_host: Option<String>,
        /// Its port (default 587 with starttls, 465 with tls, 25 with none).
        #[arg(long, env = "COEUR_SMTP_PORT")]
        pub smtp_port: Option<u16>,
        /// How the relay connection is protected: starttls (default, required), tls, none.
        #[arg(long, env = "COEUR_SMTP_TLS", value_enum)]
        pub smtp_tls: Option<SmtpTlsMode>,
        /// The e-mails' sender (From), e.g. "coeur <no-reply@example.org>".
        #[arg(long, env = "COEUR_SMTP_FROM")]
        pub smtp_from: Option<String>,
        /// CA certificates (PEM) trusted for the relay instead of the system's roots.
        #[arg(long, env = "COEUR_SMTP_CA_FILE")]
        pub smtp_ca_file: Option<PathBuf>,
        /// Timeout in seconds of each SMTP command (default 10).
        #[arg(long = "smtp-timeout", env = "COEUR_SMTP_TIMEOUT")]
        pub smtp_timeout_secs: Option<u64>,
        /// SMS gateway (POST {to, text} with the bearer token of COEUR_SMS_TOKEN); https, or
        /// http to a loopback address. Without it SMS are not sent (the log says so).
        #[arg(long, env = "COEUR_SMS_URL")]
        pub sms_url: Option<String>,
        /// Reverse proxies whose forwarding header rate limits believe: addresses or CIDR
        /// networks, comma-separated (default: none, the connection's peer is the client).
        #[arg(long, env = "COEUR_TRUSTED_PROXIES", value_delimiter = ',')]
        pub trusted_proxies: Option<Vec<String>>,
        /// The header those proxies write: x-forwarded-for (default) or forwarded (RFC 7239).
        #[arg(long, env = "COEUR_FORWARDED_HEADER", value_enum)]
        pub forwarded_header: Option<ForwardedHeaderName>,
    }
}

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
    serve: &MessagingSettings,
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
    serve: &MessagingSettings,
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
pub(super) fn trusted_proxies(serve: &MessagingSettings) -> Result<TrustedProxies> {
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

    fn with(messaging: MessagingSettings, secrets: Secrets) -> Result<Config> {
        Config::resolve(
            Settings {
                messaging,
                secrets,
                ..Settings::default()
            },
            None,
        )
    }

    #[test]
    fn messages_are_off_unless_configured() {
        let c = with(MessagingSettings::default(), Secrets::default()).unwrap();
        assert!(c.delivery.smtp.is_none() && c.delivery.sms.is_none());
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn smtp_and_sms_settings_are_checked_and_secrets_never_printed() {
        let serve = MessagingSettings {
            smtp_host: Some("smtp.example".into()),
            smtp_from: Some("coeur <no-reply@coeur.example>".into()),
            sms_url: Some("https://sms.example/send".into()),
            trusted_proxies: Some(vec!["10.0.0.0/8".into()]),
            ..MessagingSettings::default()
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
        let bad = |serve: MessagingSettings, secrets: Secrets, want: &str| {
            let e = format!("{:#}", with(serve, secrets).unwrap_err());
            assert!(e.contains(want), "{e}");
        };
        bad(
            MessagingSettings {
                smtp_tls: Some(SmtpTlsMode::None),
                ..serve.clone()
            },
            secrets.clone(),
            "over TLS only",
        );
        bad(
            MessagingSettings {
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
            MessagingSettings {
                smtp_host: None,
                ..serve.clone()
            },
            secrets.clone(),
            "need --smtp-host",
        );
        bad(
            MessagingSettings {
                trusted_proxies: Some(vec!["proxy.example".into()]),
                ..serve
            },
            secrets,
            "--trusted-proxies",
        );
    }

    #[test]
    fn the_file_names_the_relay_but_never_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("coeur.toml");
        std::fs::write(
            &p,
            "smtp_host = \"smtp.example\"\nsmtp_tls = \"tls\"\nsmtp_from = \"a@b.example\"\n\
             trusted_proxies = [\"10.0.0.1\"]\nforwarded_header = \"forwarded\"\n",
        )
        .unwrap();
        let c = Config::resolve(Settings::default(), Some(&p)).unwrap();
        let smtp = c.delivery.smtp.as_ref().unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example", 465));
        assert!(c.trusted_proxies.trusts("10.0.0.1".parse().unwrap()));
        for key in ["smtp_password", "smtp_username", "sms_token"] {
            std::fs::write(&p, format!("{key} = \"x\"\n")).unwrap();
            let e = format!(
                "{:#}",
                Config::resolve(Settings::default(), Some(&p)).unwrap_err()
            );
            assert!(e.contains(&format!("unknown field `{key}`")), "{e}");
        }
    }
}
