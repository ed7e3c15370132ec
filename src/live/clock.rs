//! Real time for live mode: the system's monotonic clock in nanoseconds (one time line for
//! every process on a machine, so the orchestrator, the relay and the nodes share an epoch)
//! and a sleep that wakes within microseconds of a deadline.

use std::time::Duration;

/// How long before a deadline [`sleep_until`] stops sleeping and spins: the kernel's timer
/// slack and wake-up latency are below this on an idle machine (measured: ~5 µs at p99 after
/// sleeping until 200 µs before).
pub const SPIN: u64 = 200_000;

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn mono_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    // CLOCK_MONOTONIC exists on every Linux and BSD; failure would mean no clock at all.
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is readable");
    (t.tv_sec() as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec() as u64)
}

/// Sleeps until the monotonic clock reads `deadline` (ns): the thread sleeps until
/// [`SPIN`] before it, then spins, so the wake-up is late by microseconds rather than the
/// millisecond of a timer wheel, for the price of 200 µs of one core per wake-up.
pub fn sleep_until(deadline: u64) {
    loop {
        let now = mono_ns();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > SPIN {
            std::thread::sleep(Duration::from_nanos(left - SPIN));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Asks for the real-time scheduling class (SCHED_FIFO, low priority 10) for the calling
/// thread, so that a busy machine's other work does not delay its wake-ups; returns whether
/// it was granted (it needs root or CAP_SYS_NICE; without it the thread runs as before).
/// The thread only ever spins for [`SPIN`] before a deadline, and Linux reserves 5 % of
/// every second for other work, so it cannot starve the machine.
pub fn realtime() -> bool {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let Ok(value) = 10u8.try_into() else { return false };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .is_ok()
}

/// How many bytes of datagrams a live socket may hold unread: 8 MiB, where Linux's default
/// (208 KiB, ~300 heartbeats) overflows when hundreds of peers' heartbeats arrive together
/// or a stopped process resumes, and the datagrams lost that way would be counted as the
/// network's. As root the kernel's cap (`rmem_max`) is overridden; otherwise it applies.
pub const RECV_BUFFER: usize = 8 << 20;

/// Gives `socket` a [`RECV_BUFFER`]-byte receive buffer, as far as the kernel allows.
pub fn large_receive_buffer(socket: &std::net::UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &RECV_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &RECV_BUFFER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_forward_and_sleep_never_wakes_early() {
        let a = mono_ns();
        let deadline = a + 2_000_000;
        sleep_until(deadline);
        let b = mono_ns();
        assert!(b >= deadline, "woke {} ns early", deadline - b);
        // A deadline in the past returns at once.
        sleep_until(a);
        assert!(mono_ns() >= b);
    }
}
