//! The report of an analysed store: quantitative findings (`analysis/findings.json`), the
//! population table and fixed-point summary, as `report.md` and an offline `report.html`.

use crate::analysis::Matrix;
use crate::config::NetworkSet;
use crate::dynamics::network::DynamicsSummary;
use crate::npy;
use crate::stages::{self, categories, silhouette, silhouette_p_value, ComparedSet, Findings};
use crate::store::{NetworkRecord, Store};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type ReportError = Box<dyn std::error::Error + Send + Sync>;

fn read_matrix_if(path: &Path) -> Option<Matrix> {
    npy::read_matrix(path).ok()
}

/// The rows `idx` and the same columns of a square matrix.
fn restrict(m: &Matrix, idx: &[usize]) -> Matrix {
    let mut out = Matrix::zeros(idx.len(), idx.len());
    for (a, &i) in idx.iter().enumerate() {
        for (b, &j) in idx.iter().enumerate() {
            out.set(a, b, m.get(i, j));
        }
    }
    out
}

/// Computes the findings from what the store holds: over the networks of
/// `analysis/networks.txt` that `[analysis] networks` selects (all of them, unless the
/// matrices were made under another setting or by an older rnndyn).
pub fn findings(store: &Store, records: &[NetworkRecord]) -> Result<Findings, ReportError> {
    let set = stages::store_experiment(store)
        .map(|e| e.network_set)
        .unwrap_or(NetworkSet::Passed);
    let dir = store.root().join("analysis");
    let order: Vec<String> = std::fs::read_to_string(dir.join("networks.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let by_id: BTreeMap<&str, &NetworkRecord> =
        records.iter().map(|r| (r.id.as_str(), r)).collect();
    // (matrix row, network) of the rows the rule selects.
    let (rows, ordered): (Vec<usize>, Vec<&NetworkRecord>) = order
        .iter()
        .enumerate()
        .filter_map(|(i, id)| by_id.get(id.as_str()).map(|r| (i, *r)))
        .filter(|(_, r)| stages::in_set(set, r))
        .unzip();
    let expected = records.iter().filter(|r| stages::in_set(set, r)).count();
    let stale = rows.len() != order.len();
    if stale || rows.len() != expected {
        eprintln!(
            "rnndyn: warning: {}: the analysis/ matrices cover {} networks, of which {} match \
             `[analysis] networks = \"{}\"` (which selects {expected}); the findings use those {}. \
             Rerun `rnndyn topology {root}` and `rnndyn geometry {root}` to recompute them",
            store.root().display(),
            order.len(),
            rows.len(),
            set.name(),
            rows.len(),
            root = store.root().display(),
        );
    }
    let arch = categories(&ordered.iter().map(|r| r.arch.clone()).collect::<Vec<_>>());
    let act = categories(
        &ordered
            .iter()
            .map(|r| r.activation.clone())
            .collect::<Vec<_>>(),
    );
    let load = |name: &str| {
        read_matrix_if(&dir.join(name))
            .filter(|m| m.rows() == order.len() && m.cols() == order.len())
            .map(|m| if stale { restrict(&m, &rows) } else { m })
    };
    let (svcca, cka, topo) = (
        load("svcca_distances.npy"),
        load("cka_distances.npy"),
        load("topology_distances.npy"),
    );
    let sil = |m: &Option<Matrix>, l: &[usize]| m.as_ref().and_then(|m| silhouette(m, l));
    let pv =
        |m: &Option<Matrix>, l: &[usize]| m.as_ref().and_then(|m| silhouette_p_value(m, l, 199, 7));
    // The saved embeddings keep the rows of networks.txt: not rewritten from stale matrices.
    let stress = |name: &str, m: &Option<Matrix>| -> Result<Option<f64>, ReportError> {
        match m {
            Some(m) if stale => Ok(stages::embed(m)?.1),
            Some(m) => Ok(stages::embed_stage(store, name, m)?.1),
            None => Ok(None),
        }
    };
    let task = records.first().map(|r| r.task.as_str()).unwrap_or("");
    let is_flipflop = task == "flipflop";
    let passed: Vec<&NetworkRecord> = records.iter().filter(|r| r.passed).collect();
    let sweeps: Vec<DynamicsSummary> = passed
        .iter()
        .filter_map(|r| stages::dynamics_summary(store, &r.id))
        .filter(|s| !s.sweep.is_empty())
        .collect();
    let mut canonical = 0;
    let mut with_dyn = 0;
    for r in &passed {
        if let Ok(t) = crate::dynamics::network::load_topology(&store.network_dir(&r.id)) {
            with_dyn += 1;
            if is_flipflop && crate::dynamics::topology::check_flipflop_canonical(&t, 3).is_ok() {
                canonical += 1;
            }
        }
    }
    Ok(Findings {
        networks: records.len(),
        passed: passed.len(),
        compared: ComparedSet {
            rule: set.name().into(),
            count: ordered.len(),
            ids: ordered.iter().map(|r| r.id.clone()).collect(),
        },
        silhouette_svcca_by_arch: sil(&svcca, &arch),
        silhouette_svcca_by_activation: sil(&svcca, &act),
        silhouette_cka_by_arch: sil(&cka, &arch),
        silhouette_topology_by_arch: sil(&topo, &arch),
        silhouette_topology_by_activation: sil(&topo, &act),
        p_value_svcca_by_arch: pv(&svcca, &arch),
        p_value_topology_by_arch: pv(&topo, &arch),
        canonical_topology: is_flipflop.then_some(canonical),
        sine_frequency_tracking: (task == "sine").then(|| sine_tracking(&sweeps)),
        integration_line_attractors: (task == "integration").then(|| line_attractors(&sweeps)),
        passed_with_dynamics: with_dyn,
        mds_stress1_svcca: stress("svcca", &svcca)?,
        mds_stress1_topology: stress("topology", &topo)?,
    })
}

/// Share of a sine sweep's frequencies that must have an unstable complex pair.
const SINE_MIN_OSCILLATING: f64 = 0.9;
/// Least Pearson correlation of arg λ with ω for a network that tracks the frequency.
pub const SINE_MIN_CORRELATION: f64 = 0.98;
/// Largest ||λ| − 1| of an integration context's slowest mode for a line attractor.
pub const LINE_ATTRACTOR_TOLERANCE: f64 = 0.02;

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// Pearson correlation of the pairs (NaN if either side is constant).
pub fn correlation(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x / n, b + y / n));
    let (sxy, sxx, syy) = pts.iter().fold((0.0, 0.0, 0.0), |(a, b, c), &(x, y)| {
        (
            a + (x - mx) * (y - my),
            b + (x - mx).powi(2),
            c + (y - my).powi(2),
        )
    });
    sxy / (sxx * syy).sqrt()
}

