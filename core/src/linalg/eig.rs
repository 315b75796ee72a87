//! Eigenvalues and eigenvectors of a real non-symmetric `n × n` matrix.
//!
//! Pipeline (LAPACK `geev` in spirit, unblocked, no allocation):
//! 1. power-of-two scaling of the whole matrix when its entries are near the over- or
//!    underflow thresholds (exact; undone on the eigenvalues);
//! 2. optional balancing `B = D⁻¹ P A Pᵀ D` (`gebal`): a permutation that isolates
//!    eigenvalues exposed by zero rows and columns, then powers of two on the remaining
//!    block, which makes eigenvalues of badly scaled matrices accurate;
//! 3. Householder reduction to Hessenberg form (see [`super::hessenberg`](mod@super::hessenberg));
//! 4. Francis implicit double-shift QR with deflation on negligible subdiagonal entries
//!    and exceptional shifts every 10 sweeps without deflation (EISPACK `hqr2`, as in
//!    JAMA, with a hard sweep cap so no input can hang it) → real Schur form `T = Zᵀ B Z`;
//! 5. eigenvectors of `T` by back-substitution (`trevc`-style, with perturbation of zero
//!    pivots by `ε‖T‖` for defective/repeated eigenvalues and overflow rescaling), back-
//!    transformed by `Z` and `D`, normalised. Left eigenvectors come from the same
//!    back-substitution applied to `J Tᵀ J` (`J` the exchange matrix), which is again
//!    upper quasi-triangular.
//!
//! # Output layout
//! - `values[j]` is `λ_j = re + i·im`. A complex conjugate pair occupies two adjacent
//!   entries, the one with positive imaginary part first.
//! - Eigenvectors are stored **by rows** of a row-major `n × n` buffer (row `j` is the
//!   vector of `λ_j`, contiguous): for real `λ_j`, row `j` is a real unit vector; for a
//!   pair `(λ_j, λ_{j+1} = conj λ_j)`, rows `j` and `j+1` hold the real and imaginary parts
//!   of the vector `v` of `λ_j` (`A v = λ_j v`, `‖v‖₂ = 1`); `conj(v)` belongs to `λ_{j+1}`.
//!   Vectors are normalised to unit 2-norm and rotated so that their largest-modulus
//!   component is real and positive.
//! - Left eigenvectors `u` (`uᴴ A = λ uᴴ`) use the same layout and normalisation.

use super::hessenberg::{accumulate_qt, reduce, zero_below_subdiagonal};
use super::{check_finite, check_scratch, check_square, max_abs, pow2};
use crate::kernel::axpy;
use crate::{Error, Real};

/// One eigenvalue `re + i·im`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Eigenvalue<R> {
    /// Real part.
    pub re: R,
    /// Imaginary part (conjugate pairs are stored next to each other, positive first).
    pub im: R,
}

impl<R: Real> Eigenvalue<R> {
    /// `|λ|` (for a discrete-time map: > 1 is unstable).
    pub fn modulus(&self) -> R {
        self.re.hypot(self.im)
    }
    /// `arg λ ∈ (−π, π]` (for a discrete-time map: rotation per step).
    pub fn arg(&self) -> R {
        self.im.atan2(self.re)
    }
    /// `im == 0`.
    pub fn is_real(&self) -> bool {
        self.im == R::ZERO
    }
}

/// Balancing before the reduction (LAPACK `gebal` jobs `'N'`, `'P'`, `'S'`, `'B'`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balance {
    /// Work on `A` as given.
    None,
    /// Permute rows and columns (a similarity, exact) so that eigenvalues isolated by zero
    /// rows or columns move to the top and bottom, already triangular; the QR iteration
    /// then starts deflated there. ReLU Jacobians have such rows: units that are off.
    Permute,
    /// Scale rows and columns by powers of two so that they have comparable norms (exact,
    /// undone on the eigenvectors): eigenvalues of badly scaled matrices become accurate.
    Scale,
    /// Permute, then scale the rest (LAPACK `geev`'s choice). Default. On a matrix with
    /// nothing to permute it is [`Balance::Scale`], bit for bit.
    #[default]
    PermuteAndScale,
}

/// Order of the returned eigenvalues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// The order in which the QR iteration deflates them (roughly bottom-up in the Schur
    /// form). Default.
    #[default]
    None,
    /// Decreasing modulus; stable; conjugate pairs stay adjacent (positive imaginary part
    /// first). Eigenvectors are permuted with their eigenvalues.
    ByModulusDescending,
}

/// Whether left eigenvectors are wanted (only affects [`eigen_scratch_len`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComputeLeft {
    /// Right eigenvectors only. Default.
    #[default]
    No,
    /// Right and left eigenvectors.
    Yes,
}

/// Parameters of [`eigenvalues`] and [`eigen`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EigParams {
    /// Default: [`Balance::PermuteAndScale`].
    pub balance: Balance,
    /// Default: [`Sort::None`].
    pub sort: Sort,
    /// The QR iteration gives up with [`Error::NoConvergence`] after
    /// `max_sweeps_per_eigenvalue · max(n, 10)` double-shift sweeps in total. Default: 30
    /// (typical matrices need 2–4 sweeps per eigenvalue; LAPACK `lahqr` allows 30·max(10, n)
    /// per deflation).
    pub max_sweeps_per_eigenvalue: usize,
}

impl Default for EigParams {
    fn default() -> Self {
        Self {
            balance: Balance::PermuteAndScale,
            sort: Sort::None,
            max_sweeps_per_eigenvalue: 30,
        }
    }
}

/// Scratch length needed by [`eigenvalues`]: `4 n`.
pub const fn eigenvalues_scratch_len(n: usize) -> usize {
    4 * n
}

/// Scratch length needed by [`eigen`]: `4 n`, plus `n²` with left eigenvectors.
pub const fn eigen_scratch_len(n: usize, left: ComputeLeft) -> usize {
    match left {
        ComputeLeft::No => 4 * n,
        ComputeLeft::Yes => 4 * n + n * n,
    }
}

/// Eigenvalues of the row-major `n × n` matrix `a` (destroyed: its contents afterwards are
/// unspecified).
///
/// `values` has length `n`; `scratch` at least [`eigenvalues_scratch_len`]`(n)`.
/// Errors: [`Error::BufferSize`], [`Error::NonFinite`] (NaN/∞ in `a`),
/// [`Error::NoConvergence`] (sweep cap hit), [`Error::Overflow`] (an eigenvalue of a
/// finite matrix is beyond the floating-point range).
pub fn eigenvalues<R: Real>(
    n: usize,
    a: &mut [R],
    values: &mut [Eigenvalue<R>],
    scratch: &mut [R],
    params: &EigParams,
) -> Result<(), Error> {
    run(n, a, values, None, None, scratch, params)
}

