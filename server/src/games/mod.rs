//! The games Stadium hosts, one folder each: components, systems and the
//! outputs they produce. Games run inside rooms and never see transports.

pub mod asteroids;
pub mod trivia;
