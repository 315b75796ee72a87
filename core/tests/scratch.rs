//! Buffer sizing for devices without an allocator, and the scratch contract.
//!
//! - The `const fn` sizes (`cell::batch_work_len`, `Network::bptt_scratch_len`,
//!   `bptt_reference_scratch_len`, `loss_scratch_len`, `param_count_for`) equal the
//!   formulas of the former per-cell `batch_work_len` methods for every cell (plus the
//!   alignment slack of `bptt_scratch_len`), are usable in
//!   `const` items (array lengths) and saturate instead of wrapping.
//! - Scratch and work buffers accept any length ≥ the required one, with bit-identical
//!   results and the excess untouched (`loss_and_grad` also wherever its scratch starts,
//!   its work beginning at the first 64-byte boundary), across `train` and `fixed_point`; one element short
//!   is `Error::BufferSize`; data buffers (`p`, `xs`, `ys`) one element too long are the
//!   `Exact` `Error::BufferSize`.

use rnndyn_core::cell::{batch_work_len, InitParams};
use rnndyn_core::fixed_point::{
    find_fixed_point, find_fixed_points_batch, fixed_point_batch_scratch_len,
    fixed_point_scratch_len, linearize, linearize_scratch_len, FixedPointParams, LinearizeParams,
};
use rnndyn_core::linalg::Eigenvalue;
use rnndyn_core::train::{Network, SCRATCH_ALIGN};
use rnndyn_core::Activation::Tanh;
use rnndyn_core::GruConvention::{ResetAfterProduct, ResetBeforeProduct};
use rnndyn_core::{Cell, Error, GruCell, LengthRule, LstmCell, Real, Rng, UgrnnCell, VanillaCell};

const O: usize = 3;
const PAIRS: [(usize, usize); 7] = [
    (1, 1),
    (4, 20),
    (7, 3),
    (64, 100),
    (0, 5),
    (3, 0),
    (1, 1000),
];

/// The former `Cell::batch_work_len` overrides, verbatim.
fn old_vanilla(n: usize, b: usize, t: usize) -> usize {
    b * t * n + n * n
}
fn old_ugrnn(n: usize, b: usize, t: usize) -> usize {
    b * t * 2 * n + 2 * n * n
}
fn old_gru(n: usize, b: usize, t: usize) -> usize {
    b * t * 4 * n + 3 * n * n + b * n
}
fn old_lstm(n: usize, b: usize, t: usize) -> usize {
    b * t * 5 * n + 4 * n * n + 2 * b * n
}

/// Checks every size of `Network<C, O>` against the former formulas (`old_work` is the
/// cell's former `batch_work_len`), in `R`.
fn check_sizes<R: Real, C: Cell<R>>(cell: C, old_work: impl Fn(usize, usize) -> usize) {
    let (s, n, c) = (C::STATE, C::HIDDEN, C::CACHE);
    for (b, t) in PAIRS {
        let work = old_work(b, t);
        assert_eq!(
            batch_work_len::<R, C>(b, t),
            work,
            "{} {b}×{t}",
            cell.name()
        );
        let rows = b * t;
        // Plus 64 bytes of slack, so that the work starts at a cache-line boundary.
        let slack = SCRATCH_ALIGN / core::mem::size_of::<R>();
        let old_bptt = (rows + b) * s + rows * (n + O) + O * n + work + slack;
        assert_eq!(
            Network::<C, O>::bptt_scratch_len::<R>(b, t),
            old_bptt,
            "{} {b}×{t}",
            cell.name()
        );
        assert_eq!(
            Network::<C, O>::bptt_reference_scratch_len::<R>(t),
            (t + 1) * s + t * c + 2 * s + O,
            "{} {t}",
            cell.name()
        );
    }
    assert_eq!(Network::<C, O>::loss_scratch_len::<R>(), 2 * s + O);
    let net = Network::<C, O>::new(cell);
    assert_eq!(
        Network::<C, O>::param_count_for::<R>(cell.param_count()),
        net.param_count::<R>()
    );
    assert_eq!(
        net.param_count::<R>(),
        cell.blocks()
            .iter()
            .flatten()
            .map(|b| b.len())
            .sum::<usize>()
            + n * O
            + O
    );
}

