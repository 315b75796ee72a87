//! The scalar trait every numeric routine is generic over.
//!
//! All transcendental maths goes through `libm` (pure Rust, identical bits on every target).
//! Never call `x.tanh()`-style methods in the core: with `micromath::F32Ext` in scope they
//! silently change meaning between host and device (enforced by `core/clippy.toml`).

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point scalar (`f32` or `f64`) whose maths is libm's.
///
/// The libm routines named below are the `f64` ones; `f32` calls their `f` variants
/// (`expf`, `tanhf`, …).
pub trait Real:
    Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// 2.
    const TWO: Self;
    /// 0.5.
    const HALF: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// π, rounded to the type.
    const PI: Self;

    /// `x as Self` (rounds to nearest for `f32`).
    fn from_f64(x: f64) -> Self;
    /// `self as f64` (exact).
    fn to_f64(self) -> f64;
    /// `n as Self` (rounds to nearest above 2^24 for `f32`, 2^53 for `f64`).
    fn from_usize(n: usize) -> Self;

    /// |x| (libm `fabs`).
    fn abs(self) -> Self;
    /// √x (libm `sqrt`, correctly rounded).
    fn sqrt(self) -> Self;
    /// eˣ (libm `exp`).
    fn exp(self) -> Self;
    /// Natural logarithm (libm `log`).
    fn ln(self) -> Self;
    /// Hyperbolic tangent (libm `tanh`).
    fn tanh(self) -> Self;
    /// Sine (libm `sin`).
    fn sin(self) -> Self;
    /// Cosine (libm `cos`).
    fn cos(self) -> Self;
    /// Angle of the point `(x, self)` in (−π, π] (libm `atan2`).
    fn atan2(self, x: Self) -> Self;
    /// √(self² + y²) without undue overflow (libm `hypot`).
    fn hypot(self, y: Self) -> Self;
    /// `self^n` by repeated squaring (exact operations in a fixed order, so the same on
    /// every target; not libm's `pow`).
    fn powi(self, n: i32) -> Self;
    /// Largest integer ≤ x (libm `floor`).
    fn floor(self) -> Self;
    /// `self * a + b` with one rounding (software fma where the target has none).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// |self| with the sign of `sign` (libm `copysign`).
    fn copysign(self, sign: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// NaN.
    fn is_nan(self) -> bool;

    /// Maximum that ignores NaN in `other` (like `f64::max`).
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        if self >= other || other.is_nan() {
            self
        } else {
            other
        }
    }
    /// Minimum that ignores NaN in `other` (like `f64::min`).
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        if self <= other || other.is_nan() {
            self
        } else {
            other
        }
    }
    /// `tanh` of every element, with the bits of [`Real::tanh`] on each (for `f32` eight
    /// lanes at a time, see `lanes.rs`).
    fn tanh_in_place(xs: &mut [Self]);
    /// σ of every element, with the bits of [`Real::sigmoid`] on each.
    fn sigmoid_in_place(xs: &mut [Self]);
    /// [`Real::tanh_in_place`] on `width` elements from column `col0` of each of `rows`
    /// rows `ld` apart: row by row here; for `f32` in place 16 elements at a time when the
    /// width is a multiple of 16, else several short rows at a time (`lanes.rs`).
    #[inline]
    fn tanh_rows(data: &mut [Self], ld: usize, col0: usize, width: usize, rows: usize) {
        each_row(data, ld, col0, width, rows, Self::tanh_in_place)
    }
    /// [`Real::sigmoid_in_place`] on a column block of rows, as [`Real::tanh_rows`].
    #[inline]
    fn sigmoid_rows(data: &mut [Self], ld: usize, col0: usize, width: usize, rows: usize) {
        each_row(data, ld, col0, width, rows, Self::sigmoid_in_place)
    }
    /// Logistic function σ(x) = 1 / (1 + e^{-x}), stable for large |x|.
    #[inline(always)]
    fn sigmoid(self) -> Self {
        if self >= Self::ZERO {
            Self::ONE / (Self::ONE + Real::exp(-self))
        } else {
            let e = Real::exp(self);
            e / (Self::ONE + e)
        }
    }
    /// `self * self`.
    #[inline(always)]
    fn square(self) -> Self {
        self * self
    }
}

