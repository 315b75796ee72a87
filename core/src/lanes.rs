//! libm's `expf` (for σ) and `tanhf`, evaluated eight lanes at a time.
//!
//! The scalar libm routines branch on the argument's range, which stops LLVM from
//! vectorising a loop over them; at small N they were most of a training step. Here every
//! lane runs libm 0.2.16's own operations in the same order (FreeBSD msun `e_expf.c`,
//! `s_expm1f.c`, `s_tanhf.c`), each branch computed and then selected, so the loops
//! vectorise and every element gets libm's exact bits. Where libm's branches differ only
//! in a form that rounds alike (k chosen by a threshold or by x / ln 2, `expm1f`'s five
//! reconstructions), one form serves all lanes: 13 % off a vanilla N = 16 training step
//! (BENCHMARKS.md); the exhaustive tests are what show the forms agree. A slice with an
//! element outside the ranges written out here (|x| ≥ 87.3 or NaN for σ) goes to scalar
//! libm whole.
//! The tests compare every one of the 2^32 `f32` inputs against libm (`core/tests/lanes.rs`);
//! the workspace `Cargo.toml` pins the libm version replicated here.

/// σ(x) of every element, with the bits of `Real::sigmoid` (libm `expf`). Inlined: the
/// cells call it once per row (2N elements), and a call reloads every constant.
#[inline(always)]
pub(crate) fn sigmoid_in_place(xs: &mut [f32]) {
    // Not NaN and inside expf's ordinary range (|x| < 0x42aeac50 ≈ 87.34); otherwise the
    // whole slice goes through scalar libm (rare: only a diverging network gets there).
    let ordinary = xs.iter().fold(true, |ok, x| {
        ok & ((x.to_bits() & 0x7fff_ffff) < 0x42ae_ac50)
    });
    if ordinary {
        xs.iter_mut().for_each(|x| *x = sigmoid_lane(*x));
    } else {
        xs.iter_mut()
            .for_each(|x| *x = <f32 as crate::Real>::sigmoid(*x));
    }
}

/// tanh(x) of every element, with the bits of libm `tanhf` (inlined, as `sigmoid_in_place`).
#[inline(always)]
pub(crate) fn tanh_in_place(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = tanh_lane(*x));
}

/// Elements per block in [`tanh_rows`] and [`sigmoid_rows`]: four 512-bit vectors.
const ROW_BLOCK: usize = 64;

/// Elements per call of `f` in [`map_rows`]' in-place path: one 512-bit vector.
const LANE_CHUNK: usize = 16;

/// `f` on `width` elements at `col0` of each of `rows` rows `ld` apart. A width that is a
/// multiple of 16 (N = 16, 32, 64, …) goes through `f` in place, 16 elements at a time, in
/// one loop over the rows that keeps `f`'s constants. Narrower rows are copied a few at a
/// time into one block, so `f` runs once per 64 elements rather than once per row (the
/// per-row calls made a training step 9–15 % slower at N = 16, BENCHMARKS.md). The
/// in-place path replaced that copying for the widths it covers: the copies cost 3–4 % of
/// a gated cell's step, and their cost moved with unrelated changes (σ 18 % slower in one
/// `rnndyn train` build; BENCHMARKS.md, "Dense input kernels, σ and tanh in place"). Each
/// element's bits do not depend on its neighbours, so neither path changes a result.
#[inline(always)]
fn map_rows(
    data: &mut [f32],
    ld: usize,
    col0: usize,
    width: usize,
    rows: usize,
    f: impl Fn(&mut [f32]),
) {
    if width == 0 {
        return;
    }
    if width.is_multiple_of(LANE_CHUNK) {
        for r in 0..rows {
            let row = &mut data[r * ld + col0..r * ld + col0 + width];
            for chunk in row.chunks_exact_mut(LANE_CHUNK) {
                f(chunk);
            }
        }
        return;
    }
    let per = ROW_BLOCK / width;
    if per < 2 {
        // A row fills more than half a block: nothing to gain from copying it.
        for r in 0..rows {
            f(&mut data[r * ld + col0..r * ld + col0 + width]);
        }
        return;
    }
    let mut block = [0.0f32; ROW_BLOCK];
    let mut r = 0;
    while r < rows {
        let k = per.min(rows - r);
        for (i, dst) in block.chunks_exact_mut(width).take(k).enumerate() {
            let at = (r + i) * ld + col0;
            copy_row(dst, &data[at..at + width]);
        }
        f(&mut block[..k * width]);
        for (i, src) in block.chunks_exact(width).take(k).enumerate() {
            let at = (r + i) * ld + col0;
            copy_row(&mut data[at..at + width], src);
        }
        r += k;
    }
}

