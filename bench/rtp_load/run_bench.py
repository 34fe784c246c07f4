#!/usr/bin/env python3
"""Media plane vs rtpengine: N two-leg G.711 calls through anchord (1 media worker) and through
rtpengine (userspace, 1 thread), side by side, alternating, with the same generator (rtp_load).

For every N in --steps, for every repetition, both servers are run (the order alternates per
repetition), each as a fresh process: start it, run rtp_load against it (setup, warm-up, one
measurement window), stop it. A step passes for a server when every repetition had 0 loss. A server keeps climbing after a
lossy step (its CPU cost per packet is still measured) and stops after --max-fails lossy steps
in a row or a failed setup. For anchord the tick criterion (ticks more than 5 ms late <= 1 % of the
window's ticks, i.e. tick p99 < 5 ms) is reported next to it ("tick ok"), not used to stop:
on a shared machine other load makes ticks late at any N. Results: one JSON line per run in --out,
and a summary table (medians over repetitions) on stdout.

Standard library only. Root is needed (SO_RCVBUFFORCE, RLIMIT_NOFILE).
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# Outside the integration tests' fixed ports (SIP 5060-50xx, RTP 20000-59999) and outside
# the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range: 32768-60999 here), so
# a benchmark can run while others run those tests. 4 534 ports: up to ~1 100 anchord calls.
ANCHORD_SIP_PORT = 5990
RTP_PORT_MIN = 61000
RTP_PORT_MAX = 65534
# anchord variants (same binary, environment read once at each worker's start).
ANCHORD_VARIANTS = {
    "anchord": {},                                          # io_uring sends and receives
    "anchord-nouring": {"ANCHORD_NO_URING": "1"},           # sendto + recvmmsg per leg
    "anchord-sendring": {"ANCHORD_NO_URING_RECV": "1"},     # io_uring sends, recvmmsg
}
NG_PORT = 22222
GEN_SIP_PORT = 15990  # callers; positions on +1
NICE = -10


def raise_nofile():
    """In the child: as many fds as allowed (anchord holds 4 per call: 2 legs x RTP+RTCP)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.setsid()
    # The machine is shared: both servers and the generator get the same raised priority, so
    # other load disturbs the comparison less and neither server is favoured.
    os.nice(NICE)


def udp_port_bound(port):
    hexport = ":%04X" % port
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(hexport) for line in list(f)[1:])


def wait_port(port, proc, deadline_s=10):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        if udp_port_bound(port):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not bind UDP port %d" % port)


def spare_positions(calls):
    """Positions beyond one per call: a position marked down during setup (see README: the
    silence watch can fire at once when the worker is behind) is replaced by an idle one."""
    return calls // 4 + 10


def anchord_config(calls, tmp, with_control):
    lines = [
        "[sip]", 'listen = ["udp:127.0.0.1:%d"]' % ANCHORD_SIP_PORT, "",
        "[media]", 'address = "127.0.0.1"', "port_min = %d" % RTP_PORT_MIN,
        "port_max = %d" % RTP_PORT_MAX,
        "workers = 1", "",
        # Heartbeats at 5 s (the brief's 1-5 s): N positions cost N/5 OPTIONS a second on the
        # signaling thread, not on the worker we measure.
        "[failover]", "heartbeat_ms = 5000", "misses = 3", "rtp_timeout_ms = 5000", "",
        # info: the signaling thread logs the media tick percentiles when they change (read
        # below); per-call lines come only during setup, outside the window.
        "[log]", 'level = "info"', "",
    ]
    if with_control:
        lines += ["[control]", 'listen = ""', ""]
    for i in range(calls + spare_positions(calls)):
        lines += ["[[positions]]", 'name = "p%d"' % i,
                  'uri = "sip:p%d@127.0.0.1:%d"' % (i, GEN_SIP_PORT + 1), 'location = "none"', ""]
    path = os.path.join(tmp, "anchord.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def start_anchord(args, calls, tmp, variant="anchord"):
    default = subprocess.run([args.anchord, "--print-default-config"], capture_output=True,
                             text=True).stdout
    cfg = anchord_config(calls, tmp, "[control]" in default)
    check = subprocess.run([args.anchord, "--check-config", cfg], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError("anchord config rejected:\n" + check.stderr)
    err = open(os.path.join(tmp, "anchord.stderr"), "w")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "ANCHORD_NO_URING", "ANCHORD_NO_URING_RECV")}
    env.update(ANCHORD_VARIANTS[variant])
    proc = subprocess.Popen([args.anchord, "--config", cfg], stderr=err, stdout=err, env=env,
                            preexec_fn=raise_nofile)
    wait_port(ANCHORD_SIP_PORT, proc)
    return proc, "127.0.0.1:%d" % ANCHORD_SIP_PORT


