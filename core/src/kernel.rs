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

/// `y[j] += a[j] · b[j]` over `y`'s length, eight elements at a time with every load of a
/// chunk before its stores: written as a plain loop inside the cells' row loops (slices of
/// one shared buffer, which LLVM cannot prove disjoint), it was unrolled and stayed scalar.
/// (As a [`zip_map`], 16 at a time, `rnndyn train` on GRU 16 was 3–4 % slower.)
#[inline(always)]
pub(crate) fn add_product<R: Real>(y: &mut [R], a: &[R], b: &[R]) {
    let (a, b) = (&a[..y.len()], &b[..y.len()]);
    let mut yc = y.chunks_exact_mut(8);
    let (mut ac, mut bc) = (a.chunks_exact(8), b.chunks_exact(8));
    for ((y8, a8), b8) in (&mut yc).zip(&mut ac).zip(&mut bc) {
        let mut sum = [R::ZERO; 8];
        for k in 0..8 {
            sum[k] = y8[k] + a8[k] * b8[k];
        }
        y8.copy_from_slice(&sum);
    }
    let rest = yc.into_remainder().iter_mut();
    for ((yj, &aj), &bj) in rest.zip(ac.remainder()).zip(bc.remainder()) {
        *yj += aj * bj;
    }
}

/// Elements per chunk of [`zip_map`]: one 512-bit vector of `f32`.
const ZIP_CHUNK: usize = 16;

/// `out[j] = f(out[j], [ins[0][j], …, ins[K−1][j]])` over `out`'s length, [`ZIP_CHUNK`]
/// elements at a time with every load of a chunk before its stores. The cells' row loops
/// take their slices from shared buffers, which LLVM cannot prove disjoint: written there
/// as plain loops, the forward updates of GRU, UGRNN and LSTM ran one element at a time.
#[inline(always)]
pub(crate) fn zip_map<R: Real, const K: usize>(
    out: &mut [R],
    ins: [&[R]; K],
    f: impl Fn(R, [R; K]) -> R,
) {
    let n = out.len();
    let ins: [&[R]; K] = ins.map(|s| &s[..n]);
    let mut chunks = out.chunks_exact_mut(ZIP_CHUNK);
    let mut j = 0;
    for chunk in &mut chunks {
        let mut res = [R::ZERO; ZIP_CHUNK];
        for (l, r) in res.iter_mut().enumerate() {
            *r = f(chunk[l], core::array::from_fn(|k| ins[k][j + l]));
        }
        chunk.copy_from_slice(&res);
        j += ZIP_CHUNK;
    }
    for (l, o) in chunks.into_remainder().iter_mut().enumerate() {
        *o = f(*o, core::array::from_fn(|k| ins[k][j + l]));
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

/// Euclidean norm without overflow for moderate sizes (scaled sum of squares); NaN if any
/// entry is NaN (`Real::max` skips NaN, which would make an all-NaN vector's norm 0).
pub(crate) fn norm2<R: Real>(a: &[R]) -> R {
    let mut scale = R::ZERO;
    for &x in a {
        if x.is_nan() {
            return x;
        }
        scale = scale.max(x.abs());
    }
    if scale == R::ZERO || !scale.is_finite() {
        return scale;
    }
    let mut s = R::ZERO;
    for &x in a {
        s += (x / scale).square();
    }
    scale * Real::sqrt(s)
}

// ---------------------------------------------------------------------------------------
// Batched (matrix-matrix) kernels for BPTT over a whole batch.
//
// Every output element is accumulated sequentially in the index order of the reduction
// dimension (never split into partial sums), and every inner loop is an axpy over
// contiguous outputs (broadcast × vector). Results are therefore independent of the SIMD
// width the compiler picks, and LLVM vectorises them without reassociation.
// ---------------------------------------------------------------------------------------

/// Rows of the register tile.
const MR: usize = 4;
/// Rows of the register tiles of [`gemm_acc`] and [`gemm_tn_acc`]. With AVX-512 (32 vector
/// registers) 8 rows of one 16-lane vector: 8 independent sums instead of 4 to hide the add
/// latency (training step 10–20 % faster at N = 128, BENCHMARKS.md; `gemm_tn_acc` 2–8 % at
/// N = 64 once `tn_step` kept its tile in registers).
#[cfg(target_feature = "avx512f")]
const GEMM_MR: usize = 8;
#[cfg(not(target_feature = "avx512f"))]
const GEMM_MR: usize = MR;
/// Columns of the register tile: `MR × NR` accumulators must fit the vector registers
/// (16 × 256-bit with AVX: two vectors of f32 per row, one 512-bit vector with AVX-512;
/// 16 × 128-bit with SSE2: two vectors per row; 32 single-precision registers on a
/// Cortex-M4F). With AVX-512 the entry points also use tiles of [`WIDE_NR`] columns.
/// The tiled kernels take the width as a const parameter (`gemm_acc_nr`, `gemm_tn_acc_nr`)
/// so that the tests run every width on the host; the entry points pass this one.
#[cfg(target_feature = "avx")]
const NR: usize = 16;
#[cfg(all(not(target_feature = "avx"), target_arch = "x86_64"))]
const NR: usize = 8;
#[cfg(all(not(target_feature = "avx"), not(target_arch = "x86_64")))]
const NR: usize = 4;

/// `C[m×n] += A[m×k] · W[k×n]`, all row-major with leading dimensions `ldc`, `lda`, `ldw`.
/// Each `C[i, j]` gets `A[i, p] · W[p, j]` added for `p = 0, 1, …, k−1` in order.
// The wrapper always vanishes, so `gemm_acc_nr::<R, NR>` gets the inlining decisions
// the body had before the tile width became a parameter.
#[inline(always)]
pub(crate) fn gemm_acc<R: Real>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    w: &[R],
    ldw: usize,
    m: usize,
    k: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let wide = wide_columns(n);
    if wide > 0 {
        gemm_acc_nr::<R, WIDE_NR>(c, ldc, a, lda, w, ldw, m, k, wide);
    }
    if wide < n {
        gemm_acc_nr::<R, NR>(&mut c[wide..], ldc, a, lda, &w[wide..], ldw, m, k, n - wide)
    }
}

/// Columns of the wide register tiles of [`gemm_acc`] and [`gemm_tn_acc`] (AVX-512 only).
const WIDE_NR: usize = 2 * NR;

/// The leading columns of an `n`-column product that go in wide tiles. With AVX-512, two
/// vectors per row where they fit: one broadcast of `A` per two multiply-adds and 16
/// independent sums per tile (N = 64 training steps 3–7 % faster for each of the two
/// products). From n = 64 only: at n = 32 and 48 (UGRNN, GRU at N = 16) the bench gained
/// 1–3 % but the GRU 16 population (`rnndyn train`) lost 2 % (BENCHMARKS.md). An earlier
/// 32-wide `gemm_tn_acc` tile left the registers; `tn_step` keeps it there.
#[inline(always)]
fn wide_columns(n: usize) -> usize {
    if cfg!(target_feature = "avx512f") && n >= 64 {
        n - n % WIDE_NR
    } else {
        0
    }
}

/// [`gemm_acc`] with register tiles `GEMM_MR × TW` (`TW` = [`NR`] outside the tests).
#[inline]
fn gemm_acc_nr<R: Real, const TW: usize>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    w: &[R],
    ldw: usize,
    m: usize,
    k: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let nfull = n - n % TW;
    let mut j = 0;
    while j < nfull {
        gemm_columns::<R, TW>(c, ldc, a, lda, w, ldw, m, k, j);
        j += TW;
    }
    if nfull < n {
        // Column remainder (e.g. the O = 3 readout), still sequential in p.
        let nr = n - nfull;
        macro_rules! narrow {
            ($($width:literal)*) => {
                match nr {
                    $($width => {
                        // Register tiles of `GEMM_MR` rows: one row's `k` dependent adds
                        // left the adders idle (the readout was 10 % of a vanilla-64 step).
                        gemm_columns::<R, $width>(c, ldc, a, lda, w, ldw, m, k, nfull);
                    })*
                    _ => {
                        for i in 0..m {
                            let crow = &mut c[i * ldc + nfull..i * ldc + n];
                            let arow = &a[i * lda..i * lda + k];
                            for (p, &ap) in arow.iter().enumerate() {
                                axpy(crow, ap, &w[p * ldw + nfull..p * ldw + nfull + nr]);
                            }
                        }
                    }
                }
            };
        }
        narrow!(1 2 3 4);
    }
}

