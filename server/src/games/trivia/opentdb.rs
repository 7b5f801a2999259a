//! Loading operators' question packs: Stadium's own format, or an export
//! from Open Trivia DB (`{"response_code": 0, "results": [...]}`, text with
//! HTML entities, true/false questions mixed in).

use std::path::Path;

use serde::Deserialize;
use stadium_shared::trivia::Difficulty;
use stadium_shared::trivia::pack::{Pack, PackError, Question};

#[derive(Deserialize)]
struct Export {
    results: Vec<ExportQuestion>,
}

#[derive(Deserialize)]
struct ExportQuestion {
    #[serde(rename = "type")]
    kind: String,
    difficulty: Difficulty,
    category: String,
    question: String,
    correct_answer: String,
    incorrect_answers: Vec<String>,
}

/// Reads a pack file in either format. Open Trivia DB's true/false
/// questions are skipped: rooms always offer four choices.
pub fn load(path: &Path) -> anyhow::Result<Pack> {
    let text = std::fs::read_to_string(path)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(parse(&text, &name)?)
}

/// Parses pack text in either format.
pub fn parse(text: &str, name: &str) -> Result<Pack, PackError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PackError::Parse(e.to_string()))?;
    if value.get("results").is_none() {
        return Pack::from_json(text);
    }
    let export: Export =
        serde_json::from_value(value).map_err(|e| PackError::Parse(e.to_string()))?;
    let decode = |s: &str| html_escape::decode_html_entities(s).trim().to_owned();
    let questions = export
        .results
        .into_iter()
        .filter(|q| q.kind == "multiple")
        .map(|q| Question {
            category: decode(&q.category),
            difficulty: q.difficulty,
            question: decode(&q.question),
            correct_answer: decode(&q.correct_answer),
            incorrect_answers: q.incorrect_answers.iter().map(|a| decode(a)).collect(),
        })
        .collect();
    let pack = Pack {
        name: name.to_owned(),
        questions,
    };
    pack.validate()?;
    Ok(pack)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = r#"{"response_code":0,"results":[
        {"type":"multiple","difficulty":"easy","category":"Science &amp; Nature",
         "question":"What is the chemical symbol for &quot;gold&quot;?",
         "correct_answer":"Au","incorrect_answers":["Ag","Gd","Go"]},
        {"type":"boolean","difficulty":"easy","category":"General Knowledge",
         "question":"The sky is blue.","correct_answer":"True","incorrect_answers":["False"]}
    ]}"#;

    #[test]
    fn open_trivia_db_exports_are_decoded_and_true_false_skipped() {
        let pack = parse(EXPORT, "otdb").unwrap();
        assert_eq!(pack.questions.len(), 1);
        let q = &pack.questions[0];
        assert_eq!(q.category, "Science & Nature");
        assert_eq!(q.question, "What is the chemical symbol for \"gold\"?");
        assert_eq!(q.correct_answer, "Au");
        assert_eq!(q.difficulty, Difficulty::Easy);
    }

    #[test]
    fn stadium_packs_load_unchanged() {
        let text = r#"{"name":"mine","questions":[{"category":"X","difficulty":"hard",
            "question":"Q?","correct_answer":"A","incorrect_answers":["B","C","D"]}]}"#;
        assert_eq!(parse(text, "ignored").unwrap().name, "mine");
    }

    #[test]
    fn exports_with_bad_questions_are_refused() {
        let text = r#"{"response_code":0,"results":[{"type":"multiple","difficulty":"easy",
            "category":"X","question":"Q?","correct_answer":"A","incorrect_answers":["A","B","C"]}]}"#;
        assert!(matches!(parse(text, "bad"), Err(PackError::Choices { .. })));
    }
}
