//! Buffers whose first element sits on a cache-line boundary.
//!
//! The training step reads weight rows and writes gradient rows as 64-byte vectors
//! (AVX-512 builds); with the parameters 4 bytes off a line, every such access spans two
//! lines and the f32 step at N = 64 took up to 8 % longer on a Zen 5 (BENCHMARKS.md,
//! "Aligned buffers"). The core cannot move the caller's parameters, so the host places
//! them.

use rnndyn_core::train::{scratch_align_offset, SCRATCH_ALIGN};
use std::ops::{Deref, DerefMut};

/// `len` values of `f32` starting at a [`SCRATCH_ALIGN`]-byte boundary (inside an
/// over-allocated `Vec` that is never resized, so the start never moves).
#[derive(Debug)]
pub struct AlignedF32 {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl AlignedF32 {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let slack = SCRATCH_ALIGN / std::mem::size_of::<f32>();
        let buf = vec![0.0f32; len + slack];
        let start = scratch_align_offset(&buf);
        AlignedF32 { buf, start, len }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[f32]) -> Self {
        let mut a = Self::zeros(values.len());
        a.copy_from_slice(values);
        a
    }
}

impl Clone for AlignedF32 {
    // A derived clone would copy `start` into a new allocation with its own offset.
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}

impl Deref for AlignedF32 {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl DerefMut for AlignedF32 {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_and_keeps_values() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let v: Vec<f32> = (0..len).map(|i| i as f32 * 0.5).collect();
            let mut a = AlignedF32::from_slice(&v);
            assert_eq!(a.as_ptr() as usize % SCRATCH_ALIGN, 0, "{len}");
            assert_eq!(&a[..], &v[..]);
            a.iter_mut().for_each(|x| *x += 1.0);
            let b = a.clone();
            assert_eq!(b.as_ptr() as usize % SCRATCH_ALIGN, 0, "clone {len}");
            assert_eq!(&b[..], &a[..]);
        }
    }
}
