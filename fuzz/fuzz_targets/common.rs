//! Input derivation shared by the fuzz targets: matrices with `n` in 1..=16 and entries
//! that mix small integers, raw bit patterns (any f64, including NaN/±∞/subnormals) and
//! named extremes; vectors of such values or of small finite ones; a NaN-tolerant bitwise
//! comparison.
// Every target includes this file and uses a subset of it.
#![allow(dead_code)]

use arbitrary::{Result, Unstructured};
use rnndyn_core::Real;

pub const MAX_N: usize = 16;

pub fn matrix(u: &mut Unstructured<'_>) -> Result<(usize, Vec<f64>)> {
    let n = u.int_in_range(1..=MAX_N)?;
    let mut a = Vec::with_capacity(n * n);
    for _ in 0..n * n {
        a.push(value(u)?);
    }
    Ok((n, a))
}

/// One value: a raw bit pattern, a named extreme, zero or a small multiple of 1/16.
pub fn value(u: &mut Unstructured<'_>) -> Result<f64> {
    let sel: u8 = u.arbitrary()?;
    Ok(match sel {
        0..=39 => f64::from_bits(u.arbitrary()?),
        40 => f64::NAN,
        41 => f64::INFINITY,
        42 => f64::NEG_INFINITY,
        43 => f64::MAX,
        44 => f64::MIN_POSITIVE,
        45 => 5e-324,
        46 => 1e300,
        47 => -1e-300,
        48..=79 => 0.0,
        _ => (sel as i8) as f64 / 16.0,
    })
}

/// One finite value in `[-limit, limit]` (`limit` ≥ 1): mostly multiples of 1/16, some
/// fractions with more bits, some exact zeros.
pub fn small_value(u: &mut Unstructured<'_>, limit: f64) -> Result<f64> {
    let sel: u8 = u.arbitrary()?;
    Ok(match sel {
        0..=31 => 0.0,
        32..=127 => {
            let q: i16 = u.arbitrary()?;
            (q as f64 / i16::MAX as f64) * limit
        }
        _ => ((sel as i8) as f64 / 16.0).clamp(-limit, limit),
    })
}

/// How the values of one fuzz case are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Finite, in `[-limit, limit]`: the invariants that need finite arithmetic are checked.
    Small,
    /// Anything [`value`] gives, NaN and ±∞ included: only "no panic" and the invariants
    /// that hold for every input are checked.
    Raw,
}

/// `len` values of kind `kind`, converted to `R` (f64 → f32 rounds, may overflow to ±∞).
pub fn values<R: Real>(
    u: &mut Unstructured<'_>,
    len: usize,
    kind: Values,
    limit: f64,
) -> Result<Vec<R>> {
    (0..len)
        .map(|_| {
            let v = match kind {
                Values::Small => small_value(u, limit)?,
                Values::Raw => value(u)?,
            };
            Ok(R::from_f64(v))
        })
        .collect()
}

/// Same bits, or both NaN (NaN payloads may legitimately differ between code paths).
pub fn same<R: Real>(a: R, b: R) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_f64().to_bits() == b.to_f64().to_bits()
}

/// [`same`] for every element (and equal lengths).
pub fn same_all<R: Real>(a: &[R], b: &[R]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| same(x, y))
}

/// A buffer length: `right`, or sometimes a wrong one (0, one short, one or a few long).
/// (Exhausted input gives the right length.)
pub fn buffer_len(u: &mut Unstructured<'_>, right: usize) -> Result<usize> {
    let sel: u8 = u.arbitrary()?;
    Ok(match sel {
        1 => 0,
        2 => right.saturating_sub(1),
        3 => right + 1,
        4 => right + 2 + (u.arbitrary::<u8>()? % 8) as usize,
        _ => right,
    })
}

/// The entry point of a target whose cases are `dispatch::<R>(selector, shape, u)`: the first
/// two bytes pick the case and the shape, the next the precision (f32 or f64).
#[allow(unused_macros)] // only the targets generic over (selector, shape) use it
macro_rules! selector_shape_real_target {
    ($dispatch:ident) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            let mut u = arbitrary::Unstructured::new(data);
            let (Ok(sel), Ok(shape), Ok(real)) = (
                u.arbitrary::<u8>(),
                u.arbitrary::<u8>(),
                u.arbitrary::<bool>(),
            ) else {
                return;
            };
            let _ = if real {
                $dispatch::<f32>(sel, shape, &mut u)
            } else {
                $dispatch::<f64>(sel, shape, &mut u)
            };
        });
    };
}
