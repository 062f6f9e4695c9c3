//! Fakes shared by the unit tests.

/// Sets an environment variable for a test.
pub(crate) fn set_env(name: &str, value: &str) {
    // SAFETY: std serialises its own environment reads and writes with a
    // lock, and nothing in these tests reads the environment through libc
    // directly. Every test uses its own variable name, so tests running in
    // parallel never observe each other's values.
    unsafe { std::env::set_var(name, value) };
}

/// A 32-byte key.
pub(crate) const KEY: &str = "0123456789abcdef0123456789abcdef";

/// `secs` after the Unix epoch.
pub(crate) fn at(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}
