//! Scenario 2, the cutover drill: clients send bounded load while the
//! operator turns maintenance on and off, once with the flag file (the
//! ConfigMap key) and once with the dynamic configuration (the Middleware
//! patch); every request is recorded and judged afterwards.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::deploy::Middlewares;
use super::network::{Network, host};
use super::probe::{Path, Probe, spawn_in_host};
use super::verdict::{Checks, Needs};

/// Pause between two requests of one loop (about 20 requests/s per loop).
const PACE: Duration = Duration::from_millis(50);
/// Upper bound on the requests of one loop, whatever happens.
const MAX_REQUESTS_PER_LOOP: usize = 4000;
/// How long every loop must keep seeing the new state before the next switch.
const HOLD: Duration = Duration::from_millis(1500);
/// Requests in a row that show the new state before the drill calls it switched.
const SETTLED_RUN: usize = 3;
/// Longest wait for the dynamic configuration: Traefik's file watch, its
/// `providersThrottleDuration` (2 s) and the rebuilt middleware.
const DYNAMIC_LIMIT: Duration = Duration::from_secs(20);
/// Allowance on top of `checkInterval` for the flag file: a request's round
/// trip and the pace of the loops, on a busy 2-core machine.
const FLAG_MARGIN: Duration = Duration::from_millis(1500);

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const API_ACCEPT: &str = "application/json";

/// Who a load loop plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A customer: 503 while maintenance is on.
    Customer,
    /// A customer claiming to be the operator (X-Forwarded-For, X-Real-IP): still a customer.
    Impostor,
    /// The operator host, allowed by its resolved address: always 200.
    Operator,
    /// The load balancer's health path: always 200.
    Health,
}

#[derive(Debug, Clone)]
struct Sample {
    sent: Instant,
    status: Option<u16>,
    error: Option<String>,
    browser: bool,
    retry_after: Option<String>,
    content_type: Option<String>,
    bypass: Option<String>,
}

struct Loop {
    name: String,
    role: Role,
    samples: Arc<Mutex<Vec<Sample>>>,
    handle: std::thread::JoinHandle<Result<()>>,
}

impl Loop {
    fn start(
        net: &Network,
        stop: &Arc<AtomicBool>,
        host_name: &str,
        role: Role,
        probe: Probe,
    ) -> Result<Self> {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let name = format!("{host_name} {role:?} {} {}", probe.path.name(), probe.target);
        let (out, stop) = (samples.clone(), stop.clone());
        let handle = spawn_in_host(&net.ns(host_name), move || async move {
            for i in 0..MAX_REQUESTS_PER_LOOP {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let browser = i % 2 == 0;
                let probe = probe.clone().header("Accept", if browser { BROWSER_ACCEPT } else { API_ACCEPT });
                let sent = Instant::now();
                let sample = match probe.send().await {
                    Ok(r) => Sample {
                        sent,
                        status: Some(r.status),
                        error: None,
                        browser,
                        retry_after: r.headers.get("retry-after").cloned(),
                        content_type: r.headers.get("content-type").cloned(),
                        bypass: r.headers.get("x-maintenance-bypass").cloned(),
                    },
                    Err(e) => Sample {
                        sent,
                        status: None,
                        error: Some(format!("{e:#}")),
                        browser,
                        retry_after: None,
                        content_type: None,
                        bypass: None,
                    },
                };
                out.lock().unwrap_or_else(|e| e.into_inner()).push(sample);
                tokio::time::sleep(PACE).await;
            }
        })?;
        Ok(Self { name, role, samples, handle })
    }

    fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The status maintenance `on` should give this loop.
    fn expected(&self, on: bool) -> u16 {
        match self.role {
            Role::Customer | Role::Impostor if on => 503,
            _ => 200,
        }
    }
}

/// How the operator turns maintenance on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// The flag file in the mounted volume (a ConfigMap key in Kubernetes).
    FlagFile,
    /// `maintenance.enabled` in the dynamic configuration (the Middleware patch).
    DynamicConfig,
}

/// Where the switches are.
pub struct Controls<'a> {
    pub flag_file: &'a FsPath,
    /// The Middlewares as deployed (`checkInterval`, `retryAfter`).
    pub middlewares: &'a Middlewares,
    /// Writes every dynamic configuration with `maintenance.enabled` set:
    /// Traefik's (the Middleware patch) and the sidecar's (its ConfigMap edit).
    pub set_enabled: &'a dyn Fn(bool) -> Result<()>,
}

