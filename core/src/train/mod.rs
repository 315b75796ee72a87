//! Training kernels: a cell with a linear readout ([`Network`]), the BPTT loss and
//! gradient of a batch of sequences, L2 penalty, gradient-norm clipping and Adam.
//!
//! # Buffers
//!
//! Every buffer is the caller's. Inputs and outputs (parameters, gradients, sequences,
//! states) have exact lengths; scratch buffers need *at least* the length of their
//! `*_scratch_len` function and may be longer (only the first that many elements are used,
//! so the result does not depend on the excess). A shorter buffer is
//! [`Error::BufferSize`](crate::Error::BufferSize).
//!
//! # Training without an allocator
//!
//! The sizes are `const fn`s of the types ([`Network::bptt_scratch_len`],
//! [`Network::loss_scratch_len`], [`Network::param_count_for`],
//! [`batch_work_len`](crate::cell::batch_work_len)), so a device can train from fixed-size
//! arrays sized at compile time (here on the stack; a `static` works the same):
//!
//! ```
//! use rnndyn_core::cell::InitParams;
//! use rnndyn_core::task::{FlipFlop, FlipFlopParams, Task};
//! use rnndyn_core::train::{clip_grad_norm, Adam, AdamParams, Network};
//! use rnndyn_core::{Activation, Rng, VanillaCell};
//!
//! type Rnn = VanillaCell<8, 3>; // 8 units, 3 inputs
//! type Net = Network<Rnn, 3>; // 3 outputs
//! const B: usize = 4; // trials per batch
//! const T: usize = 20; // steps per trial
//! const PARAMS: usize = Net::param_count_for::<f32>(Rnn::PARAMS);
//! const SCRATCH: usize = Net::bptt_scratch_len::<f32>(B, T);
//! const LOSS_SCRATCH: usize = Net::loss_scratch_len::<f32>();
//!
//! let net = Net::new(Rnn::new(Activation::Tanh));
//! let task = FlipFlop::new(FlipFlopParams::default())?;
//! let mut p = [0.0f32; PARAMS];
//! let mut grad = [0.0f32; PARAMS];
//! let (mut m, mut v) = ([0.0f32; PARAMS], [0.0f32; PARAMS]);
//! let mut xs = [0.0f32; B * T * FlipFlop::INPUTS];
//! let mut ys = [0.0f32; B * T * FlipFlop::OUTPUTS];
//! let mut scratch = [0.0f32; SCRATCH];
//! let mut loss_scratch = [0.0f32; LOSS_SCRATCH];
//!
//! net.init(&mut p, &mut Rng::new(1), &InitParams::default())?;
//! task.fill(&mut Rng::new(2), B, T, &mut xs, &mut ys)?;
//! let before = net.loss(&p, &xs, &ys, B, T, &mut loss_scratch)?;
//! let mut adam = Adam::new(&mut m, &mut v)?;
//! let adam_params = AdamParams {
//!     lr: 1e-2,
//!     ..AdamParams::default()
//! };
//! for _ in 0..20 {
//!     net.loss_and_grad(&p, &xs, &ys, B, T, &mut grad, &mut scratch)?;
//!     clip_grad_norm(&mut grad, 1.0);
//!     adam.update(&mut p, &grad, &adam_params, adam_params.lr)?;
//! }
//! let after = net.loss(&p, &xs, &ys, B, T, &mut loss_scratch)?;
//! assert!(after < before, "loss {before} -> {after}");
//! # Ok::<(), rnndyn_core::Error>(())
//! ```

mod bptt;
mod optim;

pub use bptt::{scratch_align_offset, Network, SCRATCH_ALIGN};
pub use optim::{clip_grad_norm, grad_norm, Adam, AdamParams};
