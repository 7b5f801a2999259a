//! Trivia: timed multiple-choice questions scored by correctness and speed.
//!
//! The match is a `bevy_ecs` world. Players are entities with a [`Player`],
//! a [`Score`] and a [`Given`] answer; the match's phase, its questions and
//! the room's seeded RNG are resources. Each tick runs two sets in order:
//! [`TriviaSet::Ingest`] applies the commands that arrived since the last
//! tick, [`TriviaSet::Advance`] moves the phase along the clock
//! (lobby, question, reveal, ..., standings, lobby) and emits events.
//!
//! The correct choice of an open question lives only in [`Match`]; the
//! question event carries the shuffled choices without it.

pub mod opentdb;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use stadium_shared::trivia::pack::{Pack, Question};
use stadium_shared::trivia::{self, TriviaSettings};
use stadium_shared::{
    AnswerResult, ErrorCode, Event, GameKind, OpenQuestion, Progress, RoomState,
    Score as ScoreEntry, ServerMsg, SessionId, Tick, TriviaEvent, TriviaProgress,
};

use crate::room::{Game, GameCommand, Outbox};

/// Trivia rooms step ten times a second: answers are timed on receipt, so
/// the tick only decides when phases change.
pub const TICK_HZ: u32 = 10;

/// How long final standings stay up before the next match.
pub const STANDINGS_TIME: Duration = Duration::from_secs(5);

/// Limits on what a room creator may ask for.
pub mod limits {
    /// Questions per match.
    pub const QUESTIONS: std::ops::RangeInclusive<u16> = 1..=50;
    /// Seconds per question.
    pub const QUESTION_SECS: std::ops::RangeInclusive<u16> = 1..=120;
    /// Seconds of reveal.
    pub const REVEAL_SECS: std::ops::RangeInclusive<u16> = 1..=30;
    /// Seats. A reveal lists every player's result and score; at 200 it
    /// stays well inside one frame even in JSON.
    pub const MAX_PLAYERS: std::ops::RangeInclusive<u16> = 1..=200;
    /// Seconds of start countdown.
    pub const COUNTDOWN_SECS: std::ops::RangeInclusive<u16> = 0..=300;
}

/// The two stages of a trivia tick.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TriviaSet {
    /// Apply joins, leaves, answers and start requests.
    Ingest,
    /// Move the match along the clock and emit events.
    Advance,
}

/// A seated player.
#[derive(Component, Debug)]
pub struct Player {
    /// Their session.
    pub session: SessionId,
    /// Their nickname.
    pub nickname: String,
    /// When they sat down; they may answer only questions opened later.
    pub seated_at: Instant,
}

/// A player's running total in the current match.
#[derive(Component, Debug, Default)]
pub struct Score {
    /// Points.
    pub points: u32,
    /// Right answers.
    pub correct: u16,
}

/// A player's answer to the open question.
#[derive(Component, Debug, Default)]
pub struct Given(Option<GivenAnswer>);

/// An answer as recorded by the server.
#[derive(Debug, Clone, Copy)]
pub struct GivenAnswer {
    question: u16,
    choice: u8,
    elapsed_ms: u32,
}

/// Commands waiting for the next tick.
#[derive(Resource, Default)]
struct Inbox(Vec<Command>);

enum Command {
    Join {
        session: SessionId,
        nickname: String,
    },
    Leave {
        session: SessionId,
    },
    Start,
    Answer {
        session: SessionId,
        question: u16,
        choice: u8,
        received_at: Instant,
    },
}

/// What this tick produced.
#[derive(Resource, Default)]
struct Produced(Outbox);

/// The time of the current tick.
#[derive(Resource)]
struct Now(Instant);

/// Players' entities by session.
#[derive(Resource, Default)]
struct Seats(HashMap<SessionId, Entity>);

/// The room's seeded random numbers: question order and choice order.
#[derive(Resource)]
struct RoomRng(StdRng);

#[derive(Resource)]
struct Rules {
    settings: TriviaSettings,
    pack: Arc<Pack>,
    /// Indices of the pack's questions allowed by the category filter.
    eligible: Vec<usize>,
}

impl Rules {
    fn question_time(&self) -> Duration {
        Duration::from_secs(self.settings.question_secs.into())
    }

