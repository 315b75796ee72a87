//! Runtime models: turns a runtime description (architecture, activation, hidden size,
//! task inputs/outputs) into the core's const-generic types, once, in one place.
//!
//! The list of supported hidden sizes controls build time and binary size: every
//! (architecture, size, task shape) triple is one monomorphised copy of the core kernels.

use rnndyn_core::cell::{
    Cell, GruCell, GruConvention, InitParams, LstmCell, ParamBlock, UgrnnCell, VanillaCell,
};
use rnndyn_core::fixed_point::{
    self, FixedPointParams, FixedPointReport, Linearization, LinearizeParams,
};
use rnndyn_core::linalg::Eigenvalue;
use rnndyn_core::train::Network;
use rnndyn_core::{Activation, Error as CoreError, Rng};

/// Hidden sizes compiled in. Each one adds a copy of the kernels per architecture and task.
pub const SUPPORTED_SIZES: [usize; 6] = [4, 8, 16, 32, 64, 128];

/// (inputs, outputs) shapes compiled in: flip-flop (3, 3), sine (1, 1), integration (4, 1).
pub const SUPPORTED_SHAPES: [(usize, usize); 3] = [(3, 3), (1, 1), (4, 1)];

/// Recurrent architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// Vanilla RNN: `h' = f(W h + U x + b)`.
    Vanilla,
    /// Update-gate RNN (Collins et al. 2017): one gate between h and the candidate.
    Ugrnn,
    /// Gated recurrent unit, in either [`GruConvention`].
    Gru,
    /// Long short-term memory; its dynamical state is `[h; c]`.
    Lstm,
}

