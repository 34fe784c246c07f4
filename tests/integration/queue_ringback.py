#!/usr/bin/env python3
"""integration.queue_ringback: a call that finds no idle position is queued with ringback
and answered when a position frees up (NENA-4.2.1.3).

The only position (baresip, 600 Hz) is busy with call 1 (sipp caller, talks 9 s, then BYE).
Call 2 (sipp caller, 1 kHz) comes in meanwhile. Proves:
  - call 2's caller gets 180 and then 183 with anchord's SDP (its sipp scenario fails
    without them), and no 486/503;
  - the capture at call 2's RTP port, before any answer, is ringback: 440 + 480 Hz (in
    100 ms windows: a 20 ms Goertzel bin cannot separate them), nothing else, with the
    2 s on / 4 s off cadence (first tone run ~2 s, then ~4 s of silence, then tone again);
  - the position gets call 2's INVITE only after caller 1's BYE (it was busy), answers, and
    call 2's caller then hears the position's 600 Hz and no more ringback;
  - call 2's 200 carries exactly the 183's SDP (same o= version: no new offer/answer);
  - the position hears caller 2's 1 kHz (its recording of the second call).
"""
import harness as h

SIP, RTP_MIN, RTP_MAX = 5101, 18200, 18219
CALLER1_SIP, CALLER1_RTP = 19100, 19102
CALLER2_SIP, CALLER2_RTP = 19110, 19112
POS, POS_RTP = 19120, 19130
CALL1_MS = 9000  # caller 1 talks this long once answered: call 2 waits ~8 s in the queue
RINGBACK = (440, 480)
ALL = [440, 480, 600, 1000]


def check_signaling(env, cap):
    resp = h.responses_to(cap, CALLER2_SIP)
    codes = [c for c, _ in resp]
    h.log(f"call 2 caller received INVITE responses: {codes}")
    env.check(180 in codes and 183 in codes and codes.index(180) < codes.index(183),
              "call 2: 180 then 183 while queued")
    env.check(not any(c in (486, 503) for c in codes), "call 2: no overflow answer")
    p183 = [p for c, p in resp if c == 183]
    p200 = [p for c, p in resp if c == 200]
    if not env.check(bool(p183) and bool(p200), "call 2: a 183 and a 200"):
        return None, None
    sdp183, sdp200 = h.sip_body(p183[0].payload), h.sip_body(p200[0].payload)
    env.check((h.sip_header(p183[0].payload, "Content-Type") or "").startswith("application/sdp")
              and b"m=audio " in sdp183, "call 2: the 183 carries SDP")
    env.check(sdp200 == sdp183, "call 2: the 200's SDP is byte-identical to the 183's\n"
              f"183: {sdp183!r}\n200: {sdp200!r}")
    return p183[0].t, p200[0].t


def check_ringback(env, pk, t183, t200):
    early = [r for r in pk if r.t < t200]
    env.require(len(early) >= 300, f"call 2: early media before the 200 ({len(early)} packets "
                "of 20 ms, need >= 300 = 6 s)")
    chunks = h.chunk_tones(early, ALL)
    loud = [s for _t, s in chunks if s]
    ring = [s for s in loud if s == set(RINGBACK)]
    h.log(f"call 2 early media (100 ms windows): {len(ring)} of {len(loud)} non-silent are "
          f"440+480 only; others: {[sorted(s) for s in loud if s != set(RINGBACK)][:5]}")
    env.check(len(ring) >= 25 and len(ring) >= 0.9 * len(loud),
              "call 2 hears ringback 440+480 Hz (and nothing else) while queued")
    runs = h.loud_runs(early, t_end=t200)
    h.log("call 2 early cadence: " + ", ".join(
        f"{'tone' if loud else 'quiet'} {b - a:.2f}s" for loud, a, b in runs))
    tone = [(a, b) for loud, a, b in runs if loud and b - a >= 0.3]
    quiet = [(a, b) for loud, a, b in runs if not loud and b - a >= 0.3]
    if env.check(len(tone) >= 2 and quiet, f"ringback cadence: {len(tone)} tone runs, "
                 f"{len(quiet)} quiet runs before the answer"):
        on, off = tone[0][1] - tone[0][0], tone[1][0] - tone[0][1]
        env.check(tone[0][0] - t183 < 0.5, f"ringback starts with the 183 "
                  f"({(tone[0][0] - t183) * 1000:.0f} ms after it)")
        env.check(1.8 <= on <= 2.2, f"ringback on for ~2 s ({on:.2f} s)")
        env.check(3.8 <= off <= 4.2, f"then off for ~4 s ({off:.2f} s)")