    fn reveal_time(&self) -> Duration {
        Duration::from_secs(self.settings.reveal_secs.into())
    }
}

/// A question as asked in this match: choices shuffled, answer kept here.
struct Asked {
    question: Question,
    choices: [String; 4],
    correct: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Lobby {
        countdown_until: Option<Instant>,
    },
    Question {
        index: u16,
        opened_at: Instant,
        deadline: Instant,
    },
    Reveal {
        index: u16,
        deadline: Instant,
        until: Instant,
    },
    Standings {
        until: Instant,
        /// Whether the clients were told the next match starts at `until`,
        /// as it does while the room is full.
        announced: bool,
    },
}

/// The match: phase, questions and whether the host asked to start.
#[derive(Resource)]
struct Match {
    phase: Phase,
    number: u32,
    asked: Vec<Asked>,
    start_requested: bool,
    /// The totals the newest reveal (or the standings) showed.
    scoreboard: Vec<ScoreEntry>,
}

/// A trivia room's simulation.
pub struct TriviaGame {
    world: World,
    schedule: Schedule,
}

impl TriviaGame {
    /// A room with `settings`, drawing questions from `pack` with an RNG
    /// seeded by `seed`. Fails with a readable reason when the settings are
    /// outside the server's limits or the pack cannot supply the match.
    pub fn new(settings: TriviaSettings, pack: Arc<Pack>, seed: u64) -> Result<Self, String> {
        check(&settings)?;
        let eligible: Vec<usize> = pack
            .questions
            .iter()
            .enumerate()
            .filter(|(_, q)| {
                settings
                    .category
                    .as_ref()
                    .is_none_or(|c| q.category.eq_ignore_ascii_case(c.trim()))
            })
            .map(|(i, _)| i)
            .collect();
        if eligible.len() < usize::from(settings.questions) {
            return Err(format!(
                "{} questions asked but only {} available{}",
                settings.questions,
                eligible.len(),
                settings
                    .category
                    .as_ref()
                    .map(|c| format!(" in category {c:?}"))
                    .unwrap_or_default()
            ));
        }
        let mut world = World::new();
        world.insert_resource(Rules {
            settings,
            pack,
            eligible,
        });
        world.insert_resource(Match {
            phase: Phase::Lobby {
                countdown_until: None,
            },
            number: 0,
            asked: Vec::new(),
            start_requested: false,
            scoreboard: Vec::new(),
        });
        world.insert_resource(RoomRng(StdRng::seed_from_u64(seed)));
        world.insert_resource(Now(Instant::now()));
        world.init_resource::<Inbox>();
        world.init_resource::<Produced>();
        world.init_resource::<Seats>();

        let mut schedule = Schedule::default();
        schedule.set_executor(SingleThreadedExecutor::new());
        schedule.configure_sets((TriviaSet::Ingest, TriviaSet::Advance).chain());
        schedule.add_systems(ingest.in_set(TriviaSet::Ingest));
        schedule.add_systems(advance.in_set(TriviaSet::Advance));
        Ok(Self { world, schedule })
    }

    fn push(&mut self, command: Command) {
        self.world.resource_mut::<Inbox>().0.push(command);
    }
}

fn check(settings: &TriviaSettings) -> Result<(), String> {
    let field = super::check_setting;
    field("questions", settings.questions, limits::QUESTIONS)?;
    field(
        "question_secs",
        settings.question_secs,
        limits::QUESTION_SECS,
    )?;
    field("reveal_secs", settings.reveal_secs, limits::REVEAL_SECS)?;
    field("max_players", settings.max_players, limits::MAX_PLAYERS)?;
    field(
        "start_countdown_secs",
        settings.start_countdown_secs,
        limits::COUNTDOWN_SECS,
    )?;
    Ok(())
}

impl Game for TriviaGame {
    fn kind(&self) -> GameKind {
        GameKind::Trivia
    }

    fn tick_hz(&self) -> u32 {
        TICK_HZ
    }

    fn max_players(&self) -> u16 {
        self.world.resource::<Rules>().settings.max_players
    }

    fn state(&self) -> RoomState {
        match self.world.resource::<Match>().phase {
            Phase::Lobby { .. } => RoomState::Lobby,
            Phase::Question { .. } | Phase::Reveal { .. } => RoomState::Running,
            Phase::Standings { .. } => RoomState::Finished,
        }
    }

