//! LU factorisation with partial pivoting, solves, determinant and a 1-norm reciprocal
//! condition estimate.
//!
//! `P A = L U` is computed in place (LAPACK `getrf` layout: the strictly lower triangle
//! holds `L` without its unit diagonal, the upper triangle holds `U`; `piv[k]` is the row
//! swapped with row `k` at step `k`). After factoring, the reciprocal condition number
//! `rcond = 1 / (‖A‖₁ ‖A⁻¹‖₁)` is estimated with Hager's method as refined by Higham
//! (LAPACK `lacn2`, plus Higham's alternating-sign test vector), which costs a handful of
//! triangular solves (`O(n²)`) next to the `O(n³)` factorisation. The estimate is a lower
//! bound on `‖A⁻¹‖₁`, in practice within a small factor of it.
//!
//! A matrix whose estimate falls below [`LuParams::rcond_threshold`] (default: machine
//! epsilon, LAPACK `gesvx`'s "singular to working precision") or that has an exactly zero
//! pivot is reported as [`LuError::Singular`] with the estimate: no division by a zero
//! pivot, no garbage solution.
//!
//! On hosts (x86_64, aarch64) the elimination and the triangular solves are blocked —
//! the part right of a panel of columns receives the panel's updates in one pass, several
//! rows' dot products share a pass — with the same bits as the plain one-column or
//! one-row loops that embedded targets use: the same operations in the same order.
//! Back substitution sums each row's terms in descending column order (so that rows can
//! share the sum); everything else keeps the textbook ascending order.

use core::fmt;

use super::{check_finite, check_scratch, check_square, norm1};
use crate::{Error, Real};

/// Parameters of [`lu_factor`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LuParams<R> {
    /// Matrices whose reciprocal 1-norm condition estimate is below this are rejected as
    /// [`LuError::Singular`]. Default: `R::EPSILON` (2.2e-16 for `f64`, 1.2e-7 for `f32`).
    /// Set it to zero to reject only exactly zero pivots (and ∞ condition estimates).
    pub rcond_threshold: R,
}

impl<R: Real> Default for LuParams<R> {
    fn default() -> Self {
        Self {
            rcond_threshold: R::EPSILON,
        }
    }
}

/// Why an LU factorisation or solve failed.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum LuError<R> {
    /// Wrong buffer length ([`Error::BufferSize`]), NaN/∞ input ([`Error::NonFinite`]),
    /// or overflow of a finite input during elimination ([`Error::Overflow`]).
    Core(Error),
    /// The matrix is singular or too ill-conditioned for the requested threshold.
    /// `rcond` is the reciprocal 1-norm condition estimate (0 for an exactly zero pivot).
    Singular {
        /// The estimate that failed the threshold.
        rcond: R,
    },
}

impl<R> From<Error> for LuError<R> {
    fn from(e: Error) -> Self {
        LuError::Core(e)
    }
}

impl<R> From<LuError<R>> for Error {
    fn from(e: LuError<R>) -> Self {
        match e {
            LuError::Core(e) => e,
            LuError::Singular { .. } => Error::Singular,
        }
    }
}

impl<R: Real> fmt::Display for LuError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LuError::Core(e) => fmt::Display::fmt(e, f),
            LuError::Singular { rcond } => {
                write!(
                    f,
                    "matrix is singular (reciprocal condition estimate {rcond})"
                )
            }
        }
    }
}

impl<R: Real> core::error::Error for LuError<R> {}

/// Scratch length needed by [`lu_factor`] and [`solve`]: `2 n` (condition estimate).
pub const fn lu_scratch_len(n: usize) -> usize {
    2 * n
}

/// A successful LU factorisation, borrowing the caller's factor and pivot buffers.
#[derive(Debug)]
pub struct Lu<'a, R> {
    n: usize,
    lu: &'a [R],
    piv: &'a [usize],
    /// `+1` or `-1`: sign of the row permutation.
    perm_sign: R,
    anorm: R,
    rcond: R,
}

/// Factors the row-major `n × n` matrix `a` in place as `P A = L U` with partial pivoting
/// and estimates its reciprocal 1-norm condition number.
///
/// `piv` must have length `n`; `scratch` at least [`lu_scratch_len`]`(n)`. On error the
/// contents of `a` and `piv` are unspecified (but finite if the input was).
pub fn lu_factor<'a, R: Real>(
    n: usize,
    a: &'a mut [R],
    piv: &'a mut [usize],
    scratch: &mut [R],
    params: &LuParams<R>,
) -> Result<Lu<'a, R>, LuError<R>> {
    let (perm_sign, anorm) = factor_in_place(n, a, piv, scratch)?;
    let mut lu = Lu {
        n,
        lu: a,
        piv,
        perm_sign,
        anorm,
        rcond: R::ZERO,
    };
    let (x, s) = scratch[..2 * n].split_at_mut(n);
    lu.rcond = lu.estimate_rcond(x, s);
    if lu.rcond <= params.rcond_threshold && n > 0 {
        return Err(LuError::Singular { rcond: lu.rcond });
    }
    Ok(lu)
}

