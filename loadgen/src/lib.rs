//! rtbench load generator (work in progress).