/// Columns `j..j + TW` of [`gemm_acc`]: all `m` rows in tiles of `GEMM_MR` rows, then
/// one row at a time.
#[inline(always)]
fn gemm_columns<R: Real, const TW: usize>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    w: &[R],
    ldw: usize,
    m: usize,
    k: usize,
    j: usize,
) {
    let mut i = 0;
    while i + GEMM_MR <= m {
        let (c, a) = (&mut c[i * ldc + j..], &a[i * lda..]);
        gemm_tile::<R, GEMM_MR, TW>(c, ldc, a, lda, &w[j..], ldw, k);
        i += GEMM_MR;
    }
    while i < m {
        let (c, a) = (&mut c[i * ldc + j..], &a[i * lda..]);
        gemm_tile::<R, 1, TW>(c, ldc, a, lda, &w[j..], ldw, k);
        i += 1;
    }
}

/// `c[j] += Σ_{p<k} a(p) · row(p)[j]` for `j < W`, sequential in `p`, with the `W` sums in
/// a const-size array: they stay in registers. (A runtime-width axpy into `c` per `p` was
/// vectorised with masked stores and loads of `c`, which stall on store forwarding at
/// every step: 3× the time of a whole vanilla-16 training step, depending on inlining.)
#[inline(always)]
fn narrow_row_acc<'w, R: Real + 'w, const W: usize>(
    c: &mut [R],
    k: usize,
    a: impl Fn(usize) -> R,
    row: impl Fn(usize) -> &'w [R],
) {
    let mut acc = [R::ZERO; W];
    acc.copy_from_slice(&c[..W]);
    for p in 0..k {
        let ap = a(p);
        let r: &[R; W] = row(p)[..W].try_into().unwrap();
        for j in 0..W {
            acc[j] += ap * r[j];
        }
    }
    c[..W].copy_from_slice(&acc);
}

