//! SMS: the [`SmsGateway`] trait, the HTTP gateway ([`HttpSms`], the contract in the parent
//! module's documentation), and [`NoSms`] when none is configured (the sandbox's default),
//! which sends nothing and says so in the log, never with the text.

use anyhow::{Context, Result, bail};
use futures_util::future::BoxFuture;
use std::time::Duration;

/// Something that sends SMS.
pub trait SmsGateway: Send + Sync {
    /// Sends `text` to `to` (E.164).
    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Whether SMS really leave (false: only logged as not delivered).
    fn delivers(&self) -> bool;
}

/// The HTTP gateway's settings.
#[derive(Clone)]
pub struct HttpSmsSettings {
    /// Where to `POST` (https, or http on a loopback address).
    pub url: url::Url,
    /// The bearer token (from the environment, never from a file or a flag).
    pub token: String,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpSmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSmsSettings")
            .field("url", &self.url.as_str())
            .field("token", &"<set>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpSmsSettings {
    /// Checks the URL: `https`, or `http` to a loopback address only (a local relay).
    pub fn new(url: &str, token: String, timeout: Duration) -> Result<Self> {
        let url = url::Url::parse(url).context("the SMS gateway URL")?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => bail!("the SMS gateway URL must be https (http only to a loopback address)"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!(
                "the SMS gateway URL carries no credentials (the token comes from COEUR_SMS_TOKEN)"
            );
        }
        if token.trim().is_empty() {
            bail!("the SMS gateway needs its bearer token (COEUR_SMS_TOKEN)");
        }
        Ok(HttpSmsSettings {
            url,
            token,
            timeout,
        })
    }
}

/// The HTTP gateway: `POST {to, text}` with the bearer token.
pub struct HttpSms {
    settings: HttpSmsSettings,
    http: reqwest::Client,
}

impl HttpSms {
    /// A client for the gateway (no redirects followed).
    pub fn open(settings: &HttpSmsSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .build()?;
        Ok(HttpSms {
            settings: settings.clone(),
            http,
        })
    }
}

impl SmsGateway for HttpSms {
    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let r = self
                .http
                .post(self.settings.url.clone())
                .bearer_auth(&self.settings.token)
                .json(&serde_json::json!({ "to": to, "text": text }))
                .send()
                .await
                // reqwest's errors name the URL, never the headers.
                .map_err(|e| anyhow::anyhow!("reaching the SMS gateway: {}", e.without_url()))?;
            if !r.status().is_success() {
                bail!("the SMS gateway answered {}", r.status());
            }
            Ok(())
        })
    }

    fn delivers(&self) -> bool {
        true
    }
}

/// No gateway configured: nothing is sent, and the log says so.
pub struct NoSms;

impl SmsGateway for NoSms {
    fn send<'a>(&'a self, _to: &'a str, _text: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async {
            tracing::warn!("no SMS gateway configured: the SMS is NOT delivered");
            Ok(())
        })
    }

    fn delivers(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_url_is_https_or_loopback() {
        let t = || "t0ken".to_owned();
        let d = Duration::from_secs(5);
        assert!(HttpSmsSettings::new("https://sms.example/send", t(), d).is_ok());
        assert!(HttpSmsSettings::new("http://127.0.0.1:9000/send", t(), d).is_ok());
        assert!(HttpSmsSettings::new("http://sms.example/send", t(), d).is_err());
        assert!(HttpSmsSettings::new("https://u:p@sms.example/send", t(), d).is_err());
        assert!(HttpSmsSettings::new("https://sms.example/send", " ".into(), d).is_err());
        let s = HttpSmsSettings::new("https://sms.example/send", t(), d).unwrap();
        assert!(!format!("{s:?}").contains("t0ken"));
    }
}
