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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_accessors() {
        // A non-square matrix, so that row and column strides cannot be confused.
        let mut m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!((m.rows(), m.cols(), m.shape()), (2, 3, (2, 3)));
        assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
        assert_eq!(m.get(1, 0), 4.0);
        m.set(0, 2, -3.0);
        m.as_mut_slice()[4] = -5.0;
        assert_eq!(m.as_slice(), &[1.0, 2.0, -3.0, 4.0, -5.0, 6.0]);
        let t = m.transpose();
        assert_eq!(t.shape(), (3, 2));
        assert_eq!(t.as_slice(), &[1.0, 4.0, 2.0, -5.0, -3.0, 6.0]);
        assert_eq!(Matrix::from_faer(m.to_faer().as_ref()), m);
        assert_eq!(Matrix::from_fn(2, 3, |i, j| m.get(i, j)), m);
        assert_eq!(m.into_vec(), vec![1.0, 2.0, -3.0, 4.0, -5.0, 6.0]);
        assert_eq!(Matrix::zeros(3, 2).as_slice(), &[0.0; 6]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(matches!(
            Matrix::new(2, 3, vec![0.0; 5]),
            Err(AnalysisError::ShapeMismatch {
                rows: 2,
                cols: 3,
                len: 5
            })
        ));
        // rows × cols overflows: an error, not a wrapped product that happens to match.
        assert!(Matrix::new(usize::MAX, 2, vec![0.0; 2]).is_err());
        assert_eq!(Matrix::new(0, 4, vec![]).unwrap().shape(), (0, 4));
    }
}