/// Eigenvalues and right eigenvectors (and left ones if `left` is `Some`) of the
/// row-major `n × n` matrix `a` (destroyed). See the [module docs](self) for the layout.
///
/// `values` has length `n`; `right` and `left` length `n * n`; `scratch` at least
/// [`eigen_scratch_len`]`(n, ComputeLeft::Yes)` when `left` is given, else
/// [`eigen_scratch_len`]`(n, ComputeLeft::No)`. Errors as for [`eigenvalues`].
pub fn eigen<R: Real>(
    n: usize,
    a: &mut [R],
    values: &mut [Eigenvalue<R>],
    right: &mut [R],
    left: Option<&mut [R]>,
    scratch: &mut [R],
    params: &EigParams,
) -> Result<(), Error> {
    run(n, a, values, Some(right), left, scratch, params)
}

/// Const-size convenience: eigenvalues of an `M × M` array matrix (left untouched; the
/// work copy and scratch live on the stack: `M² + 4M` scalars).
pub fn eigenvalues_array<R: Real, const M: usize>(
    a: &[[R; M]; M],
    params: &EigParams,
) -> Result<[Eigenvalue<R>; M], Error> {
    let mut work = *a;
    let mut scratch = [[R::ZERO; M]; 4];
    let mut values = [Eigenvalue::default(); M];
    eigenvalues(
        M,
        work.as_flattened_mut(),
        &mut values,
        scratch.as_flattened_mut(),
        params,
    )?;
    Ok(values)
}

/// Const-size convenience: eigenvalues and right eigenvectors (row `j` of `vectors` for
/// `values[j]`, layout as in the [module docs](self)) of an `M × M` array matrix.
pub fn eigen_array<R: Real, const M: usize>(
    a: &[[R; M]; M],
    vectors: &mut [[R; M]; M],
    params: &EigParams,
) -> Result<[Eigenvalue<R>; M], Error> {
    let mut work = *a;
    let mut scratch = [[R::ZERO; M]; 4];
    let mut values = [Eigenvalue::default(); M];
    eigen(
        M,
        work.as_flattened_mut(),
        &mut values,
        vectors.as_flattened_mut(),
        None,
        scratch.as_flattened_mut(),
        params,
    )?;
    Ok(values)
}

fn run<R: Real>(
    n: usize,
    a: &mut [R],
    values: &mut [Eigenvalue<R>],
    mut right: Option<&mut [R]>,
    mut left: Option<&mut [R]>,
    scratch: &mut [R],
    params: &EigParams,
) -> Result<(), Error> {
    check_square(n, a)?;
    crate::error::check_len(values.len(), n)?;
    if let Some(r) = right.as_deref() {
        check_square(n, r)?;
    }
    if let Some(l) = left.as_deref() {
        check_square(n, l)?;
    }
    let need = if left.is_some() {
        eigen_scratch_len(n, ComputeLeft::Yes)
    } else {
        eigen_scratch_len(n, ComputeLeft::No)
    };
    check_scratch(scratch.len(), need)?;
    check_finite(a)?;
    if n == 0 {
        return Ok(());
    }
    let (scale, rest) = scratch.split_at_mut(n);
    let (tau, rest) = rest.split_at_mut(n);
    let (work, rest) = rest.split_at_mut(2 * n);

    // 1. Global power-of-two scaling into a safe range (LAPACK geev's anrm test).
    let amax = max_abs(a);
    if amax == R::ZERO {
        values.fill(Eigenvalue::default());
        for v in [right.as_deref_mut(), left.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            set_identity(n, v);
        }
        return Ok(());
    }
    let small = Real::sqrt(R::MIN_POSITIVE) / R::EPSILON;
    let big = R::ONE / small;
    let mut exp2 = 0i32;
    if amax < small || amax > big {
        let mut x = amax;
        while x >= R::ONE && exp2 < 4096 {
            x *= R::HALF;
            exp2 += 1;
        }
        while x < R::HALF && exp2 > -4096 {
            x *= R::TWO;
            exp2 -= 1;
        }
        scale_pow2(a, -exp2);
    }

    // 2. Balancing.
    let window = balance(n, a, scale, params.balance);

    // 3. Hessenberg reduction; Zᵀ (rows = Schur vectors) goes into `right`.
    reduce(n, a, tau, work);
    if let Some(zt) = right.as_deref_mut() {
        accumulate_qt(n, a, tau, zt, work);
    }
    zero_below_subdiagonal(n, a);

    // 4. Francis QR → real Schur form.
    let (d, e) = work.split_at_mut(n);
    let max_sweeps = params.max_sweeps_per_eigenvalue.saturating_mul(n.max(10));
    let norm = hqr(n, a, d, e, right.as_deref_mut(), max_sweeps)?;
    clean_schur(n, a, e);

    // 5. Eigenvectors.
    if let Some(zt) = right {
        if let Some(lv) = left.as_deref_mut() {
            // Left vectors of T from right vectors of T' = J Tᵀ J.
            let tp = &mut rest[..n * n];
            for i in 0..n {
                for j in 0..n {
                    tp[i * n + j] = a[(n - 1 - j) * n + (n - 1 - i)];
                }
            }
            backsub(n, tp, |m| (d[n - 1 - m], -e[n - 1 - m]), norm);
            lv.fill(R::ZERO);
            let mut r = 0;
            while r < n {
                let pair = e[r] > R::ZERO && r + 1 < n;
                // (output row, source column of X', negate)
                let units = if pair {
                    [(r, n - 2 - r, false), (r + 1, n - 1 - r, true)]
                } else {
                    [(r, n - 1 - r, false), (r, n - 1 - r, false)]
                };
                for &(row, c, neg) in &units[..if pair { 2 } else { 1 }] {
                    let out = &mut lv[row * n..(row + 1) * n];
                    for i in 0..=(c + 1).min(n - 1) {
                        let mut coef = tp[i * n + c];
                        if neg {
                            coef = -coef;
                        }
                        if coef != R::ZERO {
                            axpy(out, coef, &zt[(n - 1 - i) * n..(n - i) * n]);
                        }
                    }
                }
                r += if pair { 2 } else { 1 };
            }
            undo_balance(n, lv, scale, window, Side::Left);
            normalize_rows(n, lv, e);
        }
        backsub(n, a, |i| (d[i], e[i]), norm);
        // zt ← Xᵀ zt, in place from the last row up (X upper triangular).
        for j in (0..n).rev() {
            let (head, tail) = zt.split_at_mut(j * n);
            let rowj = &mut tail[..n];
            let xjj = a[j * n + j];
            for x in rowj.iter_mut() {
                *x *= xjj;
            }
            for k in 0..j {
                let c = a[k * n + j];
                if c != R::ZERO {
                    axpy(rowj, c, &head[k * n..(k + 1) * n]);
                }
            }
        }
        undo_balance(n, zt, scale, window, Side::Right);
        normalize_rows(n, zt, e);
        right = Some(zt);
    }

    // Eigenvalues, undoing the global scaling.
    for ((v, &re), &im) in values.iter_mut().zip(d.iter()).zip(e.iter()) {
        let mut z = [re, im];
        scale_pow2(&mut z, exp2);
        *v = Eigenvalue { re: z[0], im: z[1] };
    }
    if !values.iter().all(|v| v.re.is_finite() && v.im.is_finite()) {
        return Err(Error::Overflow);
    }
    for v in [right.as_deref(), left.as_deref()].into_iter().flatten() {
        check_finite(v).map_err(|_| Error::NoConvergence)?;
    }
    if params.sort == Sort::ByModulusDescending {
        sort_by_modulus(n, values, right, left);
    }
    Ok(())
}

