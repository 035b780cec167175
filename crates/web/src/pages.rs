//! Pages: templates (minijinja, auto-escaped), their language, and the service's identity.
//!
//! A page is rendered in one language, French unless English is asked for. A handler that
//! knows the language (the wallet page reads `ui_locales` from the authorization request it
//! serves) renders with [`page`]; any other page ([`localized_page`], every [`error_page`])
//! takes the language of the request it answers: the [`localize_pages`] layer reads
//! `ui_locales` from the query and the browser's `Accept-Language`, and renders again in
//! English a page first rendered in French. Words come from the catalogues (`i18n`).

use crate::i18n::{self, Text};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, OnceLock};

/// The language of a page's messages: French, the pages' own, unless English is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// French (the default).
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag, for `lang` attributes.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language of a BCP 47 tag, if coeur speaks it.
    pub(crate) fn of_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("fr") {
            Some(Lang::Fr)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// The language of a page: the first of the request's `ui_locales` (OIDC Core §3.1.2.1, in
/// order of preference) that coeur speaks, else the browser's `Accept-Language` (by weight),
/// else French.
pub fn page_lang(ui_locales: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(l) = ui_locales
        .into_iter()
        .flat_map(|u| u.split(' '))
        .find_map(Lang::of_tag)
    {
        return l;
    }
    let mut weighted: Vec<(u16, Lang)> = accept_language
        .into_iter()
        .flat_map(|a| a.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let lang = Lang::of_tag(parts.next()?)?;
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Weights have at most three decimals (RFC 9110 §12.4.2).
            let q = (q.clamp(0.0, 1.0) * 1000.0).round() as u16;
            (q > 0).then_some((q, lang))
        })
        .collect();
    weighted.sort_by_key(|w| std::cmp::Reverse(w.0));
    weighted.first().map_or(Lang::Fr, |(_, l)| *l)
}

/// The language a request asks for: its `ui_locales` query parameter, else its
/// `Accept-Language`.
pub fn request_lang(headers: &HeaderMap, query: Option<&str>) -> Lang {
    let ui_locales = crate::query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "ui_locales")
        .map(|(_, v)| v);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    page_lang(ui_locales.as_deref(), accept)
}

/// How the service presents itself on every page, per deployment: its name, a line saying
/// what it is (the catalogue's, in the page's language, unless the deployment sets one), and
/// where users find help (coeur's help page unless the deployment names its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceIdentity {
    /// The name in the header of every page and in titles.
    pub name: Option<String>,
    /// The line under it, in French.
    pub tagline_fr: Option<String>,
    /// The line under it, in English.
    pub tagline_en: Option<String>,
    /// The help link (`https://…`, or a path on this server).
    pub help_url: Option<String>,
}

impl ServiceIdentity {
    /// What the pages show of the service in `lang`.
    fn in_lang(&self, lang: Lang) -> minijinja::Value {
        let tagline = match lang {
            Lang::Fr => self.tagline_fr.clone(),
            Lang::En => self.tagline_en.clone(),
        }
        .unwrap_or_else(|| i18n::translate(lang, "service.tagline", &[]));
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| i18n::translate(lang, "service.name", &[]));
        let help_url = self.help_url.clone().unwrap_or_else(|| "/help".to_owned());
        minijinja::context! { name, tagline, help_url }
    }
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.add_function("t", i18n::template_function);
        let all = [
            ("base.html", include_str!("../../../templates/base.html")),
            (
                "wallet.html",
                include_str!("../../../templates/wallet.html"),
            ),
            ("error.html", include_str!("../../../templates/error.html")),
            (
                "logout.html",
                include_str!("../../../templates/logout.html"),
            ),
            ("home.html", include_str!("../../../templates/home.html")),
            ("demo.html", include_str!("../../../templates/demo.html")),
            ("help.html", include_str!("../../../templates/help.html")),
            (
                "ecps_wait.html",
                include_str!("../../../templates/ecps_wait.html"),
            ),
            (
                "ecps_enrol.html",
                include_str!("../../../templates/ecps_enrol.html"),
            ),
            (
                "franceconnect_link.html",
                include_str!("../../../templates/franceconnect_link.html"),
            ),
            (
                "franceconnect_links.html",
                include_str!("../../../templates/franceconnect_links.html"),
            ),
            (
                "franceconnect_confirm.html",
                include_str!("../../../templates/franceconnect_confirm.html"),
            ),
            (
                "ciba_approve.html",
                include_str!("../../../templates/ciba_approve.html"),
            ),
            (
                "ecps_app.html",
                include_str!("../../../templates/ecps_app.html"),
            ),
            (
                "passkey.html",
                include_str!("../../../templates/passkey.html"),
            ),
            // The professionals' space of the health directory (coeur-directory).
            ("space.html", include_str!("../../../templates/space.html")),
            (
                "space_login.html",
                include_str!("../../../templates/space_login.html"),
            ),
            // The editors' pages of the offer service (coeur-offer).
            (
                "offer_login.html",
                include_str!("../../../templates/offer_login.html"),
            ),
            (
                "offer_logout_form.html",
                include_str!("../../../templates/offer_logout_form.html"),
            ),
            (
                "offer_structures.html",
                include_str!("../../../templates/offer_structures.html"),
            ),
            (
                "offer_capacities.html",
                include_str!("../../../templates/offer_capacities.html"),
            ),
            (
                "offer_location.html",
                include_str!("../../../templates/offer_location.html"),
            ),
            (
                "offer_history.html",
                include_str!("../../../templates/offer_history.html"),
            ),
            (
                "offer_region.html",
                include_str!("../../../templates/offer_region.html"),
            ),
        ];
        for (name, src) in all {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

/// A page a handler answers, rendered by [`render_pages`] once its language is known.
#[derive(Clone)]
struct PendingPage {
    name: &'static str,
    /// `None`: the language of the request.
    lang: Option<Lang>,
    ctx: minijinja::Value,
}

fn pending(
    status: StatusCode,
    name: &'static str,
    lang: Option<Lang>,
    ctx: minijinja::Value,
) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")]).into_response();
    r.extensions_mut().insert(PendingPage { name, lang, ctx });
    r
}