/// (ω, arg λ) of a sine sweep's rows with an unstable complex pair.
pub fn sine_angles(s: &DynamicsSummary) -> Vec<(f64, f64)> {
    s.sweep
        .iter()
        .filter(|p| p.leading_angle.is_finite() && p.leading_modulus > 1.0)
        .map(|p| (p.parameter, p.leading_angle))
        .collect()
}

fn sine_tracking(sweeps: &[DynamicsSummary]) -> stages::SineTracking {
    let mut tracking = 0;
    let mut errors = Vec::new();
    for s in sweeps {
        let pts = sine_angles(s);
        let enough = pts.len() as f64 >= SINE_MIN_OSCILLATING * s.sweep.len() as f64;
        tracking += (enough && correlation(&pts) > SINE_MIN_CORRELATION) as usize;
        errors.extend(median(pts.iter().map(|(w, a)| (a - w) / w).collect()));
    }
    stages::SineTracking {
        networks: sweeps.len(),
        tracking,
        median_relative_error: median(errors),
    }
}

fn line_attractors(sweeps: &[DynamicsSummary]) -> stages::LineAttractors {
    // At a fixed point; in a context without one, at a slow point (an approximate line).
    let line = |s: &DynamicsSummary| {
        s.sweep.iter().all(|p| {
            let m = if p.fixed_points > 0 {
                p.slow_modulus
            } else {
                p.slow_point_modulus
            };
            (m - 1.0).abs() < LINE_ATTRACTOR_TOLERANCE
        })
    };
    stages::LineAttractors {
        networks: sweeps.len(),
        line_attractors: sweeps.iter().filter(|s| line(s)).count(),
        median_second_modulus: median(
            sweeps
                .iter()
                .flat_map(|s| s.sweep.iter().map(|p| p.second_modulus))
                .collect(),
        ),
    }
}

