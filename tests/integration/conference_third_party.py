#!/usr/bin/env python3
"""integration.conference_third_party: `anchorctl add-party` brings a third party into an
answered call's bridge; mix-minus: everyone hears everyone else, nobody hears themself
(NENA-4.7 conference; DESIGN: one mixed stream per party).

A sipp caller (1 kHz) is answered by a baresip position (600 Hz). `anchorctl --json
add-party ID sip:party@127.0.0.1:P` INVITEs a baresip third party (800 Hz, auto-answer, not a
configured position). Proves by Goertzel on what each one actually hears:
  - the caller (capture at its RTP port): 600 Hz alone before the party joins, then 600 and
    800 Hz together in the same 20 ms windows, never its own 1 kHz;
  - the position (its recording): 1000 and 800 Hz together, and not its own 600 Hz;
  - the party (its recording): 1000 and 600 Hz together, and not its own 800 Hz;
  - GET /v1/calls/ID lists the three parties connected; anchorctl printed {"leg": N};
  - the caller's BYE ends the call: BYE to the position and to the party.
"""
import json

import harness as h

SIP, RTP_MIN, RTP_MAX, API = 5105, 18280, 18299, f"{h.LOCAL}:18105"
CALLER_SIP, CALLER_RTP = 19400, 19402
POS, POS_RTP = 19410, 19420
PARTY, PARTY_RTP = 19450, 19460
CALL_MS = 10000
FREQS = [440, 600, 800, 1000]


def answered_call():
    status, body = h.api_get(API, "/v1/calls")
    calls = [c for c in (body or {}).get("calls", []) if c.get("state") == "answered"]
    return calls[0] if status == 200 and calls else None


def both_heard(cap, a, b, seconds):
    """True once the last arrivals at the caller's port hold `seconds` of windows with a and
    b heard together."""
    need = int(seconds / 0.020)
    wins = h.rtp_tone_windows(h.rtp_stream(cap, CALLER_RTP)[-need * 2:], [a, b])
    return sum(1 for w in wins if a in w.tones and b in w.tones) >= need


def add_party(env, call_id):
    party_uri = f"sip:party@{h.LOCAL}:{PARTY}"
    r = h.anchorctl(env, API, "--json", "add-party", str(call_id), party_uri)
    try:
        leg = json.loads(r.stdout).get("leg")
    except (ValueError, AttributeError):
        leg = None
    env.require(r.returncode == 0 and isinstance(leg, int),
                f"anchorctl add-party exits 0 and prints the new leg ({r.returncode}, {leg})")
    return leg


def check_caller(env, cap, t_add):
    pk = h.rtp_stream(cap, CALLER_RTP)
    t_bye = h.caller_bye_time(cap, SIP, CALLER_SIP, default=pk[-1].t if pk else 0)
    wins = h.rtp_tone_windows([r for r in pk if r.t < t_bye - 0.05], FREQS)
    h.log(f"caller hears: {h.tone_timeline(wins, [])}")
    before = [w for w in wins if w.t < t_add]
    after = [w for w in wins if w.t >= t_add]
    env.check(sum(1 for w in before if w.tones == {600}) >= 25,
              "caller hears the position's 600 Hz alone before the party joins")
    mixed = sum(1 for w in after if w.tones == {600, 800})
    env.check(mixed >= 150, f"caller hears 600 + 800 Hz together after add-party ({mixed} "
              f"windows of 20 ms of {len(after)}, need >= 150 = 3 s)")
    env.check(not any(1000 in w.tones for w in wins), "caller never hears its own 1 kHz")
    h.check_rtp_continuity(env, pk, "anchord->caller RTP")


def check_recording(env, who, recs, a, b, own, min_share):
    if not env.check(len(recs) == 1, f"{who} recorded one call ({recs})"):
        return
    share, dur = h.wav_both_share(recs[0], a, b, [own])
    wins, _ = h.wav_tone_windows(recs[0], [own])
    own_share = sum(1 for _t, s in wins if own in s) / max(len(wins), 1)
    h.log(f"{who} recording: {dur:.1f} s, {a}+{b} Hz together in {share * 100:.0f}% of "
          f"windows, own {own} Hz in {own_share * 100:.0f}%")
    env.check(share >= min_share, f"{who} hears {a} and {b} Hz together ({share * 100:.0f}% "
              f"of {dur:.1f} s, need >= {min_share * 100:.0f}%)")
    env.check(own_share <= 0.02, f"{who} does not hear its own {own} Hz (mix-minus, "
              f"{own_share * 100:.0f}%)")


def test(env):
    pos = h.Baresip(env, "pos1", POS, 600, POS_RTP)
    party = h.Baresip(env, "party", PARTY, 800, PARTY_RTP)
    pos.wait_ready()
    party.wait_ready()
    cap = h.start_capture(env, [SIP, CALLER_SIP, CALLER_RTP, POS, PARTY])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS, location="none")],
                           control_listen=API)
    a = h.start_anchord(env, cfg)
    h.wait_api_up(API)
    h.wait_position_up(a, cap, SIP, POS, "pos1")

    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP,
                 duration_ms=CALL_MS, timeout_s=40)
    call = h.wait_until(answered_call, 10, interval=0.1, what="an answered call in /v1/calls")
    h.wait_hearing(cap, CALLER_RTP, 600, 1.0, timeout=10)
    t_add = h.time.time()
    add_party(env, call["id"])
    h.wait_until(lambda: both_heard(cap, 600, 800, 1.0), 10, interval=0.1,
                 what="the caller hearing 600 + 800 Hz together for 1 s")
    status, one = h.api_get(API, f"/v1/calls/{call['id']}")
    parties = sorted((p.get("kind"), p.get("state")) for p in (one or {}).get("parties", []))
    env.check(status == 200 and parties == [("caller", "connected"), ("party", "connected"),
                                            ("position", "connected")],
              f"GET /v1/calls/{call['id']}: three connected parties {parties}")
    h.sipp_wait(env, c, 30)
    for name, port in (("position", POS), ("party", PARTY)):
        h.wait_until(lambda: any(p.payload.startswith(b"BYE ") for p in cap.get(port)), 5,
                     what=f"the {name} getting a BYE after the caller's")
    h.log("the caller's BYE ended the position's and the party's legs")
    pos.proc.kill()  # flushes the WAV files
    party.proc.kill()

    check_caller(env, cap, t_add)
    check_recording(env, "pos1", pos.recordings(), 1000, 800, 600, 0.3)
    check_recording(env, "party", party.recordings(), 1000, 600, 800, 0.6)
    env.check(a.stop() == 0, "anchord exits 0 on SIGTERM")


if __name__ == "__main__":
    h.main(test, "conference_third_party")
