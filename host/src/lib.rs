//! `rnndyn`: populations of recurrent networks — training, storage, fixed points,
//! representational geometry and reports — around the no_std core `rnndyn-core`.

pub mod app;
pub mod cli;
pub mod config;
pub mod merge;
pub mod model;
pub mod population;
pub mod slurm;
pub mod store;
pub mod task;
pub mod torch;
