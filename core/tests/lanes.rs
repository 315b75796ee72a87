//! The batched `f32` transcendentals (`Real::tanh_in_place`, `Real::sigmoid_in_place`)
//! give libm's exact bits for every one of the 2^32 `f32` inputs, at every position in a
//! chunk of eight and in the zero-padded tail.

use rnndyn_core::Real;
use std::thread;

/// A mismatch: (input, batched result, libm result) bit patterns.
type Mismatch = (u32, u32, u32);

/// Runs `check` on every `f32` bit pattern, split over the available cores; returns the
/// first mismatch found.
fn sweep_all_f32(check: fn(u32, &mut [f32]) -> Option<Mismatch>) -> Option<Mismatch> {
    const BLOCK: u64 = 1 << 16;
    let threads = thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let blocks = (1u64 << 32) / BLOCK;
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut buf = vec![0.0f32; BLOCK as usize];
                    let mut b = t;
                    while b < blocks {
                        if let Some(bad) = check((b * BLOCK) as u32, &mut buf) {
                            return Some(bad);
                        }
                        b += threads;
                    }
                    None
                })
            })
            .collect();
        handles.into_iter().find_map(|h| h.join().unwrap())
    })
}

/// Fills `buf` with consecutive bit patterns from `start`, applies `batched`, and compares
/// each element with `scalar` (NaN results must be NaN; everything else bit for bit).
fn compare_block(
    start: u32,
    buf: &mut [f32],
    batched: fn(&mut [f32]),
    scalar: fn(f32) -> f32,
) -> Option<Mismatch> {
    for (i, v) in buf.iter_mut().enumerate() {
        *v = f32::from_bits(start.wrapping_add(i as u32));
    }
    batched(buf);
    for (i, got) in buf.iter().enumerate() {
        let x = f32::from_bits(start.wrapping_add(i as u32));
        let want = scalar(x);
        let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
        if !same {
            return Some((x.to_bits(), got.to_bits(), want.to_bits()));
        }
    }
    None
}

#[test]
fn tanh_lanes_match_libm_on_every_f32() {
    let bad = sweep_all_f32(|start, buf| {
        compare_block(start, buf, <f32 as Real>::tanh_in_place, libm::tanhf)
    });
    assert_eq!(bad, None, "(input, batched, libm) bits");
}

#[test]
fn sigmoid_lanes_match_libm_on_every_f32() {
    let bad = sweep_all_f32(|start, buf| {
        compare_block(
            start,
            buf,
            <f32 as Real>::sigmoid_in_place,
            <f32 as Real>::sigmoid,
        )
    });
    assert_eq!(bad, None, "(input, batched, scalar) bits");
}

/// Ordinary values, signed zero, a tiny one, σ's out-of-range arguments (±87.5, 90) and NaN.
const ODD_VALUES: [f32; 11] = [
    0.3,
    -2.5,
    11.0,
    -0.0,
    1e-30,
    -87.5,
    90.0,
    f32::NAN,
    4.0,
    -0.7,
    0.1,
];

/// Short slices (the padded tail) and a NaN in a chunk (scalar fallback) keep every
/// element's value, wherever it sits.
#[test]
fn lanes_handle_tails_and_fallback_chunks() {
    let values = ODD_VALUES;
    for len in 0..=values.len() {
        for rot in 0..values.len() {
            let mut xs: Vec<f32> = (0..len).map(|i| values[(i + rot) % values.len()]).collect();
            let mut ys = xs.clone();
            <f32 as Real>::tanh_in_place(&mut xs);
            <f32 as Real>::sigmoid_in_place(&mut ys);
            for i in 0..len {
                let x = values[(i + rot) % values.len()];
                let (t, s) = (libm::tanhf(x), <f32 as Real>::sigmoid(x));
                assert!(xs[i].to_bits() == t.to_bits() || (t.is_nan() && xs[i].is_nan()));
                assert!(ys[i].to_bits() == s.to_bits() || (s.is_nan() && ys[i].is_nan()));
            }
        }
    }
}

/// `tanh_rows` / `sigmoid_rows` (for `f32` in place 16 at a time, or rows packed into
/// blocks) give each element of the column block the bits of the one-element routine and
/// leave every other element alone: widths below, at and above the packing limits, partial
/// last blocks, a NaN and an out-of-range σ argument in some rows (σ's scalar fallback is
/// per call: a block or a 16-element chunk).
#[test]
fn rows_match_the_scalar_routines_and_touch_only_their_block() {
    let values = [
        0.3f32,
        -2.5,
        11.0,
        -0.0,
        1e-30,
        -90.0,
        4.0,
        -0.7,
        f32::NAN,
        0.1,
        7.5,
    ];
    for width in [1usize, 3, 4, 15, 16, 21, 32, 33, 63, 64, 65, 130] {
        for rows in [0usize, 1, 2, 3, 5, 9] {
            let (ld, col0) = (width + 5, 2);
            let len = rows * ld;
            let data: Vec<f32> = (0..len)
                .map(|i| {
                    // The odd values only in the first two rows, so later blocks are ordinary.
                    if i < 2 * ld || values[i % values.len()].abs() < 80.0 {
                        values[i % values.len()] * if i % 2 == 0 { 1.0 } else { 0.37 }
                    } else {
                        0.25
                    }
                })
                .collect();
            let (mut t, mut s) = (data.clone(), data.clone());
            <f32 as Real>::tanh_rows(&mut t, ld, col0, width, rows);
            <f32 as Real>::sigmoid_rows(&mut s, ld, col0, width, rows);
            for (i, &x) in data.iter().enumerate() {
                let inside = (col0..col0 + width).contains(&(i % ld));
                let (wt, ws) = if inside {
                    (libm::tanhf(x), <f32 as Real>::sigmoid(x))
                } else {
                    (x, x)
                };
                let same = |got: f32, want: f32| {
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
                };
                assert!(same(t[i], wt), "tanh_rows width {width} rows {rows} at {i}");
                assert!(
                    same(s[i], ws),
                    "sigmoid_rows width {width} rows {rows} at {i}"
                );
            }
        }
    }
}
