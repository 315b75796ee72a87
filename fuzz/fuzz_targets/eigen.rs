//! The eigen solver never panics or hangs, and every `Ok` result is finite.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rnndyn_core::linalg::{
    eigen, eigen_scratch_len, Balance, ComputeLeft, EigParams, Eigenvalue, Sort,
};
use rnndyn_core::Real;

fn check<R: Real>(n: usize, a: &[R], params: &EigParams) {
    let mut work = a.to_vec();
    let mut values = vec![Eigenvalue::default(); n];
    let mut right = vec![R::ZERO; n * n];
    let mut left = vec![R::ZERO; n * n];
    let mut scratch = vec![R::ZERO; eigen_scratch_len(n, ComputeLeft::Yes)];
    let res = eigen(
        n,
        &mut work,
        &mut values,
        &mut right,
        Some(&mut left),
        &mut scratch,
        params,
    );
    let finite_input = a.iter().all(|x| x.is_finite());
    match res {
        Ok(()) => {
            assert!(finite_input, "NaN/inf input accepted");
            assert!(values.iter().all(|v| v.re.is_finite() && v.im.is_finite()));
            assert!(right.iter().chain(&left).all(|x| x.is_finite()));
            // Pairs adjacent, positive imaginary part first.
            let mut j = 0;
            while j < n {
                if values[j].im != R::ZERO {
                    assert!(values[j].im > R::ZERO && j + 1 < n);
                    assert!(values[j + 1].im == -values[j].im);
                    j += 2;
                } else {
                    j += 1;
                }
            }
        }
        Err(e) => {
            if !finite_input {
                assert_eq!(e, rnndyn_core::Error::NonFinite);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((n, a)) = common::matrix(&mut u) else {
        return;
    };
    let flags: u8 = u.arbitrary().unwrap_or(0);
    let params = EigParams {
        balance: match flags & 5 {
            0 => Balance::PermuteAndScale,
            1 => Balance::Scale,
            4 => Balance::Permute,
            _ => Balance::None,
        },
        sort: if flags & 2 == 0 {
            Sort::None
        } else {
            Sort::ByModulusDescending
        },
        ..EigParams::default()
    };
    check(n, &a, &params);
    let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    check(n, &a32, &params);
});
