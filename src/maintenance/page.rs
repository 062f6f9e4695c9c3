//! Response bodies: the HTML page (built in, from `page` or `pageHtml`), JSON and plain text.
//!
//! Custom pages are split into text and placeholders once at startup, so a
//! response is one pass of string concatenation. The substituted values
//! (a number, an RFC 3339 timestamp) contain no character that is special in
//! HTML, so no escaping is needed.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;

use serde::Serialize;

use super::negotiate::Format;
use super::window::Retry;
use crate::config::MaintenanceConfig;
use crate::error::ConfigError;

/// Largest accepted `page` file. Every Traefik guest instance keeps a copy,
/// so the bound is per instance; inline images as data URIs still fit.
const MAX_PAGE_BYTES: u64 = 1 << 20;

const RETRY_AFTER: &str = "{{retryAfter}}";
const UNTIL: &str = "{{until}}";

/// One piece of a custom page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    RetryAfter,
    Until,
}

/// The HTML page: built in or an operator's template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Page {
    /// The built-in page.
    BuiltIn,
    /// `page` or `pageHtml`, split at its placeholders.
    Custom(Vec<Part>),
}

impl Page {
    /// Reads `page` or takes `pageHtml`; errors name the field and, for a file, its path.
    pub(crate) fn new(cfg: &MaintenanceConfig) -> Result<Self, ConfigError> {
        let html = match (cfg.page.is_empty(), cfg.page_html.is_empty()) {
            (true, true) => return Ok(Self::BuiltIn),
            (false, false) => {
                return Err(ConfigError::invalid(
                    "maintenance.page",
                    "`page` and `pageHtml` are exclusive; set one",
                ));
            }
            (false, true) => read_page(&cfg.page)?,
            (true, false) => cfg.page_html.clone(),
        };
        Ok(Self::Custom(split(&html)))
    }

    /// The body of a response in `format`.
    pub(crate) fn body(&self, format: Format, status: u16, retry: Retry<'_>) -> Vec<u8> {
        match format {
            Format::Html => self.html(retry).into_bytes(),
            Format::Json => json(status, retry),
            Format::Text => text(retry).into_bytes(),
        }
    }

    fn html(&self, retry: Retry<'_>) -> String {
        let Self::Custom(parts) = self else { return built_in(retry) };
        let mut out = String::with_capacity(
            parts.iter().map(|p| if let Part::Text(t) = p { t.len() } else { 32 }).sum(),
        );
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::RetryAfter => {
                    let _ = write!(out, "{}", retry.seconds);
                }
                Part::Until => out.push_str(retry.until.unwrap_or("")),
            }
        }
        out
    }
}

fn read_page(path: &str) -> Result<String, ConfigError> {
    let fail =
        |reason: String| ConfigError::invalid("maintenance.page", format!("cannot use `{path}`: {reason}"));
    let mut bytes = Vec::new();
    fs::File::open(path).and_then(|f| f.take(MAX_PAGE_BYTES + 1).read_to_end(&mut bytes)).map_err(|e| {
        let e = crate::error::io_reason(&e);
        fail(format!("{e} (in Traefik, list its directory in the plugin's settings.mounts)"))
    })?;
    if bytes.len() as u64 > MAX_PAGE_BYTES {
        return Err(fail(format!("larger than {MAX_PAGE_BYTES} bytes")));
    }
    let html = String::from_utf8(bytes).map_err(|_| fail("not UTF-8".into()))?;
    if html.trim().is_empty() {
        return Err(fail("the file is empty".into()));
    }
    Ok(html)
}

/// Splits a template at `{{retryAfter}}` and `{{until}}`; anything else stays text.
fn split(mut html: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    while let Some(open) = html.find("{{") {
        let rest = &html[open..];
        let (part, len) = if rest.starts_with(RETRY_AFTER) {
            (Part::RetryAfter, RETRY_AFTER.len())
        } else if rest.starts_with(UNTIL) {
            (Part::Until, UNTIL.len())
        } else {
            push_text(&mut parts, &html[..open + 2]);
            html = &html[open + 2..];
            continue;
        };
        push_text(&mut parts, &html[..open]);
        parts.push(part);
        html = &html[open + len..];
    }
    push_text(&mut parts, html);
    parts
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if text.is_empty() {
        return;
    }
    match parts.last_mut() {
        Some(Part::Text(t)) => t.push_str(text),
        _ => parts.push(Part::Text(text.to_string())),
    }
}

/// The JSON body: `{"status":503,"error":"maintenance","retryAfter":N,"until":"…"|null}`.
fn json(status: u16, retry: Retry<'_>) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Body<'a> {
        status: u16,
        error: &'static str,
        retry_after: u64,
        until: Option<&'a str>,
    }
    let body = Body { status, error: "maintenance", retry_after: retry.seconds, until: retry.until };
    // Serializing plain numbers and strings cannot fail; an empty body beats a panic anyway.
    let mut out = serde_json::to_vec(&body).unwrap_or_default();
    out.push(b'\n');
    out
}

fn text(retry: Retry<'_>) -> String {
    let mut out = format!(
        "Service unavailable: down for maintenance.\nPlease retry in {} ({} seconds).\n",
        human(retry.seconds),
        retry.seconds
    );
    if let Some(until) = retry.until {
        let _ = writeln!(out, "Expected back by {until}.");
    }
    out
}

