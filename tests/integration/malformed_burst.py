#!/usr/bin/env python3
"""integration.malformed_burst: bad input from the network never disturbs a call
(DESIGN invariant 5, NENA-3.1.1-a, R3261-8.2-a).

While a call is up (sipp caller 1 kHz <-> baresip pos1 600 Hz), send a bounded burst
(300 UDP datagrams in ~1.5 s) of malformed SIP to anchord's SIP port — garbage text,
binary junk, truncated headers, missing Call-ID, bad CSeq, huge Content-Length, bad
start lines — plus malformed SIP over TCP, and garbage datagrams to every port of
anchord's (small) RTP range. Proves:
  - anchord answers 400 to malformed requests that carry a usable Via (checked for the
    UDP kinds with a Via and for TCP);
  - anchord is still alive and still answers a well-formed OPTIONS;
  - the caller keeps hearing 600 Hz with no hole over 100 ms during and after the burst,
    and pos1 keeps hearing the caller's 1 kHz; the call ends normally.
"""
import random
import socket
import time

import harness as h

SIP, CALLER_SIP, CALLER_RTP, POS = 5079, 15900, 15902, 15910
RTP_MIN, RTP_MAX = 31800, 31809
BURST = 300
MAX_HOLE_S = 0.100


def req(kind, n, port):
    """A malformed request of `kind` whose Via points back at our socket (port)."""
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-bad-{kind}-{n};rport\r\n"
    base = (f"INVITE sip:pos1@127.0.0.1:{SIP} SIP/2.0\r\n" + via +
            f"Max-Forwards: 70\r\nFrom: <sip:evil@127.0.0.1>;tag=e{n}\r\n"
            "To: <urn:service:sos>\r\n")
    if kind == "no-callid":
        return (base + "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode()
    if kind == "bad-cseq":
        return (base + f"Call-ID: bad-cseq-{n}@x\r\nCSeq: one INVITE\r\n"
                "Content-Length: 0\r\n\r\n").encode()
    if kind == "huge-length":
        return (base + f"Call-ID: huge-{n}@x\r\nCSeq: 1 INVITE\r\n"
                "Content-Type: application/sdp\r\nContent-Length: 99999999\r\n\r\nv=0\r\n").encode()
    if kind == "bad-sdp-length":
        return (base + f"Call-ID: neg-{n}@x\r\nCSeq: 1 INVITE\r\nContent-Length: -5\r\n\r\n").encode()
    raise ValueError(kind)


def junk(rng, n):
    kinds = [
        lambda: b"hello anchord, this is not SIP\r\n\r\n",
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400))),
        lambda: b"INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0",  # truncated
        lambda: b"INVITE\r\n\r\n",
        lambda: b"SIP/2.0 999999 Nope\r\nVia: x\r\n\r\n",
        lambda: b"\x00" * rng.randint(1, 64),
        lambda: b"OPTIONS sip:x SIP/7.0\r\n" + b"X: " + b"A" * 3000 + b"\r\n\r\n",
        lambda: b"BYE sip:x SIP/2.0\r\nCall-ID: nope\r\nCSeq: 99999999999999999999 BYE\r\n\r\n",
        lambda: b"\r\n\r\n",
    ]
    return kinds[n % len(kinds)]()


def rtp_junk(rng, n):
    kinds = [
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
        lambda: b"\x80",                                        # truncated header
        lambda: b"\x00" * 172,                                  # version 0
        lambda: bytes([0x80, 99]) + bytes(rng.getrandbits(8) for _ in range(170)),  # unknown PT
        lambda: bytes([0x8f, 0]) + b"\x00" * 10,                # 15 CSRCs, no room
        lambda: bytes([0x90, 0]) + b"\x00" * 10 + b"\xff\xff\xff\xff",  # bad extension
    ]
    return kinds[n % len(kinds)]()