/// One `ROWS × TW` register tile of [`gemm_acc`] at the start of `c`, `a`, `w`.
#[inline(always)]
fn gemm_tile<R: Real, const ROWS: usize, const TW: usize>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    w: &[R],
    ldw: usize,
    k: usize,
) {
    let mut acc = [[R::ZERO; TW]; ROWS];
    for (ii, accr) in acc.iter_mut().enumerate() {
        accr.copy_from_slice(&c[ii * ldc..ii * ldc + TW]);
    }
    let arows: [&[R]; ROWS] = core::array::from_fn(|ii| &a[ii * lda..ii * lda + k]);
    for p in 0..k {
        let wr: &[R; TW] = w[p * ldw..p * ldw + TW].try_into().unwrap();
        for ii in 0..ROWS {
            let av = arows[ii][p];
            for jj in 0..TW {
                acc[ii][jj] += av * wr[jj];
            }
        }
    }
    for (ii, accr) in acc.iter().enumerate() {
        c[ii * ldc..ii * ldc + TW].copy_from_slice(accr);
    }
}

/// `C[m×n] += Aᵀ · B` with `A` of shape `k×m` (leading dimension `lda`) and `B` of shape
/// `k×n` (leading dimension `ldb`): `C[i, j] += A[p, i] · B[p, j]` for `p = 0, …, k−1` in
/// order. Used for weight gradients summed over all (time, trial) rows.
// The wrapper always vanishes, so `gemm_tn_acc_nr::<R, NR>` gets the inlining decisions
// the body had before the tile width became a parameter.
#[inline(always)]
pub(crate) fn gemm_tn_acc<R: Real>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    b: &[R],
    ldb: usize,
    k: usize,
    m: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let wide = wide_columns(n);
    if wide > 0 {
        gemm_tn_acc_nr::<R, WIDE_NR>(c, ldc, a, lda, b, ldb, k, m, wide);
    }
    if wide < n {
        gemm_tn_acc_nr::<R, NR>(&mut c[wide..], ldc, a, lda, &b[wide..], ldb, k, m, n - wide)
    }
}

/// [`gemm_tn_acc`] with register tiles `GEMM_MR × TW` (`TW` = [`NR`] outside the tests).
#[inline]
fn gemm_tn_acc_nr<R: Real, const TW: usize>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    b: &[R],
    ldb: usize,
    k: usize,
    m: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // Row-major operands (the rows are walked as whole chunks of `lda` and `ldb`).
    debug_assert!(lda >= m && ldb >= n);
    // Block the long reduction dimension so that the `KC` rows of `A` in use (16 KB at
    // m = 64, f32) and one `KC × TW` panel of `B` stay in L1 while the tiles of a column
    // pass over them; blocks run in order, so each output is still accumulated
    // sequentially in `p`.
    let mut k0 = 0;
    while k0 < k {
        let kc = KC.min(k - k0);
        gemm_tn_block::<R, TW>(c, ldc, &a[k0 * lda..], lda, &b[k0 * ldb..], ldb, kc, m, n);
        k0 += kc;
    }
}

/// Rows of `A` and `B` per block of [`gemm_tn_acc`] (256 until 2026-11-27; see
/// BENCHMARKS.md, "Weight-gradient GEMM").
const KC: usize = 64;

#[inline(always)]
fn gemm_tn_block<R: Real, const TW: usize>(
    c: &mut [R],
    ldc: usize,
    a: &[R],
    lda: usize,
    b: &[R],
    ldb: usize,
    k: usize,
    m: usize,
    n: usize,
) {
    let nfull = n - n % TW;
    // All rows but the last, as whole rows of `A` and `B` (see `gemm_tn_tile`); built once
    // per block and cloned per tile, since its length costs two divisions.
    let last = k - 1;
    let rows = a[..last * lda]
        .chunks_exact(lda)
        .zip(b[..last * ldb].chunks_exact(ldb));
    let (alast, blast) = (&a[last * lda..], &b[last * ldb..]);
    let mut j = 0;
    while j < nfull {
        let mut i = 0;
        while i + GEMM_MR <= m {
            let c = &mut c[i * ldc + j..];
            gemm_tn_tile::<R, GEMM_MR, TW>(c, ldc, rows.clone(), alast, i, blast, j);
            i += GEMM_MR;
        }
        while i + MR <= m {
            let c = &mut c[i * ldc + j..];
            gemm_tn_tile::<R, MR, TW>(c, ldc, rows.clone(), alast, i, blast, j);
            i += MR;
        }
        while i < m {
            let c = &mut c[i * ldc + j..];
            gemm_tn_tile::<R, 1, TW>(c, ldc, rows.clone(), alast, i, blast, j);
            i += 1;
        }
        j += TW;
    }
    if nfull < n {
        let nr = n - nfull;
        macro_rules! narrow {
            ($($width:literal)*) => {
                match nr {
                    $($width => {
                        for i in 0..m {
                            let row = i * ldc + nfull;
                            narrow_row_acc::<R, $width>(
                                &mut c[row..row + $width],
                                k,
                                |p| a[p * lda + i],
                                |p| &b[p * ldb + nfull..p * ldb + nfull + $width],
                            );
                        }
                    })*
                    _ => {
                        for i in 0..m {
                            let crow = &mut c[i * ldc + nfull..i * ldc + n];
                            for p in 0..k {
                                axpy(
                                    crow,
                                    a[p * lda + i],
                                    &b[p * ldb + nfull..p * ldb + nfull + nr],
                                );
                            }
                        }
                    }
                }
            };
        }
        // Register sums for narrow remainders, as in `gemm_acc` (see `narrow_row_acc`).
        narrow!(1 2 3 4);
    }
}