impl Controls<'_> {
    fn set(&self, switch: Switch, on: bool) -> Result<()> {
        match switch {
            Switch::FlagFile => write_atomically(self.flag_file, if on { "on\n" } else { "off\n" }),
            Switch::DynamicConfig => (self.set_enabled)(on),
        }
    }
}

/// Written aside and renamed over, as the kubelet swaps a ConfigMap volume:
/// a reader never sees half a file.
pub fn write_atomically(path: &FsPath, text: &str) -> Result<()> {
    let aside = path.with_extension("next");
    std::fs::write(&aside, text).with_context(|| format!("writing {}", aside.display()))?;
    std::fs::rename(&aside, path).with_context(|| format!("renaming over {}", path.display()))
}

/// A duration as EdgeGuard's config writes it (`2s`, `500ms`, `10m`).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().with_context(|| format!("duration {text:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => bail!("duration {text:?}: unit must be ms, s or m"),
    })
}

/// One switch of the drill: when it was made and in which direction.
#[derive(Debug, Clone, Copy)]
struct Event {
    at: Instant,
    on: bool,
    switch: Switch,
}

/// Scenario 2.
pub fn run(net: &Network, controls: &Controls, checks: &mut Checks) -> Result<()> {
    println!("\n[2] the cutover drill");
    let maintenance = &controls.middlewares.alb["maintenance"];
    let check_interval = parse_duration(maintenance["checkInterval"].as_str().context("checkInterval")?)?;
    let retry_after =
        parse_duration(maintenance["retryAfter"].as_str().context("retryAfter")?)?.as_secs().to_string();
    let operator = host("operator").v4_addr();
    let operator_str = operator.to_string();
    let a = host("client-a").v4_addr();
    let a6 = host("client-a").v6_addr().context("client-a is dual-stack")?;
    let b = host("client-b").v4_addr();
    let c = host("client-c").v4_addr();

    let stop = Arc::new(AtomicBool::new(false));
    let loops = vec![
        Loop::start(net, &stop, "client-a", Role::Customer, Probe::new(a, Path::AlbPlugin, "/checkout"))?,
        Loop::start(net, &stop, "client-a", Role::Customer, Probe::new(a, Path::AlbPlugin, "/api/orders"))?,
        Loop::start(net, &stop, "client-b", Role::Customer, Probe::new(b, Path::NlbPlugin, "/checkout"))?,
        Loop::start(net, &stop, "client-b", Role::Customer, Probe::new(b, Path::NlbPlugin, "/api/orders"))?,
        Loop::start(net, &stop, "client-a", Role::Customer, Probe::new(a6, Path::NlbSidecar, "/checkout"))?,
        Loop::start(
            net,
            &stop,
            "client-c",
            Role::Impostor,
            Probe::new(c, Path::AlbPlugin, "/admin")
                .header("X-Forwarded-For", &operator_str)
                .header("X-Real-IP", &operator_str),
        )?,
        Loop::start(net, &stop, "operator", Role::Operator, Probe::new(operator, Path::AlbPlugin, "/admin"))?,
        Loop::start(net, &stop, "client-b", Role::Health, Probe::new(b, Path::AlbPlugin, "/healthz"))?,
    ];
    let mut events = Vec::new();
    let driven = drive(&loops, controls, check_interval, &mut events);
    stop.store(true, Ordering::SeqCst);
    let mut loop_errors = Vec::new();
    let mut judged = Vec::new();
    for l in loops {
        let (expected_on, expected_off) = (l.expected(true), l.expected(false));
        // Each loop ends within one request timeout after `stop`.
        let joined = l.handle.join().unwrap_or_else(|_| Err(anyhow::anyhow!("panicked")));
        if let Err(e) = joined {
            loop_errors.push(format!("{}: {e:#}", l.name));
        }
        let got = l.samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
        judged.push(Judged {
            name: l.name,
            role: l.role,
            want_on: expected_on,
            want_off: expected_off,
            samples: got,
        });
    }
    if let Err(e) = driven {
        checks.error(2, "every switch took effect for every client", &e);
    }
    checks.eq(2, Needs::Current, "every load loop ran to its end", loop_errors, Vec::new());
    judge(&judged, &events, check_interval, &retry_after, checks);
    Ok(())
}

