//! Interval timing that works inside Traefik's wasm host.
//!
//! Traefik gives guests the real wall clock (wazero `WithSysWalltime`) but
//! not the monotonic one: wazero's default monotonic clock is fake and
//! advances 1 ms per reading, so `std::time::Instant` cannot measure "at most
//! every 2 s" there. Intervals are therefore measured on `SystemTime`; a wall
//! clock that steps backwards makes the check due at once (re-reading a file
//! early is harmless, never re-reading it is not).

use std::time::{Duration, SystemTime};

/// True when at least `interval` has passed from `last` to `now`, or the
/// clock went backwards.
///
/// # Examples
/// ```
/// use std::time::{Duration, SystemTime};
/// use edgeguard::clock::due;
/// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
/// let two = Duration::from_secs(2);
/// assert!(!due(t0, t0 + Duration::from_secs(1), two));
/// assert!(due(t0, t0 + two, two));
/// assert!(due(t0, t0 - Duration::from_secs(1), two)); // clock stepped back
/// ```
pub fn due(last: SystemTime, now: SystemTime, interval: Duration) -> bool {
    now.duration_since(last).map_or(true, |elapsed| elapsed >= interval)
}