/// The built-in page: small, accessible, no external resources.
fn built_in(retry: Retry<'_>) -> String {
    let until = retry.until.map_or(String::new(), |u| {
        format!("\n<p>Maintenance is planned to end at <time datetime=\"{u}\">{u}</time>.</p>")
    });
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Down for maintenance</title>
<style>body{{font:1.1rem/1.5 system-ui,sans-serif;margin:0;padding:1.5rem}}main{{max-width:36rem;margin:15vh auto}}h1{{font-size:1.6rem}}</style>
</head>
<body>
<main>
<h1>Down for maintenance</h1>
<p>We are carrying out maintenance and will be back shortly.</p>
<p>Please try again in {}.</p>{until}
</main>
</body>
</html>
"#,
        human(retry.seconds)
    )
}

/// `45 seconds`, `5 minutes`, `2 hours`, `1 hour 30 minutes` (minutes rounded up).
fn human(seconds: u64) -> String {
    let unit = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if seconds < 60 {
        return unit(seconds, "second");
    }
    let minutes = seconds.div_ceil(60);
    match (minutes / 60, minutes % 60) {
        (0, m) => unit(m, "minute"),
        (h, 0) => unit(h, "hour"),
        (h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: &str = "2025-06-01T04:00:00Z";

    fn page(page: &str, page_html: &str) -> Result<Page, ConfigError> {
        Page::new(&MaintenanceConfig { page: page.into(), page_html: page_html.into(), ..Default::default() })
    }

    fn html(p: &Page, seconds: u64, until: Option<&str>) -> String {
        String::from_utf8(p.body(Format::Html, 503, Retry { seconds, until })).unwrap()
    }

    #[test]
    fn placeholders() {
        let cases = [
            ("<p>{{retryAfter}}s until {{until}}</p>", Some(END), format!("<p>120s until {END}</p>")),
            ("<p>{{retryAfter}}s until {{until}}</p>", None, "<p>120s until </p>".into()),
            ("{{retryAfter}}{{retryAfter}}", None, "120120".into()),
            ("{{ retryAfter }} {{other}} {{", None, "{{ retryAfter }} {{other}} {{".into()),
            ("{{{{until}}}}", Some("x"), "{{x}}".into()),
            ("no placeholders", None, "no placeholders".into()),
            ("ünïcödé {{retryAfter}}", None, "ünïcödé 120".into()),
        ];
        for (template, until, want) in cases {
            assert_eq!(html(&page("", template).unwrap(), 120, until), want, "{template}");
        }
    }

    #[test]
    fn built_in_page_is_accessible_and_self_contained() {
        let p = page("", "").unwrap();
        assert_eq!(p, Page::BuiltIn);
        let body = html(&p, 300, Some(END));
        for needle in [
            "<!DOCTYPE html>",
            "<html lang=\"en\">",
            "<meta name=\"viewport\"",
            "<title>Down for maintenance</title>",
            "<main>",
            "<h1>",
            "try again in 5 minutes",
            "<time datetime=\"2025-06-01T04:00:00Z\">",
        ] {
            assert!(body.contains(needle), "{needle} missing from {body}");
        }
        for external in ["src=", "href=", "http:", "https:", "url("] {
            assert!(!body.contains(external), "{external} in {body}");
        }
        assert!(!html(&p, 300, None).contains("<time"));
    }

    #[test]
    fn json_and_text_bodies() {
        let retry = Retry { seconds: 90, until: Some(END) };
        let json = Page::BuiltIn.body(Format::Json, 503, retry);
        let want =
            format!("{{\"status\":503,\"error\":\"maintenance\",\"retryAfter\":90,\"until\":\"{END}\"}}\n");
        assert_eq!(String::from_utf8(json).unwrap(), want);
        let json = Page::BuiltIn.body(Format::Json, 599, Retry { seconds: 300, until: None });
        assert_eq!(json, b"{\"status\":599,\"error\":\"maintenance\",\"retryAfter\":300,\"until\":null}\n");
        let text = String::from_utf8(Page::BuiltIn.body(Format::Text, 503, retry)).unwrap();
        assert_eq!(
            text,
            format!(
                "Service unavailable: down for maintenance.\nPlease retry in 2 minutes (90 seconds).\nExpected back by {END}.\n"
            )
        );
    }

    #[test]
    fn human_durations() {
        let cases = [
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "1 minute"),
            (61, "2 minutes"),
            (300, "5 minutes"),
            (3600, "1 hour"),
            (5400, "1 hour 30 minutes"),
            (7260, "2 hours 1 minute"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human(seconds), want, "{seconds}");
        }
    }

    #[test]
    fn page_and_page_html_are_exclusive() {
        let err = page("/srv/page.html", "<p>x</p>").unwrap_err();
        assert_eq!(err.path(), "maintenance.page");
        assert!(err.to_string().contains("`page` and `pageHtml` are exclusive"), "{err}");
    }

    /// File-based tests run natively only: wasm32-wasip1 test binaries have
    /// no temporary directory to write to.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn page_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("page.html");
        fs::write(&good, "<h1>Back in {{retryAfter}}s</h1>").unwrap();
        assert_eq!(html(&page(good.to_str().unwrap(), "").unwrap(), 7, None), "<h1>Back in 7s</h1>");

        let empty = dir.path().join("empty.html");
        fs::write(&empty, " \n").unwrap();
        let binary = dir.path().join("binary.html");
        fs::write(&binary, b"\xff\xfe").unwrap();
        let huge = dir.path().join("huge.html");
        fs::write(&huge, vec![b'a'; MAX_PAGE_BYTES as usize + 1]).unwrap();
        let missing = dir.path().join("missing.html");
        for (path, reason) in [
            (&missing, "no such file or directory"),
            (&empty, "the file is empty"),
            (&binary, "not UTF-8"),
            (&huge, "larger than 1048576 bytes"),
        ] {
            let err = page(path.to_str().unwrap(), "").unwrap_err();
            assert_eq!(err.path(), "maintenance.page");
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{}`", path.display())) && msg.contains(reason), "{msg}");
        }
    }
}
