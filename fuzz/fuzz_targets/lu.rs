//! LU factorisation, solves and determinant never panic, and every `Ok` result is finite.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rnndyn_core::linalg::{determinant, lu_factor, lu_scratch_len, LuError, LuParams};
use rnndyn_core::{Error, Real};

fn check<R: Real>(n: usize, a: &[R], b: &[R]) {
    let finite_input = a.iter().all(|x| x.is_finite());
    let mut work = a.to_vec();
    let mut piv = vec![0usize; n];
    let mut scratch = vec![R::ZERO; lu_scratch_len(n)];
    match lu_factor(n, &mut work, &mut piv, &mut scratch, &LuParams::default()) {
        Ok(lu) => {
            assert!(finite_input);
            let rc = lu.rcond();
            assert!(rc.is_finite() && rc > R::ZERO && rc <= R::ONE);
            assert!(lu.pivots().iter().all(|&p| p < n));
            let mut x = b.to_vec();
            if lu.solve(&mut x).is_ok() {
                assert!(x.iter().all(|v| v.is_finite()));
            }
            let mut xs = [b, b].concat();
            // Treat xs as n × 2 (b duplicated per row is fine for a smoke test).
            if lu.solve_many(&mut xs, 2).is_ok() {
                assert!(xs.iter().all(|v| v.is_finite()));
            }
            let mut xt = b.to_vec();
            if lu.solve_transpose(&mut xt).is_ok() {
                assert!(xt.iter().all(|v| v.is_finite()));
            }
            if let Ok(d) = lu.det() {
                assert!(d.is_finite());
            }
        }
        Err(LuError::Singular { rcond }) => {
            assert!(finite_input);
            assert!(rcond.is_finite() && rcond >= R::ZERO);
        }
        Err(LuError::Core(e)) => {
            if !finite_input {
                assert_eq!(e, Error::NonFinite);
            }
        }
        Err(_) => {}
    }
    let mut work = a.to_vec();
    if let Ok(d) = determinant(n, &mut work, &mut piv, &mut scratch) {
        assert!(d.is_finite());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((n, a)) = common::matrix(&mut u) else {
        return;
    };
    let b: Vec<f64> = (0..n).map(|i| (i as f64) - 1.5).collect();
    check(n, &a, &b);
    let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
    check(n, &a32, &b32);
});
