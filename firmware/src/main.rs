//! rnndyn-core on a Cortex-M4F: a trained GRU-16 (flip-flop) as `const` arrays, its
//! trajectory, its fast-math trajectory and its fixed points, printed over semihosting.
//!
//! Runs on QEMU's `mps2-an386` (see `run-qemu.sh`). No allocator; the only buffers are
//! stack arrays. The peak stack is measured by painting the free RAM at start and finding
//! the lowest overwritten word at the end. Exit status (semihosting): 0 when every hold of
//! the trial gives the right output and the 8 memories are stable fixed points, 1 otherwise.
#![no_std]
#![no_main]

mod scenario;

#[rustfmt::skip]
#[allow(dead_code)] // the generated file carries every constant of the network
mod network;

use core::ptr::{addr_of, read_volatile, write_volatile};
use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, nr, syscall};
use scenario::{Clock, Line, Sink};

// The scenario is written for the exported network's shape.
const _: () = assert!(network::HIDDEN == scenario::N && network::INPUTS == scenario::I);
const _: () = assert!(network::OUTPUTS == scenario::O && network::PARAM_COUNT == scenario::PARAMS);

/// Pattern written over the free RAM before the run.
const PAINT: u32 = 0x5EA5_C0DE;

/// The board's free-running counter (FPGAIO `COUNTER`, mps2 SYSCLK). Under QEMU with
/// `-icount shift=0,sleep=off` it advances with executed instructions.
const COUNTER: *const u32 = 0x4002_8018 as *const u32;

extern "C" {
    /// First free word after `.bss` / `.uninit` (cortex-m-rt's `link.x`).
    static __sheap: u32;
    /// Top of the stack (initial MSP).
    static _stack_start: u32;
}

/// Semihosting stdout (the host's `:tt`), written with plain `SYS_WRITE` calls (the
/// crate's `HostStream::write_all` links a bounds check).
struct Host(Option<usize>);

impl Host {
    fn stdout() -> Host {
        const TT: &[u8] = b":tt\0";
        // SAFETY: SYS_OPEN with a NUL-terminated name and its length without the NUL.
        let fd = unsafe { syscall!(OPEN, TT.as_ptr(), nr::open::W_TRUNC, TT.len() - 1) };
        Host(if fd as isize == -1 { None } else { Some(fd) })
    }
}

impl Sink for Host {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(fd) = self.0 {
            // SAFETY: SYS_WRITE reads `bytes.len()` bytes from a live slice. QEMU writes
            // everything at once; a short write would only truncate a line.
            unsafe { syscall!(WRITE, fd, bytes.as_ptr(), bytes.len()) };
        }
    }
}

/// Instruction count from the board counter, scaled by a calibration loop of known length.
struct Counter {
    /// Instructions per 1024 counter ticks.
    insns_per_1024_ticks: u64,
}

fn ticks() -> u32 {
    // SAFETY: an always-mapped, read-only device register of the board.
    unsafe { read_volatile(COUNTER) }
}

/// Executes exactly `2 * n + 1` instructions (`subs`/`bne` per iteration, plus `mov`).
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: touches only its own register.
    unsafe {
        core::arch::asm!(
            "mov {0}, {1}",
            "2:",
            "subs {0}, {0}, #1",
            "bne 2b",
            out(reg) _,
            in(reg) n,
            options(nomem, nostack),
        );
    }
}

impl Counter {
    fn calibrate() -> Counter {
        const LOOPS: u32 = 1 << 20;
        let a = ticks();
        spin(LOOPS);
        let b = ticks();
        let t = b.wrapping_sub(a).max(1) as u64;
        Counter {
            insns_per_1024_ticks: (2 * LOOPS as u64 + 1) * 1024 / t,
        }
    }
}

impl Clock for Counter {
    fn instructions(&mut self) -> u64 {
        ticks() as u64 * self.insns_per_1024_ticks / 1024
    }
}

fn stack_top() -> usize {
    addr_of!(_stack_start) as usize
}

fn free_start() -> usize {
    addr_of!(__sheap) as usize
}

/// Paints the free RAM between the end of `.bss` and (just below) the current stack
/// pointer.
#[inline(never)]
fn paint_stack() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut a = free_start();
    while a + 64 < sp {
        // SAFETY: the region between the end of the statics and the live stack is unused
        // (no heap), word aligned (cortex-m-rt asserts `__sheap % 4 == 0`).
        unsafe { write_volatile(a as *mut u32, PAINT) };
        a += 4;
    }
}

/// Bytes of stack ever used: from the top down to the lowest word that lost the paint.
#[inline(never)]
fn stack_peak() -> usize {
    let mut a = free_start();
    let top = stack_top();
    // SAFETY: reads of RAM between the statics and the stack top.
    while a < top && unsafe { read_volatile(a as *const u32) } == PAINT {
        a += 4;
    }
    top - a
}

#[entry]
fn main() -> ! {
    paint_stack();
    let mut host = Host::stdout();
    let mut clock = Counter::calibrate();
    Line::new(&mut host)
        .str("board")
        .key("cpu")
        .str("cortex-m4f")
        .key("machine")
        .str("mps2-an386")
        .key("insns_per_1024_counter_ticks")
        .uint(clock.insns_per_1024_ticks)
        .end();
    let result = scenario::run(
        network::ID,
        network::CELL,
        &network::PARAMS,
        &mut host,
        &mut clock,
    );
    let peak = stack_peak();
    let ok = match result {
        Ok(s) => {
            Line::new(&mut host)
                .str("memory")
                .key("stack_peak")
                .uint(peak as u64)
                .key("static_ram")
                .uint((free_start() - 0x2000_0000) as u64)
                .end();
            s.correct_holds == 8 && s.stable >= 8
        }
        Err(e) => {
            Line::new(&mut host)
                .str("error")
                .key("core")
                .str(scenario::error_name(e))
                .end();
            false
        }
    };
    Line::new(&mut host)
        .str(if ok { "done ok" } else { "done FAILED" })
        .end();
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::bkpt();
    }
}

/// No formatting: a fixed message and a failing exit status.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let mut host = Host::stdout();
    Line::new(&mut host).str("PANIC").end();
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}
