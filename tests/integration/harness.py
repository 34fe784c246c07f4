"""Shared pieces of the anchord integration tests (Python 3 standard library only).

Everything runs on 127.0.0.1. Every process a test starts is put in its own process
group and killed in Env.cleanup(), whatever happened. Waits are polls with deadlines.

Pieces:
  Env            temp dir, process registry, check()/fail(), cleanup
  Anchord        the daemon: config file, NOTIFY_SOCKET readiness, stderr log polling
  sipp()         start a sipp scenario from scenarios/*.xml
  Baresip        a baresip position (auto-answer, tone source, sndfile recording)
  Capture        AF_PACKET capture on lo of UDP/TCP packets to given ports
  audio helpers  mu-law decoding, Goertzel tone detection per 20 ms window, WAV reading
"""

import argparse
import array
import ctypes
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
LOCAL = "127.0.0.1"


class TestFailure(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Processes and the test environment


_libc = None


def _die_with_parent():
    """preexec_fn: SIGKILL the child if the test process dies (even by SIGKILL from a
    ctest TIMEOUT), so no peer or daemon outlives its test."""
    global _libc
    try:
        import ctypes
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    def __init__(self, name, argv, cwd, env=None, stdout_path=None, stderr_path=None,
                 stderr_pipe=False):
        self.name = name
        self.argv = argv
        self.stdout_path = stdout_path or os.path.join(cwd, f"{name}.out")
        self.stderr_path = stderr_path or os.path.join(cwd, f"{name}.err")
        self._out = open(self.stdout_path, "wb")
        self._err = None if stderr_pipe else open(self.stderr_path, "wb")
        self.p = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=subprocess.PIPE if stderr_pipe else self._err,
            start_new_session=True,  # own process group: killpg in cleanup
            preexec_fn=_die_with_parent)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"{self.name} did not exit within {timeout:.1f}s")

    def signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self, grace=2.0):
        """SIGTERM, then SIGKILL after `grace` seconds, to the whole process group."""
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The group may hold children even after the leader exited.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self._out, self._err):
            if f:
                f.close()

    def text(self, which="stdout"):
        path = self.stdout_path if which == "stdout" else self.stderr_path
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class Env:
    def __init__(self, name, anchord_path, keep=False):
        self.name = name
        self.anchord_path = anchord_path
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix=f"anchord-it-{name}-")
        self.procs = []
        self.cleanups = []
        self.failures = []

    def spawn(self, name, argv, **kw):
        log(f"start {name}: {' '.join(argv)}")
        p = Proc(name, argv, self.dir, **kw)
        self.procs.append(p)
        return p

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def check(self, cond, msg):
        """Records a failure (does not stop the test) and prints the outcome."""
        if cond:
            log(f"ok: {msg}")
        else:
            log(f"FAIL: {msg}")
            self.failures.append(msg)
        return cond

    def require(self, cond, msg):
        """Like check(), but stops the test."""
        if not self.check(cond, msg):
            raise TestFailure(msg)

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # cleanup must go on
                log(f"cleanup error: {e!r}")
        for p in reversed(self.procs):
            p.kill()
        if not self.keep and not self.failures:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log(f"artifacts kept in {self.dir}")

    def tone_file(self, freq, seconds=30):
        """Raw mu-law 8 kHz tone (no header), as sipp's rtp_stream wants it."""
        path = self.path(f"tone{freq}.pcmu")
        if not os.path.exists(path):
            subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw",
                            path, "synth", str(seconds), "sine", str(freq), "vol", "0.5"],
                           check=True, timeout=30)
        return path


def main(test_fn, name):
    """Entry point of every test script: parses --anchord/--keep, runs test_fn(env)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--anchord", required=True, help="path of the anchord binary")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    env = Env(name, os.path.abspath(args.anchord), keep=args.keep)
    log(f"test {name}: work dir {env.dir}")

    def on_term(signum, _frame):
        raise TestFailure(f"terminated by signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ok = False
    try:
        test_fn(env)
        ok = not env.failures
    except TestFailure as e:
        if str(e) not in env.failures:
            env.failures.append(str(e))
            log(f"FAIL: {e}")
    except Exception:
        traceback.print_exc()
        env.failures.append("exception")
    finally:
        env.cleanup()
    if ok:
        log(f"PASS {name}")
        sys.exit(0)
    log(f"FAILED {name}: " + "; ".join(env.failures))
    sys.exit(1)


# ---------------------------------------------------------------------------
# anchord


def position(name, port, standby=None, location="none", user=None):
    return {"name": name, "uri": f"sip:{user or name}@{LOCAL}:{port}", "standby": standby,
            "location": location}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def anchord_config(sip_port, rtp_min, rtp_max, positions, heartbeat_ms=100, misses=3,
                   rtp_timeout_ms=300, ring_timeout_ms=15000, tcp=True, control_listen="",
                   queue_max_calls=None, queue_max_wait_s=None):
    """anchord's TOML. The control API is off unless `control_listen` names "IP:PORT"; the
    queue keeps anchord's defaults unless given."""
    listen = [f"udp:{LOCAL}:{sip_port}"] + ([f"tcp:{LOCAL}:{sip_port}"] if tcp else [])
    lines = ["[sip]", f"listen = {toml_value(listen)}", f"ring_timeout_ms = {ring_timeout_ms}",
             "", "[media]", f'address = "{LOCAL}"', f"port_min = {rtp_min}",
             f"port_max = {rtp_max}", "workers = 1", "", "[failover]",
             f"heartbeat_ms = {heartbeat_ms}", f"misses = {misses}",
             f"rtp_timeout_ms = {rtp_timeout_ms}", "", "[control]",
             f"listen = {toml_value(control_listen)}", ""]
    if queue_max_calls is not None or queue_max_wait_s is not None:
        lines.append("[queue]")
        if queue_max_calls is not None:
            lines.append(f"max_calls = {queue_max_calls}")
        if queue_max_wait_s is not None:
            lines.append(f"max_wait_s = {queue_max_wait_s}")
        lines.append("")
    for p in positions:
        lines.append("[[positions]]")
        for k in ("name", "uri", "standby", "location"):
            if p.get(k) is not None:
                lines.append(f"{k} = {toml_value(p[k])}")
        lines.append("")
    return "\n".join(lines)