    fn player_joined(&mut self, session: SessionId, nickname: &str) {
        self.push(Command::Join {
            session,
            nickname: nickname.to_owned(),
        });
    }

    fn player_left(&mut self, session: SessionId) {
        self.push(Command::Leave { session });
    }

    fn command(
        &mut self,
        session: SessionId,
        command: GameCommand,
        is_host: bool,
        out: &mut Outbox,
    ) {
        match command {
            GameCommand::Start if !is_host => out.to(session, ServerMsg::error(ErrorCode::NotHost)),
            GameCommand::Start => {
                if matches!(self.world.resource::<Match>().phase, Phase::Lobby { .. }) {
                    self.push(Command::Start);
                } else {
                    out.to(session, ServerMsg::error(ErrorCode::MatchRunning));
                }
            }
            GameCommand::Answer {
                question,
                choice,
                received_at,
            } => {
                self.push(Command::Answer {
                    session,
                    question,
                    choice,
                    received_at,
                });
            }
            GameCommand::Input(_) | GameCommand::Ack(_) => out.to(
                session,
                ServerMsg::error_with(ErrorCode::WrongGame, "trivia takes answers, not inputs"),
            ),
        }
    }

    /// The countdown, or the open question with its time left and the
    /// scores so far: a late joiner or spectator missed the events that
    /// showed them. Never the open question's correct choice.
    fn progress(&mut self, now: Instant) -> Option<Progress> {
        let rules = self.world.resource::<Rules>();
        let game = self.world.resource::<Match>();
        let ms = |until: Instant| until.saturating_duration_since(now).as_millis() as u32;
        let (starts_in_ms, question, left_ms) = match game.phase {
            Phase::Lobby {
                countdown_until: None,
            } => return None,
            Phase::Lobby {
                countdown_until: Some(at),
            } => (Some(ms(at)), None, 0),
            Phase::Question {
                index, deadline, ..
            } => (None, Some(shown(index, rules, game)), ms(deadline)),
            Phase::Reveal { .. } => (None, None, 0),
            Phase::Standings { until, announced } => (announced.then(|| ms(until)), None, 0),
        };
        let scoreboard = match game.phase {
            Phase::Lobby { .. } => Vec::new(),
            _ => game.scoreboard.clone(),
        };
        Some(Progress::Trivia(TriviaProgress {
            starts_in_ms,
            question,
            left_ms,
            scoreboard,
        }))
    }

    fn step(&mut self, _tick: Tick, now: Instant, out: &mut Outbox) {
        self.world.resource_mut::<Now>().0 = now;
        self.schedule.run(&mut self.world);
        self.world.clear_trackers();
        out.outputs
            .append(&mut self.world.resource_mut::<Produced>().0.outputs);
    }
}

fn ingest(
    mut commands: Commands,
    mut inbox: ResMut<Inbox>,
    mut seats: ResMut<Seats>,
    mut game: ResMut<Match>,
    mut produced: ResMut<Produced>,
    now: Res<Now>,
    mut players: Query<(&Player, &mut Given)>,
) {
    for command in inbox.0.drain(..) {
        match command {
            Command::Join { session, nickname } => {
                let seated_at = now.0;
                let entity = commands
                    .spawn((
                        Player {
                            session,
                            nickname,
                            seated_at,
                        },
                        Score::default(),
                        Given::default(),
                    ))
                    .id();
                seats.0.insert(session, entity);
            }
            Command::Leave { session } => {
                if let Some(entity) = seats.0.remove(&session) {
                    commands.entity(entity).despawn();
                }
            }
            Command::Start => game.start_requested = true,
            Command::Answer {
                session,
                question,
                choice,
                received_at,
            } => {
                let Some(&entity) = seats.0.get(&session) else {
                    continue;
                };
                // A player seated this tick has no entity yet; the question
                // was opened before they sat, so it is not theirs to answer.
                let Ok((player, mut given)) = players.get_mut(entity) else {
                    produced
                        .0
                        .to(session, ServerMsg::error(ErrorCode::AnswerForeign));
                    continue;
                };
                let reply = answer(&game, player, &mut given, question, choice, received_at);
                produced.0.to(session, reply);
            }
        }
    }
}

