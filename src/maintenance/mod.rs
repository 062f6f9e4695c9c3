//! The maintenance stage: answers a 503 page while queues drain, keeps health
//! checks and operators served.
//!
//! Maintenance is on while any trigger is on, checked cheapest first:
//! `enabled` in the config ([`Trigger::Config`]), the scheduled `window`
//! ([`Trigger::Window`]), then the flag file ([`Trigger::FlagFile`], read at
//! startup so a cold start never fails open, then at most once per
//! `checkInterval`). While it is on, a request is still let through when
//! its path, its `Host`, its *resolved* client IP (never the TCP peer) or a
//! bypass token matches `allow`, tested in that order; every other request
//! gets the maintenance response:
//!
//! - status `status` (503 by default; 500–599 only, so load balancers and
//!   clients see a server-side, retryable condition);
//! - `Retry-After`: `retryAfter`, else the seconds left in the window, else 300;
//! - `Cache-Control: no-store` and `Vary: Accept`, so no cache keeps the page
//!   after maintenance ends or serves one format to a client that asked for another;
//! - a body negotiated on `Accept`: HTML, JSON or plain text; none for `HEAD`.
//!
//! The stage decides; the caller writes. With `debugHeaders`, the caller
//! adds [`BYPASS_HEADER`] naming the [`BypassKind`] to bypassed responses.
//!
//! ```
//! use std::time::SystemTime;
//! use edgeguard::OwnedRequest;
//! use edgeguard::config::MaintenanceConfig;
//! use edgeguard::log::StderrLog;
//! use edgeguard::maintenance::{Action, BypassKind, MaintenanceStage, Trigger};
//!
//! let cfg: MaintenanceConfig =
//!     serde_json::from_str(r#"{"enabled": "true", "allow": {"paths": ["/healthz"]}}"#).unwrap();
//! let stage = MaintenanceStage::new(&cfg, &StderrLog).unwrap().expect("a trigger is configured");
//! let now = SystemTime::now();
//!
//! let page = OwnedRequest::new("192.0.2.1:4000");
//! let verdict = stage.decide(&page, None, now, &StderrLog);
//! assert_eq!(verdict.trigger, Some(Trigger::Config));
//! let Action::Block(response) = verdict.action else { unreachable!() };
//! assert_eq!(response.status, 503);
//!
//! let probe = OwnedRequest { uri: "/healthz/live".into(), ..page };
//! assert_eq!(stage.decide(&probe, None, now, &StderrLog).action, Action::Bypass(BypassKind::Path));
//!
//! let bad: MaintenanceConfig = serde_json::from_str(r#"{"enabled": true, "status": 200}"#).unwrap();
//! assert_eq!(MaintenanceStage::new(&bad, &StderrLog).unwrap_err().path(), "maintenance.status");
//! ```

mod allow;
mod flag;
mod negotiate;
mod page;
mod window;

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::SystemTime;

pub use allow::strip_cookie;
pub use negotiate::Format;
pub use window::DEFAULT_RETRY_AFTER_SECS;

use crate::config::MaintenanceConfig;
use crate::error::ConfigError;
use crate::log::{Level, Log};
use crate::request::{RequestView, Response};
use allow::Allow;
use flag::FlagFile;
use page::Page;
use window::Window;

/// Response header naming why a request was let through during maintenance
/// (only with `debugHeaders: true`).
pub const BYPASS_HEADER: &str = "X-Maintenance-Bypass";

/// What turned maintenance on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `enabled: true` in the config.
    Config,
    /// The flag file exists and does not say `off`.
    FlagFile,
    /// The current time is inside `window`.
    Window,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "config",
            Self::FlagFile => "flag file",
            Self::Window => "window",
        })
    }
}

/// Which `allow` rule let a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BypassKind {
    /// The resolved client IP is in `allow.cidrs`.
    Cidr,
    /// The path is under one of `allow.paths`.
    Path,
    /// The `Host` is one of `allow.hosts`.
    Host,
    /// The request carries the `allow.token` secret.
    Token,
}

