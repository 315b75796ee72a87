//! Small dense kernels shared by the cells. Weight blocks are stored input-major
//! (row `i` holds the contributions of input unit `i` to every output unit), so every
//! inner loop is a contiguous, unit-stride axpy or dot that the compiler vectorises.
//! All functions are `#[inline(always)]` so the callers' const sizes reach the loops.

use crate::Real;

/// `z[j] += Σ_i h[i] · w[i·ld + col0 + j]` for `j < z.len()`.
#[inline(always)]
pub(crate) fn gemv_acc<R: Real>(z: &mut [R], w: &[R], ld: usize, col0: usize, h: &[R]) {
    let n = z.len();
    for (i, &hi) in h.iter().enumerate() {
        let row = &w[i * ld + col0..i * ld + col0 + n];
        for (zj, &wj) in z.iter_mut().zip(row) {
            *zj += hi * wj;
        }
    }
}

/// `dh[i] += Σ_j w[i·ld + col0 + j] · dz[j]` for `i < dh.len()`.
#[inline(always)]
pub(crate) fn gemv_t_acc<R: Real>(dh: &mut [R], w: &[R], ld: usize, col0: usize, dz: &[R]) {
    let n = dz.len();
    for (i, dhi) in dh.iter_mut().enumerate() {
        let row = &w[i * ld + col0..i * ld + col0 + n];
        let mut acc = R::ZERO;
        for (&wj, &dj) in row.iter().zip(dz) {
            acc += wj * dj;
        }
        *dhi += acc;
    }
}

/// `dw[i·ld + col0 + j] += h[i] · dz[j]` (rank-one update of a weight block).
#[inline(always)]
pub(crate) fn outer_acc<R: Real>(dw: &mut [R], ld: usize, col0: usize, h: &[R], dz: &[R]) {
    let n = dz.len();
    for (i, &hi) in h.iter().enumerate() {
        if hi == R::ZERO {
            continue; // flip-flop inputs are mostly zero
        }
        let row = &mut dw[i * ld + col0..i * ld + col0 + n];
        for (wj, &dj) in row.iter_mut().zip(dz) {
            *wj += hi * dj;
        }
    }
}

/// `y[j] += a · x[j]`.
#[inline(always)]
pub(crate) fn axpy<R: Real>(y: &mut [R], a: R, x: &[R]) {
    for (yj, &xj) in y.iter_mut().zip(x) {
        *yj += a * xj;
    }
}

/// Euclidean dot product.
#[inline(always)]
#[allow(dead_code)] // for the fixed-point and analysis kernels
pub(crate) fn dot<R: Real>(a: &[R], b: &[R]) -> R {
    let mut acc = R::ZERO;
    for (&x, &y) in a.iter().zip(b) {
        acc += x * y;
    }
    acc
}

/// Euclidean norm without overflow for moderate sizes (scaled sum of squares).
pub(crate) fn norm2<R: Real>(a: &[R]) -> R {
    let mut scale = R::ZERO;
    for &x in a {
        scale = scale.max(x.abs());
    }
    if scale == R::ZERO || !scale.is_finite() {
        return scale;
    }
    let mut s = R::ZERO;
    for &x in a {
        s += (x / scale).square();
    }
    scale * s.sqrt()
}
