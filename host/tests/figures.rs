//! Figures end to end: a tiny store per task made by the binary, the report rendered,
//! and every figure checked in both formats (PNG decodes with sane dimensions, SVG parses
//! as XML with an `<svg>` root). Also: missing inputs skip figures without an error.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rnndyn");

/// A tiny experiment (seconds): four architectures, one small network each. Keys not
/// given take the built-in defaults. Too short to pass the task, so the population figures
/// compare every network (`networks = "all"`).
fn tiny_config(task: &str) -> String {
    format!(
        r#"[task]
kind = "{task}"
trial_steps = 40
[task.sine]
frequencies = 6
[population]
architectures = ["vanilla", "ugrnn", "gru", "lstm"]
activations = ["tanh"]
hidden_sizes = [8]
learning_rates = [0.01]
seeds = 1
[training]
steps = 60
batch = 16
eval_trials = 16
[analysis]
fixed_point_starts = 16
probe_trials = 4
networks = "all"
"#
    )
}

fn make_store(task: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("rnndyn-figures-test-{}-{task}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("experiment.toml");
    std::fs::write(&config, tiny_config(task)).unwrap();
    let store = dir.join("store");
    let out = Command::new(BIN)
        .args(["run", "--quiet", "--threads", "2", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&store)
        .output()
        .expect("run rnndyn");
    assert!(
        out.status.success(),
        "rnndyn run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    store
}

fn report(store: &Path) -> String {
    let out = Command::new(BIN)
        .arg("report")
        .arg(store)
        .output()
        .expect("run rnndyn report");
    assert!(
        out.status.success(),
        "rnndyn report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("warning: figure"),
        "figure warnings: {stderr}"
    );
    std::fs::read_to_string(store.join("report.md")).expect("report.md")
}

/// PNG signature, decodable header and pixels, plausible size.
fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{}: no PNG signature",
        path.display()
    );
    let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (w, h) = (reader.info().width, reader.info().height);
    assert!(
        (300..=5000).contains(&w) && (200..=5000).contains(&h),
        "{}: size {w}×{h}",
        path.display()
    );
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Not a blank canvas: some pixels are not white.
    let data = &buf[..frame.buffer_size()];
    assert!(
        data.iter().any(|&b| b < 200),
        "{}: blank image",
        path.display()
    );
}

/// Well-formed XML with an `<svg>` root that holds text (labels) and drawing.
fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        doc.root_element().tag_name().name(),
        "svg",
        "{}",
        path.display()
    );
    assert!(
        doc.descendants().any(|n| n.has_tag_name("text")),
        "{}: no text",
        path.display()
    );
    assert!(
        doc.descendants().any(|n| n.has_tag_name("polyline")
            || n.has_tag_name("circle")
            || n.has_tag_name("path")),
        "{}: nothing drawn",
        path.display()
    );
}

fn check_figures(store: &Path, md: &str, names: &[&str]) {
    for name in names {
        check_png(&store.join("figures").join(format!("{name}.png")));
        check_svg(&store.join("figures").join(format!("{name}.svg")));
        assert!(
            md.contains(&format!("(figures/{name}.png)")),
            "report.md does not embed {name}"
        );
    }
}

#[test]
fn flipflop_figures_and_graceful_skips() {
    let store = make_store("flipflop");
    let md = report(&store);
    check_figures(
        &store,
        &md,
        &[
            "task_examples",
            "pca_fixed_points",
            "eigenvalue_spectra",
            "mds",
        ],
    );
    for absent in [
        "sine_frequency",
        "integration_eigenvalues",
        "line_attractors",
    ] {
        assert!(
            !store.join("figures").join(format!("{absent}.png")).exists(),
            "{absent} drawn for the flip-flop"
        );
    }
    let html = std::fs::read_to_string(store.join("report.html")).unwrap();
    assert!(
        html.contains("<img") && html.contains("figures/mds.png"),
        "report.html does not show the figures"
    );

    // Without the topology embedding and the fixed points: fewer figures, no error.
    // (the report recomputes an embedding from its distance matrix, so both go)
    std::fs::remove_file(store.join("analysis/mds_topology.npy")).unwrap();
    std::fs::remove_file(store.join("analysis/topology_distances.npy")).unwrap();
    for entry in std::fs::read_dir(store.join("networks")).unwrap() {
        let _ = std::fs::remove_file(entry.unwrap().path().join("fixed_points.npz"));
    }
    for name in ["pca_fixed_points", "eigenvalue_spectra", "mds"] {
        std::fs::remove_file(store.join("figures").join(format!("{name}.png"))).unwrap();
    }
    let md = report(&store);
    check_figures(&store, &md, &["task_examples", "mds"]);
    assert!(!md.contains("pca_fixed_points") && !md.contains("eigenvalue_spectra"));
    let _ = std::fs::remove_dir_all(store.parent().unwrap());
}

#[test]
fn sine_figures() {
    let store = make_store("sine");
    let md = report(&store);
    check_figures(
        &store,
        &md,
        &[
            "task_examples",
            "pca_fixed_points",
            "eigenvalue_spectra",
            "mds",
            "sine_frequency",
        ],
    );
    let _ = std::fs::remove_dir_all(store.parent().unwrap());
}

#[test]
fn integration_figures() {
    let store = make_store("integration");
    let md = report(&store);
    check_figures(
        &store,
        &md,
        &[
            "task_examples",
            "pca_fixed_points",
            "eigenvalue_spectra",
            "mds",
            "integration_eigenvalues",
            "line_attractors",
        ],
    );
    // No pulses on this task: still (0, I) with I = 4 inputs, as NumPy code expects.
    let nets = store.join("networks");
    let net = std::fs::read_dir(&nets)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (shape, _) =
        rnndyn::npy::read_npz_array_with_shape(net.join("topology.npz"), "pulses").unwrap();
    assert_eq!(shape, [0, 4]);
    // The sweep keeps the points behind its counts (the line-attractor figure draws them):
    // per context, as many points as `fixed_points` says, `stable` of them with index 0.
    for net in std::fs::read_dir(&nets).unwrap() {
        let net = net.unwrap().path();
        let sweep = net.join("input_sweep.npz");
        let (main, _) =
            rnndyn::npy::read_npz_shaped(net.join("fixed_points.npz"), "states").unwrap();
        let s = main[1]; // h, or [h; c] for the LSTM
        let read = |name: &str| rnndyn::npy::read_npz_shaped(&sweep, name).unwrap();
        let (_, counts) = read("fixed_points");
        let (_, stable) = read("stable");
        let (_, value) = read("point_value");
        let (_, index) = read("point_stability_index");
        let (shape, _) = read("point_states");
        assert_eq!(shape, [value.len(), s]);
        assert_eq!(counts.len(), 2);
        for k in 0..2 {
            let row = k as f64;
            let all = value.iter().filter(|&&v| v == row).count();
            let attracting = value
                .iter()
                .zip(&index)
                .filter(|&(&v, &i)| v == row && i == 0.0)
                .count();
            assert_eq!(all as f64, counts[k], "{}", sweep.display());
            assert_eq!(attracting as f64, stable[k], "{}", sweep.display());
        }
        let (shape, _) = read("slow_states");
        let (_, slow_value) = read("slow_value");
        assert_eq!(shape, [slow_value.len(), s]);
        assert!(slow_value.iter().all(|&v| v == 0.0 || v == 1.0));
    }
    let _ = std::fs::remove_dir_all(store.parent().unwrap());
}