impl fmt::Display for BypassKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cidr => "cidr",
            Self::Path => "path",
            Self::Host => "host",
            Self::Token => "token",
        })
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Maintenance is off: continue as usual.
    Pass,
    /// Maintenance is on but an `allow` rule matched: continue.
    Bypass(BypassKind),
    /// Maintenance is on: answer with this response, forward nothing.
    Block(Response),
}

/// The stage's decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What turned maintenance on; `None` when it is off.
    pub trigger: Option<Trigger>,
    /// What to do with the request.
    pub action: Action,
}

/// The validated `maintenance` section. `Send + Sync`: the flag file state
/// sits behind a mutex.
pub struct MaintenanceStage {
    enabled: bool,
    window: Option<Window>,
    flag: Option<FlagFile>,
    status: u16,
    retry_after: Option<u64>,
    page: Page,
    allow: Allow,
    debug_headers: bool,
    /// The trigger the last request saw ([`state_code`]), so a change is
    /// logged once, when it happens, by the instance that sees it.
    last: AtomicU8,
}

/// No request decided yet: the first one logs only if maintenance is on.
const STATE_UNKNOWN: u8 = u8::MAX;

fn state_code(trigger: Option<Trigger>) -> u8 {
    trigger.map_or(0, |t| t as u8 + 1)
}

impl fmt::Debug for MaintenanceStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaintenanceStage")
            .field("enabled", &self.enabled)
            .field("window", &self.window)
            .field("flag_file", &self.flag.as_ref().map(FlagFile::path))
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("allow", &self.allow)
            .finish_non_exhaustive()
    }
}

