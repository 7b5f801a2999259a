//! The games Stadium hosts, one folder each: components, systems and the
//! outputs they produce. Games run inside rooms and never see transports.

pub mod asteroids;
pub mod trivia;

use std::ops::RangeInclusive;

/// Checks one room setting against the server's limit for it, with a
/// reason a room creator can act on.
pub(crate) fn check_setting(
    name: &str,
    value: u16,
    range: RangeInclusive<u16>,
) -> Result<(), String> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be in {}..={}, got {value}",
            range.start(),
            range.end()
        ))
    }
}
