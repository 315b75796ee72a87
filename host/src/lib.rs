//! `rnndyn`: populations of recurrent networks — training, storage, fixed points,
//! representational geometry and reports — around the no_std core `rnndyn-core`.

pub mod analysis;
pub mod cli;
pub mod commands;
pub mod npy;
