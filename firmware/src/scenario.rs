//! What the firmware computes, written once and run twice: on the Cortex-M4F (`main.rs`)
//! and on the host (`host/examples/firmware_reference.rs` includes this file), so the test
//! script can compare the device's printed numbers with the host's.
//!
//! 1. A flip-flop trial of [`T`] steps whose pulses walk the 8 corners of the cube in Gray
//!    code order (one channel flips every [`HOLD`] steps): outputs of the network in `f32`
//!    (libm, as trained), and the same trajectory with the `fast-math` step.
//! 2. Fixed points at input 0 from the state at the end of every hold (8 starts) and from
//!    the midpoints of successive hold states (7 starts, which tend to land on the saddles
//!    between two memories): an Adam phase in `f32` (hardware FPU) brings the start into the
//!    basin, then Newton in `f64` (software double precision on the M4) refines it to a
//!    residual near 1e-15, which `f32` cannot reach (its floor is ~1e-7). Each fixed point
//!    is linearised in `f64` (eigenvalues of the 16 × 16 Jacobian): stability index, slow
//!    modes and spectral radius.
//!
//! Everything is on the stack (no allocator); printing uses a small line buffer and no
//! `core::fmt`, so the firmware links no formatting or panic machinery. Floats are printed
//! twice: a short decimal for people and the exact IEEE bits in hex for the comparison.

use rnndyn_core::cell::{Cell, GruCell};
use rnndyn_core::fast_math;
use rnndyn_core::fixed_point::{
    find_fixed_point, fixed_point_scratch_len_for, linearize, linearize_scratch_len, AdamPhase,
    FixedPointParams, LinearizeParams, NewtonPhase, Stop,
};
use rnndyn_core::linalg::Eigenvalue;
use rnndyn_core::task::{FlipFlop, Pulse, Sign};
use rnndyn_core::train::Network;
use rnndyn_core::{Error, LengthRule, Real};

/// Hidden units of the embedded network.
pub const N: usize = 16;
/// Inputs (flip-flop channels).
pub const I: usize = 3;
/// Outputs.
pub const O: usize = 3;
/// The cell type.
pub type Gru = GruCell<N, I>;
/// Parameters of the cell (`W`, `U`, `b`, reset-before-product convention).
pub const CELL_PARAMS: usize = 3 * N * N + 3 * I * N + 3 * N;
/// Parameters of cell + readout (`Wo`, `bo`).
pub const PARAMS: usize = CELL_PARAMS + N * O + O;
/// Steps each corner is held.
pub const HOLD: usize = 12;
/// Steps of the trial (8 holds).
pub const T: usize = 8 * HOLD;
/// Starts of the fixed-point search: 8 hold ends and 7 midpoints.
pub const STARTS: usize = 15;
/// Most distinct fixed points kept.
pub const MAX_FIXED: usize = STARTS;
/// Two fixed points closer than this (max-norm) are the same.
pub const SAME_POINT: f64 = 1e-7;
/// A fixed point counts when its residual `‖F(h) − h‖` is below this.
pub const RESIDUAL_OK: f64 = 1e-10;

const fn pulse(t: usize, channel: usize, sign: Sign) -> Pulse {
    Pulse { t, channel, sign }
}

/// Gray-code walk over the corners: all channels `+1` at `t = 0`, then one flip per hold.
pub const PULSES: [Pulse; 10] = [
    pulse(0, 0, Sign::Plus),
    pulse(0, 1, Sign::Plus),
    pulse(0, 2, Sign::Plus),
    pulse(HOLD, 0, Sign::Minus),
    pulse(2 * HOLD, 1, Sign::Minus),
    pulse(3 * HOLD, 0, Sign::Plus),
    pulse(4 * HOLD, 2, Sign::Minus),
    pulse(5 * HOLD, 0, Sign::Minus),
    pulse(6 * HOLD, 1, Sign::Plus),
    pulse(7 * HOLD, 0, Sign::Plus),
];

/// Where the text goes (semihosting on the device, stdout on the host).
pub trait Sink {
    fn write(&mut self, bytes: &[u8]);
}

/// An instruction counter (the device's; the host's returns 0).
pub trait Clock {
    /// Instructions executed since some fixed origin.
    fn instructions(&mut self) -> u64;
}

