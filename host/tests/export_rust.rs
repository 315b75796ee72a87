//! `rnndyn export --rust` is deterministic: exporting the committed network directory of
//! the firmware example reproduces the committed `firmware/src/network.rs` byte for byte,
//! and every literal reads back as the stored `f32`.

use std::path::Path;

#[test]
fn firmware_network_export_is_reproducible() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let net = rnndyn::export::load_network(&root.join("firmware/network"))
        .expect("load firmware/network");
    let text = rnndyn::export::rust_source(&net);
    let committed =
        std::fs::read_to_string(root.join("firmware/src/network.rs")).expect("read network.rs");
    assert!(text == committed, "firmware/src/network.rs is stale: rerun `rnndyn export --rust firmware/network -o firmware/src/network.rs`");

    // The PARAMS literals parse back to the stored bits, in order.
    let start = text.find("pub const PARAMS").expect("PARAMS");
    let body = &text[start..];
    let body = &body[body.find("= [").expect("array") + 3..body.find("\n];").expect("end")];
    let values: Vec<f32> = body
        .lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .flat_map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<f32>().expect("literal"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(values.len(), net.params.len());
    for (a, b) in values.iter().zip(&net.params) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
}
