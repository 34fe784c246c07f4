#!/usr/bin/env python3
"""integration.cancel_before_answer: the caller CANCELs while the position rings
(B2B-CANCEL-a, R3261-9.1-a, R3261-9.2-a; a 9-1-1 abandoned call).

A sipp position sends 180 and never answers; the sipp caller sends CANCEL after the 180.
Proves: the caller gets 200 for the CANCEL and 487 for the INVITE and ACKs; the position
gets a CANCEL that matches anchord's INVITE (same Request-URI, Call-ID, From tag, CSeq
number, top Via branch), answers 200 + 487 and gets the ACK; both scenarios complete.
"""
import re
import time

import harness as h

SIP, CALLER_SIP, CALLER_RTP, POS, POS_RTP = 5075, 15500, 15502, 15510, 15520
RTP_MIN = 31400


def branch(msg):
    v = h.sip_header(msg, "Via") or ""
    m = re.search(r";\s*branch=([^;,\s]+)", v)
    return m.group(1) if m else None


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_SIP, POS])
    pos = h.position_sipp(env, "pos1", "uas_ring_cancel", POS, POS_RTP, timeout_s=30)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", POS)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS, "pos1")
    c = h.caller(env, "caller", "caller_cancel", SIP, CALLER_SIP, CALLER_RTP)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, pos, 15)
    # The capture is read by a Python thread from an AF_PACKET socket that sees all of lo: with
    # other traffic on lo (a benchmark's RTP load) it runs behind the peers, so the checks wait
    # until it has seen the exchange's last messages (the ACK to the position, the 487 to the
    # caller) instead of reading it the instant sipp exits.
    t0 = time.monotonic()
    h.wait_until(lambda: any(p.payload.startswith(b"ACK ") for p in h.sip_messages_to(cap, POS))
                 and any(p.payload.startswith(b"SIP/2.0 487")
                         for p in h.sip_messages_to(cap, CALLER_SIP)),
                 10, what="the capture to hold the position's ACK and the caller's 487")
    h.log(f"the capture caught up {time.monotonic() - t0:.3f} s after the peers ended")

    to_caller = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, CALLER_SIP)]
    h.log(f"caller received: {to_caller}")
    env.check(any(s.startswith("SIP/2.0 487") for s in to_caller), "caller got 487")
    at_pos = h.sip_messages_to(cap, POS)
    inv = [p.payload for p in at_pos if p.payload.startswith(b"INVITE ")]
    can = [p.payload for p in at_pos if p.payload.startswith(b"CANCEL ")]
    ack = [p.payload for p in at_pos if p.payload.startswith(b"ACK ")]
    env.require(bool(inv) and bool(can), f"position got INVITE ({len(inv)}) and CANCEL "
                f"({len(can)})")
    i, k = inv[0], can[0]
    env.check(i.split(b" ")[1] == k.split(b" ")[1], "CANCEL Request-URI = INVITE's")
    env.check(h.sip_header(i, "Call-ID") == h.sip_header(k, "Call-ID"), "CANCEL Call-ID = INVITE's")
    env.check(branch(i) is not None and branch(i) == branch(k),
              f"CANCEL top Via branch = INVITE's ({branch(k)} / {branch(i)})")
    ci = (h.sip_header(i, "CSeq") or "").split()
    ck = (h.sip_header(k, "CSeq") or "").split()
    env.check(ci[:1] == ck[:1] and ck[1:] == ["CANCEL"], f"CANCEL CSeq {ck} matches INVITE {ci}")
    ftag = lambda m: re.search(r"tag=([^;>\s]+)", h.sip_header(m, "From") or "")
    env.check(ftag(i) and ftag(k) and ftag(i).group(1) == ftag(k).group(1),
              "CANCEL From tag = INVITE's")
    env.check(bool(ack), "position got the ACK for its 487")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "cancel_before_answer")
