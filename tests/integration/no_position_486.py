#!/usr/bin/env python3
"""integration.no_position_486: with no idle healthy position the caller gets 486 Busy
Here so the ESRP reroutes (NENA-4.2.1.3-a; invariant 1: a written policy before
answer), never 401/407 (NENA-3.1.4-a).

(a) Both positions' URIs have nothing listening: anchord marks them down after
    misses x heartbeat (logged "position down POSITION=..."); a call gets 486 and no
    INVITE is sent to a down position.
(b) The only position is busy with a call: a second call gets 486, the first call
    completes normally and the position never sees a second INVITE.
"""
import harness as h

SIP_A, SIP_B = 5078, 5080
CALLER1_SIP, CALLER1_RTP, CALLER2_SIP, CALLER2_RTP = 15800, 15802, 15840, 15842
DEAD1, DEAD2, POS, POS_RTP = 15810, 15820, 15830, 15850


def part_a(env):
    cap = h.start_capture(env, [SIP_A, CALLER1_SIP, DEAD1, DEAD2])
    cfg = h.anchord_config(SIP_A, 31700, 31719, [
        h.position("pos1", DEAD1, standby="pos2"), h.position("pos2", DEAD2, standby="pos1")],
        heartbeat_ms=100, misses=3, queue_max_calls=0)
    a = h.start_anchord(env, cfg, name="anchord-a")
    for p in ("pos1", "pos2"):
        a.wait_log(rf"position down\b.*POSITION={p}\b", 5)
    c = h.caller(env, "caller-a", "caller_expect_486", SIP_A, CALLER1_SIP, CALLER1_RTP)
    h.sipp_wait(env, c, 15)
    starts = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, CALLER1_SIP)]
    h.log(f"(a) caller received: {starts}")
    env.check(any(s.startswith("SIP/2.0 486") for s in starts), "(a) caller got 486")
    env.check(not any(s.startswith(("SIP/2.0 401", "SIP/2.0 407")) for s in starts),
              "(a) no 401/407")
    inv = [p for p in h.sip_messages_to(cap, DEAD1) + h.sip_messages_to(cap, DEAD2)
           if p.payload.startswith(b"INVITE ")]
    env.check(not inv, f"(a) no INVITE sent to a down position ({len(inv)})")
    env.check(a.stop() == 0, "(a) anchord exits 0 on SIGTERM")


def part_b(env):
    cap = h.start_capture(env, [SIP_B, CALLER2_SIP, POS])
    pos = h.position_sipp(env, "pos1", "uas_answer", POS, POS_RTP, timeout_s=40)
    cfg = h.anchord_config(SIP_B, 31720, 31739, [h.position("pos1", POS)],
                           rtp_timeout_ms=60000, queue_max_calls=0)
    a = h.start_anchord(env, cfg, name="anchord-b")
    h.wait_position_up(a, cap, SIP_B, POS, "pos1")
    first = h.caller(env, "caller-b1", "caller_plain", SIP_B, CALLER1_SIP + 20, CALLER1_RTP + 20,
                     duration_ms=6000, timeout_s=30)
    # The first call is up once the position has been ACKed.
    h.wait_until(lambda: any(p.payload.startswith(b"ACK ") for p in cap.get(POS)), 10,
                 what="first call answered (ACK at the position)")
    second = h.caller(env, "caller-b2", "caller_expect_486", SIP_B, CALLER2_SIP, CALLER2_RTP)
    h.sipp_wait(env, second, 15)
    env.check(first.alive(), "(b) the first call is still up while the second is rejected")
    h.sipp_wait(env, first, 20)
    h.sipp_wait(env, pos, 10)
    starts = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, CALLER2_SIP)]
    h.log(f"(b) second caller received: {starts}")
    env.check(any(s.startswith("SIP/2.0 486") for s in starts), "(b) second caller got 486")
    inv = {h.sip_header(p.payload, "Call-ID") for p in h.sip_messages_to(cap, POS)
           if p.payload.startswith(b"INVITE ")}
    env.check(len(inv) == 1, f"(b) the busy position got INVITEs of exactly one call ({inv})")
    env.check(a.stop() == 0, "(b) anchord exits 0 on SIGTERM")


def test(env):
    part_a(env)
    part_b(env)


if __name__ == "__main__":
    h.main(test, "no_position_486")