/// Checks and records one answer, returning the reply for its sender.
fn answer(
    game: &Match,
    player: &Player,
    given: &mut Given,
    question: u16,
    choice: u8,
    received_at: Instant,
) -> ServerMsg {
    let (index, opened_at, deadline) = match game.phase {
        Phase::Question {
            index,
            opened_at,
            deadline,
        } => (index, opened_at, deadline),
        Phase::Reveal {
            index, deadline, ..
        } if index == question && received_at > deadline => {
            return ServerMsg::error(ErrorCode::AnswerLate);
        }
        _ => return ServerMsg::error(ErrorCode::AnswerForeign),
    };
    if question != index || player.seated_at > opened_at {
        return ServerMsg::error(ErrorCode::AnswerForeign);
    }
    if choice > 3 {
        return ServerMsg::error(ErrorCode::InvalidChoice);
    }
    if received_at > deadline {
        return ServerMsg::error(ErrorCode::AnswerLate);
    }
    if given.0.is_some_and(|g| g.question == question) {
        return ServerMsg::error(ErrorCode::AnswerRepeated);
    }
    let elapsed_ms = received_at.saturating_duration_since(opened_at).as_millis() as u32;
    given.0 = Some(GivenAnswer {
        question,
        choice,
        elapsed_ms,
    });
    ServerMsg::AnswerAccepted {
        question,
        elapsed_ms,
    }
}

fn advance(
    now: Res<Now>,
    rules: Res<Rules>,
    mut game: ResMut<Match>,
    mut rng: ResMut<RoomRng>,
    mut produced: ResMut<Produced>,
    mut players: Query<(&Player, &mut Score, &mut Given)>,
) {
    let now = now.0;
    let out = &mut produced.0;
    let count = players.iter().count();
    let full = count >= usize::from(rules.settings.max_players);
    match game.phase {
        Phase::Lobby { countdown_until } => {
            let requested = std::mem::take(&mut game.start_requested) && count > 0;
            let countdown_over = countdown_until.is_some_and(|t| now >= t);
            if full || requested || countdown_over {
                start_match(now, &rules, &mut game, &mut rng, out, &mut players);
            } else if count >= 2 && countdown_until.is_none() {
                let wait = Duration::from_secs(rules.settings.start_countdown_secs.into());
                game.phase = Phase::Lobby {
                    countdown_until: Some(now + wait),
                };
                let starts_in_ms = wait.as_millis() as u32;
                out.event(Event::Trivia(TriviaEvent::Countdown { starts_in_ms }));
            } else if count < 2 && countdown_until.is_some() {
                game.phase = Phase::Lobby {
                    countdown_until: None,
                };
                out.event(Event::Trivia(TriviaEvent::CountdownCancelled));
            }
        }
        Phase::Question {
            index,
            opened_at,
            deadline,
        } => {
            // Players seated after the question opened cannot answer it, so
            // they do not hold up an early reveal.
            let everyone_answered = count > 0
                && players
                    .iter()
                    .filter(|(player, _, _)| player.seated_at <= opened_at)
                    .all(|(_, _, given)| given.0.is_some_and(|g| g.question == index));
            if count == 0 {
                game.phase = Phase::Lobby {
                    countdown_until: None,
                };
            } else if now >= deadline || everyone_answered {
                reveal(now, index, deadline, &rules, &mut game, out, &mut players);
            }
        }
        Phase::Reveal { index, until, .. } => {
            if now < until {
                return;
            }
            let next = index + 1;
            if usize::from(next) < game.asked.len() && count > 0 {
                open_question(now, next, &rules, &mut game, out);
            } else {
                let standings = scoreboard(&players);
                game.scoreboard = standings.clone();
                out.event(Event::Trivia(TriviaEvent::MatchOver {
                    number: game.number,
                    standings,
                }));
                let until = now + STANDINGS_TIME;
                let announced = announce_next_start(now, until, false, full, out);
                game.phase = Phase::Standings { until, announced };
            }
        }
        Phase::Standings { until, announced } => {
            if now >= until {
                // A full room starts at the next tick, as announced.
                game.phase = Phase::Lobby {
                    countdown_until: None,
                };
            } else {
                let announced = announce_next_start(now, until, announced, full, out);
                game.phase = Phase::Standings { until, announced };
            }
        }
    }
}

