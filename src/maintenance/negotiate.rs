//! Choosing HTML, JSON or plain text from `Accept` (RFC 9110 §12.5.1).
//!
//! Each candidate gets the weight of the most specific media range that
//! matches it (`text/html` over `text/*` over `*/*`); `q=0` means "not
//! acceptable". Browsers get HTML, API clients that ask for JSON get JSON.

use crate::headers::is_token;

/// Most comma-separated items examined (well-formed or not); the rest of a
/// longer `Accept` is ignored so a hostile header cannot make the blocked path expensive.
const MAX_RANGES: usize = 32;

/// The body formats a maintenance response can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/html; charset=utf-8`.
    Html,
    /// `application/json`.
    Json,
    /// `text/plain; charset=utf-8`.
    Text,
}

impl Format {
    /// The `Content-Type` of a body in this format.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Json => "application/json",
            Self::Text => "text/plain; charset=utf-8",
        }
    }

    const fn media_type(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Self::Html => (b"text", b"html"),
            Self::Json => (b"application", b"json"),
            Self::Text => (b"text", b"plain"),
        }
    }
}

/// One parsed media range: type, subtype (lower-case) and weight in thousandths.
struct Range {
    kind: Vec<u8>,
    sub: Vec<u8>,
    q: u16,
}

/// Picks the format for the `Accept` header lines of a request.
///
/// JSON when it outweighs HTML and is at least as wanted as plain text; plain
/// text when it outweighs HTML, or when none of the three is acceptable;
/// HTML otherwise (ties, `*/*`, no usable `Accept`).
pub fn negotiate(accept: &[Vec<u8>]) -> Format {
    let ranges = parse(accept);
    if ranges.is_empty() {
        return Format::Html;
    }
    let [html, json, text] = [Format::Html, Format::Json, Format::Text].map(|f| weight(&ranges, f));
    if json > html && json >= text {
        Format::Json
    } else if text > html || html == 0 {
        Format::Text
    } else {
        Format::Html
    }
}

/// The weight of the most specific range matching `format`, 0 when none does.
fn weight(ranges: &[Range], format: Format) -> u16 {
    let (kind, sub) = format.media_type();
    let mut best: Option<(u8, u16)> = None;
    for r in ranges {
        let specificity = match (r.kind.as_slice(), r.sub.as_slice()) {
            (k, s) if k == kind && s == sub => 3,
            (k, b"*") if k == kind => 2,
            (b"*", b"*") => 1,
            _ => continue,
        };
        // Most specific wins; equally specific duplicates keep the higher weight.
        if best.is_none_or(|b| (specificity, r.q) > b) {
            best = Some((specificity, r.q));
        }
    }
    best.map_or(0, |(_, q)| q)
}

/// The well-formed media ranges of every `Accept` line; malformed ones are skipped.
fn parse(lines: &[Vec<u8>]) -> Vec<Range> {
    lines.iter().flat_map(|line| line.split(|&b| b == b',')).take(MAX_RANGES).filter_map(range).collect()
}

fn range(item: &[u8]) -> Option<Range> {
    let mut parts = item.split(|&b| b == b';');
    let media = parts.next()?.trim_ascii().to_ascii_lowercase();
    let slash = media.iter().position(|&b| b == b'/')?;
    let (kind, sub) = (&media[..slash], &media[slash + 1..]);
    if !is_token(kind) || !is_token(sub) || (kind == b"*" && sub != b"*") {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let param = param.trim_ascii();
        let Some(eq) = param.iter().position(|&b| b == b'=') else { continue };
        if param[..eq].trim_ascii().eq_ignore_ascii_case(b"q") {
            q = qvalue(param[eq + 1..].trim_ascii())?;
        }
    }
    Some(Range { kind: kind.to_vec(), sub: sub.to_vec(), q })
}

/// RFC 9110 `qvalue` (`0`, `0.5`, `1.000`, at most three decimals) in thousandths.
fn qvalue(text: &[u8]) -> Option<u16> {
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = frac.iter().chain(b"000").take(3).fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(accept: &[&str]) -> Vec<Vec<u8>> {
        accept.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn negotiation() {
        use Format::{Html, Json, Text};
        let cases: &[(&str, &[&str], Format)] = &[
            ("missing Accept", &[], Html),
            ("empty Accept", &[""], Html),
            ("browser", &["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"], Html),
            ("curl", &["*/*"], Html),
            ("json only", &["application/json"], Json),
            ("json preferred", &["application/json, text/html;q=0.9"], Json),
            ("json with wildcard fallback", &["application/json, */*;q=0.1"], Json),
            ("html preferred over json", &["text/html, application/json;q=0.9"], Html),
            ("json and html tie", &["application/json, text/html"], Html),
            ("json and text tie", &["application/json, text/plain"], Json),
            ("text preferred", &["text/plain, application/json;q=0.5"], Text),
            ("text only", &["text/plain"], Text),
            ("text/* ties html", &["text/*"], Html),
            ("application/* is json", &["application/*"], Json),
            ("exact q=0 beats type wildcard", &["text/html;q=0, text/*"], Text),
            ("exact q=0 beats */*", &["application/json;q=0, */*"], Html),
            ("html refused, */* left", &["text/html;q=0, */*;q=0.5"], Json),
            ("everything refused", &["*/*;q=0"], Text),
            ("nothing matches", &["image/png"], Text),
            ("xml only", &["application/xml"], Text),
            ("weights with three decimals", &["text/html;q=0.501, application/json;q=0.502"], Json),
            ("q=1.000", &["application/json;q=1.000"], Json),
            ("spaces and upper case", &[" Application/JSON ; Q = 0.9 , text/html ; q=0.8"], Json),
            (
                "other parameters ignored",
                &["application/json;charset=utf-8;q=0.9, text/html;level=1;q=0.5"],
                Json,
            ),
            ("several lines", &["text/html;q=0.1", "application/json"], Json),
            ("malformed q skips that range", &["application/json;q=high, text/plain;q=0.2"], Text),
            ("q above 1 skips that range", &["application/json;q=1.5"], Html),
            ("too many decimals", &["application/json;q=0.1234"], Html),
            ("malformed", &["garbage"], Html),
            ("malformed separators", &[";;,,;q=1"], Html),
            ("invalid wildcard", &["*/json"], Html),
            ("non-UTF-8", &["\u{fffd}/\u{fffd}"], Html),
        ];
        for (desc, accept, want) in cases {
            assert_eq!(negotiate(&lines(accept)), *want, "{desc}: {accept:?}");
        }
    }

    #[test]
    fn raw_invalid_bytes_do_not_panic() {
        assert_eq!(
            negotiate(&[b"\xff\xfe/\x80;q=\xff".to_vec(), b"application/json".to_vec()]),
            Format::Json
        );
    }

    #[test]
    fn only_the_first_ranges_are_read() {
        let long = format!("{}application/json", "image/png, ".repeat(MAX_RANGES));
        assert_eq!(negotiate(&lines(&[&long])), Format::Text);
    }

    #[test]
    fn qvalues() {
        let cases: &[(&str, Option<u16>)] = &[
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.999", Some(999)),
            ("1", Some(1000)),
            ("1.00", Some(1000)),
            ("1.01", None),
            ("2", None),
            (".5", None),
            ("0.5x", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(qvalue(text.as_bytes()), *want, "{text:?}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(Format::Html.content_type(), "text/html; charset=utf-8");
        assert_eq!(Format::Json.content_type(), "application/json");
        assert_eq!(Format::Text.content_type(), "text/plain; charset=utf-8");
    }
}
