//! How a trivia bot plays: it knows the built-in pack, answers right with a
//! set probability, and takes a human-looking time to do it.

use std::time::Duration;

use rand::{Rng, RngExt};
use stadium_shared::trivia::pack::Pack;

/// The earliest and latest a bot answers, as shares of the time allowed.
/// The upper bound leaves a third of the time for the answer to travel, so
/// bots are never late because of their own choice.
const ANSWER_WINDOW: (f64, f64) = (0.15, 0.65);

/// The choice a bot makes: the right one with probability `accuracy` when
/// the pack knows the question, otherwise one of the wrong ones; a random
/// one when the question is unknown.
pub fn choose_answer<R: Rng + ?Sized>(
    pack: &Pack,
    question: &str,
    choices: &[String; 4],
    accuracy: f64,
    rng: &mut R,
) -> u8 {
    let Some(right) = right_choice(pack, question, choices) else {
        return rng.random_range(0..4);
    };
    if rng.random_bool(accuracy) {
        return right;
    }
    let wrong = rng.random_range(0..3);
    if wrong >= right { wrong + 1 } else { wrong }
}

/// How long a bot thinks before answering a question open for `time_ms`.
pub fn answer_delay<R: Rng + ?Sized>(time_ms: u32, rng: &mut R) -> Duration {
    let share = rng.random_range(ANSWER_WINDOW.0..=ANSWER_WINDOW.1);
    Duration::from_secs_f64(f64::from(time_ms) * share / 1000.0)
}

/// Where the pack's answer is among the choices as the room shuffled them.
fn right_choice(pack: &Pack, question: &str, choices: &[String; 4]) -> Option<u8> {
    let answer = pack.answer_to(question)?;
    let exact = choices.iter().position(|choice| choice == answer);
    let loose = || {
        choices
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(answer.trim()))
    };
    exact.or_else(loose).map(|index| index as u8)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    /// A built-in question with its choices shuffled so the right one is
    /// last, and that index.
    fn known_question(pack: &Pack) -> (String, [String; 4], u8) {
        let q = &pack.questions[0];
        let mut choices = q.incorrect_answers.clone();
        choices.push(q.correct_answer.clone());
        (q.question.clone(), choices.try_into().unwrap(), 3)
    }

    #[test]
    fn perfect_bots_always_answer_right() {
        let pack = Pack::built_in();
        let (question, choices, right) = known_question(&pack);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            assert_eq!(
                choose_answer(&pack, &question, &choices, 1.0, &mut rng),
                right
            );
        }
    }

    #[test]
    fn hopeless_bots_always_answer_wrong_and_vary() {
        let pack = Pack::built_in();
        let (question, choices, right) = known_question(&pack);
        let mut rng = StdRng::seed_from_u64(2);
        let picks: Vec<u8> = (0..200)
            .map(|_| choose_answer(&pack, &question, &choices, 0.0, &mut rng))
            .collect();
        assert!(picks.iter().all(|&pick| pick != right && pick < 4));
        for wrong in 0..3 {
            assert!(picks.contains(&wrong), "never picked {wrong}");
        }
    }

    #[test]
    fn unknown_questions_get_any_choice() {
        let pack = Pack::built_in();
        let choices = ["a", "b", "c", "d"].map(String::from);
        let mut rng = StdRng::seed_from_u64(3);
        let picks: Vec<u8> = (0..200)
            .map(|_| choose_answer(&pack, "Who?", &choices, 1.0, &mut rng))
            .collect();
        for choice in 0..4 {
            assert!(picks.contains(&choice), "never picked {choice}");
        }
    }

    #[test]
    fn answers_come_between_15_and_65_percent_of_the_time() {
        let mut rng = StdRng::seed_from_u64(4);
        for _ in 0..1000 {
            let delay = answer_delay(2000, &mut rng);
            assert!(delay >= Duration::from_millis(300), "{delay:?}");
            assert!(delay <= Duration::from_millis(1300), "{delay:?}");
        }
    }
}
