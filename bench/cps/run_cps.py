#!/usr/bin/env python3
"""Call-setup-rate benchmark of anchord (issue 3): sipp caller -> anchord -> sipp positions.

Phases (each a fresh anchord and fresh sipp positions, so osip's lingering transactions of one
phase never load the next):
  ramp     RATES cps for STEP (40) seconds each, stopping after the first failing step; a step
           passes with 0 failed calls, every call created on time and p99 setup < 50 ms
  sustain  SUSTAIN seconds at 1000 cps, or at the highest passing ramp rate if 1000 failed
  soak     SOAK_CALLS calls at that rate (stopped after SOAK_MAX seconds whatever happens):
           anchord's VmRSS, sampled every second, must stay within 5 % of its value once osip's
           32 s timer J has filled (see rss_growth())
  profile  `perf record -g` of anchord for a fixed run at --profile-rate (optional)
Everything is bounded: sipp gets -m, -timeout, -recv_timeout; every wait has a deadline.

Python 3 standard library only; needs sipp (Debian sip-tester) and, for --profile, perf.
Prints one line per phase and writes DIR/summary.json plus per-phase time series.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL = "127.0.0.1"
SIP_PORT = 5190  # anchord; peers below. Chosen away from tests/integration's ports.
CALLER_PORT, CALLER_MEDIA = 17000, 17100
UAS_PORT, UAS_MEDIA = 17010, 17200
MEDIA_MIN, MEDIA_MAX = 44000, 51999  # 4 ports per call: room for 2,000 calls in flight
CLK_TCK = os.sysconf("SC_CLK_TCK")
P99_LIMIT_MS = 50
NICE = 0  # --nice: priority of every process this script starts (the machine is shared)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def die_with_parent():
    if NICE:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(argv, cwd, name):
    out = open(os.path.join(cwd, f"{name}.out"), "wb")
    err = open(os.path.join(cwd, f"{name}.err"), "wb")
    return subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            start_new_session=True, preexec_fn=die_with_parent)


def stop(p, grace=3.0):
    """SIGTERM, then SIGKILL, to the process group of one child we started."""
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------------
# /proc sampling


def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError):
        return None


def thread_cpu_s(pid):
    """{tid: (comm, cpu seconds)} for every thread of pid."""
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
            fields = tail.split()
            out[int(os.path.basename(task))] = (head.split("(", 1)[1],
                                                (int(fields[11]) + int(fields[12])) / CLK_TCK)
        except (OSError, IndexError, ValueError):
            pass
    return out


def vm_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_busy_s():
    """CPU seconds spent busy by the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / CLK_TCK


class Sampler(threading.Thread):
    """Every second: anchord's VmRSS and CPU, every peer's CPU, the machine's busy time."""

    def __init__(self, anchord_pid, peers):
        super().__init__(daemon=True)
        self.anchord_pid, self.peers = anchord_pid, peers
        self.rows = []
        self.halt = threading.Event()

    def sample(self):
        row = {"t": time.monotonic(), "rss_kib": vm_rss_kib(self.anchord_pid),
               "anchord_cpu_s": proc_cpu_s(self.anchord_pid),
               "threads": thread_cpu_s(self.anchord_pid), "busy_s": machine_busy_s()}
        for name, p in self.peers.items():
            row[name] = proc_cpu_s(p.pid)
        self.rows.append(row)
        return row

    def run(self):
        while not self.halt.wait(1.0):
            self.sample()


# ---------------------------------------------------------------------------------------------
# One load run: anchord + positions + caller


