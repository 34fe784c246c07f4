#!/usr/bin/env python3
"""integration.bye_from_caller: the caller hangs up; anchord answers the caller's BYE
and sends its own BYE to the position, which answers 200 (R3725-7-a).
Both sipp scenarios (caller: INVITE/ACK/talk/BYE; position: answer, stream, wait for
BYE) must complete; the caller must receive the 200 for its BYE."""
import harness as h

SIP, CALLER_SIP, CALLER_RTP, POS, POS_RTP = 5076, 15600, 15602, 15610, 15620
RTP_MIN = 31500


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_SIP, POS])
    pos = h.position_sipp(env, "pos1", "uas_answer", POS, POS_RTP, timeout_s=30)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", POS)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS, "pos1")
    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP, duration_ms=2000)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, pos, 10)
    byes = [p for p in h.sip_messages_to(cap, POS) if p.payload.startswith(b"BYE ")]
    env.check(bool(byes), f"position received BYE ({len(byes)})")
    oks = [p for p in h.sip_messages_to(cap, SIP) if p.sport == POS
           and p.payload.startswith(b"SIP/2.0 200") and h.cseq_method(p.payload) == "BYE"]
    env.check(bool(oks), "position answered anchord's BYE with 200")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "bye_from_caller")
