//! Cost of one Asteroids room tick and of its snapshots.
//!
//! Scenario: 8 ships, 40 rocks and 30 bullets, placed deterministically
//! (seeded) with every ship steering; the tick runs the whole schedule
//! (inputs, movement, collisions, scoring, capture) and builds the 8
//! players' snapshots. The snapshot benches encode one client's full
//! snapshot and one client's delta against the previous tick, in postcard,
//! and print their sizes in postcard and JSON.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use glam::Vec2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use stadium_server::games::asteroids::AsteroidsGame;
use stadium_server::room::{Game, GameCommand, Outbox};
use stadium_shared::asteroids::{self as rules, AsteroidsSettings, Motion, RockSize};
use stadium_shared::codec::{self, Format};
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

criterion_group!(benches, arena);
criterion_main!(benches);
