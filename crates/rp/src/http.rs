//! The HTTP client of the relying party: reqwest over rustls (aws-lc-rs), plugged into
//! `openidconnect` through its async client trait.

use crate::error::{HttpError, RpError};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The largest response body read (metadata, keys, tokens, userinfo).
const MAX_BODY: usize = 1 << 20;
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// An HTTP client for talking to an OpenID provider. It never follows redirects (a redirected
/// metadata, token or key request is an error, not a hop to an unchecked place), times out, and
/// reads at most 1 MiB per response. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Http(reqwest::Client);

impl Http {
    /// A client trusting the platform's roots.
    pub fn new() -> Result<Self, RpError> {
        Self::with_roots(std::iter::empty::<&[u8]>())
    }

    /// A client also trusting the given root certificates (DER), e.g. a private PKI's roots.
    pub fn with_roots<'a>(roots_der: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, RpError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        for der in roots_der {
            let cert = reqwest::Certificate::from_der(der).map_err(RpError::HttpClient)?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map(Http).map_err(RpError::HttpClient)
    }

    /// Wraps a client built elsewhere. It should not follow redirects.
    pub fn from_client(client: reqwest::Client) -> Self {
        Http(client)
    }

    /// The underlying reqwest client.
    pub fn client(&self) -> &reqwest::Client {
        &self.0
    }

    /// Sends `request` (built on [`Http::client`]) and reads the answer (at most 1 MiB): its
    /// status, content type and body; an unreachable server or an oversized answer is `Err`
    /// with the reason.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Option<String>, Vec<u8>), String> {
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let url = response.url().to_string();
        let body = read_body(response).await.map_err(|e| match e {
            BodyError::TooLarge => RpError::TooLarge(url).to_string(),
            BodyError::Transport(e) => e.to_string(),
        })?;
        Ok((status, content_type, body))
    }
}

/// Reads a response body, refusing one larger than [`MAX_BODY`].
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over [`MAX_BODY`].
    TooLarge,
    /// The connection failed.
    Transport(reqwest::Error),
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let url = request.url().clone();
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = match read_body(response).await {
                Ok(b) => b,
                Err(BodyError::Transport(e)) => return Err(Box::new(e).into()),
                Err(BodyError::TooLarge) => {
                    return Err(HttpError::Other(
                        RpError::TooLarge(url.to_string()).to_string(),
                    ));
                }
            };
            Ok(builder.body(body)?)
        })
    }
}