/// A line of text built without `core::fmt` and without any panicking path.
pub struct Line<'a, S: Sink> {
    sink: &'a mut S,
    buf: [u8; 128],
    len: usize,
}

impl<'a, S: Sink> Line<'a, S> {
    pub fn new(sink: &'a mut S) -> Self {
        Line {
            sink,
            buf: [0; 128],
            len: 0,
        }
    }

    fn flush(&mut self) {
        self.sink.write(self.buf.get(..self.len).unwrap_or(&[]));
        self.len = 0;
    }

    pub fn byte(&mut self, b: u8) -> &mut Self {
        if self.len >= self.buf.len() {
            self.flush();
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        for &b in s.as_bytes() {
            self.byte(b);
        }
        self
    }

    /// Unsigned decimal.
    pub fn uint(&mut self, mut v: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut n = 0;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (v % 10) as u8;
            }
            n += 1;
            v /= 10;
            if v == 0 || n >= digits.len() {
                break;
            }
        }
        for &d in digits.iter().take(n).rev() {
            self.byte(d);
        }
        self
    }

    /// Lower-case hex of `bits`, `nibbles` digits.
    pub fn hex(&mut self, bits: u64, nibbles: u32) -> &mut Self {
        for k in (0..nibbles).rev() {
            let d = ((bits >> (4 * k)) & 0xf) as u8;
            self.byte(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        }
        self
    }

    /// A short human-readable decimal: `±d.ddde±x` (4 significant digits).
    pub fn sci(&mut self, v: f64) -> &mut Self {
        if v.is_nan() {
            return self.str("nan");
        }
        self.byte(if v.is_sign_negative() { b'-' } else { b'+' });
        let mut m = if v < 0.0 { -v } else { v };
        if m == f64::INFINITY {
            return self.str("inf");
        }
        if m == 0.0 {
            return self.str("0.000e+0");
        }
        let mut e: i32 = 0;
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        let mut d = (m * 1000.0 + 0.5) as u64;
        if d >= 10_000 {
            d /= 10;
            e += 1;
        }
        self.uint(d / 1000).byte(b'.');
        let frac = d % 1000;
        self.byte(b'0' + (frac / 100) as u8)
            .byte(b'0' + (frac / 10 % 10) as u8)
            .byte(b'0' + (frac % 10) as u8);
        self.byte(b'e')
            .byte(if e < 0 { b'-' } else { b'+' })
            .uint(e.unsigned_abs() as u64)
    }

    /// `key=` then a value.
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.byte(b' ').str(k).byte(b'=')
    }

    /// Comma-separated hex bits of `f32` values.
    pub fn bits32(&mut self, v: &[f32]) -> &mut Self {
        for (k, &x) in v.iter().enumerate() {
            if k > 0 {
                self.byte(b',');
            }
            self.hex(x.to_bits() as u64, 8);
        }
        self
    }

    /// Comma-separated hex bits of `f64` values.
    pub fn bits64(&mut self, v: &[f64]) -> &mut Self {
        for (k, &x) in v.iter().enumerate() {
            if k > 0 {
                self.byte(b',');
            }
            self.hex(x.to_bits(), 16);
        }
        self
    }

    /// Comma-separated short decimals.
    pub fn scis(&mut self, v: impl IntoIterator<Item = f64>) -> &mut Self {
        for (k, x) in v.into_iter().enumerate() {
            if k > 0 {
                self.byte(b',');
            }
            self.sci(x);
        }
        self
    }

    /// Ends the line and writes it out.
    pub fn end(&mut self) {
        self.byte(b'\n');
        self.flush();
    }
}

/// Name of a core error, for printing without `core::fmt`.
pub fn error_name(e: Error) -> &'static str {
    match e {
        Error::BufferSize { .. } => "buffer-size",
        Error::NonFinite => "non-finite",
        Error::Singular => "singular",
        Error::NoConvergence => "no-convergence",
        Error::InvalidParameter => "invalid-parameter",
        Error::Overflow => "overflow",
        _ => "other",
    }
}

fn stop_name(s: Stop) -> &'static str {
    match s {
        Stop::Converged => "converged",
        Stop::MaxIterations => "max-iterations",
        Stop::Singular => "singular",
        Stop::Stalled => "stalled",
        Stop::Diverged => "diverged",
        Stop::Skipped => "skipped",
    }
}

