#!/usr/bin/env python3
"""integration.tty_help_911_fire: a TTY caller types "HELP 911 FIRE" (Baudot, 45.45 bit/s,
1400/1800 Hz FSK with LTRS/FIGS shifts, in PCMU) and both anchord and the call-taker read it
(ADA-35.162, TTY-media-b).

A sipp caller streams the Baudot audio (generated here by media_tools.baudot_audio, written
as the raw mu-law file sipp plays); a sipp position answers (600 Hz). Proves:
  - anchord decodes the text: one `TTY: HELP 911 FIRE` line event with TTY_TEXT (stderr form;
    journald adds the TTY line's MESSAGE_ID) and `anchorctl --json call ID` shows it in
    tty_text;
  - the position's received audio (RTP captured at its media port), decoded by an independent
    Python Baudot decoder, also reads "HELP 911 FIRE";
  - the tones reach the position unchanged: the caller's TTY payloads arrive at the position
    byte for byte, in order (DESIGN invariant 3: one party, same codec, bit-exact).
"""
import json
import re

import harness as h
import media_tools as m

SIP, API = 5134, "127.0.0.1:18134"
CALLER_SIP, CALLER_RTP = 21400, 21402
POS_SIP, POS_RTP = 21410, 21412
RTP_MIN, RTP_MAX = 34400, 34419
TEXT = "HELP 911 FIRE"


def write_caller_audio(env):
    """caller_tone.pcmu (the file caller_plain streams): 1 s silence, the TTY text ending
    with CR LF, then silence for the rest of the call (one loop only)."""
    samples = [0] * 8000 + m.baudot_audio(TEXT + "\r\n") + [0] * 8000 * 12
    frames = m.pcmu_frames(samples)
    with open(env.path("caller_tone.pcmu"), "wb") as f:
        f.write(b"".join(frames))
    return frames


def test(env):
    frames = write_caller_audio(env)
    tty_payloads = [f for f in frames if f != b"\xff" * m.FRAME]
    h.log(f"TTY audio: {len(tty_payloads)} non-silent frames, self-check decode "
          f"{m.baudot_decode(sum((h.decode_g711(f, 0) for f in frames), []))!r}")
    m.require_free_ports(env, [SIP, CALLER_SIP, CALLER_RTP, POS_SIP, POS_RTP])
    cap = h.start_capture(env, [SIP, CALLER_SIP, CALLER_RTP, POS_SIP, POS_RTP] +
                          list(range(RTP_MIN, RTP_MAX + 1)))
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS_SIP)],
                           rtp_timeout_ms=2000, control_listen=API)
    a = h.start_anchord(env, cfg)
    h.wait_api_up(API)
    pos = h.position_sipp(env, "pos1", "uas_answer", POS_SIP, POS_RTP, timeout_s=40)
    h.wait_position_up(a, cap, SIP, POS_SIP, "pos1")

    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP, duration_ms=8000)
    try:
        line = a.wait_log(r"TTY: ", timeout=12)
    except h.TestFailure as e:
        line = None
        env.check(False, f"anchord logged a TTY line: {e}")
        h.print_anchord_tail(a)
    if line:
        # stderr leaves MESSAGE_ID out (journald only); TTY_TEXT is the line's field.
        env.check(re.search(r"TTY: HELP 911 FIRE\b.*TTY_TEXT=HELP 911 FIRE$", line) is not None,
                  f"anchord's TTY line event reads {TEXT!r} (message and TTY_TEXT)")
    check_api_text(env)
    h.sipp_wait(env, c, 30)
    h.sipp_wait(env, pos, 15)
    lines = a.find_all(r"TTY: ")
    env.check(len(lines) == 1, f"exactly one TTY line over the call (no stray text): {lines}")
    check_position_audio(env, cap, tty_payloads)
    m.write_pcap(env.path("capture.pcap"), cap.get())
    env.check(a.stop() == 0, "anchord exits 0 on SIGTERM")


def check_api_text(env):
    status, body = h.api_get(API, "/v1/calls")
    calls = (body or {}).get("calls", [])
    if not env.check(status == 200 and len(calls) == 1, f"GET /v1/calls lists the call "
                     f"({status}, {len(calls)})"):
        return
    r = h.anchorctl(env, API, "--json", "call", str(calls[0]["id"]))
    try:
        text = json.loads(r.stdout).get("tty_text", "")
    except ValueError:
        text = None
    env.check(r.returncode == 0 and text is not None and TEXT in text,
              f"anchorctl --json call {calls[0]['id']} shows tty_text {text!r}")


def check_position_audio(env, cap, tty_payloads):
    to_pos = [r for r in m.rtp_all(cap, POS_RTP) if r.pt == 0]
    in_order = sorted(to_pos, key=lambda r: r.seq)  # one SSRC, no wrap in 10 s
    samples = []
    for r in in_order:
        samples.extend(h.decode_g711(r.payload, r.pt))
    text = m.baudot_decode(samples)
    h.log(f"position received {len(to_pos)} packets; Python Baudot decoder reads {text!r}")
    env.check(TEXT in text, f"the position's audio decodes to {TEXT!r} ({text!r})")
    got = b"".join(r.payload for r in in_order)
    sent = b"".join(tty_payloads)
    env.check(len(sent) > 0 and sent in got,
              f"the caller's {len(tty_payloads)} TTY frames reach the position byte for byte, "
              "in order")


if __name__ == "__main__":
    h.main(test, "tty_help_911_fire")
