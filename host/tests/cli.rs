//! End-to-end tests of the `rnndyn` binary.
//!
//! Index:
//! - `print_default_config_parses`: `train --print-default-config` is a valid experiment.
//! - `bad_config_exits_2_naming_file_key_value`.
//! - `oversized_settings_are_refused_before_anything_is_written`: sizes that would need more
//!   memory than any network may (or a huge sweep, `--threads`) are errors naming the key
//!   and the value, before the store exists.
//! - `stores_are_not_mixed_or_scattered`: a store that lost its experiment.toml is not
//!   resumed or reported with other settings; a non-empty directory that is not a store is
//!   refused; a refused `slurm` command writes nothing.
//! - `compare_is_exact_at_extreme_scales_and_embed_refuses_them`: every `compare` metric gives
//!   the same value for data scaled by 2^±900; `embed` of distances whose squares overflow
//!   or underflow is an error naming the file, not a NaN embedding.
//! - `endless_inputs_are_refused_early`: `--config /dev/zero`, `compare`/`embed` of a device
//!   fail at once, naming the file, instead of reading until memory runs out.
//! - `all_diverged_store_stages_write_empty_results`: `topology`, `geometry` and `report` on
//!   a store whose networks all diverged succeed with a warning that says so.
//! - `errors_print_a_cause_only_when_it_adds_information`.
//! - `unsupported_torch_hidden_size_names_the_file`.
//! - `fixed_points_safetensors_errors_name_file_and_tensor`: a `.safetensors` network file
//!   that is truncated, not one, lacks a key, has a wrong shape or an I64 tensor is an
//!   error naming the file (and the key or dtype).
//! - `compare_refuses_more_directions_than_units`: `compare --k` past a matrix's units
//!   names the flag, the value and the file; `--k` within them reports what was kept.
//! - `run_has_no_shard_option`: `run --shard` is a usage error; `run --help` omits it.
//! - `steps_override_is_recorded_and_a_changed_experiment_is_refused`: `--steps` lands in the
//!   store's experiment; resuming with another experiment is an error naming the setting.
//! - `sine_params_have_documented_shapes_and_every_reader_loads_them`: a one-input network's
//!   `U` is `(1, 3N)`; `fixed-points` reads it as a file, a directory and a store (`--json`
//!   is one array), also with the 1-D `U` of earlier versions.
//! - `killed_run_resumes_to_the_same_store`: SIGKILL midway, rerun, compare with an
//!   uninterrupted run.
//! - `run_end_to_end`: `rnndyn run` on a small population (`[analysis] networks = "all"`)
//!   writes the report, every advertised array loads, `fixed-points --json` works on a
//!   network directory, and NumPy alone reproduces every network's forward pass and runs the
//!   README snippet.
//! - `export_torch_round_trips_through_fixed_points_and_pytorch_equations`: `export --torch`
//!   of vanilla (tanh, relu), reset-after GRU and LSTM networks imports back bit for bit,
//!   `fixed-points FILE.npz` finds the same fixed points as `fixed-points NETWORK_DIR`, and
//!   PyTorch's equations in NumPy reproduce rnndyn's probe activity (also with key prefixes);
//!   `--activation relu` or `--gru-convention reset-before` with a PyTorch GRU is refused;
//!   `-o FILE.safetensors` writes the same F32 tensors, and `fixed-points FILE.safetensors`
//!   gives the same fixed points JSON.
//! - `export_torch_refuses_what_pytorch_cannot_express`: UGRNN, reset-before GRU, relu
//!   GRU/LSTM (to `.npz` and `.safetensors`) and an output that is neither `.npz` nor
//!   `.safetensors` are errors naming the directory (or file) and why;
//!   `--rust` and `--torch` are exclusive, one is required.
//! - `findings_leave_out_failed_and_diverged_networks`: no network passes (two diverge): the
//!   findings are over none of them (nulls, "–", no NaN, empty but present matrices);
//!   switching the store to `networks = "all"` compares the two that did not diverge.
//! - `export_rust_refuses_other_extensions_and_keeps_the_file`: `export --rust -o` a name
//!   other than `FILE.rs` is an error naming it, and an earlier `.npz` export is kept.
//! - `fixed_points_file_results_go_to_file_name_dynamics`: `fixed-points net.npz` and
//!   `net.safetensors` write `net.npz.dynamics/` and `net.safetensors.dynamics/`; an `--out`
//!   that is an existing file is an error naming it.
//! - `network_file_errors_name_file_array_and_shape`: a file of neither layout, a forced
//!   wrong `--layout`, a 3-D `W`, a 2-D bias and extra arrays are errors naming the file and
//!   the arrays (with their shapes).
//! - `contradicting_arch_is_refused_and_diverged_networks_warn`: `--arch` other than a
//!   PyTorch file's cell is an error naming both, as is `--gru-convention` for a cell that
//!   is not a GRU; `fixed-points` and `export` of a diverged
//!   network succeed with one warning line naming it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnndyn"))
}

fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rnndyn-cli-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const SMALL: &str = r#"
seed = 3
[task]
kind = "flipflop"
trial_steps = 60
[population]
architectures = ["vanilla", "gru", "lstm"]
activations = ["tanh", "relu"]
hidden_sizes = [8]
l2 = [0.0]
learning_rates = [1e-2]
seeds = 1
gru_convention = "reset-before"
[training]
steps = 120
batch = 32
clip_norm = 10.0
schedule = "constant"
decay = 0.5
decay_steps = 1000
eval_trials = 16
recurrent_gain = 1.0
recurrent_init = "normal"
gate_bias = 1.0
[analysis]
fixed_point_starts = 32
start_noise = 0.05
residual_tolerance = 1e-10
probe_trials = 4
svcca_variance = 0.99
networks = "all"
"#;

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("experiment.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Asserts that a command succeeded, showing its stderr otherwise.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rnndyn train --config cfg --out store --quiet` plus `extra`.
fn train(cfg: &Path, store: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("train")
        .arg("--config")
        .arg(cfg)
        .arg("--out")
        .arg(store)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn print_default_config_parses() {
    let out = bin()
        .args(["train", "--print-default-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let exp = rnndyn::config::parse(&text, "printed").unwrap();
    assert!(text.contains("networks = \"passed\""), "{text}");
    assert_eq!(exp.raw, rnndyn::config::default_raw());
    // The README tells users to edit `max_eval_mse`: the printed file shows it.
    assert!(text.contains("# max_eval_mse = 0.01"), "{text}");
}

#[test]
fn errors_print_a_cause_only_when_it_adds_information() {
    let dir = temp_dir("cause");
    let missing = dir.join("a.npy");
    let out = bin()
        .arg("compare")
        .arg(&missing)
        .arg(&missing)
        .args(["--metric", "cka"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a.npy"), "{err}");
    assert!(!err.contains("caused by"), "{err}");
}

#[test]
fn compare_refuses_more_directions_than_units() {
    let dir = temp_dir("compare-k");
    let (rows, a_units, b_units) = (40, 6, 4);
    // Full-rank activity: a smooth deterministic pattern per unit.
    let activity = |units: usize, phase: f64| -> Vec<f64> {
        (0..rows * units)
            .map(|i| ((i / units) as f64 * (0.3 + 0.17 * (i % units) as f64) + phase).sin())
            .collect()
    };
    let (a, b) = (dir.join("a.npy"), dir.join("b.npy"));
    rnndyn::npy::write_array(&a, &[rows, a_units], &activity(a_units, 0.0)).unwrap();
    rnndyn::npy::write_array(&b, &[rows, b_units], &activity(b_units, 0.5)).unwrap();
    let out = bin()
        .arg("compare")
        .args([&a, &b])
        .args(["--k", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--k")
            && err.contains('5')
            && err.contains("b.npy")
            && err.contains("4 units"),
        "{err}"
    );
    let out = bin()
        .arg("compare")
        .args([&a, &b])
        .args(["--k", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--k") && err.contains("at least 1"), "{err}");
    // A plain `.npy` is not a network file: say what is expected, not "bad zip".
    let out = bin().arg("fixed-points").arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a.npy") && err.contains("`.npz` / `.safetensors`"),
        "{err}"
    );
    let out = bin()
        .arg("compare")
        .args([&a, &b])
        .args(["--k", "3", "--json"])
        .output()
        .unwrap();
    succeeded(&out);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["k_a"].as_u64(), r["k_b"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert_eq!(
        r["correlations"].as_array().map(|c| c.len()),
        Some(3),
        "{r}"
    );
}

#[test]
fn unsupported_torch_hidden_size_names_the_file() {
    let dir = temp_dir("torch17");
    let path = dir.join("rnn17.npz");
    let (h, i, o) = (17, 3, 3);
    let mut w = rnndyn::npy::NpzWriter::new(&path);
    w.add("rnn.weight_hh_l0", &[h, h], &vec![0.0f32; h * h])
        .unwrap()
        .add("rnn.weight_ih_l0", &[h, i], &vec![0.0f32; h * i])
        .unwrap()
        .add("rnn.bias_hh_l0", &[h], &vec![0.0f32; h])
        .unwrap()
        .add("rnn.bias_ih_l0", &[h], &vec![0.0f32; h])
        .unwrap()
        .add("readout.weight", &[o, h], &vec![0.0f32; o * h])
        .unwrap()
        .add("readout.bias", &[o], &vec![0.0f32; o])
        .unwrap();
    w.finish().unwrap();
    let out = bin().arg("fixed-points").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rnn17.npz") && err.contains("hidden size 17"),
        "{err}"
    );
}

#[test]
fn fixed_points_safetensors_errors_name_file_and_tensor() {
    let dir = temp_dir("torch-safetensors-errors");
    let (i, o) = (3, 3);
    let zeros = vec![0.0f32; 17 * 17];
    let full = |h: usize| -> Vec<(&str, Vec<usize>)> {
        vec![
            ("weight_hh_l0", vec![h, h]),
            ("weight_ih_l0", vec![h, i]),
            ("bias_hh_l0", vec![h]),
            ("bias_ih_l0", vec![h]),
            ("readout.weight", vec![o, h]),
            ("readout.bias", vec![o]),
        ]
    };
    let write = |name: &str, tensors: &[(&str, Vec<usize>)]| {
        let path = dir.join(name);
        let t: Vec<(&str, &[usize], &[f32])> = tensors
            .iter()
            .map(|(k, s)| (*k, s.as_slice(), &zeros[..s.iter().product::<usize>()]))
            .collect();
        rnndyn::safetensors_file::write_f32(&path, &t).unwrap();
        path
    };
    let fails = |path: &Path, want: &[&str]| {
        let out = bin().arg("fixed-points").arg(path).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&path.display().to_string()), "{err}");
        for w in want {
            assert!(err.contains(w), "{w:?} not in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    };
    // The same refusal as for the .npz of `unsupported_torch_hidden_size_names_the_file`.
    let path = write("rnn17.safetensors", &full(17));
    fails(&path, &["hidden size 17"]);
    // Truncated, garbage, empty.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    fails(&cut, &["not a valid .safetensors file"]);
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"certainly not a safetensors file").unwrap();
    fails(&junk, &["not a valid .safetensors file"]);
    // A missing readout and a wrong shape name the key.
    let mut missing = full(8);
    missing.retain(|(k, _)| *k != "readout.weight");
    fails(&write("missing.safetensors", &missing), &["readout.weight"]);
    let mut bad = full(8);
    bad[1].1 = vec![8, i, 1];
    fails(&write("shape.safetensors", &bad), &["weight_ih_l0"]);
    // Integer tensors are refused by dtype.
    let data: Vec<u8> = (0..8i64).flat_map(|v| v.to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![8], &data).unwrap();
    let ints = dir.join("ints.safetensors");
    std::fs::write(
        &ints,
        safetensors::serialize([("bias_hh_l0", view)], None).unwrap(),
    )
    .unwrap();
    fails(&ints, &["bias_hh_l0", "I64"]);
}

#[test]
fn bad_config_exits_2_naming_file_key_value() {
    let dir = temp_dir("badconfig");
    let cfg = write_config(
        &dir,
        &SMALL.replace("hidden_sizes = [8]", "hidden_sizes = [0]"),
    );
    let out = bin()
        .arg("train")
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("experiment.toml")
            && err.contains("population.hidden_sizes[0]")
            && err.contains('0'),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Type errors name the key path and the value too, not only the TOML position.
    let cases = [
        ("steps = 120", "steps = -5", "`training.steps` = -5: "),
        (
            "batch = 32",
            "batch = \"big\"",
            "`training.batch` = \"big\": ",
        ),
        (
            "hidden_sizes = [8]",
            "hidden_sizes = [8, \"x\"]",
            "`population.hidden_sizes[1]` = \"x\": ",
        ),
        (
            "steps = 120",
            "stepz = 120",
            "`training.stepz`: unknown field",
        ),
        (
            "seed = 3",
            "seed = 18446744073709551615",
            "`seed` = 18446744073709551615: ",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(SMALL.contains(from), "{from}");
        let cfg = write_config(&dir, &SMALL.replacen(from, to, 1));
        let out = train(&cfg, &dir.join("s"), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{to}: {err}");
        assert!(
            err.contains("experiment.toml") && err.contains(expected),
            "{to}: {err}"
        );
    }
}

#[test]
fn compare_is_exact_at_extreme_scales_and_embed_refuses_them() {
    let dir = temp_dir("extreme-scale");
    let (rows, units) = (30, 5);
    let activity = |phase: f64, scale: f64| -> Vec<f64> {
        (0..rows * units)
            .map(|i| scale * ((i / units) as f64 * (0.2 + 0.13 * (i % units) as f64) + phase).sin())
            .collect()
    };
    let json = |args: &[&Path], metric: &str| -> serde_json::Value {
        let out = bin()
            .arg("compare")
            .args(args)
            .args(["--metric", metric, "--json"])
            .output()
            .unwrap();
        succeeded(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let write = |name: &str, v: &[f64]| {
        let p = dir.join(name);
        rnndyn::npy::write_array(&p, &[rows, units], v).unwrap();
        p
    };
    let a = write("a.npy", &activity(0.0, 1.0));
    let b = write("b.npy", &activity(0.7, 1.0));
    // Powers of two: the scaled data holds exactly the same digits.
    let a_big = write("a_big.npy", &activity(0.0, 2f64.powi(900)));
    let b_small = write("b_small.npy", &activity(0.7, 2f64.powi(-900)));
    for metric in ["svcca", "cka", "cka-rbf", "cka-debiased", "procrustes"] {
        let plain = json(&[&a, &b], metric);
        let scaled = json(&[&a_big, &b_small], metric);
        assert!(
            plain["similarity"].as_f64().unwrap().is_finite(),
            "{metric}: {plain}"
        );
        assert_eq!(plain["similarity"], scaled["similarity"], "{metric}");
        assert_eq!(plain["distance"], scaled["distance"], "{metric}");
    }

    let n = 6;
    let d: Vec<f64> = (0..n * n)
        .map(|k| ((k / n) as f64 - (k % n) as f64).abs())
        .collect();
    for (name, scale, ok) in [
        ("d.npy", 1.0, true),
        ("big.npy", 1e200, false),
        ("tiny.npy", 1e-200, false),
    ] {
        let p = dir.join(name);
        let v: Vec<f64> = d.iter().map(|x| x * scale).collect();
        rnndyn::npy::write_array(&p, &[n, n], &v).unwrap();
        for method in ["classical", "smacof"] {
            let out = bin()
                .arg("embed")
                .arg(&p)
                .args(["--method", method, "--json"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            if ok {
                succeeded(&out);
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    !stdout.contains("null") && !stdout.contains("NaN"),
                    "{stdout}"
                );
            } else {
                assert_eq!(out.status.code(), Some(2), "{name} {method}: {err}");
                assert!(err.contains(name) && err.contains("largest entry"), "{err}");
            }
        }
    }
}

#[test]
fn endless_inputs_are_refused_early() {
    let zero = Path::new("/dev/zero");
    if !zero.exists() {
        return; // not a Unix-like system
    }
    let dir = temp_dir("endless");
    let runs: [&[&str]; 3] = [
        &["train", "--config", "/dev/zero", "--out"],
        &["compare", "/dev/zero", "/dev/zero"],
        &["embed", "/dev/zero"],
    ];
    for args in runs {
        let mut cmd = bin();
        cmd.args(args);
        if args[0] == "train" {
            cmd.arg(dir.join("s"));
        }
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let start = Instant::now();
        // Generous: the bounded read takes milliseconds; an unbounded one never ends.
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("{args:?} still reading after 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("/dev/zero"), "{args:?}: {err}");
    }
}

#[test]
fn oversized_settings_are_refused_before_anything_is_written() {
    let dir = temp_dir("oversized");
    let cases = [
        (
            "steps = 120",
            "steps = 9223372036854775807",
            "training.steps",
        ),
        (
            "batch = 32",
            "batch = 1000000000",
            "training.batch × task.trial_steps",
        ),
        (
            "trial_steps = 60",
            "trial_steps = 100000000",
            "training.batch × task.trial_steps",
        ),
        (
            "eval_trials = 16",
            "eval_trials = 1000000000000",
            "training.eval_trials",
        ),
        (
            "probe_trials = 4",
            "probe_trials = 1000000000000",
            "analysis.probe_trials",
        ),
        (
            "fixed_point_starts = 32",
            "fixed_point_starts = 1000000000000",
            "analysis.fixed_point_starts",
        ),
        ("seeds = 1", "seeds = 100000000000", "× seeds"),
    ];
    let store = dir.join("s");
    for (from, to, key) in cases {
        assert!(SMALL.contains(from), "{from}");
        let cfg = write_config(&dir, &SMALL.replace(from, to));
        let out = train(&cfg, &store, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{to}: {err}");
        let value = to.rsplit(' ').next().unwrap();
        assert!(
            err.contains("experiment.toml") && err.contains(key) && err.contains(value),
            "{to}: {err}"
        );
        assert!(!store.exists(), "{to}: the store was created");
    }
    let cfg = write_config(&dir, SMALL);
    let out = train(&cfg, &store, &["--steps", "10000000000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("training.steps") && err.contains("10000000000"),
        "{err}"
    );
    let out = train(&cfg, &store, &["--threads", "100000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--threads") && err.contains("100000"), "{err}");
    assert!(!store.exists());
}

#[test]
fn stores_are_not_mixed_or_scattered() {
    let dir = temp_dir("unmixed");
    let one = SMALL
        .replace(r#"["vanilla", "gru", "lstm"]"#, r#"["vanilla"]"#)
        .replace(r#"["tanh", "relu"]"#, r#"["tanh"]"#)
        .replace("steps = 120", "steps = 5");
    let cfg = write_config(&dir, &one);
    let store = dir.join("s");
    succeeded(&train(&cfg, &store, &[]));
    let saved = store.join("experiment.toml");
    std::fs::remove_file(&saved).unwrap();
    // Resuming cannot check the networks against the experiment any more.
    let out = train(&cfg, &store, &["--steps", "7"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no experiment.toml"), "{err}");
    assert!(!saved.exists(), "nothing was written");
    // The report would otherwise describe the store with the built-in settings.
    let out = bin().arg("report").arg(&store).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("experiment.toml"), "{err}");
    assert!(!store.join("report.md").exists());

    // A directory with other files in it is not turned into a store.
    let other = dir.join("documents");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let out = train(&cfg, &other, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("documents") && err.contains("not empty"),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&other).unwrap().collect();
    assert_eq!(names.len(), 1, "only notes.txt");

    // A refused `slurm` command writes nothing.
    let array = dir.join("array");
    let out = bin()
        .args(["slurm", "--array", "2", "--cpus-per-task", "0", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&array)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--cpus-per-task 0"), "{err}");
    assert!(!array.exists(), "slurm created {}", array.display());
}

#[test]
fn all_diverged_store_stages_write_empty_results() {
    let dir = temp_dir("alldiverged");
    // ReLU, learning rate 1e3, no clipping: both networks diverge at step 1.
    let cfg = write_config(
        &dir,
        &SMALL
            .replace(r#"["vanilla", "gru", "lstm"]"#, r#"["vanilla"]"#)
            .replace(r#"["tanh", "relu"]"#, r#"["relu"]"#)
            .replace("learning_rates = [1e-2]", "learning_rates = [1e3]")
            .replace("seeds = 1", "seeds = 2")
            .replace("steps = 120", "steps = 30")
            .replace("clip_norm = 10.0", "clip_norm = 0.0"),
    );
    let store = dir.join("s");
    succeeded(&train(&cfg, &store, &[]));
    assert_eq!(
        catalog(&store).matches(",true,").count(),
        2,
        "both diverged"
    );
    for stage in ["fixed-points", "topology", "geometry", "report"] {
        let out = bin().arg(stage).arg(&store).output().unwrap();
        succeeded(&out);
        let err = String::from_utf8_lossy(&out.stderr);
        if stage != "fixed-points" {
            assert!(err.contains("all 2 networks diverged"), "{stage}: {err}");
        }
    }
    for name in ["topology_distances", "svcca_distances", "cka_distances"] {
        let path = store.join(format!("analysis/{name}.npy"));
        let bytes = std::fs::read(&path).unwrap();
        let header = String::from_utf8_lossy(&bytes[..bytes.len().min(128)]);
        assert!(header.contains("'shape': (0, 0, )"), "{name}: {header}");
    }
    assert!(store.join("report.md").is_file());
}

#[test]
fn run_has_no_shard_option() {
    let dir = temp_dir("runshard");
    let cfg = write_config(&dir, SMALL);
    let store = dir.join("s");
    let out = bin()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .args(["--shard", "1/3", "--out"])
        .arg(&store)
        .output()
        .unwrap();
    // `run` has no --shard (it analyses the whole population): a usage error.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--shard"), "{err}");
    assert!(!store.exists(), "nothing may be trained or written");
    let help = bin().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(!help.contains("--shard"), "{help}");
    // The --out line names its default once (clap adds `[default: …]`).
    let out_line = help.lines().find(|l| l.contains("--out")).unwrap();
    assert_eq!(out_line.matches("rnndyn-study").count(), 1, "{out_line}");
}

#[test]
fn steps_override_is_recorded_and_a_changed_experiment_is_refused() {
    let dir = temp_dir("steps");
    let cfg = write_config(
        &dir,
        &SMALL.replace(r#"["vanilla", "gru", "lstm"]"#, r#"["gru"]"#),
    );
    let store = dir.join("s");
    let train = |extra: &[&str]| train(&cfg, &store, &[&["--threads", "1"], extra].concat());
    let first = train(&["--steps", "7"]);
    assert!(first.status.success(), "{first:?}");
    let saved = std::fs::read_to_string(store.join("experiment.toml")).unwrap();
    let exp = rnndyn::config::parse(&saved, "saved").unwrap();
    assert_eq!(exp.training.steps, 7);
    for id in ["gru-tanh-n8-l2_0-lr_1e-2-s0", "gru-relu-n8-l2_0-lr_1e-2-s0"] {
        let rec =
            std::fs::read_to_string(store.join("networks").join(id).join("network.json")).unwrap();
        assert!(rec.contains("\"train_steps\": 7"), "{rec}");
    }
    // The same override resumes (nothing left to train) ...
    let again = train(&["--steps", "7"]);
    assert!(again.status.success(), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("0 trained now, 2 already done"),
        "{again:?}"
    );
    // ... while another step count, or none (the file says 120), would mix two experiments.
    for (extra, now) in [(&["--steps", "8"][..], "8"), (&[], "120")] {
        let out = train(extra);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("different experiment"), "{err}");
        // The message names the setting that differs and both values.
        let detail = format!("`training.steps` is 7 in the store, {now} now");
        assert!(err.contains(&detail), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(store.join("experiment.toml")).unwrap(),
        saved
    );
}

/// Runs `rnndyn fixed-points ARGS --json` and parses its stdout as one JSON document.
fn fixed_points_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = bin()
        .arg("fixed-points")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    succeeded(&out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn sine_params_have_documented_shapes_and_every_reader_loads_them() {
    let dir = temp_dir("sine");
    let cfg = write_config(
        &dir,
        &SMALL
            .replace(r#"kind = "flipflop""#, r#"kind = "sine""#)
            .replace(r#"["vanilla", "gru", "lstm"]"#, r#"["gru"]"#)
            .replace(r#"["tanh", "relu"]"#, r#"["tanh"]"#)
            .replace("steps = 120", "steps = 30"),
    );
    let store = dir.join("s");
    let st = train(&cfg, &store, &["--threads", "1"]);
    assert!(st.status.success(), "{st:?}");
    let net = store.join("networks/gru-tanh-n8-l2_0-lr_1e-2-s0");
    let params = net.join("params.npz");
    // One input: `U` is (I, 3N) = (1, 24) as documented, not 1-D; biases are 1-D.
    let shape = |name: &str| {
        rnndyn::npy::read_npz_array_with_shape(&params, name)
            .unwrap()
            .0
    };
    assert_eq!(shape("U"), [1, 24]);
    assert_eq!(shape("W"), [8, 24]);
    assert_eq!(shape("b"), [24]);

    // The bare file: its input count comes from `U`.
    let file = fixed_points_json(&[
        params.as_os_str(),
        "--arch".as_ref(),
        "gru".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        dir.join("fp").as_os_str(),
    ]);
    let states = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["fixed_points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["state"].clone())
            .collect()
    };
    let file_states = states(&file);
    assert!(!file_states.is_empty());

    // The store with --json: one array, one entry per network, also once analysed.
    for _ in 0..2 {
        let v = fixed_points_json(&[store.as_os_str()]);
        let entries = v.as_array().unwrap();
        assert_eq!(entries.len(), 1, "{v}");
        assert_eq!(entries[0]["id"], "gru-tanh-n8-l2_0-lr_1e-2-s0");
        assert_eq!(
            entries[0]["dynamics"]["fixed_points"],
            file_states.len(),
            "{v}"
        );
    }

    // A store written by an earlier version (`U` 1-D) still loads, to the same network.
    let mut w = rnndyn::npy::NpzWriter::new(&params);
    for name in rnndyn::npy::npz_names(&params).unwrap() {
        let (mut shape, values) = rnndyn::npy::read_npz_shaped(&params, &name).unwrap();
        if name == "U" {
            shape = vec![24];
        }
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        w.add(&name, &shape, &values).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(shape("U"), [24]);
    let legacy_dir = fixed_points_json(&[net.as_os_str()]);
    assert_eq!(states(&legacy_dir), file_states);
    let legacy_file = fixed_points_json(&[
        params.as_os_str(),
        "--arch".as_ref(),
        "gru".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        dir.join("fp-legacy").as_os_str(),
    ]);
    assert_eq!(states(&legacy_file), file_states);
}

fn catalog(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("catalog.csv")).unwrap()
}

fn params(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("networks")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let npz = e.path().join("params.npz");
        let mut arrays = Vec::new();
        for a in rnndyn::npy::npz_names(&npz).unwrap() {
            let (_, v) = rnndyn::npy::read_npz_shaped(&npz, &a).unwrap();
            arrays.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        }
        out.push((name, arrays));
    }
    out.sort();
    out
}

#[test]
fn killed_run_resumes_to_the_same_store() {
    let dir = temp_dir("resume");
    let cfg = write_config(&dir, &SMALL.replace("steps = 120", "steps = 400"));
    let (a, b) = (dir.join("killed"), dir.join("whole"));
    let mut child = bin()
        .arg("train")
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&a)
        .args(["--threads", "1", "--quiet"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once at least one network is complete (but not all).
    let start = Instant::now();
    loop {
        let done = std::fs::read_dir(a.join("networks"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("network.json").is_file())
                    .count()
            })
            .unwrap_or(0);
        if done >= 1 || start.elapsed() > Duration::from_secs(600) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = std::fs::read_dir(a.join("networks"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("network.json").is_file())
        .count();
    assert!(
        (1..6).contains(&partial),
        "{partial} networks finished before the kill"
    );
    let st = train(&cfg, &a, &["--threads", "2"]);
    succeeded(&st);
    assert!(String::from_utf8_lossy(&st.stderr).contains("resuming"));
    let st = train(&cfg, &b, &[]);
    assert!(st.status.success());
    assert_eq!(catalog(&a), catalog(&b));
    assert_eq!(params(&a), params(&b));
}

fn findings(store: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(store.join("analysis/findings.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn findings_leave_out_failed_and_diverged_networks() {
    let dir = temp_dir("failed");
    // Learning rate 1e3 without clipping: the ReLU networks diverge at step 1, the tanh
    // ones survive 30 steps without learning the task.
    let cfg = write_config(
        &dir,
        &SMALL
            .replace(r#"["vanilla", "gru", "lstm"]"#, r#"["vanilla"]"#)
            .replace("learning_rates = [1e-2]", "learning_rates = [1e3]")
            .replace("seeds = 1", "seeds = 2")
            .replace("steps = 120", "steps = 30")
            .replace("clip_norm = 10.0", "clip_norm = 0.0")
            .replace("networks = \"all\"\n", ""),
    );
    let out = dir.join("study");
    let run = |args: &[&str]| {
        let st = bin().args(args).arg(&out).output().unwrap();
        succeeded(&st);
    };
    let cfg = cfg.to_str().unwrap();
    run(&["run", "--quiet", "--threads", "1", "--config", cfg, "--out"]);
    let catalog = catalog(&out);
    assert_eq!(
        catalog.matches(",true,").count(),
        2,
        "two diverged: {catalog}"
    );
    assert!(!catalog.contains(",true,false,"), "none passed: {catalog}");
    let f = findings(&out);
    assert_eq!(f["compared"]["rule"], "passed", "{f}");
    assert_eq!(f["compared"]["count"], 0, "{f}");
    for k in [
        "silhouette_svcca_by_arch",
        "p_value_topology_by_arch",
        "mds_stress1_svcca",
    ] {
        assert!(f[k].is_null(), "{k}: {f}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("NaN") && !md.contains("inf |"), "{md}");
    assert!(md.contains("over 0 of 4 networks"), "{md}");
    let diverged = md.lines().find(|l| l.contains("diverged |")).unwrap();
    assert!(
        diverged.contains("| – | – | – | – | diverged |"),
        "{diverged}"
    );
    assert!(
        md.contains("| silhouette by architecture | – | – |"),
        "{md}"
    );
    // Every matrix is written, over the (empty) compared set of networks.txt.
    assert_eq!(
        std::fs::read_to_string(out.join("analysis/networks.txt")).unwrap(),
        ""
    );
    for (name, cols) in [
        ("svcca_distances", 0),
        ("topology_distances", 0),
        ("mds_svcca", 2),
    ] {
        let m = rnndyn::npy::read_matrix(out.join(format!("analysis/{name}.npy"))).unwrap();
        assert_eq!(m.shape(), (0, cols), "{name}");
    }

    // Compare every network that did not diverge instead.
    let saved = out.join("experiment.toml");
    let text = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(
        &saved,
        text.replace("[analysis]\n", "[analysis]\nnetworks = \"all\"\n"),
    )
    .unwrap();
    run(&["topology"]);
    run(&["geometry"]);
    run(&["report"]);
    let ids: Vec<String> = std::fs::read_to_string(out.join("analysis/networks.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|id| id.contains("tanh")), "{ids:?}");
    let f = findings(&out);
    assert_eq!(f["compared"]["rule"], "all", "{f}");
    assert_eq!(f["compared"]["ids"], serde_json::json!(ids), "{f}");
    // One architecture: no clusters to compare. Two points embed exactly.
    assert!(f["silhouette_svcca_by_arch"].is_null(), "{f}");
    assert_eq!(f["mds_stress1_svcca"], 0.0, "{f}");
    let d = rnndyn::npy::read_matrix(out.join("analysis/svcca_distances.npy")).unwrap();
    let xy = rnndyn::npy::read_matrix(out.join("analysis/mds_svcca.npy")).unwrap();
    assert_eq!((d.shape(), xy.shape()), ((2, 2), (2, 2)));
    let gap = (xy.get(0, 0) - xy.get(1, 0)).hypot(xy.get(0, 1) - xy.get(1, 1));
    assert!(
        d.get(0, 1) > 0.0 && (gap - d.get(0, 1)).abs() < 1e-12,
        "{gap} vs {}",
        d.get(0, 1)
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("over 2 networks of 4 (0 passing)"), "{md}");
}

fn python_with_numpy() -> &'static str {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 with numpy is needed for the NumPy interop tests (pip install numpy)"
    );
    "python3"
}

#[test]
fn run_end_to_end() {
    let dir = temp_dir("run");
    let cfg = write_config(&dir, SMALL);
    let out = dir.join("study");
    let st = bin()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    succeeded(&st);
    for f in [
        "report.html",
        "report.md",
        "catalog.csv",
        "analysis/findings.json",
        "analysis/networks.txt",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("</html>"));
    // Every advertised array loads.
    for f in [
        "svcca_distances",
        "cka_distances",
        "topology_distances",
        "mds_svcca",
        "mds_topology",
    ] {
        let m = rnndyn::npy::read_matrix(out.join(format!("analysis/{f}.npy"))).unwrap();
        assert!(m.as_slice().iter().all(|v| v.is_finite()), "{f}");
    }
    let ids: Vec<String> = std::fs::read_to_string(out.join("analysis/networks.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 6);
    let f = findings(&out);
    assert_eq!(f["compared"]["rule"], "all", "{f}");
    assert_eq!(f["compared"]["ids"], serde_json::json!(ids), "{f}");
    for id in &ids {
        let net = out.join("networks").join(id);
        for npz in ["params.npz", "fixed_points.npz", "topology.npz"] {
            for a in rnndyn::npy::npz_names(net.join(npz)).unwrap() {
                rnndyn::npy::read_npz_shaped(net.join(npz), &a).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        rnndyn::npy::read_matrix(net.join("activity.npy")).unwrap();
        rnndyn::npy::read_matrix(net.join("curve.npy")).unwrap();
    }
    // Figures referenced by the report exist and are PNG/SVG.
    for line in std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .lines()
    {
        if let Some(i) = line.find("](") {
            let file = &line[i + 2..line.len() - 1];
            let bytes = std::fs::read(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(
                bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{file} is not a PNG"
            );
            let svg = std::fs::read_to_string(out.join(file).with_extension("svg")).unwrap();
            assert!(svg.contains("<svg"), "{file}: no SVG twin");
        }
    }
    // `fixed-points --json` on one network directory.
    let net = out.join("networks").join(&ids[0]);
    let fp = bin()
        .arg("fixed-points")
        .arg(&net)
        .arg("--json")
        .output()
        .unwrap();
    succeeded(&fp);
    let v: serde_json::Value = serde_json::from_slice(&fp.stdout).unwrap();
    for p in v["fixed_points"].as_array().unwrap() {
        assert!(p["residual"].as_f64().unwrap() <= 1e-10);
        assert!(p["state"].as_array().is_some() && p["eigenvalues"].as_array().is_some());
    }
    // NumPy alone reproduces the forward passes, and the README snippet runs.
    let py = python_with_numpy();
    let st = Command::new(py)
        .arg(repo().join("tests/data/numpy_forward.py"))
        .arg(&out)
        .arg(out.join("analysis/probe_inputs.npy"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}{}",
        String::from_utf8_lossy(&st.stdout),
        String::from_utf8_lossy(&st.stderr)
    );
    let st = Command::new(py)
        .arg(repo().join("tests/data/readme_snippet.py"))
        .current_dir(&dir)
        .env("RNNDYN_STUDY", &out)
        .output()
        .unwrap();
    succeeded(&st);
}

/// A small trained store from `SMALL` with the population settings replaced.
fn tiny_store(dir: &Path, archs: &str, acts: &str, convention: &str, steps: u32) -> PathBuf {
    let cfg = write_config(
        dir,
        &SMALL
            .replace(r#"["vanilla", "gru", "lstm"]"#, archs)
            .replace(r#"["tanh", "relu"]"#, acts)
            .replace(
                r#"gru_convention = "reset-before""#,
                &format!("gru_convention = {convention:?}"),
            )
            .replace("steps = 120", &format!("steps = {steps}")),
    );
    let store = dir.join("s");
    let st = train(&cfg, &store, &["--threads", "1"]);
    succeeded(&st);
    store
}

fn export_torch(net: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("export")
        .arg("--torch")
        .arg(net)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// The arrays of an `.npz` as a PyTorch state dict.
fn state_dict(path: &Path) -> rnndyn::torch::StateDict {
    rnndyn::npy::npz_names(path)
        .unwrap()
        .into_iter()
        .map(|n| {
            let (shape, data) = rnndyn::npy::read_npz_shaped(path, &n).unwrap();
            (n, rnndyn::torch::Array::new(shape, data).unwrap())
        })
        .collect()
}

#[test]
fn export_torch_round_trips_through_fixed_points_and_pytorch_equations() {
    use rnndyn::torch::{Keys, TorchCell};
    let dir = temp_dir("export-torch");
    let store = tiny_store(
        &dir,
        r#"["vanilla", "gru", "lstm"]"#,
        r#"["tanh", "relu"]"#,
        "reset-after",
        30,
    );
    // Probe inputs and each network's activity.npy, for the NumPy check.
    let st = bin()
        .arg("geometry")
        .arg(&store)
        .args(["--threads", "1"])
        .output()
        .unwrap();
    succeeded(&st);
    let cfg = store.join("experiment.toml");
    let py = python_with_numpy();
    // `fixed-points FILE --config cfg [extra] --out DIR/<tag>.dynamics`.
    let from_file = |file: &Path, tag: &str, extra: &[&str]| {
        let out = dir.join(format!("{tag}.dynamics"));
        let mut args: Vec<&std::ffi::OsStr> = vec![file.as_os_str(), "--config".as_ref()];
        args.push(cfg.as_os_str());
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        args.extend(["--out".as_ref(), out.as_os_str()]);
        fixed_points_json(&args)
    };
    let cases = [
        ("vanilla-tanh", TorchCell::Rnn, "rnn_tanh", "tanh"),
        ("vanilla-relu", TorchCell::Rnn, "rnn_relu", "relu"),
        ("gru-tanh", TorchCell::Gru, "gru", "tanh"),
        ("lstm-tanh", TorchCell::Lstm, "lstm", "tanh"),
    ];
    for (name, cell, py_cell, act) in cases {
        let net = store.join(format!("networks/{name}-n8-l2_0-lr_1e-2-s0"));
        let file = dir.join(format!("{name}.npz"));
        let out = export_torch(&net, &file, &[]);
        succeeded(&out);
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(msg.contains(&format!("{name}.npz")), "{msg}");

        // PyTorch's keys and shapes, float32; importing gives the stored bits back.
        let sd = state_dict(&file);
        let k = cell.gates();
        assert_eq!(sd["weight_hh_l0"].shape, [k * 8, 8], "{name}");
        assert_eq!(sd["weight_ih_l0"].shape, [k * 8, 3], "{name}");
        assert_eq!(sd["readout.weight"].shape, [3, 8], "{name}");
        assert_eq!(sd.len(), 6, "{name}");
        let back = rnndyn::torch::import(cell, &sd).unwrap();
        let stored = rnndyn::export::load_network(&net).unwrap().params;
        assert_eq!(back.params.len(), stored.len(), "{name}");
        for (i, (a, b)) in back.params.iter().zip(&stored).enumerate() {
            assert_eq!(a.to_bits(), f64::from(*b).to_bits(), "{name} parameter {i}");
        }

        // Same fixed points and topology through the PyTorch file as through the directory.
        let from_dir = fixed_points_json(&[net.as_os_str()]);
        assert!(
            !from_dir["fixed_points"].as_array().unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            from_file(&file, name, &["--activation", act]),
            from_dir,
            "{name}"
        );

        // The same state dict as .safetensors (F32 tensors, same keys and shapes, same
        // bits), and the same fixed points through it.
        let st_file = dir.join(format!("{name}.safetensors"));
        let out = export_torch(&net, &st_file, &[]);
        succeeded(&out);
        let bytes = std::fs::read(&st_file).unwrap();
        let raw = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(raw.len(), 6, "{name}");
        for (key, view) in raw.iter() {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name} {key}");
        }
        assert_eq!(
            rnndyn::safetensors_file::read(&st_file).unwrap(),
            sd,
            "{name}: .safetensors and .npz state dicts"
        );
        assert_eq!(
            from_file(&st_file, &format!("{name}.st"), &["--activation", act]),
            from_dir,
            "{name} (.safetensors)"
        );

        // PyTorch's equations (NumPy) on the exported file give rnndyn's probe activity.
        let st = Command::new(py)
            .arg(repo().join("tests/data/torch_forward.py"))
            .arg(&file)
            .arg(py_cell)
            .arg(store.join("analysis/probe_inputs.npy"))
            .arg(net.join("activity.npy"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&st.stdout),
            String::from_utf8_lossy(&st.stderr)
        );
    }

    // A PyTorch GRU is tanh and reset-after, an LSTM has no convention: options that say
    // otherwise are refused, the one that agrees changes nothing.
    let gru_file = dir.join("gru-tanh.npz");
    let gru_net = store.join("networks/gru-tanh-n8-l2_0-lr_1e-2-s0");
    let with = |file: &Path, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![file.as_os_str(), "--config".as_ref()];
        args.push(cfg.as_os_str());
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        fixed_points(&args)
    };
    let gru_shown = gru_file.display().to_string();
    fails_with(
        &with(&gru_file, &["--activation", "relu"]),
        &[&gru_shown, "--activation relu", "GRU is always tanh"],
    );
    fails_with(
        &with(&gru_file, &["--gru-convention", "reset-before"]),
        &[&gru_shown, "--gru-convention reset-before", "(reset-after)"],
    );
    fails_with(
        &with(&gru_file, &["--gru-convention", "sideways"]),
        &["--gru-convention", "\"sideways\""],
    );
    let lstm_file = dir.join("lstm-tanh.npz");
    fails_with(
        &with(&lstm_file, &["--gru-convention", "reset-after"]),
        &[&lstm_file.display().to_string(), "PyTorch LSTM, not a GRU"],
    );
    assert_eq!(
        from_file(&gru_file, "gru-after", &["--gru-convention", "reset-after"]),
        fixed_points_json(&[gru_net.as_os_str()]),
    );

    // Key prefixes: written as asked, read back by import_with, fixed-points and NumPy.
    let net = store.join("networks/gru-tanh-n8-l2_0-lr_1e-2-s0");
    let file = dir.join("prefixed.npz");
    let out = export_torch(
        &net,
        &file,
        &["--rnn-prefix", "rnn.", "--readout-prefix", "head."],
    );
    succeeded(&out);
    let sd = state_dict(&file);
    let mut keys: Vec<&str> = sd.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "head.bias",
            "head.weight",
            "rnn.bias_hh_l0",
            "rnn.bias_ih_l0",
            "rnn.weight_hh_l0",
            "rnn.weight_ih_l0"
        ]
    );
    let prefixed = Keys {
        rnn: "rnn.".into(),
        readout: "head.".into(),
    };
    let plain = state_dict(&dir.join("gru-tanh.npz"));
    assert_eq!(
        rnndyn::torch::import_with(TorchCell::Gru, &sd, &prefixed).unwrap(),
        rnndyn::torch::import(TorchCell::Gru, &plain).unwrap()
    );
    let prefixed_fps = from_file(&file, "prefixed", &["--readout-prefix", "head."]);
    assert_eq!(prefixed_fps, fixed_points_json(&[net.as_os_str()]));
    // The prefixed keys through .safetensors (auto layout finds `rnn.weight_hh_l0`).
    let st_file = dir.join("prefixed.safetensors");
    let out = export_torch(
        &net,
        &st_file,
        &["--rnn-prefix", "rnn.", "--readout-prefix", "head."],
    );
    succeeded(&out);
    assert_eq!(rnndyn::safetensors_file::read(&st_file).unwrap(), sd);
    assert_eq!(
        from_file(&st_file, "prefixed.st", &["--readout-prefix", "head."]),
        prefixed_fps
    );
    let st = Command::new(py)
        .arg(repo().join("tests/data/torch_forward.py"))
        .arg(&file)
        .arg("gru")
        .arg(store.join("analysis/probe_inputs.npy"))
        .arg(net.join("activity.npy"))
        .args(["rnn.", "head."])
        .output()
        .unwrap();
    succeeded(&st);

    // No temporary files left next to the outputs.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp."), "{name}");
    }
}

#[test]
fn export_torch_refuses_what_pytorch_cannot_express() {
    let dir = temp_dir("export-torch-refused");
    let before = tiny_store(
        &dir,
        r#"["ugrnn", "gru"]"#,
        r#"["tanh"]"#,
        "reset-before",
        5,
    );
    let refused = |net: &Path, why: &[&str]| {
        for file in [dir.join("refused.npz"), dir.join("refused.safetensors")] {
            let out = export_torch(net, &file, &[]);
            assert_eq!(out.status.code(), Some(2));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&net.display().to_string()), "{err}");
            for w in why {
                assert!(err.contains(w), "{w:?} not in {err}");
            }
            // What can be exported is part of the message.
            assert!(
                err.contains("reset-after") && err.contains("nn.LSTM"),
                "{err}"
            );
            assert!(!file.exists(), "{err}");
        }
    };
    refused(
        &before.join("networks/ugrnn-tanh-n8-l2_0-lr_1e-2-s0"),
        &["UGRNN", "no PyTorch module"],
    );
    refused(
        &before.join("networks/gru-tanh-n8-l2_0-lr_1e-2-s0"),
        &["reset-before GRU", "nn.GRU"],
    );

    let sub = dir.join("relu");
    std::fs::create_dir_all(&sub).unwrap();
    let relu = tiny_store(&sub, r#"["gru", "lstm"]"#, r#"["relu"]"#, "reset-after", 5);
    refused(
        &relu.join("networks/gru-relu-n8-l2_0-lr_1e-2-s0"),
        &["relu", "tanh"],
    );
    refused(
        &relu.join("networks/lstm-relu-n8-l2_0-lr_1e-2-s0"),
        &["relu", "tanh"],
    );

    // Only .npz and .safetensors are written.
    let net = before.join("networks/gru-tanh-n8-l2_0-lr_1e-2-s0");
    for name in ["w.pt", "w.pth", "w.npy", "w"] {
        let out = export_torch(&net, &dir.join(name), &[]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(name) && err.contains(".npz") && err.contains(".safetensors"),
            "{err}"
        );
        assert!(!dir.join(name).exists());
    }

    // Exactly one of --rust and --torch; key prefixes only with --torch.
    for args in [
        vec!["export", "-o", "x.npz"],
        vec!["export", "--rust", "a", "--torch", "a", "-o", "x.npz"],
        vec![
            "export",
            "--rust",
            "a",
            "--readout-prefix",
            "h.",
            "-o",
            "x.rs",
        ],
    ] {
        let out = bin().args(&args).current_dir(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Usage"),
            "{args:?}"
        );
    }
}

/// A store with one trained vanilla tanh network (5 steps); returns the store and the
/// network directory.
fn one_vanilla(dir: &Path) -> (PathBuf, PathBuf) {
    let store = tiny_store(dir, r#"["vanilla"]"#, r#"["tanh"]"#, "reset-before", 5);
    let net = store.join("networks/vanilla-tanh-n8-l2_0-lr_1e-2-s0");
    (store, net)
}

/// `rnndyn fixed-points ARGS` (not `--json`): its output.
fn fixed_points(args: &[&std::ffi::OsStr]) -> std::process::Output {
    bin().arg("fixed-points").args(args).output().unwrap()
}

/// Asserts exit status 2 and that stderr holds each of `want`; returns stderr.
fn fails_with(out: &std::process::Output, want: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    for w in want {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn export_rust_refuses_other_extensions_and_keeps_the_file() {
    let dir = temp_dir("export-rust-ext");
    let (_, net) = one_vanilla(&dir);
    let npz = dir.join("v.npz");
    succeeded(&export_torch(&net, &npz, &[]));
    let saved = std::fs::read(&npz).unwrap();
    for name in ["v.npz", "v.txt", "v"] {
        let out = bin()
            .arg("export")
            .arg("--rust")
            .arg(&net)
            .arg("-o")
            .arg(dir.join(name))
            .output()
            .unwrap();
        fails_with(&out, &[&dir.join(name).display().to_string(), ".rs"]);
    }
    // The PyTorch export is untouched; nothing was created for the others.
    assert_eq!(std::fs::read(&npz).unwrap(), saved);
    assert!(!dir.join("v.txt").exists() && !dir.join("v").exists());
    let rs = dir.join("v.rs");
    let out = bin()
        .arg("export")
        .arg("--rust")
        .arg(&net)
        .arg("-o")
        .arg(&rs)
        .output()
        .unwrap();
    succeeded(&out);
    assert!(std::fs::read_to_string(&rs)
        .unwrap()
        .contains("pub const PARAMS"));
}

#[test]
fn fixed_points_file_results_go_to_file_name_dynamics() {
    let dir = temp_dir("fp-default-out");
    let (store, net) = one_vanilla(&dir);
    let cfg = store.join("experiment.toml");
    let (npz, st) = (dir.join("net.npz"), dir.join("net.safetensors"));
    succeeded(&export_torch(&net, &npz, &[]));
    succeeded(&export_torch(&net, &st, &[]));
    let results = |file: &Path| {
        let mut name = file.file_name().unwrap().to_os_string();
        name.push(".dynamics");
        dir.join(name)
    };
    succeeded(&fixed_points(&[
        npz.as_os_str(),
        "--config".as_ref(),
        cfg.as_os_str(),
    ]));
    let first = std::fs::read(results(&npz).join("fixed_points.npz")).unwrap();
    succeeded(&fixed_points(&[
        st.as_os_str(),
        "--config".as_ref(),
        cfg.as_os_str(),
    ]));
    // Two files, two result directories: the second run leaves the first's results alone.
    assert!(results(&st).join("fixed_points.npz").is_file());
    assert_eq!(
        std::fs::read(results(&npz).join("fixed_points.npz")).unwrap(),
        first
    );
    assert!(!dir.join("net.dynamics").exists());

    // An --out that is an existing file: an error naming it, the file kept.
    let taken = dir.join("A.npy");
    std::fs::write(&taken, b"saved").unwrap();
    let out = fixed_points(&[
        npz.as_os_str(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        taken.as_os_str(),
    ]);
    fails_with(&out, &[&taken.display().to_string(), "existing file"]);
    assert_eq!(std::fs::read(&taken).unwrap(), b"saved");
}

/// Named arrays of an `.npz`: (name, shape, float32 values).
type Arrays = Vec<(String, Vec<usize>, Vec<f32>)>;

fn npz_arrays(path: &Path) -> Arrays {
    rnndyn::npy::npz_names(path)
        .unwrap()
        .into_iter()
        .map(|n| {
            let (shape, v) = rnndyn::npy::read_npz_shaped(path, &n).unwrap();
            (n, shape, v.iter().map(|&x| x as f32).collect())
        })
        .collect()
}

fn write_npz(path: &Path, arrays: &Arrays) {
    let mut w = rnndyn::npy::NpzWriter::new(path);
    for (n, s, v) in arrays {
        w.add(n, s, v).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn network_file_errors_name_file_array_and_shape() {
    let dir = temp_dir("netfile-errors");
    let (store, net) = one_vanilla(&dir);
    let (cfg, fp) = (store.join("experiment.toml"), dir.join("fp"));
    let run = |file: &Path, extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![file.as_os_str(), "--config".as_ref()];
        args.push(cfg.as_os_str());
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        args.extend(["--out".as_ref(), fp.as_os_str()]);
        fixed_points(&args)
    };
    let shown = |p: &Path| p.display().to_string();

    // Neither layout: the file and what it holds, not a request for --arch.
    let other = dir.join("other.npz");
    write_npz(&other, &vec![("A".into(), vec![3], vec![0.0; 3])]);
    let err = fails_with(
        &run(&other, &[]),
        &[&shown(&other), "either layout", "\"A\""],
    );
    assert!(!err.contains("--arch"), "{err}");
    let empty = dir.join("empty.npz");
    write_npz(&empty, &Vec::new());
    fails_with(
        &run(&empty, &[]),
        &[&shown(&empty), "either layout", "none"],
    );
    // A forced layout the file does not have.
    let torch = dir.join("torch.npz");
    succeeded(&export_torch(&net, &torch, &[]));
    fails_with(
        &run(&torch, &["--layout", "rnndyn"]),
        &[&shown(&torch), "not an rnndyn-layout", "weight_hh_l0"],
    );
    let params = net.join("params.npz");
    fails_with(
        &run(&params, &["--layout", "torch"]),
        &[&shown(&params), "no weight_hh_l0", "\"W\""],
    );
    fails_with(&run(&params, &[]), &[&shown(&params), "needs --arch"]);

    // The unmodified rnndyn-layout file loads; each change below is refused.
    succeeded(&run(&params, &["--arch", "vanilla"]));
    let arrays = npz_arrays(&params);
    let variant = |name: &str, edit: &dyn Fn(&mut Arrays)| {
        let mut a = arrays.clone();
        edit(&mut a);
        let path = dir.join(name);
        write_npz(&path, &a);
        path
    };
    let reshape = |key: &'static str, shape: Vec<usize>| {
        move |a: &mut Arrays| {
            a.iter_mut().find(|x| x.0 == key).unwrap().1 = shape.clone();
        }
    };
    let w3 = variant("w3.npz", &reshape("W", vec![1, 8, 8]));
    let err = fails_with(
        &run(&w3, &["--arch", "vanilla"]),
        &[&shown(&w3), "`W`", "[1, 8, 8]", "(N, N)"],
    );
    assert!(!err.contains("hidden size"), "{err}");
    let b2 = variant("b2.npz", &reshape("b", vec![8, 1]));
    fails_with(
        &run(&b2, &["--arch", "vanilla"]),
        &[&shown(&b2), "`b`", "[8, 1]", "1-D"],
    );
    let extra = variant("extra.npz", &|a| {
        a.push(("notes".into(), vec![2], vec![1.0, 2.0]));
        a.push(("bh".into(), vec![8], vec![0.0; 8]));
    });
    fails_with(
        &run(&extra, &["--arch", "vanilla"]),
        &[&shown(&extra), "unexpected arrays", "\"notes\"", "\"bh\""],
    );
}

#[test]
fn contradicting_arch_is_refused_and_diverged_networks_warn() {
    let dir = temp_dir("arch-diverged");
    let (store, net) = one_vanilla(&dir);
    let cfg = store.join("experiment.toml");
    let file = dir.join("v.npz");
    succeeded(&export_torch(&net, &file, &[]));
    let with_arch = |arch: &str| {
        fixed_points(&[
            file.as_os_str(),
            "--config".as_ref(),
            cfg.as_os_str(),
            "--arch".as_ref(),
            arch.as_ref(),
        ])
    };
    fails_with(
        &with_arch("gru"),
        &[
            &file.display().to_string(),
            "--arch gru",
            "weight_hh_l0",
            "--arch vanilla",
        ],
    );
    fails_with(&with_arch("gruu"), &["--arch gruu"]);
    succeeded(&with_arch("vanilla"));
    // Only a GRU has a convention, in either layout.
    let with_convention = |file: &Path, arch: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![file.as_os_str(), "--config".as_ref()];
        args.push(cfg.as_os_str());
        args.extend(arch.iter().map(|a| std::ffi::OsStr::new(*a)));
        args.extend(["--gru-convention", "reset-after"].map(std::ffi::OsStr::new));
        fixed_points(&args)
    };
    fails_with(
        &with_convention(&file, &[]),
        &[&file.display().to_string(), "PyTorch RNN, not a GRU"],
    );
    fails_with(
        &with_convention(&net.join("params.npz"), &["--arch", "vanilla"]),
        &["--gru-convention reset-after given with --arch vanilla"],
    );

    // Mark the network diverged: it is still analysed and exported, with one warning line.
    let json = net.join("network.json");
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(text.contains("\"diverged\": false"), "{text}");
    std::fs::write(
        &json,
        text.replace("\"diverged\": false", "\"diverged\": true")
            .replace("\"diverged_at_step\": null", "\"diverged_at_step\": 3"),
    )
    .unwrap();
    let warned = |out: &std::process::Output| {
        succeeded(out);
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].contains("vanilla-tanh-n8-l2_0-lr_1e-2-s0")
                && lines[0].contains("diverged")
                && lines[0].contains("step 3"),
            "{err}"
        );
    };
    warned(&fixed_points(&[net.as_os_str()]));
    warned(&export_torch(&net, &dir.join("d.npz"), &[]));
    let rust = bin()
        .arg("export")
        .arg("--rust")
        .arg(&net)
        .arg("-o")
        .arg(dir.join("d.rs"))
        .output()
        .unwrap();
    warned(&rust);
    // A network that did not diverge exports without a warning.
    std::fs::write(&json, &text).unwrap();
    let out = export_torch(&net, &dir.join("ok.npz"), &[]);
    succeeded(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}