def test(env):
    rng = random.Random(911)
    pos1 = h.Baresip(env, "pos1", POS, 600, 16200)
    pos1.wait_ready()
    cap = h.start_capture(env, [SIP, CALLER_SIP, CALLER_RTP])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS, location="none")])
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS, "pos1")
    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP,
                 duration_ms=9000, timeout_s=30)
    h.wait_hearing(cap, CALLER_RTP, 600, 1.5, timeout=10, proc_alive=c.alive)

    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind((h.LOCAL, 0))
    env.cleanups.append(us.close)
    myport = us.getsockname()[1]
    rtp_out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    env.cleanups.append(rtp_out.close)
    checked = ["no-callid", "bad-cseq", "huge-length"]
    t_start = time.time()
    sent = 0
    expected_400 = {}
    for n in range(BURST):
        if n % 3 == 0:
            kind = checked[(n // 3) % len(checked)] if n % 6 == 0 else "bad-sdp-length"
            data = req(kind, n, myport)
            if kind in checked:
                expected_400[f"z9hG4bK-bad-{kind}-{n}"] = kind
        else:
            data = junk(rng, n)
        us.sendto(data, (h.LOCAL, SIP))
        sent += 1
        if n % 10 == 0:  # every 10th SIP datagram: one garbage datagram to each RTP port
            for port in range(RTP_MIN, RTP_MAX + 1):
                rtp_out.sendto(rtp_junk(rng, n + port), (h.LOCAL, port))
        time.sleep(0.005)
    # A few over TCP: a malformed request with a Via, then pure garbage.
    tcp_400 = False
    try:
        t = socket.create_connection((h.LOCAL, SIP), timeout=2)
        tv = req("no-callid", 9999, 0).replace(b"SIP/2.0/UDP 127.0.0.1:0", b"SIP/2.0/TCP 127.0.0.1:1")
        t.sendall(tv)
        buf = b""
        deadline = time.monotonic() + 2
        while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
            try:
                d = t.recv(4096)
            except socket.timeout:
                break
            if not d:
                break
            buf += d
        tcp_400 = buf.startswith(b"SIP/2.0 400")
        h.log(f"TCP answer: {h.sip_start_line(buf) if buf else '(none)'}")
        t2 = socket.create_connection((h.LOCAL, SIP), timeout=2)
        t2.sendall(bytes(rng.getrandbits(8) for _ in range(4000)))
        t2.close()
        t.close()
    except OSError as e:
        h.log(f"TCP: {e}")
    t_end = time.time()
    h.log(f"burst: {sent} SIP datagrams + {(BURST // 10) * (RTP_MAX - RTP_MIN + 1)} RTP junk "
          f"datagrams in {t_end - t_start:.2f} s")
    env.check(t_end - t_start < 4.0, "burst bounded in time")

    # Collect 400s (poll with a deadline: they may trail the burst).
    got = {}
    us.settimeout(0.1)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and len(got) < len(expected_400):
        try:
            d = us.recv(65535)
        except socket.timeout:
            continue
        for b, kind in expected_400.items():
            if b.encode() in d:
                got[b] = h.sip_start_line(d)
    by_kind = {}
    for b, line in got.items():
        by_kind.setdefault(expected_400[b], []).append(line)
    h.log(f"answers to malformed requests: { {k: sorted(set(v)) for k, v in by_kind.items()} }")
    for kind in checked:
        lines = by_kind.get(kind, [])
        env.check(any(l.startswith("SIP/2.0 400") for l in lines),
                  f"400 for the malformed request '{kind}' ({len(lines)} answers)")
    env.check(tcp_400, "400 for a malformed request over TCP")

    env.require(a.proc.alive(), "anchord is still alive after the burst")
    opt = (f"OPTIONS sip:anchord@127.0.0.1:{SIP} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{myport};branch=z9hG4bK-okopt\r\nMax-Forwards: 70\r\n"
           "From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:anchord@127.0.0.1>\r\n"
           "Call-ID: probe-1@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
    us.sendto(opt, (h.LOCAL, SIP))
    ans = None
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and ans is None:
        try:
            d = us.recv(65535)
        except socket.timeout:
            continue
        if b"z9hG4bK-okopt" in d:
            ans = h.sip_start_line(d)
    env.check(ans is not None and ans.startswith("SIP/2.0 2"),
              f"anchord still answers a valid OPTIONS after the burst ({ans})")

    h.sipp_wait(env, c, 25)
    pos1.proc.kill()
    pk = h.rtp_stream(cap, CALLER_RTP)
    wins = h.rtp_tone_windows(pk, [600, 1000])
    h.log(f"caller hears: {h.tone_timeline(wins, [])}")
    after = [w for w in wins if w.t > t_end + 1.0]
    env.check(sum(600 in w.tones for w in after) >= 50, "caller still hears 600 Hz >= 1 s "
              "after the burst")
    t_bye = h.caller_bye_time(cap, SIP, CALLER_SIP, default=time.time())
    t_to = t_bye - 0.04
    gap, at = h.longest_gap(wins, lambda w: 600 in w.tones, t_from=t_start - 1.0, t_to=t_to)
    env.check(gap <= MAX_HOLE_S, f"no hole in the caller's audio during/after the burst "
              f"(longest {gap * 1000:.0f} ms, limit {MAX_HOLE_S * 1000:.0f} ms)")
    h.check_rtp_continuity(env, pk, "anchord->caller RTP through the burst")
    recs = pos1.recordings()
    if env.check(bool(recs), "pos1 recorded what it received"):
        share, dur = h.wav_share_with(recs[0], 1000, [600])
        h.log(f"pos1 recording: {dur:.1f} s, 1 kHz in {share * 100:.0f}% of windows")
        env.check(dur >= 5.0 and share >= 0.8,
                  f"pos1 hears the caller's 1 kHz through the burst ({share * 100:.0f}% of "
                  f"{dur:.1f} s)")
    h.log("anchord counters/summary lines: \n" + a.tail(8, r"drop|malformed|invalid|count"))
    env.check(a.proc.alive(), "anchord still running at the end")


if __name__ == "__main__":
    h.main(test, "malformed_burst")
