//! A dense, row-major `f64` matrix: the exchange type between `.npy` files and the
//! geometry analyses (rows = datapoints, columns = units).

use super::AnalysisError;

/// Dense row-major `f64` matrix (`rows × cols`).
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A matrix from row-major data; `data.len()` must equal `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, AnalysisError> {
        match rows.checked_mul(cols) {
            Some(n) if n == data.len() => Ok(Matrix { rows, cols, data }),
            _ => Err(AnalysisError::ShapeMismatch {
                rows,
                cols,
                len: data.len(),
            }),
        }
    }

    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A matrix whose entry `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Row-major data.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Row-major data, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// The row-major data, consuming the matrix.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Entry `(i, j)`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Sets entry `(i, j)`.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.cols + j] = v;
    }

    /// The transpose (a copy).
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }

    /// A faer copy (column-major).
    pub fn to_faer(&self) -> faer::Mat<f64> {
        faer::Mat::from_fn(self.rows, self.cols, |i, j| self.get(i, j))
    }

    /// A copy of a faer matrix.
    pub fn from_faer(m: faer::MatRef<'_, f64>) -> Matrix {
        Matrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
    }
}
