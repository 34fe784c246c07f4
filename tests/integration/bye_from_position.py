#!/usr/bin/env python3
"""integration.bye_from_position: the position hangs up; anchord answers its BYE and
sends its own BYE to the caller, which answers 200 (R3725-7-a; invariant 1 allows it:
the call-taker ended the call, not the server).
Both sipp scenarios (position: answer, stream, BYE after -d; caller: wait for BYE)
must complete."""
import harness as h

SIP, CALLER_SIP, CALLER_RTP, POS, POS_RTP = 5077, 15700, 15702, 15710, 15720
RTP_MIN = 31600


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_SIP, POS])
    pos = h.position_sipp(env, "pos1", "uas_answer_bye", POS, POS_RTP, duration_ms=2000,
                          timeout_s=30)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", POS)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS, "pos1")
    c = h.caller(env, "caller", "caller_wait_bye", SIP, CALLER_SIP, CALLER_RTP, timeout_s=20)
    h.sipp_wait(env, pos, 20)
    h.sipp_wait(env, c, 10)
    byes = [p for p in h.sip_messages_to(cap, CALLER_SIP) if p.payload.startswith(b"BYE ")]
    env.check(bool(byes), f"caller received BYE ({len(byes)})")
    oks = [p for p in h.sip_messages_to(cap, POS) if p.payload.startswith(b"SIP/2.0 200")
           and h.cseq_method(p.payload) == "BYE"]
    env.check(bool(oks), "position got 200 for its BYE")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "bye_from_position")