fn set_identity<R: Real>(n: usize, v: &mut [R]) {
    v.fill(R::ZERO);
    for i in 0..n {
        v[i * n + i] = R::ONE;
    }
}

/// Multiplies every entry by `2^k` in two halves (so `2^k` itself need not be finite).
fn scale_pow2<R: Real>(a: &mut [R], k: i32) {
    if k == 0 {
        return;
    }
    let h1 = pow2::<R>(k / 2);
    let h2 = pow2::<R>(k - k / 2);
    for x in a.iter_mut() {
        *x = *x * h1 * h2;
    }
}

/// After `hqr`: zero everything below the subdiagonal and the subdiagonal entries that
/// are not inside a 2×2 complex block.
fn clean_schur<R: Real>(n: usize, t: &mut [R], e: &[R]) {
    zero_below_subdiagonal(n, t);
    for j in 0..n.saturating_sub(1) {
        if e[j] <= R::ZERO || e[j].is_nan() {
            t[(j + 1) * n + j] = R::ZERO;
        }
    }
}

/// Scaled 2-norm of a strided sequence.
fn norm2_iter<R: Real>(it: impl Iterator<Item = R> + Clone) -> R {
    let scale = it.clone().fold(R::ZERO, |m, x| m.max(x.abs()));
    if scale == R::ZERO {
        return R::ZERO;
    }
    let s = it.fold(R::ZERO, |acc, x| acc + (x / scale).square());
    scale * Real::sqrt(s)
}

/// The rows and columns `lo..=hi` that balancing left unpermuted (everything outside is
/// already triangular; `lo = hi + 1` when nothing is left).
#[derive(Clone, Copy, Debug)]
struct Window {
    lo: usize,
    hi: usize,
}

/// LAPACK `gebal` (LAPACK ≥ 3.5 norms): `a ← D⁻¹ P a Pᵀ D`. Returns the window; `scale[i]`
/// holds `D_ii` inside it and, outside, the index that row/column `i` was swapped with
/// (LAPACK's convention). `n ≥ 1`.
fn balance<R: Real>(n: usize, a: &mut [R], scale: &mut [R], job: Balance) -> Window {
    scale.fill(R::ONE);
    let mut w = Window { lo: 0, hi: n - 1 };
    if matches!(job, Balance::Permute | Balance::PermuteAndScale) {
        w = permute(n, a, scale);
    }
    if matches!(job, Balance::Scale | Balance::PermuteAndScale) && w.lo < w.hi {
        scale_window(n, a, scale, w);
    }
    w
}

/// Swaps rows `i`, `j` and columns `i`, `j` (the similarity `P a Pᵀ` of a transposition).
fn swap_sym<R: Real>(n: usize, a: &mut [R], i: usize, j: usize) {
    if i == j {
        return;
    }
    for k in 0..n {
        a.swap(k * n + i, k * n + j);
    }
    for k in 0..n {
        a.swap(i * n + k, j * n + k);
    }
}

/// `gebal`'s permutation: rows with no off-diagonal nonzero in the window go to its
/// bottom, then columns with none go to its top.
fn permute<R: Real>(n: usize, a: &mut [R], scale: &mut [R]) -> Window {
    let (mut lo, mut hi) = (0usize, n - 1);
    // Rows isolating an eigenvalue → bottom.
    while let Some(i) = (0..=hi)
        .rev()
        .find(|&i| (0..=hi).all(|j| j == i || a[i * n + j] == R::ZERO))
    {
        scale[hi] = R::from_usize(i);
        swap_sym(n, a, i, hi);
        if hi == 0 {
            // Triangular after the swaps (here i = 0: nothing moved).
            scale[0] = R::ONE;
            return Window { lo: 0, hi: 0 };
        }
        hi -= 1;
    }
    // Columns isolating an eigenvalue → top (none left once `lo > hi`).
    while let Some(j) = (lo..=hi).find(|&j| (lo..=hi).all(|i| i == j || a[i * n + j] == R::ZERO)) {
        scale[lo] = R::from_usize(j);
        swap_sym(n, a, j, lo);
        lo += 1;
    }
    for s in &mut scale[lo..=hi] {
        *s = R::ONE;
    }
    Window { lo, hi }
}

/// Which eigenvectors [`undo_balance`] transforms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Right,
    Left,
}

/// LAPACK `gebak` on vectors stored by rows: the scaling (right: `× D`, left: `÷ D`), then
/// the swaps in reverse order of [`permute`].
fn undo_balance<R: Real>(n: usize, v: &mut [R], scale: &[R], w: Window, side: Side) {
    for row in v.chunks_exact_mut(n) {
        for (x, &s) in row[w.lo..=w.hi].iter_mut().zip(&scale[w.lo..=w.hi]) {
            match side {
                Side::Right => *x *= s,
                Side::Left => *x /= s,
            }
        }
    }
    let swaps = (0..w.lo).rev().chain(w.hi + 1..n);
    for i in swaps {
        let k = scale[i].to_f64() as usize;
        if k != i && k < n {
            for row in v.chunks_exact_mut(n) {
                row.swap(i, k);
            }
        }
    }
}

