#![no_std]
//! `rnndyn-core`: the numeric core of rnndyn — recurrent cells with analytic Jacobians,
//! backpropagation through time, Adam, fixed-point search with Newton refinement, small
//! dense linear algebra (LU, non-symmetric eigen decomposition), task generators and a
//! portable RNG.
//!
//! `#![no_std]` without condition and without `alloc`: every buffer is owned by the caller,
//! sizes are const generics, fallible operations return [`Error`]. All maths goes through
//! `libm` (via [`Real`]), so a network gives the same numbers on a laptop and on a
//! Cortex-M4.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod cell;
mod error;
#[cfg(feature = "fast-math")]
pub mod fast_math;
pub mod fixed_point;
mod kernel;
mod lanes;
pub mod linalg;
pub mod real;
pub mod rng;
pub mod task;
pub mod train;

pub use cell::{Activation, Cell, GruCell, GruConvention, LstmCell, UgrnnCell, VanillaCell};
pub use error::{Error, LengthRule};
pub use real::Real;
pub use rng::Rng;
pub use task::Task;