def start_rtpengine(args, calls, tmp):
    err = open(os.path.join(tmp, "rtpengine.stderr"), "w")
    # Userspace only (--table=-1: no kernel forwarding table), one worker thread, logs at
    # warning (4) so per-call info lines do not cost CPU inside the window.
    proc = subprocess.Popen(
        [args.rtpengine, "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
         "--interface=127.0.0.1", "--listen-ng=127.0.0.1:%d" % NG_PORT, "--num-threads=1",
         "--port-min=%d" % RTP_PORT_MIN, "--port-max=%d" % RTP_PORT_MAX, "--log-level=4", "--timeout=600"],
        stderr=err, stdout=err, preexec_fn=raise_nofile)
    wait_port(NG_PORT, proc)
    return proc, "127.0.0.1:%d" % NG_PORT


def tick_stats(tmp, window_ms):
    """From anchord's stderr: late ticks inside the window (sum of the worker's once-a-second
    TICKS_LATE, each > 5 ms late or skipped) and the tick percentiles since start as last logged
    before the window's end (the Supervisor logs them when they change)."""
    late, pct = 0, {}
    lo, hi = window_ms[0] / 1000.0, window_ms[1] / 1000.0 + 1.0  # a summary covers the past second
    with open(os.path.join(tmp, "anchord.stderr")) as f:
        for line in f:
            m = re.match(r"(\d+\.\d+) anchord .*media worker dropped.*TICKS_LATE=(\d+)", line)
            if m and lo + 1.0 <= float(m.group(1)) <= hi:
                late += int(m.group(2))
            m = re.match(r"(\d+\.\d+) anchord .*media tick percentiles changed (.*)", line)
            if m and float(m.group(1)) <= hi:
                fields = dict(kv.split("=", 1) for kv in m.group(2).split() if "=" in kv)
                pct = {k.lower(): int(v) for k, v in fields.items() if k.startswith("TICK")}
    return late, pct


def jitter_drops(tmp, window_ms):
    """From anchord's stderr: packets its jitter buffers dropped inside the window (the
    worker's once-a-second RTP_LATE = arrived after their playout time, JITTER_DROPPED =
    dropped to keep the delay bounded or duplicates); absent in builds before 2026-11-21 pm."""
    sums = {"rtp_late": 0, "jitter_dropped": 0}
    lo, hi = window_ms[0] / 1000.0 + 1.0, window_ms[1] / 1000.0 + 1.0
    with open(os.path.join(tmp, "anchord.stderr")) as f:
        for line in f:
            m = re.match(r"(\d+\.\d+) anchord .*media worker dropped.*RTP_LATE=(\d+) "
                         r"JITTER_DROPPED=(\d+)", line)
            if m and lo <= float(m.group(1)) <= hi:
                sums["rtp_late"] += int(m.group(2))
                sums["jitter_dropped"] += int(m.group(3))
    return sums


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def busiest_tid(pid):
    """The thread with the most CPU time since start (anchord: the media worker under load)."""
    best, best_ns = pid, -1
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
        except OSError:
            continue
        if ns > best_ns:
            best, best_ns = int(tid), ns
    return best


