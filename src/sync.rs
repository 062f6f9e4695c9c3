//! The crate's one lock-poison policy: a poisoned lock is used as it is.
//!
//! The plugin is built with `panic = "abort"`: a panic ends the wasm instance
//! before any guard is dropped, so no lock is ever poisoned there. The native
//! sidecar survives a panic in one request's task (tokio catches it), which
//! poisons the lock that task held for every other thread. The data behind
//! each lock in this crate is written one whole field at a time, so an
//! interrupted update leaves a valid state, if maybe a stale one (a database
//! check cut short keeps the database it had); refusing it would turn one
//! bug into a stage that stays broken until a restart.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking over a poisoned one.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