def check_answered_audio(env, pk, t200, t_bye):
    late = [r for r in pk if t200 + 0.2 <= r.t <= t_bye - 0.05]
    wins = h.rtp_tone_windows(late, ALL)
    h.log(f"call 2 after the 200: {h.tone_timeline(wins, [])}")
    n600 = sum(1 for w in wins if 600 in w.tones)
    env.check(n600 >= 100, f"call 2's caller hears the position's 600 Hz after the answer "
              f"({n600} windows of 20 ms, need >= 100)")
    chunks = h.chunk_tones(late, ALL)
    n_ring = sum(1 for _t, s in chunks if 440 in s or 480 in s)
    env.check(n_ring == 0, f"no ringback after the answer ({n_ring} windows)")
    env.check(not any(1000 in w.tones for w in wins), "caller 2 does not hear its own 1 kHz")


def test(env):
    pos = h.Baresip(env, "pos1", POS, 600, POS_RTP)
    pos.wait_ready()
    cap = h.start_capture(env, [SIP, CALLER1_SIP, CALLER2_SIP, CALLER2_RTP, POS])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS, location="none")],
                           queue_max_calls=4, queue_max_wait_s=60)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS, "pos1")

    c1 = h.caller(env, "caller1", "caller_plain", SIP, CALLER1_SIP, CALLER1_RTP,
                  duration_ms=CALL1_MS, timeout_s=40)
    h.wait_until(lambda: any(p.payload.startswith(b"ACK ") for p in cap.get(POS)), 10,
                 what="call 1 answered by pos1 (ACK at the position)")
    mark = a.mark()
    c2 = h.caller(env, "caller2", "caller_queued", SIP, CALLER2_SIP, CALLER2_RTP,
                  duration_ms=5000, timeout_s=60)
    a.wait_log(r"call queued", 5, since=mark)
    h.sipp_wait(env, c1, 30)
    h.sipp_wait(env, c2, 30)
    pos.proc.kill()  # flushes its WAV files

    t183, t200 = check_signaling(env, cap)
    t_bye1 = h.caller_bye_time(cap, SIP, CALLER1_SIP)
    invites = sorted(p.t for p in h.sip_messages_to(cap, POS) if p.payload.startswith(b"INVITE "))
    h.log(f"INVITEs to pos1 at {[round(t - invites[0], 2) for t in invites]} s")
    env.check(len(invites) >= 2 and t_bye1 is not None and invites[1] > t_bye1,
              "pos1 got call 2's INVITE only after caller 1's BYE freed it")
    if t183 is None:
        return
    pk = h.rtp_stream(cap, CALLER2_RTP)
    check_ringback(env, pk, t183, t200)
    t_bye2 = h.caller_bye_time(cap, SIP, CALLER2_SIP, default=pk[-1].t if pk else t200)
    check_answered_audio(env, pk, t200, t_bye2)

    recs = pos.recordings()
    if env.check(len(recs) >= 2, f"pos1 recorded both calls ({recs})"):
        share, dur = h.wav_share_with(recs[-1], 1000, [600])
        env.check(share >= 0.5, f"pos1 hears caller 2's 1 kHz ({share * 100:.0f}% of "
                  f"{dur:.1f} s)")
    env.check(a.stop() == 0, "anchord exits 0 on SIGTERM")


if __name__ == "__main__":
    h.main(test, "queue_ringback")