/// While standings are up, a full room's next match starts as they end:
/// a countdown to then is announced while the room is full, and cancelled
/// if it stops being full. Returns whether one stands announced.
fn announce_next_start(
    now: Instant,
    until: Instant,
    announced: bool,
    full: bool,
    out: &mut Outbox,
) -> bool {
    if full && !announced {
        let starts_in_ms = until.saturating_duration_since(now).as_millis() as u32;
        out.event(Event::Trivia(TriviaEvent::Countdown { starts_in_ms }));
    } else if announced && !full {
        out.event(Event::Trivia(TriviaEvent::CountdownCancelled));
    }
    full
}

fn start_match(
    now: Instant,
    rules: &Rules,
    game: &mut Match,
    rng: &mut RoomRng,
    out: &mut Outbox,
    players: &mut Query<(&Player, &mut Score, &mut Given)>,
) {
    let mut order = rules.eligible.clone();
    order.shuffle(&mut rng.0);
    order.truncate(rules.settings.questions.into());
    game.asked = order
        .into_iter()
        .map(|i| {
            let question = rules.pack.questions[i].clone();
            let mut choices: Vec<String> =
                question.choices().into_iter().map(str::to_owned).collect();
            choices.shuffle(&mut rng.0);
            let correct = choices
                .iter()
                .position(|c| *c == question.correct_answer)
                .expect("the right answer is one of the choices") as u8;
            let choices: [String; 4] = choices
                .try_into()
                .expect("validated packs have four choices");
            Asked {
                question,
                choices,
                correct,
            }
        })
        .collect();
    game.number += 1;
    game.start_requested = false;
    game.scoreboard.clear();
    for (_, mut score, mut given) in players.iter_mut() {
        *score = Score::default();
        given.0 = None;
    }
    let questions = game.asked.len() as u16;
    out.event(Event::Trivia(TriviaEvent::MatchStarted {
        number: game.number,
        questions,
    }));
    open_question(now, 0, rules, game, out);
}

/// Question `index` of the match as players see it: no correct choice.
fn shown(index: u16, rules: &Rules, game: &Match) -> OpenQuestion {
    let asked = &game.asked[usize::from(index)];
    OpenQuestion {
        index,
        total: game.asked.len() as u16,
        category: asked.question.category.clone(),
        difficulty: asked.question.difficulty,
        text: asked.question.question.clone(),
        choices: asked.choices.clone(),
        time_ms: rules.question_time().as_millis() as u32,
    }
}

fn open_question(now: Instant, index: u16, rules: &Rules, game: &mut Match, out: &mut Outbox) {
    let time = rules.question_time();
    out.event(Event::Trivia(TriviaEvent::Question(shown(
        index, rules, game,
    ))));
    game.phase = Phase::Question {
        index,
        opened_at: now,
        deadline: now + time,
    };
}

fn reveal(
    now: Instant,
    index: u16,
    deadline: Instant,
    rules: &Rules,
    game: &mut Match,
    out: &mut Outbox,
    players: &mut Query<(&Player, &mut Score, &mut Given)>,
) {
    let correct = game.asked[usize::from(index)].correct;
    let time_ms = rules.question_time().as_millis() as u32;
    let mut results = Vec::new();
    for (player, mut score, given) in players.iter_mut() {
        let answer = given.0.filter(|g| g.question == index);
        let right = answer.is_some_and(|g| g.choice == correct);
        let points = answer.map_or(0, |g| trivia::points(right, g.elapsed_ms, time_ms));
        score.points += points;
        score.correct += u16::from(right);
        results.push(AnswerResult {
            session: player.session,
            choice: answer.map(|g| g.choice),
            correct: right,
            elapsed_ms: answer.map(|g| g.elapsed_ms),
            points,
        });
    }
    results.sort_by_key(|r| r.session);
    let scoreboard = scoreboard(players);
    game.scoreboard = scoreboard.clone();
    out.event(Event::Trivia(TriviaEvent::Reveal {
        index,
        correct,
        results,
        scoreboard,
    }));
    game.phase = Phase::Reveal {
        index,
        deadline,
        until: now + rules.reveal_time(),
    };
}