fn check_all_cells<R: Real>() {
    check_sizes::<R, _>(VanillaCell::<8, 3>::new(Tanh), |b, t| old_vanilla(8, b, t));
    check_sizes::<R, _>(VanillaCell::<13, 1>::new(Tanh), |b, t| {
        old_vanilla(13, b, t)
    });
    check_sizes::<R, _>(UgrnnCell::<8, 3>::new(Tanh), |b, t| old_ugrnn(8, b, t));
    check_sizes::<R, _>(UgrnnCell::<5, 2>::new(Tanh), |b, t| old_ugrnn(5, b, t));
    for conv in [ResetBeforeProduct, ResetAfterProduct] {
        check_sizes::<R, _>(GruCell::<8, 3>::new(Tanh, conv), |b, t| old_gru(8, b, t));
        check_sizes::<R, _>(GruCell::<11, 4>::new(Tanh, conv), |b, t| old_gru(11, b, t));
    }
    check_sizes::<R, _>(LstmCell::<8, 3>::new(Tanh), |b, t| old_lstm(8, b, t));
    check_sizes::<R, _>(LstmCell::<6, 2>::new(Tanh), |b, t| old_lstm(6, b, t));
}

#[test]
fn const_sizes_equal_the_former_formulas_for_every_cell() {
    check_all_cells::<f32>();
    check_all_cells::<f64>();
}

#[test]
fn sizes_are_const_and_size_arrays() {
    type Gru = GruCell<8, 3>;
    type Net = Network<Gru, O>;
    const GRU: Gru = Gru::new(Tanh, ResetAfterProduct);
    const WORK: usize = batch_work_len::<f32, Gru>(4, 20);
    const SCRATCH: usize = Net::bptt_scratch_len::<f32>(4, 20);
    const REFERENCE: usize = Net::bptt_reference_scratch_len::<f32>(20);
    const LOSS: usize = Net::loss_scratch_len::<f32>();
    const PARAMS: usize = Net::param_count_for::<f32>(GRU.params());
    let (work, scratch) = ([0u8; WORK], [0u8; SCRATCH]);
    let (reference, loss, params) = ([0u8; REFERENCE], [0u8; LOSS], [0u8; PARAMS]);
    assert_eq!(work.len(), old_gru(8, 4, 20));
    assert_eq!(
        scratch.len(),
        (80 + 4) * 8 + 80 * (8 + O) + O * 8 + old_gru(8, 4, 20) + 16
    );
    assert_eq!(reference.len(), 21 * 8 + 20 * 32 + 2 * 8 + O);
    assert_eq!(loss.len(), 2 * 8 + O);
    assert_eq!(
        params.len(),
        Network::<Gru, O>::new(GRU).param_count::<f32>()
    );
    // The LSTM's state is [h; c].
    const LSTM_LOSS: usize = Network::<LstmCell<8, 3>, O>::loss_scratch_len::<f64>();
    assert_eq!([0u8; LSTM_LOSS].len(), 2 * 16 + O);
}

#[test]
fn sizes_saturate_instead_of_wrapping() {
    type C = LstmCell<8, 3>;
    let big = usize::MAX / 3;
    assert_eq!(batch_work_len::<f32, C>(big, 2), usize::MAX);
    assert_eq!(batch_work_len::<f32, C>(usize::MAX, usize::MAX), usize::MAX);
    assert_eq!(batch_work_len::<f32, C>(big, 0), usize::MAX); // batch × WORK_PER_TRIAL
    assert_eq!(Network::<C, O>::bptt_scratch_len::<f32>(big, 2), usize::MAX);
    assert_eq!(
        Network::<C, O>::bptt_scratch_len::<f32>(usize::MAX, usize::MAX),
        usize::MAX
    );
    assert_eq!(
        Network::<C, O>::bptt_reference_scratch_len::<f32>(usize::MAX),
        usize::MAX
    );
    assert_eq!(
        Network::<C, O>::bptt_reference_scratch_len::<f32>(big),
        usize::MAX
    );
}