/// `gebal`'s scaling of the window `lo..=hi` (norms over the window, as LAPACK ≥ 3.5).
fn scale_window<R: Real>(n: usize, a: &mut [R], scale: &mut [R], w: Window) {
    let Window { lo, hi } = w;
    let radix = R::TWO;
    let sfmin1 = R::MIN_POSITIVE / (R::EPSILON * R::HALF);
    let sfmax1 = R::ONE / sfmin1;
    let sfmin2 = sfmin1 * radix;
    let sfmax2 = R::ONE / sfmin2;
    let factor = R::from_f64(0.95);
    for _sweep in 0..100 {
        let mut noconv = false;
        for i in lo..=hi {
            // Norms over the window; maxima over the whole row and column (outside the
            // window they are zero except above it / right of it, as LAPACK's ranges).
            let c0 = norm2_iter((lo..=hi).map(|k| a[k * n + i]));
            let ca0 = (0..n).fold(R::ZERO, |m, k| m.max(a[k * n + i].abs()));
            let row = &a[i * n..(i + 1) * n];
            let r0 = crate::kernel::norm2(&row[lo..=hi]);
            let ra0 = max_abs(row);
            if c0 == R::ZERO || r0 == R::ZERO {
                continue;
            }
            let (mut c, mut r, mut ca, mut ra) = (c0, r0, ca0, ra0);
            let s = c + r;
            let mut g = r / radix;
            let mut f = R::ONE;
            let mut guard = 0;
            while c < g && f.max(c).max(ca) < sfmax2 && r.min(g).min(ra) > sfmin2 && guard < 4096 {
                f *= radix;
                c *= radix;
                ca *= radix;
                r /= radix;
                g /= radix;
                ra /= radix;
                guard += 1;
            }
            g = c / radix;
            while g >= r && r.max(ra) < sfmax2 && f.min(c).min(g).min(ca) > sfmin2 && guard < 8192 {
                f /= radix;
                c /= radix;
                g /= radix;
                ca /= radix;
                r *= radix;
                ra *= radix;
                guard += 1;
            }
            if c + r >= factor * s {
                continue;
            }
            if f < R::ONE && scale[i] < R::ONE && f * scale[i] <= sfmin1 {
                continue;
            }
            if f > R::ONE && scale[i] > R::ONE && scale[i] >= sfmax1 / f {
                continue;
            }
            let g = R::ONE / f;
            scale[i] *= f;
            noconv = true;
            for x in a[i * n..(i + 1) * n].iter_mut() {
                *x *= g;
            }
            for k in 0..n {
                a[k * n + i] *= f;
            }
        }
        if !noconv {
            break;
        }
    }
}

