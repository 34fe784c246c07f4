#!/usr/bin/env python3
"""integration.failover_kill: the answering position crashes mid-call (SIGKILL: no BYE,
its RTP stops) and anchord re-points the call to its standby without the caller's leg
noticing (DESIGN "Failover", invariants 1 and 2; R3261-14-a design exception).

Proves, from a packet capture at the caller's media port and the standby's recording:
  - the caller hears pos1's 600 Hz, then anchord's 440 Hz hold tone, then pos2's 800 Hz;
  - the failover gap (longest stretch in which the caller hears neither a position nor
    the hold tone) is printed and is under 1000 ms;
  - the caller's RTP from anchord keeps one SSRC with sequence +1 / timestamp +160;
  - the caller's leg receives no SIP message at all after the 200/ACK until its own
    BYE (the sipp caller fails on any unexpected message, then hangs up itself);
  - the standby pos2 hears the caller's 1 kHz;
  - anchord logs the failover with GAP_MS.
"""
import os
import signal
import time

import harness as h

SIP, CALLER_SIP, CALLER_RTP = 5074, 15400, 15402
POS1, POS2 = 15410, 15420
RTP_MIN, RTP_MAX = 31300, 31319
HOLD = 440
MAX_GAP_MS = 1000


def test(env):
    run(env, signal.SIGKILL, SIP, CALLER_SIP, CALLER_RTP, POS1, POS2, 16100, RTP_MIN)


def run(env, sig, SIP, CALLER_SIP, CALLER_RTP, POS1, POS2, bs_rtp, RTP_MIN):
    """The whole scenario; `sig` is how pos1 dies (SIGKILL: crash, SIGSTOP: hang)."""
    RTP_MAX = RTP_MIN + 19
    pos1 = h.Baresip(env, "pos1", POS1, 600, bs_rtp)
    pos2 = h.Baresip(env, "pos2", POS2, 800, bs_rtp + 20)
    pos1.wait_ready()
    pos2.wait_ready()
    cap = h.start_capture(env, [SIP, CALLER_SIP, CALLER_RTP])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [
        h.position("pos1", POS1, standby="pos2", location="none"),
        h.position("pos2", POS2, standby="pos1", location="none")],
        heartbeat_ms=100, misses=3, rtp_timeout_ms=300)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS1, "pos1")
    h.wait_position_up(a, cap, SIP, POS2, "pos2")

    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP,
                 duration_ms=14000, timeout_s=40)
    h.wait_hearing(cap, CALLER_RTP, 600, 3.0, timeout=12, proc_alive=c.alive)
    mark = a.mark()
    t_kill = time.time()
    h.log(f"{signal.Signals(sig).name} pos1")
    pos1.proc.signal(sig)
    if sig == signal.SIGKILL:
        pos1.proc.wait(5)
    try:
        h.wait_hearing(cap, CALLER_RTP, 800, 2.0, timeout=8, proc_alive=c.alive)
    except h.TestFailure as e:
        env.check(False, f"caller hears the standby pos2 after the failover: {e}")
        h.print_anchord_tail(a)
    line = a.find_log(r"\[failover\] failover .*POSITION=pos1\b.*GAP_MS=", mark)
    env.check(line is not None, f"anchord logged the failover with GAP_MS: {line}")
    h.sipp_wait(env, c, 30)
    pos2.proc.kill()  # flushes its recording

    pk = h.rtp_stream(cap, CALLER_RTP)
    wins = h.rtp_tone_windows(pk, [600, 800, HOLD, 1000])
    h.log(f"caller hears: {h.tone_timeline(wins, [])}")
    before = [w for w in wins if w.t < t_kill]
    after = [w for w in wins if w.t >= t_kill]
    env.check(sum(600 in w.tones for w in before) >= 150, "caller heard pos1 (600 Hz) >= 3 s "
              "before the kill")
    first800 = next((w.t for w in after if 800 in w.tones), None)
    holds = [w for w in after if HOLD in w.tones and (first800 is None or w.t <= first800)]
    env.check(bool(holds), f"caller heard the {HOLD} Hz hold tone after the kill "
              f"({len(holds)} windows before pos2 came in)")
    env.check(first800 is not None, "caller heard pos2 (800 Hz) after the kill")
    env.check(not any(600 in w.tones for w in after if w.t > t_kill + 0.2),
              "no pos1 audio after the kill (it is dead or frozen)")
    if first800 is not None:
        h.log(f"pos2 audible {(first800 - t_kill) * 1000:.0f} ms after the kill")
        env.check(sum(800 in w.tones for w in after) >= 100, "caller heard pos2 >= 2 s")

    first600 = next((w.t for w in wins if 600 in w.tones), None)
    # Audio is owed until the caller hangs up (its BYE reaching anchord).
    t_bye = h.caller_bye_time(cap, SIP, CALLER_SIP, default=time.time())
    last_good = t_bye - 0.04
    if first600 is not None:
        gap, at = h.longest_gap(wins, lambda w: bool(w.tones & {600, 800, HOLD}),
                                t_from=first600, t_to=last_good)
        print(f"measured failover gap: {gap * 1000:.0f} ms"
              + (f" (starting {(at - t_kill) * 1000:+.0f} ms from the kill)" if at else ""),
              flush=True)
        if line:
            h.log(f"anchord's own measure: GAP_MS={h.parse_kv(line).get('GAP_MS')}")
        env.check(gap * 1000 <= MAX_GAP_MS, f"failover gap {gap * 1000:.0f} ms <= {MAX_GAP_MS} ms")
    h.check_rtp_continuity(env, pk, "anchord->caller RTP across the failover")

    # No SIP towards the caller between its ACK and its own BYE.
    msgs = h.sip_messages_to(cap, CALLER_SIP)
    requests = [h.sip_start_line(p.payload) for p in msgs if h.is_request(p.payload)]
    env.check(not requests, f"caller received no SIP request (got {requests})")
    late = [h.sip_start_line(p.payload) for p in msgs if p.t > t_kill
            and h.cseq_method(p.payload) != "BYE"]
    env.check(not late, f"caller received no SIP message after the kill except the "
              f"200 for its own BYE (got {late})")

    recs = pos2.recordings()
    if env.check(bool(recs), "pos2 recorded what it received"):
        share, dur = h.wav_share_with(recs[0], 1000, [600, 800, HOLD])
        h.log(f"pos2 recording: {dur:.1f} s, 1 kHz in {share * 100:.0f}% of windows")
        env.check(dur >= 2.0 and share >= 0.6,
                  f"standby pos2 hears the caller's 1 kHz ({share * 100:.0f}% of {dur:.1f} s)")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "failover_kill")