macro_rules! impl_real {
    ($t:ty, $abs:path, $sqrt:path, $exp:path, $ln:path, $tanh:path, $sin:path, $cos:path,
     $atan2:path, $hypot:path, $floor:path, $fma:path, $copysign:path,
     $tanh_in_place:path, $sigmoid_in_place:path $(, $tanh_rows:path, $sigmoid_rows:path)?) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const HALF: Self = 0.5;
            const EPSILON: Self = <$t>::EPSILON;
            const MAX: Self = <$t>::MAX;
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            const PI: Self = core::f64::consts::PI as $t;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline]
            fn tanh_in_place(xs: &mut [Self]) {
                $tanh_in_place(xs)
            }
            #[inline]
            fn sigmoid_in_place(xs: &mut [Self]) {
                $sigmoid_in_place(xs)
            }
            $(
                #[inline]
                fn tanh_rows(data: &mut [Self], ld: usize, col0: usize, width: usize, rows: usize) {
                    $tanh_rows(data, ld, col0, width, rows)
                }
                #[inline]
                fn sigmoid_rows(
                    data: &mut [Self],
                    ld: usize,
                    col0: usize,
                    width: usize,
                    rows: usize,
                ) {
                    $sigmoid_rows(data, ld, col0, width, rows)
                }
            )?
            #[inline(always)]
            fn sin(self) -> Self {
                $sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                $cos(self)
            }
            #[inline(always)]
            fn atan2(self, x: Self) -> Self {
                $atan2(self, x)
            }
            #[inline(always)]
            fn hypot(self, y: Self) -> Self {
                $hypot(self, y)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                let mut base = self;
                let mut e = n.unsigned_abs();
                let mut acc: Self = 1.0;
                while e > 0 {
                    if e & 1 == 1 {
                        acc *= base;
                    }
                    base *= base;
                    e >>= 1;
                }
                if n < 0 {
                    1.0 / acc
                } else {
                    acc
                }
            }
            #[inline(always)]
            fn floor(self) -> Self {
                $floor(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                $fma(self, a, b)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                $copysign(self, sign)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}

impl_real!(
    f32,
    libm::fabsf,
    libm::sqrtf,
    libm::expf,
    libm::logf,
    libm::tanhf,
    libm::sinf,
    libm::cosf,
    libm::atan2f,
    libm::hypotf,
    libm::floorf,
    libm::fmaf,
    libm::copysignf,
    crate::lanes::tanh_in_place,
    crate::lanes::sigmoid_in_place,
    crate::lanes::tanh_rows,
    crate::lanes::sigmoid_rows
);
impl_real!(
    f64,
    libm::fabs,
    libm::sqrt,
    libm::exp,
    libm::log,
    libm::tanh,
    libm::sin,
    libm::cos,
    libm::atan2,
    libm::hypot,
    libm::floor,
    libm::fma,
    libm::copysign,
    scalar_tanh_in_place,
    scalar_sigmoid_in_place
);

/// `f` on `width` elements from column `col0` of each of `rows` rows `ld` apart, row by row.
#[inline(always)]
pub(crate) fn each_row<T>(
    data: &mut [T],
    ld: usize,
    col0: usize,
    width: usize,
    rows: usize,
    mut f: impl FnMut(&mut [T]),
) {
    for r in 0..rows {
        f(&mut data[r * ld + col0..r * ld + col0 + width]);
    }
}

fn scalar_tanh_in_place<R: Real>(xs: &mut [R]) {
    xs.iter_mut().for_each(|x| *x = Real::tanh(*x));
}

fn scalar_sigmoid_in_place<R: Real>(xs: &mut [R]) {
    xs.iter_mut().for_each(|x| *x = Real::sigmoid(*x));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        for &x in &[-800.0f64, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0] {
            let s = x.sigmoid();
            assert!(s.is_finite() && (0.0..=1.0).contains(&s));
            assert!((s + (-x).sigmoid() - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn powi_matches_repeated_product() {
        // `Real::powi`, not the inherent `f64::powi` that method syntax would pick.
        assert_eq!(Real::powi(2.0f64, 10), 1024.0);
        assert_eq!(Real::powi(2.0f64, -2), 0.25);
        assert_eq!(Real::powi(3.0f32, 0), 1.0);
        assert_eq!(Real::powi(-1.5f64, 3), -3.375);
    }
}