/// Francis double-shift QR on the Hessenberg matrix `h` (EISPACK `hqr2` as in JAMA),
/// accumulating the transformations into the rows of `zt` (= `Zᵀ`) when given.
/// On return `d[i] + i·e[i]` are the eigenvalues (pairs: `e[i] > 0`, `e[i+1] < 0`) and `h`
/// is quasi-triangular (up to negligible entries cleaned by [`clean_schur`]).
/// Returns `‖H‖` (sum of absolute entries) for the back-substitution.
fn hqr<R: Real>(
    nn: usize,
    h: &mut [R],
    d: &mut [R],
    e: &mut [R],
    mut zt: Option<&mut [R]>,
    max_sweeps: usize,
) -> Result<R, Error> {
    macro_rules! hh {
        ($i:expr, $j:expr) => {
            h[($i) as usize * nn + ($j) as usize]
        };
    }
    let eps = R::EPSILON;
    let mut exshift = R::ZERO;
    let (mut p, mut q, mut r) = (R::ZERO, R::ZERO, R::ZERO);
    let (mut s, mut z, mut w, mut x, mut y);

    let mut norm = R::ZERO;
    for i in 0..nn {
        for j in i.saturating_sub(1)..nn {
            norm += hh!(i, j).abs();
        }
    }
    if !norm.is_finite() {
        return Err(Error::Overflow);
    }

    // With Schur vectors the full rows/columns are updated (Schur form of the whole matrix);
    // for eigenvalues only, just the active block (LAPACK `lahqr` with `wantt = false`).
    let full = zt.is_some();
    let mut n = nn as isize - 1;
    let mut iter = 0usize;
    let mut sweeps = 0usize;
    while n >= 0 {
        // Look for a single small subdiagonal element.
        let mut l = n;
        while l > 0 {
            s = hh!(l - 1, l - 1).abs() + hh!(l, l).abs();
            if s == R::ZERO {
                s = norm;
            }
            if hh!(l, l - 1).abs() <= eps * s {
                break;
            }
            l -= 1;
        }
        // Make the split exact (LAPACK `lahqr` does too): the test above compares against
        // neighbours that later sweeps change, so an unzeroed entry could let the blocks
        // merge again, with coupling entries that the eigenvalues-only window never updated.
        if l > 0 {
            hh!(l, l - 1) = R::ZERO;
        }

        if l == n {
            // One root found.
            hh!(n, n) += exshift;
            d[n as usize] = hh!(n, n);
            e[n as usize] = R::ZERO;
            n -= 1;
            iter = 0;
        } else if l == n - 1 {
            // Two roots found.
            w = hh!(n, n - 1) * hh!(n - 1, n);
            p = (hh!(n - 1, n - 1) - hh!(n, n)) * R::HALF;
            q = p * p + w;
            z = Real::sqrt(q.abs());
            hh!(n, n) += exshift;
            hh!(n - 1, n - 1) += exshift;
            x = hh!(n, n);
            let (nu, n1) = (n as usize, n as usize - 1);
            if q >= R::ZERO && !full {
                // Real pair, eigenvalues only: no need to triangularise the block.
                z = if p >= R::ZERO { p + z } else { p - z };
                d[n1] = x + z;
                d[nu] = if z != R::ZERO { x - w / z } else { x + z };
                e[n1] = R::ZERO;
                e[nu] = R::ZERO;
            } else if q >= R::ZERO {
                // Real pair: rotate to upper triangular.
                z = if p >= R::ZERO { p + z } else { p - z };
                d[n1] = x + z;
                d[nu] = d[n1];
                if z != R::ZERO {
                    d[nu] = x - w / z;
                }
                e[n1] = R::ZERO;
                e[nu] = R::ZERO;
                x = hh!(n, n - 1);
                s = x.abs() + z.abs();
                p = x / s;
                q = z / s;
                r = Real::sqrt(p * p + q * q);
                p /= r;
                q /= r;
                // Row modification.
                let (top, bot) = h.split_at_mut(nu * nn);
                let r1 = &mut top[n1 * nn + n1..n1 * nn + nn];
                let r2 = &mut bot[n1..nn];
                for (a1, a2) in r1.iter_mut().zip(r2.iter_mut()) {
                    let t = *a1;
                    *a1 = q * t + p * *a2;
                    *a2 = q * *a2 - p * t;
                }
                // Column modification.
                for i in 0..=nu {
                    let t = h[i * nn + n1];
                    h[i * nn + n1] = q * t + p * h[i * nn + nu];
                    h[i * nn + nu] = q * h[i * nn + nu] - p * t;
                }
                // Accumulate.
                if let Some(zt) = zt.as_deref_mut() {
                    let (top, bot) = zt.split_at_mut(nu * nn);
                    let r1 = &mut top[n1 * nn..n1 * nn + nn];
                    let r2 = &mut bot[..nn];
                    for (a1, a2) in r1.iter_mut().zip(r2.iter_mut()) {
                        let t = *a1;
                        *a1 = q * t + p * *a2;
                        *a2 = q * *a2 - p * t;
                    }
                }
            } else {
                // Complex pair.
                d[n1] = x + p;
                d[nu] = x + p;
                e[n1] = z;
                e[nu] = -z;
            }
            n -= 2;
            iter = 0;
        } else {
            // No convergence yet.
            sweeps += 1;
            if sweeps > max_sweeps {
                return Err(Error::NoConvergence);
            }
            x = hh!(n, n);
            y = R::ZERO;
            w = R::ZERO;
            if l < n {
                y = hh!(n - 1, n - 1);
                w = hh!(n, n - 1) * hh!(n - 1, n);
            }
            if iter > 0 && iter.is_multiple_of(10) {
                if (iter / 10) % 2 == 1 {
                    // Wilkinson's original ad hoc shift.
                    exshift += x;
                    for i in 0..=n {
                        hh!(i, i) -= x;
                    }
                    s = hh!(n, n - 1).abs() + hh!(n - 1, n - 2).abs();
                    x = R::from_f64(0.75) * s;
                    y = x;
                    w = R::from_f64(-0.4375) * s * s;
                } else {
                    // MATLAB's ad hoc shift.
                    s = (y - x) * R::HALF;
                    s = s * s + w;
                    if s > R::ZERO {
                        s = Real::sqrt(s);
                        if y < x {
                            s = -s;
                        }
                        s = x - w / ((y - x) * R::HALF + s);
                        for i in 0..=n {
                            hh!(i, i) -= s;
                        }
                        exshift += s;
                        x = R::from_f64(0.964);
                        y = x;
                        w = x;
                    }
                }
            }
            iter += 1;

            // Look for two consecutive small subdiagonal elements.
            let mut m = n - 2;
            while m >= l {
                z = hh!(m, m);
                r = x - z;
                s = y - z;
                p = (r * s - w) / hh!(m + 1, m) + hh!(m, m + 1);
                q = hh!(m + 1, m + 1) - z - r - s;
                r = hh!(m + 2, m + 1);
                s = p.abs() + q.abs() + r.abs();
                p /= s;
                q /= s;
                r /= s;
                if m == l {
                    break;
                }
                if hh!(m, m - 1).abs() * (q.abs() + r.abs())
                    < eps
                        * (p.abs() * (hh!(m - 1, m - 1).abs() + z.abs() + hh!(m + 1, m + 1).abs()))
                {
                    break;
                }
                m -= 1;
            }
            for i in m + 2..=n {
                hh!(i, i - 2) = R::ZERO;
                if i > m + 2 {
                    hh!(i, i - 3) = R::ZERO;
                }
            }

            // Double QR step on rows l..=n and columns m..=n, in chunks of up to `CH`
            // reflectors: each is applied at once only where the next ones need it (rows
            // below it, columns left of the chunk's end: a small window); `Chunk::flush`
            // then applies the chunk to the rows above (rows as vector lanes, where one
            // reflector at a time is a scalar strided walk down the columns), to the columns
            // right of the window and to Zᵀ (two reflectors per pass over the rows). Every
            // entry gets the same operations in the same order as one reflector at a time
            // (left and right updates of an entry never swap), so the numbers do not change.
            let nu = n as usize;
            let jend = if full { nn } else { nu + 1 };
            let i0 = if full { 0 } else { l as usize };
            let mut chunk = Chunk {
                k0: 0,
                len: 0,
                lc: 0,
                f: [[R::ZERO; 5]; CH],
            };
            let mut k = m;
            while k < n {
                let notlast = k != n - 1;
                let ku = k as usize;
                if k != m {
                    p = hh!(k, k - 1);
                    q = hh!(k + 1, k - 1);
                    r = if notlast { hh!(k + 2, k - 1) } else { R::ZERO };
                    x = p.abs() + q.abs() + r.abs();
                    // x == 0 leaves p = q = r = 0, hence s = 0: no reflector.
                    if x != R::ZERO {
                        p /= x;
                        q /= x;
                        r /= x;
                    }
                }
                s = Real::sqrt(p * p + q * q + r * r);
                if p < R::ZERO {
                    s = -s;
                }
                let identity = s == R::ZERO;
                if identity || !notlast {
                    chunk.flush(h, zt.as_deref_mut(), nn, i0, jend);
                }
                if identity {
                    k += 1;
                    continue;
                }
                if k != m {
                    hh!(k, k - 1) = -s * x;
                } else if l != m {
                    hh!(k, k - 1) = -hh!(k, k - 1);
                }
                p += s;
                x = p / s;
                y = q / s;
                z = r / s;
                q /= p;
                r /= p;
                if notlast {
                    if chunk.len == 0 {
                        chunk.k0 = ku;
                        // Columns < lc may get column updates from this chunk: row updates
                        // there cannot wait.
                        chunk.lc = ((ku + CH).min(nu - 1) + 2).min(jend);
                    }
                    let lc = chunk.lc;
                    let f = [x, y, z, q, r];
                    // Row modification (rows k, k+1, k+2; columns k..lc).
                    {
                        let (top, rest) = h.split_at_mut((ku + 1) * nn);
                        let (r1, r2) = rest.split_at_mut(nn);
                        row_op3::<R, false>(
                            &f,
                            &mut top[ku * nn + ku..ku * nn + lc],
                            &mut r1[ku..lc],
                            &mut r2[ku..lc],
                        );
                    }
                    // Column modification (columns k, k+1, k+2) of rows k+1..=min(n, k+3);
                    // the rows above wait for the flush.
                    let iend = nu.min(ku + 3);
                    for row in h[(ku + 1) * nn..(iend + 1) * nn].chunks_exact_mut(nn) {
                        col_op(&f, &mut row[ku..ku + 3]);
                    }
                    chunk.f[chunk.len] = f;
                    chunk.len += 1;
                    if chunk.len == CH {
                        chunk.flush(h, zt.as_deref_mut(), nn, i0, jend);
                    }
                } else {
                    // Last (2-element) reflector, applied at once.
                    let (top, rest) = h.split_at_mut((ku + 1) * nn);
                    let r0 = &mut top[ku * nn + ku..ku * nn + jend];
                    let r1 = &mut rest[ku..jend];
                    for (a0, a1) in r0.iter_mut().zip(r1.iter_mut()) {
                        let pp = *a0 + q * *a1;
                        *a0 -= pp * x;
                        *a1 -= pp * y;
                    }
                    let iend = nu.min(ku + 3);
                    for row in h.chunks_exact_mut(nn).take(iend + 1).skip(i0) {
                        let c = &mut row[ku..ku + 2];
                        let pp = x * c[0] + y * c[1];
                        c[0] -= pp;
                        c[1] -= pp * q;
                    }
                    if let Some(zt) = zt.as_deref_mut() {
                        let (top, rest) = zt.split_at_mut((ku + 1) * nn);
                        let r0 = &mut top[ku * nn..];
                        for (a0, a1) in r0.iter_mut().zip(rest.iter_mut()) {
                            let pp = x * *a0 + y * *a1;
                            *a0 -= pp;
                            *a1 -= pp * q;
                        }
                    }
                }
                k += 1;
            }
            chunk.flush(h, zt.as_deref_mut(), nn, i0, jend);
        }
    }
    Ok(norm)
}

/// Reflectors per chunk of a QR sweep (see [`hqr`]).
const CH: usize = 4;