def write_config(path, args):
    lines = ["[sip]", f'listen = ["udp:{LOCAL}:{SIP_PORT}"]', "",
             "[media]", f'address = "{LOCAL}"', f"port_min = {MEDIA_MIN}",
             f"port_max = {MEDIA_MAX}", "", "[failover]",
             f"heartbeat_ms = {args.heartbeat_ms}", "misses = 3",
             # sipp positions send no RTP; a short call must not be taken for a dead position.
             "rtp_timeout_ms = 60000", "", "[log]", f'level = "{args.log_level}"', ""]
    for i in range(args.positions):
        port = UAS_PORT + i % args.uas
        lines += ["[[positions]]", f'name = "p{i:03d}"', f'uri = "sip:p{i:03d}@{LOCAL}:{port}"',
                  f'location = "{args.location}"', ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def count_in_file(path, needle):
    try:
        with open(path, "rb") as f:
            return f.read().count(needle.encode())
    except OSError:
        return 0


def wait_positions_up(d, anchord, n, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if anchord.poll() is not None:
            raise RuntimeError(f"anchord exited with {anchord.returncode}; see {d}/anchord.err")
        if count_in_file(os.path.join(d, "anchord.err"), "position up") >= n:
            return
        time.sleep(0.1)
    raise RuntimeError(f"not all {n} positions up within {timeout}s; see {d}/anchord.err")


def start_system(d, args, wrap=None):
    """anchord (optionally under `wrap`, e.g. valgrind) and the sipp positions, all up."""
    write_config(os.path.join(d, "anchord.toml"), args)
    argv = (wrap or []) + [args.anchord, "--config", os.path.join(d, "anchord.toml")]
    anchord = spawn(argv, d, "anchord")
    uas = {}
    for i in range(args.uas):
        uas[f"uas{i}"] = spawn(
            ["sipp", "-sf", os.path.join(HERE, "position.xml"), "-i", LOCAL,
             "-p", str(UAS_PORT + i), "-mp", str(UAS_MEDIA + 10 * i), "-aa", "-nostdin",
             "-timeout", str(args.max_phase_s + 120), "-trace_stat", "-fd", "1",
             "-trace_err", "-max_log_size", "1000000"], d, f"uas{i}")
    wait_positions_up(d, anchord, args.positions, 30 * (10 if wrap else 1))
    return anchord, uas


def wait_caller(p, deadline):
    """Reaps the caller; returns (exit code, its CPU seconds from rusage)."""
    while time.monotonic() < deadline:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru.ru_utime + ru.ru_stime
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime + ru.ru_stime


def last_stats(d, prefix):
    """The last line of each sipp -trace_stat file PREFIX_<pid>_.csv as {column: value}."""
    out = []
    for path in sorted(glob.glob(os.path.join(d, f"{prefix}_*_.csv"))):
        with open(path) as f:
            rows = [l.rstrip("\n").split(";") for l in f if l.strip()]
        out.append(dict(zip(rows[0], rows[-1])) if len(rows) > 1 else {})
    return out


def setup_times_ms(d):
    out = []
    for path in glob.glob(os.path.join(d, "caller_*_rtt.csv")):
        with open(path) as f:
            next(f, None)
            out += [float(l.split(";")[1]) for l in f if l.count(";") >= 2]
    return sorted(out)


def pct(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def caller_argv(d, rate, calls, args, max_s, timeout_error):
    argv = ["sipp", "-sf", os.path.join(HERE, "caller.xml"), "-i", LOCAL, "-p", str(CALLER_PORT),
            "-mp", str(CALLER_MEDIA), "-r", str(rate), "-rp", "1000", "-m", str(calls),
            "-l", str(max(1000, 10 * rate)), "-d", str(args.hold_ms), "-recv_timeout", "5000",
            "-timeout", str(int(max_s)), "-nostdin", "-trace_stat", "-fd", "1", "-trace_rtt",
            "-rtt_freq", "1", "-trace_err", "-max_log_size", "1000000"]
    if timeout_error:
        argv.append("-timeout_error")
    return argv + [f"{LOCAL}:{SIP_PORT}"]


def start_perf(d, pid, seconds, delay):
    """perf record of anchord for `seconds`, starting `delay` s into the load (steady state)."""
    perf = ["perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph", "dwarf,16384",
            "-p", str(pid), "-o", os.path.join(d, "perf.data"), "--", "sleep", str(seconds)]
    return spawn(["bash", "-c", f"sleep {delay}; exec " + " ".join(perf)], d, "perf")


def run_load(name, rate, calls, args, max_s=None, perf_s=None, wrap=None, partial_ok=False):
    """One phase: fresh anchord + positions, `calls` calls at `rate` cps; returns its figures."""
    d = os.path.join(args.out, name)
    os.makedirs(d, exist_ok=True)
    duration = calls / rate
    max_s = max_s or duration + 40
    anchord, uas, caller, perf, sampler = None, {}, None, None, None
    try:
        anchord, uas = start_system(d, args, wrap)
        sampler = Sampler(anchord.pid, uas)
        s0 = sampler.sample()
        sampler.start()
        caller = spawn(caller_argv(d, rate, calls, args, max_s, not partial_ok), d, "caller")
        if perf_s:
            perf = start_perf(d, anchord.pid, perf_s, args.profile_delay_s)
        rc, caller_cpu = wait_caller(caller, time.monotonic() + max_s + 30)
        s1 = sampler.sample()
        time.sleep(1.5)  # the positions' -fd 1 statistics catch up
        uas_stats = last_stats(d, "position")
        if perf:
            perf.wait(timeout=perf_s + args.profile_delay_s + 60)
    finally:
        if sampler:
            sampler.halt.set()
        for p in [caller, perf] + list(uas.values()):
            stop(p)
        stop(anchord, grace=60 if wrap else 5)
    r = figures(d, rate, calls, rc, caller_cpu, s0, s1, sampler.rows, uas_stats, anchord)
    with open(os.path.join(d, "samples.json"), "w") as f:
        json.dump(sampler.rows, f, default=str)
    r["name"] = name
    log(summary_line(r))
    return r


def cpu_pct(s0, s1, key):
    a, b = s0.get(key), s1.get(key)
    return None if a is None or b is None else round(100 * (b - a) / (s1["t"] - s0["t"]), 1)


def thread_pct(s0, s1, tid):
    a, b = s0["threads"].get(tid), s1["threads"].get(tid)
    return None if not a or not b else round(100 * (b[1] - a[1]) / (s1["t"] - s0["t"]), 1)


def figures(d, rate, calls, rc, caller_cpu, s0, s1, rows, uas_stats, anchord):
    st = (last_stats(d, "caller") or [{}])[0]
    times = setup_times_ms(d)
    wall = s1["t"] - s0["t"]
    pid = anchord.pid
    uas_pct = sum(cpu_pct(s0, s1, k) or 0 for k in s0 if k.startswith("uas"))
    r = {"rate": rate, "calls": calls, "sipp_rc": rc, "wall_s": round(wall, 1),
         "created": int(st.get("TotalCallCreated", 0)),
         "successful": int(st.get("SuccessfulCall(C)", 0)),
         "failed": int(st.get("FailedCall(C)", 0)),
         "retransmissions": int(st.get("Retransmissions(C)", 0)),
         "out_of_call": int(st.get("OutOfCallMsgs(C)", 0)),
         "position_failed": sum(int(u.get("FailedCall(C)", 0)) for u in uas_stats),
         "setup_samples": len(times), "p50_ms": pct(times, 0.50), "p90_ms": pct(times, 0.90),
         "p99_ms": pct(times, 0.99), "max_ms": times[-1] if times else None,
         "anchord_cpu_pct": cpu_pct(s0, s1, "anchord_cpu_s"),
         "signaling_thread_pct": thread_pct(s0, s1, pid),
         "other_threads_pct": None, "caller_cpu_pct": round(100 * caller_cpu / wall, 1),
         "positions_cpu_pct": round(uas_pct, 1),
         "machine_busy_pct": round(100 * (s1["busy_s"] - s0["busy_s"]) / wall, 1),
         "rss_start_kib": s0["rss_kib"], "rss_end_kib": s1["rss_kib"],
         "rss_max_kib": max((x["rss_kib"] or 0) for x in rows + [s1]),
         "anchord_exit": anchord.returncode,
         "log_warnings": count_in_file(os.path.join(d, "anchord.err"), " warning "),
         "log_486": count_in_file(os.path.join(d, "anchord.err"), "rejected with 486"),
         # positions send no RTP and rtp_timeout_ms is 60 s: any such line is a false alarm
         "false_rtp_timeouts": count_in_file(os.path.join(d, "anchord.err"),
                                             "no RTP from the position")}
    if r["anchord_cpu_pct"] is not None and r["signaling_thread_pct"] is not None:
        r["other_threads_pct"] = round(r["anchord_cpu_pct"] - r["signaling_thread_pct"], 1)
    r["others_on_machine_pct"] = round(r["machine_busy_pct"] - (r["anchord_cpu_pct"] or 0) -
                                       r["caller_cpu_pct"] - r["positions_cpu_pct"], 1)
    r["passed"] = (r["failed"] == 0 and r["successful"] == calls and r["position_failed"] == 0
                   and r["p99_ms"] is not None and r["p99_ms"] < P99_LIMIT_MS)
    r["rss_growth_pct"] = rss_growth(rows + [s1], s0["t"])
    r["rss_growth_2nd_half_pct"] = rss_growth(rows + [s1], s0["t"], (s1["t"] - s0["t"]) / 2)
    return r


def rss_growth(rows, t0, warm_up_s=40):
    """Largest VmRSS after warm-up relative to VmRSS at warm-up, in %. Warm-up ends 40 s in:
    osip keeps each completed server transaction 32 s (timer J, UDP), so the live transaction
    count (and the memory it holds) only stops rising after 32 s at a steady rate. The soak also
    reports it from half-time on (malloc's arenas keep growing for a while after that)."""
    late = [x for x in rows if x["t"] - t0 >= warm_up_s and x["rss_kib"]]
    if len(late) < 2:
        return None
    base = late[0]["rss_kib"]
    return round(100 * (max(x["rss_kib"] for x in late) - base) / base, 2)


def summary_line(r):
    return (f"{r['name']}: {r['rate']} cps x {r['calls']}: created {r['created']}, ok "
            f"{r['successful']}, failed {r['failed']} (positions {r['position_failed']}), "
            f"setup p50 {r['p50_ms']} p99 {r['p99_ms']} max {r['max_ms']} ms, anchord "
            f"{r['anchord_cpu_pct']}% (signaling {r['signaling_thread_pct']}%), caller "
            f"{r['caller_cpu_pct']}%, positions {r['positions_cpu_pct']}%, machine "
            f"{r['machine_busy_pct']}%/200, RSS {r['rss_start_kib']}->{r['rss_end_kib']} KiB "
            f"(max {r['rss_max_kib']}, growth after 40 s {r['rss_growth_pct']}%), retrans "
            f"{r['retransmissions']}, 486s {r['log_486']}, false RTP timeouts {r['false_rtp_timeouts']}"
            f" -> {'PASS' if r['passed'] else 'FAIL'}")


# ---------------------------------------------------------------------------------------------
# Phases


def ramp(args, results):
    best = None
    for rate in args.rates:
        r = run_load(f"ramp_{rate}", rate, int(rate * args.step_s), args)
        results.append(r)
        if not r["passed"]:
            return best, rate
        best = rate
    return best, None


def refine(args, results, best, first_fail):
    """Bisects between the best passing and the first failing rate, --refine times (to 10 cps)."""
    lo, hi = best or 0, first_fail
    for _ in range(args.refine):
        mid = (lo + hi) // 2 // 10 * 10
        if mid <= lo or mid >= hi:
            break
        r = run_load(f"ramp_{mid}", mid, int(mid * args.step_s), args)
        results.append(r)
        lo, hi = (mid, hi) if r["passed"] else (lo, mid)
    return lo or None


def sustain(args, results, best):
    """60 s at 1000 cps, or at the best ramp rate; one retry at 3/4 of it if that fails."""
    rate = 1000 if best and best >= 1000 else best
    for attempt in range(2):
        r = run_load(f"sustain_{rate}", rate, int(rate * args.sustain_s), args)
        results.append(r)
        if r["passed"]:
            return rate
        rate = max(10, int(rate * 0.75) // 10 * 10)
    return None


def soak(args, results, rate):
    r = run_load(f"soak_{rate}", rate, args.soak_calls, args, max_s=args.soak_max_s,
                 partial_ok=True)
    r["rss_flat"] = r["rss_growth_pct"] is not None and r["rss_growth_pct"] <= 5.0
    log(f"soak: {r['successful']} calls, RSS growth after 40 s {r['rss_growth_pct']}% -> "
        f"{'flat' if r['rss_flat'] else 'NOT flat'}; over the second half "
        f"{r['rss_growth_2nd_half_pct']}%")
    results.append(r)


def profile(args, results):
    """perf record (cpu-clock, DWARF call graphs) of anchord over a fixed run."""
    rate, seconds = args.profile_rate, args.profile_s
    total_s = seconds + args.profile_delay_s + 2
    r = run_load(f"profile_{rate}", rate, rate * total_s, args, perf_s=seconds)
    results.append(r)
    d = os.path.join(args.out, r["name"])
    for sort, fname in (("symbol", "perf_self.txt"), ("dso", "perf_dso.txt")):
        with open(os.path.join(d, fname), "w") as f:
            subprocess.run(["perf", "report", "-i", os.path.join(d, "perf.data"), "--stdio",
                            "--no-children", "--sort", sort, "-g", "none", "--percent-limit",
                            "0.3"], stdout=f, stderr=subprocess.DEVNULL, timeout=600)
    with open(os.path.join(d, "perf_children.txt"), "w") as f:
        subprocess.run(["perf", "report", "-i", os.path.join(d, "perf.data"), "--stdio",
                        "--children", "--sort", "symbol", "-g", "none", "--percent-limit", "1"],
                       stdout=f, stderr=subprocess.DEVNULL, timeout=600)
    log(f"perf reports in {d}/perf_self.txt, perf_children.txt, perf_dso.txt")


def callgrind(args, results):
    """A fixed, repeatable run under valgrind's callgrind (instruction counts)."""
    rate, calls = args.callgrind_rate, args.callgrind_calls
    d = os.path.join(args.out, f"callgrind_{rate}")
    out = os.path.join(d, "callgrind.out")
    wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    r = run_load(f"callgrind_{rate}", rate, calls, args, wrap=wrap)
    results.append(r)
    for flag, fname in (("--inclusive=no", "callgrind_self.txt"),
                        ("--inclusive=yes", "callgrind_incl.txt")):
        with open(os.path.join(d, fname), "w") as f:
            subprocess.run(["callgrind_annotate", flag, "--threshold=99", out], stdout=f,
                           stderr=subprocess.DEVNULL, timeout=600)
    log(f"callgrind reports in {d}/callgrind_self.txt, callgrind_incl.txt")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anchord", default=os.path.join(HERE, "../../build-cps/bin/anchord"))
    ap.add_argument("--out", help="result dir (default: a new /tmp/anchord-cps-* dir)")
    ap.add_argument("--phases", default="ramp,sustain,soak",
                    help="comma list of ramp,sustain,soak,profile,callgrind")
    ap.add_argument("--rates", default="50,70,100,140,200,400,700,1000")
    ap.add_argument("--step-s", type=float, default=40,
                    help="ramp step length; under 32 s (osip timer J) misses the steady state")
    ap.add_argument("--refine", type=int, default=1, help="bisection steps after the ramp")
    ap.add_argument("--rate", type=int, help="skip the ramp: sustain/soak at this rate")
    ap.add_argument("--sustain-s", type=float, default=60)
    ap.add_argument("--soak-calls", type=int, default=100000)
    ap.add_argument("--soak-max-s", type=float, default=600)
    ap.add_argument("--profile-rate", type=int, default=400)
    ap.add_argument("--profile-s", type=int, default=20, help="seconds recorded")
    ap.add_argument("--profile-delay-s", type=int, default=35,
                    help="load before recording starts (osip's timer J fills in 32 s)")
    ap.add_argument("--callgrind-rate", type=int, default=50)
    ap.add_argument("--callgrind-calls", type=int, default=2000)
    ap.add_argument("--positions", type=int, default=64)
    ap.add_argument("--uas", type=int, default=2, help="sipp position processes (1-4)")
    ap.add_argument("--hold-ms", type=int, default=0, help="caller's pause between ACK and BYE")
    ap.add_argument("--location", default="multipart", choices=["multipart", "none"])
    ap.add_argument("--heartbeat-ms", type=int, default=1000)
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of anchord and sipp (e.g. -10 on a machine shared with builds)")
    args = ap.parse_args()
    args.rates = [int(x) for x in args.rates.split(",")]
    args.phases = args.phases.split(",")
    args.max_phase_s = max(args.soak_max_s, args.sustain_s, args.step_s) + 60
    args.anchord = os.path.abspath(args.anchord)
    args.out = args.out or tempfile.mkdtemp(prefix="anchord-cps-")
    os.makedirs(args.out, exist_ok=True)
    return args


def main():
    global NICE
    args = parse_args()
    NICE = args.nice
    if not os.access(args.anchord, os.X_OK) or not shutil.which("sipp"):
        sys.exit(f"need {args.anchord} (build the anchord target) and sipp (sip-tester)")
    log(f"results in {args.out}; {args.positions} positions ({args.location}) on {args.uas} "
        f"sipp processes, hold {args.hold_ms} ms, heartbeat {args.heartbeat_ms} ms, nice "
        f"{args.nice}")
    results, best = [], args.rate
    try:
        if "ramp" in args.phases and not args.rate:
            best, first_fail = ramp(args, results)
            if first_fail and args.refine:
                best = refine(args, results, best, first_fail)
            log(f"highest passing ramp rate: {best} cps")
        if "sustain" in args.phases and best:
            best = sustain(args, results, best)
            log(f"sustained rate: {best} cps")
        if "soak" in args.phases and best:
            soak(args, results, best)
        if "profile" in args.phases:
            profile(args, results)
        if "callgrind" in args.phases:
            callgrind(args, results)
    finally:
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "results": results}, f,
                      indent=1)
        print_table(results)


def print_table(results):
    print("\n| phase | rate cps | calls ok / target | failed | setup p50 ms | p99 ms | max ms |"
          " anchord CPU % (signaling thread) | caller sipp CPU % | positions sipp CPU % |"
          " machine busy % of 200 | RSS start → end MiB | pass |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['name']} | {r['rate']} | {r['successful']} / {r['calls']} | "
              f"{r['failed'] + r['position_failed']} | {r['p50_ms']} | {r['p99_ms']} | "
              f"{r['max_ms']} | {r['anchord_cpu_pct']} ({r['signaling_thread_pct']}) | "
              f"{r['caller_cpu_pct']} | {r['positions_cpu_pct']} | {r['machine_busy_pct']} | "
              f"{r['rss_start_kib'] / 1024:.1f} → {r['rss_end_kib'] / 1024:.1f} | "
              f"{'yes' if r['passed'] else 'no'} |")


if __name__ == "__main__":
    main()