/// `dst.copy_from_slice(src)` in 16-element pieces: the width of [`map_rows`]' rows is not a
/// constant there, and a whole-row copy was a call to `memmove` per row (3–4 % of a GRU 16
/// training step).
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let (mut d, mut s) = (dst.chunks_exact_mut(16), src.chunks_exact(16));
    for (d16, s16) in (&mut d).zip(&mut s) {
        d16.copy_from_slice(s16);
    }
    let (d, s) = (d.into_remainder(), s.remainder());
    for (dj, &sj) in d.iter_mut().zip(s) {
        *dj = sj;
    }
}

/// [`tanh_in_place`] on a column block of rows (see [`map_rows`]).
#[inline]
pub(crate) fn tanh_rows(data: &mut [f32], ld: usize, col0: usize, width: usize, rows: usize) {
    map_rows(data, ld, col0, width, rows, tanh_in_place)
}

/// [`sigmoid_in_place`] on a column block of rows (see [`map_rows`]).
#[inline]
pub(crate) fn sigmoid_rows(data: &mut [f32], ld: usize, col0: usize, width: usize, rows: usize) {
    map_rows(data, ld, col0, width, rows, sigmoid_in_place)
}

/// σ for |x| < 87.34: 1 / (1 + e^{-x}) for x ≥ 0, e^{x} / (1 + e^{x}) otherwise.
#[inline(always)]
fn sigmoid_lane(x: f32) -> f32 {
    let nonnegative = x >= 0.0;
    // −|x| by setting the sign bit: written as a select of −x and x, LLVM evaluated expf
    // on both and blended the results.
    let e = expf_lane(f32::from_bits(x.to_bits() | 0x8000_0000));
    let num = if nonnegative { 1.0 } else { e };
    num / (1.0 + e)
}

/// libm `expf` for −87.34 < x ≤ 0 (σ only needs e^{−|x|}; no underflow, no NaN).
#[inline(always)]
fn expf_lane(x: f32) -> f32 {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
    const P1: f32 = f32::from_bits(0x3e2a_aa8f);
    const P2: f32 = f32::from_bits(0xbb35_5215);
    let hx = x.to_bits() & 0x7fff_ffff;
    // libm: k = trunc(x / ln 2 − 0.5) for |x| > 1.5 ln 2, −1 for |x| > 0.5 ln 2, else 0; the
    // first form gives the other two on every f32 in range (core/tests/lanes.rs).
    let k = truncate_negative(INV_LN2 * x - 0.5);
    // k = 0 gives hi = x, lo = 0, r = x exactly, as libm's separate branch does.
    let kf = k as f32;
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * P2);
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // scalbnf(y, k) is one multiplication by 2^k for k in [-126, 127] (exact; for k = 0,
    // where libm returns y itself, by 1).
    let scaled = y * f32::from_bits(((0x7f + k) as u32) << 23);
    if (hx as i32) <= 0x3900_0000 {
        1.0 + x // |x| ≤ 2^-14
    } else {
        scaled
    }
}

/// libm `tanhf` (NaN in, NaN out).
#[inline(always)]
fn tanh_lane(x: f32) -> f32 {
    let bits = x.to_bits();
    let w = bits & 0x7fff_ffff;
    let ax = f32::from_bits(w);
    // libm takes expm1f(2|x|) above log(5/3)/2 and expm1f(−2|x|) below. The two ranges
    // differ only in the argument reduction and the reconstruction; the rational core (and
    // its division) runs once on the selected reduced argument.
    let wide = (w as i32) > 0x3e82_c578;
    // Above |x| = 10 libm returns 1 + 0/x; 1 − 2/(t + 2) already rounds to 1 at 10, so
    // clamping there gives it and keeps expm1f finite. NaN passes the clamp and stays NaN.
    let a = if ax > 10.0 { 10.0 } else { ax };
    let t = expm1f_for_tanh(wide, 2.0 * a);
    // One division serves libm's three forms 1 − 2/(t+2), t/(t+2), −t/(t+2) (t ≤ 0 in the
    // last, so −t = |t|).
    let large = (w as i32) > 0x3f0c_9f54;
    let q = if large { 2.0 } else { t.abs() } / (t + 2.0);
    // For zero and subnormal x this is also libm's `|x|`: t = −2|x| there, and 2|x| / 2
    // rounds to |x| exactly.
    let tt = if large { 1.0 - q } else { q };
    f32::from_bits(tt.to_bits() ^ (bits & 0x8000_0000))
}

