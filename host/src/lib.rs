//! `rnndyn`: populations of recurrent networks — training, storage, fixed points,
//! representational geometry and reports — around the no_std core `rnndyn-core`.

pub mod app;
pub mod cli;
pub mod config;
pub mod export;
pub mod model;
pub mod population;
pub mod store;
pub mod task;
pub mod torch;