/// A page in `lang`.
pub fn page(status: StatusCode, name: &'static str, lang: Lang, ctx: minijinja::Value) -> Response {
    pending(status, name, Some(lang), ctx)
}

/// A page in the language of the request it answers.
pub fn localized_page(status: StatusCode, name: &'static str, ctx: minijinja::Value) -> Response {
    pending(status, name, None, ctx)
}

/// Renders the pages handlers answer (see the module's text), as `service` presents itself.
/// Every router serving pages has this layer (`with_common_layers`).
pub async fn render_pages(
    State(service): State<Arc<ServiceIdentity>>,
    req: Request,
    next: Next,
) -> Response {
    let asked = request_lang(req.headers(), req.uri().query());
    let mut res = next.run(req).await;
    let Some(p) = res.extensions_mut().remove::<PendingPage>() else {
        return res;
    };
    let lang = p.lang.unwrap_or(asked);
    let ctx = minijinja::context! { lang => lang.tag(), service => service.in_lang(lang), ..p.ctx };
    match templates().get_template(p.name).and_then(|t| t.render(ctx)) {
        Ok(html) => {
            let (parts, _) = res.into_parts();
            let mut res = Response::from_parts(parts, Body::from(html));
            res.headers_mut().remove(header::CONTENT_LENGTH);
            res
        }
        Err(e) => {
            tracing::error!(template = p.name, error = %e, "rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page (never a redirect), in the request's language: a title, what happened and
/// what to do, and optionally the technical reason for the application's developers (as the
/// protocol states it, in English).
pub fn error_page(
    status: StatusCode,
    title: &Text,
    message: &Text,
    detail: Option<&str>,
) -> Response {
    localized_page(
        status,
        "error.html",
        minijinja::context! { title, message, detail },
    )
}

/// coeur's help page, in the request's language.
pub async fn help_page() -> Response {
    localized_page(StatusCode::OK, "help.html", minijinja::context! {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::HeaderValue;
    use tower::ServiceExt as _;

    #[test]
    fn every_template_compiles() {
        let env = templates();
        for name in [
            "base.html",
            "wallet.html",
            "error.html",
            "logout.html",
            "home.html",
            "demo.html",
            "help.html",
            "space.html",
            "space_login.html",
            "offer_login.html",
            "offer_structures.html",
            "offer_location.html",
            "offer_history.html",
            "offer_region.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn pages_speak_french_unless_english_is_asked_for() {
        assert_eq!(page_lang(None, None), Lang::Fr);
        assert_eq!(page_lang(Some("en"), None), Lang::En);
        assert_eq!(page_lang(Some("de-DE en-GB fr"), None), Lang::En);
        assert_eq!(page_lang(Some("fr-FR en"), Some("en")), Lang::Fr);
        assert_eq!(page_lang(Some("de"), Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(page_lang(None, Some("de-DE,fr;q=0.8,en;q=0.9")), Lang::En);
        assert_eq!(page_lang(None, Some("en;q=0.5, fr")), Lang::Fr);
        assert_eq!(page_lang(None, Some("en;q=0")), Lang::Fr);
        assert_eq!(page_lang(None, Some("de, es")), Lang::Fr);
        assert_eq!(page_lang(None, Some("EN-us")), Lang::En);
    }

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    /// An error page through the layer, for a request with `accept` and `query`.
    async fn error_for(accept: Option<&str>, query: &str) -> (StatusCode, HeaderMap, String) {
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    let mut r = error_page(
                        StatusCode::BAD_REQUEST,
                        &Text::new("error.page_expired.title"),
                        &Text::new("error.page_expired.message"),
                        Some("pending login <used>"),
                    );
                    r.headers_mut()
                        .append(header::SET_COOKIE, HeaderValue::from_static("a=b"));
                    r
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(ServiceIdentity::default()),
                render_pages,
            ));
        let mut req = Request::builder().uri(format!("/{query}"));
        if let Some(a) = accept {
            req = req.header(header::ACCEPT_LANGUAGE, a);
        }
        let r = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, body(r).await)
    }

    #[tokio::test]
    async fn error_pages_take_the_language_of_the_request() {
        let fr_title = i18n::translate(Lang::Fr, "error.page_expired.title", &[]);
        let en_title = i18n::translate(Lang::En, "error.page_expired.title", &[]);
        let (status, headers, html) = error_for(None, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            html.contains("<html lang=\"fr\">") && html.contains(&fr_title),
            "{html}"
        );
        assert_eq!(headers.get(header::SET_COOKIE).unwrap(), "a=b");
        for (accept, query) in [(Some("en-GB,en;q=0.9"), ""), (Some("fr"), "?ui_locales=en")] {
            let (status, headers, html) = error_for(accept, query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(
                html.contains("<html lang=\"en\">") && html.contains(&en_title),
                "{html}"
            );
            assert!(!html.contains(&fr_title), "{html}");
            // The developer's detail is escaped, the handler's cookie kept, the length right.
            assert!(html.contains("pending login &lt;used&gt;"), "{html}");
            assert_eq!(headers.get_all(header::SET_COOKIE).iter().count(), 1);
            assert!(
                headers.get(header::CONTENT_LENGTH).is_none_or(|l| l
                    .to_str()
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
                    == html.len())
            );
        }
    }
}