/// Checks buffers, factors in place, returns the permutation sign and `‖A‖₁`.
fn factor_in_place<R: Real>(
    n: usize,
    a: &mut [R],
    piv: &mut [usize],
    scratch: &mut [R],
) -> Result<(R, R), LuError<R>> {
    check_square(n, a)?;
    crate::error::check_len(piv.len(), n)?;
    check_scratch(scratch.len(), lu_scratch_len(n))?;
    if n == 0 {
        return Ok((R::ONE, R::ONE));
    }
    // A column sum of |a_ij| is finite iff its entries are and it does not overflow: one
    // pass for both checks, the full scan only to tell NaN/∞ input from overflow.
    let anorm = norm1(n, a, scratch);
    if !scratch[..n].iter().fold(true, |ok, c| ok & c.is_finite()) {
        check_finite(a)?;
        return Err(Error::Overflow.into());
    }
    let sign = if BLOCKED {
        factor_blocked(n, a, piv, &mut scratch[..n])?
    } else {
        factor_unblocked(n, a, piv)?
    };
    check_finite(a).map_err(|_| Error::Overflow)?;
    Ok((sign, anorm))
}

/// Whether to use the blocked kernels below: on targets with f64 vector units (x86_64,
/// aarch64) they are 2–3× faster at n = 64. Elsewhere — embedded targets, where f64 is
/// often done in software and flash is tight — the plain loops are as fast and much
/// smaller. Both compute the same bits: the same operations in the same order.
const BLOCKED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Columns per panel of [`factor_blocked`] (the kernels [`axpy8`] and [`axpy8x2`] are
/// written out for 8).
const PANEL: usize = 8;
/// Rows per block of the blocked triangular solves.
const ROWS: usize = 8;

/// Right-looking elimination with partial pivoting, one column at a time: for each k,
/// pick the pivot (first largest |a_ik|), swap whole rows, `l = a_ik / u_kk` and
/// `a_ij −= l u_kj` for j > k, skipped when `l == 0` (`−0 − 0·u` would be `+0`, `0·∞`
/// NaN). Returns the permutation sign. The reference order [`factor_blocked`] keeps.
fn factor_unblocked<R: Real>(n: usize, a: &mut [R], piv: &mut [usize]) -> Result<R, LuError<R>> {
    let mut sign = R::ONE;
    for k in 0..n {
        let mut p = k;
        let mut best = a[k * n + k].abs();
        for i in k + 1..n {
            let v = a[i * n + k].abs();
            if v > best {
                best = v;
                p = i;
            }
        }
        piv[k] = p;
        if best == R::ZERO {
            return Err(LuError::Singular { rcond: R::ZERO });
        }
        if p != k {
            let (top, bottom) = a.split_at_mut(p * n);
            top[k * n..(k + 1) * n].swap_with_slice(&mut bottom[..n]);
            sign = -sign;
        }
        let (top, bottom) = a.split_at_mut((k + 1) * n);
        let rowk = &top[k * n + k..k * n + n];
        let pivot = rowk[0];
        for row in bottom.chunks_exact_mut(n) {
            let row = &mut row[k..];
            let l = row[0] / pivot;
            row[0] = l;
            if l != R::ZERO {
                for (x, &u) in row[1..].iter_mut().zip(&rowk[1..]) {
                    *x -= l * u;
                }
            }
        }
    }
    Ok(sign)
}

/// [`factor_unblocked`], blocked, bit for bit: every entry receives the same `x −= l u`
/// in the same ascending-k order, but the part right of a panel of [`PANEL`] columns
/// receives the panel's updates in one pass (the entry stays in a register meanwhile)
/// instead of one pass per k. The panel itself is factored column by column. Deferring
/// the updates is compatible with the row swaps because swaps move whole rows: a row's
/// pending updates use its own `l`s, which move with it. `col` is scratch of length n.
fn factor_blocked<R: Real>(
    n: usize,
    a: &mut [R],
    piv: &mut [usize],
    col: &mut [R],
) -> Result<R, LuError<R>> {
    let mut sign = R::ONE;
    let mut k0 = 0;
    while k0 < n {
        let k1 = (k0 + PANEL).min(n);
        factor_panel(n, a, piv, col, &mut sign, k0, k1)?;
        update(n, a, k0, k1);
        k0 = k1;
    }
    Ok(sign)
}

/// Factors the panel of columns k0..k1 (rows k0..n; its earlier updates are done),
/// updating only the panel's columns: pivots, whole-row swaps, `l`s.
///
/// `col[i]` holds the current column's entry of row i > k: contiguous, so that the
/// divisions `l = a_ik / u_kk` vectorise (scalar divisions would bound the panel).
fn factor_panel<R: Real>(
    n: usize,
    a: &mut [R],
    piv: &mut [usize],
    col: &mut [R],
    sign: &mut R,
    k0: usize,
    k1: usize,
) -> Result<(), LuError<R>> {
    // Pivot search down column k0, gathering it.
    let (mut best, mut p) = (a[k0 * n + k0].abs(), k0);
    for i in k0..n {
        let v = a[i * n + k0];
        col[i] = v;
        if v.abs() > best {
            best = v.abs();
            p = i;
        }
    }
    for k in k0..k1 {
        piv[k] = p;
        if best == R::ZERO {
            return Err(LuError::Singular { rcond: R::ZERO });
        }
        if p != k {
            let (top, bottom) = a.split_at_mut(p * n);
            top[k * n..(k + 1) * n].swap_with_slice(&mut bottom[..n]);
            col.swap(k, p);
            *sign = -*sign;
        }
        let (top, rows) = a.split_at_mut((k + 1) * n);
        let pivot = top[k * n + k];
        let col = &mut col[k + 1..];
        for c in col.iter_mut() {
            *c /= pivot;
        }
        let i;
        (best, i) = if k1 - k0 == PANEL {
            let u: &[R; PANEL] = top[k * n + k0..k * n + k1].try_into().unwrap();
            match k - k0 {
                0 => panel_step::<R, 0>(rows, col, n, k0, u),
                1 => panel_step::<R, 1>(rows, col, n, k0, u),
                2 => panel_step::<R, 2>(rows, col, n, k0, u),
                3 => panel_step::<R, 3>(rows, col, n, k0, u),
                4 => panel_step::<R, 4>(rows, col, n, k0, u),
                5 => panel_step::<R, 5>(rows, col, n, k0, u),
                6 => panel_step::<R, 6>(rows, col, n, k0, u),
                _ => panel_step::<R, 7>(rows, col, n, k0, u),
            }
        } else {
            panel_column(rows, col, n, k, k1, &top[k * n + k..k * n + k1])
        };
        p = k + 1 + i;
    }
    Ok(())
}

/// Step k of a panel on the rows below the pivot row (`rows`, whole rows; `col` their
/// `l`s), with `rowk = u_k,k..k1`: stores `l` and does `a_ij −= l u_kj` for the panel
/// columns j in k+1..k1 (skipped when `l == 0`). Leaves `a_i,k+1` in `col` and returns
/// the pivot of column k + 1 (first largest |a_i,k+1|, row relative to `rows`).
fn panel_column<R: Real>(
    rows: &mut [R],
    col: &mut [R],
    n: usize,
    k: usize,
    k1: usize,
    rowk: &[R],
) -> (R, usize) {
    let (mut best, mut p) = (R::ZERO, 0);
    for (i, (row, c)) in rows.chunks_exact_mut(n).zip(col).enumerate() {
        let row = &mut row[k..k1];
        let l = *c;
        row[0] = l;
        if l != R::ZERO {
            for (x, &u) in row[1..].iter_mut().zip(&rowk[1..]) {
                *x -= l * u;
            }
        }
        if let Some(&v) = row.get(1) {
            *c = v;
            // The first row unconditionally, as the pivot search starts.
            if v.abs() > best || i == 0 {
                best = v.abs();
                p = i;
            }
        }
    }
    (best, p)
}

/// [`panel_column`] for a full panel: columns k0..k0 + PANEL, step k = k0 + S, `u` the
/// pivot row's panel part. The constant step unrolls the short row update. Not inlined:
/// eight copies inlined into one function spoil its register allocation.
#[inline(never)]
fn panel_step<R: Real, const S: usize>(
    rows: &mut [R],
    col: &mut [R],
    n: usize,
    k0: usize,
    u: &[R; PANEL],
) -> (R, usize) {
    let (mut best, mut p) = (R::ZERO, 0);
    for i in 0..col.len() {
        let seg = &mut rows[i * n + k0..i * n + k0 + PANEL];
        let l = col[i];
        seg[S] = l;
        if l != R::ZERO {
            for j in S + 1..PANEL {
                seg[j] -= l * u[j];
            }
        }
        if S + 1 < PANEL {
            let v = seg[S + 1];
            col[i] = v;
            if v.abs() > best || i == 0 {
                best = v.abs();
                p = i;
            }
        }
    }
    (best, p)
}

/// Applies the `l`s of the factored panel k0..k1 to the columns k1..n of the rows below
/// row k0: rows k0+1..k1 (rows of U) with their `l`s left of the diagonal, the rows
/// below with all of them; each entry gets them in ascending k.
fn update<R: Real>(n: usize, a: &mut [R], k0: usize, k1: usize) {
    if k1 == n {
        return;
    }
    let m = k1 - k0;
    let (top, bottom) = a.split_at_mut(k1 * n);
    let urows = &mut top[k0 * n..];
    for t in 1..m {
        let (done, rest) = urows.split_at_mut(t * n);
        let (l, x) = rest[..n].split_at_mut(k1);
        eliminate(x, &l[k0..k0 + t], done, n);
    }
    let urows = &*urows;
    // Two rows at a time share the loads of U.
    let mut pairs = bottom.chunks_exact_mut(2 * n);
    for pair in &mut pairs {
        let (r0, r1) = pair.split_at_mut(n);
        let (l0, x0) = r0.split_at_mut(k1);
        let (l1, x1) = r1.split_at_mut(k1);
        let (l0, l1) = (&l0[k0..], &l1[k0..]);
        match (full_panel(l0), full_panel(l1)) {
            (Some(c0), Some(c1)) => {
                let u = core::array::from_fn(|t| &urows[t * n + k1..(t + 1) * n]);
                axpy8x2(x0, x1, c0, c1, u);
            }
            _ => {
                eliminate(x0, l0, urows, n);
                eliminate(x1, l1, urows, n);
            }
        }
    }
    for row in pairs.into_remainder().chunks_exact_mut(n) {
        let (l, x) = row.split_at_mut(k1);
        eliminate(x, &l[k0..], urows, n);
    }
}

/// The `l`s of a full panel if none is zero (no update to skip).
#[inline]
fn full_panel<R: Real>(l: &[R]) -> Option<[R; PANEL]> {
    let l: [R; PANEL] = l.try_into().ok()?;
    nonzero(&l).then_some(l)
}

#[inline]
fn nonzero<R: Real>(l: &[R]) -> bool {
    l.iter().fold(true, |ok, &v| ok & (v != R::ZERO))
}

/// One row of [`update`]: `x −= l_t · u_t` for t = 0..l.len() in order, where `u_t` is the
/// last `x.len()` entries of row t of `urows` (rows of length n); zero `l_t` are skipped.
#[inline]
fn eliminate<R: Real>(x: &mut [R], l: &[R], urows: &[R], n: usize) {
    let len = x.len();
    let u = |t: usize| &urows[(t + 1) * n - len..(t + 1) * n];
    if let Some(c) = full_panel(l) {
        return axpy8(x, c, core::array::from_fn(u));
    }
    // Four terms per pass where none of them is zero, else one.
    let mut t = 0;
    while t < l.len() {
        match l.get(t..t + 4) {
            Some(c) if nonzero(c) => {
                axpy4(
                    x,
                    [c[0], c[1], c[2], c[3]],
                    [u(t), u(t + 1), u(t + 2), u(t + 3)],
                );
                t += 4;
            }
            _ => {
                if l[t] != R::ZERO {
                    for (xj, &uj) in x.iter_mut().zip(u(t)) {
                        *xj -= l[t] * uj;
                    }
                }
                t += 1;
            }
        }
    }
}

/// `x_j −= c_0 r_0j`, then `x_j −= c_1 r_1j`, … `c_3 r_3j` for every j: the updates in
/// order, with `x_j` kept in a register (vectorised over j).
#[inline(always)]
fn axpy4<R: Real>(x: &mut [R], c: [R; 4], r: [&[R]; 4]) {
    let len = x.len();
    // Named slices of exactly x's length: no bounds checks left in the loop (they would
    // force a scalar epilogue on the vectorised loop).
    let [r0, r1, r2, r3] = r;
    let (r0, r1, r2, r3) = (&r0[..len], &r1[..len], &r2[..len], &r3[..len]);
    for j in 0..len {
        let mut s = x[j];
        s -= c[0] * r0[j];
        s -= c[1] * r1[j];
        s -= c[2] * r2[j];
        s -= c[3] * r3[j];
        x[j] = s;
    }
}

/// [`axpy4`] with eight terms.
#[inline(always)]
fn axpy8<R: Real>(x: &mut [R], c: [R; 8], r: [&[R]; 8]) {
    let len = x.len();
    let [r0, r1, r2, r3, r4, r5, r6, r7] = r;
    let (r0, r1, r2, r3) = (&r0[..len], &r1[..len], &r2[..len], &r3[..len]);
    let (r4, r5, r6, r7) = (&r4[..len], &r5[..len], &r6[..len], &r7[..len]);
    for j in 0..len {
        let mut s = x[j];
        s -= c[0] * r0[j];
        s -= c[1] * r1[j];
        s -= c[2] * r2[j];
        s -= c[3] * r3[j];
        s -= c[4] * r4[j];
        s -= c[5] * r5[j];
        s -= c[6] * r6[j];
        s -= c[7] * r7[j];
        x[j] = s;
    }
}

/// [`axpy8`] on two rows (coefficients `c`, `d`) sharing the loads of `r`.
#[inline(always)]
fn axpy8x2<R: Real>(x0: &mut [R], x1: &mut [R], c: [R; 8], d: [R; 8], r: [&[R]; 8]) {
    let len = x0.len();
    let x1 = &mut x1[..len];
    let [r0, r1, r2, r3, r4, r5, r6, r7] = r;
    let (r0, r1, r2, r3) = (&r0[..len], &r1[..len], &r2[..len], &r3[..len]);
    let (r4, r5, r6, r7) = (&r4[..len], &r5[..len], &r6[..len], &r7[..len]);
    for j in 0..len {
        let (mut s, mut t) = (x0[j], x1[j]);
        s -= c[0] * r0[j];
        t -= d[0] * r0[j];
        s -= c[1] * r1[j];
        t -= d[1] * r1[j];
        s -= c[2] * r2[j];
        t -= d[2] * r2[j];
        s -= c[3] * r3[j];
        t -= d[3] * r3[j];
        s -= c[4] * r4[j];
        t -= d[4] * r4[j];
        s -= c[5] * r5[j];
        t -= d[5] * r5[j];
        s -= c[6] * r6[j];
        t -= d[6] * r6[j];
        s -= c[7] * r7[j];
        t -= d[7] * r7[j];
        x0[j] = s;
        x1[j] = t;
    }
}

// Triangular solves on the packed factors `lu` (n × n), one row at a time and blocked
// (several rows or columns of the factor per pass over `b`), with the same bits.

/// `L y = b` in place (unit lower triangle), rows from..n (the rows above are solved):
/// row i is the chain `b_i − Σ_k l_ik y_k` in ascending k.
fn forward_rows<R: Real>(n: usize, lu: &[R], b: &mut [R], from: usize) {
    for i in from..n {
        let row = &lu[i * n..i * n + i];
        let mut s = b[i];
        for (&l, &x) in row.iter().zip(&b[..i]) {
            s -= l * x;
        }
        b[i] = s;
    }
}

/// [`forward_rows`], [`ROWS`] rows at a time: they share the prefix k < i, so their
/// chains run side by side (the latency of a subtraction is paid once per k, not once
/// per row and k), then the small triangle k = i.. finishes them in order.
fn forward_blocked<R: Real>(n: usize, lu: &[R], b: &mut [R]) {
    let mut i = 0;
    while i + ROWS <= n {
        let rows: [&[R]; ROWS] = core::array::from_fn(|t| &lu[(i + t) * n..(i + t) * n + i]);
        let mut s: [R; ROWS] = core::array::from_fn(|t| b[i + t]);
        for k in 0..i {
            let x = b[k];
            for t in 0..ROWS {
                s[t] -= rows[t][k] * x;
            }
        }
        for t in 1..ROWS {
            for q in 0..t {
                s[t] -= lu[(i + t) * n + i + q] * s[q];
            }
        }
        b[i..i + ROWS].copy_from_slice(&s);
        i += ROWS;
    }
    forward_rows(n, lu, b, i);
}

/// `U x = y` in place, rows end−1 down to 0 (the rows below are solved): row i is
/// `(y_i − Σ_k u_ik x_k) / u_ii` with the sum in *descending* k, so that rows can share
/// it (see [`back_blocked`]).
fn back_rows<R: Real>(n: usize, lu: &[R], b: &mut [R], end: usize) {
    for i in (0..end).rev() {
        let row = &lu[i * n + i..(i + 1) * n];
        let mut s = b[i];
        for (&u, &x) in row[1..].iter().zip(&b[i + 1..]).rev() {
            s -= u * x;
        }
        b[i] = s / row[0];
    }
}

/// [`back_rows`], [`ROWS`] rows at a time from the bottom: they share the suffix
/// k ≥ end, whose terms come first.
fn back_blocked<R: Real>(n: usize, lu: &[R], b: &mut [R]) {
    let mut end = n;
    while end >= ROWS {
        let i = end - ROWS;
        let rows: [&[R]; ROWS] = core::array::from_fn(|t| &lu[(i + t) * n..(i + t + 1) * n]);
        let (head, x) = b.split_at_mut(end);
        let mut s: [R; ROWS] = core::array::from_fn(|t| head[i + t]);
        for k in (0..x.len()).rev() {
            let xk = x[k];
            for t in 0..ROWS {
                s[t] -= rows[t][end + k] * xk;
            }
        }
        for t in (0..ROWS).rev() {
            for q in (t + 1..ROWS).rev() {
                s[t] -= rows[t][i + q] * s[q];
            }
            s[t] /= rows[t][i + t];
        }
        head[i..].copy_from_slice(&s);
        end = i;
    }
    back_rows(n, lu, b, end);
}

/// `Uᵀ y = b` in place, column (axpy) form, rows from..n of U (those above are applied):
/// `y_i = b_i / u_ii`, then `b_j −= y_i u_ij` for j > i.
fn transpose_u_rows<R: Real>(n: usize, lu: &[R], b: &mut [R], from: usize) {
    for i in from..n {
        let row = &lu[i * n + i..(i + 1) * n];
        let yi = b[i] / row[0];
        b[i] = yi;
        for (x, &u) in b[i + 1..].iter_mut().zip(&row[1..]) {
            *x -= yi * u;
        }
    }
}

/// `Lᵀ z = y` in place, column form, rows end−1 down to 1 of L (those below are
/// applied): `z_i = y_i`, then `b_j −= z_i l_ij` for j < i.
fn transpose_l_rows<R: Real>(n: usize, lu: &[R], b: &mut [R], end: usize) {
    for i in (1..end).rev() {
        let zi = b[i];
        let row = &lu[i * n..i * n + i];
        for (x, &l) in b[..i].iter_mut().zip(row) {
            *x -= zi * l;
        }
    }
}

/// [`transpose_u_rows`] then [`transpose_l_rows`], four rows of the factor at a time:
/// their small triangle, then one pass over the rest of `b` applying all four with `b_j`
/// kept in a register (the same order as one row at a time).
fn transpose_blocked<R: Real>(n: usize, lu: &[R], b: &mut [R]) {
    let mut i = 0;
    while i + 4 <= n {
        let rows: [&[R]; 4] = core::array::from_fn(|t| &lu[(i + t) * n..(i + t + 1) * n]);
        let mut y: [R; 4] = core::array::from_fn(|t| b[i + t]);
        for t in 0..4 {
            y[t] /= rows[t][i + t];
            for j in t + 1..4 {
                y[j] -= y[t] * rows[t][i + j];
            }
        }
        b[i..i + 4].copy_from_slice(&y);
        let j = i + 4;
        axpy4(
            &mut b[j..],
            y,
            [&rows[0][j..], &rows[1][j..], &rows[2][j..], &rows[3][j..]],
        );
        i = j;
    }
    transpose_u_rows(n, lu, b, i);
    let mut end = n;
    while end >= 4 {
        let i = end - 4;
        let rows: [&[R]; 4] = core::array::from_fn(|t| &lu[(i + t) * n..(i + t) * n + i + t]);
        let mut z: [R; 4] = core::array::from_fn(|t| b[i + t]);
        for t in (1..4).rev() {
            for j in 0..t {
                z[j] -= z[t] * rows[t][i + j];
            }
        }
        b[i..end].copy_from_slice(&z);
        axpy4(
            &mut b[..i],
            [z[3], z[2], z[1], z[0]],
            [rows[3], rows[2], rows[1], rows[0]],
        );
        end = i;
    }
    transpose_l_rows(n, lu, b, end);
}

impl<R: Real> Lu<'_, R> {
    /// Matrix size `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The packed factors (`L` strictly below the diagonal, unit diagonal implied; `U` on
    /// and above it), row-major.
    pub fn factors(&self) -> &[R] {
        self.lu
    }

    /// LAPACK-style pivots: at step `k`, row `k` was swapped with row `pivots()[k]`.
    pub fn pivots(&self) -> &[usize] {
        self.piv
    }

    /// Reciprocal 1-norm condition estimate `1 / (‖A‖₁ · est ‖A⁻¹‖₁)`, in `(0, 1]`.
    pub fn rcond(&self) -> R {
        self.rcond
    }

    /// `‖A‖₁` of the matrix that was factored.
    pub fn norm1(&self) -> R {
        self.anorm
    }

    /// Determinant `det A = ±Π uᵢᵢ`. [`Error::Overflow`] if it leaves the floating-point
    /// range (it may underflow to zero for large `n`; see [`Lu::ln_abs_det`]).
    pub fn det(&self) -> Result<R, Error> {
        let mut d = self.perm_sign;
        for i in 0..self.n {
            d *= self.lu[i * self.n + i];
        }
        if d.is_finite() {
            Ok(d)
        } else {
            Err(Error::Overflow)
        }
    }

    /// `(sign, ln |det A|)`: the determinant without overflow or underflow.
    pub fn ln_abs_det(&self) -> (R, R) {
        let mut sign = self.perm_sign;
        let mut ln = R::ZERO;
        for i in 0..self.n {
            let u = self.lu[i * self.n + i];
            if u < R::ZERO {
                sign = -sign;
            }
            ln += Real::ln(Real::abs(u));
        }
        (sign, ln)
    }

    /// Solves `A x = b` in place (`b` has length `n`). [`Error::NonFinite`] if `b` has a
    /// NaN/∞; [`Error::Overflow`] if the solution overflows.
    pub fn solve(&self, b: &mut [R]) -> Result<(), Error> {
        crate::error::check_len(b.len(), self.n)?;
        check_finite(b)?;
        self.solve_unchecked(b);
        check_finite(b).map_err(|_| Error::Overflow)
    }

    /// Solves `Aᵀ x = b` in place (`b` has length `n`).
    pub fn solve_transpose(&self, b: &mut [R]) -> Result<(), Error> {
        crate::error::check_len(b.len(), self.n)?;
        check_finite(b)?;
        self.solve_transpose_unchecked(b);
        check_finite(b).map_err(|_| Error::Overflow)
    }

    /// Solves `A X = B` in place for `nrhs` right-hand sides: `b` is the row-major
    /// `n × nrhs` matrix `B` (length `n * nrhs`), overwritten by `X`.
    pub fn solve_many(&self, b: &mut [R], nrhs: usize) -> Result<(), Error> {
        let n = self.n;
        let len = n.checked_mul(nrhs).ok_or(Error::InvalidParameter)?;
        crate::error::check_len(b.len(), len)?;
        check_finite(b)?;
        if nrhs == 0 {
            return Ok(());
        }
        // Row interchanges.
        for k in 0..n {
            let p = self.piv[k];
            if p != k {
                let (top, bottom) = b.split_at_mut(p * nrhs);
                top[k * nrhs..(k + 1) * nrhs].swap_with_slice(&mut bottom[..nrhs]);
            }
        }
        // L Y = P B, row by row: row_i -= Σ_{k<i} l_ik row_k.
        for i in 1..n {
            let (done, rest) = b.split_at_mut(i * nrhs);
            let bi = &mut rest[..nrhs];
            let li = &self.lu[i * n..i * n + i];
            for (bk, &l) in done.chunks_exact(nrhs).zip(li) {
                if l != R::ZERO {
                    for (x, &y) in bi.iter_mut().zip(bk) {
                        *x -= l * y;
                    }
                }
            }
        }
        // U X = Y, bottom-up, each row's sum in descending k (as `solve`).
        for i in (0..n).rev() {
            let (head, tail) = b.split_at_mut((i + 1) * nrhs);
            let bi = &mut head[i * nrhs..];
            let ui = &self.lu[i * n + i + 1..(i + 1) * n];
            for (bk, &u) in tail.chunks_exact(nrhs).zip(ui).rev() {
                if u != R::ZERO {
                    for (x, &y) in bi.iter_mut().zip(bk) {
                        *x -= u * y;
                    }
                }
            }
            let d = R::ONE / self.lu[i * n + i];
            for x in bi.iter_mut() {
                *x *= d;
            }
        }
        check_finite(b).map_err(|_| Error::Overflow)
    }

    /// `L y = P b`, then `U x = y`, in place.
    fn solve_unchecked(&self, b: &mut [R]) {
        let (n, lu) = (self.n, self.lu);
        for k in 0..n {
            b.swap(k, self.piv[k]);
        }
        if BLOCKED {
            forward_blocked(n, lu, b);
            back_blocked(n, lu, b);
        } else {
            forward_rows(n, lu, b, 0);
            back_rows(n, lu, b, n);
        }
    }

    /// `Uᵀ y = b`, then `Lᵀ z = y` and the row interchanges, in place.
    fn solve_transpose_unchecked(&self, b: &mut [R]) {
        let (n, lu) = (self.n, self.lu);
        if BLOCKED {
            transpose_blocked(n, lu, b);
        } else {
            transpose_u_rows(n, lu, b, 0);
            transpose_l_rows(n, lu, b, n);
        }
        for k in (0..n).rev() {
            b.swap(k, self.piv[k]);
        }
    }

    /// Hager/Higham estimate of `‖A⁻¹‖₁` → `rcond`. `x`, `s` have length `n`.
    fn estimate_rcond(&self, x: &mut [R], s: &mut [R]) -> R {
        let n = self.n;
        if n == 0 {
            return R::ONE;
        }
        let l1 = |v: &[R]| v.iter().fold(R::ZERO, |acc, &t| acc + t.abs());
        let sign = |t: R| if t < R::ZERO { -R::ONE } else { R::ONE };
        let argmax = |v: &[R]| {
            let mut j = 0;
            let mut m = R::ZERO;
            for (i, &t) in v.iter().enumerate() {
                if t.abs() > m {
                    m = t.abs();
                    j = i;
                }
            }
            j
        };

        x.fill(R::ONE / R::from_usize(n));
        self.solve_unchecked(x);
        let mut est = l1(x);
        if n > 1 && est.is_finite() {
            for (si, &xi) in s.iter_mut().zip(x.iter()) {
                *si = sign(xi);
            }
            x.copy_from_slice(s);
            self.solve_transpose_unchecked(x);
            let mut j = argmax(x);
            for _ in 0..4 {
                x.fill(R::ZERO);
                x[j] = R::ONE;
                self.solve_unchecked(x);
                let old = est;
                est = l1(x);
                if !est.is_finite() {
                    break;
                }
                let repeated = x.iter().zip(s.iter()).all(|(&xi, &si)| sign(xi) == si);
                if repeated || est <= old {
                    est = est.max(old);
                    break;
                }
                for (si, &xi) in s.iter_mut().zip(x.iter()) {
                    *si = sign(xi);
                }
                x.copy_from_slice(s);
                self.solve_transpose_unchecked(x);
                let jlast = j;
                j = argmax(x);
                if x[jlast].abs() == x[j].abs() {
                    break;
                }
            }
            if est.is_finite() {
                // Higham's alternating test vector guards against the rare cases where the
                // power-method iteration above stalls on a poor vertex.
                let denom = R::from_usize(n - 1);
                for (i, xi) in x.iter_mut().enumerate() {
                    let mag = R::ONE + R::from_usize(i) / denom;
                    *xi = if i % 2 == 0 { mag } else { -mag };
                }
                self.solve_unchecked(x);
                let alt = R::TWO * l1(x) / (R::from_usize(3) * R::from_usize(n));
                est = est.max(alt);
            }
        }
        let prod = self.anorm * est;
        if prod.is_finite() && prod > R::ZERO {
            (R::ONE / prod).min(R::ONE)
        } else {
            R::ZERO
        }
    }
}