def start_perf(args, proc):
    """perf on the whole server process, on CLOCK_MONOTONIC so the window can be cut out later."""
    if not args.perf:
        return None
    return subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(args.perf_hz),
                             "-g", "-k", "CLOCK_MONOTONIC", "-p", str(proc.pid), "-o", args.perf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_perf(perf, result, tid):
    """Stops perf and notes how to read only the worker inside the window."""
    perf.send_signal(signal.SIGINT)
    perf.wait(timeout=60)
    lo, hi = (ms / 1000.0 for ms in result["window_mono_ms"])
    result["perf_report"] = ("perf report -i %s --tid %d --time %.3f,%.3f --no-children "
                             "--sort dso,symbol --percent-limit 1 --stdio" % (
                                 perf.args[-1], tid, lo, hi))


def run_one(args, variant, calls):
    target = "anchord" if variant in ANCHORD_VARIANTS else variant
    with tempfile.TemporaryDirectory(prefix="rtpl-") as tmp:
        if target == "anchord":
            proc, server = start_anchord(args, calls, tmp, variant)
        else:
            proc, server = start_rtpengine(args, calls, tmp)
        perf = start_perf(args, proc)
        try:
            if target == "anchord":
                time.sleep(0.3)  # let the first heartbeats go out before the RSS baseline
            positions = calls + spare_positions(calls) if target == "anchord" else calls
            gen = subprocess.run(
                [args.rtp_load, "--target", target, "--server", server, "--pid", str(proc.pid),
                 "--calls", str(calls), "--positions", str(positions), "--warmup-s",
                 str(args.warmup_s), "--measure-s", str(args.measure_s), "--sip-port",
                 str(GEN_SIP_PORT), "--cps", str(args.cps)],
                capture_output=True, text=True, preexec_fn=raise_nofile,
                timeout=args.warmup_s + args.measure_s + 180)
            if gen.returncode != 0 or not gen.stdout.strip():
                return {"target": target, "variant": variant, "calls": calls,
                        "setup_failed": True, "stderr": gen.stderr[-2000:]}
            result = json.loads(gen.stdout.strip().splitlines()[-1])
            result["variant"] = variant
            if target == "anchord":
                result["ticks_late"], result["tick_pct"] = tick_stats(tmp, result["window_mono_ms"])
                result["jitter_drops"] = jitter_drops(tmp, result["window_mono_ms"])
            result["server_alive"] = proc.poll() is None
            if perf:
                stop_perf(perf, result, busiest_tid(proc.pid))
                perf = None
            return result
        finally:
            if perf:
                perf.send_signal(signal.SIGINT)
                perf.wait(timeout=60)
            stop(proc)
            if args.keep_logs:  # the server's stderr, for its once-a-second drop summaries
                os.makedirs(args.keep_logs, exist_ok=True)
                shutil.copy(os.path.join(tmp, target + ".stderr"), os.path.join(
                    args.keep_logs, "%s-%d-%d.stderr" % (variant, calls, int(time.time()))))


def passed(r):
    """0 loss: every packet sent in the window came out of the server, every stream heard."""
    if r.get("setup_failed") or not r.get("server_alive", False):
        return False
    return r["lost"] == 0 and r["silent_streams"] == 0


def tick_ok(r):
    """anchord's tick lateness p99 < 5 ms over the window: at most 1 % of the window's ticks were
    counted late (the worker counts a tick > 5 ms after its deadline, or skipped, as late)."""
    return r.get("ticks_late", 0) <= 0.01 * r.get("window_s", 0) * 50


