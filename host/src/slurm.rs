//! `rnndyn slurm`: a population as a Slurm job array.
//!
//! Writes two batch scripts into the store and, with `--submit`, submits them with `sbatch`:
//! - `DIR/slurm/train.sbatch`, an array `0-(N-1)`; task `K` runs
//!   `rnndyn train --config DIR/experiment.toml --out DIR --shard K/N --quiet`;
//! - `DIR/slurm/merge.sbatch`, submitted with `--dependency=afterok:<array job>
//!   --kill-on-invalid-dep=yes`, runs `rnndyn merge --out DIR --clean`.
//!
//! Slurm schedules everything; rnndyn only writes scripts and calls `sbatch`. The shard count
//! `N` is written into the script (not read from `SLURM_ARRAY_TASK_COUNT`) so that a subset
//! of tasks can be resubmitted (`sbatch --array=3,7 DIR/slurm/train.sbatch`) and still
//! train shards 3/N and 7/N.

use crate::app::AppError;
use crate::cli::{PopulationArgs, SlurmArgs};
use crate::population::Shard;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Directory of the scripts inside a store.
pub const SLURM_DIR: &str = "slurm";
/// File recording the array's shape (read by `rnndyn merge` to name shards).
pub const ARRAY_FILE: &str = "array.json";

/// `DIR/slurm/array.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArrayInfo {
    /// Number of shards (array tasks `0..shards`).
    pub shards: usize,
}

/// Settings of the generated scripts.
#[derive(Clone, Debug, Default)]
pub struct SlurmSettings {
    /// Absolute path of the rnndyn binary the jobs run.
    pub exe: PathBuf,
    /// Absolute path of the store.
    pub out: PathBuf,
    /// Array tasks (shards).
    pub shards: usize,
    /// Stem of the job names: the scripts use `<job_name>-train` and `<job_name>-merge`.
    pub job_name: String,
    /// `#SBATCH --partition` of both scripts (`--partition`); none if `None`.
    pub partition: Option<String>,
    /// `#SBATCH --time` of both scripts (`--time`, Slurm syntax); none if `None`.
    pub time: Option<String>,
    /// `#SBATCH --cpus-per-task` of the training array (`--cpus-per-task`), also its
    /// training threads; `None` leaves it out (one thread).
    pub cpus_per_task: Option<u32>,
    /// `#SBATCH --mem` of both scripts (`--mem`, Slurm syntax); none if `None`.
    pub mem: Option<String>,
    /// Extra `#SBATCH` options, verbatim (e.g. `--account=lab`), for both scripts.
    pub extra: Vec<String>,
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_str(p: &Path) -> Result<String, String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("{}: path is not valid UTF-8", p.display()))?;
    if s.contains('\n') {
        return Err(format!("{s:?}: path contains a newline"));
    }
    Ok(s.to_string())
}

/// Checks the settings a user typed (anything that would break a `#SBATCH` line).
pub fn validate(s: &SlurmSettings) -> Result<(), String> {
    if s.shards == 0 {
        return Err("--array 0: need at least one array task".into());
    }
    let fields = [
        ("--partition", &s.partition),
        ("--time", &s.time),
        ("--mem", &s.mem),
    ];
    for (flag, v) in fields {
        if let Some(v) = v {
            if v.is_empty() || v.chars().any(|c| c.is_whitespace()) {
                return Err(format!("{flag} {v:?}: must be one word"));
            }
        }
    }
    let out = path_str(&s.out)?;
    if out.chars().any(char::is_whitespace) {
        return Err(format!(
            "{out:?}: the store path must not contain white space (it goes into #SBATCH lines)"
        ));
    }
    if s.cpus_per_task == Some(0) {
        return Err("--cpus-per-task 0: need at least one CPU".into());
    }
    for a in &s.extra {
        if !a.starts_with('-') || a.contains('\n') {
            return Err(format!(
                "--sbatch-arg {a:?}: expected one sbatch option such as --account=lab"
            ));
        }
    }
    Ok(())
}

