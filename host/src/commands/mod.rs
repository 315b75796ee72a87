//! Subcommand implementations.

pub mod compare;
pub mod embed;
