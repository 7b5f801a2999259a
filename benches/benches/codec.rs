//! Wire codec cost: encoding the largest common server message (a trivia
//! question broadcast) and decoding the most frequent client message (an
//! input), in postcard and JSON. Prints each message's size once, since
//! bytes on the wire matter as much as nanoseconds.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stadium_shared::codec::{self, Format};
use stadium_shared::trivia::Difficulty;
use stadium_shared::{
    Channel, ClientMsg, Event, Input, OpenQuestion, RoomCode, ServerMsg, TriviaEvent,
};

fn question() -> ServerMsg {
    ServerMsg::Event {
        channel: Channel::Room(RoomCode::parse("K7QX").expect("valid code")),
        seq: Some(41),
        event: Event::Trivia(TriviaEvent::Question(OpenQuestion {
            index: 3,
            total: 10,
            category: "Science".into(),
            difficulty: Difficulty::Medium,
            text: "Which element has the chemical symbol K?".into(),
            choices: [
                "Potassium".into(),
                "Krypton".into(),
                "Calcium".into(),
                "Sodium".into(),
            ],
            time_ms: 15_000,
        })),
    }
}

fn input() -> ClientMsg {
    ClientMsg::Input(Input {
        seq: 123_456,
        turn: -0.75,
        thrust: true,
        fire: false,
    })
}

fn codec(c: &mut Criterion) {
    for format in [Format::Postcard, Format::Json] {
        let name = format!("{format:?}").to_lowercase();
        let question = question();
        let input_bytes = codec::encode(&input(), format);
        println!(
            "{name}: question event {} bytes, input {} bytes",
            codec::encode(&question, format).len(),
            input_bytes.len()
        );
        c.bench_function(&format!("encode question event/{name}"), |b| {
            b.iter(|| codec::encode(black_box(&question), format))
        });
        c.bench_function(&format!("decode input/{name}"), |b| {
            b.iter(|| codec::decode_client(black_box(&input_bytes), format).expect("valid input"))
        });
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
