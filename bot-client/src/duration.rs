//! Durations as people type them on a command line: `40s`, `2m`, `500ms`,
//! `1m30s`, `1.5h`, or a plain number of seconds.

use std::time::Duration;

/// Why text is not a duration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration")]
    Empty,
    /// A part does not start with a number.
    #[error("expected a number in {0:?}")]
    Number(String),
    /// A number has a unit other than `ms`, `s`, `m` or `h`.
    #[error("unknown unit {unit:?} in {text:?}: use ms, s, m or h")]
    Unit {
        /// The whole input.
        text: String,
        /// The unit found.
        unit: String,
    },
    /// The duration does not fit a [`Duration`].
    #[error("duration {0:?} is too long")]
    Overflow(String),
}

/// Parses a duration: one or more `NUMBER UNIT` parts (units `ms`, `s`,
/// `m`, `h`; numbers may have a fraction), or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds, text);
    }

    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| DurationError::Number(text.to_owned()))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => {
                return Err(DurationError::Unit {
                    text: text.to_owned(),
                    unit: unit.to_owned(),
                });
            }
        };
        total += number * seconds_per_unit;
        rest = rest[unit_len..].trim_start();
    }
    seconds_to_duration(total, text)
}

fn seconds_to_duration(seconds: f64, text: &str) -> Result<Duration, DurationError> {
    // `parse::<f64>` accepts "inf", "NaN" and signs; none is a duration.
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(DurationError::Number(text.to_owned()));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::Overflow(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds_parse() {
        assert_eq!(parse_duration("40s"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 1.5 "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn parts_add_up() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2s500ms"), Ok(Duration::from_millis(2500)));
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("10x"),
            Err(DurationError::Unit { .. })
        ));
        assert!(matches!(parse_duration("s"), Err(DurationError::Number(_))));
        assert!(matches!(
            parse_duration("-5"),
            Err(DurationError::Number(_))
        ));
        assert!(matches!(
            parse_duration("inf"),
            Err(DurationError::Number(_))
        ));
        assert!(matches!(
            parse_duration("1..2s"),
            Err(DurationError::Number(_))
        ));
        assert!(matches!(
            parse_duration("1e300"),
            Err(DurationError::Overflow(_))
        ));
    }
}
