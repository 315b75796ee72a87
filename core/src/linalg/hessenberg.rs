//! Householder reduction of a real `n × n` matrix to upper Hessenberg form,
//! `A = Q H Qᵀ` with `Q` orthogonal (LAPACK `gehd2` + `orghr`, unblocked).
//!
//! Every update is written as row operations on the row-major storage (contiguous axpys
//! and dots), so the inner loops vectorise and need no strided access.

use super::{check_finite, check_scratch, check_square};
use crate::{Error, Real};

/// Scratch length needed by [`hessenberg`]: `3 n`.
pub const fn hessenberg_scratch_len(n: usize) -> usize {
    3 * n
}

/// Reduces the row-major `n × n` matrix `a` in place to upper Hessenberg form `H`
/// (entries below the first subdiagonal are set to zero) and, if `q` is given (length
/// `n * n`), writes the orthogonal `Q` with `A = Q H Qᵀ` there.
/// `scratch` needs at least [`hessenberg_scratch_len`]`(n)` elements.
pub fn hessenberg<R: Real>(
    n: usize,
    a: &mut [R],
    q: Option<&mut [R]>,
    scratch: &mut [R],
) -> Result<(), Error> {
    check_square(n, a)?;
    check_scratch(scratch.len(), hessenberg_scratch_len(n))?;
    check_finite(a)?;
    if let Some(q) = q.as_deref() {
        check_square(n, q)?;
    }
    let (tau, work) = scratch[..3 * n].split_at_mut(n);
    reduce(n, a, tau, work);
    if let Some(q) = q {
        accumulate_qt(n, a, tau, q, work);
        transpose_in_place(n, q);
    }
    zero_below_subdiagonal(n, a);
    Ok(())
}

/// Householder vector for `x` (LAPACK `larfg`): returns `(beta, tau)` and overwrites
/// `x[1..]` with `v[1..]` (with `v[0] = 1`) such that `(I − τ v vᵀ) x = β e₁`.
/// `tau == 0` means the identity (already reduced).
pub(crate) fn householder<R: Real>(alpha: R, tail: &mut [R]) -> (R, R) {
    let xnorm = crate::kernel::norm2(tail);
    if xnorm == R::ZERO {
        return (alpha, R::ZERO);
    }
    let mut beta = alpha.hypot(xnorm);
    if alpha >= R::ZERO {
        beta = -beta;
    }
    let tau = (beta - alpha) / beta;
    let scale = R::ONE / (alpha - beta);
    for x in tail.iter_mut() {
        *x *= scale;
    }
    (beta, tau)
}

/// Overwrites `a` with `H` on and above the subdiagonal and the Householder vectors below
/// it; `tau[k]` is the factor of reflector `k`. `work` has length `≥ 2n`.
pub(crate) fn reduce<R: Real>(n: usize, a: &mut [R], tau: &mut [R], work: &mut [R]) {
    if n < 3 {
        tau.fill(R::ZERO);
        return;
    }
    let (v, w) = work.split_at_mut(n);
    for k in 0..n - 2 {
        let m = n - k - 1; // reflector length, acting on rows/columns k+1..n
        let v = &mut v[..m];
        for (i, vi) in v.iter_mut().enumerate() {
            *vi = a[(k + 1 + i) * n + k];
        }
        let (beta, t) = householder(v[0], &mut v[1..]);
        tau[k] = t;
        v[0] = R::ONE;
        // Store v below the subdiagonal, beta on it.
        a[(k + 1) * n + k] = beta;
        for i in 1..m {
            a[(k + 1 + i) * n + k] = v[i];
        }
        if t == R::ZERO {
            continue;
        }
        // Left: A[k+1.., k+1..] -= τ v (vᵀ A[k+1.., k+1..]).
        let w = &mut w[..m];
        w.fill(R::ZERO);
        for (i, &vi) in v.iter().enumerate() {
            let row = &a[(k + 1 + i) * n + k + 1..(k + 2 + i) * n];
            for (wj, &x) in w.iter_mut().zip(row) {
                *wj += vi * x;
            }
        }
        for (i, &vi) in v.iter().enumerate() {
            let c = t * vi;
            let row = &mut a[(k + 1 + i) * n + k + 1..(k + 2 + i) * n];
            for (x, &wj) in row.iter_mut().zip(w.iter()) {
                *x -= c * wj;
            }
        }
        // Right: A[.., k+1..] -= τ (A[.., k+1..] v) vᵀ, every row.
        reflect_rows(n, a, k + 1, v, t);
    }
}

