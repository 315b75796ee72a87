//! Task generators: definitions recomputed by brute force, statistics, determinism, errors,
//! and pinned values of the seeded streams.
//!
//! Host-side test code: std maths (`f64::sin`, `sqrt`) serves as an independent oracle for
//! the libm-backed generators, so the core's `disallowed-methods` rule is lifted here.
#![allow(clippy::disallowed_methods)]

use rnndyn_core::task::{
    BiasSet, Context, FlipFlop, FlipFlopParams, FrequencySet, Integration, IntegrationParams,
    Pulse, PulseAtT0, Sign, Sine, SineParams, MAX_BIAS_LEVELS,
};
use rnndyn_core::{Error, LengthRule, Real, Rng, Task};

/// Fills a fresh batch of `T` from seed `seed`.
fn batch<T: Task, R: Real>(task: &T, seed: u64, b: usize, steps: usize) -> (Vec<R>, Vec<R>) {
    let mut xs = vec![R::ZERO; T::input_len(b, steps).unwrap()];
    let mut ys = vec![R::ZERO; T::output_len(b, steps).unwrap()];
    task.fill(&mut Rng::new(seed), b, steps, &mut xs, &mut ys)
        .unwrap();
    (xs, ys)
}

/// FNV-1a over the bit patterns, for pinning whole buffers.
fn fingerprint(v: &[f64]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for x in v {
        for byte in x.to_bits().to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

// ------------------------------------------------------------------------------ flip-flop

/// Brute force: the target is the most recent non-zero input at s <= t (0 if none).
fn flipflop_brute(xs: &[f64], b: usize, steps: usize, t: usize, k: usize) -> f64 {
    (0..=t)
        .rev()
        .map(|s| xs[(b * steps + s) * 3 + k])
        .find(|&v| v != 0.0)
        .unwrap_or(0.0)
}

#[test]
fn flipflop_target_is_sign_of_last_pulse() {
    for pulse_at_t0 in [PulseAtT0::Yes, PulseAtT0::No] {
        let task = FlipFlop::new(FlipFlopParams {
            p: 0.1,
            pulse_at_t0,
        })
        .unwrap();
        let (b, steps) = (16, 60);
        let (xs, ys) = batch::<_, f64>(&task, 11, b, steps);
        assert!(xs.iter().all(|&x| x == 0.0 || x == 1.0 || x == -1.0));
        for bi in 0..b {
            for t in 0..steps {
                for k in 0..3 {
                    assert_eq!(
                        ys[(bi * steps + t) * 3 + k],
                        flipflop_brute(&xs, bi, steps, t, k)
                    );
                }
            }
        }
        if pulse_at_t0 == PulseAtT0::No {
            assert!(ys.contains(&0.0), "some channel should start unset");
        }
    }
}

#[test]
fn flipflop_t0_pulse_present_by_default() {
    let (b, steps) = (200, 10);
    let (xs, ys) = batch::<_, f32>(&FlipFlop::default(), 5, b, steps);
    for bi in 0..b {
        for k in 0..3 {
            let x0 = xs[bi * steps * 3 + k];
            assert!(x0 == 1.0 || x0 == -1.0);
        }
    }
    assert!(ys.iter().all(|&y| y == 1.0 || y == -1.0));
    // Both signs occur at t = 0.
    let plus = (0..b).filter(|&bi| xs[bi * steps * 3] > 0.0).count();
    assert!(plus > 60 && plus < 140, "{plus}");
}

#[test]
fn flipflop_pulse_rate_and_sign_balance() {
    let p = 0.05;
    let task = FlipFlop::new(FlipFlopParams {
        p,
        pulse_at_t0: PulseAtT0::Yes,
    })
    .unwrap();
    let (b, steps) = (400, 250);
    let (xs, _) = batch::<_, f64>(&task, 99, b, steps);
    let (mut pulses, mut plus, mut n) = (0usize, 0usize, 0usize);
    for bi in 0..b {
        for t in 1..steps {
            for k in 0..3 {
                let x = xs[(bi * steps + t) * 3 + k];
                n += 1;
                if x != 0.0 {
                    pulses += 1;
                }
                if x > 0.0 {
                    plus += 1;
                }
            }
        }
    }
    let rate = pulses as f64 / n as f64;
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    assert!((rate - p).abs() < 5.0 * sd, "rate {rate}");
    let frac = plus as f64 / pulses as f64;
    assert!(
        (frac - 0.5).abs() < 5.0 * (0.25 / pulses as f64).sqrt(),
        "plus fraction {frac}"
    );
}

#[test]
fn flipflop_extreme_probabilities() {
    let none = FlipFlop::new(FlipFlopParams {
        p: 0.0,
        pulse_at_t0: PulseAtT0::No,
    })
    .unwrap();
    let (xs, ys) = batch::<_, f64>(&none, 1, 3, 20);
    assert!(xs.iter().chain(&ys).all(|&v| v == 0.0));
    let all = FlipFlop::new(FlipFlopParams {
        p: 1.0,
        pulse_at_t0: PulseAtT0::No,
    })
    .unwrap();
    let (xs, ys) = batch::<_, f64>(&all, 1, 3, 20);
    assert!(xs.iter().all(|&v| v != 0.0));
    assert_eq!(xs, ys);
}

#[test]
fn flipflop_explicit_trial() {
    let pulses = [
        Pulse {
            t: 0,
            channel: 0,
            sign: Sign::Plus,
        },
        Pulse {
            t: 2,
            channel: 1,
            sign: Sign::Minus,
        },
        Pulse {
            t: 3,
            channel: 0,
            sign: Sign::Minus,
        },
    ];
    let mut xs = [9.0f64; 15];
    let mut ys = [9.0f64; 15];
    FlipFlop::fill_trial(5, &pulses, &mut xs, &mut ys).unwrap();
    #[rustfmt::skip]
    let ex = [1.0, 0.0, 0.0,  0.0, 0.0, 0.0,  0.0, -1.0, 0.0,  -1.0, 0.0, 0.0,  0.0, 0.0, 0.0];
    #[rustfmt::skip]
    let ey = [1.0, 0.0, 0.0,  1.0, 0.0, 0.0,  1.0, -1.0, 0.0,  -1.0, -1.0, 0.0,  -1.0, -1.0, 0.0];
    assert_eq!(xs, ex);
    assert_eq!(ys, ey);
    let mut y2 = [0.0f64; 15];
    FlipFlop::targets_of(&xs, &mut y2).unwrap();
    assert_eq!(y2, ey);
    // A length that is not a whole number of steps names the nearest whole one.
    assert_eq!(
        FlipFlop::targets_of(&xs[..7], &mut y2[..7]),
        Err(Error::BufferSize {
            expected: 6,
            got: 7,
            rule: LengthRule::Exact,
        })
    );

    let bad_t = [Pulse {
        t: 5,
        channel: 0,
        sign: Sign::Plus,
    }];
    assert_eq!(
        FlipFlop::fill_trial(5, &bad_t, &mut xs, &mut ys),
        Err(Error::InvalidParameter)
    );
    let bad_c = [Pulse {
        t: 0,
        channel: 3,
        sign: Sign::Plus,
    }];
    assert_eq!(
        FlipFlop::fill_trial(5, &bad_c, &mut xs, &mut ys),
        Err(Error::InvalidParameter)
    );
    assert!(matches!(
        FlipFlop::fill_trial(4, &pulses, &mut xs, &mut ys),
        Err(Error::BufferSize { .. })
    ));
}

// ---------------------------------------------------------------------------------- sine

#[test]
fn sine_target_matches_decoded_frequency() {
    let task = Sine::default();
    let (b, steps) = (40, 150);
    let (xs, ys) = batch::<_, f64>(&task, 3, b, steps);
    let mut seen = std::collections::BTreeSet::new();
    for bi in 0..b {
        let x0 = xs[bi * steps];
        let j = task.index_of_input(x0).expect("input decodes to an index");
        assert_eq!(task.input_value(j), x0);
        seen.insert(j);
        let w = task.frequency(j);
        for t in 0..steps {
            assert_eq!(xs[bi * steps + t], x0, "input is static");
            assert!((ys[bi * steps + t] - (w * t as f64).sin()).abs() < 1e-15);
        }
    }
    assert!(
        seen.len() > 20,
        "draws cover many frequencies: {}",
        seen.len()
    );
    // f32 targets are the f64 ones rounded once.
    let (x32, y32) = batch::<_, f32>(&task, 3, b, steps);
    assert!(x32.iter().zip(&xs).all(|(a, b)| *a == *b as f32));
    assert!(y32.iter().zip(&ys).all(|(a, b)| *a == *b as f32));
}

#[test]
fn sine_frequency_grid_and_periods() {
    let task = Sine::default();
    assert_eq!(task.frequencies(), 51);
    assert_eq!(task.frequency(0), 0.1);
    assert!((task.frequency(50) - 0.6).abs() < 1e-15);
    assert!((task.frequency(25) - 0.35).abs() < 1e-15);
    assert_eq!(task.input_value(0), 0.25);
    assert!((task.input_value(50) - (50.0 / 51.0 + 0.25)).abs() < 1e-15);
    // The slowest period fits in a T = 100 trial.
    assert!(2.0 * std::f64::consts::PI / task.frequency(0) < 100.0);
    for j in 0..51 {
        assert_eq!(task.index_of_input(task.input_value(j)), Some(j));
        assert_eq!(
            task.index_of_input(task.input_value(j) as f32 as f64),
            Some(j)
        );
    }
    assert_eq!(task.index_of_input(0.0), None);
    assert_eq!(task.index_of_input(2.0), None);
    assert_eq!(task.index_of_input(f64::NAN), None);
}

/// The ends of the frequency grid: index `J` is outside every set and has no input, and
/// `J = 1` and `J = 2` give the documented frequencies.
#[test]
fn sine_grid_ends() {
    let task = Sine::default();
    let j = task.frequencies();
    for set in [
        FrequencySet::All,
        FrequencySet::Every { step: 1, offset: 0 },
        FrequencySet::AllBut { step: 2, offset: 1 },
    ] {
        assert!(set.contains(j - 1, j), "{set:?}");
        assert!(!set.contains(j, j), "{set:?}");
    }
    assert_eq!(task.index_of_input(task.input_value(j - 1)), Some(j - 1));
    assert_eq!(task.index_of_input(task.input_value(j)), None);
    let s = SineParams::default();
    let one = Sine::new(SineParams {
        frequencies: 1,
        ..s
    })
    .unwrap();
    assert_eq!(one.frequency(0), s.omega_min);
    let two = Sine::new(SineParams {
        frequencies: 2,
        ..s
    })
    .unwrap();
    assert_eq!(two.frequency(0), s.omega_min);
    assert!((two.frequency(1) - s.omega_max).abs() < 1e-15);
}

#[test]
fn sine_held_out_frequencies() {
    let train = Sine::new(SineParams {
        set: FrequencySet::Every { step: 2, offset: 0 },
        ..Default::default()
    })
    .unwrap();
    let test = Sine::new(SineParams {
        set: FrequencySet::AllBut { step: 2, offset: 0 },
        ..Default::default()
    })
    .unwrap();
    let steps = 5;
    for (task, parity) in [(train, 0), (test, 1)] {
        let (xs, _) = batch::<_, f64>(&task, 8, 300, steps);
        let mut seen = std::collections::BTreeSet::new();
        for bi in 0..300 {
            let j = task.index_of_input(xs[bi * steps]).unwrap();
            assert_eq!(j % 2, parity);
            seen.insert(j);
        }
        assert_eq!(
            seen.len(),
            if parity == 0 { 26 } else { 25 },
            "every member is drawn"
        );
    }
    // Sweeps may use held-out frequencies.
    let (mut x, mut y) = ([0.0f32; 7], [0.0f32; 7]);
    train.fill_trial(1, 7, &mut x, &mut y).unwrap();
    assert_eq!(x[0], train.input_value(1) as f32);
    assert_eq!(y[3], Real::sin(train.frequency(1) * 3.0) as f32);
    assert_eq!(
        train.fill_trial(51, 7, &mut x, &mut y),
        Err(Error::InvalidParameter)
    );
}

// --------------------------------------------------------------------------- integration

#[test]
fn integration_target_is_scaled_cumsum_of_selected_stream() {
    let task = Integration::default();
    let (b, steps) = (64, 120);
    let (xs, ys) = batch::<_, f64>(&task, 21, b, steps);
    let mut contexts = [0usize; 2];
    for bi in 0..b {
        let at = |t: usize, k: usize| xs[(bi * steps + t) * 4 + k];
        let (c1, c2) = (at(0, 2), at(0, 3));
        assert!(
            (c1, c2) == (1.0, 0.0) || (c1, c2) == (0.0, 1.0),
            "one-hot context"
        );
        let c = if c1 == 1.0 { 0 } else { 1 };
        contexts[c] += 1;
        let mut acc = 0.0;
        for t in 0..steps {
            assert_eq!(
                (at(t, 2), at(t, 3)),
                (c1, c2),
                "context constant over the trial"
            );
            acc += at(t, c);
            let y = ys[bi * steps + t];
            assert!(
                (y - 0.01 * acc).abs() <= 1e-12 * (1.0 + acc.abs()),
                "trial {bi} t {t}"
            );
        }
    }
    assert!(contexts[0] > 16 && contexts[1] > 16, "{contexts:?}");
}

#[test]
fn integration_bias_and_noise_statistics() {
    // Without noise every stream equals its bias, drawn from the default levels.
    let quiet = Integration::new(IntegrationParams {
        noise_std: 0.0,
        ..Default::default()
    })
    .unwrap();
    let (b, steps) = (200, 4);
    let (xs, ys) = batch::<_, f64>(&quiet, 4, b, steps);
    let mut seen = std::collections::BTreeSet::new();
    for bi in 0..b {
        for s in 0..2 {
            let v = xs[bi * steps * 4 + s];
            assert!([0.5, 0.25, 0.1, 0.05].contains(&v.abs()), "{v}");
            assert!((0..steps).all(|t| xs[(bi * steps + t) * 4 + s] == v));
            seen.insert(v.to_bits());
        }
        let c = if xs[bi * steps * 4 + 2] == 1.0 { 0 } else { 1 };
        assert!((ys[bi * steps + steps - 1] - 0.01 * 4.0 * xs[bi * steps * 4 + c]).abs() < 1e-15);
    }
    assert_eq!(seen.len(), 8, "all ±levels occur");

    // Noise: per-stream residual around the bias has the configured standard deviation.
    let noisy = Integration::new(IntegrationParams {
        bias: BiasSet::Uniform { max: 0.3 },
        noise_std: 0.7,
        scale: 1.0,
    })
    .unwrap();
    let (b, steps) = (100, 400);
    let (xs, _) = batch::<_, f64>(&noisy, 6, b, steps);
    let (mut s2, mut n) = (0.0, 0.0);
    for bi in 0..b {
        for s in 0..2 {
            let v: Vec<f64> = (0..steps).map(|t| xs[(bi * steps + t) * 4 + s]).collect();
            let mean = v.iter().sum::<f64>() / steps as f64;
            assert!(mean.abs() < 0.3 + 5.0 * 0.7 / (steps as f64).sqrt());
            s2 += v.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
            n += (steps - 1) as f64;
        }
    }
    let sd = (s2 / n).sqrt();
    assert!((sd - 0.7).abs() < 0.01, "noise sd {sd}");

    // Uniform biases cover [-max, max): without noise a stream is its bias.
    let uniform = Integration::new(IntegrationParams {
        bias: BiasSet::Uniform { max: 0.3 },
        noise_std: 0.0,
        scale: 1.0,
    })
    .unwrap();
    let (xs, _) = batch::<_, f64>(&uniform, 9, 200, 1);
    let biases: Vec<f64> = xs.chunks_exact(4).flat_map(|x| [x[0], x[1]]).collect();
    assert!(biases.iter().all(|b| (-0.3..0.3).contains(b)));
    let below = biases.iter().filter(|&&b| b < 0.0).count();
    assert!((150..250).contains(&below), "{below} of 400 negative");
    assert!(biases.iter().any(|&b| b < -0.25) && biases.iter().any(|&b| b > 0.25));

    // Exactly MAX_BIAS_LEVELS levels are accepted, one more is not.
    let levels: Vec<f64> = (0..=MAX_BIAS_LEVELS).map(|k| 0.1 * k as f64).collect();
    assert!(BiasSet::levels(&levels[..MAX_BIAS_LEVELS]).is_ok());
    assert_eq!(BiasSet::levels(&levels), Err(Error::InvalidParameter));
}

#[test]
fn integration_explicit_trial() {
    let task = Integration::default();
    let steps = 30;
    let mut xs = vec![0.0f64; steps * 4];
    let mut ys = vec![0.0f64; steps];
    task.fill_trial(
        &mut Rng::new(1),
        [0.2, -0.4],
        Context::Second,
        steps,
        &mut xs,
        &mut ys,
    )
    .unwrap();
    let mut acc = 0.0;
    for t in 0..steps {
        assert_eq!(&xs[t * 4 + 2..t * 4 + 4], &[0.0, 1.0]);
        acc += xs[t * 4 + 1];
        assert!((ys[t] - 0.01 * acc).abs() < 1e-15);
    }
    assert_eq!(
        task.fill_trial(
            &mut Rng::new(1),
            [f64::NAN, 0.0],
            Context::First,
            steps,
            &mut xs,
            &mut ys
        ),
        Err(Error::InvalidParameter)
    );
}

// ------------------------------------------------------------------ determinism and pins

fn all_buffers(seed: u64) -> Vec<f64> {
    let mut out = Vec::new();
    let (x, y) = batch::<_, f64>(&FlipFlop::default(), seed, 3, 40);
    out.extend(x.into_iter().chain(y));
    let (x, y) = batch::<_, f64>(&Sine::default(), seed, 3, 40);
    out.extend(x.into_iter().chain(y));
    let (x, y) = batch::<_, f64>(&Integration::default(), seed, 3, 40);
    out.extend(x.into_iter().chain(y));
    out
}

#[test]
fn same_seed_same_bits_different_seed_different() {
    let a = all_buffers(2024);
    let b = all_buffers(2024);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    let c = all_buffers(2025);
    assert_ne!(fingerprint(&a), fingerprint(&c));
    // Per task too.
    for seed in [2024, 2025] {
        let (x1, _) = batch::<_, f32>(&FlipFlop::default(), seed, 2, 50);
        let (x2, _) = batch::<_, f32>(&FlipFlop::default(), seed + 10, 2, 50);
        assert_ne!(x1, x2);
        let (x1, _) = batch::<_, f32>(&Integration::default(), seed, 1, 5);
        let (x2, _) = batch::<_, f32>(&Integration::default(), seed + 10, 1, 5);
        assert_ne!(x1, x2);
    }
}

#[test]
fn batch_equals_consecutive_single_trials() {
    let task = Integration::default();
    let (xs, ys) = batch::<_, f64>(&task, 77, 3, 10);
    let mut rng = Rng::new(77);
    for bi in 0..3 {
        let (mut x, mut y) = (vec![0.0f64; 40], vec![0.0f64; 10]);
        task.fill(&mut rng, 1, 10, &mut x, &mut y).unwrap();
        assert_eq!(&xs[bi * 40..(bi + 1) * 40], &x[..]);
        assert_eq!(&ys[bi * 10..(bi + 1) * 10], &y[..]);
    }
}

/// Pinned values of the seeded streams: a change here changes every dataset (and every
/// trained network). Update only on purpose, and say so in the commit message.
#[test]
fn pinned_values() {
    let (x, _) = batch::<_, f64>(&FlipFlop::default(), 1, 1, 40);
    // Non-zero inputs as (flat index, sign).
    let ff: Vec<(usize, i8)> = x
        .iter()
        .enumerate()
        .filter(|(_, &v)| v != 0.0)
        .map(|(i, &v)| (i, v as i8))
        .collect();
    let (xs, _) = batch::<_, f64>(&Sine::default(), 1, 4, 1);
    let js: Vec<usize> = xs
        .iter()
        .map(|&v| Sine::default().index_of_input(v).unwrap())
        .collect();
    let (xi, yi) = batch::<_, f64>(&Integration::default(), 1, 1, 3);
    assert_eq!(ff, PIN_FF);
    assert_eq!(js, PIN_JS);
    assert_eq!(xi, PIN_XI);
    assert_eq!(yi, PIN_YI);
    assert_eq!(fingerprint(&all_buffers(12345)), PIN_FP);
}

// ------------------------------------------------------------------------------- errors

#[test]
fn buffer_length_errors() {
    fn check<T: Task>(task: &T) {
        let (b, steps) = (2, 5);
        let (nx, ny) = (
            T::input_len(b, steps).unwrap(),
            T::output_len(b, steps).unwrap(),
        );
        let mut rng = Rng::new(0);
        let before = rng.clone();
        let mut xs = vec![0.0f32; nx + 1];
        let mut ys = vec![0.0f32; ny];
        assert_eq!(
            task.fill(&mut rng, b, steps, &mut xs, &mut ys),
            Err(Error::BufferSize {
                expected: nx,
                got: nx + 1,
                rule: LengthRule::Exact,
            })
        );
        let mut xs = vec![0.0f32; nx];
        let mut ys = vec![0.0f32; ny - 1];
        assert_eq!(
            task.fill(&mut rng, b, steps, &mut xs, &mut ys),
            Err(Error::BufferSize {
                expected: ny,
                got: ny - 1,
                rule: LengthRule::Exact,
            })
        );
        assert_eq!(rng, before, "a failed fill draws nothing");
        assert!(matches!(
            task.fill::<f32>(&mut rng, usize::MAX, 2, &mut [], &mut []),
            Err(Error::BufferSize { .. })
        ));
        // Empty batches are fine.
        assert_eq!(task.fill::<f32>(&mut rng, 0, 5, &mut [], &mut []), Ok(()));
        assert_eq!(task.fill::<f32>(&mut rng, 3, 0, &mut [], &mut []), Ok(()));
    }
    check(&FlipFlop::default());
    check(&Sine::default());
    check(&Integration::default());
}

#[test]
fn invalid_parameter_errors() {
    for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        is_bad(FlipFlop::new(FlipFlopParams {
            p,
            ..Default::default()
        }));
    }
    let s = SineParams::default();
    is_bad(Sine::new(SineParams {
        frequencies: 0,
        ..s
    }));
    is_bad(Sine::new(SineParams {
        omega_min: 0.0,
        ..s
    }));
    is_bad(Sine::new(SineParams {
        omega_min: 0.7,
        ..s
    }));
    is_bad(Sine::new(SineParams {
        omega_max: 4.0,
        ..s
    }));
    is_bad(Sine::new(SineParams {
        omega_max: f64::NAN,
        ..s
    }));
    is_bad(Sine::new(SineParams {
        input_offset: f64::INFINITY,
        ..s
    }));
    is_bad(Sine::new(SineParams {
        set: FrequencySet::Every { step: 0, offset: 0 },
        ..s
    }));
    is_bad(Sine::new(SineParams {
        set: FrequencySet::AllBut { step: 0, offset: 0 },
        ..s
    }));
    is_bad(Sine::new(SineParams {
        set: FrequencySet::Every { step: 2, offset: 2 },
        ..s
    }));
    is_bad(Sine::new(SineParams {
        frequencies: 1,
        set: FrequencySet::AllBut { step: 1, offset: 0 },
        ..s
    }));
    assert!(Sine::new(SineParams {
        frequencies: 1,
        ..s
    })
    .is_ok());
    assert_eq!(Sine::new(s), Ok(Sine::default()));

    let i = IntegrationParams::default();
    is_bad(Integration::new(IntegrationParams {
        noise_std: -1.0,
        ..i
    }));
    is_bad(Integration::new(IntegrationParams {
        scale: f64::NAN,
        ..i
    }));
    is_bad(Integration::new(IntegrationParams {
        bias: BiasSet::Uniform { max: -1.0 },
        ..i
    }));
    is_bad(Integration::new(IntegrationParams {
        bias: BiasSet::Levels {
            magnitudes: [0.0; 8],
            len: 0,
        },
        ..i
    }));
    is_bad(Integration::new(IntegrationParams {
        bias: BiasSet::Levels {
            magnitudes: [0.0; 8],
            len: 9,
        },
        ..i
    }));
    is_bad(BiasSet::levels(&[]));
    is_bad(BiasSet::levels(&[0.1; 9]));
    is_bad(BiasSet::levels(&[0.1, f64::NAN]));
    assert_eq!(
        BiasSet::levels(&[0.5, 0.25, 0.1, 0.05]),
        Ok(BiasSet::default())
    );
    assert_eq!(Integration::new(i), Ok(Integration::default()));
}

const PIN_FF: &[(usize, i8)] = &[
    (0, -1),
    (1, -1),
    (2, -1),
    (18, 1),
    (29, -1),
    (39, 1),
    (79, -1),
    (97, 1),
    (116, 1),
];
const PIN_JS: &[usize] = &[35, 26, 29, 19];
#[rustfmt::skip]
const PIN_XI: &[f64] = &[
    0.4021944757113243, 0.7577953560153342, 0.0, 1.0,
    1.0547477889943908, 2.389967013979928, 0.0, 1.0,
    -1.303561509961725, 1.9403425416911, 0.0, 1.0,
];
const PIN_YI: &[f64] = &[
    0.007577953560153342,
    0.03147762369995262,
    0.05088104911686363,
];
const PIN_FP: u64 = 0x95e7_4ae3_5185_51e7;

fn is_bad<T: std::fmt::Debug>(r: Result<T, Error>) {
    assert!(matches!(r, Err(Error::InvalidParameter)), "{r:?}");
}