/// Reflectors `k0..k0 + len` of a QR sweep whose updates away from the bulge are pending.
/// `f[t] = [x, y, z, q, r]`: `P = I − v wᵀ` with `v = (1, q, r)`, `w = (x, y, z)`.
struct Chunk<R> {
    k0: usize,
    len: usize,
    /// Row updates of columns `< lc` are already done.
    lc: usize,
    f: [[R; 5]; CH],
}

impl<R: Real> Chunk<R> {
    /// Applies the pending updates: row updates of columns `lc..jend`, column updates of rows
    /// `i0..k0 + len` (row `i ≥ k0` only takes reflectors `≥ i`: the others were applied at
    /// once), and the rows of `zt`.
    fn flush(&mut self, h: &mut [R], zt: Option<&mut [R]>, nn: usize, i0: usize, jend: usize) {
        let (k0, len) = (self.k0, self.len);
        if len == 0 {
            return;
        }
        self.len = 0;
        let f = &self.f[..len];
        let k1 = k0 + len;
        if self.lc < jend {
            row_ops::<R, false>(&mut h[k0 * nn..(k1 + 2) * nn], nn, self.lc, jend, f);
        }
        // Rows above the chunk take every reflector. A full chunk goes through a small
        // transposed copy of RB rows, so that the rows are the vector lanes.
        let above = &mut h[i0 * nn..k0.max(i0) * nn];
        let mut rest = &mut above[..];
        if let Ok(fa) = <&[[R; 5]; CH]>::try_from(f) {
            let mut blocks = above.chunks_exact_mut(RB * nn);
            for block in &mut blocks {
                col_block::<R, RB>(fa, block, nn, k0);
            }
            rest = blocks.into_remainder();
        }
        for row in rest.chunks_exact_mut(nn) {
            col_ops(f, &mut row[k0..k1 + 2]);
        }
        // Rows k0..k1 take the reflectors from their own index on.
        for (t, row) in h[k0 * nn..k1 * nn].chunks_exact_mut(nn).enumerate() {
            col_ops(&f[t..], &mut row[k0 + t..k1 + 2]);
        }
        if let Some(zt) = zt {
            row_ops::<R, true>(&mut zt[k0 * nn..(k1 + 2) * nn], nn, 0, nn, f);
        }
    }
}

/// Reflectors `f[t]` on entries `t..t + 3` of the row segment `c`, in order
/// (`c.len() == f.len() + 2`).
fn col_ops<R: Real>(f: &[[R; 5]], c: &mut [R]) {
    if c.len() != f.len() + 2 {
        return;
    }
    let (mut a0, mut a1) = (c[0], c[1]);
    for (t, &[x, y, z, q, r]) in f.iter().enumerate() {
        let a2 = c[t + 2];
        let pp = x * a0 + y * a1 + z * a2;
        c[t] = a0 - pp;
        a0 = a1 - pp * q;
        a1 = a2 - pp * r;
    }
    let b = f.len();
    c[b] = a0;
    c[b + 1] = a1;
}

/// Rows per block in [`col_block`].
const RB: usize = 8;

/// All `CH` reflectors of `f` on columns `c0..c0 + CH + 2` of the `RB` rows in `block`
/// (row length `nn`), as [`col_ops`] on each row (same operations, rows as vector lanes).
#[inline(always)]
fn col_block<R: Real, const B: usize>(f: &[[R; 5]; CH], block: &mut [R], nn: usize, c0: usize) {
    let mut tmp = [[R::ZERO; B]; CH + 2];
    for r in 0..B {
        let row = &block[r * nn + c0..r * nn + c0 + CH + 2];
        for (c, &v) in row.iter().enumerate() {
            tmp[c][r] = v;
        }
    }
    for (t, &[x, y, z, q, rr]) in f.iter().enumerate() {
        for r in 0..B {
            let pp = x * tmp[t][r] + y * tmp[t + 1][r] + z * tmp[t + 2][r];
            tmp[t][r] -= pp;
            tmp[t + 1][r] -= pp * q;
            tmp[t + 2][r] -= pp * rr;
        }
    }
    for r in 0..B {
        let row = &mut block[r * nn + c0..r * nn + c0 + CH + 2];
        for (c, v) in row.iter_mut().enumerate() {
            *v = tmp[c][r];
        }
    }
}

/// One reflector on three entries of a row of `H` (from the right): `c ← c (I − w vᵀ)`.
#[inline(always)]
fn col_op<R: Real>(f: &[R; 5], c: &mut [R]) {
    let [x, y, z, q, r] = *f;
    if let [c0, c1, c2] = c {
        let pp = x * *c0 + y * *c1 + z * *c2;
        *c2 -= pp * r;
        *c0 -= pp;
        *c1 -= pp * q;
    }
}

/// One reflector on one column `(a0, a1, a2)`: from the left on `H` (`ZF = false`), or on
/// the rows of `Zᵀ` (`ZF = true`, the transpose of a column update).
#[inline(always)]
fn refl3<R: Real, const ZF: bool>(f: &[R; 5], a0: R, a1: R, a2: R) -> (R, R, R) {
    let [x, y, z, q, r] = *f;
    if ZF {
        let pp = x * a0 + y * a1 + z * a2;
        (a0 - pp, a1 - pp * q, a2 - pp * r)
    } else {
        let pp = a0 + q * a1 + r * a2;
        (a0 - pp * x, a1 - pp * y, a2 - pp * z)
    }
}

/// One reflector on three rows (see [`refl3`]).
#[inline(always)]
fn row_op3<R: Real, const ZF: bool>(f: &[R; 5], r0: &mut [R], r1: &mut [R], r2: &mut [R]) {
    for ((a0, a1), a2) in r0.iter_mut().zip(r1.iter_mut()).zip(r2.iter_mut()) {
        (*a0, *a1, *a2) = refl3::<R, ZF>(f, *a0, *a1, *a2);
    }
}

/// Reflector `t` of `f` on rows `t..t + 3` of `rows` (row length `nn`), columns `c0..c1`,
/// in order; two reflectors per pass over four rows (four per pass was slower: the chain of
/// dependent operations per column gets too long).
fn row_ops<R: Real, const ZF: bool>(rows: &mut [R], nn: usize, c0: usize, c1: usize, f: &[[R; 5]]) {
    let mut t = 0;
    while t + 2 <= f.len() {
        let (r0, rest) = rows[t * nn..(t + 4) * nn].split_at_mut(nn);
        let (r1, rest) = rest.split_at_mut(nn);
        let (r2, r3) = rest.split_at_mut(nn);
        fuse2::<R, ZF>(
            &f[t..t + 2],
            &mut r0[c0..c1],
            &mut r1[c0..c1],
            &mut r2[c0..c1],
            &mut r3[c0..c1],
        );
        t += 2;
    }
    while t < f.len() {
        let (r0, rest) = rows[t * nn..(t + 3) * nn].split_at_mut(nn);
        let (r1, r2) = rest.split_at_mut(nn);
        row_op3::<R, ZF>(&f[t], &mut r0[c0..c1], &mut r1[c0..c1], &mut r2[c0..c1]);
        t += 1;
    }
}