/// A number to 3 decimals; "–" where undefined or not finite.
fn fmt_f(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "–".into(),
    }
}

/// A number in `{:.2e}`; "–" where not finite (a diverged network's loss).
fn fmt_e(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2e}")
    } else {
        "–".into()
    }
}

/// Writes `report.md`, `report.html` and `analysis/findings.json`; returns the HTML path.
pub fn write_report(store: &Store) -> Result<PathBuf, ReportError> {
    let records = store.rebuild_catalog()?;
    let f = findings(store, &records)?;
    let dir = store.analysis_dir()?;
    crate::store::write_atomic(
        &dir.join("findings.json"),
        serde_json::to_string_pretty(&f)?.as_bytes(),
    )?;
    let figures = crate::figures::render_all(store, &records).unwrap_or_else(|e| {
        eprintln!("rnndyn: warning: figures: {e}");
        Vec::new()
    });

    let mut md = String::new();
    let _ = writeln!(md, "# rnndyn report\n");
    let _ = writeln!(
        md,
        "Store: `{}`  \nNetworks: {} ({} passed the task criterion)\n",
        store.root().display(),
        f.networks,
        f.passed
    );
    let _ = writeln!(md, "## Findings\n");
    let by_id: BTreeMap<&str, &NetworkRecord> =
        records.iter().map(|r| (r.id.as_str(), r)).collect();
    let compared: Vec<&NetworkRecord> = f
        .compared
        .ids
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    let _ = writeln!(
        md,
        "Silhouettes, p-values and MDS embeddings over {} (`[analysis] networks = \"{}\"`).",
        stages::describe_set(&compared, f.networks),
        f.compared.rule
    );
    if f.compared.count < 3 && f.compared.rule == NetworkSet::Passed.name() {
        let _ = writeln!(
            md,
            "Too few passing networks to compare; `[analysis] networks = \"all\"` compares every network that did not diverge."
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "| measure | SVCCA | topology |\n|---|---|---|");
    let _ = writeln!(
        md,
        "| silhouette by architecture | {} | {} |",
        fmt_f(f.silhouette_svcca_by_arch),
        fmt_f(f.silhouette_topology_by_arch)
    );
    let _ = writeln!(
        md,
        "| silhouette by activation | {} | {} |",
        fmt_f(f.silhouette_svcca_by_activation),
        fmt_f(f.silhouette_topology_by_activation)
    );
    let _ = writeln!(
        md,
        "| permutation p-value (architecture) | {} | {} |",
        fmt_f(f.p_value_svcca_by_arch),
        fmt_f(f.p_value_topology_by_arch)
    );
    let _ = writeln!(
        md,
        "| MDS stress-1 | {} | {} |",
        fmt_f(f.mds_stress1_svcca),
        fmt_f(f.mds_stress1_topology)
    );
    let _ = writeln!(
        md,
        "\nLinear CKA silhouette by architecture: {}.",
        fmt_f(f.silhouette_cka_by_arch)
    );
    if let Some(t) = &f.sine_frequency_tracking {
        let _ = writeln!(
            md,
            "\nLinearised oscillation follows the commanded frequency (an unstable complex pair at ≥ 90 % of the frequencies, \
             correlation of arg λ with ω > {SINE_MIN_CORRELATION}): **{} of {} passing networks** with an input sweep; \
             median (arg λ − ω) / ω: {}.",
            t.tracking,
            t.networks,
            fmt_f(t.median_relative_error)
        );
    }
    if let Some(l) = &f.integration_line_attractors {
        let _ = writeln!(
            md,
            "\nLine attractor in both contexts (slowest mode of a fixed point, or of a slow point where there is none, within {LINE_ATTRACTOR_TOLERANCE} of |λ| = 1): \
             **{} of {} passing networks** with an input sweep; median largest other |λ|: {}.",
            l.line_attractors,
            l.networks,
            fmt_f(l.median_second_modulus)
        );
    }
    if let Some(c) = f.canonical_topology {
        let _ = writeln!(md, "\nCanonical flip-flop topology (8 stable corners, flip logic for all 6 pulses): **{c} of {} passing networks** ({} analysed).", f.passed, f.passed_with_dynamics);
    }
    let _ = writeln!(
        md,
        "\nSilhouette near 1: networks of one architecture sit together and apart from the others; near 0: no clustering. \
         The paper's finding is that geometry (SVCCA) separates architectures while topology does not."
    );
    if !figures.is_empty() {
        let _ = writeln!(md, "\n## Figures\n");
        for (title, file) in &figures {
            let _ = writeln!(md, "### {title}\n\n![{title}]({file})\n");
        }
    }
    let _ = writeln!(md, "## Fixed points by architecture\n");
    let _ = writeln!(
        md,
        "Every analysed network, passed or not (the comparisons above are over the compared set). \
         Index k = fixed points with k unstable dimensions; index 0 includes points with a neutral mode \
         (|λ| = 1 within the margin), which are not attractors.\n"
    );
    let _ = writeln!(md, "| architecture | activation | networks | mean fixed points | mean index 0 | mean index 1 | mean index ≥ 2 | mean slow points |\n|---|---|---|---|---|---|---|---|");
    // Each network's dynamics.json, read once for both tables.
    let summaries: Vec<_> = records
        .iter()
        .map(|r| stages::dynamics_summary(store, &r.id))
        .collect();
    let mut groups: BTreeMap<(String, String), Vec<&DynamicsSummary>> = BTreeMap::new();
    for (r, s) in records.iter().zip(&summaries) {
        if let Some(s) = s {
            groups
                .entry((r.arch.clone(), r.activation.clone()))
                .or_default()
                .push(s);
        }
    }
    for ((a, act), nets) in &groups {
        let m = nets.len() as f64;
        let known: Vec<f64> = nets
            .iter()
            .filter_map(|n| n.slow_points)
            .map(|k| k as f64)
            .collect();
        let slow = if known.is_empty() {
            "–".to_string()
        } else {
            format!("{:.2}", known.iter().sum::<f64>() / known.len() as f64)
        };
        let counts: Vec<&Vec<usize>> = nets.iter().map(|n| &n.count_by_stability_index).collect();
        let get = |c: &Vec<usize>, i: usize| c.get(i).copied().unwrap_or(0) as f64;
        let total: f64 = counts
            .iter()
            .map(|c| c.iter().sum::<usize>() as f64)
            .sum::<f64>()
            / m;
        let s0: f64 = counts.iter().map(|c| get(c, 0)).sum::<f64>() / m;
        let s1: f64 = counts.iter().map(|c| get(c, 1)).sum::<f64>() / m;
        let s2: f64 = counts
            .iter()
            .map(|c| c.iter().skip(2).sum::<usize>() as f64)
            .sum::<f64>()
            / m;
        let _ = writeln!(
            md,
            "| {a} | {act} | {} | {total:.2} | {s0:.2} | {s1:.2} | {s2:.2} | {slow} |",
            counts.len()
        );
    }
    let _ = writeln!(md, "\n## Population\n");
    let _ = writeln!(md, "| id | arch | act | N | L2 | lr | seed | final loss | eval MSE | accuracy | held | passed | fixed points by index | slow points |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (r, summary) in records.iter().zip(&summaries) {
        let fp = summary
            .as_ref()
            .map(|s| format!("{:?}", s.count_by_stability_index))
            .unwrap_or_default();
        let slow = summary
            .as_ref()
            .map(|s| s.slow_points.map_or("–".to_string(), |k| k.to_string()))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.id,
            r.arch,
            r.activation,
            r.hidden,
            r.l2,
            r.learning_rate,
            r.seed,
            fmt_e(r.final_loss),
            fmt_e(r.eval_mse),
            fmt_f(Some(r.eval_accuracy)),
            if r.retention.is_finite() {
                format!("{:.3}", r.retention)
            } else {
                "–".into()
            },
            if r.diverged {
                "diverged"
            } else if r.passed {
                "yes"
            } else {
                "no"
            },
            fp,
            slow
        );
    }
    let _ = writeln!(md, "\n## Files\n\nEvery matrix is a `.npy` in `analysis/` (row order: `analysis/networks.txt`); per network see `networks/<id>/`. The catalog is `catalog.csv`.");
    crate::store::write_atomic(&store.root().join("report.md"), md.as_bytes())?;
    let html = markdown_to_html(&md);
    let path = store.root().join("report.html");
    crate::store::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn inline(s: &str) -> String {
    // `code`, **bold**, images ![t](f).
    let mut out = String::new();
    let mut rest = escape(s);
    while let Some(i) = rest.find("![") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // The closing parenthesis after "](": alt text may itself contain parentheses.
        if let Some((a, b)) = tail
            .find("](")
            .and_then(|a| tail[a..].find(')').map(|b| (a, a + b)))
        {
            let alt = &tail[2..a];
            let src = &tail[a + 2..b];
            let _ = write!(
                out,
                "<img alt=\"{alt}\" src=\"{src}\" style=\"max-width:100%\">"
            );
            rest = tail[b + 1..].to_string();
        } else {
            out.push_str(tail);
            rest.clear();
        }
    }
    out.push_str(&rest);
    let mut html = String::new();
    let mut code = false;
    for part in out.split('`') {
        if code {
            let _ = write!(html, "<code>{part}</code>");
        } else {
            html.push_str(part);
        }
        code = !code;
    }
    let mut res = String::new();
    let mut bold = false;
    for part in html.split("**") {
        if bold {
            let _ = write!(res, "<b>{part}</b>");
        } else {
            res.push_str(part);
        }
        bold = !bold;
    }
    res
}