/// One `ROWS × TW` register tile of [`gemm_tn_acc`]: rows `i..i + ROWS` of `C`, columns
/// `j..j + TW`, summed over `rows` (whole rows of `A` and `B`) and then the last rows
/// `alast`, `blast` (which may end right after the tile).
// Whole rows make the in-row ranges the same bounds check at every `p`, which LLVM hoists
// out of the loop. (Indexing `a[p·lda + i..]` cost two checks per row and slice, 10 of
// the loop's 36 instructions.)
#[inline(always)]
fn gemm_tn_tile<'a, R: Real + 'a, const ROWS: usize, const TW: usize>(
    c: &mut [R],
    ldc: usize,
    rows: impl Iterator<Item = (&'a [R], &'a [R])>,
    alast: &[R],
    i: usize,
    blast: &[R],
    j: usize,
) {
    let mut acc = [[R::ZERO; TW]; ROWS];
    for (ii, accr) in acc.iter_mut().enumerate() {
        accr.copy_from_slice(&c[ii * ldc..ii * ldc + TW]);
    }
    for (ar, br) in rows {
        let ar = ar[i..i + ROWS].try_into().unwrap();
        tn_step(&mut acc, ar, br[j..j + TW].try_into().unwrap());
    }
    let ar = alast[i..i + ROWS].try_into().unwrap();
    tn_step(&mut acc, ar, blast[j..j + TW].try_into().unwrap());
    for (ii, accr) in acc.iter().enumerate() {
        c[ii * ldc..ii * ldc + TW].copy_from_slice(accr);
    }
}

/// One `p` of [`gemm_tn_tile`]: row `ii` of the tile gets `ar[ii] · br` added.
// Rows in groups of four written out: as one loop over eight rows, LLVM vectorised across
// the rows (the tile in memory, gathers and scatters per `p`: 3–10× slower).
#[inline(always)]
fn tn_step<R: Real, const ROWS: usize, const TW: usize>(
    acc: &mut [[R; TW]; ROWS],
    ar: &[R; ROWS],
    br: &[R; TW],
) {
    #[inline(always)]
    fn row<R: Real, const TW: usize>(accr: &mut [R; TW], av: R, br: &[R; TW]) {
        for jj in 0..TW {
            accr[jj] += av * br[jj];
        }
    }
    let mut ii = 0;
    while ii + 4 <= ROWS {
        row(&mut acc[ii], ar[ii], br);
        row(&mut acc[ii + 1], ar[ii + 1], br);
        row(&mut acc[ii + 2], ar[ii + 2], br);
        row(&mut acc[ii + 3], ar[ii + 3], br);
        ii += 4;
    }
    while ii < ROWS {
        row(&mut acc[ii], ar[ii], br);
        ii += 1;
    }
}

/// `dst[j·rows + i] = src[i·ld + col0 + j]` for `i < rows`, `j < cols` (transposed copy of
/// a column block).
#[inline]
pub(crate) fn transpose<R: Real>(
    dst: &mut [R],
    src: &[R],
    ld: usize,
    col0: usize,
    rows: usize,
    cols: usize,
) {
    for i in 0..rows {
        for j in 0..cols {
            dst[j * rows + i] = src[i * ld + col0 + j];
        }
    }
}

/// Runs `$body` once per column block `j0..j0 + W` of `0..n`, `W` a const taken widest
/// first from the list (the kernels below keep a block's sums in `[R; W]` registers).
macro_rules! column_blocks {
    ($n:expr, [$($w:literal)*], |$j0:ident, $width:ident| $body:expr) => {{
        let n = $n;
        let mut $j0 = 0;
        while $j0 < n {
            $(
                if n - $j0 >= $w {
                    const $width: usize = $w;
                    $body;
                    $j0 += $w;
                    continue;
                }
            )*
        }
    }};
}

/// `Z[(t·B + b)·ld + j] = bias[j] + Σ_k x[(b·T + t)·I + k] · U[k·ld + j]` for every
/// `(t, b)` and `j < ld`, the products added to the bias in order of `k`. `xs` is
/// trial-major, `z` time-major. Dense: a zero input adds ±0, which leaves every sum as it
/// is unless the bias is −0 (skipping zeros, flip-flop inputs being 95 % zero, cost a
/// mispredicted branch at every pulse; the whole pass was 7 % of a vanilla 16 step).
#[inline]
pub(crate) fn input_projection<R: Real, const I: usize>(
    z: &mut [R],
    ld: usize,
    bias: &[R],
    u: &[R],
    xs: &[R],
    batch: usize,
    steps: usize,
) {
    if batch == 0 || steps == 0 || ld == 0 {
        // Nothing to write (and no zero-length chunks below).
        return;
    }
    // The block of `U` and the bias stay in registers across all rows.
    column_blocks!(ld, [64 48 32 16 8 4 2 1], |j0, W| {
        input_projection_block::<R, I, W>(z, ld, j0, bias, u, xs, batch, steps)
    });
}