/// Solves `A x = b` (one right-hand side) by factoring `a` in place; returns the
/// reciprocal condition estimate. `piv` has length `n`, `scratch` at least
/// [`lu_scratch_len`]`(n)`.
pub fn solve<R: Real>(
    n: usize,
    a: &mut [R],
    b: &mut [R],
    piv: &mut [usize],
    scratch: &mut [R],
    params: &LuParams<R>,
) -> Result<R, LuError<R>> {
    let lu = lu_factor(n, a, piv, scratch, params)?;
    lu.solve(b)?;
    Ok(lu.rcond())
}

/// Determinant of the row-major `n × n` matrix `a` (overwritten by its LU factors).
/// Exactly singular matrices give `Ok(0)`; ill-conditioned ones are *not* an error here.
/// `piv` has length `n`, `scratch` at least [`lu_scratch_len`]`(n)`.
pub fn determinant<R: Real>(
    n: usize,
    a: &mut [R],
    piv: &mut [usize],
    scratch: &mut [R],
) -> Result<R, Error> {
    match factor_in_place(n, a, piv, scratch) {
        Ok((sign, _)) => {
            let mut d = sign;
            for i in 0..n {
                d *= a[i * n + i];
            }
            if d.is_finite() {
                Ok(d)
            } else {
                Err(Error::Overflow)
            }
        }
        Err(LuError::Singular { .. }) => Ok(R::ZERO),
        Err(e) => Err(e.into()),
    }
}