fn header(
    s: &SlurmSettings,
    name: &str,
    log_stem: &str,
    lines: &mut Vec<String>,
) -> Result<(), String> {
    let logs = path_str(&s.out.join(SLURM_DIR).join("logs"))?;
    lines.push("#!/bin/bash".into());
    lines.push(format!("#SBATCH --job-name={name}"));
    lines.push(format!("#SBATCH --output={logs}/{log_stem}.out"));
    lines.push(format!("#SBATCH --error={logs}/{log_stem}.err"));
    lines.push("#SBATCH --ntasks=1".into());
    if let Some(p) = &s.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &s.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    if let Some(m) = &s.mem {
        lines.push(format!("#SBATCH --mem={m}"));
    }
    for a in &s.extra {
        lines.push(format!("#SBATCH {a}"));
    }
    Ok(())
}

/// The text of `train.sbatch`.
pub fn train_script(s: &SlurmSettings) -> Result<String, String> {
    validate(s)?;
    let mut l = Vec::new();
    header(s, &format!("{}-train", s.job_name), "train-%A_%a", &mut l)?;
    l.push(format!("#SBATCH --array=0-{}", s.shards - 1));
    if let Some(c) = s.cpus_per_task {
        l.push(format!("#SBATCH --cpus-per-task={c}"));
    }
    let exe = shell_quote(&path_str(&s.exe)?);
    let out = shell_quote(&path_str(&s.out)?);
    let exp = shell_quote(&path_str(&s.out.join("experiment.toml"))?);
    l.push(String::new());
    l.push(
        "# Written by `rnndyn slurm`. Array task K trains shard K of the sweep; the shard count"
            .into(),
    );
    l.push(format!(
        "# ({}) is fixed here, so a subset of tasks can be resubmitted to resume, e.g.",
        s.shards
    ));
    l.push(format!(
        "#   sbatch --array=3,7 {}",
        shell_quote(&path_str(&s.out.join(SLURM_DIR).join("train.sbatch"))?)
    ));
    l.push("# A rerun skips the networks already in the store.".into());
    l.push("set -euo pipefail".into());
    l.push(format!(
        "exec {exe} train --config {exp} --out {out} --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" --quiet",
        s.shards
    ));
    Ok(l.join("\n") + "\n")
}

/// The text of `merge.sbatch` (submit it with `--dependency=afterok:<train job>`).
pub fn merge_script(s: &SlurmSettings) -> Result<String, String> {
    validate(s)?;
    let mut l = Vec::new();
    header(s, &format!("{}-merge", s.job_name), "merge-%j", &mut l)?;
    let exe = shell_quote(&path_str(&s.exe)?);
    let out = shell_quote(&path_str(&s.out)?);
    l.push(String::new());
    l.push(
        "# Written by `rnndyn slurm`. Runs after every array task succeeded: checks that every"
            .into(),
    );
    l.push(
        "# network is in the store, removes leftovers of killed tasks, rebuilds catalog.csv."
            .into(),
    );
    l.push("set -euo pipefail".into());
    l.push(format!("exec {exe} merge --out {out} --clean"));
    Ok(l.join("\n") + "\n")
}

/// Paths of the generated files.
#[derive(Clone, Debug)]
pub struct Written {
    /// `DIR/slurm/train.sbatch`.
    pub train: PathBuf,
    /// `DIR/slurm/merge.sbatch`.
    pub merge: PathBuf,
    /// `DIR/slurm/logs/`, where both scripts send their output.
    pub logs: PathBuf,
}

/// Writes `DIR/slurm/{train,merge}.sbatch`, `DIR/slurm/array.json` and creates
/// `DIR/slurm/logs/` (Slurm does not create log directories).
pub fn write_scripts(s: &SlurmSettings) -> Result<Written, String> {
    let dir = s.out.join(SLURM_DIR);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let train = dir.join("train.sbatch");
    let merge = dir.join("merge.sbatch");
    let w = |p: &Path, text: String| {
        crate::store::write_atomic(p, text.as_bytes()).map_err(|e| e.to_string())
    };
    w(&train, train_script(s)?)?;
    w(&merge, merge_script(s)?)?;
    let info = ArrayInfo { shards: s.shards };
    w(
        &dir.join(ARRAY_FILE),
        serde_json::to_string_pretty(&info).unwrap_or_default() + "\n",
    )?;
    Ok(Written { train, merge, logs })
}

