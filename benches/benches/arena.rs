//! Cost of one Asteroids room tick and of its snapshots.
//!
//! Scenario: 8 ships, 40 rocks and 30 bullets, placed deterministically
//! (seeded) with every ship steering; the tick runs the whole schedule
//! (inputs, movement, collisions, scoring, capture) and builds the 8
//! players' snapshots. The snapshot benches encode one client's full
//! snapshot and one client's delta against the previous tick, in postcard,
//! and print their sizes in postcard and JSON.
//!
//! The load benchmark's scenario is measured apart: 10 ships and nothing
//! else, flying as the bots do (a steady turn, thrust toggled every
//! second, inputs at 20 Hz). It prints the mean postcard size of one
//! client's delta for baselines 1, 2, 4 and 8 ticks old; at 30 Hz, 100
//! bytes a snapshot are 3 KB/s. Measured with
//! `cargo test -p stadium-benches --bench arena`:
//!
//! | baseline age (ticks) | 1 | 2 | 4 | 8 |
//! |---|---|---|---|---|
//! | before: velocity in 1/16 steps, one varint per field | 92.2 | 100.7 | 110.7 | 123.4 |
//! | after: ship rates and flags in the prediction, bit-packed corrections | 32.3 | 39.9 | 52.4 | 76.6 |
//!
//! `room tick+encode` runs that room as the server does: ten players who
//! acknowledged the previous tick, the step, and the ten snapshots encoded.
//! With `cargo bench -p stadium-benches --bench arena -- "room tick"` on a
//! 2-core machine:
//!
//! | | room tick+encode, 10 players | room tick, 8 ships 40 rocks 30 bullets |
//! |---|---|---|
//! | before: a delta diffed per player, 64 ticks of baselines | 13.8 µs | 21.8 µs |
//! | after: a delta diffed per distinct baseline, 32 ticks | 4.9 µs | 16.5 µs |

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use glam::Vec2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use stadium_server::games::asteroids::AsteroidsGame;
use stadium_server::room::{Game, GameCommand, Outbox, Output};
use stadium_shared::asteroids::{self as rules, AsteroidsSettings, Motion, RockSize};
use stadium_shared::codec::{self, Format};
use stadium_shared::snapshot::ArenaState;
use stadium_shared::{Input, ServerMsg, SessionId, Tick};

const SHIPS: u64 = 8;
const ROCKS: usize = 40;
const BULLETS: usize = 30;

fn random_motion(rng: &mut StdRng, speed: f32) -> Motion {
    let pos = Vec2::new(
        rng.random_range(0.0..rules::ARENA_WIDTH),
        rng.random_range(0.0..rules::ARENA_HEIGHT),
    );
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    Motion {
        pos,
        vel: rules::heading(angle) * speed,
        angle,
    }
}

/// The scenario after one tick, so that every ship is seated.
fn scene() -> AsteroidsGame {
    let settings = AsteroidsSettings {
        rocks_per_wave: 0,
        seed: Some(1),
        ..Default::default()
    };
    let mut game = AsteroidsGame::new(settings, 1).expect("valid settings");
    for p in 1..=SHIPS {
        game.player_joined(SessionId(p), &format!("ship{p}"));
    }
    game.step(Tick(1), Instant::now(), &mut Outbox::default());
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..ROCKS {
        let size = [RockSize::Large, RockSize::Medium, RockSize::Small][i % 3];
        let motion = random_motion(&mut rng, 60.0);
        game.spawn_rock(motion, size);
    }
    for i in 0..BULLETS {
        let owner = SessionId(1 + i as u64 % SHIPS);
        game.spawn_bullet(owner, random_motion(&mut rng, rules::BULLET_SPEED));
    }
    steer(&mut game, 2);
    game
}

fn steer(game: &mut AsteroidsGame, seq: u32) {
    for p in 1..=SHIPS {
        let input = Input {
            seq,
            turn: 0.5,
            thrust: true,
            fire: false,
        };
        game.command(
            SessionId(p),
            GameCommand::Input(input),
            false,
            &mut Outbox::default(),
        );
    }
}

fn arena(c: &mut Criterion) {
    c.bench_function("room tick/8 ships 40 rocks 30 bullets", |b| {
        b.iter_batched_ref(
            scene,
            |game| {
                let mut out = Outbox::default();
                game.step(Tick(2), Instant::now(), &mut out);
                black_box(out.outputs.len())
            },
            BatchSize::SmallInput,
        )
    });

    let mut game = scene();
    game.step(Tick(2), Instant::now(), &mut Outbox::default());
    let before = game.arena().clone();
    steer(&mut game, 3);
    game.step(Tick(3), Instant::now(), &mut Outbox::default());
    let now = game.arena().clone();
    let full = ServerMsg::Snapshot(now.snapshot(Tick(3), None, 3));
    let delta = ServerMsg::Snapshot(now.snapshot(Tick(3), Some((Tick(2), &before)), 3));
    for (name, msg) in [("full", &full), ("delta", &delta)] {
        println!(
            "snapshot {name}: {} entities, {} bytes postcard, {} bytes JSON",
            now.entities.len(),
            codec::encode(msg, Format::Postcard).len(),
            codec::encode(msg, Format::Json).len()
        );
        c.bench_function(&format!("snapshot encode/{name}"), |b| {
            b.iter(|| codec::encode(black_box(msg), Format::Postcard))
        });
    }
    c.bench_function("snapshot build/delta", |b| {
        b.iter(|| now.snapshot(Tick(3), Some((Tick(2), black_box(&before))), 3))
    });
}