/// `bptt_scratch_len` reports `usize::MAX` for a size no buffer can hold (more than
/// `isize::MAX` bytes) even when the element count itself does not saturate, and the exact
/// count for a size that fits. LSTM N = 8, I = 3, O = 3, f32, one trial of `steps` steps:
/// the count is `(steps + 1)·16 + steps·(8 + 3) + 3·8 + work + 16` (the last 16: alignment
/// slack) with `work = steps·40 + 16 + 256` ≈ 67·steps elements of 4 bytes ≈ 268·steps bytes, against
/// `isize::MAX` ≈ 9.22e18: 2e16 steps need ≈ 5.4e18 bytes (fits), 4e16 steps ≈ 1.07e19
/// (does not fit, while the count ≈ 2.7e18 is far from `usize::MAX`).
#[test]
fn sizes_past_isize_max_bytes_are_usize_max() {
    type C = LstmCell<8, 3>;
    let count = |steps: usize| -> u128 {
        let (s, h) = (
            <C as Cell<f32>>::STATE as u128,
            <C as Cell<f32>>::HIDDEN as u128,
        );
        let (rows, o) = (steps as u128, O as u128);
        let work = batch_work_len::<f32, C>(1, steps) as u128;
        (rows + 1) * s + rows * (h + o) + o * h + work + (SCRATCH_ALIGN / 4) as u128
    };
    let bytes = |steps: usize| count(steps) * core::mem::size_of::<f32>() as u128;
    let fits = 20_000_000_000_000_000;
    assert!(bytes(fits) <= isize::MAX as u128);
    assert_eq!(
        Network::<C, O>::bptt_scratch_len::<f32>(1, fits) as u128,
        count(fits)
    );
    let too_big = 40_000_000_000_000_000;
    assert!(bytes(too_big) > isize::MAX as u128 && count(too_big) < usize::MAX as u128);
    assert_eq!(
        Network::<C, O>::bptt_scratch_len::<f32>(1, too_big),
        usize::MAX
    );
}

/// A scratch buffer of `need + extra` elements whose excess is a NaN sentinel.
fn padded<R: Real>(need: usize, extra: usize) -> Vec<R> {
    let mut v = vec![R::ZERO; need + extra];
    v[need..]
        .iter_mut()
        .for_each(|x| *x = R::from_f64(f64::NAN));
    v
}