impl MaintenanceStage {
    /// Validates the section, reads the page, the token secret and the flag
    /// file. `None` when nothing can ever turn maintenance on (`enabled`
    /// false, no `flagFile`, no `window`). Everything else is validated even
    /// then, so a section prepared with `enabled: false` fails at deploy time,
    /// not when it is switched on during the cutover. Errors name the field
    /// under `maintenance`.
    pub fn new(cfg: &MaintenanceConfig, log: &dyn Log) -> Result<Option<Self>, ConfigError> {
        let window = Window::new(&cfg.window)?;
        if !(500..=599).contains(&cfg.status) {
            let reason = format!("must be a server error status between 500 and 599, got {}", cfg.status);
            return Err(ConfigError::invalid("maintenance.status", reason));
        }
        let retry_after = window::explicit_retry_after(cfg.retry_after)?;
        let page = Page::new(cfg)?;
        let allow = Allow::new(&cfg.allow, log)?;
        let flag_path = cfg.flag_file.trim();
        let flag = if flag_path.is_empty() {
            None
        } else {
            Some(FlagFile::new(flag_path, cfg.check_interval, log)?)
        };
        if !cfg.enabled && flag.is_none() && window.is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            enabled: cfg.enabled,
            window,
            flag,
            status: cfg.status,
            retry_after,
            page,
            allow,
            debug_headers: cfg.debug_headers,
            last: AtomicU8::new(STATE_UNKNOWN),
        }))
    }

    /// Decides for one request. `client` is the client IP resolved by the
    /// `clientIp` stage (never the TCP peer); `now` is the wall clock, used for
    /// the window and the flag file's `checkInterval`.
    pub fn decide(
        &self,
        req: &impl RequestView,
        client: Option<IpAddr>,
        now: SystemTime,
        log: &dyn Log,
    ) -> Verdict {
        let trigger = self.trigger(now, log);
        self.log_change(trigger, log);
        let Some(trigger) = trigger else {
            return Verdict { trigger: None, action: Action::Pass };
        };
        let action = match self.allow.check(req, client) {
            Some(kind) => Action::Bypass(kind),
            None => Action::Block(self.response(req, now)),
        };
        Verdict { trigger: Some(trigger), action }
    }

    /// Whether the caller should add [`BYPASS_HEADER`] to bypassed requests' responses.
    pub fn debug_headers(&self) -> bool {
        self.debug_headers
    }

    /// The request header that carries the bypass token, when `allow.token`
    /// uses a header; callers may remove it before forwarding so the secret
    /// does not reach the backend.
    pub fn token_header(&self) -> Option<&str> {
        self.allow.token_header()
    }

    /// Logs one INFO line when the trigger differs from the one the previous
    /// request saw: maintenance on (and why), or off. One atomic load per
    /// request otherwise.
    fn log_change(&self, trigger: Option<Trigger>, log: &dyn Log) {
        let code = state_code(trigger);
        if self.last.load(Ordering::Relaxed) == code {
            return;
        }
        let previous = self.last.swap(code, Ordering::Relaxed);
        if previous == code || (previous == STATE_UNKNOWN && trigger.is_none()) {
            return;
        }
        let message = match trigger {
            Some(t) => format!("edgeguard: maintenance on ({})", self.describe(t)),
            None => {
                "edgeguard: maintenance off (no trigger is on: config, flag file and window all off)".into()
            }
        };
        log.log(Level::Info, &message);
    }

    /// A trigger with what an operator needs to find it.
    fn describe(&self, trigger: Trigger) -> String {
        match trigger {
            Trigger::Config => "config: maintenance.enabled is true".into(),
            Trigger::FlagFile => match &self.flag {
                Some(flag) => format!("flag file {}", flag.path().display()),
                None => "flag file".into(),
            },
            Trigger::Window => match &self.window {
                Some(w) => format!("window until {}", w.end_text()),
                None => "window".into(),
            },
        }
    }

    /// The first trigger that is on, cheapest first; the flag file is not
    /// read while another trigger already holds maintenance on.
    fn trigger(&self, now: SystemTime, log: &dyn Log) -> Option<Trigger> {
        if self.enabled {
            Some(Trigger::Config)
        } else if self.window.as_ref().is_some_and(|w| w.contains(now)) {
            Some(Trigger::Window)
        } else if self.flag.as_ref().is_some_and(|f| f.is_on(now, log)) {
            Some(Trigger::FlagFile)
        } else {
            None
        }
    }

    /// The maintenance response for `req`.
    fn response(&self, req: &impl RequestView, now: SystemTime) -> Response {
        let retry = window::retry(self.retry_after, self.window.as_ref(), now);
        let format = negotiate::negotiate(&req.header_values("Accept"));
        let body = if req.method().eq_ignore_ascii_case("HEAD") {
            Vec::new()
        } else {
            self.page.body(format, self.status, retry)
        };
        Response {
            status: self.status,
            headers: vec![
                ("Content-Type".into(), format.content_type().into()),
                ("Retry-After".into(), retry.seconds.to_string()),
                ("Cache-Control".into(), "no-store".into()),
                ("Vary".into(), "Accept".into()),
            ],
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{MaintenanceAllowConfig, MaintenanceTokenConfig, MaintenanceWindowConfig};
    use crate::log::MemoryLog;
    use crate::request::OwnedRequest;
    use crate::testutil::set_env;

    const START: &str = "2025-06-01T02:00:00Z";
    const END: &str = "2025-06-01T04:00:00Z";

    /// 2025-06-01T03:00:00Z, an hour before the window ends.
    fn in_window() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_746_800)
    }

    fn stage(cfg: &MaintenanceConfig) -> MaintenanceStage {
        MaintenanceStage::new(cfg, &MemoryLog::default()).unwrap().expect("stage is on")
    }

    fn on() -> MaintenanceConfig {
        MaintenanceConfig { enabled: true, ..Default::default() }
    }

    fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn blocked(v: Verdict) -> Response {
        match v.action {
            Action::Block(r) => r,
            other => panic!("expected a block, got {other:?}"),
        }
    }

    #[test]
    fn state_changes_are_logged_once_each() {
        let cfg = MaintenanceConfig {
            window: MaintenanceWindowConfig { start: START.into(), end: END.into() },
            ..Default::default()
        };
        let s = stage(&cfg);
        let before = in_window() - Duration::from_secs(7200);
        let after = in_window() + Duration::from_secs(7200);
        let log = MemoryLog::default();
        let req = OwnedRequest::new("192.0.2.1:4000");
        // Off at first: nothing; on twice: one line; off twice: one line.
        for now in [before, before, in_window(), in_window(), after, after] {
            s.decide(&req, None, now, &log);
        }
        let lines: Vec<String> = log.lines().into_iter().map(|(l, m)| format!("{l} {m}")).collect();
        assert_eq!(
            lines,
            [
                "info edgeguard: maintenance on (window until 2025-06-01T04:00:00Z)",
                "info edgeguard: maintenance off (no trigger is on: config, flag file and window all off)",
            ],
        );
        let log = MemoryLog::default();
        stage(&on()).decide(&req, None, in_window(), &log);
        assert_eq!(
            log.lines(),
            [(Level::Info, "edgeguard: maintenance on (config: maintenance.enabled is true)".to_string())]
        );
    }

    #[test]
    fn stage_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MaintenanceStage>();
    }

    #[test]
    fn display_strings() {
        let triggers =
            [(Trigger::Config, "config"), (Trigger::FlagFile, "flag file"), (Trigger::Window, "window")];
        for (t, want) in triggers {
            assert_eq!(t.to_string(), want);
        }
        let kinds = [
            (BypassKind::Cidr, "cidr"),
            (BypassKind::Path, "path"),
            (BypassKind::Host, "host"),
            (BypassKind::Token, "token"),
        ];
        for (k, want) in kinds {
            assert_eq!(k.to_string(), want);
        }
    }

    #[test]
    fn nothing_configured_means_no_stage() {
        let log = MemoryLog::default();
        assert!(MaintenanceStage::new(&MaintenanceConfig::default(), &log).unwrap().is_none());
        // Settings that cannot turn maintenance on by themselves do not build a stage.
        let idle = MaintenanceConfig {
            status: 502,
            debug_headers: true,
            page_html: "<p>x</p>".into(),
            ..Default::default()
        };
        assert!(MaintenanceStage::new(&idle, &log).unwrap().is_none());
    }

    #[test]
    fn a_prepared_but_disabled_section_is_still_validated() {
        let cases = [
            (MaintenanceConfig { status: 200, ..Default::default() }, "maintenance.status"),
            (
                MaintenanceConfig {
                    allow: MaintenanceAllowConfig {
                        token: MaintenanceTokenConfig {
                            header: "X-T".into(),
                            secret_env: "EDGEGUARD_TEST_MOD_PREPARED_UNSET".into(),
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "maintenance.allow.token.secretEnv",
            ),
        ];
        for (cfg, path) in cases {
            let err = MaintenanceStage::new(&cfg, &MemoryLog::default()).unwrap_err();
            assert_eq!(err.path(), path, "{err}");
        }
    }

    #[test]
    fn off_passes_without_evaluating_bypass() {
        let window = MaintenanceWindowConfig { start: START.into(), end: END.into() };
        let s = stage(&MaintenanceConfig {
            window,
            allow: MaintenanceAllowConfig { paths: vec!["/healthz".into()], ..Default::default() },
            ..Default::default()
        });
        let probe = OwnedRequest { uri: "/healthz".into(), ..OwnedRequest::new("192.0.2.1:1") };
        let after = in_window() + Duration::from_secs(3600);
        assert_eq!(
            s.decide(&probe, None, after, &MemoryLog::default()),
            Verdict { trigger: None, action: Action::Pass }
        );
        let v = s.decide(&probe, None, in_window(), &MemoryLog::default());
        assert_eq!(v, Verdict { trigger: Some(Trigger::Window), action: Action::Bypass(BypassKind::Path) });
    }

    #[test]
    fn blocked_response_headers_and_bodies() {
        struct Case {
            desc: &'static str,
            cfg: MaintenanceConfig,
            method: &'static str,
            accept: Option<&'static str>,
            content_type: &'static str,
            retry_after: &'static str,
        }
        let window = MaintenanceWindowConfig { start: START.into(), end: END.into() };
        let windowed = MaintenanceConfig { window: window.clone(), ..Default::default() };
        let cases = [
            Case {
                desc: "config, default retry, no Accept",
                cfg: on(),
                method: "GET",
                accept: None,
                content_type: "text/html; charset=utf-8",
                retry_after: "300",
            },
            Case {
                desc: "window, retry from its end",
                cfg: windowed.clone(),
                method: "GET",
                accept: Some("application/json"),
                content_type: "application/json",
                retry_after: "3600",
            },
            Case {
                desc: "explicit retryAfter wins",
                cfg: MaintenanceConfig { retry_after: Some(Duration::from_secs(90)), ..windowed },
                method: "GET",
                accept: Some("text/plain"),
                content_type: "text/plain; charset=utf-8",
                retry_after: "90",
            },
            Case {
                desc: "HEAD: same headers, no body",
                cfg: on(),
                method: "HEAD",
                accept: Some("application/json"),
                content_type: "application/json",
                retry_after: "300",
            },
        ];
        for c in cases {
            let mut req = OwnedRequest { method: c.method.into(), ..OwnedRequest::new("192.0.2.1:1") };
            if let Some(accept) = c.accept {
                req = req.header("Accept", accept);
            }
            let r = blocked(stage(&c.cfg).decide(&req, None, in_window(), &MemoryLog::default()));
            let desc = c.desc;
            assert_eq!(r.status, 503, "{desc}");
            assert_eq!(header(&r, "Content-Type"), Some(c.content_type), "{desc}");
            assert_eq!(header(&r, "Retry-After"), Some(c.retry_after), "{desc}");
            assert_eq!(header(&r, "Cache-Control"), Some("no-store"), "{desc}");
            assert_eq!(header(&r, "Vary"), Some("Accept"), "{desc}");
            assert_eq!(r.body.is_empty(), c.method == "HEAD", "{desc}");
        }

        let json = OwnedRequest::new("192.0.2.1:1").header("Accept", "application/json");
        let cfg = MaintenanceConfig { window, ..Default::default() };
        let r = blocked(stage(&cfg).decide(&json, None, in_window(), &MemoryLog::default()));
        let want =
            format!("{{\"status\":503,\"error\":\"maintenance\",\"retryAfter\":3600,\"until\":\"{END}\"}}\n");
        assert_eq!(String::from_utf8(r.body).unwrap(), want);
    }

    #[test]
    fn custom_status_and_inline_page() {
        let cfg =
            MaintenanceConfig { status: 599, page_html: "<p>{{retryAfter}}|{{until}}</p>".into(), ..on() };
        let r = blocked(stage(&cfg).decide(
            &OwnedRequest::new("192.0.2.1:1"),
            None,
            in_window(),
            &MemoryLog::default(),
        ));
        assert_eq!((r.status, r.body.as_slice()), (599, &b"<p>300|</p>"[..]));
    }

    #[test]
    fn status_must_be_a_server_error() {
        let log = MemoryLog::default();
        for (status, ok) in [
            (500, true),
            (503, true),
            (599, true),
            (499, false),
            (200, false),
            (512, true),
            (600, false),
            (0, false),
        ] {
            let got = MaintenanceStage::new(&MaintenanceConfig { status, ..on() }, &log);
            match got {
                Ok(_) => assert!(ok, "{status}"),
                Err(e) => {
                    assert!(!ok, "{status}: {e}");
                    assert_eq!(
                        e.to_string(),
                        format!(
                            "invalid config at `maintenance.status`: must be a server error status between 500 and 599, got {status}"
                        )
                    );
                }
            }
        }
    }

    #[test]
    fn config_errors_surface_from_every_part() {
        let cases: &[(&str, MaintenanceConfig, &str)] = &[
            (
                "retryAfter zero",
                MaintenanceConfig { retry_after: Some(Duration::ZERO), ..on() },
                "maintenance.retryAfter",
            ),
            (
                "page conflict",
                MaintenanceConfig { page: "/p.html".into(), page_html: "x".into(), ..on() },
                "maintenance.page",
            ),
            (
                "window order",
                MaintenanceConfig {
                    window: MaintenanceWindowConfig { start: END.into(), end: START.into() },
                    ..Default::default()
                },
                "maintenance.window",
            ),
            (
                "token",
                MaintenanceConfig {
                    allow: MaintenanceAllowConfig {
                        token: MaintenanceTokenConfig {
                            header: "X-T".into(),
                            secret_env: "EDGEGUARD_TEST_MOD_UNSET".into(),
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                    ..on()
                },
                "maintenance.allow.token.secretEnv",
            ),
        ];
        for (desc, cfg, path) in cases {
            let err = MaintenanceStage::new(cfg, &MemoryLog::default()).unwrap_err();
            assert_eq!(err.path(), *path, "{desc}: {err}");
        }
    }

    #[test]
    fn bypass_uses_the_resolved_client_and_token() {
        set_env("EDGEGUARD_TEST_MOD_TOKEN", "0123456789abcdef0123456789abcdef");
        let cfg = MaintenanceConfig {
            allow: MaintenanceAllowConfig {
                cidrs: vec!["203.0.113.0/24".into()],
                token: MaintenanceTokenConfig {
                    header: "X-Maintenance-Token".into(),
                    secret_env: "EDGEGUARD_TEST_MOD_TOKEN".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            debug_headers: true,
            ..on()
        };
        let s = stage(&cfg);
        assert!(s.debug_headers());
        assert_eq!(s.token_header(), Some("X-Maintenance-Token"));
        let log = MemoryLog::default();
        // The TCP peer is in the allowed range, the resolved client is not: blocked.
        let via_proxy = OwnedRequest::new("203.0.113.5:443");
        assert!(matches!(
            s.decide(&via_proxy, "198.51.100.7".parse().ok(), in_window(), &log).action,
            Action::Block(_)
        ));
        let v = s.decide(&via_proxy, "203.0.113.99".parse().ok(), in_window(), &log);
        assert_eq!(v.action, Action::Bypass(BypassKind::Cidr));
        let with_token = via_proxy.header("X-Maintenance-Token", "0123456789abcdef0123456789abcdef");
        assert_eq!(s.decide(&with_token, None, in_window(), &log).action, Action::Bypass(BypassKind::Token));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        set_env("EDGEGUARD_TEST_MOD_DEBUG", "do-not-print-this-secret-value");
        let cfg = MaintenanceConfig {
            allow: MaintenanceAllowConfig {
                token: MaintenanceTokenConfig {
                    cookie: "mt".into(),
                    secret_env: "EDGEGUARD_TEST_MOD_DEBUG".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..on()
        };
        let debug = format!("{:?}", stage(&cfg));
        assert!(!debug.contains("do-not-print"), "{debug}");
    }

    /// File-based tests run natively only: wasm32-wasip1 test binaries have
    /// no temporary directory to write to.
    #[cfg(not(target_arch = "wasm32"))]
    mod files {
        use std::fs;

        use super::*;

        #[test]
        fn flag_file_trigger_and_caching() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("maintenance");
            let log = MemoryLog::default();
            let req = OwnedRequest::new("192.0.2.1:1");
            let cfg = |interval| MaintenanceConfig {
                flag_file: path.to_str().unwrap().into(),
                check_interval: interval,
                ..Default::default()
            };

            // Long interval: the state read at init holds.
            fs::write(&path, "on").unwrap();
            let long = stage(&cfg(Duration::from_secs(3600)));
            assert_eq!(
                long.decide(&req, None, SystemTime::now(), &log).trigger,
                Some(Trigger::FlagFile),
                "read at init"
            );
            fs::write(&path, "off").unwrap();
            assert_eq!(
                long.decide(&req, None, SystemTime::now(), &log).trigger,
                Some(Trigger::FlagFile),
                "cached"
            );

            // Tiny interval: the change is seen once it passed.
            let short = stage(&cfg(Duration::from_millis(1)));
            assert_eq!(short.decide(&req, None, SystemTime::now(), &log).trigger, None, "off at init");
            fs::write(&path, "").unwrap();
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(short.decide(&req, None, SystemTime::now(), &log).trigger, Some(Trigger::FlagFile));
            fs::remove_file(&path).unwrap();
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(short.decide(&req, None, SystemTime::now(), &log).trigger, None, "vanished");
        }

        #[test]
        fn flag_file_in_a_missing_directory_is_a_config_error() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("nope").join("flag");
            let cfg = MaintenanceConfig { flag_file: path.to_str().unwrap().into(), ..Default::default() };
            let err = MaintenanceStage::new(&cfg, &MemoryLog::default()).unwrap_err();
            assert_eq!(err.path(), "maintenance.flagFile");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        }

        #[test]
        fn unreadable_page_is_a_config_error_naming_the_path() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("missing.html");
            let cfg = MaintenanceConfig { page: path.to_str().unwrap().into(), ..on() };
            let err = MaintenanceStage::new(&cfg, &MemoryLog::default()).unwrap_err();
            assert_eq!(err.path(), "maintenance.page");
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        }
    }
}
