//! Outgoing messages to professionals: e-mail over SMTP to a configured relay, SMS through a
//! gateway. Used by the e-CPS enrolment by contact details; sent from a spawned task after the
//! activation is committed, each with a timeout, so that a slow relay never holds a request.
//! Failures are logged without the message, the address or any credential.
//!
//! Without a relay or a gateway configured, the message is not sent and the log says so (at
//! `warn`, naming neither the recipient nor the codes).
//!
//! The SMS gateway contract ([`sms::HttpSms`]): `POST <url>` with
//! `Authorization: Bearer <token>` and the JSON body `{"to": "+33612345678", "text": "…"}`
//! (`to` in E.164); any `2xx` answer means accepted, anything else is a failure (logged with
//! its status only).

pub mod sms;
pub mod smtp;

use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

pub use sms::{HttpSmsSettings, SmsGateway};
pub use smtp::{SmtpCredentials, SmtpSettings, SmtpTls};

/// How messages leave: both channels' settings (`None`: that channel is not configured).
#[derive(Debug, Clone, Default)]
pub struct DeliverySettings {
    /// The SMTP relay.
    pub smtp: Option<SmtpSettings>,
    /// The SMS gateway.
    pub sms: Option<HttpSmsSettings>,
}

/// An e-mail to send: one recipient, a subject, a plain-text body.
#[derive(Clone)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Body (plain text, UTF-8).
    pub body: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mail(..)")
    }
}

/// Something that sends e-mail.
pub trait MailSender: Send + Sync {
    /// Sends `mail`.
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Whether mail really leaves (false: only logged as not sent).
    fn delivers(&self) -> bool;
}

/// No relay configured: says in the log that the e-mail is not sent.
struct NoMail;

impl MailSender for NoMail {
    fn send<'a>(&'a self, _mail: &'a Mail) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async {
            tracing::warn!("no SMTP relay configured: the e-mail is NOT sent");
            Ok(())
        })
    }
    fn delivers(&self) -> bool {
        false
    }
}

/// The channels messages leave by.
pub struct Delivery {
    mail: Arc<dyn MailSender>,
    sms: Arc<dyn SmsGateway>,
}

/// The longest one message may take, connection and retries included.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

impl Delivery {
    /// The channels of `settings`; a channel not configured only logs that it sends nothing.
    pub fn open(settings: &DeliverySettings) -> anyhow::Result<Self> {
        let mail: Arc<dyn MailSender> = match &settings.smtp {
            Some(s) => {
                tracing::info!(host = %s.host, port = s.port, tls = ?s.tls, "e-mail through the SMTP relay");
                Arc::new(smtp::Smtp::open(s)?)
            }
            None => {
                tracing::warn!("no SMTP relay configured: e-CPS activation e-mails are NOT sent");
                Arc::new(NoMail)
            }
        };
        let sms: Arc<dyn SmsGateway> = match &settings.sms {
            Some(s) => {
                tracing::info!(
                    host = s.url.host_str().unwrap_or_default(),
                    "SMS through the HTTP gateway"
                );
                Arc::new(sms::HttpSms::open(s)?)
            }
            None => {
                tracing::warn!(
                    "no SMS gateway configured: e-CPS confirmation SMS are NOT delivered"
                );
                Arc::new(sms::NoSms)
            }
        };
        Ok(Self::with(mail, sms))
    }

    /// Over given channels.
    pub fn with(mail: Arc<dyn MailSender>, sms: Arc<dyn SmsGateway>) -> Self {
        Delivery { mail, sms }
    }

    /// Nothing configured.
    pub fn disabled() -> Self {
        Self::with(Arc::new(NoMail), Arc::new(sms::NoSms))
    }

    /// Sends `mail` and the SMS `text` to `sms_to`, both at once, from a task of their own;
    /// `what` names the message in the log (never its content).
    pub fn spawn_both(
        self: &Arc<Self>,
        what: &'static str,
        mail: Mail,
        sms_to: String,
        text: String,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            let mail_sent = async {
                match tokio::time::timeout(SEND_TIMEOUT, me.mail.send(&mail)).await {
                    Ok(Ok(())) if me.mail.delivers() => tracing::info!(what, "e-mail sent"),
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(what, error = %format!("{e:#}"), "e-mail not sent")
                    }
                    Err(_) => tracing::error!(what, "e-mail not sent: timed out"),
                }
            };
            let sms_sent = async {
                match tokio::time::timeout(SEND_TIMEOUT, me.sms.send(&sms_to, &text)).await {
                    Ok(Ok(())) if me.sms.delivers() => tracing::info!(what, "SMS sent"),
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(what, error = %format!("{e:#}"), "SMS not sent"),
                    Err(_) => tracing::error!(what, "SMS not sent: timed out"),
                }
            };
            tokio::join!(mail_sent, sms_sent);
        });
    }
}
