#!/usr/bin/env python3
"""integration.reject_next_position: a position that rejects the call (486) is skipped
and the call goes to the next idle position (contract: "a rejection -> next position");
the rejection never reaches the caller, whose only final response is a 200.
pos1: sipp answering 486 (and getting its ACK); pos2: sipp answering 200."""
import harness as h

SIP, CALLER_SIP, CALLER_RTP = 5084, 16400, 16402
POS1, POS1_RTP, POS2, POS2_RTP = 16410, 16412, 16420, 16422
RTP_MIN = 31860


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_SIP, POS1, POS2])
    p1 = h.position_sipp(env, "pos1", "uas_reject", POS1, POS1_RTP, timeout_s=30)
    p2 = h.position_sipp(env, "pos2", "uas_answer", POS2, POS2_RTP, timeout_s=30)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19,
                           [h.position("pos1", POS1), h.position("pos2", POS2)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS1, "pos1")
    h.wait_position_up(a, cap, SIP, POS2, "pos2")
    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP, duration_ms=2000)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, p1, 10)
    h.sipp_wait(env, p2, 10)
    inv1 = [p for p in h.sip_messages_to(cap, POS1) if p.payload.startswith(b"INVITE ")]
    ack1 = [p for p in h.sip_messages_to(cap, POS1) if p.payload.startswith(b"ACK ")]
    inv2 = [p for p in h.sip_messages_to(cap, POS2) if p.payload.startswith(b"INVITE ")]
    env.check(bool(inv1) and bool(ack1), "pos1 was offered the call and its 486 was ACKed")
    env.check(bool(inv2) and (not inv1 or inv2[0].t > inv1[0].t),
              "pos2 was offered the call after pos1's rejection")
    finals = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, CALLER_SIP)
              if p.payload.startswith(b"SIP/2.0 ") and h.cseq_method(p.payload) == "INVITE"
              and not p.payload.startswith(b"SIP/2.0 1")]
    h.log(f"caller's final responses to its INVITE: {finals}")
    env.check(finals and all(f.startswith("SIP/2.0 200") for f in finals),
              "the caller's only final response is 200 (pos1's 486 is not relayed)")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "reject_next_position")