/// [`input_projection`] on the `W` columns at `j0`.
#[inline(always)]
fn input_projection_block<R: Real, const I: usize, const W: usize>(
    z: &mut [R],
    ld: usize,
    j0: usize,
    bias: &[R],
    u: &[R],
    xs: &[R],
    batch: usize,
    steps: usize,
) {
    let b0: [R; W] = bias[j0..j0 + W].try_into().unwrap();
    let uk: [[R; W]; I] =
        core::array::from_fn(|k| u[k * ld + j0..k * ld + j0 + W].try_into().unwrap());
    // In the order of `z`'s rows: in the order of `xs`, the stores were `B · ld` apart
    // (4 KiB at vanilla 16) and the pass took twice as long (4K aliasing, presumably).
    for (t, zt) in z.chunks_exact_mut(batch * ld).take(steps).enumerate() {
        for (b, zr) in zt.chunks_exact_mut(ld).enumerate() {
            let xi = (b * steps + t) * I;
            let x: &[R; I] = xs[xi..xi + I].try_into().unwrap();
            let mut acc = b0;
            for k in 0..I {
                for l in 0..W {
                    acc[l] += x[k] * uk[k][l];
                }
            }
            zr[j0..j0 + W].copy_from_slice(&acc);
        }
    }
}

/// `dU[k·ld + j] += Σ_{t,b} x[(b·T + t)·I + k] · dZ[(t·B + b)·ld + j]` and
/// `db[j] += Σ_{t,b} dZ[(t·B + b)·ld + j]` for `j < ld`: both sums over the rows in
/// time-major order (`col_sum_acc`'s), in one pass over `dZ`. Dense, as
/// [`input_projection`]: `du` and `db` start from +0 in training, and adding ±0 to a
/// sum that is not −0 leaves it as it is.
#[inline]
pub(crate) fn input_and_bias_grad_acc<R: Real, const I: usize>(
    du: &mut [R],
    db: &mut [R],
    dz: &[R],
    ld: usize,
    xs: &[R],
    batch: usize,
    steps: usize,
) {
    column_blocks!(ld, [64 48 32 16 8 4 2 1], |j0, W| {
        input_grad_block::<R, I, W>(du, db, dz, ld, j0, xs, batch, steps)
    });
}

/// [`input_and_bias_grad_acc`] on the `W` columns at `j0`, the sums in registers across
/// all rows (sums kept in memory wait on the previous row's store).
#[inline(always)]
fn input_grad_block<R: Real, const I: usize, const W: usize>(
    du: &mut [R],
    db: &mut [R],
    dz: &[R],
    ld: usize,
    j0: usize,
    xs: &[R],
    batch: usize,
    steps: usize,
) {
    let mut acc_u: [[R; W]; I] =
        core::array::from_fn(|k| du[k * ld + j0..k * ld + j0 + W].try_into().unwrap());
    let mut acc_b: [R; W] = db[j0..j0 + W].try_into().unwrap();
    for t in 0..steps {
        for b in 0..batch {
            let xi = (b * steps + t) * I;
            let x: &[R; I] = xs[xi..xi + I].try_into().unwrap();
            let at = (t * batch + b) * ld + j0;
            let d: &[R; W] = dz[at..at + W].try_into().unwrap();
            for l in 0..W {
                acc_b[l] += d[l];
            }
            for k in 0..I {
                for l in 0..W {
                    acc_u[k][l] += x[k] * d[l];
                }
            }
        }
    }
    for (k, acc) in acc_u.iter().enumerate() {
        du[k * ld + j0..k * ld + j0 + W].copy_from_slice(acc);
    }
    db[j0..j0 + W].copy_from_slice(&acc_b);
}

/// `db[j] += Σ_r dZ[r·ldz + zcol0 + j]` over `rows` rows, in row order.
#[inline]
pub(crate) fn col_sum_acc<R: Real>(db: &mut [R], dz: &[R], ldz: usize, zcol0: usize, rows: usize) {
    // `n`, `2n`, `3n` and `4n` of every supported hidden size up to 256 columns take at
    // most two blocks.
    column_blocks!(db.len(), [128 96 64 48 32 24 16 12 8 4 3 2 1], |j0, W| {
        col_sum_block::<R, W>(&mut db[j0..j0 + W], dz, ldz, zcol0 + j0, rows)
    });
}

