//! Small dense linear algebra on caller-owned, row-major `n × n` slices.
//!
//! - [`lu`]: LU factorisation with partial pivoting, solves with one or many right-hand
//!   sides, determinant, and a 1-norm reciprocal condition estimate (Hager/Higham) that
//!   turns "numerically singular" into an error carrying the estimate.
//! - [`hessenberg`](mod@hessenberg): Householder reduction to upper Hessenberg form.
//! - [`eig`]: eigenvalues and right (optionally left) eigenvectors of a real
//!   non-symmetric matrix: balancing, Hessenberg reduction, Francis implicit double-shift
//!   QR with deflation and exceptional shifts, and back-substitution on the real Schur
//!   form.
//!
//! Conventions shared by every routine here:
//! - A matrix is a row-major slice of length `n * n` with runtime `n`: element `(i, j)` is
//!   `a[i * n + j]`. Runtime sizes let the same code serve `N` (vanilla, GRU, …) and `2N`
//!   (LSTM `[h; c]`) state dimensions. Thin const-generic wrappers take `&[[R; M]; M]`.
//! - Scratch is caller-owned: every routine that needs some has a `*_scratch_len(n)`
//!   function next to it; a longer scratch slice is fine, a shorter one is
//!   [`Error::BufferSize`].
//! - No panics on any input. NaN or ∞ in the input is [`Error::NonFinite`]; every `Ok`
//!   result is finite.

pub mod eig;
pub mod hessenberg;
pub mod lu;

pub use eig::{
    eigen, eigen_array, eigen_scratch_len, eigenvalues, eigenvalues_array, eigenvalues_scratch_len,
    Balance, ComputeLeft, EigParams, Eigenvalue, Sort,
};
pub use hessenberg::{hessenberg, hessenberg_scratch_len};
pub use lu::{determinant, lu_factor, lu_scratch_len, solve, solve_array, Lu, LuError, LuParams};

use crate::{Error, LengthRule, Real};

/// `Ok` if `a` is an `n × n` matrix (length `n * n`, no overflow in `n * n`).
#[inline]
pub(crate) fn check_square<R>(n: usize, a: &[R]) -> Result<(), Error> {
    match n.checked_mul(n) {
        Some(nn) if nn == a.len() => Ok(()),
        Some(nn) => Err(Error::BufferSize {
            expected: nn,
            got: a.len(),
            rule: LengthRule::Exact,
        }),
        None => Err(Error::InvalidParameter),
    }
}

pub(crate) use crate::error::check_scratch;

/// `Err(NonFinite)` if any entry is NaN or ±∞.
#[inline]
pub(crate) fn check_finite<R: Real>(a: &[R]) -> Result<(), Error> {
    // No early exit: the branch-free fold vectorises, `all` stays scalar (entries are
    // almost always finite, so the early exit would rarely pay).
    if a.iter().fold(true, |ok, x| ok & x.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFinite)
    }
}

/// Largest absolute entry (0 for an empty slice).
#[inline]
pub(crate) fn max_abs<R: Real>(a: &[R]) -> R {
    a.iter().fold(R::ZERO, |m, &x| m.max(x.abs()))
}

/// Matrix 1-norm (maximum absolute column sum) of a row-major `n × n` matrix.
/// `col` is a scratch of length `n`.
pub(crate) fn norm1<R: Real>(n: usize, a: &[R], col: &mut [R]) -> R {
    let col = &mut col[..n];
    col.fill(R::ZERO);
    for row in a.chunks_exact(n) {
        for (c, &x) in col.iter_mut().zip(row) {
            *c += x.abs();
        }
    }
    max_abs(col)
}

/// `2^k` as an `R`, built by repeated multiplication (exact; `k` is small).
#[inline]
pub(crate) fn pow2<R: Real>(k: i32) -> R {
    R::TWO.powi(k)
}