fn bits<R: Real>(v: &[R]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

fn excess_untouched<R: Real>(v: &[R], need: usize) -> bool {
    v[need..].iter().all(|x| x.is_nan())
}

/// The message says which rule a length broke.
#[test]
fn buffer_size_messages_name_the_rule() {
    assert_eq!(
        short_error(10).to_string(),
        "buffer has length 9, needs at least 10"
    );
    let exact = Error::BufferSize {
        expected: 10,
        got: 11,
        rule: LengthRule::Exact,
    };
    assert_eq!(exact.to_string(), "buffer has length 11, expected 10");
}

fn short_error(need: usize) -> Error {
    Error::BufferSize {
        expected: need,
        got: need - 1,
        rule: LengthRule::AtLeast,
    }
}

/// `loss_and_grad`, `loss_and_grad_reference` and `loss`: a longer scratch gives the same
/// bits as an exact one, a shorter one `BufferSize`.
fn check_train_scratch<R: Real, C: Cell<R>>(cell: C, batch: usize, steps: usize) {
    let net = Network::<C, O>::new(cell);
    let np = net.param_count::<R>();
    let mut rng = Rng::new(7);
    let mut p = vec![R::ZERO; np];
    net.init(&mut p, &mut rng, &InitParams::default()).unwrap();
    let rows = batch * steps;
    let xs: Vec<R> = (0..rows * C::INPUT)
        .map(|_| R::from_f64(rng.normal()))
        .collect();
    let ys: Vec<R> = (0..rows * O).map(|_| R::from_f64(rng.normal())).collect();
    let name = cell.name();

    type Run<R, C> =
        fn(&Network<C, O>, &[R], &[R], &[R], usize, usize, &mut [R], &mut [R]) -> Result<R, Error>;
    let paths: [(&str, usize, Run<R, C>); 2] = [
        (
            "loss_and_grad",
            Network::<C, O>::bptt_scratch_len::<R>(batch, steps),
            |n, p, xs, ys, b, t, g, s| n.loss_and_grad(p, xs, ys, b, t, g, s),
        ),
        (
            "loss_and_grad_reference",
            Network::<C, O>::bptt_reference_scratch_len::<R>(steps),
            |n, p, xs, ys, b, t, g, s| n.loss_and_grad_reference(p, xs, ys, b, t, g, s),
        ),
    ];
    for (what, need, run) in paths {
        let mut g_exact = vec![R::ZERO; np];
        let mut exact = vec![R::ZERO; need];
        let l_exact = run(&net, &p, &xs, &ys, batch, steps, &mut g_exact, &mut exact).unwrap();
        for extra in [1, 17, need + 3] {
            let mut g = vec![R::from_f64(f64::NAN); np];
            let mut s = padded::<R>(need, extra);
            let l = run(&net, &p, &xs, &ys, batch, steps, &mut g, &mut s).unwrap();
            assert_eq!(
                l.to_f64().to_bits(),
                l_exact.to_f64().to_bits(),
                "{name} {what}"
            );
            assert_eq!(bits(&g), bits(&g_exact), "{name} {what} +{extra}");
            assert!(excess_untouched(&s, need), "{name} {what} +{extra}");
        }
        if what == "loss_and_grad" {
            // Wherever the buffer starts, the same bits; the work starts at the first
            // 64-byte boundary (the elements before it stay untouched).
            let slack = SCRATCH_ALIGN / core::mem::size_of::<R>();
            let mut big = vec![R::ZERO; need + slack];
            for k in 0..=slack {
                big.iter_mut().for_each(|x| *x = R::from_f64(f64::NAN));
                let buf = &mut big[k..k + need];
                let skip = buf.as_ptr().align_offset(SCRATCH_ALIGN);
                assert!(skip < slack, "{name} +{k}");
                let mut g = vec![R::ZERO; np];
                let l = run(&net, &p, &xs, &ys, batch, steps, &mut g, buf).unwrap();
                assert_eq!(
                    l.to_f64().to_bits(),
                    l_exact.to_f64().to_bits(),
                    "{name} +{k}"
                );
                assert_eq!(bits(&g), bits(&g_exact), "{name} +{k}");
                assert!(buf[..skip].iter().all(|x| x.is_nan()), "{name} +{k}");
                if skip > 0 && batch * steps > 0 {
                    // The zeroed initial states are the first thing in the work.
                    assert_eq!(buf[skip].to_f64(), 0.0, "{name} +{k}");
                }
            }
        }
        let mut g = vec![R::ZERO; np];
        let mut short = vec![R::ZERO; need - 1];
        assert_eq!(
            run(&net, &p, &xs, &ys, batch, steps, &mut g, &mut short),
            Err(short_error(need)),
            "{name} {what}"
        );
        // Outputs keep exact lengths: a longer gradient is still an error.
        let mut g_long = vec![R::ZERO; np + 1];
        let mut s = vec![R::ZERO; need];
        assert_eq!(
            run(&net, &p, &xs, &ys, batch, steps, &mut g_long, &mut s),
            Err(exact_error(np))
        );
        for ([p, xs, ys], expected) in one_longer(&p, &xs, &ys) {
            let mut g = vec![R::ZERO; np];
            assert_eq!(
                run(&net, &p, &xs, &ys, batch, steps, &mut g, &mut s),
                Err(exact_error(expected)),
                "{name} {what}"
            );
        }
    }

    let need = Network::<C, O>::loss_scratch_len::<R>();
    let mut exact = vec![R::ZERO; need];
    let l_exact = net.loss(&p, &xs, &ys, batch, steps, &mut exact).unwrap();
    let mut s = padded::<R>(need, 5);
    let l = net.loss(&p, &xs, &ys, batch, steps, &mut s).unwrap();
    assert_eq!(
        l.to_f64().to_bits(),
        l_exact.to_f64().to_bits(),
        "{name} loss"
    );
    assert!(excess_untouched(&s, need));
    let mut short = vec![R::ZERO; need - 1];
    assert_eq!(
        net.loss(&p, &xs, &ys, batch, steps, &mut short),
        Err(short_error(need))
    );
    for ([p, xs, ys], expected) in one_longer(&p, &xs, &ys) {
        assert_eq!(
            net.loss(&p, &xs, &ys, batch, steps, &mut s),
            Err(exact_error(expected)),
            "{name} loss"
        );
    }
}

/// `p`, `xs`, `ys` with one element appended to each in turn, and the length the network
/// expects for the longer one. Data buffers keep exact lengths, so each case must be the
/// `Exact` error, not a tail silently ignored.
fn one_longer<R: Real>(p: &[R], xs: &[R], ys: &[R]) -> [([Vec<R>; 3], usize); 3] {
    let pad = |v: &[R]| [v, &[R::ZERO]].concat();
    [
        ([pad(p), xs.to_vec(), ys.to_vec()], p.len()),
        ([p.to_vec(), pad(xs), ys.to_vec()], xs.len()),
        ([p.to_vec(), xs.to_vec(), pad(ys)], ys.len()),
    ]
}

fn exact_error(expected: usize) -> Error {
    Error::BufferSize {
        expected,
        got: expected + 1,
        rule: LengthRule::Exact,
    }
}

fn check_train_all<R: Real>() {
    for (b, t) in [(1, 1), (4, 20), (5, 7)] {
        check_train_scratch::<R, _>(VanillaCell::<8, 3>::new(Tanh), b, t);
        check_train_scratch::<R, _>(UgrnnCell::<6, 2>::new(Tanh), b, t);
        check_train_scratch::<R, _>(GruCell::<7, 3>::new(Tanh, ResetBeforeProduct), b, t);
        check_train_scratch::<R, _>(GruCell::<7, 3>::new(Tanh, ResetAfterProduct), b, t);
        check_train_scratch::<R, _>(LstmCell::<5, 2>::new(Tanh), b, t);
    }
}

#[test]
fn longer_train_scratch_is_bit_identical_and_shorter_is_an_error() {
    check_train_all::<f32>();
    check_train_all::<f64>();
}

/// `find_fixed_point`, `find_fixed_points_batch` and `linearize` with exact and longer
/// scratch (and pivots), and one element short.
fn check_fixed_point_scratch<C: Cell<f64>>(cell: C) {
    let s = C::STATE;
    let name = cell.name();
    let mut rng = Rng::new(11);
    let mut p = vec![0.0; cell.param_count()];
    rnndyn_core::cell::init_cell(&cell, &mut p, &mut rng, &InitParams::default()).unwrap();
    let x: Vec<f64> = (0..C::INPUT).map(|_| rng.normal() * 0.1).collect();
    let starts: Vec<f64> = (0..3 * s).map(|_| rng.normal() * 0.3).collect();
    let params = FixedPointParams::default();

    // Single search.
    let need = fixed_point_scratch_len::<f64, _>(&cell);
    let mut h_exact = starts[..s].to_vec();
    let rep_exact = find_fixed_point(
        &cell,
        &p,
        &x,
        &mut h_exact,
        &params,
        &mut vec![0.0; need],
        &mut vec![0; s],
    );
    assert!(rep_exact.is_ok(), "{name}");
    for extra in [1, 9] {
        let mut h = starts[..s].to_vec();
        let mut sc = padded::<f64>(need, extra);
        let rep = find_fixed_point(
            &cell,
            &p,
            &x,
            &mut h,
            &params,
            &mut sc,
            &mut vec![0; s + extra],
        );
        assert_eq!(format!("{rep:?}"), format!("{rep_exact:?}"), "{name}");
        assert_eq!(bits(&h), bits(&h_exact), "{name}");
        assert!(excess_untouched(&sc, need));
    }
    let mut h = starts[..s].to_vec();
    assert_eq!(
        find_fixed_point(
            &cell,
            &p,
            &x,
            &mut h,
            &params,
            &mut vec![0.0; need - 1],
            &mut vec![0; s]
        ),
        Err(short_error(need))
    );
    assert_eq!(
        find_fixed_point(
            &cell,
            &p,
            &x,
            &mut h,
            &params,
            &mut vec![0.0; need],
            &mut vec![0; s - 1]
        ),
        Err(short_error(s))
    );

    // Batched search.
    let batch = 3;
    let need = fixed_point_batch_scratch_len::<f64, _>(&cell, batch);
    let mut hs_exact = starts.clone();
    let mut reps_exact = vec![Err(Error::NonFinite); batch];
    find_fixed_points_batch(
        &cell,
        &p,
        &x,
        &mut hs_exact,
        batch,
        &params,
        &mut reps_exact,
        &mut vec![0.0; need],
        &mut vec![0; s + batch],
    )
    .unwrap();
    for extra in [1, 9] {
        let mut hs = starts.clone();
        let mut reps = vec![Err(Error::NonFinite); batch];
        let mut sc = padded::<f64>(need, extra);
        find_fixed_points_batch(
            &cell,
            &p,
            &x,
            &mut hs,
            batch,
            &params,
            &mut reps,
            &mut sc,
            &mut vec![0; s + batch + extra],
        )
        .unwrap();
        assert_eq!(format!("{reps:?}"), format!("{reps_exact:?}"), "{name}");
        assert_eq!(bits(&hs), bits(&hs_exact), "{name}");
        assert!(excess_untouched(&sc, need));
    }
    let mut hs = starts.clone();
    let mut reps = vec![Err(Error::NonFinite); batch];
    assert_eq!(
        find_fixed_points_batch(
            &cell,
            &p,
            &x,
            &mut hs,
            batch,
            &params,
            &mut reps,
            &mut vec![0.0; need - 1],
            &mut vec![0; s + batch],
        ),
        Err(short_error(need))
    );

    // Linearisation at the point found.
    let need = linearize_scratch_len(s);
    let lp = LinearizeParams::default();
    let run = |scratch: &mut [f64]| {
        let mut jac = vec![0.0; s * s];
        let mut values = vec![Eigenvalue::default(); s];
        let mut vectors = vec![0.0; s * s];
        let lin = linearize(
            &cell,
            &p,
            &x,
            &h_exact,
            &lp,
            &mut jac,
            &mut values,
            &mut vectors,
            scratch,
        );
        (
            format!("{lin:?}"),
            bits(&jac),
            format!("{values:?}"),
            bits(&vectors),
        )
    };
    let exact = run(&mut vec![0.0; need]);
    assert!(exact.0.starts_with("Ok"), "{name}: {}", exact.0);
    let mut sc = padded::<f64>(need, 13);
    assert_eq!(run(&mut sc), exact, "{name}");
    assert!(excess_untouched(&sc, need));
    assert_eq!(
        run(&mut vec![0.0; need - 1]).0,
        format!("{:?}", Err::<(), _>(short_error(need)))
    );
}

#[test]
fn longer_fixed_point_scratch_is_bit_identical_and_shorter_is_an_error() {
    check_fixed_point_scratch(VanillaCell::<8, 3>::new(Tanh));
    check_fixed_point_scratch(UgrnnCell::<6, 2>::new(Tanh));
    check_fixed_point_scratch(GruCell::<7, 3>::new(Tanh, ResetBeforeProduct));
    check_fixed_point_scratch(GruCell::<7, 3>::new(Tanh, ResetAfterProduct));
    check_fixed_point_scratch(LstmCell::<5, 2>::new(Tanh));
}

/// The fixed-point sizes are the documented sums (an overestimate would only waste a
/// device's RAM, so nothing else notices): two `S × S` matrices, eight state vectors, the
/// LU scratch, the cell's cache and a parameter-sized buffer; the batch adds five
/// `batch × S` blocks and the cell's batched work (for the GRU `3N² + 3N + 5·batch·N`:
/// `Wᵀ`, `b + x U`, and per row the gates, `r ⊙ h` or `hw`, and one product); `linearize`
/// one `S × S` copy and the eigen scratch.
#[test]
fn fixed_point_sizes_are_the_documented_sums() {
    use rnndyn_core::fixed_point::fixed_point_scratch_len_for;
    use rnndyn_core::linalg::{eigen_scratch_len, lu_scratch_len, ComputeLeft};
    fn check<C: Cell<f64>>(cell: C) {
        let (s, params) = (C::STATE, cell.param_count());
        let one = 2 * s * s + 8 * s + lu_scratch_len(s) + C::CACHE + params;
        assert_eq!(
            fixed_point_scratch_len::<f64, _>(&cell),
            one,
            "{}",
            cell.name()
        );
        assert_eq!(fixed_point_scratch_len_for(s, C::CACHE, params), one);
        for batch in [1, 3, 16] {
            assert_eq!(
                fixed_point_batch_scratch_len::<f64, _>(&cell, batch),
                one + 5 * batch * s + cell.speed_batch_work_len(batch),
                "{} batch {batch}",
                cell.name()
            );
        }
        assert_eq!(
            linearize_scratch_len(s),
            s * s + eigen_scratch_len(s, ComputeLeft::No)
        );
    }
    check(VanillaCell::<8, 3>::new(Tanh));
    check(UgrnnCell::<6, 2>::new(Tanh));
    check(GruCell::<7, 3>::new(Tanh, ResetAfterProduct));
    check(LstmCell::<5, 2>::new(Tanh));
    fn gru_speed_work<const N: usize, const I: usize>() {
        for conv in [ResetBeforeProduct, ResetAfterProduct] {
            let cell = GruCell::<N, I>::new(Tanh, conv);
            for batch in [0, 1, 3, 16] {
                let documented = 3 * N * N + 3 * N + 5 * batch * N;
                assert_eq!(
                    Cell::<f64>::speed_batch_work_len(&cell, batch),
                    documented,
                    "gru {N}×{I} {conv:?} batch {batch}"
                );
                assert_eq!(Cell::<f32>::speed_batch_work_len(&cell, batch), documented);
            }
        }
    }
    gru_speed_work::<7, 3>();
    gru_speed_work::<1, 2>();
    gru_speed_work::<16, 0>();
    // Usable for a static buffer.
    const LEN: usize = fixed_point_scratch_len_for(4, 10, 30);
    assert_eq!([0u8; LEN].len(), 32 + 32 + lu_scratch_len(4) + 10 + 30);
}
