//! Cross-crate integration tests: one binary.
//!
//! Index:
//! - (to come) end-to-end runs of the `rnndyn` binary
