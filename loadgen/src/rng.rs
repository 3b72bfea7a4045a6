//! The seeded PRNG of schedules, poll phases and jitter: the one copy in
//! the protocol crate, re-exported so call sites say `crate::rng`.

pub use protocol::rng::*;
