//! The rehearsal's assertions: every check is recorded, so one run reports
//! all failures at once, and the run fails if any check failed.

use std::fmt::{Debug, Display};

/// Which behaviour a check pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// What EdgeGuard does today.
    Current,
    /// The identity hardening of issue #13 (default `sources` = X-Forwarded-For
    /// only; managed headers stripped in every spelling from every peer; no
    /// X-Original-Forwarded-For from an untrusted peer).
    Issue13,
}

#[derive(Debug)]
struct Outcome {
    scenario: u8,
    what: String,
    ok: bool,
    detail: String,
    needs: Needs,
}

/// Every check of one run.
#[derive(Debug, Default)]
pub struct Checks {
    outcomes: Vec<Outcome>,
}

impl Checks {
    /// Records `ok` for `what`, printing it at once.
    pub fn that(&mut self, scenario: u8, needs: Needs, what: &str, ok: bool, detail: impl Display) {
        let tag = if needs == Needs::Issue13 { " [#13]" } else { "" };
        let mark = if ok { "ok  " } else { "FAIL" };
        let detail = detail.to_string();
        if detail.is_empty() {
            println!("  {mark} [{scenario}]{tag} {what}");
        } else {
            println!("  {mark} [{scenario}]{tag} {what}: {detail}");
        }
        self.outcomes.push(Outcome { scenario, what: what.to_string(), ok, detail, needs });
    }

    /// `got == want`.
    pub fn eq<T: PartialEq + Debug>(&mut self, scenario: u8, needs: Needs, what: &str, got: T, want: T) {
        let ok = got == want;
        let detail = if ok { format!("{got:?}") } else { format!("got {got:?}, want {want:?}") };
        self.that(scenario, needs, what, ok, detail);
    }

    /// A step that could not even be observed (no answer, wrong status, ...).
    pub fn error(&mut self, scenario: u8, what: &str, error: &anyhow::Error) {
        self.that(scenario, Needs::Current, what, false, format!("{error:#}"));
    }

    pub fn count(&self) -> usize {
        self.outcomes.len()
    }

    /// The failures, one line each, or `None` when every check passed.
    pub fn failures(&self) -> Option<String> {
        let failed: Vec<&Outcome> = self.outcomes.iter().filter(|o| !o.ok).collect();
        if failed.is_empty() {
            return None;
        }
        let pending = failed.iter().filter(|o| o.needs == Needs::Issue13).count();
        let mut out = format!(
            "{} of {} checks failed ({pending} of them pin issue #13's behaviour, marked [#13]):\n",
            failed.len(),
            self.outcomes.len()
        );
        for o in failed {
            let tag = if o.needs == Needs::Issue13 { " [#13]" } else { "" };
            out.push_str(&format!("  [{}]{tag} {}: {}\n", o.scenario, o.what, o.detail));
        }
        Some(out)
    }
}
