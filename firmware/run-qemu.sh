#!/usr/bin/env bash
# The firmware example, end to end: builds it for a Cortex-M4F, runs it under QEMU
# (mps2-an386) and checks it against the host:
#   - `rnndyn export --rust` regenerates firmware/src/network.rs byte for byte from the
#     committed network directory (firmware/network);
#   - the device prints the same trajectory outputs and fixed points as the host reference
#     (host/examples/firmware_reference.rs runs the same scenario source on the host);
#   - flash and RAM (statics + measured peak stack) stay within the budget below;
#   - the firmware's own code has no panic sites and links no formatting machinery.
# Installs what it needs (qemu-system-arm via apt-get, the Rust target); fails loudly if it
# cannot. Usage: bash firmware/run-qemu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Budget (bytes), set from the measured values (see BENCHMARKS.md) with ~12 % headroom.
FLASH_LIMIT=${FIRMWARE_FLASH_LIMIT:-282000}
RAM_LIMIT=${FIRMWARE_RAM_LIMIT:-42500}
QEMU_TIMEOUT=${FIRMWARE_QEMU_TIMEOUT:-120}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
step() { printf '\n--- firmware: %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
die() {
  echo "run-qemu.sh: FATAL: $*" >&2
  exit 1
}

step "qemu-system-arm"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "qemu-system-arm is missing and neither root nor sudo is available to install it"
    SUDO="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || die "qemu-system-arm is missing and apt-get is not available to install it"
  $SUDO apt-get update || die "apt-get update failed: cannot install qemu-system-arm"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends qemu-system-arm ||
    die "apt-get install qemu-system-arm failed"
fi
command -v qemu-system-arm >/dev/null 2>&1 || die "qemu-system-arm still not on PATH after installing it"
qemu-system-arm --version | head -1

step "toolchain"
rustup target add thumbv7em-none-eabihf
OBJDUMP=$(command -v llvm-objdump || true)
if [ -z "$OBJDUMP" ]; then
  rustup component add llvm-tools || rustup component add llvm-tools-preview || die "cannot install llvm-tools"
  OBJDUMP="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-objdump"
fi
[ -x "$OBJDUMP" ] || die "llvm-objdump not found ($OBJDUMP)"

step "host: exporter and reference"
HOST_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --locked -p rnndyn --bin rnndyn --example firmware_reference
"$HOST_TARGET/release/rnndyn" export --rust firmware/network -o "$TMP/network.rs"
if ! cmp -s firmware/src/network.rs "$TMP/network.rs"; then
  diff -u firmware/src/network.rs "$TMP/network.rs" | head -20 || true
  die "firmware/src/network.rs differs from 'rnndyn export --rust firmware/network' (regenerate and commit it)"
fi
echo "export --rust firmware/network reproduces firmware/src/network.rs byte for byte"
"$HOST_TARGET/release/examples/firmware_reference" firmware/network >"$TMP/host.txt" ||
  die "host reference failed: $(tail -3 "$TMP/host.txt")"

step "firmware build (thumbv7em-none-eabihf, release)"
FW_TARGET=${CARGO_TARGET_DIR:-$ROOT/firmware/target}
(cd firmware && cargo build --release --locked)
ELF="$FW_TARGET/thumbv7em-none-eabihf/release/rnndyn-firmware"
[ -f "$ELF" ] || die "no firmware ELF at $ELF"

step "run under QEMU (mps2-an386, -icount shift=0)"
set +e
timeout "$QEMU_TIMEOUT" qemu-system-arm -machine mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -icount shift=0,sleep=off \
  -kernel "$ELF" </dev/null >"$TMP/device.txt" 2>"$TMP/qemu.err"
rc=$?
set -e
grep -v '^y \|^fpbits ' "$TMP/device.txt" || true
cat "$TMP/qemu.err" >&2
case $rc in
  0) ;;
  124) die "QEMU timed out after ${QEMU_TIMEOUT}s (firmware hung)" ;;
  134) die "QEMU aborted (CPU lock-up: bad ELF or semihosting off)" ;;
  *) die "firmware exited with status $rc (its own check failed, or it panicked)" ;;
esac

step "checks: device vs host, memory budget, panics"
"$OBJDUMP" -d -C --no-show-raw-insn "$ELF" >"$TMP/disasm.txt"
python3 firmware/check.py --device "$TMP/device.txt" --host "$TMP/host.txt" --elf "$ELF" \
  --disasm "$TMP/disasm.txt" --flash-limit "$FLASH_LIMIT" --ram-limit "$RAM_LIMIT"
