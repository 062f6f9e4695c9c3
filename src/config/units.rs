//! Durations and byte sizes as operators write them.
//!
//! Durations use Go's `time.ParseDuration` syntax, as everywhere else in a
//! Traefik config (`"60s"`, `"1m30s"`, `"500ms"`); a bare number means
//! seconds. Byte sizes accept a bare number of bytes or a `KiB`/`MiB`/`GiB`
//! suffix. Written by hand: no maintained crate parses Go durations exactly.

use std::fmt;
use std::time::Duration;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Parses a Go-style duration: one or more `<number><unit>` with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; fractions allowed (`1.5h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration like \"2s\" or \"1m30s\""))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            // Only a lone number may go without a unit (seconds); `1h30`
            // is most likely 1h30m, but guessing would hide the typo.
            "" => {
                return Err(format!(
                    "`{text}`: the number `{}` has no unit; every number after the first needs one (ns, us, ms, s, m, h), e.g. \"1h30m\"",
                    &text[text.len() - num_len..]
                ));
            }
            unit => return Err(format!("`{text}` has unknown unit `{unit}` (use ns, us, ms, s, m, h)")),
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("`{text}` is out of range"))
}

/// Writes a duration the way it is configured (`0s`, `90s`, `1h30m`,
/// `250ms`), for messages: `Debug` would print `0ns` or `5400s`.
pub fn display_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d.subsec_nanos() != 0 {
        if d < Duration::from_secs(1) && d.subsec_nanos() % 1_000_000 == 0 {
            return format!("{}ms", d.as_millis());
        }
        return format!("{}s", d.as_secs_f64());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value != 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

/// Parses a byte size: `2097152`, `512KiB`, `2MiB`, `1GiB`.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: usize = text[..split].parse().map_err(|_| format!("`{text}` is not a size like \"2MiB\""))?;
    let scale = match text[split..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        unit => return Err(format!("`{text}` has unknown unit `{unit}` (use KiB, MiB, GiB)")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("`{text}` is out of range"))
}

/// Serde adapter for [`parse_duration`] (also accepts a number of seconds).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"2s\", \"1m30s\" or a number of seconds")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).map_err(E::custom)
        }
    }
    d.deserialize_any(V)
}

/// Serde adapter for [`parse_bytes`] (also accepts a number of bytes).
pub fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size such as \"2MiB\" or a number of bytes")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
            usize::try_from(v).map_err(|_| E::custom("size out of range"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
            parse_bytes(v).map_err(E::custom)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        let cases: &[(&str, Result<Duration, &str>)] = &[
            ("2s", Ok(ms(2000))),
            ("60", Ok(ms(60_000))),
            ("1m30s", Ok(ms(90_000))),
            ("500ms", Ok(ms(500))),
            ("1.5h", Ok(ms(5_400_000))),
            ("250us", Ok(Duration::from_micros(250))),
            ("", Err("empty duration")),
            ("5 parsecs", Err("`5 parsecs` has unknown unit ` parsecs` (use ns, us, ms, s, m, h)")),
            ("s", Err("`s` is not a duration like \"2s\" or \"1m30s\"")),
            (
                "1h30",
                Err(
                    "`1h30`: the number `30` has no unit; every number after the first needs one (ns, us, ms, s, m, h), e.g. \"1h30m\"",
                ),
            ),
            ("0s", Ok(Duration::ZERO)),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_duration(input).as_ref().map_err(String::as_str),
                want.as_ref().map_err(|e| *e),
                "{input:?}"
            );
        }
    }

    #[test]
    fn displayed_as_configured() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_millis(1500), "1.5s"),
        ];
        for (d, want) in cases {
            assert_eq!(display_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn sizes() {
        let cases: &[(&str, Result<usize, &str>)] = &[
            ("2097152", Ok(2 << 20)),
            ("2MiB", Ok(2 << 20)),
            ("512KiB", Ok(512 << 10)),
            ("1 GiB", Ok(1 << 30)),
            ("2MB", Err("`2MB` has unknown unit `MB` (use KiB, MiB, GiB)")),
            ("lots", Err("`lots` is not a size like \"2MiB\"")),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_bytes(input).as_ref().map_err(String::as_str),
                want.as_ref().map_err(|e| *e),
                "{input:?}"
            );
        }
    }
}
