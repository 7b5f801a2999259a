//! Stadium's client library and load-test bots.
//!
//! [`client`] connects to a Stadium server over QUIC or WebSocket and speaks
//! the protocol of `stadium-shared`: the same [`Client`] either way, split
//! into a cloneable [`ClientSender`] and a [`ClientReceiver`]. [`run`](mod@run) drives
//! many clients as bots playing real games until a deadline and returns a
//! [`Report`]; the `stadium-bot` binary is a thin command line around it.
//! [`duration`] parses the durations the command line takes, [`live`] is
//! the progress bar and [`html`] the one-page report with charts.
//! [`bench`] is the load benchmark the `stadium-load` binary runs.

pub mod bench;
pub mod client;
pub mod duration;
pub mod html;
pub mod live;
pub mod report;
pub mod run;

pub use client::{
    ByteCounters, Client, ClientError, ClientReceiver, ClientSender, ConnectError, ConnectOptions,
    QuicEndpoints, Received, SnapshotHeader, Transport, Welcome,
};
pub use report::{Bucket, DurationSummary, Report, TimelinePoint};
pub use run::{Progress, RunConfig, RunError, run, run_until, run_with_progress};