/// Ten wandering ships as the load benchmark flies them, stepped for
/// twenty seconds.
fn wander() -> (AsteroidsGame, Vec<(Tick, ArenaState)>) {
    let settings = AsteroidsSettings {
        rocks_per_wave: 0,
        max_players: 10,
        seed: Some(1),
        ..Default::default()
    };
    let mut game = AsteroidsGame::new(settings, 1).expect("valid settings");
    for p in 1..=10 {
        game.player_joined(SessionId(p), &format!("ship{p}"));
    }
    let mut states = Vec::new();
    let mut seq = 0;
    for t in 1..=600u32 {
        // 20 inputs a second at 30 ticks a second: two ticks in three.
        if t % 3 != 0 {
            seq += 1;
            for p in 1..=10u64 {
                let input = Input {
                    seq,
                    turn: if p % 2 == 0 { 0.3 } else { -0.3 },
                    thrust: (t / 30) % 2 == 0,
                    fire: false,
                };
                game.command(
                    SessionId(p),
                    GameCommand::Input(input),
                    false,
                    &mut Outbox::default(),
                );
            }
        }
        game.step(Tick(t), Instant::now(), &mut Outbox::default());
        states.push((Tick(t), game.arena().clone()));
    }
    (game, states)
}

fn scenario(c: &mut Criterion) {
    let (_, states) = wander();
    // After the ships have spread out and reached speed; the baseline one
    // tick old (acknowledged at once) or older (a slower client).
    for age in [1, 2, 4, 8] {
        let pairs: Vec<_> = states.windows(age + 1).skip(90).collect();
        let bytes: usize = pairs
            .iter()
            .map(|pair| {
                let (base, now) = (&pair[0], &pair[age]);
                let delta = now
                    .1
                    .snapshot(now.0, Some((base.0, &base.1)), now.0.0 * 2 / 3);
                codec::encode(&ServerMsg::Snapshot(delta), Format::Postcard).len()
            })
            .sum();
        println!(
            "benchmark scenario: 10 ships, baseline {age} ticks old: mean delta {:.1} bytes postcard",
            bytes as f64 / pairs.len() as f64,
        );
    }
    let pairs: Vec<_> = states.windows(2).skip(90).collect();
    let pair = pairs[pairs.len() / 2];
    let (base, now) = (&pair[0], &pair[1]);
    c.bench_function("snapshot build+encode/benchmark scenario delta", |b| {
        b.iter(|| {
            let delta = now.1.snapshot(now.0, Some((base.0, black_box(&base.1))), 7);
            codec::encode(&ServerMsg::Snapshot(delta), Format::Postcard)
        })
    });
}

/// One tick of the load benchmark's room as the server runs it: ten
/// players who acknowledged the previous tick, two inputs in three ticks,
/// the step with its ten snapshots, and each snapshot encoded as a session
/// writer encodes it.
fn room_tick(c: &mut Criterion) {
    let (mut game, states) = wander();
    let mut tick = states.last().map_or(Tick(0), |(tick, _)| *tick);
    let mut seq = 1_000;
    let mut out = Outbox::default();
    c.bench_function("room tick+encode/benchmark scenario, 10 players", |b| {
        b.iter(|| {
            for p in 1..=10u64 {
                game.command(SessionId(p), GameCommand::Ack(tick), false, &mut out);
                if tick.0 % 3 != 0 {
                    let input = Input {
                        seq,
                        turn: if p % 2 == 0 { 0.3 } else { -0.3 },
                        thrust: (tick.0 / 30) % 2 == 0,
                        fire: false,
                    };
                    game.command(SessionId(p), GameCommand::Input(input), false, &mut out);
                }
            }
            seq += 1;
            tick = tick.next();
            game.step(tick, Instant::now(), &mut out);
            let bytes: usize = out
                .outputs
                .drain(..)
                .map(|output| match output {
                    Output::To(_, msg) => codec::encode(&msg, Format::Postcard).len(),
                    Output::Event(_) => 0,
                })
                .sum();
            black_box(bytes)
        })
    });
}

criterion_group!(benches, arena, scenario, room_tick);
criterion_main!(benches);
