//! Matrix derivation shared by the fuzz targets: `n` in 1..=16 and entries that mix small
//! integers, raw bit patterns (any f64, including NaN/±∞/subnormals) and named extremes.

use arbitrary::{Result, Unstructured};

pub const MAX_N: usize = 16;

pub fn matrix(u: &mut Unstructured<'_>) -> Result<(usize, Vec<f64>)> {
    let n = u.int_in_range(1..=MAX_N)?;
    let mut a = Vec::with_capacity(n * n);
    for _ in 0..n * n {
        let sel: u8 = u.arbitrary()?;
        let x = match sel {
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
        };
        a.push(x);
    }
    Ok((n, a))
}