/// Flips each switch on and off, waiting each time until every loop sees the new state.
fn drive(
    loops: &[Loop],
    controls: &Controls,
    check_interval: Duration,
    events: &mut Vec<Event>,
) -> Result<()> {
    // Baseline: everyone gets through.
    wait_settled(loops, Instant::now(), false, Duration::from_secs(10))?;
    std::thread::sleep(HOLD);
    for switch in [Switch::FlagFile, Switch::DynamicConfig] {
        let limit = match switch {
            Switch::FlagFile => check_interval * 3 + FLAG_MARGIN,
            Switch::DynamicConfig => DYNAMIC_LIMIT,
        };
        for on in [true, false] {
            let at = Instant::now();
            controls.set(switch, on)?;
            events.push(Event { at, on, switch });
            wait_settled(loops, at, on, limit)
                .with_context(|| format!("{switch:?} {}", if on { "on" } else { "off" }))?;
            std::thread::sleep(HOLD);
        }
    }
    Ok(())
}

/// Waits until the last few answers of every loop, sent after `since`, show state `on`.
fn wait_settled(loops: &[Loop], since: Instant, on: bool, limit: Duration) -> Result<()> {
    let deadline = since + limit;
    loop {
        let settled = loops.iter().all(|l| {
            let samples = l.samples();
            let recent: Vec<&Sample> = samples.iter().filter(|s| s.sent >= since).collect();
            recent.len() >= SETTLED_RUN
                && recent[recent.len() - SETTLED_RUN..].iter().all(|s| s.status == Some(l.expected(on)))
        });
        if settled {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let state: Vec<String> = loops
                .iter()
                .map(|l| {
                    let last: Vec<Option<u16>> = l.samples().iter().rev().take(5).map(|s| s.status).collect();
                    format!("{}: last statuses {last:?}", l.name)
                })
                .collect();
            bail!(
                "maintenance {} not seen by every client within {limit:?}: {}",
                if on { "on" } else { "off" },
                state.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One loop's record, for judging after the drill.
struct Judged {
    name: String,
    role: Role,
    want_on: u16,
    want_off: u16,
    samples: Vec<Sample>,
}

/// The state in force when `sample` was sent: the last event before it.
fn phase<'a>(events: &'a [Event], sample: &Sample) -> Option<&'a Event> {
    events.iter().rev().find(|e| e.at <= sample.sent)
}

fn judge(
    loops: &[Judged],
    events: &[Event],
    check_interval: Duration,
    retry_after: &str,
    checks: &mut Checks,
) {
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut bad_pages = Vec::new();
    let mut bypass_reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for Judged { name, role, samples, .. } in loops {
        for s in samples {
            let key = s.status.map_or("connection error".to_string(), |c| c.to_string());
            *statuses.entry(key).or_default() += 1;
            if let Some(e) = &s.error {
                errors.push(format!("{name}: {e}"));
            }
            if s.status == Some(503) {
                let want_type = if s.browser { "text/html" } else { "application/json" };
                let type_ok = s.content_type.as_deref().is_some_and(|t| t.starts_with(want_type));
                if s.retry_after.as_deref() != Some(retry_after) || !type_ok {
                    bad_pages.push(format!(
                        "{name}: Retry-After {:?}, Content-Type {:?} for {}",
                        s.retry_after,
                        s.content_type,
                        if s.browser { "a browser" } else { "an API client" }
                    ));
                }
            }
            let on = phase(events, s).is_some_and(|e| e.on);
            if on && matches!(role, Role::Operator | Role::Health) {
                bypass_reasons
                    .entry(if *role == Role::Operator { "operator" } else { "health" })
                    .or_default()
                    .push(s.bypass.clone().unwrap_or_default());
            }
        }
    }
    let total: usize = statuses.values().sum();
    println!("      {total} requests: {statuses:?}");
    let others: Vec<&String> = statuses.keys().filter(|k| *k != "200" && *k != "503").collect();
    checks.eq(2, Needs::Current, "no status other than 200 and 503, no connection error", others, Vec::new());
    errors.truncate(5);
    checks.eq(2, Needs::Current, "zero connection errors", errors, Vec::new());
    bad_pages.truncate(5);
    checks.eq(
        2,
        Needs::Current,
        "every 503 has Retry-After and HTML for a browser, JSON for an API client",
        bad_pages,
        Vec::new(),
    );
    for (who, want) in [("operator", "cidr"), ("health", "path")] {
        // Right after a switch, before it takes effect, a request passes
        // without a reason: count only the answers that name one.
        let reasons = bypass_reasons.get(who).cloned().unwrap_or_default();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for reason in reasons.iter().filter(|r| !r.is_empty()) {
            *seen.entry(reason).or_default() += 1;
        }
        let ok = seen.len() == 1 && seen.contains_key(want);
        checks.that(
            2,
            Needs::Current,
            &format!("the {who} passes during maintenance as X-Maintenance-Bypass: {want}"),
            ok,
            format!("{seen:?} of {} requests while on", reasons.len()),
        );
    }

    let mut worst: Vec<Duration> = vec![Duration::ZERO; events.len()];
    for Judged { name, role, want_on, want_off, samples } in loops {
        if matches!(role, Role::Operator | Role::Health) {
            let wrong = samples.iter().filter(|s| s.status != Some(200)).count();
            checks.eq(
                2,
                Needs::Current,
                &format!("{name}: 200 throughout ({} requests)", samples.len()),
                wrong,
                0,
            );
            continue;
        }
        for (i, event) in events.iter().enumerate() {
            let want = if event.on { *want_on } else { *want_off };
            let inside = between(samples, event.at, events.get(i + 1).map(|e| e.at));
            let Some(delay) = effect_delay(&inside, event.at, want) else {
                let what = format!("{name}: {:?} {} took effect", event.switch, onoff(event.on));
                checks.that(2, Needs::Current, &what, false, "no request showed it");
                continue;
            };
            worst[i] = worst[i].max(delay);
            let bound = match event.switch {
                Switch::FlagFile => check_interval + FLAG_MARGIN,
                Switch::DynamicConfig => DYNAMIC_LIMIT,
            };
            let what = format!(
                "{name}: {:?} {}: every request {want} after {:.1} s",
                event.switch,
                onoff(event.on),
                delay.as_secs_f64()
            );
            checks.that(
                2,
                Needs::Current,
                &what,
                delay <= bound,
                format!("bound {:.1} s", bound.as_secs_f64()),
            );
        }
    }
    for (event, worst) in events.iter().zip(worst) {
        println!(
            "      propagation, {:?} {}: {:.2} s until every customer saw it",
            event.switch,
            onoff(event.on),
            worst.as_secs_f64()
        );
    }
}

/// The samples sent from `start` until `end`.
fn between(samples: &[Sample], start: Instant, end: Option<Instant>) -> Vec<&Sample> {
    samples.iter().filter(|s| s.sent >= start && end.is_none_or(|end| s.sent < end)).collect()
}

/// When a switch made at `at` took effect for one loop: the sending time of
/// the first request after the last one that still got the old answer.
/// `None` if no request after that showed the new state.
fn effect_delay(inside: &[&Sample], at: Instant, want: u16) -> Option<Duration> {
    let first_settled = match inside.iter().rposition(|s| s.status != Some(want)) {
        None => 0,
        Some(j) => j + 1,
    };
    inside.get(first_settled).map(|s| s.sent - at)
}

fn onoff(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_the_config_writes_them() {
        let cases =
            [("2s", Some(2_000)), ("500ms", Some(500)), ("10m", Some(600_000)), ("2h", None), ("s", None)];
        for (text, want) in cases {
            let got = parse_duration(text).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn a_switch_takes_effect_after_the_last_old_answer() {
        let at = Instant::now();
        let sample = |ms: u64, status: u16| Sample {
            sent: at + Duration::from_millis(ms),
            status: Some(status),
            error: None,
            browser: false,
            retry_after: None,
            content_type: None,
            bypass: None,
        };
        let cases: [(&str, Vec<Sample>, Option<u64>); 4] = [
            ("at once", vec![sample(10, 503), sample(60, 503)], Some(10)),
            (
                "after a flip-flop",
                vec![sample(10, 200), sample(60, 503), sample(110, 200), sample(160, 503)],
                Some(160),
            ),
            ("never", vec![sample(10, 200), sample(60, 200)], None),
            ("no request", vec![], None),
        ];
        for (desc, samples, want) in cases {
            let inside: Vec<&Sample> = samples.iter().collect();
            let got = effect_delay(&inside, at, 503).map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "{desc}");
        }
    }
}
