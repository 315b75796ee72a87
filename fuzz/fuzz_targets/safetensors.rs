//! Fuzz the `.safetensors` reader: any bytes give a state dict or a `SafetensorsError`,
//! never a panic or a huge allocation; every array read has as many values as its shape
//! says; the F32 writer's output reads back bit for bit; importing the state dict as any
//! PyTorch cell is an `Ok` or a `TorchError`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnndyn::safetensors_file::{read_bytes, to_bytes};
use rnndyn::torch::{import, TorchCell};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("<fuzz>");
    let Ok(sd) = read_bytes(data, path) else {
        return;
    };
    for a in sd.values() {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
    // Written back as F32: the same names, shapes and (rounded) values.
    let f32s: Vec<(String, Vec<usize>, Vec<f32>)> = sd
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                a.shape.clone(),
                a.data.iter().map(|&v| v as f32).collect(),
            )
        })
        .collect();
    let tensors: Vec<(&str, &[usize], &[f32])> = f32s
        .iter()
        .map(|(k, s, v)| (k.as_str(), s.as_slice(), v.as_slice()))
        .collect();
    let bytes = to_bytes(&tensors, path).expect("serialise what was read");
    let back = read_bytes(&bytes, path).expect("read back");
    assert_eq!(back.len(), sd.len());
    for (k, s, v) in &f32s {
        let a = &back[k];
        assert_eq!(&a.shape, s);
        for (x, y) in a.data.iter().zip(v) {
            assert!(x.to_bits() == f64::from(*y).to_bits() || (x.is_nan() && y.is_nan()));
        }
    }
    for cell in [TorchCell::Rnn, TorchCell::Gru, TorchCell::Lstm] {
        let _ = import(cell, &sd);
    }
});