/// Reflectors `g[0]`, `g[1]` on rows `(r0, r1, r2)`, `(r1, r2, r3)`, in one pass. The rows
/// are separate arguments so that the compiler knows they do not overlap and vectorises.
#[inline(never)]
fn fuse2<R: Real, const ZF: bool>(
    g: &[[R; 5]],
    r0: &mut [R],
    r1: &mut [R],
    r2: &mut [R],
    r3: &mut [R],
) {
    let [g0, g1] = g else { return };
    for (((a0, a1), a2), a3) in r0
        .iter_mut()
        .zip(r1.iter_mut())
        .zip(r2.iter_mut())
        .zip(r3.iter_mut())
    {
        let (b0, b1, b2) = refl3::<R, ZF>(g0, *a0, *a1, *a2);
        *a0 = b0;
        (*a1, *a2, *a3) = refl3::<R, ZF>(g1, b1, b2, *a3);
    }
}

/// Complex division `(xr + i xi) / (yr + i yi)` (Smith).
#[inline]
fn cdiv<R: Real>(xr: R, xi: R, yr: R, yi: R) -> (R, R) {
    if yr.abs() > yi.abs() {
        let r = yi / yr;
        let d = yr + r * yi;
        ((xr + r * xi) / d, (xi - r * xr) / d)
    } else {
        let r = yr / yi;
        let d = yi + r * yr;
        ((r * xr + xi) / d, (r * xi - xr) / d)
    }
}

/// Back-substitution for the eigenvectors of the quasi-triangular `t` (overwritten by the
/// upper-triangular matrix `X` of eigenvectors: column `j` for a real `λ_j`, columns
/// `(j, j+1)` = (re, im) for a pair). `val(i) = (d_i, e_i)` (pairs: `e_i > 0` first).
fn backsub<R: Real, F: Fn(usize) -> (R, R)>(nn: usize, t: &mut [R], val: F, norm: R) {
    macro_rules! hh {
        ($i:expr, $j:expr) => {
            t[($i) as usize * nn + ($j) as usize]
        };
    }
    let eps = R::EPSILON;
    if norm == R::ZERO {
        return;
    }
    let (mut r, mut s, mut z) = (R::ZERO, R::ZERO, R::ZERO);
    let mut n = nn as isize - 1;
    while n >= 0 {
        let (p, q) = val(n as usize);
        if q == R::ZERO {
            // Real vector.
            let mut l = n;
            hh!(n, n) = R::ONE;
            let mut i = n - 1;
            while i >= 0 {
                let w = hh!(i, i) - p;
                r = R::ZERO;
                for j in l..=n {
                    r += hh!(i, j) * hh!(j, n);
                }
                let (di, ei) = val(i as usize);
                if ei < R::ZERO {
                    z = w;
                    s = r;
                } else {
                    l = i;
                    if ei == R::ZERO {
                        hh!(i, n) = if w != R::ZERO {
                            -r / w
                        } else {
                            -r / (eps * norm)
                        };
                    } else {
                        // Solve the real 2×2 system.
                        let x = hh!(i, i + 1);
                        let y = hh!(i + 1, i);
                        let qq = (di - p) * (di - p) + ei * ei;
                        let tt = (x * s - z * r) / qq;
                        hh!(i, n) = tt;
                        hh!(i + 1, n) = if x.abs() > z.abs() {
                            (-r - w * tt) / x
                        } else {
                            (-s - y * tt) / z
                        };
                    }
                    // Overflow control.
                    let tt = hh!(i, n).abs();
                    if (eps * tt) * tt > R::ONE {
                        for j in i..=n {
                            hh!(j, n) /= tt;
                        }
                    }
                }
                i -= 1;
            }
        } else if q < R::ZERO {
            // Complex vector for the pair (n-1, n).
            let mut l = n - 1;
            if hh!(n, n - 1).abs() > hh!(n - 1, n).abs() {
                hh!(n - 1, n - 1) = q / hh!(n, n - 1);
                hh!(n - 1, n) = -(hh!(n, n) - p) / hh!(n, n - 1);
            } else {
                let (cr, ci) = cdiv(R::ZERO, -hh!(n - 1, n), hh!(n - 1, n - 1) - p, q);
                hh!(n - 1, n - 1) = cr;
                hh!(n - 1, n) = ci;
            }
            hh!(n, n - 1) = R::ZERO;
            hh!(n, n) = R::ONE;
            let mut i = n - 2;
            while i >= 0 {
                let mut ra = R::ZERO;
                let mut sa = R::ZERO;
                for j in l..=n {
                    ra += hh!(i, j) * hh!(j, n - 1);
                    sa += hh!(i, j) * hh!(j, n);
                }
                let w = hh!(i, i) - p;
                let (di, ei) = val(i as usize);
                if ei < R::ZERO {
                    z = w;
                    r = ra;
                    s = sa;
                } else {
                    l = i;
                    if ei == R::ZERO {
                        let (cr, ci) = cdiv(-ra, -sa, w, q);
                        hh!(i, n - 1) = cr;
                        hh!(i, n) = ci;
                    } else {
                        // Solve the complex 2×2 system.
                        let x = hh!(i, i + 1);
                        let y = hh!(i + 1, i);
                        let mut vr = (di - p) * (di - p) + ei * ei - q * q;
                        let vi = (di - p) * R::TWO * q;
                        if vr == R::ZERO && vi == R::ZERO {
                            vr = eps * norm * (w.abs() + q.abs() + x.abs() + y.abs() + z.abs());
                        }
                        let (cr, ci) =
                            cdiv(x * r - z * ra + q * sa, x * s - z * sa - q * ra, vr, vi);
                        hh!(i, n - 1) = cr;
                        hh!(i, n) = ci;
                        if x.abs() > z.abs() + q.abs() {
                            hh!(i + 1, n - 1) = (-ra - w * hh!(i, n - 1) + q * hh!(i, n)) / x;
                            hh!(i + 1, n) = (-sa - w * hh!(i, n) - q * hh!(i, n - 1)) / x;
                        } else {
                            let (cr, ci) = cdiv(-r - y * hh!(i, n - 1), -s - y * hh!(i, n), z, q);
                            hh!(i + 1, n - 1) = cr;
                            hh!(i + 1, n) = ci;
                        }
                    }
                    // Overflow control.
                    let tt = hh!(i, n - 1).abs().max(hh!(i, n).abs());
                    if (eps * tt) * tt > R::ONE {
                        for j in i..=n {
                            hh!(j, n - 1) /= tt;
                            hh!(j, n) /= tt;
                        }
                    }
                }
                i -= 1;
            }
        }
        n -= 1;
    }
}