/// Const-size convenience: solves `A x = b` for an `M × M` array matrix without touching
/// `a` (copies live on the stack: `M² + 3M` scalars); returns the condition estimate.
pub fn solve_array<R: Real, const M: usize>(
    a: &[[R; M]; M],
    b: &mut [R; M],
    params: &LuParams<R>,
) -> Result<R, LuError<R>> {
    let mut work = *a;
    let mut piv = [0usize; M];
    let mut scratch = [[R::ZERO; M]; 2];
    solve(
        M,
        work.as_flattened_mut(),
        b,
        &mut piv,
        scratch.as_flattened_mut(),
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_small_system() {
        let a = [[2.0f64, 1.0], [1.0, 3.0]];
        let mut b = [3.0, 5.0];
        let rc = solve_array(&a, &mut b, &LuParams::default()).unwrap();
        assert!((b[0] - 0.8).abs() < 1e-15 && (b[1] - 1.4).abs() < 1e-15);
        assert!(rc > 0.1 && rc <= 1.0);
    }

    #[test]
    fn singular_is_error_with_estimate() {
        let a = [[1.0f64, 2.0], [2.0, 4.0]];
        let mut b = [1.0, 1.0];
        match solve_array(&a, &mut b, &LuParams::default()) {
            Err(LuError::Singular { rcond }) => assert!(rcond < 1e-15),
            other => panic!("{other:?}"),
        }
        let a = [[1.0f64, 0.0], [0.0, f64::NAN]];
        assert_eq!(
            solve_array(&a, &mut b, &LuParams::default()),
            Err(LuError::Core(Error::NonFinite))
        );
    }

    /// The blocked kernels (used on hosts) against the plain loops (used on embedded
    /// targets), bit for bit, on matrices with exact and signed zeros, repeated rows and
    /// sizes around the block sizes.
    #[test]
    fn blocked_kernels_match_plain_loops() {
        use std::{vec, vec::Vec};
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut rng = crate::Rng::new(99);
        for n in 0..=40 {
            for kind in 0..3 {
                let mut a: Vec<f64> = (0..n * n)
                    .map(|_| match kind {
                        0 => rng.normal(),
                        // Small integers, signed zeros: exact cancellations, zero `l`s.
                        1 => {
                            (rng.below(5) as f64 - 2.0)
                                * if rng.bernoulli(0.5) { 1.0 } else { -1.0 }
                        }
                        _ => {
                            if rng.bernoulli(0.6) {
                                0.0
                            } else {
                                rng.normal()
                            }
                        }
                    })
                    .collect();
                if kind == 2 && n > 2 {
                    let (top, rest) = a.split_at_mut(n);
                    rest[..n].copy_from_slice(top);
                }
                let (mut x, mut y) = (a.clone(), a.clone());
                let (mut px, mut py) = (vec![0; n], vec![0; n]);
                let mut col = vec![0.0; n];
                let (sx, sy) = match (
                    factor_unblocked(n, &mut x, &mut px),
                    factor_blocked(n, &mut y, &mut py, &mut col),
                ) {
                    (Ok(sx), Ok(sy)) => (sx, sy),
                    (Err(ex), Err(ey)) => {
                        assert_eq!(ex, ey, "n={n} kind={kind}");
                        continue;
                    }
                    other => panic!("n={n} kind={kind}: {other:?}"),
                };
                assert_eq!(
                    (bits(&x), &px, sx),
                    (bits(&y), &py, sy),
                    "n={n} kind={kind}"
                );

                let b: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
                let (mut u, mut v) = (b.clone(), b.clone());
                forward_rows(n, &y, &mut u, 0);
                forward_blocked(n, &y, &mut v);
                assert_eq!(bits(&u), bits(&v), "forward n={n} kind={kind}");
                back_rows(n, &y, &mut u, n);
                back_blocked(n, &y, &mut v);
                assert_eq!(bits(&u), bits(&v), "back n={n} kind={kind}");
                let (mut u, mut v) = (b.clone(), b);
                transpose_u_rows(n, &y, &mut u, 0);
                transpose_l_rows(n, &y, &mut u, n);
                transpose_blocked(n, &y, &mut v);
                assert_eq!(bits(&u), bits(&v), "transpose n={n} kind={kind}");
            }
        }
    }

    #[test]
    fn determinant_and_empty() {
        let mut a = [0.0f64, 1.0, 1.0, 0.0];
        let mut piv = [0; 2];
        let mut s = [0.0; 4];
        assert_eq!(determinant(2, &mut a, &mut piv, &mut s), Ok(-1.0));
        let mut e: [f64; 0] = [];
        let lu = lu_factor(0, &mut e, &mut [], &mut [], &LuParams::default()).unwrap();
        assert_eq!(lu.det(), Ok(1.0));
    }
}