const M_LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const M_LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const M_INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);

/// The reduced argument of libm `expm1f` for a given k: `x − k·ln2` as hi − lo, `(x, c)`.
/// (For k = ±1 libm writes `x ∓ ln2_hi` and `±ln2_lo`; multiplying by ±1 rounds the same.)
#[inline(always)]
fn expm1f_reduce(x0: f32, k: i32) -> (f32, f32) {
    let kf = k as f32;
    let hi = x0 - kf * M_LN2_HI;
    let lo = kf * M_LN2_LO;
    let x = hi - lo;
    (x, (hi - x) - lo)
}

/// libm `expm1f`'s rational correction `e` and `hxs = x²/2` on the reduced argument.
#[inline(always)]
fn expm1f_core(x: f32) -> (f32, f32) {
    const Q1: f32 = f32::from_bits(0xbd08_8868);
    const Q2: f32 = f32::from_bits(0x3acf_3010);
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * Q2);
    let t = 3.0 - r1 * hfx;
    (hxs * ((r1 - t) / (6.0 - x * t)), hxs)
}

/// libm `expm1f(x)` for `x = 2|v|` when `wide` (0.5 < x ≤ 20, k ≥ 1), else `expm1f(−x)`
/// (−0.52 ≤ −x ≤ 0, k = 0 or −1). Exact for tanh's use only: for x > 15.6 the last bit may
/// differ from libm's.
#[inline(always)]
fn expm1f_for_tanh(wide: bool, x_abs: f32) -> f32 {
    let x0 = if wide { x_abs } else { -x_abs };
    // libm picks k = 1 for 0.5 ln 2 < x0 < 1.5 ln 2, k = −1 or 0 for x0 ≤ 0, and
    // trunc(x0 / ln 2 + 0.5) above; the rounded |x0| / ln 2 gives the same k on every f32
    // (core/tests/lanes.rs). x_abs ≤ 20 keeps 2^±k normal; NaN gives some k and NaN.
    let k_abs = truncate_positive(M_INV_LN2 * x_abs + 0.5);
    let k = if wide { k_abs } else { -k_abs };
    // k = 0: hi = x, lo = c = 0, as libm's separate branch.
    let (x, c) = expm1f_reduce(x0, k);
    let (e0, hxs) = expm1f_core(x);
    let e = x * (e0 - c) - c - hxs;
    // libm reconstructs in five forms; one covers them here. k ≥ 2: (x − e + (1 − 2^−k))·2^k;
    // k = 1: 1 + 2(x − e) = ((x − e) + 0.5)·2; k = −1: 0.5(x − e) − 0.5 = ((x − e) − 1)·0.5;
    // k = 0: x − (x·e0 − hxs) = (x − e) − 0 (c = 0 there; subtracting +0 keeps
    // expm1f(−0) = −0). Scaling by a power of two is exact, so each pair rounds alike. For
    // k ≥ 23 (|v| > 7.8) libm adds 2^−k to e first; that can move expm1f's last bit, but
    // tanh = 1 − 2/(t + 2) there rounds the same on every f32 (core/tests/lanes.rs).
    let twopk = f32::from_bits(((0x7f + k) as u32) << 23);
    let uf = f32::from_bits(((0x7f - k) as u32) << 23);
    (x - e - (uf - 1.0)) * twopk
}

/// `v as i32` (truncation toward zero) for 0 ≤ v < 2^22, in operations that vectorise
/// (the saturating float-to-int cast does not).
#[inline(always)]
fn truncate_positive(v: f32) -> i32 {
    let (nearest, k) = round_nearest(v);
    if nearest > v {
        k - 1
    } else {
        k
    }
}

/// `v as i32` (truncation toward zero) for −2^22 < v ≤ 0, as [`truncate_positive`].
#[inline(always)]
fn truncate_negative(v: f32) -> i32 {
    let (nearest, k) = round_nearest(v);
    if nearest < v {
        k + 1
    } else {
        k
    }
}

/// v rounded to the nearest integer (ties to even), as `f32` and `i32`, for |v| < 2^22.
#[inline(always)]
fn round_nearest(v: f32) -> (f32, i32) {
    // 1.5 · 2^23: v + SHIFT lies in [2^23, 2^24), where the spacing is 1, so the sum holds
    // round-to-nearest(v) in its low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    let biased = v + SHIFT;
    let k = (biased.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    (biased - SHIFT, k)
}