/// What the run found (for the caller's exit status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Distinct fixed points with residual below [`RESIDUAL_OK`].
    pub fixed_points: usize,
    /// Of those, stable ones (stability index 0).
    pub stable: usize,
    /// Outputs of the trial with the right sign at the end of every hold.
    pub correct_holds: usize,
}

/// The Adam phase in `f32`: enough to reach a basin; Newton does the rest.
pub const ADAM_F32: FixedPointParams = FixedPointParams {
    adam: AdamPhase {
        learning_rate: 1e-2,
        decay: 0.5,
        decay_every: 200,
        max_iterations: 1000,
        q_tolerance: 1e-9,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    },
    newton: NewtonPhase {
        max_iterations: 0,
        residual_tolerance: 1e-13,
        initial_damping: 1e-6,
        max_rejections: 12,
    },
};

/// The Newton phase in `f64`.
pub const NEWTON_F64: FixedPointParams = FixedPointParams {
    adam: AdamPhase {
        learning_rate: 1e-2,
        decay: 0.5,
        decay_every: 1000,
        max_iterations: 0,
        q_tolerance: 1e-10,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    },
    newton: NewtonPhase {
        max_iterations: 50,
        residual_tolerance: 1e-14,
        initial_damping: 1e-6,
        max_rejections: 12,
    },
};

