//! The hot paths allocate nothing: a counting global allocator (per thread, so the other
//! test threads do not interfere) wraps `System`, and every kernel runs with its buffers
//! allocated before counting starts.
//!
//! `unsafe` is needed to implement `GlobalAlloc`; it is allowed in this file only (the
//! core's Cargo.toml sets `unsafe_code = "deny"`, and `src/lib.rs` forbids it).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell as StdCell;
use std::hint::black_box;

use rnndyn_core::cell::batch_work_len;
use rnndyn_core::train::{Adam, AdamParams, Network};
use rnndyn_core::Activation::{Relu, Tanh};
use rnndyn_core::GruConvention::{ResetAfterProduct, ResetBeforeProduct};
use rnndyn_core::{Cell, GruCell, LstmCell, Rng, UgrnnCell, VanillaCell};

struct Counting;

thread_local! {
    static ACTIVE: StdCell<bool> = const { StdCell::new(false) };
    static CALLS: StdCell<usize> = const { StdCell::new(0) };
    static BYTES: StdCell<usize> = const { StdCell::new(0) };
}

fn record(bytes: usize) {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = ACTIVE.try_with(|a| {
        if a.get() {
            let _ = CALLS.try_with(|c| c.set(c.get() + 1));
            let _ = BYTES.try_with(|b| b.set(b.get() + bytes));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `(allocation calls, bytes)` made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> (usize, usize) {
    CALLS.with(|c| c.set(0));
    BYTES.with(|b| b.set(0));
    ACTIVE.with(|a| a.set(true));
    f();
    ACTIVE.with(|a| a.set(false));
    (CALLS.with(|c| c.get()), BYTES.with(|b| b.get()))
}

#[test]
fn the_counter_sees_allocations() {
    let (calls, bytes) = allocations(|| {
        black_box(vec![1u8; 100]);
    });
    assert_eq!((calls, bytes), (1, 100));
}

const O: usize = 3;
const B: usize = 4;
const T: usize = 10;

fn check_cell<C: Cell<f64> + core::fmt::Debug>(cell: C) {
    let net = Network::<C, O>::new(cell);
    let (ns, ni, np) = (C::STATE, C::INPUT, net.param_count());
    let mut rng = Rng::new(11);
    let mut p = vec![0.0; np];
    net.init(&mut p, &mut rng, &Default::default()).unwrap();
    let s: Vec<f64> = (0..ns).map(|_| rng.normal() * 0.5).collect();
    let x: Vec<f64> = (0..ni).map(|_| rng.normal()).collect();
    let xs: Vec<f64> = (0..B * T * ni).map(|_| rng.normal()).collect();
    let ys: Vec<f64> = (0..B * T * O).map(|_| rng.normal()).collect();
    let mut s_next = vec![0.0; ns];
    let mut cache = vec![0.0; C::CACHE];
    let mut ds = vec![0.0; ns];
    let mut dx = vec![0.0; ni];
    let mut dp = vec![0.0; np];
    let mut js = vec![0.0; ns * ns];
    let mut jx = vec![0.0; ns * ni];
    let mut grad = vec![0.0; np];
    let mut scratch = vec![0.0; Network::<C, O>::bptt_scratch_len::<f64>(B, T)];
    let mut rscratch = vec![0.0; Network::<C, O>::bptt_reference_scratch_len::<f64>(T)];
    let mut states = vec![0.0; (B * T + B) * ns];
    let mut work = vec![0.0; batch_work_len::<f64, C>(B, T)];
    let mut dh: Vec<f64> = (0..B * T * C::HIDDEN).map(|_| rng.normal()).collect();
    let mut lscratch = vec![0.0; Network::<C, O>::loss_scratch_len::<f64>()];
    let (mut m, mut v) = (vec![0.0; np], vec![0.0; np]);
    let mut adam = Adam::new(&mut m, &mut v).unwrap();
    let prm = AdamParams::default();

    let name = format!("{cell:?}");
    let check = |what: &str, f: &mut dyn FnMut()| {
        let (calls, bytes) = allocations(f);
        assert_eq!((calls, bytes), (0, 0), "{name} {what} allocated");
    };
    check("step", &mut || cell.step(&p, &s, &x, &mut s_next));
    check("forward", &mut || {
        cell.forward(&p, &s, &x, &mut s_next, &mut cache)
    });
    check("backward", &mut || {
        cell.backward(
            &p,
            &s,
            &x,
            &s_next,
            &cache,
            &s,
            &mut ds,
            &mut dp,
            Some(&mut dx),
        )
    });
    check("jacobian_state", &mut || {
        cell.jacobian_state(&p, &s, &x, &mut js)
    });
    check("jacobian_input", &mut || {
        cell.jacobian_input(&p, &s, &x, &mut jx)
    });
    check("loss_and_grad", &mut || {
        black_box(
            net.loss_and_grad(&p, &xs, &ys, B, T, &mut grad, &mut scratch)
                .unwrap(),
        );
    });
    check("loss_and_grad_reference", &mut || {
        black_box(
            net.loss_and_grad_reference(&p, &xs, &ys, B, T, &mut grad, &mut rscratch)
                .unwrap(),
        );
    });
    check("forward_batch", &mut || {
        cell.forward_batch(&p, &xs, B, T, &mut states, &mut work)
    });
    check("backward_batch", &mut || {
        cell.backward_batch(&p, &xs, B, T, &states, &mut dh, &mut dp, &mut work)
    });
    check("add_l2", &mut || {
        black_box(net.add_l2(&p, &mut grad, 1e-3).unwrap());
    });
    check("loss", &mut || {
        black_box(net.loss(&p, &xs, &ys, B, T, &mut lscratch).unwrap());
    });
    check("Adam::update", &mut || {
        adam.update(&mut p, &grad, &prm, prm.lr).unwrap()
    });
    assert!(grad.iter().all(|g| g.is_finite()) && js.iter().all(|j| j.is_finite()));
}

/// Every cell × activation × GRU convention, at a small and a training-sized N.
macro_rules! every_cell {
    ($n:literal, $i:literal) => {
        for act in [Tanh, Relu] {
            check_cell(VanillaCell::<$n, $i>::new(act));
            check_cell(UgrnnCell::<$n, $i>::new(act));
            for conv in [ResetBeforeProduct, ResetAfterProduct] {
                check_cell(GruCell::<$n, $i>::new(act, conv));
            }
            check_cell(LstmCell::<$n, $i>::new(act));
        }
    };
}

#[test]
fn hot_paths_do_not_allocate_small() {
    every_cell!(4, 2);
}

#[test]
fn hot_paths_do_not_allocate_n64() {
    every_cell!(64, 3);
}

/// Fixed-point search, linearisation (Jacobian + eigen decomposition) and LU allocate
/// nothing either.
#[test]
fn fixed_point_and_linear_algebra_paths_do_not_allocate() {
    use rnndyn_core::fixed_point::{
        find_fixed_point, fixed_point_scratch_len, linearize, linearize_scratch_len,
        FixedPointParams, LinearizeParams,
    };
    use rnndyn_core::linalg::{lu_factor, lu_scratch_len, Eigenvalue, LuParams};
    fn run<C: Cell<f64>>(cell: C) {
        let n = cell.param_count();
        let mut p = vec![0.0; n];
        rnndyn_core::cell::init_cell(&cell, &mut p, &mut Rng::new(5), &Default::default()).unwrap();
        let s = C::STATE;
        let x = vec![0.0; C::INPUT];
        let mut h = vec![0.1; s];
        let mut scratch = vec![0.0; fixed_point_scratch_len(&cell)];
        let mut piv = vec![0usize; s];
        let mut jac = vec![0.0; s * s];
        let mut values = vec![Eigenvalue::default(); s];
        let mut vectors = vec![0.0; s * s];
        let mut lin_scratch = vec![0.0; linearize_scratch_len(s)];
        let mut a: Vec<f64> = (0..s * s)
            .map(|k| ((k * 7 % 11) as f64) - 5.0 + if k % (s + 1) == 0 { 20.0 } else { 0.0 })
            .collect();
        let mut lu_scratch = vec![0.0; lu_scratch_len(s)];
        let params = FixedPointParams::default();
        let (calls, bytes) = allocations(|| {
            let r =
                find_fixed_point(&cell, &p, &x, &mut h, &params, &mut scratch, &mut piv).unwrap();
            black_box(r);
            let l = linearize(
                &cell,
                &p,
                &x,
                &h,
                &LinearizeParams::default(),
                &mut jac,
                &mut values,
                &mut vectors,
                &mut lin_scratch,
            );
            black_box(l.unwrap());
            let lu = lu_factor(s, &mut a, &mut piv, &mut lu_scratch, &LuParams::default());
            black_box(lu.is_ok());
        });
        assert_eq!((calls, bytes), (0, 0), "{} allocated", cell.name());
    }
    run(VanillaCell::<8, 3>::new(Tanh));
    run(UgrnnCell::<8, 3>::new(Tanh));
    run(GruCell::<8, 3>::new(Tanh, ResetBeforeProduct));
    run(LstmCell::<8, 3>::new(Tanh));
}
