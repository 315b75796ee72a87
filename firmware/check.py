#!/usr/bin/env python3
"""Checks of the firmware example (called by run-qemu.sh).

1. The device's output (QEMU) against the host reference: every trajectory output, the
   fast-math error, every fixed point (state, residual, stability index, spectral radius).
2. The memory budget: flash (.vector_table + .text + .rodata + .data image) and RAM
   (.data + .bss + .uninit + the measured peak stack) against limits.
3. Panics: no function of the firmware itself references a panic entry point, and no
   formatting machinery (core::fmt) is linked; the core functions that do keep a bounds
   check are listed (they must all be in rnndyn_core::linalg, see README.md).
"""

import argparse
import re
import struct
import sys

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def parse(path):
    """Lines as (kind, {key: value}); the first word is the kind."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            fields = {}
            for w in words[1:]:
                if "=" in w:
                    k, v = w.split("=", 1)
                    fields[k] = v
            out.append((words[0], fields, line.rstrip("\n")))
    return out


def f32s(hexes):
    return [struct.unpack(">f", bytes.fromhex(h))[0] for h in hexes.split(",")]


def f64s(hexes):
    return [struct.unpack(">d", bytes.fromhex(h))[0] for h in hexes.split(",")]


def compare(dev, host, tol_y, tol_h):
    if not dev or dev[-1][2] != "done ok":
        fail("device output does not end with 'done ok'")
    if not host or host[-1][2] != "done ok":
        fail("host reference does not end with 'done ok'")
    ignore = {"board", "insns", "memory"}
    d = [x for x in dev if x[0] not in ignore]
    h = [x for x in host if x[0] not in ignore]
    if len(d) != len(h):
        fail(f"device printed {len(d)} comparable lines, host {len(h)}")
    identical = 0
    worst_y = 0.0
    worst_h = 0.0
    for (kd, fd, ld), (kh, fh, lh) in zip(d, h):
        if kd != kh:
            fail(f"line kinds differ: {ld!r} vs {lh!r}")
            continue
        if ld == lh:
            identical += 1
        if kd == "y" or kd == "fastmath":
            a, b = f32s(fd["bits"]), f32s(fh["bits"])
            err = max(abs(x - y) for x, y in zip(a, b))
            worst_y = max(worst_y, err)
            if len(a) != len(b) or err > tol_y:
                fail(f"{kd} differs by {err:.3e} > {tol_y}: {ld!r} vs {lh!r}")
        elif kd == "fpbits":
            ha, hb = f64s(fd["h"]), f64s(fh["h"])
            err = max(abs(x - y) for x, y in zip(ha, hb))
            worst_h = max(worst_h, err)
            if len(ha) != len(hb) or err > tol_h:
                fail(f"fixed point {fd['k']} differs by {err:.3e} > {tol_h}")
            ra, rb = f64s(fd["residual"])[0], f64s(fh["residual"])[0]
            if not (ra <= 1e-10 and rb <= 1e-10):
                fail(f"fixed point {fd['k']}: residuals {ra:.3e} (device) {rb:.3e} (host) above 1e-10")
            sa, sb = f64s(fd["radius"])[0], f64s(fh["radius"])[0]
            if abs(sa - sb) > tol_h:
                fail(f"fixed point {fd['k']}: spectral radius {sa} vs {sb}")
        elif kd == "fp":
            for key in ("point", "adam_stop", "newton_stop", "index", "slow"):
                if fd.get(key) != fh.get(key):
                    fail(f"fixed point {fd.get('k')}: {key} {fd.get(key)} (device) vs {fh.get(key)} (host)")
        else:
            if ld != lh:
                fail(f"line differs: {ld!r} vs {lh!r}")
    print(
        f"compare: {len(d)} lines, {identical} bit-identical; max |dy| {worst_y:.3e} (tol {tol_y}), "
        f"max |dh*| {worst_h:.3e} (tol {tol_h})"
    )
    # The core promises the same bits on every target (libm, IEEE arithmetic, no FMA
    # contraction): the tolerances above only grade how far a regression went.
    if identical != len(d):
        fail(f"{len(d) - identical} of {len(d)} lines are not bit-identical to the host")
    fps = [f for k, f, _ in dev if k == "fixed_points"]
    if fps:
        f = fps[0]
        print(f"fixed points: {f['distinct']} distinct, {f['stable']} stable; holds correct: {f['correct_holds']}/8")
        if int(f["stable"]) < 8 or f["correct_holds"] != "8":
            fail("expected 8 correct holds and 8 stable fixed points (the flip-flop memories)")


def elf_sections(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        fail("not a 32-bit little-endian ELF")
        return {}, 0
    entry = struct.unpack_from("<I", data, 0x18)[0]
    shoff = struct.unpack_from("<I", data, 0x20)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    heads = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = heads[shstrndx][4]
    sections = {}
    for h in heads:
        name_off = stroff + h[0]
        name = data[name_off : data.index(b"\0", name_off)].decode()
        sections[name] = h[5]
    return sections, entry


def budget(elf, dev, flash_limit, ram_limit):
    s, entry = elf_sections(elf)
    if entry == 0:
        fail("ELF entry point is 0 (link.x not applied?)")
    flash_parts = [".vector_table", ".text", ".rodata", ".data"]
    flash = sum(s.get(n, 0) for n in flash_parts)
    static_ram = sum(s.get(n, 0) for n in (".data", ".bss", ".uninit"))
    mem = [f for k, f, _ in dev if k == "memory"]
    stack = int(mem[0]["stack_peak"]) if mem else None
    print(
        "flash: "
        + " + ".join(f"{n} {s.get(n, 0)}" for n in flash_parts)
        + f" = {flash} B (limit {flash_limit})"
    )
    if stack is None:
        fail("device printed no stack measurement")
        return
    ram = static_ram + stack
    print(
        f"ram:   .data {s.get('.data', 0)} + .bss {s.get('.bss', 0)} + .uninit {s.get('.uninit', 0)} "
        f"+ peak stack {stack} = {ram} B (limit {ram_limit})"
    )
    if flash > flash_limit:
        fail(f"flash {flash} B exceeds the budget {flash_limit} B")
    if ram > ram_limit:
        fail(f"RAM {ram} B exceeds the budget {ram_limit} B")


PANIC_TARGET = re.compile(r"core::panicking::|core::slice::index::slice_\w*fail|core::option::unwrap_failed|core::result::unwrap_failed|core::option::expect_failed")


def panics(disasm):
    """Functions that branch to a panic entry point, from `llvm-objdump -d -C` output."""
    callers = {}
    fmt_symbols = set()
    cur = None
    with open(disasm, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
            if m:
                if not m.group(1).startswith("$"):
                    cur = m.group(1)
                    if "core::fmt::" in cur or "core..fmt.." in cur:
                        fmt_symbols.add(cur)
                continue
            m = re.search(r"\s(b[a-z.]*)\s+(?:0x)?[0-9a-f]+ <([^>+]*)", line)
            if m and PANIC_TARGET.search(m.group(2)) and cur and not PANIC_TARGET.search(cur):
                callers[cur] = callers.get(cur, 0) + 1
    own = {c: n for c, n in callers.items() if not re.search(r"rnndyn_core::linalg::", c)}
    core = {c: n for c, n in callers.items() if c not in own}
    clean = lambda c: re.sub(r"::h[0-9a-f]{16}$", "", c)
    if own:
        for c, n in sorted(own.items()):
            fail(f"{clean(c)} references a panic entry point ({n} sites)")
    if fmt_symbols:
        fail("formatting machinery is linked: " + ", ".join(sorted(clean(c) for c in fmt_symbols)[:5]))
    if not own:
        print("panics: no function of the firmware references a panic entry point")
    if not fmt_symbols:
        print("panics: core::fmt is not linked")
    if core:
        print("panics: bounds checks kept in rnndyn-core (runtime n, not provable by the compiler):")
        for c, n in sorted(core.items()):
            print(f"  {clean(c)}: {n} sites")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--disasm", required=True)
    ap.add_argument("--flash-limit", type=int, required=True)
    ap.add_argument("--ram-limit", type=int, required=True)
    ap.add_argument("--tol-y", type=float, default=1e-5)
    ap.add_argument("--tol-h", type=float, default=1e-9)
    a = ap.parse_args()
    dev, host = parse(a.device), parse(a.host)
    compare(dev, host, a.tol_y, a.tol_h)
    budget(a.elf, dev, a.flash_limit, a.ram_limit)
    panics(a.disasm)
    for k, f, line in dev:
        if k == "insns":
            print("instructions: " + line[len("insns ") :])
    if FAILURES:
        print(f"firmware check: {len(FAILURES)} failure(s)")
        sys.exit(1)
    print("firmware check: ok")


if __name__ == "__main__":
    main()