/// Runs everything and prints it. `p` is the network's parameter vector (cell then
/// readout) and must have [`PARAMS`] entries; `cell` must be a reset-before GRU-16.
pub fn run<S: Sink, K: Clock>(
    id: &str,
    cell: Gru,
    p: &[f32],
    sink: &mut S,
    clock: &mut K,
) -> Result<Summary, Error> {
    if p.len() != PARAMS || Cell::<f32>::param_count(&cell) != CELL_PARAMS {
        return Err(Error::BufferSize {
            expected: PARAMS,
            got: p.len(),
            rule: LengthRule::Exact,
        });
    }
    let net: Network<Gru, O> = Network::new(cell);
    Line::new(sink)
        .str("net")
        .key("id")
        .str(id)
        .key("arch")
        .str("gru")
        .key("activation")
        .str(cell.activation.name())
        .key("n")
        .uint(N as u64)
        .key("i")
        .uint(I as u64)
        .key("o")
        .uint(O as u64)
        .key("params")
        .uint(PARAMS as u64)
        .key("steps")
        .uint(T as u64)
        .end();

    // 1. The trial, libm then fast-math.
    let mut xs = [0.0f32; T * I];
    let mut ys = [0.0f32; T * O];
    FlipFlop::fill_trial(T, &PULSES, &mut xs, &mut ys)?;
    let mut states = [0.0f32; T * N];
    let mut outputs = [0.0f32; T * O];
    let s0 = [0.0f32; N];
    let c0 = clock.instructions();
    net.run(p, &s0, &xs, &mut states, &mut outputs)?;
    let c1 = clock.instructions();
    let mut fast_outputs = [0.0f32; T * O];
    let mut max_dy = 0.0f32;
    let mut max_dh = 0.0f32;
    {
        let (mut s, mut s_next) = ([0.0f32; N], [0.0f32; N]);
        for ((x, y), (exact_h, exact_y)) in xs
            .chunks_exact(I)
            .zip(fast_outputs.chunks_exact_mut(O))
            .zip(states.chunks_exact(N).zip(outputs.chunks_exact(O)))
        {
            fast_math::gru_step(&cell, p, &s, x, &mut s_next)?;
            net.readout(p, &s_next, y)?;
            s = s_next;
            for (a, b) in s.iter().zip(exact_h) {
                max_dh = max_dh.max(Real::abs(a - b));
            }
            for (a, b) in y.iter().zip(exact_y) {
                max_dy = max_dy.max(Real::abs(a - b));
            }
        }
    }
    let c2 = clock.instructions();
    let mut correct_holds = 0;
    for (t, ((x, y), target)) in xs
        .chunks_exact(I)
        .zip(outputs.chunks_exact(O))
        .zip(ys.chunks_exact(O))
        .enumerate()
    {
        let hold_end = t % HOLD == HOLD - 1;
        if hold_end && y.iter().zip(target).all(|(a, b)| a * b > 0.0) {
            correct_holds += 1;
        }
        let mut line = Line::new(sink);
        line.str("y").key("t").uint(t as u64).key("x");
        for &v in x {
            line.byte(if v > 0.0 {
                b'+'
            } else if v < 0.0 {
                b'-'
            } else {
                b'0'
            });
        }
        line.key("y")
            .scis(y.iter().map(|&v| v as f64))
            .key("bits")
            .bits32(y)
            .end();
    }
    Line::new(sink)
        .str("fastmath")
        .key("max_abs_dy")
        .sci(max_dy as f64)
        .key("max_abs_dh")
        .sci(max_dh as f64)
        .key("bits")
        .bits32(&[max_dy, max_dh])
        .end();
    Line::new(sink)
        .str("insns")
        .key("trial_libm")
        .uint(c1 - c0)
        .key("trial_fast")
        .uint(c2 - c1)
        .key("per_step_libm")
        .uint((c1 - c0) / T as u64)
        .key("per_step_fast")
        .uint((c2 - c1) / T as u64)
        .end();

    // 2. Fixed points at x = 0.
    let mut p64 = [0.0f64; CELL_PARAMS];
    for (d, &s) in p64.iter_mut().zip(p) {
        *d = s as f64;
    }
    let mut readout64 = [0.0f64; N * O + O];
    for (d, &s) in readout64.iter_mut().zip(p.iter().skip(CELL_PARAMS)) {
        *d = s as f64;
    }
    let x32 = [0.0f32; I];
    let x64 = [0.0f64; I];
    let mut found = [[0.0f64; N]; MAX_FIXED];
    let mut n_found = 0usize;
    let mut stable = 0usize;
    let (mut insns_adam, mut insns_newton, mut insns_lin) = (0u64, 0u64, 0u64);
    for k in 0..STARTS {
        // Start state: end of hold k, or the midpoint of hold ends k-8 and k-7.
        let mut h32 = [0.0f32; N];
        let hold_end = |j: usize| states.chunks_exact(N).nth(j * HOLD + HOLD - 1);
        let start_t;
        if k < 8 {
            start_t = k * HOLD + HOLD - 1;
            if let Some(s) = hold_end(k) {
                h32.copy_from_slice(s);
            }
        } else {
            start_t = (k - 8) * HOLD + HOLD - 1;
            if let (Some(a), Some(b)) = (hold_end(k - 8), hold_end(k - 7)) {
                for ((h, &a), &b) in h32.iter_mut().zip(a).zip(b) {
                    *h = 0.5 * (a + b);
                }
            }
        }
        let t0 = clock.instructions();
        let adam = search_f32(&cell, p, &x32, &mut h32)?;
        let t1 = clock.instructions();
        let mut h = [0.0f64; N];
        for (d, &s) in h.iter_mut().zip(&h32) {
            *d = s as f64;
        }
        let newton = search_f64(&cell, &p64, &x64, &mut h)?;
        let t2 = clock.instructions();
        let lin = linearize_f64(&cell, &p64, &x64, &h)?;
        let t3 = clock.instructions();
        insns_adam += t1 - t0;
        insns_newton += t2 - t1;
        insns_lin += t3 - t2;

        let ok = newton.residual <= RESIDUAL_OK;
        let mut same = None;
        for (j, f) in found.iter().take(n_found).enumerate() {
            let d = f
                .iter()
                .zip(&h)
                .fold(0.0f64, |m, (a, b)| m.max(Real::abs(a - b)));
            if d < SAME_POINT {
                same = Some(j);
                break;
            }
        }
        let index = match same {
            Some(j) => j,
            None if ok && n_found < MAX_FIXED => {
                if let Some(slot) = found.get_mut(n_found) {
                    *slot = h;
                }
                n_found += 1;
                if lin.stability_index == 0 {
                    stable += 1;
                }
                n_found - 1
            }
            None => usize::MAX,
        };
        let mut y = [0.0f64; O];
        readout_f64(&readout64, &h, &mut y);
        let mut line = Line::new(sink);
        line.str("fp")
            .key("k")
            .uint(k as u64)
            .key("from")
            .str(if k < 8 { "hold" } else { "mid" });
        line.key("t").uint(start_t as u64).key("point");
        if index == usize::MAX {
            line.str("none");
        } else {
            line.uint(index as u64);
        }
        line.key("adam_it")
            .uint(adam.adam_iterations as u64)
            .key("adam_stop")
            .str(stop_name(adam.adam_stop))
            .key("newton_it")
            .uint(newton.newton_iterations as u64)
            .key("newton_stop")
            .str(stop_name(newton.newton_stop))
            .key("residual")
            .sci(newton.residual)
            .key("index")
            .uint(lin.stability_index as u64)
            .key("slow")
            .uint(lin.slow_modes as u64)
            .key("radius")
            .sci(lin.spectral_radius)
            .key("y")
            .scis(y.iter().copied())
            .end();
        Line::new(sink)
            .str("fpbits")
            .key("k")
            .uint(k as u64)
            .key("residual")
            .bits64(&[newton.residual])
            .key("radius")
            .bits64(&[lin.spectral_radius])
            .key("h")
            .bits64(&h)
            .end();
    }
    Line::new(sink)
        .str("fixed_points")
        .key("distinct")
        .uint(n_found as u64)
        .key("stable")
        .uint(stable as u64)
        .key("correct_holds")
        .uint(correct_holds as u64)
        .end();
    Line::new(sink)
        .str("insns")
        .key("adam_f32")
        .uint(insns_adam)
        .key("newton_f64")
        .uint(insns_newton)
        .key("linearize_f64")
        .uint(insns_lin)
        .end();
    Ok(Summary {
        fixed_points: n_found,
        stable,
        correct_holds,
    })
}

