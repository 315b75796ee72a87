//! Training kernels: a cell with a linear readout ([`Network`]), the BPTT loss and
//! gradient of a batch of sequences, L2 penalty, gradient-norm clipping and Adam.

mod bptt;
mod optim;

pub use bptt::Network;
pub use optim::{clip_grad_norm, grad_norm, Adam, AdamParams};