/// A small Markdown → HTML conversion for the report's own subset (headings, tables,
/// paragraphs, images, code, bold); self-contained, no scripts, opens offline.
pub fn markdown_to_html(md: &str) -> String {
    let mut h = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>rnndyn report</title>\n<style>\
         body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}\
         th{background:#f0f0f0}td:first-child{text-align:left}code{background:#f4f4f4;padding:0 3px}img{border:1px solid #eee}\
         </style></head><body>\n",
    );
    let mut in_table = false;
    let mut header_row = false;
    for line in md.lines() {
        let t = line.trim();
        if t.starts_with('|') {
            if !in_table {
                h.push_str("<table>\n");
                in_table = true;
                header_row = true;
            }
            if t.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = t.trim_matches('|').split('|').collect();
            let tag = if header_row { "th" } else { "td" };
            h.push_str("<tr>");
            for c in cells {
                let _ = write!(h, "<{tag}>{}</{tag}>", inline(c.trim()));
            }
            h.push_str("</tr>\n");
            header_row = false;
            continue;
        }
        if in_table {
            h.push_str("</table>\n");
            in_table = false;
        }
        if let Some(x) = t.strip_prefix("### ") {
            let _ = writeln!(h, "<h3>{}</h3>", inline(x));
        } else if let Some(x) = t.strip_prefix("## ") {
            let _ = writeln!(h, "<h2>{}</h2>", inline(x));
        } else if let Some(x) = t.strip_prefix("# ") {
            let _ = writeln!(h, "<h1>{}</h1>", inline(x));
        } else if !t.is_empty() {
            let _ = writeln!(h, "<p>{}</p>", inline(t));
        }
    }
    if in_table {
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_and_median_on_known_values() {
        let line: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 3.0 - 2.0 * i as f64)).collect();
        assert!((correlation(&line) + 1.0).abs() < 1e-15);
        // x = 1, 2, 3; y = 1, 3, 2: sxy = 1, sxx = syy = 2, r = 1/2.
        let r = correlation(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)]);
        assert!((r - 0.5).abs() < 1e-15, "{r}");
        assert!(correlation(&[(1.0, 2.0), (2.0, 2.0)]).is_nan());
        assert_eq!(median(vec![3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN]), None);
    }
}
