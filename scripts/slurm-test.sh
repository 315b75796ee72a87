#!/usr/bin/env bash
# A real Slurm test on one machine (DESIGN.md §9, docs/slurm.md).
#
# Installs Slurm and munge from Debian packages, starts munged, slurmctld and slurmd on
# localhost with a minimal configuration (in a scratch directory, via SLURM_CONF), builds
# rnndyn, trains a tiny population as a job array of 3 with `rnndyn slurm --submit`, waits
# for the dependent merge job, and checks that the merged store equals a single-machine
# `rnndyn train` of the same experiment (catalog rows, records without timing, parameters
# bit for bit, loss curves). Then it deletes one network, checks that `rnndyn merge` fails
# naming it, resubmits only that shard with `sbatch --array=K`, and checks again.
#
# Needs root (or password-less sudo) for apt-get and the daemons. Stops the daemons it
# started, by PID, on exit. Set KEEP=1 to keep the scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '[slurm-test %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "FAIL: $*"
  exit 1
}

# AS_ROOT prefixes commands that need root. An array, not a function: a function run in the
# background is a subshell whose $! is not the daemon's PID.
if [ "$(id -u)" = 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  AS_ROOT=(sudo -n)
else
  die "needs root or password-less sudo (apt-get, munged, slurmctld, slurmd)"
fi

# ---------------------------------------------------------------------------- install
# A machine where /dev/null became a regular file breaks apt's signature checks.
if [ ! -c /dev/null ]; then
  "${AS_ROOT[@]}" rm -f /dev/null
  "${AS_ROOT[@]}" mknod -m 666 /dev/null c 1 3
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  log "installing slurm-wlm and munge"
  "${AS_ROOT[@]}" apt-get update -q >/dev/null
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
    --no-install-recommends slurm-wlm munge >/dev/null
fi
for tool in munged slurmctld slurmd sbatch scontrol sinfo python3; do
  command -v "$tool" >/dev/null || die "$tool not found after installation"
done
python3 -c 'import numpy' || die "python3 with numpy is needed for the comparison"
for daemon in slurmctld slurmd; do
  if pgrep -x "$daemon" >/dev/null; then
    die "a $daemon is already running on this machine; this test starts its own (stop it first)"
  fi
done

# ---------------------------------------------------------------------------- scratch
WORK=$(mktemp -d /tmp/rnndyn-slurm-test.XXXXXX)
chmod 755 "$WORK"
MUNGE_PID="" CTLD_PID="" SLURMD_PID="" TRAIN_JOB="" MERGE_JOB=""
STATUS=1

show_logs() {
  for f in "$WORK"/logs/*.log "$WORK"/store/slurm/logs/*; do
    [ -f "$f" ] || continue
    echo "----- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2 || true
  done
}

alive() { "${AS_ROOT[@]}" kill -0 "$1" 2>/dev/null; }
stop_pid() { # name pid
  [ -n "$2" ] || return 0
  if alive "$2"; then
    "${AS_ROOT[@]}" kill -TERM "$2" 2>/dev/null || true
    for _ in $(seq 1 50); do
      alive "$2" || break
      sleep 0.1
    done
    if alive "$2"; then
      log "$1 (pid $2) ignores SIGTERM; sending SIGKILL"
      "${AS_ROOT[@]}" kill -KILL "$2" 2>/dev/null || true
    fi
  fi
  wait "$2" 2>/dev/null || true
}

cleanup() {
  set +e
  if [ "$STATUS" != 0 ]; then
    show_logs
  fi
  if [ -n "$CTLD_PID" ] && alive "$CTLD_PID"; then
    for job in $TRAIN_JOB $MERGE_JOB; do scancel "$job" 2>/dev/null; done
  fi
  stop_pid slurmd "$SLURMD_PID"
  stop_pid slurmctld "$CTLD_PID"
  stop_pid munged "$MUNGE_PID"
  for d in slurmd slurmctld munged; do
    case $d in slurmd) p=$SLURMD_PID ;; slurmctld) p=$CTLD_PID ;; munged) p=$MUNGE_PID ;; esac
    if [ -n "$p" ] && alive "$p"; then log "WARNING: $d (pid $p) is still running"; fi
  done
  if [ "${KEEP:-0}" = 1 ] || [ "$STATUS" != 0 ]; then
    log "scratch directory kept: $WORK"
  else
    "${AS_ROOT[@]}" rm -rf "$WORK"
  fi
  if [ "$STATUS" = 0 ]; then log "PASS"; else log "FAILED (see above)"; fi
}
trap 'STATUS=$?; cleanup' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------- build
log "building rnndyn"
cargo build --release -p rnndyn --locked
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/rnndyn"
[ -x "$BIN" ] || die "$BIN not built"

# ---------------------------------------------------------------------------- daemons
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemAvailable/ { m = int($2 / 1024 / 2); if (m > 4096) m = 4096; print m }' /proc/meminfo)
mkdir -p "$WORK/etc" "$WORK/logs" "$WORK/state/ctld" "$WORK/state/d"
export SLURM_CONF="$WORK/etc/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Minimal single-node Slurm for scripts/slurm-test.sh (see /work/shared/SLURM.md notes).
ClusterName=rnndyntest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
StateSaveLocation=$WORK/state/ctld
SlurmdSpoolDir=$WORK/state/d
SlurmctldPidFile=$WORK/state/slurmctld.pid
SlurmdPidFile=$WORK/state/slurmd.pid
SlurmctldLogFile=$WORK/logs/slurmctld.log
SlurmdLogFile=$WORK/logs/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

log "starting munged, slurmctld, slurmd ($HOST, $CPUS CPUs, ${MEM_MB} MB)"
"${AS_ROOT[@]}" mkdir -p /run/munge
"${AS_ROOT[@]}" chown munge:munge /run/munge
[ -f /etc/munge/munge.key ] || die "/etc/munge/munge.key missing (the munge package creates it)"
"${AS_ROOT[@]}" setpriv --reuid=munge --regid=munge --init-groups munged -F >"$WORK/logs/munged.log" 2>&1 &
MUNGE_PID=$!
for _ in $(seq 1 50); do
  [ -S /run/munge/munge.socket.2 ] && break
  sleep 0.1
done
[ -S /run/munge/munge.socket.2 ] || die "munged did not start"
"${AS_ROOT[@]}" env SLURM_CONF="$SLURM_CONF" slurmctld -D >"$WORK/logs/slurmctld.out" 2>&1 &
CTLD_PID=$!
"${AS_ROOT[@]}" env SLURM_CONF="$SLURM_CONF" slurmd -D >"$WORK/logs/slurmd.out" 2>&1 &
SLURMD_PID=$!
state=""
for _ in $(seq 1 60); do
  state=$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null || true)
  [ "$state" = idle ] && break
  alive "$CTLD_PID" || die "slurmctld exited"
  alive "$SLURMD_PID" || die "slurmd exited"
  sleep 0.5
done
[ "$state" = idle ] || die "node $HOST not idle after 30 s (state: ${state:-none})"
log "node $HOST is idle"

# ---------------------------------------------------------------------------- population
cat >"$WORK/tiny.toml" <<'EOF'
# 2 architectures x 1 activation x size 8 x 3 seeds = 6 networks, 100 steps each.
name = "slurm-test"
seed = 5

[task]
kind = "flipflop"
trial_steps = 20

[task.flipflop]
pulse_probability = 0.1
pulse_at_t0 = true

[population]
architectures = ["vanilla", "gru"]
activations = ["tanh"]
hidden_sizes = [8]
l2 = [0.0]
learning_rates = [0.01]
seeds = 3
gru_convention = "reset-before"

[training]
steps = 100
batch = 8
clip_norm = 10.0
schedule = "constant"
decay = 0.5
decay_steps = 1000
eval_trials = 16
recurrent_gain = 1.0
recurrent_init = "normal"
gate_bias = 1.0
EOF
STORE="$WORK/store"
SINGLE="$WORK/single"

log "rnndyn slurm --array 3 --submit"
"$BIN" slurm --config "$WORK/tiny.toml" --out "$STORE" --array 3 --partition debug --time 00:10:00 \
  --cpus-per-task 1 --sbatch-arg=--comment=rnndyn-slurm-test --submit >"$WORK/submit.out"
cat "$WORK/submit.out" >&2
TRAIN_JOB=$(awk '$1 == "train" && $2 == "job" { print $3 }' "$WORK/submit.out")
MERGE_JOB=$(awk '$1 == "merge" && $2 == "job" { print $3 }' "$WORK/submit.out")
[[ "$TRAIN_JOB" =~ ^[0-9]+$ && "$MERGE_JOB" =~ ^[0-9]+$ ]] || die "could not read the job ids from: $(cat "$WORK/submit.out")"
grep -q '^#SBATCH --array=0-2$' "$STORE/slurm/train.sbatch" || die "train.sbatch has no --array=0-2"
scontrol show job "$MERGE_JOB" | grep -q "Dependency=afterok:${TRAIN_JOB}" ||
  scontrol show job "$MERGE_JOB" | grep -q "JobState=COMPLETED" ||
  die "merge job $MERGE_JOB does not depend on $TRAIN_JOB"

job_state() { scontrol show job "$1" -o 2>/dev/null | head -n 1 | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
log "waiting for merge job $MERGE_JOB (after array job $TRAIN_JOB)"
deadline=$((SECONDS + 300))
while :; do
  st=$(job_state "$MERGE_JOB")
  case "$st" in
    COMPLETED) break ;;
    PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | "") ;;
    *) die "merge job $MERGE_JOB ended in state $st" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || die "merge job $MERGE_JOB not done after 300 s (state $st)"
  sleep 1
done
# Every array task completed with exit code 0.
scontrol show job "$TRAIN_JOB" -o >"$WORK/train-jobs.txt"
tasks=$(grep -c 'ArrayTaskId=' "$WORK/train-jobs.txt" || true)
ok=$(grep 'JobState=COMPLETED' "$WORK/train-jobs.txt" | grep -c 'ExitCode=0:0' || true)
[ "$tasks" = 3 ] && [ "$ok" = 3 ] || die "expected 3 completed array tasks, got $ok of $tasks: $(cat "$WORK/train-jobs.txt")"
for k in 0 1 2; do
  grep -q "shard $k/3 done" "$STORE"/slurm/logs/train-"${TRAIN_JOB}"_"$k".err || die "array task $k did not train shard $k/3"
done
grep -q "complete (6 networks)" "$STORE"/slurm/logs/merge-"$MERGE_JOB".err || die "merge job log does not report a complete store"
log "array of 3 and merge completed"

log "single-machine run of the same experiment"
"$BIN" train --config "$WORK/tiny.toml" --out "$SINGLE" --threads 1 --quiet

compare() {
  python3 - "$SINGLE" "$STORE" <<'EOF'
import csv, json, os, sys
import numpy as np

single, merged = sys.argv[1], sys.argv[2]
TIMING = {"train_seconds"}

def catalog(store):
    with open(os.path.join(store, "catalog.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]

a, b = catalog(single), catalog(merged)
assert len(a) == 6, f"single-machine catalog has {len(a)} rows, expected 6"
assert a == b, f"catalog rows differ:\n{a}\n{b}"
ids = [r["id"] for r in a]
nets = lambda s: sorted(d for d in os.listdir(os.path.join(s, "networks")) if not d.startswith("."))
assert nets(single) == nets(merged) == sorted(ids), (nets(single), nets(merged))
same_bytes = 0
for i in ids:
    da, db = (os.path.join(s, "networks", i) for s in (single, merged))
    ja, jb = (json.load(open(os.path.join(d, "network.json"))) for d in (da, db))
    for j in (ja, jb):
        for k in TIMING:
            j.pop(k, None)
    assert ja == jb, f"{i}: network.json differs:\n{ja}\n{jb}"
    pa, pb = (np.load(os.path.join(d, "params.npz")) for d in (da, db))
    assert sorted(pa.files) == sorted(pb.files), (i, pa.files, pb.files)
    for name in pa.files:
        x, y = pa[name], pb[name]
        assert x.dtype == y.dtype == np.float32 and x.shape == y.shape, (i, name, x.dtype, y.dtype, x.shape, y.shape)
        assert x.tobytes() == y.tobytes(), f"{i}: params[{name}] differ (max |diff| {np.max(np.abs(x - y))})"
    ca, cb = (np.load(os.path.join(d, "curve.npy")) for d in (da, db))
    assert ca.tobytes() == cb.tobytes(), f"{i}: curve.npy differs"
    same_bytes += open(os.path.join(da, "params.npz"), "rb").read() == open(os.path.join(db, "params.npz"), "rb").read()
print(f"{len(ids)} networks identical (catalog rows, records, params bit for bit, curves); "
      f"{same_bytes}/{len(ids)} params.npz files byte-identical")
EOF
}
compare || die "merged store differs from the single-machine run"

# ---------------------------------------------------------------------------- resume
LOST=$(python3 -c 'import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[4]["id"])' "$STORE/catalog.csv")
rm -rf "${STORE:?}/networks/$LOST"
mkdir "$STORE/networks/.tmp-deadnode-99-0-$LOST"
log "lost $LOST; rnndyn merge must fail and name it"
if "$BIN" merge --out "$STORE" 2>"$WORK/merge-missing.err"; then
  die "rnndyn merge succeeded with $LOST missing"
fi
cat "$WORK/merge-missing.err" >&2
grep -q "$LOST" "$WORK/merge-missing.err" || die "rnndyn merge did not name the missing network"
grep -q "leftover temporary" "$WORK/merge-missing.err" || die "rnndyn merge did not report the leftover .tmp-* directory"
SHARD=$(grep -o 'sbatch --array=[0-9,]*' "$WORK/merge-missing.err" | head -n 1 | cut -d= -f2)
[[ "$SHARD" =~ ^[0-9]$ ]] || die "rnndyn merge did not name the shard to resubmit"
log "resubmitting shard $SHARD only: sbatch --wait --array=$SHARD train.sbatch"
sbatch --wait --array="$SHARD" "$STORE/slurm/train.sbatch" >/dev/null || die "resubmitted shard $SHARD failed"
"$BIN" merge --out "$STORE" --clean || die "rnndyn merge failed after the resubmission"
[ ! -e "$STORE/networks/.tmp-deadnode-99-0-$LOST" ] || die "merge --clean left the .tmp-* directory"
compare || die "resumed store differs from the single-machine run"
log "resume through a resubmitted array task works"
STATUS=0