def median(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def latency(runs, q):
    return statistics.median([r["latency_ms"][q] for r in runs] or [float("nan")])


def pct(r, key):
    return str(r.get("tick_pct", {}).get(key, "-"))


def print_table(summary):
    print("\n| N | server | 0 loss | tick ok | server µs/pkt | worker µs/pkt | server CPU % | lost | "
          "fill | ticks late | tick late p99 µs | tick work p99 µs | latency p50/p99 ms | "
          "RSS/call KiB | generator CPU % |")
    print("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for calls, t, ok, good in summary:
        anchord = t.startswith("anchord")
        print("| %d | %s | %s | %s | %.2f | %.2f | %.1f | %s | %s | %s | %s | %s | %.1f / %.1f | "
              "%.1f | %.1f |" % (
                  calls, t, "yes" if ok else "NO",
                  "/".join("yes" if r["tick_ok"] else "no" for r in good) if anchord else "-",
                  median(good, "server_us_per_pkt"),
                  median(good, "worker_us_per_pkt"), median(good, "server_cpu_pct"),
                  "/".join(str(r["lost"]) for r in good), "/".join(str(r["fill"]) for r in good),
                  "/".join(str(r.get("ticks_late", "-")) for r in good),
                  "/".join(pct(r, "tick_late_p99_us") for r in good) if anchord else "-",
                  "/".join(pct(r, "tick_work_p99_us") for r in good) if anchord else "-",
                  latency(good, "p50"), latency(good, "p99"),
                  median(good, "rss_per_call_kb"), median(good, "gen_cpu_pct")))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(here, "..", "..", "build-rtpl", "bin")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--anchord", default=os.path.join(build, "anchord"))
    p.add_argument("--rtp-load", default=os.path.join(build, "rtp_load"))
    p.add_argument("--rtpengine", default="/usr/bin/rtpengine")
    p.add_argument("--steps", default="100,200,400,800,1200,1600,2000,2500,3000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup-s", type=float, default=5)
    p.add_argument("--measure-s", type=float, default=20)
    p.add_argument("--cps", type=int, default=200)
    p.add_argument("--targets", default="anchord,rtpengine",
                   help="comma list of rtpengine and anchord variants: " +
                        ", ".join(ANCHORD_VARIANTS))
    p.add_argument("--max-fails", type=int, default=2)
    p.add_argument("--out", default="rtp_load_results.jsonl")
    p.add_argument("--perf", default="",
                   help="perf.data path: record every run (cpu-clock, -g; perturbs the figures, "
                        "so use a separate run); each JSON line then says how to report the "
                        "worker's window")
    p.add_argument("--perf-hz", type=int, default=2000)
    p.add_argument("--keep-logs", default="", help="copy each server's stderr into this folder")
    p.add_argument("--budget-s", type=float, default=1500,
                   help="start no new step after this many seconds (bounds the whole run)")
    args = p.parse_args()

    targets = args.targets.split(",")
    climbing = set(targets)
    fails = {t: 0 for t in targets}
    summary = []
    with open(args.out, "a") as out:
        started = time.monotonic()
        for calls in [int(s) for s in args.steps.split(",")]:
            if time.monotonic() - started > args.budget_s:
                print("budget of %.0f s used: no more steps" % args.budget_s, flush=True)
                break
            runs = {t: [] for t in targets}
            for rep in range(args.repeats):
                order = targets if rep % 2 == 0 else list(reversed(targets))
                for t in order:
                    if t not in climbing:
                        continue
                    r = run_one(args, t, calls)
                    r["rep"] = rep
                    r["pass"] = passed(r)
                    r["tick_ok"] = tick_ok(r)
                    out.write(json.dumps(r) + "\n")
                    out.flush()
                    print("N=%d %s rep %d: %s" % (calls, t, rep, json.dumps(r)), flush=True)
                    runs[t].append(r)
            for t in targets:
                if not runs[t]:
                    continue
                ok = all(r["pass"] for r in runs[t])
                good = [r for r in runs[t] if not r.get("setup_failed")]
                summary.append((calls, t, ok, good))
                fails[t] = 0 if ok else fails[t] + 1
                if fails[t] >= args.max_fails or any(r.get("setup_failed") for r in runs[t]):
                    climbing.discard(t)
            if not climbing:
                break
    print_table(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
