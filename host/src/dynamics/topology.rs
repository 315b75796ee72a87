//! The topology of a network's fixed points (the paper's "computational scaffold"): a graph
//! whose nodes are fixed points labelled by stability index, with
//!
//! - **autonomous edges** from each saddle along ± each unstable eigenvector, iterating the
//!   map at the probe input until the state settles on a fixed point (heteroclinic and
//!   homoclinic orbits; weight = fraction of that saddle's perturbations), and
//! - **input-driven edges** from each stable point under each input pulse (for the
//!   flip-flop: the six unit pulses), then the probe input until the state settles.
//!
//! A distance between two networks compares these graphs through canonical node labels
//! that do not depend on how units are numbered (see [`topology_distance`]).

use super::fixed_points::{dist, norm, FixedPointAnalysis};
use crate::model::Model;
use crate::npy::{NpyError, NpzWriter};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Settings of the graph construction. Defaults per field.
#[derive(Clone, Debug, PartialEq)]
pub struct TopologySettings {
    /// Perturbation sizes along each unstable direction (default `[1e-3, 1e-2]`), each
    /// applied with both signs.
    pub perturbations: Vec<f64>,
    /// Steps of the map before giving up on settling (default 4000).
    pub max_steps: usize,
    /// The state has settled when `‖F(h) − h‖ <` this (default 1e-7).
    pub settle_tolerance: f64,
    /// A settled state belongs to the nearest fixed point within
    /// `match_tolerance · max(1, ‖h‖)` (default 0.05).
    pub match_tolerance: f64,
    /// Steps each input pulse lasts (default 1).
    pub pulse_steps: usize,
    /// Readout components with `|y| <` this count as 0 in node labels (default 0.5).
    pub readout_deadzone: f64,
}

impl Default for TopologySettings {
    fn default() -> Self {
        TopologySettings {
            perturbations: vec![1e-3, 1e-2],
            max_steps: 4000,
            settle_tolerance: 1e-7,
            match_tolerance: 0.05,
            pulse_steps: 1,
            readout_deadzone: 0.5,
        }
    }
}

/// The topology graph of one network.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// Stability index of each node (fixed point).
    pub stability: Vec<usize>,
    /// Per node: an attractor (index 0 and no neutral mode, `||λ| − 1| ≤ unstable_margin`).
    /// A point of a line or plane of fixed points has index 0 but is not one.
    pub attracting: Vec<bool>,
    /// Canonical label of each node: `"{index}:{code}"`, `code` one of `+ - 0` per output
    /// (the sign of the readout at the fixed point, 0 inside the dead zone).
    pub labels: Vec<String>,
    /// `K × K` row-major: fraction of node i's perturbations that settle on node j.
    pub autonomous: Vec<f64>,
    /// Per node: fraction of its perturbations that settle nowhere known.
    pub autonomous_unmatched: Vec<f64>,
    /// The pulses (each an input vector).
    pub pulses: Vec<Vec<f64>>,
    /// Input dimension I (so `pulses` is saved as (0, I), not (0, 0), without pulses).
    pub inputs: usize,
    /// `P × K × K`: 1 where pulse p takes stable node i to node j.
    pub input_driven: Vec<f64>,
}

/// Canonical label of a fixed point from its stability index and readout.
pub fn node_label(stability: usize, output: &[f64], deadzone: f64) -> String {
    let code: String = output
        .iter()
        .map(|&y| {
            if y > deadzone {
                '+'
            } else if y < -deadzone {
                '-'
            } else {
                '0'
            }
        })
        .collect();
    format!("{stability}:{code}")
}