fn scoreboard(players: &Query<(&Player, &mut Score, &mut Given)>) -> Vec<ScoreEntry> {
    let mut board: Vec<ScoreEntry> = players
        .iter()
        .map(|(player, score, _)| ScoreEntry {
            session: player.session,
            nickname: player.nickname.clone(),
            score: score.points,
            correct: score.correct,
        })
        .collect();
    board.sort_by(|a, b| b.score.cmp(&a.score).then(a.session.cmp(&b.session)));
    board
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::Output;

    const A: SessionId = SessionId(1);
    const B: SessionId = SessionId(2);

    fn settings() -> TriviaSettings {
        TriviaSettings {
            questions: 2,
            question_secs: 10,
            reveal_secs: 1,
            max_players: 2,
            start_countdown_secs: 10,
            category: None,
        }
    }

    fn game() -> TriviaGame {
        TriviaGame::new(settings(), Arc::new(Pack::built_in()), 7).unwrap()
    }

    fn step(game: &mut TriviaGame, now: Instant) -> Vec<Output> {
        let mut out = Outbox::default();
        game.step(Tick(0), now, &mut out);
        out.outputs
    }

    fn answer(game: &mut TriviaGame, session: SessionId, question: u16, choice: u8, at: Instant) {
        let command = GameCommand::Answer {
            question,
            choice,
            received_at: at,
        };
        let mut out = Outbox::default();
        game.command(session, command, false, &mut out);
        assert!(out.outputs.is_empty(), "answers are judged in the tick");
    }

    fn correct(game: &TriviaGame, index: u16) -> u8 {
        game.world.resource::<Match>().asked[usize::from(index)].correct
    }

    fn replies(outputs: &[Output], to: SessionId) -> Vec<ServerMsg> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::To(id, msg) if *id == to => Some(msg.clone()),
                _ => None,
            })
            .collect()
    }

    fn error_codes(outputs: &[Output], to: SessionId) -> Vec<ErrorCode> {
        replies(outputs, to)
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::Error { code, .. } => Some(code),
                _ => None,
            })
            .collect()
    }

    fn reveal_of(outputs: &[Output]) -> Option<(Vec<AnswerResult>, Vec<ScoreEntry>)> {
        outputs.iter().find_map(|o| match o {
            Output::Event(Event::Trivia(TriviaEvent::Reveal {
                results,
                scoreboard,
                ..
            })) => Some((results.clone(), scoreboard.clone())),
            _ => None,
        })
    }

    /// Seats A and B; the room is then full, so the first question opens.
    fn started(start: Instant) -> TriviaGame {
        let mut game = game();
        game.player_joined(A, "Ada");
        game.player_joined(B, "Bo");
        let outputs = step(&mut game, start);
        let opened = outputs.iter().any(|o| {
            matches!(
                o,
                Output::Event(Event::Trivia(TriviaEvent::Question(OpenQuestion {
                    index: 0,
                    ..
                })))
            )
        });
        assert!(opened, "a full room starts its match: {outputs:?}");
        game
    }

    #[test]
    fn right_answers_score_by_server_measured_speed() {
        let start = Instant::now();
        let mut game = started(start);
        let right = correct(&game, 0);
        answer(&mut game, A, 0, right, start + Duration::from_millis(2_500));
        answer(
            &mut game,
            B,
            0,
            (right + 1) % 4,
            start + Duration::from_millis(1_000),
        );
        let outputs = step(&mut game, start + Duration::from_millis(2_600));
        assert_eq!(
            replies(&outputs, A),
            vec![ServerMsg::AnswerAccepted {
                question: 0,
                elapsed_ms: 2_500
            }]
        );

        // Both answered, so the reveal comes in the same tick.
        let (results, scoreboard) = reveal_of(&outputs).expect("everyone answered: reveal now");
        assert_eq!(results[0].points, 175);
        assert!(results[0].correct);
        assert_eq!(results[1].points, 0);
        assert_eq!(results[1].choice, Some((right + 1) % 4));
        assert_eq!(scoreboard[0].session, A);
        assert_eq!((scoreboard[0].score, scoreboard[0].correct), (175, 1));
    }

    #[test]
    fn repeated_late_foreign_and_impossible_answers_are_refused() {
        let start = Instant::now();
        let mut game = started(start);
        let t = |ms| start + Duration::from_millis(ms);
        answer(&mut game, A, 0, 0, t(100));
        answer(&mut game, A, 0, 1, t(200));
        answer(&mut game, A, 1, 1, t(300));
        answer(&mut game, B, 0, 4, t(400));
        answer(&mut game, B, 0, 2, t(10_001));
        let outputs = step(&mut game, t(500));
        assert_eq!(
            error_codes(&outputs, A),
            [ErrorCode::AnswerRepeated, ErrorCode::AnswerForeign]
        );
        assert_eq!(
            error_codes(&outputs, B),
            [ErrorCode::InvalidChoice, ErrorCode::AnswerLate]
        );
    }

    #[test]
    fn a_question_closes_at_its_deadline_without_every_answer() {
        let start = Instant::now();
        let mut game = started(start);
        let right = correct(&game, 0);
        answer(&mut game, A, 0, right, start + Duration::from_millis(9_000));
        let outputs = step(&mut game, start + Duration::from_millis(9_100));
        assert!(reveal_of(&outputs).is_none(), "B may still answer");
        let outputs = step(&mut game, start + Duration::from_secs(10));
        let (results, _) = reveal_of(&outputs).expect("the deadline passed");
        assert_eq!(results[0].points, 110);
        assert_eq!((results[1].choice, results[1].points), (None, 0));
    }

    /// A room of three seats with Ada and Bo seated, stepped once at
    /// `start`: enough to start a match, with a seat left for a late
    /// arrival.
    fn two_of_three(start: Instant) -> TriviaGame {
        let mut settings = settings();
        settings.max_players = 3;
        let mut game = TriviaGame::new(settings, Arc::new(Pack::built_in()), 7).unwrap();
        game.player_joined(A, "Ada");
        game.player_joined(B, "Bo");
        step(&mut game, start);
        game
    }

    #[test]
    fn late_joiners_play_from_the_next_question() {
        let start = Instant::now();
        let mut game = two_of_three(start);
        game.command(A, GameCommand::Start, true, &mut Outbox::default());
        step(&mut game, start);
        game.player_joined(SessionId(3), "Cy");
        step(&mut game, start + Duration::from_millis(100));
        answer(
            &mut game,
            SessionId(3),
            0,
            0,
            start + Duration::from_millis(200),
        );
        let outputs = step(&mut game, start + Duration::from_millis(300));
        assert_eq!(
            error_codes(&outputs, SessionId(3)),
            [ErrorCode::AnswerForeign]
        );

        // The two who could answer did: the late joiner does not hold the reveal.
        answer(&mut game, A, 0, 0, start + Duration::from_millis(400));
        answer(&mut game, B, 0, 0, start + Duration::from_millis(400));
        let outputs = step(&mut game, start + Duration::from_millis(500));
        assert!(reveal_of(&outputs).is_some());
    }

    #[test]
    fn a_match_ends_with_standings_and_the_full_room_plays_again() {
        let start = Instant::now();
        let mut game = started(start);
        let mut now = start;
        let mut over = None;
        let mut countdown = None;
        for _ in 0..300 {
            now += Duration::from_millis(100);
            for output in step(&mut game, now) {
                match output {
                    Output::Event(Event::Trivia(TriviaEvent::MatchOver { number, standings })) => {
                        over = Some((number, standings));
                    }
                    Output::Event(Event::Trivia(TriviaEvent::Countdown { starts_in_ms })) => {
                        countdown = Some(starts_in_ms);
                    }
                    _ => {}
                }
            }
            if over.is_some() {
                break;
            }
        }
        let (number, standings) = over.expect("two unanswered questions end within 30 s");
        assert_eq!(number, 1);
        assert_eq!(standings.len(), 2);
        assert_eq!(game.state(), RoomState::Finished);
        // The room is full, so the next match starts as the standings end,
        // and the players are told so with the standings.
        assert_eq!(countdown, Some(STANDINGS_TIME.as_millis() as u32));
        let outputs = step(&mut game, now + STANDINGS_TIME);
        assert_eq!(game.state(), RoomState::Lobby, "{outputs:?}");
        let outputs = step(&mut game, now + STANDINGS_TIME + Duration::from_millis(100));
        let restarted = outputs.iter().any(|o| {
            matches!(
                o,
                Output::Event(Event::Trivia(TriviaEvent::MatchStarted { number: 2, .. }))
            )
        });
        assert!(restarted, "{outputs:?}");
    }

    #[test]
    fn a_full_room_that_loses_a_player_during_the_standings_cancels_the_countdown() {
        let start = Instant::now();
        let mut game = started(start);
        let mut now = start;
        while game.state() != RoomState::Finished {
            now += Duration::from_millis(100);
            step(&mut game, now);
        }
        game.player_left(B);
        let outputs = step(&mut game, now + Duration::from_millis(100));
        assert!(
            outputs.contains(&Output::Event(Event::Trivia(
                TriviaEvent::CountdownCancelled
            ))),
            "{outputs:?}"
        );
    }

    #[test]
    fn arrivals_see_the_open_question_with_its_time_left_but_not_its_answer() {
        let start = Instant::now();
        let mut game = game();
        assert_eq!(
            game.progress(start),
            None,
            "an idle lobby has nothing to show"
        );
        let mut game = two_of_three(start);
        let Some(Progress::Trivia(waiting)) = game.progress(start + Duration::from_secs(4)) else {
            panic!("a countdown runs");
        };
        assert_eq!(waiting.starts_in_ms, Some(6_000));
        assert_eq!(waiting.question, None);

        game.command(A, GameCommand::Start, true, &mut Outbox::default());
        let outputs = step(&mut game, start + Duration::from_secs(5));
        let asked = outputs
            .iter()
            .find_map(|o| match o {
                Output::Event(Event::Trivia(TriviaEvent::Question(q))) => Some(q.clone()),
                _ => None,
            })
            .expect("the host started the match");
        let at = start + Duration::from_millis(8_500);
        let Some(Progress::Trivia(progress)) = game.progress(at) else {
            panic!("a question is open");
        };
        assert_eq!(progress.question.as_ref(), Some(&asked));
        assert_eq!(progress.left_ms, 6_500);
        assert_eq!(progress.starts_in_ms, None);
        assert!(progress.scoreboard.is_empty(), "no reveal yet");
        // Nothing in it tells the right choice apart from the others.
        let json = String::from_utf8(stadium_shared::codec::encode(
            &ServerMsg::Progress(Progress::Trivia(progress)),
            stadium_shared::codec::Format::Json,
        ))
        .unwrap();
        for key in ["\"correct", "\"results\"", "\"points\""] {
            assert!(!json.contains(key), "{key} in {json}");
        }

        // After the reveal, arrivals get the scores so far.
        answer(&mut game, A, 0, 0, at);
        answer(&mut game, B, 0, 1, at);
        let outputs = step(&mut game, at);
        let (_, scoreboard) = reveal_of(&outputs).expect("both answered");
        let Some(Progress::Trivia(progress)) = game.progress(at) else {
            panic!("the match runs");
        };
        assert_eq!((progress.question, progress.scoreboard), (None, scoreboard));
    }

    #[test]
    fn only_the_host_starts_and_inputs_are_for_other_games() {
        let mut game = game();
        let mut out = Outbox::default();
        game.command(A, GameCommand::Start, false, &mut out);
        let input = stadium_shared::Input {
            seq: 1,
            turn: 0.0,
            thrust: true,
            fire: false,
        };
        game.command(A, GameCommand::Input(input), true, &mut out);
        assert_eq!(
            error_codes(&out.outputs, A),
            [ErrorCode::NotHost, ErrorCode::WrongGame]
        );
    }

    #[test]
    fn settings_outside_the_limits_are_refused() {
        let pack = Arc::new(Pack::built_in());
        let mut bad = settings();
        bad.questions = 0;
        let refused = TriviaGame::new(bad, pack.clone(), 1).err().unwrap();
        assert!(refused.contains("questions"), "{refused}");
        let mut bad = settings();
        bad.category = Some("No Such Category".into());
        let refused = TriviaGame::new(bad, pack, 1).err().unwrap();
        assert!(refused.contains("available"), "{refused}");
    }

    #[test]
    fn the_right_choice_moves_between_positions() {
        // The question event lists choices without marking the right one; if
        // the shuffle left it in place, its position would give it away.
        let mut seen = [false; 4];
        for seed in 0..40 {
            let mut game = TriviaGame::new(settings(), Arc::new(Pack::built_in()), seed).unwrap();
            game.player_joined(A, "Ada");
            game.player_joined(B, "Bo");
            step(&mut game, Instant::now());
            seen[usize::from(correct(&game, 0))] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
