//! A minimal HTTP/1.1 client on hyper's connection API: one keep-alive connection per virtual
//! user to the plain-HTTP origin, and one-shot TLS connections (a new connection, so a full
//! handshake, per request) to the card listener. No pool, no redirects, no cookie jar: the
//! logins handle each step themselves, as the scripts' drivers always did.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

/// How long one request may take before the login counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The `Location` header, resolved against `url` (the request's address).
    pub fn location(&self, url: &Url) -> Option<Url> {
        let loc = self.headers.get(header::LOCATION)?.to_str().ok()?;
        url.join(loc).ok()
    }

    /// The value of the cookie `name` this answer sets, if any.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let pair = c.split(';').next()?;
                let (k, v) = pair.split_once('=')?;
                (k.trim() == name).then_some(v)
            })
    }

    /// The start of the body, for error messages.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]);
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A request to send: method, address, extra headers and an optional form body.
pub struct Req<'a> {
    pub method: Method,
    pub url: &'a Url,
    pub headers: &'a [(header::HeaderName, &'a str)],
    pub form: Option<String>,
}

impl<'a> Req<'a> {
    pub fn get(url: &'a Url) -> Self {
        Req {
            method: Method::GET,
            url,
            headers: &[],
            form: None,
        }
    }

    pub fn post(url: &'a Url, form: String) -> Self {
        Req {
            method: Method::POST,
            url,
            headers: &[],
            form: Some(form),
        }
    }

    pub fn with(mut self, headers: &'a [(header::HeaderName, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    fn build(&self, close: bool) -> Result<Request<Full<Bytes>>> {
        let host = self.url.host_str().context("no host")?;
        let authority = match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let path = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(path)
            .header(header::HOST, authority);
        if close {
            b = b.header(header::CONNECTION, "close");
        }
        for (k, v) in self.headers {
            b = b.header(k, HeaderValue::from_str(v)?);
        }
        let body = match &self.form {
            Some(f) => {
                b = b
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::CONTENT_LENGTH, f.len());
                Full::new(Bytes::from(f.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        Ok(b.body(body)?)
    }
}

/// Connects to `url`'s host and port over TCP, without Nagle's delay (as node's sockets).
async fn tcp(url: &Url) -> Result<TcpStream> {
    let addrs = url.socket_addrs(|| None)?;
    let stream = TcpStream::connect(&*addrs).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `req` on `sender` and reads the whole answer.
async fn exchange(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<Answer> {
    let res = sender.send_request(req).await?;
    let (parts, body) = res.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// A virtual user's keep-alive connection to one plain-HTTP origin, opened on first use and
/// again whenever the server closed it.
pub struct KeepAlive {
    origin: url::Origin,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
}

impl KeepAlive {
    pub fn new(base: &Url) -> Self {
        KeepAlive {
            origin: base.origin(),
            sender: None,
        }
    }

    pub async fn send(&mut self, req: Req<'_>) -> Result<Answer> {
        if req.url.origin() != self.origin {
            bail!(
                "{} is not on {}",
                req.url,
                self.origin.ascii_serialization()
            );
        }
        let request = req.build(false)?;
        let what = format!("{} {}", req.method, req.url.path());
        let sent = tokio::time::timeout(REQUEST_TIMEOUT, async {
            // The connection kept from the last login, unless the server closed it meanwhile.
            let mut kept = self.sender.take().filter(|s| !s.is_closed());
            if let Some(s) = &mut kept
                && s.ready().await.is_err()
            {
                kept = None;
            }
            let sender = match kept {
                Some(s) => self.sender.insert(s),
                None => {
                    let (s, conn) = http1::handshake(TokioIo::new(tcp(req.url).await?)).await?;
                    tokio::spawn(conn);
                    self.sender.insert(s)
                }
            };
            exchange(sender, request).await
        })
        .await;
        match sent {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e.context(what))
            }
            Err(_) => {
                self.sender = None;
                Err(anyhow!("{what}: timed out"))
            }
        }
    }
}

/// Sends `req` on a new TLS connection (a full handshake with `tls`'s client certificate, no
/// session resumption) asking the server to close it after the answer.
pub async fn once_tls(tls: &Arc<rustls::ClientConfig>, req: Req<'_>) -> Result<Answer> {
    if req.url.scheme() != "https" {
        bail!("{} is not an https address", req.url);
    }
    let host = req.url.host_str().context("no host")?;
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))?.to_owned();
    let request = req.build(true)?;
    let what = format!("{} {}", req.method, req.url.path());
    tokio::time::timeout(REQUEST_TIMEOUT, async {
        let stream = TlsConnector::from(tls.clone())
            .connect(name, tcp(req.url).await?)
            .await?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        exchange(&mut sender, request).await
    })
    .await
    .map_err(|_| anyhow!("{what}: timed out"))?
    .with_context(|| what)
}