/// [`col_sum_acc`] on `W` columns, the sums in a `[R; W]` (registers) across all rows:
/// sums kept in `db` itself waited, row after row, on the previous row's store.
#[inline(always)]
fn col_sum_block<R: Real, const W: usize>(
    db: &mut [R],
    dz: &[R],
    ldz: usize,
    zcol0: usize,
    rows: usize,
) {
    let mut acc: [R; W] = db[..W].try_into().unwrap();
    for r in 0..rows {
        let d: &[R; W] = dz[r * ldz + zcol0..r * ldz + zcol0 + W].try_into().unwrap();
        for j in 0..W {
            acc[j] += d[j];
        }
    }
    db[..W].copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    //! The tiled GEMMs at every register-tile width used on some target (4: Cortex-M4F, 8:
    //! x86_64 without AVX, 16: AVX), bit for bit against the documented order: each
    //! `C[i, j]` starts from its old value and gets the products added one at a time for
    //! `p = 0, 1, …, k−1` (separate multiply and add).
    use super::*;
    use crate::rng::Rng;
    use std::vec::Vec;

    /// Reference: `C[i, j] += A[i, p] · W[p, j]` for `p` in order.
    fn naive_acc<R: Real>(
        c: &mut [R],
        ldc: usize,
        a: &[R],
        lda: usize,
        w: &[R],
        ldw: usize,
        m: usize,
        k: usize,
        n: usize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut acc = c[i * ldc + j];
                for p in 0..k {
                    acc += a[i * lda + p] * w[p * ldw + j];
                }
                c[i * ldc + j] = acc;
            }
        }
    }

    /// Reference: `C[i, j] += A[p, i] · B[p, j]` for `p` in order ([`naive_acc`] on `Aᵀ`).
    fn naive_tn_acc<R: Real>(
        c: &mut [R],
        ldc: usize,
        a: &[R],
        lda: usize,
        b: &[R],
        ldb: usize,
        k: usize,
        m: usize,
        n: usize,
    ) {
        let at: Vec<R> = (0..m * k).map(|x| a[(x % k) * lda + x / k]).collect();
        naive_acc(c, ldc, &at, k, b, ldb, m, k, n);
    }

    /// Values of mixed magnitudes (so that the order of the additions shows in the bits),
    /// with some exact zeros.
    fn fill<R: Real>(len: usize, rng: &mut Rng) -> Vec<R> {
        (0..len)
            .map(|_| {
                if rng.bernoulli(0.1) {
                    R::ZERO
                } else {
                    let e = libm::floor(8.0 * rng.normal()).clamp(-20.0, 20.0);
                    R::from_f64(rng.normal() * libm::exp2(e))
                }
            })
            .collect()
    }

    fn bits<R: Real>(v: &[R]) -> Vec<u64> {
        v.iter().map(|x| x.to_f64().to_bits()).collect()
    }

    /// Around one and two tiles of 4 and 8 rows (8 is `gemm_acc`'s with AVX-512).
    const MS: [usize; 11] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17];
    /// Reductions shorter than, one past and several times `KC` (64), ending mid-block.
    const KS: [usize; 8] = [0, 1, 2, 3, 5, 17, 65, 300];
    /// 0, 1, the remainders 1–7 after one or two tiles of 4, 8 and 16, full tiles, and
    /// the entry points' wide tiles (n ≥ 64, both products) with and without a remainder.
    const NS: [usize; 27] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 23, 32, 35, 36, 64,
        83, 96,
    ];

    /// Every shape, with leading dimensions equal to or larger than the widths.
    fn shapes(mut f: impl FnMut(usize, usize, usize, usize)) {
        for &m in &MS {
            for &k in &KS {
                if k > KC && m > 5 {
                    continue; // the reductions that cross KC on fewer shapes
                }
                for &n in &NS {
                    for pad in [0, 3] {
                        f(m, k, n, pad);
                    }
                }
            }
        }
    }

    fn gemm_matches_naive<R: Real, const TW: usize>() {
        let mut rng = Rng::new(77 + TW as u64);
        let mut cases = 0;
        shapes(|m, k, n, pad| {
            let (ldc, lda, ldw) = (n + pad, k + 2 * pad, n + pad + 1);
            let a: Vec<R> = fill(m * lda, &mut rng);
            let w: Vec<R> = fill(k * ldw, &mut rng);
            let c0: Vec<R> = fill(m * ldc, &mut rng);
            let mut want = c0.clone();
            naive_acc(&mut want, ldc, &a, lda, &w, ldw, m, k, n);
            let mut got = c0.clone();
            gemm_acc_nr::<R, TW>(&mut got, ldc, &a, lda, &w, ldw, m, k, n);
            assert!(
                bits(&got) == bits(&want),
                "gemm_acc TW={TW} m={m} k={k} n={n} pad={pad}"
            );
            cases += 1;
        });
        assert!(cases > 2000);
    }

    fn gemm_tn_matches_naive<R: Real, const TW: usize>() {
        let mut rng = Rng::new(91 + TW as u64);
        shapes(|m, k, n, pad| {
            let (ldc, lda, ldb) = (n + pad, m + 2 * pad, n + pad + 1);
            let a: Vec<R> = fill(k * lda, &mut rng);
            let b: Vec<R> = fill(k * ldb, &mut rng);
            let c0: Vec<R> = fill(m * ldc, &mut rng);
            let mut want = c0.clone();
            naive_tn_acc(&mut want, ldc, &a, lda, &b, ldb, k, m, n);
            let mut got = c0.clone();
            gemm_tn_acc_nr::<R, TW>(&mut got, ldc, &a, lda, &b, ldb, k, m, n);
            assert!(
                bits(&got) == bits(&want),
                "gemm_tn_acc TW={TW} m={m} k={k} n={n} pad={pad}"
            );
        });
    }

    #[test]
    fn gemm_acc_every_tile_width_is_bit_identical_to_the_naive_order() {
        gemm_matches_naive::<f32, 4>();
        gemm_matches_naive::<f32, 8>();
        gemm_matches_naive::<f32, 16>();
        gemm_matches_naive::<f32, 32>();
        gemm_matches_naive::<f64, 4>();
        gemm_matches_naive::<f64, 8>();
        gemm_matches_naive::<f64, 16>();
    }

    #[test]
    fn gemm_tn_acc_every_tile_width_is_bit_identical_to_the_naive_order() {
        gemm_tn_matches_naive::<f32, 4>();
        gemm_tn_matches_naive::<f32, 8>();
        gemm_tn_matches_naive::<f32, 16>();
        gemm_tn_matches_naive::<f32, 32>();
        gemm_tn_matches_naive::<f64, 4>();
        gemm_tn_matches_naive::<f64, 8>();
        gemm_tn_matches_naive::<f64, 16>();
    }

    /// Shapes `(rows, n, col0, ld)` for `col_sum_acc` and `transpose`: column blocks at
    /// `col0 > 0` narrower than the rows, and `col_sum_acc`'s column blocks: 64 + 16 + 4 +
    /// 3, 96 + 24 + 4 + 3, 128 + 48 + 12 + 3 and 32 + 8 + 2 (with n = 1, every width).
    const COLUMN_SHAPES: [(usize, usize, usize, usize); 8] = [
        (1, 1, 0, 1),
        (12, 87, 1, 90),
        (6, 127, 0, 127),
        (4, 191, 2, 200),
        (8, 42, 0, 42),
        (15, 4, 2, 7),
        (6, 3, 3, 8),
        (260, 5, 1, 7),
    ];

    /// `col_sum_acc` and `transpose` bit for bit against their documented index order.
    fn column_kernels_match<R: Real>() {
        let mut rng = Rng::new(29);
        for (rows, n, col0, ld) in COLUMN_SHAPES {
            let what = std::format!("rows={rows} n={n} col0={col0} ld={ld}");
            let dz: Vec<R> = fill(rows * ld, &mut rng);
            let db0: Vec<R> = fill(n, &mut rng);
            let mut want = db0.clone();
            for j in 0..n {
                for r in 0..rows {
                    want[j] += dz[r * ld + col0 + j];
                }
            }
            let mut got = db0;
            col_sum_acc(&mut got, &dz, ld, col0, rows);
            assert!(bits(&got) == bits(&want), "col_sum_acc {what}");

            // The `n`-column block of `rows` rows at `col0` of `dz`, transposed.
            let mut got = std::vec![R::from_f64(f64::NAN); n * rows];
            transpose(&mut got, &dz, ld, col0, rows, n);
            let want: Vec<R> = (0..n * rows)
                .map(|x| dz[(x % rows) * ld + col0 + x / rows])
                .collect();
            assert!(bits(&got) == bits(&want), "transpose {what}");
        }
    }

    #[test]
    fn column_kernels_are_bit_identical_to_the_naive_order() {
        column_kernels_match::<f32>();
        column_kernels_match::<f64>();
    }

    /// Shapes `(batch, steps, ld)` for the input kernels, run with 1, 2, 3, 4 and 65
    /// inputs: every column block (64 48 32 16 8 4 2 1) alone and in sums (87 = 64 + 16 +
    /// 4 + 2 + 1, 127 = 64 + 48 + 8 + 4 + 2 + 1, 200 = 3 · 64 + 8), a batch of one, one
    /// step, and batches and steps that are not equal (so a swapped index shows).
    const INPUT_SHAPES: [(usize, usize, usize); 9] = [
        (1, 1, 1),
        (3, 4, 87),
        (2, 3, 127),
        (2, 2, 200),
        (4, 1, 48),
        (5, 3, 32),
        (70, 2, 7),
        (3, 5, 16),
        (2, 7, 6),
    ];

    /// `input_projection` and `input_and_bias_grad_acc` bit for bit against their
    /// documented order with every term added, and against the same order skipping zero
    /// inputs (as the sparse kernels they replaced): `fill` makes 10 % of the inputs zero,
    /// and the biases and sums are never −0, so the two must agree.
    fn input_kernels_match<R: Real, const I: usize>(rng: &mut Rng) {
        for (batch, steps, ld) in INPUT_SHAPES {
            let what = std::format!("B={batch} T={steps} I={I} ld={ld}");
            let rows = batch * steps;
            let xs: Vec<R> = fill(rows * I, rng);
            let u: Vec<R> = fill(I * ld, rng);
            let bias: Vec<R> = fill(ld, rng);
            let x = |b: usize, t: usize, k: usize| xs[(b * steps + t) * I + k];
            for skip_zeros in [false, true] {
                let mut want = std::vec![R::ZERO; rows * ld];
                for t in 0..steps {
                    for b in 0..batch {
                        for j in 0..ld {
                            let mut acc = bias[j];
                            for k in 0..I {
                                if !(skip_zeros && x(b, t, k) == R::ZERO) {
                                    acc += x(b, t, k) * u[k * ld + j];
                                }
                            }
                            want[(t * batch + b) * ld + j] = acc;
                        }
                    }
                }
                let mut got = std::vec![R::from_f64(f64::NAN); rows * ld];
                input_projection::<R, I>(&mut got, ld, &bias, &u, &xs, batch, steps);
                assert!(
                    bits(&got) == bits(&want),
                    "input_projection {what} skip_zeros={skip_zeros}"
                );
            }

            let dz: Vec<R> = fill(rows * ld, rng);
            let (du0, db0): (Vec<R>, Vec<R>) = (fill(I * ld, rng), fill(ld, rng));
            for skip_zeros in [false, true] {
                let (mut want_u, mut want_b) = (du0.clone(), db0.clone());
                for t in 0..steps {
                    for b in 0..batch {
                        let d = &dz[(t * batch + b) * ld..(t * batch + b + 1) * ld];
                        for j in 0..ld {
                            want_b[j] += d[j];
                            for k in 0..I {
                                if !(skip_zeros && x(b, t, k) == R::ZERO) {
                                    want_u[k * ld + j] += x(b, t, k) * d[j];
                                }
                            }
                        }
                    }
                }
                let (mut du, mut db) = (du0.clone(), db0.clone());
                input_and_bias_grad_acc::<R, I>(&mut du, &mut db, &dz, ld, &xs, batch, steps);
                assert!(
                    bits(&du) == bits(&want_u) && bits(&db) == bits(&want_b),
                    "input_and_bias_grad_acc {what} skip_zeros={skip_zeros}"
                );
            }
        }
        // No rows: nothing written.
        let (u, bias) = (std::vec![R::ONE; I * 3], std::vec![R::ONE; 3]);
        let mut z: Vec<R> = Vec::new();
        input_projection::<R, I>(&mut z, 3, &bias, &u, &[], 0, 5);
        let (mut du, mut db) = (u.clone(), bias.clone());
        input_and_bias_grad_acc::<R, I>(&mut du, &mut db, &[], 3, &[], 4, 0);
        assert!(du == u && db == bias);
    }

    #[test]
    fn input_kernels_are_bit_identical_to_the_naive_order() {
        let mut rng = Rng::new(31);
        input_kernels_match::<f32, 1>(&mut rng);
        input_kernels_match::<f32, 2>(&mut rng);
        input_kernels_match::<f32, 3>(&mut rng);
        input_kernels_match::<f32, 4>(&mut rng);
        input_kernels_match::<f32, 65>(&mut rng);
        input_kernels_match::<f64, 1>(&mut rng);
        input_kernels_match::<f64, 3>(&mut rng);
        input_kernels_match::<f64, 65>(&mut rng);
    }

    /// `norm2` scales before squaring: exact on a scaled 3-4-5 triangle from the subnormals
    /// to near the overflow threshold (where a plain sum of squares underflows or
    /// overflows); 0 for zeros and for no entries, +∞ with an infinite entry, NaN with a
    /// NaN one (also after an infinite one).
    fn norm2_cases<R: Real>(exps: &[i32]) {
        for &e in exps {
            let s = libm::exp2(e as f64);
            let v = [R::from_f64(3.0 * s), R::from_f64(-4.0 * s)];
            assert_eq!(norm2(&v).to_f64(), 5.0 * s, "3-4-5 scaled by 2^{e}");
        }
        let (z, inf, nan) = (R::ZERO, R::from_f64(f64::INFINITY), R::from_f64(f64::NAN));
        assert_eq!(norm2::<R>(&[]).to_f64(), 0.0);
        assert_eq!(norm2(&[z, z, z]).to_f64(), 0.0);
        assert_eq!(
            norm2(&[R::ONE, R::from_f64(-f64::INFINITY), z]).to_f64(),
            f64::INFINITY
        );
        assert!(norm2(&[inf, nan, R::ONE]).is_nan());
    }

    #[test]
    fn norm2_is_exact_under_scaling_and_keeps_zero_infinity_and_nan() {
        norm2_cases::<f64>(&[-1070, -600, 0, 600, 1020]);
        norm2_cases::<f32>(&[-145, -70, 0, 70, 124]);
    }

    /// The entry points use this target's widths, wide tiles included (and so agree with
    /// the reference too).
    #[test]
    fn entry_points_match_the_naive_order() {
        let mut rng = Rng::new(5);
        shapes(|m, k, n, pad| {
            let (ldc, lda, ldw) = (n + pad, k + pad, n + 2 * pad);
            let a: Vec<f32> = fill(m * lda, &mut rng);
            let w: Vec<f32> = fill(k * ldw, &mut rng);
            let c0: Vec<f32> = fill(m * ldc, &mut rng);
            let mut want = c0.clone();
            naive_acc(&mut want, ldc, &a, lda, &w, ldw, m, k, n);
            let mut got = c0.clone();
            gemm_acc(&mut got, ldc, &a, lda, &w, ldw, m, k, n);
            assert!(bits(&got) == bits(&want), "gemm_acc m={m} k={k} n={n}");
            // Aᵀ with A = the k × m matrix whose rows are W's (use W as A, A's rows as B).
            let mut want = c0.clone();
            let mut got = c0;
            let b: Vec<f32> = fill(k * ldw, &mut rng);
            if m <= n + 2 * pad {
                naive_tn_acc(&mut want, ldc, &w, ldw, &b, ldw, k, m, n);
                gemm_tn_acc(&mut got, ldc, &w, ldw, &b, ldw, k, m, n);
                assert!(bits(&got) == bits(&want), "gemm_tn_acc m={m} k={k} n={n}");
            }
        });
    }
}
