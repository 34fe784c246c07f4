#!/usr/bin/env python3
"""integration.queue_announcement: a queued caller hears the configured announcement, then
ringback with no gap at the seam (issue 4 "Tones and announcements", NENA-4.2.1.3).

`queue.announcement` is a WAV file the test writes: 1.5 s of 1400 Hz, 16-bit mono 8 kHz.
The only position (baresip, 600 Hz) is busy with call 1 (sipp caller, talks 7 s). Call 2
(sipp caller) is queued. Proves, from the capture at call 2's RTP port before the answer:
  - the early media starts with the announcement (1400 Hz) for ~1.5 s,
  - then ringback (440 + 480 Hz) follows with no gap: the first ringback packet comes in the
    packet right after the last announcement packet (20 ms), and every packet between the
    183 and the answer is one or the other (or the ringback cadence's silence after the
    first 2 s of ringback),
  - the RTP stream is continuous through the seam (one SSRC, sequence +1),
  - after the answer the caller hears the position, not the announcement.
And a config naming a missing announcement file is refused by --check-config with the key.
"""
import array
import math
import os
import subprocess
import wave

import harness as h

SIP, RTP_MIN, RTP_MAX = 5106, 18300, 18319
CALLER1_SIP, CALLER1_RTP = 19500, 19502
CALLER2_SIP, CALLER2_RTP = 19510, 19512
POS, POS_RTP = 19520, 19530
CALL1_MS = 7000
ANNOUNCE_HZ, ANNOUNCE_S = 1400, 1.5
FREQS = [440, 480, 600, 1000, ANNOUNCE_HZ]


def write_announcement(path):
    rate = 8000
    n = int(rate * ANNOUNCE_S)
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * ANNOUNCE_HZ * i / rate))
                                for i in range(n)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def is_ringback(w):
    return bool(w.tones & {440, 480})


def check_early_media(env, pk, t183, t200):
    early = [r for r in pk if t183 <= r.t < t200]
    env.require(len(early) >= 150, f"early media before the answer ({len(early)} packets)")
    h.check_rtp_continuity(env, early, "call 2 early media")
    wins = h.rtp_tone_windows(early, FREQS)
    h.log(f"call 2 early media: {h.tone_timeline(wins, FREQS)}")
    first = next((i for i, w in enumerate(wins) if w.tones), None)
    env.require(first is not None, "call 2 hears something before the answer")
    announce = [i for i, w in enumerate(wins) if ANNOUNCE_HZ in w.tones]
    env.require(bool(announce), "call 2 hears the announcement's 1400 Hz while queued")
    env.check(announce[0] == first, "the early media starts with the announcement")
    last = announce[-1]
    span = (last - announce[0] + 1) * 0.020
    env.check(abs(span - ANNOUNCE_S) <= 0.1, f"announcement lasts ~{ANNOUNCE_S} s "
              f"({span:.2f} s of packets)")
    env.check(len(announce) == last - announce[0] + 1,
              "no packet inside the announcement lacks it")
    seam = wins[last + 1:last + 2]
    env.check(bool(seam) and is_ringback(seam[0]),
              "ringback is in the packet right after the announcement's last one (no gap)")
    ring = [w for w in wins[last + 1:last + 1 + 90]]  # ~1.8 s of ringback's 2 s on
    n_ring = sum(1 for w in ring if is_ringback(w))
    env.check(n_ring >= 0.95 * len(ring), f"then ringback continuously ({n_ring} of "
              f"{len(ring)} packets)")
    env.check(not any(ANNOUNCE_HZ in w.tones for w in wins[last + 1:]),
              "the announcement is played once")


def check_bad_file(env):
    path = env.path("bad.toml")
    with open(path, "w") as f:
        f.write('[queue]\nannouncement = "/nonexistent/queue.wav"\n')
    r = subprocess.run([env.anchord_path, "--check-config", path], capture_output=True,
                       text=True, timeout=10)
    h.log(f"--check-config with a missing WAV -> {r.returncode}: {r.stderr.strip()}")
    env.check(r.returncode == 2 and "queue.announcement" in r.stderr and
              "/nonexistent/queue.wav" in r.stderr,
              "a missing announcement file is a config error naming the key and the file")


def test(env):
    check_bad_file(env)
    wav = env.path("queue.wav")
    write_announcement(wav)
    pos = h.Baresip(env, "pos1", POS, 600, POS_RTP)
    pos.wait_ready()
    cap = h.start_capture(env, [SIP, CALLER1_SIP, CALLER2_SIP, CALLER2_RTP, POS])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS, location="none")],
                           queue_max_calls=4, queue_max_wait_s=60)
    a = h.start_anchord(env, h.config_set(cfg, "queue", announcement=wav))
    h.wait_position_up(a, cap, SIP, POS, "pos1")

    c1 = h.caller(env, "caller1", "caller_plain", SIP, CALLER1_SIP, CALLER1_RTP,
                  duration_ms=CALL1_MS, timeout_s=40)
    h.wait_until(lambda: any(p.payload.startswith(b"ACK ") for p in cap.get(POS)), 10,
                 what="call 1 answered by pos1 (ACK at the position)")
    c2 = h.caller(env, "caller2", "caller_queued", SIP, CALLER2_SIP, CALLER2_RTP,
                  duration_ms=2000, timeout_s=60)
    h.sipp_wait(env, c1, 30)
    h.sipp_wait(env, c2, 30)

    resp = h.responses_to(cap, CALLER2_SIP)
    t183 = next((p.t for c, p in resp if c == 183), None)
    t200 = next((p.t for c, p in resp if c == 200), None)
    env.require(t183 is not None and t200 is not None, "call 2: a 183 and then a 200")
    pk = h.rtp_stream(cap, CALLER2_RTP)
    check_early_media(env, pk, t183, t200)
    late = h.rtp_tone_windows([r for r in pk if r.t >= t200 + 0.2], FREQS)
    n600 = sum(1 for w in late if 600 in w.tones)
    env.check(n600 >= 50 and not any(ANNOUNCE_HZ in w.tones for w in late),
              f"after the answer: the position's 600 Hz ({n600} packets), no announcement")
    env.check(a.stop() == 0, "anchord exits 0 on SIGTERM")


if __name__ == "__main__":
    h.main(test, "queue_announcement")
