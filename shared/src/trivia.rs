//! Trivia rules shared by server and clients: settings, scoring and packs.
//!
//! A player earns nothing for a wrong or missing answer, and for a right
//! one 100 points plus up to 100 more for speed, in proportion to the time
//! left when the server received the answer. See [`points`].

pub mod pack;

use serde::{Deserialize, Serialize};

/// How hard a question is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    /// Most players know it.
    Easy,
    /// Some players know it.
    Medium,
    /// Few players know it.
    Hard,
}

/// A trivia room's settings. Every field has a default, so JSON clients may
/// send `{}`; the server checks each against its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriviaSettings {
    /// Questions per match.
    pub questions: u16,
    /// Seconds allowed per question.
    pub question_secs: u16,
    /// Seconds the answer is shown before the next question.
    pub reveal_secs: u16,
    /// Seats.
    pub max_players: u16,
    /// Seconds of countdown once two players are in.
    pub start_countdown_secs: u16,
    /// Ask only questions of this category (case-insensitive).
    pub category: Option<String>,
}

impl Default for TriviaSettings {
    fn default() -> Self {
        Self {
            questions: 10,
            question_secs: 15,
            reveal_secs: 4,
            max_players: 100,
            start_countdown_secs: 10,
            category: None,
        }
    }
}

/// Points for a right answer, before the speed bonus.
pub const BASE_POINTS: u32 = 100;
/// The largest speed bonus, for an instant answer.
pub const MAX_SPEED_BONUS: u32 = 100;

/// Points awarded for one answer.
///
/// `elapsed_ms` is the time from the question being sent to the answer
/// being received, as the server measured it; `time_ms` the time allowed.
pub fn points(correct: bool, elapsed_ms: u32, time_ms: u32) -> u32 {
    if !correct || time_ms == 0 {
        return 0;
    }
    let left = u64::from(time_ms.saturating_sub(elapsed_ms));
    BASE_POINTS + (u64::from(MAX_SPEED_BONUS) * left / u64::from(time_ms)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_answers_score_by_speed() {
        assert_eq!(points(true, 0, 15_000), 200);
        assert_eq!(points(true, 7_500, 15_000), 150);
        assert_eq!(points(true, 14_999, 15_000), 100);
        assert_eq!(points(true, 15_000, 15_000), 100);
        assert_eq!(points(true, 1_000, 2_000), 150);
        assert_eq!(points(true, 333, 1_000), 166);
    }

    #[test]
    fn wrong_answers_score_nothing() {
        assert_eq!(points(false, 0, 15_000), 0);
        assert_eq!(points(false, 20_000, 15_000), 0);
    }
}
