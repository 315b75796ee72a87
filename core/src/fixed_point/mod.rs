//! Fixed points of a cell at a fixed input `x*`: states with `F(h, x*) = h`.
//!
//! The search minimises the speed `q(h) = ½‖F(h, x*) − h‖²` from a start state, in two
//! phases (Sussillo & Barak 2013; Golub & Sussillo 2018, refined):
//!
//! 1. **Adam** on `q` (gradient `(J − I)ᵀ (F(h) − h)` from the analytic Jacobian) with its own
//!    decaying learning rate, until `q` falls below a tolerance or an iteration cap. This
//!    brings a start state from a trajectory into the basin of a fixed or slow point.
//! 2. **Newton** on `F(h) − h = 0`: `h ← h − (J − I)⁻¹ (F(h) − h)`, quadratically
//!    convergent; when a step does not reduce the residual or `J − I` is singular, a
//!    Levenberg–Marquardt step `((J−I)ᵀ(J−I) + λ I) δ = −(J−I)ᵀ r` with growing `λ`.
//!
//! Every candidate gets a [`FixedPointReport`]: final residual `‖F(h) − h‖`, `q`,
//! iterations of each phase and why it stopped. Allocation-free: the caller passes
//! `scratch` of at least [`fixed_point_scratch_len`] elements and `pivots` of at least
//! `STATE` (work buffers may be longer than needed; inputs and outputs have exact lengths).

mod linearize;
mod search;

pub use linearize::{linearize, linearize_scratch_len, summarize, Linearization, LinearizeParams};
pub use search::{
    find_fixed_point, find_fixed_points_batch, fixed_point_batch_scratch_len,
    fixed_point_scratch_len, fixed_point_scratch_len_for, AdamPhase, FixedPointParams,
    FixedPointReport, NewtonPhase, Stop,
};
