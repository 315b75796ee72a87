//! The core's error type: one small enum, `Display` + `core::error::Error`.

use core::fmt;

/// Why a core operation could not produce a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A caller-provided buffer has the wrong length: `got` elements where `rule` asks for
    /// `expected` ([`LengthRule::Exact`]: data buffers) or at least `expected`
    /// ([`LengthRule::AtLeast`]: scratch and work buffers, which may be longer).
    BufferSize {
        /// The length the rule asks for.
        expected: usize,
        /// The length given.
        got: usize,
        /// Exact, or a lower bound.
        rule: LengthRule,
    },
    /// An input contains NaN or infinity.
    NonFinite,
    /// A matrix is singular (or numerically so).
    Singular,
    /// An iterative method hit its iteration cap.
    NoConvergence,
    /// A parameter is out of its valid range.
    InvalidParameter,
    /// A result left the floating-point range although the input was finite (for example
    /// the determinant of a large, well-conditioned matrix, or eigenvalues of a matrix whose
    /// entries are close to the largest finite value).
    Overflow,
}

/// How a buffer's length is checked: exactly, or as a lower bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthRule {
    /// The buffer must hold exactly `expected` elements (parameters, states, sequences).
    Exact,
    /// The buffer must hold at least `expected` elements (scratch; the excess is untouched).
    AtLeast,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferSize {
                expected,
                got,
                rule: LengthRule::Exact,
            } => write!(f, "buffer has length {got}, expected {expected}"),
            Error::BufferSize {
                expected,
                got,
                rule: LengthRule::AtLeast,
            } => write!(f, "buffer has length {got}, needs at least {expected}"),
            Error::NonFinite => f.write_str("input contains NaN or infinity"),
            Error::Singular => f.write_str("matrix is singular"),
            Error::NoConvergence => f.write_str("iteration did not converge"),
            Error::InvalidParameter => f.write_str("parameter out of range"),
            Error::Overflow => f.write_str("result overflowed the floating-point range"),
        }
    }
}

impl core::error::Error for Error {}

/// Returns `Err(BufferSize)` unless `len == expected`.
#[inline]
pub(crate) fn check_len(len: usize, expected: usize) -> Result<(), Error> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::BufferSize {
            expected,
            got: len,
            rule: LengthRule::Exact,
        })
    }
}

/// Returns `Err(BufferSize)` unless `len >= need`: scratch and work buffers may be longer
/// than required (the routines use the first `need` elements).
#[inline]
pub(crate) fn check_scratch(len: usize, need: usize) -> Result<(), Error> {
    if len >= need {
        Ok(())
    } else {
        Err(Error::BufferSize {
            expected: need,
            got: len,
            rule: LengthRule::AtLeast,
        })
    }
}
