#!/usr/bin/env python3
"""integration.call_audio: an NG9-1-1 call (sipp caller, multipart SDP + PIDF-LO,
urn:service:sos) answered by a baresip position through anchord; audio both ways.

Proves (by Goertzel tone detection on what is actually heard):
  - the caller gets 100 Trying (R3261-17.2.1-a) and a 200 with application/sdp that
    points at anchord's media address, not the position's (media anchoring);
  - the answering position hears the caller's 1 kHz (its sndfile recording);
  - the caller hears the position's 600 Hz (RTP captured at the caller's media port),
    as one continuous RTP stream (DESIGN invariant 2);
  - with location = "none" the position's INVITE is plain SDP with no Geolocation
    (NENA-3.1.13-a is covered by location_multipart);
  - no 401/407 (NENA-3.1.4-a).
"""
import re

import harness as h

SIP, CALLER_SIP, CALLER_RTP = 5071, 15100, 15102
POS1, POS2 = 15010, 15020
RTP_MIN, RTP_MAX = 31000, 31019


def test(env):
    pos1 = h.Baresip(env, "pos1", POS1, 600, 16000)
    pos2 = h.Baresip(env, "pos2", POS2, 800, 16020)
    pos1.wait_ready()
    pos2.wait_ready()
    cap = h.start_capture(env, [SIP, CALLER_SIP, CALLER_RTP, POS1, POS2])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [
        h.position("pos1", POS1, standby="pos2", location="none"),
        h.position("pos2", POS2, standby="pos1", location="none")])
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS1, "pos1")
    h.wait_position_up(a, cap, SIP, POS2, "pos2")

    c = h.caller(env, "caller", "caller_ng911", SIP, CALLER_SIP, CALLER_RTP, duration_ms=6000)
    try:
        h.wait_hearing(cap, CALLER_RTP, 600, 2.0, timeout=10)
    except h.TestFailure as e:
        env.check(False, f"caller hears the position: {e}")
    h.sipp_wait(env, c, 30)
    pos1.proc.kill()  # flushes the WAV files
    pos2.proc.kill()

    # SIP towards the caller.
    to_caller = h.sip_messages_to(cap, CALLER_SIP)
    starts = [h.sip_start_line(p.payload) for p in to_caller]
    h.log(f"caller received: {starts}")
    env.check(any(s.startswith("SIP/2.0 100") for s in starts), "caller got 100 Trying")
    env.check(not any(s.startswith(("SIP/2.0 401", "SIP/2.0 407")) for s in starts),
              "no 401/407 challenge (NENA-3.1.4-a)")
    ok200 = [p.payload for p in to_caller if p.payload.startswith(b"SIP/2.0 200")
             and h.cseq_method(p.payload) == "INVITE"]
    if env.check(bool(ok200), "caller got 200 OK for the INVITE"):
        ctype = (h.sip_header(ok200[0], "Content-Type") or "").lower()
        env.check(ctype.startswith("application/sdp"), f"200 Content-Type is application/sdp "
                  f"({ctype!r})")
        body = h.sip_body(ok200[0]).decode("utf-8", "replace")
        ports = [int(x) for x in re.findall(r"(?m)^m=audio (\d+)", body)]
        env.check(ports and RTP_MIN <= ports[0] <= RTP_MAX,
                  f"200 SDP offers anchord's media port {ports} (range {RTP_MIN}-{RTP_MAX})")

    # The position's INVITE (location = "none": SDP only, no Geolocation).
    invites = [p.payload for p in h.sip_messages_to(cap, POS1) + h.sip_messages_to(cap, POS2)
               if p.payload.startswith(b"INVITE ")]
    if env.check(bool(invites), f"a position got an INVITE ({len(invites)})"):
        inv = invites[0]
        env.check((h.sip_header(inv, "Content-Type") or "").lower().startswith("application/sdp"),
                  "position INVITE body is application/sdp (location=none)")
        env.check(h.sip_header(inv, "Geolocation") is None,
                  "position INVITE has no Geolocation (location=none)")
        env.check(b"pidf" not in h.sip_body(inv).lower(), "position INVITE has no PIDF-LO")

    # What the caller heard.
    pk = h.rtp_stream(cap, CALLER_RTP)
    wins = h.rtp_tone_windows(pk, [600, 800, 1000, 440])
    h.log(f"caller hears: {h.tone_timeline(wins, [])}")
    n600 = sum(1 for w in wins if 600 in w.tones)
    n800 = sum(1 for w in wins if 800 in w.tones)
    answered = "pos1" if n600 >= n800 else "pos2"
    tone = 600 if answered == "pos1" else 800
    heard = max(n600, n800)
    env.check(heard >= 150, f"caller heard the answering position ({answered}, {tone} Hz) in "
              f"{heard} windows of {len(wins)} (need >= 150 = 3 s)")
    env.check(not any(1000 in w.tones for w in wins),
              "caller does not hear its own 1 kHz back (mix-minus)")
    if heard:
        first = next(i for i, w in enumerate(wins) if tone in w.tones)
        t_bye = h.caller_bye_time(cap, SIP, CALLER_SIP, default=wins[-1].t)
        gap, _ = h.longest_gap(wins[first:], lambda w: tone in w.tones,
                               t_from=wins[first].t, t_to=t_bye - 0.04)
        env.check(gap < 0.1, f"no hole in the position's audio once it started "
                  f"(longest {gap * 1000:.0f} ms)")
    h.check_rtp_continuity(env, pk, "anchord->caller RTP")

    # What the answering position heard.
    pos = pos1 if answered == "pos1" else pos2
    recs = pos.recordings()
    if env.check(bool(recs), f"{answered} recorded what it received ({recs})"):
        share, dur = h.wav_share_with(recs[0], 1000, [600, 800])
        h.log(f"{answered} recording: {dur:.1f} s, 1 kHz in {share * 100:.0f}% of windows")
        env.check(dur >= 3.0 and share >= 0.6,
                  f"{answered} hears the caller's 1 kHz ({share * 100:.0f}% of {dur:.1f} s)")
    rc = a.stop()
    env.check(rc == 0, f"anchord exits 0 on SIGTERM (rc={rc})")


if __name__ == "__main__":
    h.main(test, "call_audio")
