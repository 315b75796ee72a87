//! Fuzz the `.npy` reader: any bytes must give `Ok(matrix)` or an `NpyError`, never a
//! panic, an abort or a huge allocation; a successful read must re-serialise and read
//! back identically.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = rnndyn::npy::read_matrix_bytes(data) {
        // Whatever was read has a consistent shape and survives a round trip.
        assert_eq!(m.as_slice().len(), m.rows() * m.cols());
        let bytes =
            rnndyn::npy::to_npy_bytes(&[m.rows(), m.cols()], m.as_slice()).expect("serialise");
        let back = rnndyn::npy::read_matrix_bytes(&bytes).expect("read back");
        assert_eq!(back.shape(), m.shape());
        for (a, b) in back.as_slice().iter().zip(m.as_slice()) {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }
    }
    // Header parsing alone must be total as well.
    let _ = rnndyn::npy::parse_header(data, std::path::Path::new("<fuzz>"));
});
