//! `rnndyn`: populations of recurrent networks — training, storage, fixed points,
//! representational geometry and reports — around the no_std core `rnndyn-core`.

// Every public item is documented; CI's `clippy -D warnings` makes a missing one an error.
#![warn(missing_docs)]

pub mod aligned;
pub mod analysis;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dynamics;
pub mod export;
pub mod figures;
pub mod merge;
pub mod model;
pub mod npy;
pub mod population;
pub mod report;
pub mod safetensors_file;
pub mod slurm;
pub mod stages;
pub mod store;
pub mod task;
pub mod torch;
