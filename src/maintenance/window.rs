//! The scheduled window and the `Retry-After` value derived from it.
//!
//! Instants are compared as Unix nanoseconds (`i128`), so no timestamp an
//! operator can write and no clock value can overflow a conversion.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::MaintenanceWindowConfig;
use crate::error::ConfigError;

/// `Retry-After` when neither `retryAfter` nor the window says otherwise.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 300;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// A validated window: on from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    start: i128,
    end: i128,
    /// `end` as RFC 3339, in the offset the operator wrote.
    end_text: String,
}

impl Window {
    /// `None` when neither bound is set. Errors name `maintenance.window.*`.
    pub(crate) fn new(cfg: &MaintenanceWindowConfig) -> Result<Option<Self>, ConfigError> {
        let (start, end) = (cfg.start.trim(), cfg.end.trim());
        match (start.is_empty(), end.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => {
                return Err(ConfigError::invalid(
                    "maintenance.window.end",
                    "is required when `window.start` is set",
                ));
            }
            (true, false) => {
                return Err(ConfigError::invalid(
                    "maintenance.window.start",
                    "is required when `window.end` is set",
                ));
            }
            (false, false) => {}
        }
        let start_at = parse("maintenance.window.start", start)?;
        let end_at = parse("maintenance.window.end", end)?;
        if start_at >= end_at {
            let reason = format!("`window.start` ({start}) must be before `window.end` ({end})");
            return Err(ConfigError::invalid("maintenance.window", reason));
        }
        let end_text = end_at.format(&Rfc3339).unwrap_or_else(|_| end.to_string());
        Ok(Some(Self {
            start: start_at.unix_timestamp_nanos(),
            end: end_at.unix_timestamp_nanos(),
            end_text,
        }))
    }

    /// True when `start <= now < end`.
    pub(crate) fn contains(&self, now: SystemTime) -> bool {
        let now = unix_nanos(now);
        self.start <= now && now < self.end
    }

    /// Whole seconds from `now` to the end, rounded up and at least 1; `None` outside the window.
    pub(crate) fn seconds_left(&self, now: SystemTime) -> Option<u64> {
        if !self.contains(now) {
            return None;
        }
        let left = self.end - unix_nanos(now);
        let secs = (left + NANOS_PER_SEC - 1) / NANOS_PER_SEC;
        Some(u64::try_from(secs).unwrap_or(u64::MAX).max(1))
    }

    /// The end as RFC 3339.
    pub(crate) fn end_text(&self) -> &str {
        &self.end_text
    }
}

/// What a blocked response says about when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry<'a> {
    /// `Retry-After` in seconds.
    pub(crate) seconds: u64,
    /// The window end when `now` is inside the window, else unknown.
    pub(crate) until: Option<&'a str>,
}

/// `retryAfter` if set; else the time left in the window when inside it; else 300 seconds.
pub(crate) fn retry<'a>(explicit: Option<u64>, window: Option<&'a Window>, now: SystemTime) -> Retry<'a> {
    let inside = window.and_then(|w| w.seconds_left(now).map(|left| (w, left)));
    let seconds = explicit.or(inside.map(|(_, left)| left)).unwrap_or(DEFAULT_RETRY_AFTER_SECS);
    Retry { seconds, until: inside.map(|(w, _)| w.end_text()) }
}

/// Validates `retryAfter`: whole seconds, rounded up, at least one.
pub(crate) fn explicit_retry_after(value: Option<Duration>) -> Result<Option<u64>, ConfigError> {
    let Some(d) = value else { return Ok(None) };
    if d.is_zero() {
        return Err(ConfigError::invalid("maintenance.retryAfter", "must be at least 1s"));
    }
    Ok(Some(d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))))
}

fn parse(field: &str, text: &str) -> Result<OffsetDateTime, ConfigError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        ConfigError::invalid(
            field,
            format!("`{text}` is not an RFC 3339 timestamp like 2025-06-01T02:00:00Z: {e}"),
        )
    })
}