/// Iterates `h ← F(h, x)` until settled; returns the matched fixed point, if any.
fn settle(
    model: &dyn Model,
    p: &[f64],
    x: &[f64],
    h: &mut Vec<f64>,
    fps: &FixedPointAnalysis,
    s: &TopologySettings,
) -> Option<usize> {
    let mut next = vec![0.0; h.len()];
    for _ in 0..s.max_steps {
        model.step(p, h, x, &mut next);
        let moved = dist(&next, h);
        std::mem::swap(h, &mut next);
        if !moved.is_finite() {
            return None;
        }
        if moved < s.settle_tolerance {
            break;
        }
    }
    let tol = s.match_tolerance * norm(h).max(1.0);
    fps.fixed_points
        .iter()
        .enumerate()
        .map(|(i, f)| (i, dist(&f.state, h)))
        .filter(|(_, d)| *d <= tol)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Builds the topology graph of a network from its fixed points at probe input `x`.
pub fn build_topology(
    model: &dyn Model,
    p: &[f64],
    x: &[f64],
    fps: &FixedPointAnalysis,
    pulses: &[Vec<f64>],
    settings: &TopologySettings,
) -> Topology {
    let k = fps.fixed_points.len();
    let s = fps.state_dim;
    let stability: Vec<usize> = fps.fixed_points.iter().map(|f| f.stability_index).collect();
    let attracting = fps
        .fixed_points
        .iter()
        .map(|f| f.stability_index == 0 && f.neutral_modes == 0)
        .collect();
    let labels = fps
        .fixed_points
        .iter()
        .map(|f| node_label(f.stability_index, &f.output, settings.readout_deadzone))
        .collect();
    let mut autonomous = vec![0.0; k * k];
    let mut unmatched = vec![0.0; k];
    for (i, f) in fps.fixed_points.iter().enumerate() {
        if f.stability_index == 0 || f.stability_index == usize::MAX {
            continue;
        }
        // Unstable directions: real eigenvectors, or the real part of a complex pair's. The
        // eigenvalues are sorted by decreasing modulus, so the unstable ones (by the
        // linearisation's margin) are the first `stability_index`.
        let mut dirs: Vec<Vec<f64>> = Vec::new();
        let mut j = 0;
        while j < f.stability_index.min(s) {
            let ev = f.eigenvalues[j];
            dirs.push(f.eigenvectors[j * s..(j + 1) * s].to_vec());
            j += if ev.im > 0.0 { 2 } else { 1 };
        }
        let mut total = 0usize;
        let mut landed = vec![0usize; k];
        for d in &dirs {
            let dn = norm(d).max(1e-300);
            for &eps in &settings.perturbations {
                for sign in [1.0, -1.0] {
                    let mut h: Vec<f64> = f
                        .state
                        .iter()
                        .zip(d)
                        .map(|(a, b)| a + sign * eps * b / dn)
                        .collect();
                    total += 1;
                    if let Some(t) = settle(model, p, x, &mut h, fps, settings) {
                        landed[t] += 1;
                    }
                }
            }
        }
        if total > 0 {
            let mut known = 0;
            for t in 0..k {
                autonomous[i * k + t] = landed[t] as f64 / total as f64;
                known += landed[t];
            }
            unmatched[i] = (total - known) as f64 / total as f64;
        }
    }
    let mut input_driven = vec![0.0; pulses.len() * k * k];
    for (pi, pulse) in pulses.iter().enumerate() {
        for (i, f) in fps.fixed_points.iter().enumerate() {
            if f.stability_index != 0 {
                continue;
            }
            let mut h = f.state.clone();
            let mut next = vec![0.0; s];
            for _ in 0..settings.pulse_steps {
                model.step(p, &h, pulse, &mut next);
                std::mem::swap(&mut h, &mut next);
            }
            if let Some(t) = settle(model, p, x, &mut h, fps, settings) {
                input_driven[(pi * k + i) * k + t] = 1.0;
            }
        }
    }
    Topology {
        stability,
        attracting,
        labels,
        autonomous,
        autonomous_unmatched: unmatched,
        pulses: pulses.to_vec(),
        inputs: x.len(),
        input_driven,
    }
}

impl Topology {
    /// Number of nodes (unique fixed points).
    pub fn nodes(&self) -> usize {
        self.stability.len()
    }

    /// Saves `topology.npz` (`stability (K,) int64`, `autonomous (K, K)`,
    /// `autonomous_unmatched (K,)`, `pulses (P, I)`, `input_driven (P, K, K)`) and the labels
    /// as `topology_labels.txt` (one per line, node order).
    pub fn save(&self, npz: &Path, labels: &Path) -> Result<(), NpyError> {
        let k = self.nodes();
        let mut w = NpzWriter::new(npz);
        let st: Vec<i64> = self
            .stability
            .iter()
            .map(|&s| if s == usize::MAX { -1 } else { s as i64 })
            .collect();
        w.add("stability", &[k], &st)?;
        let attracting: Vec<i64> = self.attracting.iter().map(|&a| a as i64).collect();
        w.add("attracting", &[k], &attracting)?;
        w.add("autonomous", &[k, k], &self.autonomous)?;
        w.add("autonomous_unmatched", &[k], &self.autonomous_unmatched)?;
        let flat: Vec<f64> = self.pulses.iter().flatten().copied().collect();
        w.add("pulses", &[self.pulses.len(), self.inputs], &flat)?;
        w.add(
            "input_driven",
            &[self.pulses.len(), k, k],
            &self.input_driven,
        )?;
        w.finish()?;
        crate::npy::write_atomic(labels, |f| {
            use std::io::Write;
            for l in &self.labels {
                writeln!(f, "{l}")?;
            }
            Ok(())
        })
    }

    /// Graphviz DOT: nodes coloured by stability index, solid autonomous edges (weight as
    /// label), dashed input-driven edges labelled by pulse.
    pub fn to_dot(&self, name: &str) -> String {
        let k = self.nodes();
        let colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#666666"];
        let mut out = format!("digraph \"{name}\" {{\n  node [style=filled, fontcolor=white];\n");
        for i in 0..k {
            let c = colours[self.stability[i].min(colours.len() - 1)];
            let _ = writeln!(
                out,
                "  n{i} [label=\"{i}\\n{}\", fillcolor=\"{c}\"];",
                self.labels[i]
            );
        }
        for i in 0..k {
            for j in 0..k {
                let w = self.autonomous[i * k + j];
                if w > 0.0 {
                    let _ = writeln!(out, "  n{i} -> n{j} [label=\"{w:.2}\"];");
                }
            }
        }
        for (p, pulse) in self.pulses.iter().enumerate() {
            let lab = pulse_name(pulse);
            for i in 0..k {
                for j in 0..k {
                    if self.input_driven[(p * k + i) * k + j] > 0.0 && i != j {
                        let _ = writeln!(
                            out,
                            "  n{i} -> n{j} [style=dashed, color=gray, label=\"{lab}\"];"
                        );
                    }
                }
            }
        }
        out.push_str("}\n");
        out
    }

    /// Node counts per canonical label.
    fn node_histogram(&self) -> BTreeMap<&str, f64> {
        let mut h = BTreeMap::new();
        for l in &self.labels {
            *h.entry(l.as_str()).or_insert(0.0) += 1.0;
        }
        h
    }

    /// Edge weights keyed by (kind, from label, to label), kind = "auto" or the pulse index.
    fn edge_histogram(&self) -> BTreeMap<(String, &str, &str), f64> {
        let k = self.nodes();
        let mut e = BTreeMap::new();
        for i in 0..k {
            for j in 0..k {
                let w = self.autonomous[i * k + j];
                if w > 0.0 {
                    *e.entry((
                        "auto".to_string(),
                        self.labels[i].as_str(),
                        self.labels[j].as_str(),
                    ))
                    .or_insert(0.0) += w;
                }
            }
        }
        for p in 0..self.pulses.len() {
            for i in 0..k {
                for j in 0..k {
                    let w = self.input_driven[(p * k + i) * k + j];
                    if w > 0.0 {
                        *e.entry((
                            format!("pulse{p}"),
                            self.labels[i].as_str(),
                            self.labels[j].as_str(),
                        ))
                        .or_insert(0.0) += w;
                    }
                }
            }
        }
        e
    }
}

/// A readable name for a pulse: `+x0`, `-x2`, or the vector.
pub fn pulse_name(p: &[f64]) -> String {
    let nz: Vec<usize> = (0..p.len()).filter(|&i| p[i] != 0.0).collect();
    if nz.len() == 1 {
        format!("{}x{}", if p[nz[0]] > 0.0 { "+" } else { "-" }, nz[0])
    } else {
        format!("{p:?}")
    }
}

/// The unit pulses ±e_k for `inputs` channels (the flip-flop's six).
pub fn unit_pulses(inputs: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for k in 0..inputs {
        for sign in [1.0, -1.0] {
            let mut v = vec![0.0; inputs];
            v[k] = sign;
            out.push(v);
        }
    }
    out
}

fn bray_curtis<K: Ord>(a: &BTreeMap<K, f64>, b: &BTreeMap<K, f64>) -> f64 {
    let mut num = 0.0;
    let mut den = 0.0;
    for (key, &va) in a {
        let vb = b.get(key).copied().unwrap_or(0.0);
        num += (va - vb).abs();
        den += va + vb;
    }
    for (key, &vb) in b {
        if !a.contains_key(key) {
            num += vb;
            den += vb;
        }
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Topological distance between two networks, in [0, 1].
///
/// Nodes get canonical labels (stability index + sign pattern of the readout at the fixed
/// point), which depend only on the dynamics and the readout, not on how hidden units are
/// numbered. Each network is summarised by (a) the number of nodes per label and (b) the
/// total edge weight per (edge kind, from-label, to-label), edge kind being autonomous or
/// a given input pulse. The distance is `node_weight · BC(nodes) + (1 − node_weight) ·
/// BC(edges)`, BC the Bray–Curtis dissimilarity `Σ|a − b| / Σ(a + b)` (0 when both are
/// empty). It is 0 for a network and any unit-permuted copy, symmetric, and 1 for graphs
/// with no label in common. (Bray–Curtis is not a metric; MDS does not need one.)
pub fn topology_distance(a: &Topology, b: &Topology, node_weight: f64) -> f64 {
    let dn = bray_curtis(&a.node_histogram(), &b.node_histogram());
    let de = bray_curtis(&a.edge_histogram(), &b.edge_histogram());
    node_weight * dn + (1.0 - node_weight) * de
}

/// Flip-flop: the readout code of a stable corner, as signs (+1/−1) per output.
fn corner_code(label: &str) -> Option<Vec<i8>> {
    let (idx, code) = label.split_once(':')?;
    if idx != "0" {
        return None;
    }
    code.chars()
        .map(|c| match c {
            '+' => Some(1),
            '-' => Some(-1),
            _ => None,
        })
        .collect()
}

/// Checks a flip-flop topology against the canonical one: exactly `2^bits` attracting
/// fixed points (index 0 without neutral modes), one per output corner, and every pulse ±e_k from every corner lands on the
/// corner with bit k set to ±. Returns the first violation.
pub fn check_flipflop_canonical(t: &Topology, bits: usize) -> Result<(), String> {
    let k = t.nodes();
    let stable: Vec<usize> = (0..k)
        .filter(|&i| t.attracting.get(i) == Some(&true))
        .collect();
    if stable.len() != 1 << bits {
        return Err(format!(
            "{} attracting fixed points, expected {}",
            stable.len(),
            1 << bits
        ));
    }
    let mut codes = Vec::new();
    for &i in &stable {
        let c = corner_code(&t.labels[i]).ok_or_else(|| {
            format!(
                "stable point {i} has readout label {} (not a corner)",
                t.labels[i]
            )
        })?;
        if c.len() != bits {
            return Err(format!(
                "label {} has {} outputs, expected {bits}",
                t.labels[i],
                c.len()
            ));
        }
        codes.push(c);
    }
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != codes.len() {
        return Err("two stable points share an output corner".into());
    }
    for (p, pulse) in t.pulses.iter().enumerate() {
        let ch = (0..pulse.len())
            .find(|&c| pulse[c] != 0.0)
            .ok_or("zero pulse")?;
        let sign: i8 = if pulse[ch] > 0.0 { 1 } else { -1 };
        for (si, &i) in stable.iter().enumerate() {
            let mut want = codes[si].clone();
            want[ch] = sign;
            let landed: Vec<usize> = (0..k)
                .filter(|&j| t.input_driven[(p * k + i) * k + j] > 0.0)
                .collect();
            let ok = landed.len() == 1 && corner_code(&t.labels[landed[0]]).as_ref() == Some(&want);
            if !ok {
                return Err(format!(
                    "pulse {} from corner {} lands on {:?}, expected corner {:?}",
                    pulse_name(pulse),
                    t.labels[i],
                    landed
                        .iter()
                        .map(|&j| t.labels[j].clone())
                        .collect::<Vec<_>>(),
                    want
                ));
            }
        }
    }
    Ok(())
}

/// For every saddle with one unstable dimension whose perturbations all settle on known
/// stable corners: the corners it connects. Each pair should differ in exactly one bit
/// (a saddle between neighbouring memories).
pub fn saddle_connections(t: &Topology) -> Vec<(usize, Vec<String>)> {
    let k = t.nodes();
    (0..k)
        .filter(|&i| t.stability[i] == 1)
        .map(|i| {
            let targets: Vec<String> = (0..k)
                .filter(|&j| t.autonomous[i * k + j] > 0.0)
                .map(|j| t.labels[j].clone())
                .collect();
            (i, targets)
        })
        .collect()
}

/// Hamming distance between two corner labels (None unless both are stable corners).
pub fn corner_distance(a: &str, b: &str) -> Option<usize> {
    let (ca, cb) = (corner_code(a)?, corner_code(b)?);
    (ca.len() == cb.len()).then(|| ca.iter().zip(&cb).filter(|(x, y)| x != y).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One bit: attractors `0:+` and `0:-`, pulses ±1 take either to the matching one.
    /// A third index-0 node with a neutral mode (a point of a line of fixed points, e.g.
    /// far out in a ReLU network's linear region) is not an attractor and does not break
    /// the canonical picture; counted as one, it does.
    #[test]
    fn the_canonical_check_counts_attractors_not_neutral_points() {
        let k = 3;
        let mut input_driven = vec![0.0; 2 * k * k];
        for from in 0..2 {
            input_driven[from * k] = 1.0; // pulse +1 → node 0 (`0:+`)
            input_driven[(k + from) * k + 1] = 1.0; // pulse −1 → node 1 (`0:-`)
        }
        let mut t = Topology {
            stability: vec![0, 0, 0],
            attracting: vec![true, true, false],
            labels: vec!["0:+".into(), "0:-".into(), "0:+".into()],
            autonomous: vec![0.0; k * k],
            autonomous_unmatched: vec![0.0; k],
            pulses: vec![vec![1.0], vec![-1.0]],
            inputs: 1,
            input_driven,
        };
        assert_eq!(check_flipflop_canonical(&t, 1), Ok(()));
        t.attracting[2] = true;
        assert_eq!(
            check_flipflop_canonical(&t, 1),
            Err("3 attracting fixed points, expected 2".into())
        );
    }
}
