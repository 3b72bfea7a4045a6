//! The instruction-count gate: a deterministic workload ([`workload`]) of
//! the real server and load generator, run under Callgrind once per
//! transport and side ([`measure`]), its output read ([`callgrind`]),
//! stored ([`record`]) and compared with the committed baseline ([`judge`]).

pub mod callgrind;
pub mod judge;
pub mod measure;
pub mod record;
pub mod workload;