/// The shard count recorded by `rnndyn slurm` in a store, if any.
pub fn recorded_shards(store_root: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(store_root.join(SLURM_DIR).join(ARRAY_FILE)).ok()?;
    serde_json::from_str::<ArrayInfo>(&text)
        .ok()
        .map(|a| a.shards)
}

/// Runs `sbatch --parsable ARGS… SCRIPT` and returns the job id.
pub fn sbatch(args: &[String], script: &Path) -> Result<String, String> {
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable").args(args).arg(script);
    let shown = format!("sbatch --parsable {} {}", args.join(" "), script.display());
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("`{shown}`: sbatch not found on PATH (run this on a Slurm login node, or drop --submit)"),
        _ => format!("`{shown}`: {e}"),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`{shown}`: unexpected output {:?}", stdout.trim()));
    }
    Ok(id)
}

/// The sbatch options of the merge job that depends on the array job `train_job`.
pub fn merge_dependency(train_job: &str) -> Vec<String> {
    vec![
        format!("--dependency=afterok:{train_job}"),
        "--kill-on-invalid-dep=yes".into(),
    ]
}

/// The shard of this Slurm array task (`--shard slurm`): `K` = `SLURM_ARRAY_TASK_ID`,
/// `N` = `SLURM_ARRAY_TASK_COUNT`. Requires the whole array `0-(N-1)` with step 1 (checked
/// with `SLURM_ARRAY_TASK_MIN`/`_MAX`/`_STEP` when set); for anything else pass
/// `--shard $SLURM_ARRAY_TASK_ID/N` explicitly.
pub fn shard_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let num = |name: &str| -> Result<Option<usize>, String> {
        match get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("--shard slurm: {name}={v:?} is not a number")),
        }
    };
    let id = num("SLURM_ARRAY_TASK_ID")?.ok_or(
        "--shard slurm: SLURM_ARRAY_TASK_ID is not set (not inside a Slurm job array task?)",
    )?;
    let count =
        num("SLURM_ARRAY_TASK_COUNT")?.ok_or("--shard slurm: SLURM_ARRAY_TASK_COUNT is not set")?;
    let explicit = "pass the shard explicitly instead, e.g. --shard \"$SLURM_ARRAY_TASK_ID/N\"";
    if let Some(min) = num("SLURM_ARRAY_TASK_MIN")? {
        if min != 0 {
            return Err(format!(
                "--shard slurm: the array starts at {min}, not 0; {explicit}"
            ));
        }
    }
    if let Some(step) = num("SLURM_ARRAY_TASK_STEP")? {
        if step != 1 {
            return Err(format!(
                "--shard slurm: the array has step {step}, not 1; {explicit}"
            ));
        }
    }
    if let Some(max) = num("SLURM_ARRAY_TASK_MAX")? {
        if max + 1 != count {
            return Err(format!(
                "--shard slurm: the array is not 0-{} ({count} tasks, highest {max}), e.g. a resubmitted subset; {explicit}",
                count.saturating_sub(1)
            ));
        }
    }
    Shard::new(id, count)
        .ok_or_else(|| format!("--shard slurm: task id {id} is not below the task count {count}"))
}

