#!/usr/bin/env python3
"""integration.cancel_200_race: a position's 200 and a caller's CANCEL that cross
(B2B-CANCEL-a, R3261-9.1-b, R3261-9.2-a, R3261-13.2.2.4-a; NENA-4.6.8-a abandoned call).

1. The caller CANCELs after the 180. anchord answers it 200 + 487 and CANCELs the position;
   the sipp position answers the INVITE 200 after that CANCEL (crossed), before its 200 to
   the CANCEL. anchord must ACK that 200 (same CSeq number as the INVITE) and BYE the
   position; the caller gets 200 (CANCEL) and 487, never a 200 to its INVITE, and ACKs;
   the call is logged as abandoned.
2. The position answers at once and the caller's CANCEL reaches anchord just after
   anchord's 200 to it: the CANCEL gets 200 and nothing else (no 487, no CANCEL or BYE to
   the position); the caller ACKs the 200, both sides talk, and the caller's BYE ends both
   legs normally."""
import re

import harness as h

SIP, RTP_MIN = 5111, 33020
C1, C1_RTP, P1, P1_RTP = 20100, 20102, 20110, 20112
C2, C2_RTP, P2, P2_RTP = 20120, 20122, 20130, 20132


def flow_of(cap, names):
    """The SIP exchange among the named ports only (each part has its own parties)."""
    flow = h.sip_flow(cap, list(names), names)
    return [f for f in flow if f[3].sport in names and f[3].dport in names]


def msgs(cap, port):
    return sorted(h.sip_messages_to(cap, port), key=lambda p: p.t)


def crossed(env, cap, a):
    pos = h.position_sipp(env, "pos1", "uas_200_crosses_cancel", P1, P1_RTP, timeout_s=30)
    h.wait_position_up(a, cap, SIP, P1, "pos1")
    mark = a.mark()
    c = h.caller(env, "caller1", "caller_cancel", SIP, C1, C1_RTP)
    h.sipp_wait(env, c, 15)
    h.sipp_wait(env, pos, 15)
    flow = flow_of(cap, {SIP: "anchord", C1: "caller", P1: "pos1"})
    h.log_sip_flow(flow)
    lines = [(who, line) for _t, who, line, _p in flow]
    to_caller = [l for w, l in lines if w == "anchord->caller"]
    env.check("SIP/2.0 200 OK (CANCEL)" in to_caller and
              "SIP/2.0 487 Request Terminated (INVITE)" in to_caller,
              "caller got 200 (CANCEL) and 487 (INVITE)")
    env.check(not [l for l in to_caller if re.match(r"SIP/2\.0 2\d\d .*\(INVITE\)", l)],
              "caller never got a 2xx to its INVITE")
    at_pos = msgs(cap, P1)
    inv = [p for p in at_pos if p.payload.startswith(b"INVITE ")]
    cancel = [p for p in at_pos if p.payload.startswith(b"CANCEL ")]
    acks = [p for p in at_pos if p.payload.startswith(b"ACK ")]
    byes = [p for p in at_pos if p.payload.startswith(b"BYE ")]
    from_pos = [p for p in msgs(cap, SIP) if p.sport == P1]
    ok_inv = [p for p in from_pos if p.payload.startswith(b"SIP/2.0 200")
              and h.cseq_method(p.payload) == "INVITE"]
    ok_can = [p for p in from_pos if p.payload.startswith(b"SIP/2.0 200")
              and h.cseq_method(p.payload) == "CANCEL"]
    env.require(inv and cancel and ok_inv and ok_can,
                "position got INVITE and CANCEL and answered both 200")
    env.check(cancel[0].t < ok_inv[0].t < ok_can[0].t,
              "wire order: CANCEL, then the position's 200 (INVITE), then its 200 (CANCEL)")
    n = h.cseq_number(inv[0].payload)
    env.check(acks and h.cseq_number(acks[0].payload) == n and acks[0].t > ok_inv[0].t,
              f"anchord ACKed the crossed 200 (CSeq {n} ACK)")
    env.check(bool(byes) and byes[0].t > ok_inv[0].t and
              h.sip_header(byes[0].payload, "Call-ID") == h.sip_header(inv[0].payload, "Call-ID"),
              "anchord sent BYE to the position on that dialog")
    env.check(not [p for p in from_pos if p.payload.startswith(b"SIP/2.0 487")],
              "(the position sent no 487: its 200 was final)")
    env.check(a.find_log(r"abandoned call", mark) is not None, "call logged as abandoned")


def cancel_after_200(env, cap, a):
    pos = h.position_sipp(env, "pos2", "uas_answer", P2, P2_RTP, timeout_s=30)
    h.wait_position_up(a, cap, SIP, P2, "pos2")
    c = h.caller(env, "caller2", "caller_cancel_after_200", SIP, C2, C2_RTP, duration_ms=2000)
    h.sipp_wait(env, c, 15)
    h.sipp_wait(env, pos, 10)
    flow = flow_of(cap, {SIP: "anchord", C2: "caller", P2: "pos2"})
    h.log_sip_flow(flow)
    to_caller = [p for p in msgs(cap, C2)]
    lines = [h.sip_start_line(p.payload) + f" ({h.cseq_method(p.payload)})" for p in to_caller]
    env.check(lines.count("SIP/2.0 200 OK (CANCEL)") >= 1, "caller got 200 to its CANCEL "
              "(the INVITE transaction is Accepted, R6026-a): got "
              + ", ".join(l for l in lines if l.endswith("(CANCEL)")))
    env.check(not [l for l in lines if l.startswith("SIP/2.0 487")], "and no 487")
    env.check(not [l for l in lines if not l.startswith("SIP/2.0")],
              "no request (BYE, re-INVITE) to the caller")
    from_caller = [p for p in msgs(cap, SIP) if p.sport == C2]
    t_cancel = [p.t for p in from_caller if p.payload.startswith(b"CANCEL ")]
    t_ok = [p.t for p in to_caller if p.payload.startswith(b"SIP/2.0 200")
            and h.cseq_method(p.payload) == "INVITE"]
    env.require(t_cancel and t_ok, "the CANCEL and the 200 are on the wire")
    env.check(t_ok[0] < t_cancel[0], "anchord's 200 left before the CANCEL arrived")
    at_pos = [h.sip_start_line(p.payload) for p in msgs(cap, P2)
              if h.cseq_method(p.payload) != "OPTIONS"]
    env.check(not [l for l in at_pos if l.startswith("CANCEL")], "no CANCEL to the position")
    byes = [p for p in msgs(cap, P2) if p.payload.startswith(b"BYE ")]
    t_bye = [p.t for p in from_caller if p.payload.startswith(b"BYE ")]
    env.check(bool(byes) and t_bye and byes[0].t > t_bye[0],
              "the position's only BYE follows the caller's BYE")
    heard = h.rtp_tone_windows(h.rtp_stream(cap, C2_RTP), [600])
    n600 = sum(1 for w in heard if 600 in w.tones)
    env.check(n600 >= 25, f"caller heard the position (600 Hz) in {n600} windows")


def test(env):
    cap = h.start_capture(env, [SIP, C1, P1, C2, P2, C2_RTP])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19,
                           [h.position("pos1", P1), h.position("pos2", P2)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    crossed(env, cap, a)
    a.wait_log(r"position down\b.*POSITION=pos1\b", 5)  # its sipp has stopped
    cancel_after_200(env, cap, a)
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "cancel_200_race")