/// Adam phase in `f32` (own stack frame, so the peak stack is the largest phase, not the sum).
#[inline(never)]
fn search_f32(
    cell: &Gru,
    p: &[f32],
    x: &[f32; I],
    h: &mut [f32; N],
) -> Result<rnndyn_core::fixed_point::FixedPointReport<f32>, Error> {
    let mut scratch =
        [0.0f32; fixed_point_scratch_len_for(N, <Gru as Cell<f32>>::CACHE, CELL_PARAMS)];
    let mut pivots = [0usize; N];
    let pc = p.get(..CELL_PARAMS).ok_or(Error::BufferSize {
        expected: PARAMS,
        got: p.len(),
        rule: LengthRule::Exact,
    })?;
    find_fixed_point(cell, pc, x, h, &ADAM_F32, &mut scratch, &mut pivots)
}

/// Newton phase in `f64`.
#[inline(never)]
fn search_f64(
    cell: &Gru,
    p: &[f64; CELL_PARAMS],
    x: &[f64; I],
    h: &mut [f64; N],
) -> Result<rnndyn_core::fixed_point::FixedPointReport<f64>, Error> {
    let mut scratch =
        [0.0f64; fixed_point_scratch_len_for(N, <Gru as Cell<f64>>::CACHE, CELL_PARAMS)];
    let mut pivots = [0usize; N];
    find_fixed_point(cell, p, x, h, &NEWTON_F64, &mut scratch, &mut pivots)
}

/// Linearisation in `f64`.
#[inline(never)]
fn linearize_f64(
    cell: &Gru,
    p: &[f64; CELL_PARAMS],
    x: &[f64; I],
    h: &[f64; N],
) -> Result<rnndyn_core::fixed_point::Linearization<f64>, Error> {
    let mut jac = [0.0f64; N * N];
    let mut values = [Eigenvalue {
        re: 0.0f64,
        im: 0.0,
    }; N];
    let mut vectors = [0.0f64; N * N];
    let mut scratch = [0.0f64; linearize_scratch_len(N)];
    linearize(
        cell,
        p,
        x,
        h,
        &LinearizeParams::default(),
        &mut jac,
        &mut values,
        &mut vectors,
        &mut scratch,
    )
}

/// `y = h Wo + bo` in `f64` (`readout` = `Wo` then `bo`).
fn readout_f64(readout: &[f64; N * O + O], h: &[f64; N], y: &mut [f64; O]) {
    let (wo, bo) = readout.split_at(N * O);
    y.copy_from_slice(bo);
    for (row, &hi) in wo.chunks_exact(O).zip(h) {
        for (yj, &w) in y.iter_mut().zip(row) {
            *yj += hi * w;
        }
    }
}