/// `rnndyn slurm`: sets up the store, writes the scripts and optionally submits them.
pub fn run(args: SlurmArgs) -> Result<ExitCode, AppError> {
    let pop = PopulationArgs {
        config: args.config.clone(),
        threads: None,
        steps: None,
        quiet: true,
    };
    let (exp, text) = crate::app::experiment(&pop)?;
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("cannot find the path of the running rnndyn: {e}"))?;
    let networks = exp.networks.len();
    let mut shards = args.array;
    if shards > networks {
        eprintln!("--array {shards}: the sweep has only {networks} networks; using {networks} array tasks");
        shards = networks;
    }
    let safe: String = exp
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
        .take(40)
        .collect();
    // Every flag is checked before the store is created: a refused command writes nothing.
    let planned =
        std::path::absolute(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut settings = SlurmSettings {
        exe,
        out: planned,
        shards,
        job_name: if safe.is_empty() {
            "rnndyn".into()
        } else {
            format!("rnndyn-{safe}")
        },
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        extra: args.sbatch_arg.clone(),
    };
    validate(&settings)?;
    let store = crate::app::store_for(&args.out, &exp, &text, &pop)?;
    // The scripts name the store by its canonical path (symbolic links resolved).
    settings.out = std::fs::canonicalize(store.root())
        .map_err(|e| format!("{}: {e}", store.root().display()))?;
    validate(&settings)?;
    let w = write_scripts(&settings)?;
    eprintln!(
        "{networks} networks in {shards} array tasks (about {} per task)\n  {}\n  {}\n  logs: {}",
        networks.div_ceil(shards.max(1)),
        w.train.display(),
        w.merge.display(),
        w.logs.display()
    );
    if !args.submit {
        eprintln!(
            "submit with:\n  jid=$(sbatch --parsable {})\n  sbatch --dependency=afterok:$jid --kill-on-invalid-dep=yes {}",
            shell_quote(&w.train.display().to_string()),
            shell_quote(&w.merge.display().to_string())
        );
        return Ok(ExitCode::SUCCESS);
    }
    let train_job = sbatch(&[], &w.train)?;
    let merge_job = sbatch(&merge_dependency(&train_job), &w.merge).map_err(|e| {
        format!(
            "{e}\nthe training array job {train_job} is submitted; submit the merge yourself: sbatch --dependency=afterok:{train_job} --kill-on-invalid-dep=yes {}",
            w.merge.display()
        )
    })?;
    println!("train job {train_job}");
    println!("merge job {merge_job}");
    eprintln!("submitted: array job {train_job} ({shards} tasks), then merge job {merge_job} once every task succeeded");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SlurmSettings {
        SlurmSettings {
            exe: "/opt/rnndyn/bin/rnndyn".into(),
            out: "/shared/my-store".into(),
            shards: 4,
            job_name: "rnndyn-x".into(),
            partition: Some("cpu".into()),
            time: Some("01:00:00".into()),
            cpus_per_task: Some(2),
            mem: Some("2G".into()),
            extra: vec!["--account=lab".into()],
        }
    }

    #[test]
    fn train_script_has_array_logs_and_command() {
        let t = train_script(&settings()).unwrap();
        assert!(t.starts_with("#!/bin/bash\n"));
        for want in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --output=/shared/my-store/slurm/logs/train-%A_%a.out\n",
            "#SBATCH --error=/shared/my-store/slurm/logs/train-%A_%a.err\n",
            "#SBATCH --partition=cpu\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --mem=2G\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --account=lab\n",
            "exec /opt/rnndyn/bin/rnndyn train --config /shared/my-store/experiment.toml --out /shared/my-store --shard \"${SLURM_ARRAY_TASK_ID}/4\"",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        // Every #SBATCH line precedes the first command.
        let first_cmd = t.lines().position(|l| l.starts_with("set ")).unwrap();
        assert!(t.lines().skip(first_cmd).all(|l| !l.starts_with("#SBATCH")));
    }

    #[test]
    fn merge_script_runs_merge() {
        let m = merge_script(&settings()).unwrap();
        assert!(m.contains("exec /opt/rnndyn/bin/rnndyn merge --out /shared/my-store --clean\n"));
        assert!(m.contains("#SBATCH --output=/shared/my-store/slurm/logs/merge-%j.out\n"));
        assert!(!m.contains("--array"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut s = settings();
        s.shards = 0;
        assert!(train_script(&s).is_err());
        let mut s = settings();
        s.time = Some("1 day".into());
        assert!(train_script(&s).is_err());
        let mut s = settings();
        s.extra = vec!["account=lab".into()];
        assert!(train_script(&s).is_err());
        let mut s = settings();
        s.out = "/shared/my store".into();
        assert!(train_script(&s).is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn shard_from_slurm_env() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        }
        let full = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "2"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert_eq!(shard_from_env(env(&full)), Ok(Shard { index: 2, count: 3 }));
        assert!(shard_from_env(env(&[]))
            .unwrap_err()
            .contains("SLURM_ARRAY_TASK_ID is not set"));
        let subset = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
        ];
        assert!(shard_from_env(env(&subset))
            .unwrap_err()
            .contains("pass the shard explicitly"));
        let shifted = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ];
        assert!(shard_from_env(env(&shifted)).is_err());
    }
}