/// `t` as nanoseconds since the Unix epoch, negative before it.
fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        let t = OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap();
        SystemTime::UNIX_EPOCH + Duration::from_nanos(t.unix_timestamp_nanos() as u64)
    }

    fn window(start: &str, end: &str) -> Result<Option<Window>, ConfigError> {
        Window::new(&MaintenanceWindowConfig { start: start.into(), end: end.into() })
    }

    const START: &str = "2025-06-01T02:00:00Z";
    const END: &str = "2025-06-01T04:00:00Z";

    #[test]
    fn edges_start_inclusive_end_exclusive() {
        let w = window(START, END).unwrap().unwrap();
        let cases = [
            ("an hour before", "2025-06-01T01:00:00Z", false),
            ("just before start", "2025-06-01T01:59:59.999999999Z", false),
            ("at start", START, true),
            ("inside", "2025-06-01T03:00:00Z", true),
            ("just before end", "2025-06-01T03:59:59.999999999Z", true),
            ("at end", END, false),
            ("after", "2025-06-02T00:00:00Z", false),
        ];
        for (desc, now, want) in cases {
            assert_eq!(w.contains(at(now)), want, "{desc}: {now}");
        }
        assert!(!w.contains(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), "before the epoch");
    }

    #[test]
    fn offsets_are_honoured_and_kept_in_until() {
        let w = window("2025-06-01T04:00:00+02:00", "2025-06-01T06:00:00+02:00").unwrap().unwrap();
        assert!(w.contains(at(START)));
        assert!(!w.contains(at(END)));
        assert_eq!(w.end_text(), "2025-06-01T06:00:00+02:00");
    }

    #[test]
    fn retry_after_sources() {
        let w = window(START, END).unwrap().unwrap();
        struct Case {
            desc: &'static str,
            explicit: Option<u64>,
            now: &'static str,
            want: Retry<'static>,
        }
        let inside = |seconds| Retry { seconds, until: Some(END) };
        let outside = |seconds| Retry { seconds, until: None };
        let cases = [
            Case {
                desc: "explicit wins inside the window",
                explicit: Some(60),
                now: "2025-06-01T03:00:00Z",
                want: inside(60),
            },
            Case {
                desc: "explicit outside the window",
                explicit: Some(60),
                now: "2025-06-01T05:00:00Z",
                want: outside(60),
            },
            Case {
                desc: "window end, whole seconds",
                explicit: None,
                now: "2025-06-01T03:00:00Z",
                want: inside(3600),
            },
            Case {
                desc: "window end, rounded up",
                explicit: None,
                now: "2025-06-01T03:59:58.2Z",
                want: inside(2),
            },
            Case {
                desc: "window end, at least 1",
                explicit: None,
                now: "2025-06-01T03:59:59.999999999Z",
                want: inside(1),
            },
            Case { desc: "window start", explicit: None, now: START, want: inside(7200) },
            Case {
                desc: "before the window: default",
                explicit: None,
                now: "2025-06-01T01:00:00Z",
                want: outside(300),
            },
            Case { desc: "after the window: default", explicit: None, now: END, want: outside(300) },
        ];
        for c in cases {
            assert_eq!(
                retry(c.explicit, Some(&w), at(c.now)),
                c.want,
                "{}: explicit {:?} at {}",
                c.desc,
                c.explicit,
                c.now
            );
        }
        assert_eq!(retry(None, None, at(START)), Retry { seconds: DEFAULT_RETRY_AFTER_SECS, until: None });
    }

    #[test]
    fn explicit_retry_after_rounds_up_and_refuses_zero() {
        type Want = Result<Option<u64>, &'static str>;
        let cases: [(Option<Duration>, Want); 5] = [
            (None, Ok(None)),
            (Some(Duration::from_secs(120)), Ok(Some(120))),
            (Some(Duration::from_millis(1500)), Ok(Some(2))),
            (Some(Duration::from_millis(1)), Ok(Some(1))),
            (Some(Duration::ZERO), Err("invalid config at `maintenance.retryAfter`: must be at least 1s")),
        ];
        for (input, want) in cases {
            let got = explicit_retry_after(input).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{input:?}");
        }
    }

    #[test]
    fn config_errors_name_the_fields() {
        let cases = [
            ("", "", None),
            (START, "", Some(("maintenance.window.end", "is required when `window.start` is set"))),
            ("", END, Some(("maintenance.window.start", "is required when `window.end` is set"))),
            ("tomorrow", END, Some(("maintenance.window.start", "`tomorrow` is not an RFC 3339 timestamp"))),
            (START, "2025-06-01 04:00", Some(("maintenance.window.end", "is not an RFC 3339 timestamp"))),
            (
                END,
                START,
                Some((
                    "maintenance.window",
                    "`window.start` (2025-06-01T04:00:00Z) must be before `window.end` (2025-06-01T02:00:00Z)",
                )),
            ),
            (START, START, Some(("maintenance.window", "must be before `window.end`"))),
        ];
        for (start, end, want) in cases {
            match (window(start, end), want) {
                (Ok(w), None) => assert!(w.is_none()),
                (Err(e), Some((path, reason))) => {
                    assert_eq!(e.path(), path, "{start:?}..{end:?}");
                    assert!(e.to_string().contains(reason), "{start:?}..{end:?}: {e}");
                }
                (got, want) => panic!("{start:?}..{end:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
