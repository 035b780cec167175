//! E-mail over SMTP to the configured relay, with lettre on rustls and aws-lc-rs (no OpenSSL,
//! no ring): STARTTLS (required, never opportunistic), implicit TLS, or plain SMTP for a
//! local relay; credentials (only over TLS) from the environment.

use super::{Mail, MailSender};
use anyhow::{Context, Result, bail};
use futures_util::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network); no credentials allowed.
    None,
    /// STARTTLS, required: the message is not sent if the relay does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// The relay's user name and password (from the environment).
#[derive(Clone)]
pub struct SmtpCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpCredentials(<set>)")
    }
}

/// The relay and how coeur talks to it.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Host name (or IP address) of the relay; also the name its certificate must carry.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection protection.
    pub tls: SmtpTls,
    /// The sender (`From`), an address or `Name <address>`.
    pub from: String,
    /// User name and password, if the relay wants them.
    pub credentials: Option<SmtpCredentials>,
    /// CA certificates (PEM) trusted for the relay instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Timeout of each SMTP command.
    pub timeout: Duration,
    /// The name coeur gives in `EHLO`.
    pub hello_name: String,
}

impl SmtpSettings {
    /// Checks what cannot work or would leak: credentials over plain SMTP, a sender that is
    /// not an address.
    pub fn check(&self) -> Result<()> {
        if self.host.trim().is_empty() {
            bail!("the SMTP relay's host is empty");
        }
        if self.credentials.is_some() && self.tls == SmtpTls::None {
            bail!("SMTP credentials are sent over TLS only: use starttls or tls");
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| anyhow::anyhow!("the e-mail sender {:?}: {e}", self.from))?;
        Ok(())
    }
}

/// The SMTP sender.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// The transport for `s` (nothing is connected until a message is sent).
    pub fn open(s: &SmtpSettings) -> Result<Self> {
        s.check()?;
        let params = || -> Result<TlsParameters> {
            let mut b = TlsParameters::builder(s.host.clone());
            if let Some(pem) = &s.ca_pem {
                b = b.certificate_store(CertificateStore::None);
                b = b.add_root_certificate(
                    Certificate::from_pem(pem).context("the SMTP CA certificates")?,
                );
            }
            Ok(b.build_rustls()?)
        };
        let tls = match s.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(params()?),
            SmtpTls::Tls => Tls::Wrapper(params()?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .tls(tls)
            .timeout(Some(s.timeout))
            .hello_name(client_id(&s.hello_name));
        if let Some(c) = &s.credentials {
            b = b
                .credentials(Credentials::new(c.username.clone(), c.password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Smtp {
            transport: b.build(),
            from: s.from.parse()?,
        })
    }
}

/// The `EHLO` name: a domain, or an address literal (`[192.0.2.1]`) for an address.
fn client_id(name: &str) -> ClientId {
    match name.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => ClientId::Ipv4(a),
        Ok(std::net::IpAddr::V6(a)) => ClientId::Ipv6(a),
        Err(_) => ClientId::Domain(name.to_owned()),
    }
}

impl MailSender for Smtp {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let to: Mailbox = mail
                .to
                .parse()
                .map_err(|_| anyhow::anyhow!("the recipient is not an e-mail address"))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(mail.subject.clone())
                .header(ContentType::TEXT_PLAIN)
                .body(mail.body.clone())?;
            // lettre's errors carry the relay's answer, never the credentials or the message.
            self.transport.send(message).await?;
            Ok(())
        })
    }

    fn delivers(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            from: "coeur <no-reply@coeur.example>".into(),
            credentials: Some(SmtpCredentials {
                username: "coeur".into(),
                password: "hunter2".into(),
            }),
            ca_pem: None,
            timeout: Duration::from_secs(5),
            hello_name: "coeur.example".into(),
        }
    }

    #[test]
    fn credentials_travel_over_tls_only_and_are_never_printed() {
        assert!(settings().check().is_ok());
        assert!(!format!("{:?}", settings()).contains("hunter2"));
        let plain = SmtpSettings {
            tls: SmtpTls::None,
            ..settings()
        };
        assert!(plain.check().is_err());
        let anonymous = SmtpSettings {
            credentials: None,
            ..plain
        };
        assert!(anonymous.check().is_ok());
        let bad_from = SmtpSettings {
            from: "not an address".into(),
            ..settings()
        };
        assert!(bad_from.check().is_err());
    }
}