/// Writes `Qᵀ = H_{n−3} ⋯ H₀` (row-major) into `qt` from the reflectors stored by
/// [`reduce`]. Row `k` of `qt` is column `k` of `Q`. `work` has length `≥ n`.
pub(crate) fn accumulate_qt<R: Real>(n: usize, a: &[R], tau: &[R], qt: &mut [R], work: &mut [R]) {
    qt.fill(R::ZERO);
    for i in 0..n {
        qt[i * n + i] = R::ONE;
    }
    if n < 3 {
        return;
    }
    for k in (0..n - 2).rev() {
        let t = tau[k];
        if t == R::ZERO {
            continue;
        }
        let m = n - k - 1;
        let v = &mut work[..m];
        v[0] = R::ONE;
        for i in 1..m {
            v[i] = a[(k + 1 + i) * n + k];
        }
        // qt[k+1.., k+1..] ← qt[k+1.., k+1..] (I − τ v vᵀ).
        reflect_rows(n, &mut qt[(k + 1) * n..], k + 1, v, t);
    }
}

/// `row[c0..] -= τ (row[c0..] · v) vᵀ` for every length-`n` row of `rows` (`v.len() == n − c0`).
///
/// `RR` rows at a time: each dot product is still summed in order (same numbers as one row
/// at a time), but the independent sums hide the add latency that bounds a single one.
fn reflect_rows<R: Real>(n: usize, rows: &mut [R], c0: usize, v: &[R], t: R) {
    let m = v.len();
    let mut quads = rows.chunks_exact_mut(RR * n);
    for quad in &mut quads {
        let mut s = [R::ZERO; RR];
        {
            // Rows cut to length m up front, so that the loop below has no bounds checks.
            let mut it = quad.chunks_exact(n);
            let r: [&[R]; RR] = core::array::from_fn(|_| match it.next() {
                Some(row) if row.len() >= c0 + m => &row[c0..c0 + m],
                _ => &[],
            });
            if r.iter().all(|x| x.len() == m) {
                for (j, &vj) in v.iter().enumerate() {
                    for (sr, row) in s.iter_mut().zip(r.iter()) {
                        *sr += row[j] * vj;
                    }
                }
            }
        }
        for (row, s) in quad.chunks_exact_mut(n).zip(s) {
            if s != R::ZERO {
                let c = t * s;
                for (x, &vi) in row[c0..].iter_mut().zip(v) {
                    *x -= c * vi;
                }
            }
        }
    }
    for row in quads.into_remainder().chunks_exact_mut(n) {
        let row = &mut row[c0..];
        let s = crate::kernel::dot(row, v);
        if s != R::ZERO {
            let c = t * s;
            for (x, &vi) in row.iter_mut().zip(v) {
                *x -= c * vi;
            }
        }
    }
}

/// Rows per pass in [`reflect_rows`] (8: 9 loads per column, about what the CPU issues).
const RR: usize = 8;

/// Sets every entry below the first subdiagonal to zero.
pub(crate) fn zero_below_subdiagonal<R: Real>(n: usize, a: &mut [R]) {
    for i in 2..n {
        a[i * n..i * n + i - 1].fill(R::ZERO);
    }
}

pub(crate) fn transpose_in_place<R: Real>(n: usize, a: &mut [R]) {
    for i in 0..n {
        for j in i + 1..n {
            a.swap(i * n + j, j * n + i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_and_reconstructs() {
        let n = 5;
        let mut rng = crate::Rng::new(7);
        let mut a = [0.0f64; 25];
        for x in a.iter_mut() {
            *x = rng.uniform() - 0.5;
        }
        let orig = a;
        let mut q = [0.0; 25];
        let mut s = [0.0; 15];
        hessenberg(n, &mut a, Some(&mut q), &mut s).unwrap();
        for i in 2..n {
            for j in 0..i - 1 {
                assert_eq!(a[i * n + j], 0.0);
            }
        }
        // Q H Qᵀ == A and QᵀQ == I.
        for i in 0..n {
            for j in 0..n {
                let mut x = 0.0;
                let mut id = 0.0;
                for k in 0..n {
                    for l in 0..n {
                        x += q[i * n + k] * a[k * n + l] * q[j * n + l];
                    }
                    id += q[k * n + i] * q[k * n + j];
                }
                assert!((x - orig[i * n + j]).abs() < 1e-14, "{i} {j}");
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((id - e).abs() < 1e-14);
            }
        }
    }
}
