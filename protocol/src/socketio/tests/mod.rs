//! Tests of the Socket.IO codec.

mod engine_cases;
mod packet_cases;