LOG_RE = re.compile(r"^(\d+\.\d+)\s+anchord\s+(\w+)\s+\[([^\]]*)\]\s+(.*)$")


def parse_kv(message):
    return dict(re.findall(r"([A-Z][A-Z0-9_]*)=(\S+)", message))


class Anchord:
    """The daemon under test, run in the foreground with its own NOTIFY_SOCKET."""

    def __init__(self, env, config_text, name="anchord"):
        self.env = env
        self.name = name
        self.config_path = env.path(f"{name}.toml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.lines = []  # stderr lines, in order
        self.notify_msgs = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.notify_path = env.path(f"{name}.notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.1)
        self._nt = threading.Thread(target=self._drain_notify, daemon=True)
        self._nt.start()
        penv = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        self.proc = env.spawn(name, [env.anchord_path, "--config", self.config_path],
                              env=penv, stderr_pipe=True)
        self._et = threading.Thread(target=self._read_stderr, daemon=True)
        self._et.start()
        env.cleanups.append(self._close)

    def _drain_notify(self):
        # sd_notify blocks if nobody reads: drain for the whole life of the daemon.
        while not self._stop.is_set():
            try:
                data = self.notify.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.notify_msgs.extend(data.decode("utf-8", "replace").split("\n"))

    def _read_stderr(self):
        with open(self.proc.stderr_path, "wb") as f:
            for raw in iter(self.proc.p.stderr.readline, b""):
                f.write(raw)
                f.flush()
                with self._lock:
                    self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def _close(self):
        if self.proc.alive():
            self.stop()
        self._stop.set()
        self.notify.close()

    def wait_ready(self, timeout=10):
        def ready():
            if not self.proc.alive():
                raise TestFailure(f"anchord exited early (rc={self.proc.p.returncode}):\n"
                                  + "\n".join(self.lines[-20:]))
            with self._lock:
                return "READY=1" in self.notify_msgs
        wait_until(ready, timeout, what="anchord READY=1 on NOTIFY_SOCKET")
        log("anchord is ready (READY=1)")

    def mark(self):
        """Index for wait_log(since=...): only lines logged after this point."""
        with self._lock:
            return len(self.lines)

    def find_log(self, pattern, since=0):
        rx = re.compile(pattern)
        with self._lock:
            for line in self.lines[since:]:
                if rx.search(line):
                    return line
        return None

    def find_all(self, pattern, since=0):
        rx = re.compile(pattern)
        with self._lock:
            return [l for l in self.lines[since:] if rx.search(l)]

    def wait_log(self, pattern, timeout, since=0):
        def found():
            if not self.proc.alive():
                raise TestFailure(f"anchord died while waiting for /{pattern}/")
            return self.find_log(pattern, since)
        line = wait_until(found, timeout, what=f"anchord log /{pattern}/")
        log(f"anchord logged: {line}")
        return line

    def tail(self, n=30, pattern=None):
        with self._lock:
            lines = [l for l in self.lines if pattern is None or re.search(pattern, l)]
        return "\n".join(lines[-n:])

    def stop(self, timeout=5):
        """SIGTERM and wait: returns the exit code."""
        self.proc.signal(signal.SIGTERM)
        try:
            return self.proc.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"anchord did not exit within {timeout}s of SIGTERM")

    def wait_positions_up(self, names, timeout=5, since=0):
        """Waits for a heartbeat to have succeeded for each position (log 'position up')."""
        for n in names:
            self.wait_log(rf"position up\b.*POSITION={re.escape(n)}\b", timeout, since)


def start_anchord(env, config_text, name="anchord", ready_timeout=10):
    a = Anchord(env, config_text, name)
    a.wait_ready(ready_timeout)
    return a


# ---------------------------------------------------------------------------
# sipp


def sipp(env, name, scenario, remote_port=None, local_port=None, media_port=None,
         timeout_s=30, variables=None, extra=None, transport="u1"):
    """Starts sipp with scenarios/<scenario>.xml; -m 1 unless the scenario stops itself.
    Messages go to <name>.msg (-trace_msg), errors to <name>.errlog."""
    argv = ["sipp", "-sf", os.path.join(SCENARIOS, scenario + ".xml"), "-i", LOCAL,
            "-t", transport, "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-trace_msg", "-message_file", env.path(f"{name}.msg"),
            "-trace_err", "-error_file", env.path(f"{name}.errlog"),
            "-max_recv_loops", "1000"]
    if local_port:
        argv += ["-p", str(local_port)]
    if media_port:
        argv += ["-mi", LOCAL, "-mp", str(media_port)]
    for k, v in (variables or {}).items():
        argv += ["-set", k, str(v)]
    argv += extra or []
    if remote_port:
        argv.append(f"{LOCAL}:{remote_port}")
    return env.spawn(name, argv)


def sipp_wait(env, proc, timeout, expect_rc=0):
    try:
        rc = proc.p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        env.check(False, f"{proc.name} finished within {timeout}s")
        return None
    errs = ""
    try:
        with open(env.path(f"{proc.name}.errlog"), errors="replace") as f:
            errs = f.read()[-1500:]
    except OSError:
        pass
    env.check(rc == expect_rc, f"{proc.name} exit code {rc} (expected {expect_rc})"
              + (f"\n--- {proc.name} errors:\n{errs}" if rc != expect_rc else ""))
    return rc


def sipp_messages(env, name):
    """The SIP messages in a sipp -trace_msg file, as (direction, text) tuples."""
    try:
        with open(env.path(f"{name}.msg"), "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    out = []
    for block in re.split(r"\n(?=-{5,} )", data):
        m = re.match(r"-{5,} [^\n]*\n(UDP|TCP) message (sent|received)[^\n]*\n\n?(.*)", block,
                     re.S)
        if m:
            out.append((m.group(2), m.group(3)))
    return out


# ---------------------------------------------------------------------------
# baresip


class Baresip:
    """A baresip call-taker position: auto-answer, a sine tone as its microphone,
    and sndfile.so recording what it receives (WAV files in <dir>/rec)."""

    def __init__(self, env, name, port, tone, rtp_min, user=None, lifetime_s=120):
        self.env = env
        self.name = name
        self.port = port
        self.dir = env.path(f"baresip-{name}")
        self.rec = os.path.join(self.dir, "rec")
        os.makedirs(self.rec, exist_ok=True)
        conf = f"""poll_method epoll
sip_listen {LOCAL}:{port}
sip_trans_def udp
audio_player alsa,null
audio_alert alsa,null
audio_source ausine,{tone}
ausrc_srate 48000
ausrc_channels 2
audio_level no
rtp_ports {rtp_min}-{rtp_min + 19}
net_interface {LOCAL}
dns_server {LOCAL}:53
statmode_default off
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module alsa.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {self.rec}
"""
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(conf)
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"<sip:{user or name}@{LOCAL}:{port}>;regint=0;answermode=auto;"
                    "audio_codecs=pcmu,pcma\n")
        open(os.path.join(self.dir, "contacts"), "w").close()
        self.proc = env.spawn(f"baresip-{name}", ["baresip", "-f", self.dir,
                                                  "-t", str(lifetime_s)])

    def wait_ready(self, timeout=10):
        wait_until(lambda: "baresip is ready" in self.proc.text() or self._dead(), timeout,
                   what=f"baresip {self.name} ready")
        self._dead()

    def _dead(self):
        if not self.proc.alive():
            raise TestFailure(f"baresip {self.name} exited: {self.proc.text()[-800:]}")
        return False

    def call_established(self):
        t = self.proc.text()
        return "Call established" in t or "call established" in t

    def recordings(self):
        """Decoded-audio recordings (what the position heard)."""
        files = sorted(os.path.join(self.rec, f) for f in os.listdir(self.rec)
                       if f.endswith(".wav"))
        return [f for f in files if "dec" in os.path.basename(f)] or files


# ---------------------------------------------------------------------------
# Packet capture on lo

PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26


class Packet:
    __slots__ = ("t", "proto", "src", "sport", "dst", "dport", "payload")

    def __init__(self, t, proto, src, sport, dst, dport, payload):
        self.t, self.proto, self.src, self.sport = t, proto, src, sport
        self.dst, self.dport, self.payload = dst, dport, payload


class Capture:
    """Captures IPv4 UDP/TCP packets on lo whose destination port is in `ports`.
    On lo each packet is seen twice (outgoing and incoming); only the incoming copy is
    kept. Times are kernel receive timestamps (seconds, CLOCK_REALTIME)."""

    def __init__(self, ports, protos=("udp",)):
        self.ports = set(ports)
        self.protos = {"udp": 17, "tcp": 6}
        self.want = {self.protos[p] for p in protos}
        self.packets = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._filter_in_kernel()
        self.sock.bind(("lo", 0x0800))
        self.sock.settimeout(0.1)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _filter_in_kernel(self):
        """A classic BPF program on the socket keeps only unfragmented IPv4 datagrams of the
        wanted protocols to the wanted ports. Why: the socket sees all of lo, and with other
        load on lo (a benchmark's RTP, another test) this Python reader fell behind, its 8 MiB
        buffer overflowed and whole SIP exchanges were lost (cancel_before_answer failed about
        every other run). Offsets count from the IP header (SOCK_DGRAM)."""
        protos, ports = sorted(self.want), sorted(self.ports)
        frag = 1 + len(protos)           # index of the fragment check
        drop = frag + 4 + len(ports)     # the two return instructions come last
        accept = drop + 1

        def to(target, i):  # a jump offset counts from the next instruction
            return target - i - 1
        prog = [(0x30, 0, 0, 9)]  # ldb [9]: protocol
        for i, proto in enumerate(protos):  # jeq proto: on to the ports; else next, or drop
            last = i + 1 == len(protos)
            prog.append((0x15, to(frag, 1 + i), to(drop, 1 + i) if last else 0, proto))
        prog += [(0x28, 0, 0, 6),                      # ldh [6]: flags + fragment offset
                 (0x45, to(drop, frag + 1), 0, 0x1FFF),  # jset fragment offset: drop
                 (0xB1, 0, 0, 0),                      # ldxb 4*([0]&0xf): IP header length
                 (0x48, 0, 0, 2)]                      # ldh [x+2]: destination port
        prog += [(0x15, to(accept, frag + 4 + i), 0, port) for i, port in enumerate(ports)]
        prog += [(0x06, 0, 0, 0), (0x06, 0, 0, 0x40000)]  # drop: ret 0; accept: 256 KiB
        assert len(prog) == accept + 1
        buf = bytearray(b"".join(struct.pack("HBBI", *ins) for ins in prog))
        self._bpf = buf  # the kernel copies it, but keep it alive across the call anyway
        addr = (ctypes.c_char * len(buf)).from_buffer(buf)
        fprog = struct.pack("HL", len(prog), ctypes.addressof(addr))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def _run(self):
        while not self._stop.is_set():
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65600, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            t = time.time()
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    t = sec + nsec / 1e9
            if len(data) < 20 or data[0] >> 4 != 4:
                continue
            ihl = (data[0] & 15) * 4
            proto = data[9]
            if proto not in self.want:
                continue
            sport, dport = struct.unpack("!HH", data[ihl:ihl + 4])
            if dport not in self.ports:
                continue
            if proto == 17:
                payload = data[ihl + 8:]
            else:
                off = (data[ihl + 12] >> 4) * 4
                payload = data[ihl + off:]
                if not payload:
                    continue
            pkt = Packet(t, "udp" if proto == 17 else "tcp", socket.inet_ntoa(data[12:16]),
                         sport, socket.inet_ntoa(data[16:20]), dport, bytes(payload))
            with self._lock:
                self.packets.append(pkt)

    def get(self, dport=None, since=None):
        with self._lock:
            return [p for p in self.packets
                    if (dport is None or p.dport == dport) and (since is None or p.t >= since)]

    def stop(self):
        self._stop.set()
        self._t.join(timeout=2)
        self.sock.close()


def start_capture(env, ports, protos=("udp",)):
    c = Capture(ports, protos)
    env.cleanups.append(c.stop)
    return c


# ---------------------------------------------------------------------------
# RTP and audio


class Rtp:
    __slots__ = ("t", "pt", "seq", "ts", "ssrc", "marker", "payload", "sport")


def parse_rtp(pkt):
    d = pkt.payload
    if len(d) < 12 or d[0] >> 6 != 2:
        return None
    cc = d[0] & 15
    off = 12 + 4 * cc
    if d[0] & 0x10:  # header extension
        if len(d) < off + 4:
            return None
        off += 4 + 4 * struct.unpack("!H", d[off + 2:off + 4])[0]
    payload = d[off:]
    if d[0] & 0x20 and payload:  # padding
        payload = payload[:-payload[-1]]
    r = Rtp()
    r.t, r.sport = pkt.t, pkt.sport
    r.marker = bool(d[1] & 0x80)
    r.pt = d[1] & 0x7F
    r.seq, r.ts, r.ssrc = struct.unpack("!HII", d[2:12])
    r.payload = payload
    return r


def rtp_stream(capture, dport):
    """RTP packets (with rtcp and garbage filtered out) to dport, by arrival time."""
    out = []
    for p in capture.get(dport):
        r = parse_rtp(p)
        if r is not None and r.pt in (0, 8):
            out.append(r)
    out.sort(key=lambda r: r.t)
    return out


def _ulaw_table():
    t = []
    for b in range(256):
        u = ~b & 0xFF
        sign = u & 0x80
        exp = (u >> 4) & 7
        mant = u & 15
        mag = ((mant << 3) + 0x84) << exp
        mag -= 0x84
        t.append(-mag if sign else mag)
    return t


def _alaw_table():
    t = []
    for b in range(256):
        a = b ^ 0x55
        sign = a & 0x80
        exp = (a >> 4) & 7
        mant = a & 15
        if exp == 0:
            mag = (mant << 4) + 8
        else:
            mag = ((mant << 4) + 0x108) << (exp - 1)
        t.append(mag if sign else -mag)
    return t


ULAW = _ulaw_table()
ALAW = _alaw_table()


def decode_g711(payload, pt):
    table = ULAW if pt == 0 else ALAW
    return [table[b] for b in payload]


def goertzel_ratio(samples, freq, rate):
    """Share (0..1) of the window's energy at `freq` (1.0 for a pure tone)."""
    n = len(samples)
    if n == 0:
        return 0.0
    w = 2.0 * math.pi * freq / rate
    coeff = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    energy = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
        energy += x * x
    if energy <= 0:
        return 0.0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return power / (n / 2.0 * energy)


def rms(samples):
    if not samples:
        return 0.0
    return math.sqrt(sum(x * x for x in samples) / len(samples))


# A 20 ms window "has" a tone when it carries at least this share of the window's
# energy and the window is not near-silent (mu-law idle noise decodes to tiny values).
TONE_SHARE = 0.25
MIN_RMS = 200.0


def tones_in(samples, freqs, rate=8000):
    if rms(samples) < MIN_RMS:
        return set()
    return {f for f in freqs if goertzel_ratio(samples, f, rate) >= TONE_SHARE}


class Window:
    __slots__ = ("t", "seq", "ts", "ssrc", "tones")


def rtp_tone_windows(packets, freqs):
    """One Window per RTP packet (20 ms of G.711), with the tones heard in it."""
    out = []
    for r in packets:
        w = Window()
        w.t, w.seq, w.ts, w.ssrc = r.t, r.seq, r.ts, r.ssrc
        w.tones = tones_in(decode_g711(r.payload, r.pt), freqs)
        out.append(w)
    return out


def longest_gap(windows, good, t_from=None, t_to=None, frame_s=0.020):
    """Longest stretch (seconds) between arrivals of consecutive `good` windows, minus
    the frame duration; stretches before t_from/after t_to are bounded by them.
    Returns (gap_s, start_t)."""
    ts = [w.t for w in windows if good(w) and (t_from is None or w.t >= t_from)
          and (t_to is None or w.t <= t_to)]
    if t_from is not None:
        ts = [t_from] + ts
    if t_to is not None:
        ts = ts + [t_to]
    best, at = 0.0, None
    for a, b in zip(ts, ts[1:]):
        g = b - a - frame_s
        if g > best:
            best, at = g, a
    return max(best, 0.0), at


def tone_timeline(windows, freqs):
    """Run-length summary 'tone@dur' of who is heard, for the test log."""
    runs = []
    for w in windows:
        key = "+".join(str(f) for f in sorted(w.tones)) or "-"
        if runs and runs[-1][0] == key:
            runs[-1][2] = w.t
            runs[-1][3] += 1
        else:
            runs.append([key, w.t, w.t, 1])
    return ", ".join(f"{k}x{n}" for k, _a, _b, n in runs)


def check_rtp_continuity(env, packets, label):
    """DESIGN invariant 2: one SSRC, sequence +1, timestamp +160 (20 ms G.711)."""
    if not env.check(len(packets) > 0, f"{label}: RTP packets captured ({len(packets)})"):
        return
    ssrcs = sorted({r.ssrc for r in packets})
    env.check(len(ssrcs) == 1, f"{label}: single SSRC ({', '.join(hex(s) for s in ssrcs)})")
    seqs = sorted(packets, key=lambda r: r.t)
    bad_seq = [(a.seq, b.seq) for a, b in zip(seqs, seqs[1:]) if (a.seq + 1) & 0xFFFF != b.seq]
    env.check(not bad_seq, f"{label}: sequence numbers continuous (+1) over {len(seqs)} "
              f"packets; breaks: {bad_seq[:5]}")
    bad_ts = [(a.ts, b.ts) for a, b in zip(seqs, seqs[1:])
              if (b.ts - a.ts) & 0xFFFFFFFF != len(a.payload)]
    env.check(not bad_ts, f"{label}: timestamps advance by samples per frame; "
              f"breaks: {bad_ts[:5]}")


def wav_tone_windows(path, freqs, start_s=0.0, window_s=0.020, step_s=0.1):
    """Reads a WAV (any rate, mono or stereo, 16 bit) and returns [(t, tones)] every
    step_s seconds (a 20 ms window each), t being seconds into the file."""
    with wave.open(path, "rb") as w:
        rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        data = w.readframes(n)
    if width != 2:
        raise TestFailure(f"{path}: sample width {width} not supported")
    a = array.array("h")
    a.frombytes(data)
    if sys.byteorder != "little":
        a.byteswap()
    mono = a[::ch] if ch > 1 else a
    win = int(rate * window_s)
    step = int(rate * step_s)
    out = []
    for i in range(int(start_s * rate), len(mono) - win, step):
        out.append((i / rate, tones_in(list(mono[i:i + win]), freqs, rate)))
    return out, len(mono) / rate


def wav_share_with(path, freq, others=()):
    """Fraction of 20 ms windows (sampled every 100 ms) of a WAV in which `freq` is heard."""
    wins, dur = wav_tone_windows(path, [freq] + list(others))
    if not wins:
        return 0.0, dur
    return sum(1 for _t, s in wins if freq in s) / len(wins), dur


# ---------------------------------------------------------------------------
# SIP helpers


def sip_start_line(payload):
    return payload.split(b"\r\n", 1)[0].decode("utf-8", "replace")


def sip_header(msg, name):
    """First value of header `name` (case-insensitive, compact forms not handled)."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def sip_headers(msg, name):
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def sip_body(msg):
    return msg.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in msg else b""


def multipart_parts(body, content_type):
    """Splits a multipart body into [(raw_part_bytes, headers_dict, content_bytes)].
    raw_part_bytes are the exact bytes between the boundary line's CRLF and the CRLF
    before the next delimiter (RFC 2046)."""
    m = re.search(r'boundary="?([^";\s]+)"?', content_type or "")
    if not m:
        raise TestFailure(f"no boundary in Content-Type {content_type!r}")
    delim = b"--" + m.group(1).encode()
    pieces = body.split(b"\r\n" + delim)
    first = pieces[0]
    if first.startswith(delim):
        pieces[0] = first[len(delim):]
    else:  # preamble
        pieces = pieces[1:]
    parts = []
    for p in pieces:
        if p.startswith(b"--"):
            break
        if p.startswith(b"\r\n"):
            p = p[2:]
        head, _, content = p.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip():
                headers[k.strip().lower()] = v.strip()
        parts.append((p, headers, content))
    return parts


def udp_send(port, data, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(data, (LOCAL, port))
    finally:
        s.close()


# ---------------------------------------------------------------------------
# Building blocks shared by the test scripts


def ensure_tones(env, caller_hz=1000, position_hz=600):
    """caller_tone.pcmu / position_tone.pcmu in the work dir (sipp's cwd): the sipp
    scenarios name them literally (sipp does not expand variables in rtp_stream)."""
    for name, hz in (("caller_tone.pcmu", caller_hz), ("position_tone.pcmu", position_hz)):
        dst = env.path(name)
        if not os.path.exists(dst):
            shutil.copy(env.tone_file(hz), dst)


def caller(env, name, scenario, anchord_port, local_port, media_port, duration_ms=3000,
           timeout_s=30):
    ensure_tones(env)
    return sipp(env, name, scenario, remote_port=anchord_port, local_port=local_port,
                media_port=media_port, timeout_s=timeout_s,
                extra=["-m", "1", "-d", str(duration_ms)])


def position_sipp(env, name, scenario, port, media_port, duration_ms=3000, timeout_s=40):
    """A sipp call-taker position (UAS); the scenario stops sipp after its one call."""
    ensure_tones(env)
    return sipp(env, name, scenario, local_port=port, media_port=media_port,
                timeout_s=timeout_s, extra=["-s", name, "-d", str(duration_ms)])


def answered_options(capture, anchord_port, pos_port):
    n = 0
    for p in capture.get(anchord_port):
        if p.sport == pos_port and p.payload.startswith(b"SIP/2.0 200") and \
                re.search(rb"(?im)^CSeq:\s*\d+\s+OPTIONS", p.payload):
            n += 1
    return n


def wait_position_up(anchord, capture, anchord_port, pos_port, name, timeout=5):
    """A position is usable once anchord logged it up, or (if that log line is not
    there) once two of anchord's OPTIONS heartbeats have been answered 200 on the wire."""
    def up():
        if not anchord.proc.alive():
            raise TestFailure("anchord died while waiting for positions to come up")
        return anchord.find_log(rf"position up\b.*POSITION={re.escape(name)}\b") or \
            answered_options(capture, anchord_port, pos_port) >= 2
    wait_until(up, timeout, what=f"position {name} up (heartbeat answered)")
    log(f"position {name} is up")


def wait_hearing(capture, dport, freq, seconds, timeout, proc_alive=None):
    """Waits until `seconds` worth of 20 ms windows with `freq` have arrived at dport."""
    need = int(seconds / 0.020)

    def heard():
        if proc_alive and not proc_alive():
            raise TestFailure("a process died while waiting for audio")
        pk = rtp_stream(capture, dport)[-need * 2:]
        return sum(1 for w in rtp_tone_windows(pk, [freq]) if freq in w.tones) >= need
    wait_until(heard, timeout, interval=0.1, what=f"{seconds}s of {freq} Hz at port {dport}")


def sip_messages_to(capture, dport):
    return [p for p in capture.get(dport) if p.payload[:3] not in (b"\r\n\r", b"\r\n")
            and len(p.payload) > 4]


def is_request(payload):
    return not payload.startswith(b"SIP/2.0")


def method_of(payload):
    return payload.split(b" ", 1)[0].decode("ascii", "replace")


def cseq_method(payload):
    m = re.search(rb"(?im)^CSeq:\s*\d+\s+(\w+)", payload)
    return m.group(1).decode() if m else None


def print_anchord_tail(anchord, n=25):
    log("--- last anchord stderr lines:\n" + anchord.tail(n))


def caller_bye_time(capture, anchord_port, caller_port, default=None):
    """When the caller's BYE reached anchord (the end of the stretch audio is owed)."""
    for p in capture.get(anchord_port):
        if p.sport == caller_port and p.payload.startswith(b"BYE "):
            return p.t
    return default


# ---------------------------------------------------------------------------
# Queue, abandoned calls and conference (issue 3 tests)


def anchord_config_queue(*args, overflow_status=None, **kw):
    """anchord_config(...) plus `[queue] overflow_status` (486 or 503) when given."""
    text = anchord_config(*args, **kw)
    if overflow_status is None:
        return text
    line = f"overflow_status = {overflow_status}\n"
    if "\n[queue]\n" in text:
        return text.replace("\n[queue]\n", "\n[queue]\n" + line, 1)
    head, sep, tail = text.partition("[[positions]]")
    return head + "[queue]\n" + line + "\n" + sep + tail


def anchorctl(env, api, *args, timeout=20):
    """Runs the anchorctl next to the anchord under test against `api` ("IP:PORT")."""
    path = os.path.join(os.path.dirname(env.anchord_path), "anchorctl")
    r = subprocess.run([path, "--api", api, *args], capture_output=True, text=True,
                       timeout=timeout)
    log(f"anchorctl {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}".rstrip())
    return r


def api_get(api, path, timeout=5):
    """(status, parsed JSON or None) of GET http://api/path; (None, None) if unreachable."""
    import json
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{api}{path}", timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except OSError:
        return None, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def wait_api_up(api, timeout=10):
    wait_until(lambda: api_get(api, "/v1/health") == (200, {"status": "ok"}), timeout,
               interval=0.1, what=f"the control API on {api}")


def responses_to(capture, dport, method="INVITE"):
    """SIP responses to `method` that reached dport: [(code, Packet)] in arrival order."""
    out = []
    for p in sorted(sip_messages_to(capture, dport), key=lambda p: p.t):
        if p.payload.startswith(b"SIP/2.0 ") and cseq_method(p.payload) == method:
            out.append((int(p.payload[8:11]), p))
    return out


def chunk_tones(packets, freqs, per_chunk=5):
    """Tones heard in windows of `per_chunk` consecutive RTP packets (100 ms by default):
    close tones such as ringback's 440 + 480 Hz need a longer window than 20 ms (a 20 ms
    Goertzel bin is 50 Hz wide). Returns [(t_first_packet, tones)]."""
    out = []
    for i in range(0, len(packets) - per_chunk + 1, per_chunk):
        group = packets[i:i + per_chunk]
        samples = []
        for r in group:
            samples.extend(decode_g711(r.payload, r.pt))
        out.append((group[0].t, tones_in(samples, freqs)))
    return out


def loud_runs(packets, t_end=None, min_rms=MIN_RMS, max_hole_s=0.1):
    """Cadence of what arrives at a port: [(loud, t_start, t_stop)] runs of consecutive
    packets that are loud (rms >= min_rms) or quiet; a hole of more than max_hole_s with no
    packet counts as quiet. t_end closes the last run."""
    runs = []
    prev_t = None
    for r in packets:
        loud = rms(decode_g711(r.payload, r.pt)) >= min_rms
        if prev_t is not None and r.t - prev_t > max_hole_s:
            if runs and not runs[-1][0]:
                runs[-1][2] = r.t
            else:
                runs.append([False, prev_t, r.t])
        if runs and runs[-1][0] == loud:
            runs[-1][2] = r.t + 0.02
        else:
            runs.append([loud, r.t, r.t + 0.02])
        prev_t = r.t
    if runs and t_end is not None and t_end > runs[-1][2]:
        runs[-1][2] = t_end
    return [tuple(x) for x in runs]


def wav_both_share(path, a, b, others=()):
    """Fraction of 20 ms windows (every 100 ms) of a WAV in which tones a and b are both
    heard (a mix), and the file's duration."""
    wins, dur = wav_tone_windows(path, [a, b] + list(others))
    if not wins:
        return 0.0, dur
    return sum(1 for _t, s in wins if a in s and b in s) / len(wins), dur


# ---------------------------------------------------------------------------
# SIP races, transports and 3pcc flows (issue 3 tests: missing_ack, cancel_200_race,
# large_invite_tcp, threepcc_flow123, glare_491, refer_transfer_audio)


def config_set(text, section, **keys):
    """anchord TOML `text` with `key = value` lines added to [section] (created before the
    first [[positions]] if absent), e.g. config_set(cfg, "sip", t1_ms=200)."""
    lines = "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())
    head = f"[{section}]\n"
    if text.startswith(head) or f"\n{head}" in text:
        at = text.index(head) if text.startswith(head) else text.index(f"\n{head}") + 1
        at += len(head)
        return text[:at] + lines + text[at:]
    before, sep, after = text.partition("[[positions]]")
    return before + head + lines + "\n" + sep + after


def sdp_origin(msg):
    """(username, session id, version, address) of the o= line of a SIP message's body
    (the first application/sdp part of a multipart body), or None."""
    m = re.search(rb"(?m)^o=(\S+) (\S+) (\d+) IN IP[46] (\S+)", sip_body(msg))
    return (m.group(1).decode(), m.group(2).decode(), int(m.group(3)),
            m.group(4).decode()) if m else None


def sdp_media(msg):
    """[(media, port, [payload types])] of the m= lines of a SIP message's body."""
    return [(m.group(1).decode(), int(m.group(2)), m.group(3).decode().split())
            for m in re.finditer(rb"(?m)^m=(\w+) (\d+) \S+ ?([^\r\n]*)", sip_body(msg))]


def sdp_connections(msg):
    """Every c= address of a SIP message's body (session and media level)."""
    return [m.group(1).decode() for m in
            re.finditer(rb"(?m)^c=IN IP[46] ([^\s/]+)", sip_body(msg))]


def sip_to_tag(msg):
    m = re.search(r";\s*tag=([^;>\s]+)", sip_header(msg, "To") or "")
    return m.group(1) if m else None


def cseq_number(payload):
    m = re.search(rb"(?im)^CSeq:\s*(\d+)", payload)
    return int(m.group(1)) if m else None


def sip_flow(capture, ports, names, options=False):
    """Every SIP message to any of `ports` in arrival order, as (t, 'X->Y', first line,
    Packet), `names` mapping a port to a party's name (others are shown as numbers);
    heartbeat OPTIONS and their responses only if `options`."""
    out = []
    for p in sorted([q for port in ports for q in sip_messages_to(capture, port)],
                    key=lambda q: q.t):
        if not options and cseq_method(p.payload) == "OPTIONS":
            continue
        src = names.get(p.sport, str(p.sport))
        dst = names.get(p.dport, str(p.dport))
        line = sip_start_line(p.payload)
        if not is_request(p.payload):
            line += f" ({cseq_method(p.payload)})"
        out.append((p.t, f"{src}->{dst}", line, p))
    return out


def log_sip_flow(flow):
    if not flow:
        return
    t0 = flow[0][0]
    log("SIP on the wire:\n" + "\n".join(f"  {t - t0:7.3f} {who:18s} {line}"
                                           for t, who, line, _p in flow))


class BaresipCtl(Baresip):
    """A Baresip position that also takes commands over ctrl_tcp (JSON in netstrings on
    127.0.0.1:ctrl_port), e.g. command("transfer", "sip:pos2@127.0.0.1:P") for a blind
    transfer (REFER) of its current call."""

    def __init__(self, env, name, port, tone, rtp_min, ctrl_port, **kw):
        self.ctrl_port = ctrl_port
        lines = f"module_app ctrl_tcp.so\nctrl_tcp_listen {LOCAL}:{ctrl_port}\n"
        conf = os.path.join(env.path(f"baresip-{name}"), "config")

        class _AppendingEnv:  # Baresip writes its config and spawns at once: add ours between
            def __getattr__(self, attr):
                return getattr(env, attr)

            def spawn(self, pname, argv, **skw):
                with open(conf, "a") as f:
                    f.write(lines)
                return env.spawn(pname, argv, **skw)

        super().__init__(_AppendingEnv(), name, port, tone, rtp_min, **kw)
        self.env = env

    def command(self, command, params="", timeout=5.0):
        """Sends one command; returns baresip's response object (dict), or raises."""
        import json
        token = f"t{time.monotonic_ns()}"
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        deadline = time.monotonic() + timeout
        with socket.create_connection((LOCAL, self.ctrl_port), timeout=timeout) as s:
            s.sendall(str(len(data)).encode() + b":" + data + b",")
            buf = b""
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b":" in buf:
                    n, _, rest = buf.partition(b":")
                    if not n.isdigit() or len(rest) < int(n) + 1:
                        break
                    obj = json.loads(rest[:int(n)])
                    buf = rest[int(n) + 1:]
                    if obj.get("response") and obj.get("token") == token:
                        return obj
        raise TestFailure(f"baresip {self.name}: no response to {command!r}")


def udp_bound(port, host=LOCAL):
    """Whether some process has a UDP socket bound to host:port (reads /proc/net/udp)."""
    want = f"{socket.htonl(int.from_bytes(socket.inet_aton(host), 'big')):08X}:{port:04X}"
    try:
        with open("/proc/net/udp") as f:
            return any(line.split()[1] == want for line in list(f)[1:])
    except OSError:
        return False


def wait_udp_bound(ports, timeout=5, host=LOCAL):
    """Waits until every port is bound (a peer started in the background is listening), so
    the first request to it is not lost to a start-up race."""
    for port in ports:
        wait_until(lambda: udp_bound(port, host), timeout, interval=0.02,
                   what=f"a UDP socket on {host}:{port}")