impl Arch {
    /// The four architectures, in catalog order.
    pub const ALL: [Arch; 4] = [Arch::Vanilla, Arch::Ugrnn, Arch::Gru, Arch::Lstm];
    /// The name used in configs, the catalog and file names (`vanilla`, `ugrnn`, `gru`,
    /// `lstm`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Vanilla => "vanilla",
            Arch::Ugrnn => "ugrnn",
            Arch::Gru => "gru",
            Arch::Lstm => "lstm",
        }
    }
    /// The architecture with this [`name`](Arch::name), if any (exact, lower case).
    pub fn parse(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Everything needed to build a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelSpec {
    /// Cell architecture.
    pub arch: Arch,
    /// Nonlinearity of the candidate / hidden update (tanh or ReLU).
    pub activation: Activation,
    /// Where the GRU applies its reset gate (ignored by the other cells).
    pub gru_convention: GruConvention,
    /// Hidden size N (one of [`SUPPORTED_SIZES`]).
    pub hidden: usize,
    /// Input dimension I.
    pub inputs: usize,
    /// Readout dimension O.
    pub outputs: usize,
}

/// Why a model could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// The hidden size is not one of [`SUPPORTED_SIZES`].
    #[error("hidden size {0} is not supported (supported: {SUPPORTED_SIZES:?})")]
    UnsupportedSize(usize),
    /// The (inputs, outputs) pair is not one of [`SUPPORTED_SHAPES`].
    #[error("{inputs} inputs and {outputs} outputs are not supported (supported (inputs, outputs): {SUPPORTED_SHAPES:?})")]
    UnsupportedShape {
        /// Inputs asked for.
        inputs: usize,
        /// Outputs asked for.
        outputs: usize,
    },
    /// A core kernel rejected its arguments (buffer sizes).
    #[error("core: {0}")]
    Core(#[from] CoreError),
}

/// A network with runtime sizes: f32 for training, f64 for analysis.
pub trait Model: Send + Sync {
    /// What was built.
    fn spec(&self) -> &ModelSpec;
    /// Dimension of the dynamical state (N, or 2N for the LSTM's [h; c]).
    fn state_dim(&self) -> usize;
    /// Length of the flat parameter vector (cell and readout).
    fn param_count(&self) -> usize;
    /// Parameter blocks (cell, then readout `Wo`, `bo`) in storage order.
    fn blocks(&self) -> Vec<ParamBlock>;
    /// Fresh parameters.
    fn init(&self, rng: &mut Rng, init: &InitParams) -> Vec<f32>;
    /// Scratch length `loss_and_grad` needs for `batch` sequences of `steps` steps.
    fn bptt_scratch_len(&self, batch: usize, steps: usize) -> usize;
    /// MSE and its gradient (BPTT) for a batch; see `Network::loss_and_grad`.
    fn loss_and_grad(
        &self,
        p: &[f32],
        xs: &[f32],
        ys: &[f32],
        batch: usize,
        steps: usize,
        grad: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<f32, CoreError>;
    /// Adds the L2 penalty gradient, returns the penalty.
    fn add_l2(&self, p: &[f32], grad: &mut [f32], l2: f32) -> Result<f32, CoreError>;
    /// MSE of a batch in f64 (evaluation).
    fn loss_f64(
        &self,
        p: &[f64],
        xs: &[f64],
        ys: &[f64],
        batch: usize,
        steps: usize,
    ) -> Result<f64, CoreError>;
    /// Runs one trial (`xs` is `T × I`) from `s0`, writing states (`T × S`) and outputs (`T × O`).
    fn run(
        &self,
        p: &[f64],
        s0: &[f64],
        xs: &[f64],
        states: &mut [f64],
        outputs: &mut [f64],
    ) -> Result<(), CoreError>;
    /// One step of the map.
    fn step(&self, p: &[f64], s: &[f64], x: &[f64], out: &mut [f64]);
    /// State Jacobian (row-major S × S).
    fn jacobian_state(&self, p: &[f64], s: &[f64], x: &[f64], jac: &mut [f64]);
    /// Input Jacobian (row-major S × I).
    fn jacobian_input(&self, p: &[f64], s: &[f64], x: &[f64], jac: &mut [f64]);
    /// Readout of a state.
    fn readout(&self, p: &[f64], s: &[f64], y: &mut [f64]) -> Result<(), CoreError>;
    /// Fixed-point search from `h` (overwritten) at input `x`; buffers sized by the core's
    /// `fixed_point_scratch_len(state_dim)`; `pivots` has length `state_dim`.
    fn find_fixed_point(
        &self,
        p: &[f64],
        x: &[f64],
        h: &mut [f64],
        params: &FixedPointParams,
        scratch: &mut [f64],
        pivots: &mut [usize],
    ) -> Result<FixedPointReport<f64>, CoreError>;
    /// [`Model::find_fixed_point`] on `batch` starts at once (rows of `hs`, overwritten), the
    /// core's `find_fixed_points_batch`: per row bit-identical to the one-start search.
    /// `scratch` has length [`Model::fixed_point_batch_scratch_len`], `pivots`
    /// `state_dim + batch`.
    #[allow(clippy::too_many_arguments)]
    fn find_fixed_points_batch(
        &self,
        p: &[f64],
        x: &[f64],
        hs: &mut [f64],
        batch: usize,
        params: &FixedPointParams,
        reports: &mut [Result<FixedPointReport<f64>, CoreError>],
        scratch: &mut [f64],
        pivots: &mut [usize],
    ) -> Result<(), CoreError>;
    /// Jacobian, eigenvalues (by decreasing modulus) and right eigenvectors at `h`.
    fn linearize(
        &self,
        p: &[f64],
        x: &[f64],
        h: &[f64],
        params: &LinearizeParams,
        jacobian: &mut [f64],
        values: &mut [Eigenvalue<f64>],
        vectors: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<Linearization<f64>, CoreError>;
    /// The cell's share of the parameter vector (the readout follows it).
    fn cell_param_count(&self) -> usize;
    /// Scratch length for [`Model::find_fixed_point`].
    fn fixed_point_scratch_len(&self) -> usize;
    /// Scratch length for [`Model::find_fixed_points_batch`] with up to `batch` starts.
    fn fixed_point_batch_scratch_len(&self, batch: usize) -> usize;
}

struct Concrete<C, const O: usize> {
    net: Network<C, O>,
    spec: ModelSpec,
}

impl<C, const O: usize> Model for Concrete<C, O>
where
    C: Cell<f32> + Cell<f64> + 'static,
{
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }
    fn state_dim(&self) -> usize {
        <C as Cell<f64>>::STATE
    }
    fn param_count(&self) -> usize {
        self.net.param_count::<f64>()
    }
    fn blocks(&self) -> Vec<ParamBlock> {
        self.net.blocks::<f64>().iter().flatten().copied().collect()
    }
    fn init(&self, rng: &mut Rng, init: &InitParams) -> Vec<f32> {
        let mut p = vec![0.0f32; self.param_count()];
        // Lengths match by construction.
        let _ = self.net.init::<f32>(&mut p, rng, init);
        p
    }
    fn bptt_scratch_len(&self, batch: usize, steps: usize) -> usize {
        Network::<C, O>::bptt_scratch_len::<f32>(batch, steps)
    }
    fn loss_and_grad(
        &self,
        p: &[f32],
        xs: &[f32],
        ys: &[f32],
        batch: usize,
        steps: usize,
        grad: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<f32, CoreError> {
        self.net
            .loss_and_grad(p, xs, ys, batch, steps, grad, scratch)
    }
    fn add_l2(&self, p: &[f32], grad: &mut [f32], l2: f32) -> Result<f32, CoreError> {
        self.net.add_l2(p, grad, l2)
    }
    fn loss_f64(
        &self,
        p: &[f64],
        xs: &[f64],
        ys: &[f64],
        batch: usize,
        steps: usize,
    ) -> Result<f64, CoreError> {
        let mut scratch = vec![0.0; Network::<C, O>::loss_scratch_len::<f64>()];
        self.net.loss(p, xs, ys, batch, steps, &mut scratch)
    }
    fn run(
        &self,
        p: &[f64],
        s0: &[f64],
        xs: &[f64],
        states: &mut [f64],
        outputs: &mut [f64],
    ) -> Result<(), CoreError> {
        self.net.run(p, s0, xs, states, outputs)
    }
    fn step(&self, p: &[f64], s: &[f64], x: &[f64], out: &mut [f64]) {
        self.net.cell.step(p, s, x, out)
    }
    fn jacobian_state(&self, p: &[f64], s: &[f64], x: &[f64], jac: &mut [f64]) {
        self.net.cell.jacobian_state(p, s, x, jac)
    }
    fn jacobian_input(&self, p: &[f64], s: &[f64], x: &[f64], jac: &mut [f64]) {
        self.net.cell.jacobian_input(p, s, x, jac)
    }
    fn readout(&self, p: &[f64], s: &[f64], y: &mut [f64]) -> Result<(), CoreError> {
        self.net.readout(p, s, y)
    }
    fn find_fixed_point(
        &self,
        p: &[f64],
        x: &[f64],
        h: &mut [f64],
        params: &FixedPointParams,
        scratch: &mut [f64],
        pivots: &mut [usize],
    ) -> Result<FixedPointReport<f64>, CoreError> {
        let nc = self.cell_param_count();
        if p.len() < nc {
            return Err(CoreError::BufferSize {
                expected: nc,
                got: p.len(),
                rule: rnndyn_core::LengthRule::Exact,
            });
        }
        fixed_point::find_fixed_point(&self.net.cell, &p[..nc], x, h, params, scratch, pivots)
    }
    fn find_fixed_points_batch(
        &self,
        p: &[f64],
        x: &[f64],
        hs: &mut [f64],
        batch: usize,
        params: &FixedPointParams,
        reports: &mut [Result<FixedPointReport<f64>, CoreError>],
        scratch: &mut [f64],
        pivots: &mut [usize],
    ) -> Result<(), CoreError> {
        let nc = self.cell_param_count();
        if p.len() < nc {
            return Err(CoreError::BufferSize {
                expected: nc,
                got: p.len(),
                rule: rnndyn_core::LengthRule::Exact,
            });
        }
        fixed_point::find_fixed_points_batch(
            &self.net.cell,
            &p[..nc],
            x,
            hs,
            batch,
            params,
            reports,
            scratch,
            pivots,
        )
    }
    fn linearize(
        &self,
        p: &[f64],
        x: &[f64],
        h: &[f64],
        params: &LinearizeParams,
        jacobian: &mut [f64],
        values: &mut [Eigenvalue<f64>],
        vectors: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<Linearization<f64>, CoreError> {
        let nc = self.cell_param_count();
        if p.len() < nc {
            return Err(CoreError::BufferSize {
                expected: nc,
                got: p.len(),
                rule: rnndyn_core::LengthRule::Exact,
            });
        }
        fixed_point::linearize(
            &self.net.cell,
            &p[..nc],
            x,
            h,
            params,
            jacobian,
            values,
            vectors,
            scratch,
        )
    }
    fn cell_param_count(&self) -> usize {
        Cell::<f64>::param_count(&self.net.cell)
    }
    fn fixed_point_scratch_len(&self) -> usize {
        fixed_point::fixed_point_scratch_len::<f64, C>(&self.net.cell)
    }
    fn fixed_point_batch_scratch_len(&self, batch: usize) -> usize {
        fixed_point::fixed_point_batch_scratch_len::<f64, C>(&self.net.cell, batch)
    }
}

fn boxed<C, const O: usize>(cell: C, spec: &ModelSpec) -> Box<dyn Model>
where
    C: Cell<f32> + Cell<f64> + 'static,
{
    Box::new(Concrete::<C, O> {
        net: Network::new(cell),
        spec: *spec,
    })
}

macro_rules! with_arch {
    ($spec:expr, $n:literal, $i:literal, $o:literal) => {{
        let s = $spec;
        match s.arch {
            Arch::Vanilla => boxed::<_, $o>(VanillaCell::<$n, $i>::new(s.activation), s),
            Arch::Ugrnn => boxed::<_, $o>(UgrnnCell::<$n, $i>::new(s.activation), s),
            Arch::Gru => boxed::<_, $o>(GruCell::<$n, $i>::new(s.activation, s.gru_convention), s),
            Arch::Lstm => boxed::<_, $o>(LstmCell::<$n, $i>::new(s.activation), s),
        }
    }};
}

macro_rules! with_size {
    ($spec:expr, $i:literal, $o:literal, [$($n:literal),*]) => {{
        let s = $spec;
        match s.hidden {
            $($n => Ok(with_arch!(s, $n, $i, $o)),)*
            other => Err(ModelError::UnsupportedSize(other)),
        }
    }};
}

/// Builds the model for `spec` (the one place where runtime sizes become types).
pub fn build(spec: &ModelSpec) -> Result<Box<dyn Model>, ModelError> {
    match (spec.inputs, spec.outputs) {
        (3, 3) => with_size!(spec, 3, 3, [4, 8, 16, 32, 64, 128]),
        (1, 1) => with_size!(spec, 1, 1, [4, 8, 16, 32, 64, 128]),
        (4, 1) => with_size!(spec, 4, 1, [4, 8, 16, 32, 64, 128]),
        (inputs, outputs) => Err(ModelError::UnsupportedShape { inputs, outputs }),
    }
}
