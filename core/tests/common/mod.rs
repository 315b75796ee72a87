//! Shared by the reference tests: the fixture loader and the one tolerance table.

use std::collections::HashMap;
use std::path::PathBuf;

/// Where the committed fixtures live (`tests/data` at the workspace root).
pub fn data_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("data")
        .join(file)
}

/// A float64 array from an `.npz` fixture: shape and row-major data.
#[derive(Clone, Debug)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Loads every array of an `.npz` file (all must be float64). An `.npz` is a zip of
/// `.npy` members: `zip` (deflate only, no C codecs) opens it, `npyz` reads each member.
pub fn load_npz(file: &str) -> HashMap<String, Array> {
    use std::io::Read;
    let path = data_path(file);
    let f = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{}: not a zip archive: {e}", path.display()));
    let mut out = HashMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let Some(name) = entry.name().strip_suffix(".npy").map(str::to_owned) else {
            continue;
        };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let arr = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape = arr.shape().iter().map(|&d| d as usize).collect();
        let data = arr
            .into_vec::<f64>()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.insert(name, Array { shape, data });
    }
    out
}

/// What a reference test compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    States,
    Outputs,
    Loss,
    Grad,
}

/// Scalar type the core was run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    F32,
    F64,
}

/// THE tolerance table of the reference tests: `|ours − reference| ≤ tol · max(1, |reference|)`.
/// The reference is float64 NumPy; libm and NumPy's tanh/exp may differ by an ulp, which
/// 1e-10 leaves ample room for at these sizes (N = 6, T = 7; worst seen: 5e-16).
pub const TOLERANCES: &[(Scalar, Quantity, f64)] = &[
    (Scalar::F64, Quantity::States, 1e-10),
    (Scalar::F64, Quantity::Outputs, 1e-10),
    (Scalar::F64, Quantity::Loss, 1e-10),
    (Scalar::F64, Quantity::Grad, 1e-10),
    // Loosened, all f32 entries: the core runs in f32 (ε ≈ 1.2e-7) against the float64
    // reference; rounding of the inputs/parameters to f32 and a few ε per step over seven
    // recurrent steps (and, for the gradient, seven back-propagated Jacobians and sums of
    // rank-one updates) accumulate. Worst seen: 2.2e-7 (GRU gradients); 1e-6 ≈ 8 ε.
    (Scalar::F32, Quantity::States, 1e-6),
    (Scalar::F32, Quantity::Outputs, 1e-6),
    (Scalar::F32, Quantity::Loss, 1e-6),
    (Scalar::F32, Quantity::Grad, 1e-6),
];

/// The tolerance for `(scalar, quantity)` from [`TOLERANCES`].
pub fn tolerance(scalar: Scalar, quantity: Quantity) -> f64 {
    TOLERANCES
        .iter()
        .find(|(s, q, _)| *s == scalar && *q == quantity)
        .map(|t| t.2)
        .unwrap_or_else(|| panic!("no tolerance for {scalar:?} {quantity:?}"))
}

/// Asserts `ours ≈ reference` elementwise under the table's tolerance; returns the worst
/// scaled error (for reporting).
pub fn assert_matches(
    what: &str,
    ours: &[f64],
    reference: &[f64],
    scalar: Scalar,
    quantity: Quantity,
) -> f64 {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let tol = tolerance(scalar, quantity);
    let mut worst = 0.0f64;
    for (k, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        let err = (a - b).abs() / b.abs().max(1.0);
        assert!(
            err <= tol,
            "{what}[{k}]: ours {a:e} vs reference {b:e} (scaled err {err:e} > {tol:e})"
        );
        worst = worst.max(err);
    }
    worst
}