/// Normalises eigenvector rows: unit 2-norm, largest-modulus component real positive.
fn normalize_rows<R: Real>(n: usize, v: &mut [R], e: &[R]) {
    let mut j = 0;
    while j < n {
        if e[j] > R::ZERO && j + 1 < n {
            let (a, b) = v[j * n..(j + 2) * n].split_at_mut(n);
            let nr = crate::kernel::norm2(a);
            let ni = crate::kernel::norm2(b);
            let nrm = nr.hypot(ni);
            if nrm > R::ZERO && nrm.is_finite() {
                let inv = R::ONE / nrm;
                let mut best = 0;
                let mut bm = R::ZERO;
                for (k, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                    *x *= inv;
                    *y *= inv;
                    let m = x.hypot(*y);
                    if m > bm {
                        bm = m;
                        best = k;
                    }
                }
                if bm > R::ZERO {
                    let c = a[best] / bm;
                    let s = b[best] / bm;
                    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                        let (re, im) = (*x, *y);
                        *x = re * c + im * s;
                        *y = im * c - re * s;
                    }
                    b[best] = R::ZERO;
                }
            }
            j += 2;
        } else {
            let row = &mut v[j * n..(j + 1) * n];
            let nrm = crate::kernel::norm2(row);
            if nrm > R::ZERO && nrm.is_finite() {
                let mut best = R::ZERO;
                for &x in row.iter() {
                    if x.abs() > best.abs() {
                        best = x;
                    }
                }
                let inv = if best < R::ZERO {
                    -R::ONE / nrm
                } else {
                    R::ONE / nrm
                };
                for x in row.iter_mut() {
                    *x *= inv;
                }
            }
            j += 1;
        }
    }
}

/// Stable insertion sort of eigenvalue units (a real value or a conjugate pair) by
/// decreasing modulus, rotating the vector rows along.
fn sort_by_modulus<R: Real>(
    n: usize,
    values: &mut [Eigenvalue<R>],
    mut right: Option<&mut [R]>,
    mut left: Option<&mut [R]>,
) {
    let mut s = 0;
    while s < n {
        let len = if values[s].im > R::ZERO && s + 1 < n {
            2
        } else {
            1
        };
        let m = values[s].modulus();
        // Insertion point: first earlier unit with strictly smaller modulus.
        let mut p = s;
        let mut q = 0;
        while q < s {
            if values[q].modulus() < m {
                p = q;
                break;
            }
            q += if values[q].im > R::ZERO && q + 1 < n {
                2
            } else {
                1
            };
        }
        if p < s {
            values[p..s + len].rotate_right(len);
            for v in [right.as_deref_mut(), left.as_deref_mut()]
                .into_iter()
                .flatten()
            {
                v[p * n..(s + len) * n].rotate_right(len * n);
            }
        }
        s += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_has_unit_circle_pair() {
        let (c, s) = (0.6f64, 0.8f64);
        let a = [[c, -s], [s, c]];
        let mut v = [[0.0; 2]; 2];
        let vals = eigen_array(&a, &mut v, &EigParams::default()).unwrap();
        assert!((vals[0].re - c).abs() < 1e-15 && (vals[0].im - s).abs() < 1e-15);
        assert_eq!(vals[1].im, -vals[0].im);
        assert!((vals[0].modulus() - 1.0).abs() < 1e-15);
    }

    /// `D⁻¹ (D₀ A D₀⁻¹) D` for a random `A` and power-of-two `D₀` (up to 2^±60): gebal's
    /// scaling is exact (`a_ij · s_j / s_i` bit for bit, each `s_i` a power of two), its
    /// result is a fixed point (balancing it again changes nothing), and no power-of-two
    /// rescaling of one row and column pair lowers `c + r` by more than the loop's bound
    /// (the loop leaves `c/r ∈ [½, 2)`, at most 6 % above the best, and skips gains under
    /// 5 %, so every pair is within 0.95 / 1.0607 ≈ 0.896 of its best). At 2^±480 the
    /// range guards keep every entry finite.
    #[test]
    fn scaling_is_exact_idempotent_and_balanced() {
        let mut rng = crate::Rng::new(2024);
        for case in 0..40 {
            let n = 3 + case % 6;
            let spread = if case < 32 { 60 } else { 480 };
            let k: [i32; 8] =
                core::array::from_fn(|_| (rng.uniform() * (2 * spread + 1) as f64) as i32 - spread);
            let mut a = [0.0f64; 64];
            for i in 0..n {
                for j in 0..n {
                    let d = libm::ldexp(1.0, k[i] - k[j]);
                    a[i * n + j] = if rng.uniform() < 0.2 {
                        0.0
                    } else {
                        rng.normal() * d
                    };
                }
            }
            let given = a;
            let mut scale = [0.0f64; 8];
            let w = balance(n, &mut a[..n * n], &mut scale[..n], Balance::Scale);
            assert_eq!((w.lo, w.hi), (0, n - 1));
            assert!(a[..n * n].iter().all(|x| x.is_finite()), "case {case}");
            for &s in &scale[..n] {
                assert!(s > 0.0 && s.is_finite(), "case {case}: {s}");
                assert_eq!(s.to_bits() & ((1 << 52) - 1), 0, "case {case}: {s}");
            }
            if spread > 60 {
                continue;
            }
            for i in 0..n {
                for j in 0..n {
                    let want = given[i * n + j] * scale[j] / scale[i];
                    assert_eq!(a[i * n + j].to_bits(), want.to_bits(), "case {case}");
                }
            }
            let balanced = a;
            let mut again = [0.0f64; 8];
            balance(n, &mut a[..n * n], &mut again[..n], Balance::Scale);
            assert!(
                again[..n].iter().all(|&s| s == 1.0),
                "case {case}: {again:?}"
            );
            assert_eq!(a, balanced, "case {case}");
            for i in 0..n {
                let c = norm2_iter((0..n).map(|k| a[k * n + i]));
                let r = norm2_iter((0..n).map(|k| a[i * n + k]));
                if c == 0.0 || r == 0.0 {
                    continue; // skipped by gebal
                }
                for e in -80..=80 {
                    let f = libm::ldexp(1.0, e);
                    assert!(
                        c * f + r / f >= 0.89 * (c + r),
                        "case {case}, row {i}: c = {c}, r = {r}, f = 2^{e}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_and_one_by_one() {
        let vals = eigenvalues_array(&[[0.0f32; 3]; 3], &EigParams::default()).unwrap();
        assert!(vals.iter().all(|v| v.re == 0.0 && v.im == 0.0));
        let vals = eigenvalues_array(&[[-2.5f64]], &EigParams::default()).unwrap();
        assert_eq!(vals[0], Eigenvalue { re: -2.5, im: 0.0 });
        let mut a = [1.0f64, f64::NAN, 0.0, 1.0];
        let mut vals = [Eigenvalue::default(); 2];
        let mut s = [0.0; 8];
        assert_eq!(
            eigenvalues(2, &mut a, &mut vals, &mut s, &EigParams::default()),
            Err(Error::NonFinite)
        );
    }
}
