#!/usr/bin/env python3
"""Where a media worker's time goes: buckets the cpu-clock samples of one thread inside a time
window (perf.data from `run_bench.py --perf`) into categories, by the whole call chain.

The kernel part of each chain is complete (kernel frame pointers), so a sample under
`__sys_sendmsg` counts as "send syscall" whatever it does below, except the loopback delivery
into the receiver's socket (the softirq a send on lo runs before it returns), which has a
category of its own: it is the peer's receive work, charged to the sender on lo. User frames of a RelWithDebInfo build have no frame
pointers, so user samples are classified by their leaf symbol and library only.

    perf_breakdown.py perf.data TID START,END      # seconds on perf's clock (CLOCK_MONOTONIC)

Standard library only; needs `perf` on PATH.
"""
import collections
import subprocess
import sys

# (category, test on the chain's frames: list of (symbol, dso), leaf first). First match wins.
KERNEL_RULES = [
    # On loopback a send runs the receiver's whole UDP input (softirq at the sender's
    # local_bh_enable): the peer's work, charged to whoever sent. Split out so a server's own
    # work can be compared without it (a NIC would do it in its own softirq).
    ("loopback delivery into the peer's socket (softirq)",
     ("net_rx_action", "process_backlog", "__netif_receive_skb")),
    # io_uring (media/internal/uring_ring.h): the same socket work, reached from io_uring_enter.
    ("io_uring send (UDP/IP output; IORING_OP_SEND or SENDMSG)", ("io_sendmsg", "io_send")),
    ("io_uring recv (io_recvmsg, deferred task work)", ("io_recvmsg", "io_recv")),
    ("io_uring other (enter, poll wake-ups, CQEs)",
     ("io_uring_enter", "__do_sys_io_uring_enter", "__x64_sys_io_uring_enter", "io_poll",
      "io_run_local_work", "__io_run_local_work")),
    ("send syscall (sendmsg/sendto: UDP/IP output)",
     ("__sys_sendmsg", "__sys_sendto", "__sys_sendmmsg", "__x64_sys_sendto", "__libc_sendmsg",
      "__libc_sendto")),
    ("recv syscall (recvfrom/recvmsg/recvmmsg)",
     ("__sys_recvfrom", "__sys_recvmsg", "__sys_recvmmsg", "do_recvmmsg", "__x64_sys_recvmmsg",
      "__libc_recvfrom", "__libc_recvmsg", "recvmmsg")),
    ("event loop (epoll_wait, timerfd, sd-event)",
     ("do_epoll_wait", "__x64_sys_epoll_wait", "timerfd_", "epoll_wait")),
]
USER_RULES = [
    ("TTY decoder (spandsp fsk_rx + TtyToneGate + TtyDecoder)",
     lambda s, d: "spandsp" in d and (s.startswith("fsk_") or s.startswith("dds"))
     or "::tty::" in s),
    ("PLC / codecs (G.711, G.722, Opus, speexdsp, spandsp plc)",
     lambda s, d: "::codec::" in s or "opus" in d or "speex" in d or "spandsp" in d
     or "g722" in s),
    ("oRTP send path (packet build, session, RTCP)", lambda s, d: "ortp" in d),
    ("mixing (FrameMixer, kernels)", lambda s, d: "::mixer::" in s),
    ("jitter buffer", lambda s, d: "JitterBuffer" in s),
    ("bridge / leg logic (anchord::media)", lambda s, d: "::media::" in s),
    ("malloc/free", lambda s, d: "libc" in d and any(
        k in s for k in ("malloc", "free", "_int_", "cfree", "calloc", "realloc"))),
]


def samples(path, tid, window):
    out = subprocess.run(["perf", "script", "-i", path, "--tid", str(tid), "--time", window,
                          "-F", "ip,sym,dso"], capture_output=True, text=True, check=True).stdout
    chain = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            if chain:
                yield chain
            chain = []
            continue
        parts = line.split(None, 1)
        rest = parts[1] if len(parts) > 1 else ""
        sym, _, dso = rest.rpartition(" (")
        chain.append((sym.split("+0x")[0], dso.rstrip(")")))
    if chain:
        yield chain


def classify(chain):
    syms = [s for s, _ in chain]
    # First: a switch back to this thread (preempted on return from a syscall, or woken in
    # epoll_wait) is the scheduler's, whichever syscall it interrupted.
    if any(s.startswith(("schedule", "__schedule", "finish_task_switch")) for s in syms):
        return "scheduler (preemption, switches)"
    for name, keys in KERNEL_RULES:
        if any(s.startswith(k) for s in syms for k in keys):
            return name
    leaf_sym, leaf_dso = chain[0]
    if "kernel" in leaf_dso:
        return "other kernel (irq, softirq, timers)"
    for name, test in USER_RULES:
        if test(leaf_sym, leaf_dso):
            return name
    return "other user (%s)" % leaf_dso.split("/")[-1]


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    counts = collections.Counter(classify(c) for c in samples(*sys.argv[1:4]))
    total = sum(counts.values())
    print("| share of worker time | category |\n|---:|---|")
    for name, n in counts.most_common():
        print("| %.1f %% | %s |" % (100.0 * n / total, name))
    print("\n%d samples" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
