//! The paper's findings on the built-in default study (`rnndyn run` with no config):
//! SVCCA separates architectures (silhouette above 0, significant by a permutation test)
//! while the topology of fixed points does not (silhouette near or below 0, not
//! significant), and passing flip-flop networks have the canonical 8-attractor topology.
//! The comparisons are over the passing networks only (`[analysis] networks = "passed"`).
//! Slow-ish (a few minutes on 2 cores); it runs in `.ci/run` like every other test.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn default_study_reproduces_the_paper() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rnndyn-default-study");
    let _ = std::fs::remove_dir_all(&out);
    let st = Command::new(env!("CARGO_BIN_EXE_rnndyn"))
        .arg("run")
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("analysis/findings.json")).unwrap())
            .unwrap();
    let get = |k: &str| {
        f[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {f}"))
    };
    let (s_svcca, s_topo) = (
        get("silhouette_svcca_by_arch"),
        get("silhouette_topology_by_arch"),
    );
    assert!(
        s_svcca > 0.05,
        "SVCCA silhouette by architecture {s_svcca}: {f}"
    );
    assert!(get("p_value_svcca_by_arch") < 0.05, "{f}");
    assert!(
        s_topo < s_svcca && s_topo.abs() < 0.2,
        "topology silhouette {s_topo}: {f}"
    );
    assert!(get("p_value_topology_by_arch") > 0.05, "{f}");
    let passed = f["passed"].as_u64().unwrap();
    let canonical = f["canonical_topology"].as_u64().unwrap();
    // Passing includes holding all 8 memories for 1000 input-free steps; networks that
    // reach a low MSE with slowly drifting memories (slow points, not attractors) fail it.
    assert!(passed >= 24, "only {passed} networks passed: {f}");
    assert_eq!(canonical, passed, "{canonical} of {passed} canonical: {f}");
    // Findings and every matrix in analysis/ cover exactly the passing networks.
    assert_eq!(f["compared"]["rule"], "passed", "{f}");
    assert_eq!(f["compared"]["count"].as_u64(), Some(passed), "{f}");
    let order: Vec<String> = std::fs::read_to_string(out.join("analysis/networks.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(f["compared"]["ids"], serde_json::json!(order), "{f}");
    let catalog = std::fs::read_to_string(out.join("catalog.csv")).unwrap();
    let mut passing: Vec<&str> = catalog
        .lines()
        .filter(|l| l.contains(",true,false,"))
        .filter_map(|l| l.split(',').next())
        .collect();
    passing.sort();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        sorted, passing,
        "networks.txt vs the catalog's passing networks"
    );
    for name in ["svcca_distances", "cka_distances", "topology_distances"] {
        let m = rnndyn::npy::read_matrix(out.join(format!("analysis/{name}.npy"))).unwrap();
        assert_eq!(m.shape(), (order.len(), order.len()), "{name}");
    }
    let xy = rnndyn::npy::read_matrix(out.join("analysis/mds_svcca.npy")).unwrap();
    assert_eq!(xy.shape(), (order.len(), 2));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains(&format!("over {passed} passing networks of 32")),
        "{md}"
    );
}
