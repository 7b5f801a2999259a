//! Question packs: the built-in pack and the format operators write.
//!
//! A pack is JSON: `{"name": ..., "questions": [{"category", "difficulty",
//! "question", "correct_answer", "incorrect_answers": [3 strings]}]}`. The
//! question fields are named as in Open Trivia DB so its exports need only
//! their envelope and HTML entities handled (the server does that).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::Difficulty;

/// A multiple-choice question with its answer key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Category, such as "Science".
    pub category: String,
    /// Difficulty.
    pub difficulty: Difficulty,
    /// The question text.
    pub question: String,
    /// The right answer.
    pub correct_answer: String,
    /// Three wrong answers.
    pub incorrect_answers: Vec<String>,
}

/// A named list of questions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pack {
    /// The pack's name.
    pub name: String,
    /// Its questions.
    pub questions: Vec<Question>,
}

/// Why a pack cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    /// The file is not a pack.
    #[error("not a question pack: {0}")]
    Parse(String),
    /// A question does not have four distinct choices.
    #[error(
        "question {index} ({question:?}) needs exactly three distinct wrong answers that differ from the right one"
    )]
    Choices {
        /// Position in the pack.
        index: usize,
        /// Its text.
        question: String,
    },
    /// The same question text appears twice.
    #[error("question {index} ({question:?}) appears twice")]
    Duplicate {
        /// Position of the second copy.
        index: usize,
        /// Its text.
        question: String,
    },
    /// A question has empty text.
    #[error("question {index} has an empty text or answer")]
    Empty {
        /// Position in the pack.
        index: usize,
    },
}

const BUILT_IN: &[&str] = &[
    include_str!("../../../assets/trivia/science.json"),
    include_str!("../../../assets/trivia/geography.json"),
    include_str!("../../../assets/trivia/history.json"),
    include_str!("../../../assets/trivia/sports.json"),
    include_str!("../../../assets/trivia/music.json"),
    include_str!("../../../assets/trivia/film-tv.json"),
    include_str!("../../../assets/trivia/literature.json"),
    include_str!("../../../assets/trivia/technology.json"),
];

impl Pack {
    /// The pack compiled into every build, from `assets/trivia/`.
    pub fn built_in() -> Pack {
        let mut pack = Pack {
            name: "Stadium built-in".to_owned(),
            questions: Vec::new(),
        };
        for file in BUILT_IN {
            let part = Pack::from_json(file).expect("built-in trivia files are valid packs");
            pack.questions.extend(part.questions);
        }
        pack
    }

    /// Parses a pack in Stadium's format and validates it.
    pub fn from_json(text: &str) -> Result<Pack, PackError> {
        let pack: Pack = serde_json::from_str(text).map_err(|e| PackError::Parse(e.to_string()))?;
        pack.validate()?;
        Ok(pack)
    }

    /// Checks every question: text present, four distinct choices
    /// (ignoring case and surrounding space), no question asked twice.
    pub fn validate(&self) -> Result<(), PackError> {
        let mut seen = HashSet::new();
        for (index, q) in self.questions.iter().enumerate() {
            if q.question.trim().is_empty() || q.correct_answer.trim().is_empty() {
                return Err(PackError::Empty { index });
            }
            let choices: HashSet<String> = q
                .choices()
                .iter()
                .map(|c| c.trim().to_lowercase())
                .collect();
            if q.incorrect_answers.len() != 3 || choices.len() != 4 || choices.contains("") {
                return Err(PackError::Choices {
                    index,
                    question: q.question.clone(),
                });
            }
            if !seen.insert(q.question.trim().to_lowercase()) {
                return Err(PackError::Duplicate {
                    index,
                    question: q.question.clone(),
                });
            }
        }
        Ok(())
    }

    /// Merges another pack in, skipping questions already present.
    pub fn merge(&mut self, other: Pack) {
        let mut seen: HashSet<String> = self
            .questions
            .iter()
            .map(|q| q.question.trim().to_lowercase())
            .collect();
        for q in other.questions {
            if seen.insert(q.question.trim().to_lowercase()) {
                self.questions.push(q);
            }
        }
    }

    /// The categories in the pack, sorted.
    pub fn categories(&self) -> Vec<String> {
        let mut names: Vec<String> = self.questions.iter().map(|q| q.category.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Looks up the right answer to a question by its text, as a player who
    /// knows the pack would.
    pub fn answer_to(&self, question: &str) -> Option<&str> {
        self.questions
            .iter()
            .find(|q| q.question == question)
            .map(|q| q.correct_answer.as_str())
    }
}

impl Question {
    /// The right answer followed by the wrong ones.
    pub fn choices(&self) -> Vec<&str> {
        let mut all = vec![self.correct_answer.as_str()];
        all.extend(self.incorrect_answers.iter().map(String::as_str));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_pack_is_large_varied_and_valid() {
        let pack = Pack::built_in();
        assert!(
            pack.questions.len() >= 300,
            "{} questions",
            pack.questions.len()
        );
        assert!(pack.categories().len() >= 8, "{:?}", pack.categories());
        pack.validate().unwrap();
        for difficulty in [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard] {
            assert!(pack.questions.iter().any(|q| q.difficulty == difficulty));
        }
    }

    #[test]
    fn every_built_in_question_has_exactly_one_correct_choice() {
        for q in Pack::built_in().questions {
            let correct = q
                .choices()
                .iter()
                .filter(|c| c.eq_ignore_ascii_case(&q.correct_answer))
                .count();
            assert_eq!(correct, 1, "{}", q.question);
        }
    }

    #[test]
    fn packs_with_bad_choices_or_duplicates_are_refused() {
        let q = |text: &str, wrong: [&str; 3]| Question {
            category: "X".into(),
            difficulty: Difficulty::Easy,
            question: text.into(),
            correct_answer: "A".into(),
            incorrect_answers: wrong.iter().map(|s| s.to_string()).collect(),
        };
        let same_choice = Pack {
            name: "p".into(),
            questions: vec![q("Q?", ["a", "B", "C"])],
        };
        assert!(matches!(
            same_choice.validate(),
            Err(PackError::Choices { .. })
        ));
        let twice = Pack {
            name: "p".into(),
            questions: vec![q("Q?", ["B", "C", "D"]), q(" q? ", ["B", "C", "D"])],
        };
        assert!(matches!(
            twice.validate(),
            Err(PackError::Duplicate { index: 1, .. })
        ));
    }
}
