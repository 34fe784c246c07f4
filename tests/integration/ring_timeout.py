#!/usr/bin/env python3
"""integration.ring_timeout: a position that rings and never answers is CANCELed after
ring_timeout_ms and the call goes to the next idle position (contract: "no answer
within ring_timeout_ms -> next position"; B2B-CANCEL-a; NENA-3.1.1.1-a: the caller only
sees provisional responses meanwhile).

pos1: sipp that sends 180 and expects CANCEL (answers 200 + 487, gets ACK).
pos2: sipp that answers. The caller (sipp) must get exactly one final response, a 200,
and complete its call; pos1's CANCEL must come ring_timeout_ms (1000) after its INVITE
(checked within 1000..2000 ms)."""
import harness as h

SIP, CALLER_SIP, CALLER_RTP = 5083, 15960, 15962
POS1, POS1_RTP, POS2, POS2_RTP = 15970, 15972, 15980, 15982
RTP_MIN = 31840
RING_MS = 1000


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_SIP, POS1, POS2])
    p1 = h.position_sipp(env, "pos1", "uas_ring_cancel", POS1, POS1_RTP, timeout_s=30)
    p2 = h.position_sipp(env, "pos2", "uas_answer", POS2, POS2_RTP, timeout_s=30)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19,
                           [h.position("pos1", POS1), h.position("pos2", POS2)],
                           ring_timeout_ms=RING_MS, rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS1, "pos1")
    h.wait_position_up(a, cap, SIP, POS2, "pos2")
    c = h.caller(env, "caller", "caller_plain", SIP, CALLER_SIP, CALLER_RTP, duration_ms=2000)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, p1, 10)
    h.sipp_wait(env, p2, 10)

    at1 = h.sip_messages_to(cap, POS1)
    inv = [p for p in at1 if p.payload.startswith(b"INVITE ")]
    can = [p for p in at1 if p.payload.startswith(b"CANCEL ")]
    if env.check(bool(inv) and bool(can), "pos1 got an INVITE and then a CANCEL"):
        dt = (can[0].t - inv[0].t) * 1000
        h.log(f"pos1 rang for {dt:.0f} ms")
        env.check(RING_MS <= dt + 5 <= 2 * RING_MS, f"CANCEL after ring_timeout_ms "
                  f"({dt:.0f} ms, expected {RING_MS}..{2 * RING_MS})")
    inv2 = [p for p in h.sip_messages_to(cap, POS2) if p.payload.startswith(b"INVITE ")]
    env.check(bool(inv2) and (not inv or inv2[0].t > inv[0].t),
              "pos2 was offered the call after pos1")
    finals = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, CALLER_SIP)
              if p.payload.startswith(b"SIP/2.0 ") and h.cseq_method(p.payload) == "INVITE"
              and not p.payload.startswith(b"SIP/2.0 1")]
    h.log(f"caller's final responses to its INVITE: {finals}")
    env.check(finals and all(f.startswith("SIP/2.0 200") for f in finals),
              "the caller's only final response is 200")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "ring_timeout")
