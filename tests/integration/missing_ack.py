#!/usr/bin/env python3
"""integration.missing_ack: anchord's own 2xx retransmission and the BYE after 64*T1 on the
caller's leg, and ACKs for a position's retransmitted 2xx.

1. `sip.t1_ms = 200`. A sipp caller never ACKs the 200. anchord (the UAS core) retransmits
   the 200 at T1, 2T1, 4T1 ... doubling up to T2 = 4 s (R3261-13.3.1.4-a); the intervals
   are measured on the wire (capture on lo) within +-80 ms (+-10 % above 800 ms). At 64*T1 =
   12.8 s it sends the caller a BYE with `Reason: SIP;cause=408` and BYEs the position
   (R3261-13.3.1.4-b); no 200 follows the BYE.
2. A sipp position sends its 200 again after the ACK: anchord ACKs both, with the INVITE's
   CSeq number (R3261-13.2.2.4-a); the call goes on and ends normally with the caller's BYE."""
import re

import harness as h

SIP, RTP_MIN = 5110, 33000
CALLER, CALLER_RTP, POS, POS_RTP = 20000, 20002, 20010, 20012
CALLER2, CALLER2_RTP, POS2, POS2_RTP = 20020, 20022, 20030, 20032
T1_MS = 200


def expected_gaps():
    gaps, t, g = [], 0, T1_MS
    while t + g < 64 * T1_MS:
        gaps.append(g)
        t += g
        g = min(2 * g, 4000)
    return gaps, 64 * T1_MS - t  # the last stretch ends with the BYE


def no_ack(env, cap, a):
    pos = h.position_sipp(env, "pos1", "uas_answer", POS, POS_RTP, timeout_s=40)
    h.wait_position_up(a, cap, SIP, POS, "pos1")
    c = h.sipp(env, "caller", "caller_no_ack", remote_port=SIP, local_port=CALLER,
               media_port=CALLER_RTP, timeout_s=30, extra=["-m", "1"])
    h.sipp_wait(env, c, 25)
    h.sipp_wait(env, pos, 10)
    h.log_sip_flow(h.sip_flow(cap, [SIP, CALLER, POS],
                              {SIP: "anchord", CALLER: "caller", POS: "pos1"})[-30:])
    to_caller = sorted(h.sip_messages_to(cap, CALLER), key=lambda p: p.t)
    oks = [p for p in to_caller if p.payload.startswith(b"SIP/2.0 200")
           and h.cseq_method(p.payload) == "INVITE"]
    byes = [p for p in to_caller if p.payload.startswith(b"BYE ")]
    env.require(len(oks) >= 2 and byes, f"caller got the 200 {len(oks)} times and a BYE "
                f"({len(byes)})")
    env.check(len({p.payload for p in oks}) == 1, "every retransmission is the same 200")
    times = [p.t for p in oks] + [byes[0].t]
    gaps_ms = [round((b - a) * 1000) for a, b in zip(times, times[1:])]
    want, last = expected_gaps()
    h.log(f"200 intervals and BYE (ms): {gaps_ms}; expected {want} then {last}")
    env.check(len(gaps_ms) == len(want) + 1,
              f"{len(oks)} transmissions of the 200 ({len(want) + 1} expected)")
    for got, exp in zip(gaps_ms, want + [last]):
        env.check(abs(got - exp) <= max(80, exp // 10), f"interval {got} ms ~ {exp} ms")
    env.check(max(gaps_ms[:-1], default=0) <= 4000 + 100, "intervals capped at T2 = 4 s")
    first_to_bye = byes[0].t - oks[0].t
    env.check(abs(first_to_bye - 64 * T1_MS / 1000) <= 0.25,
              f"BYE {first_to_bye:.3f} s after the first 200 (64*T1 = {64 * T1_MS} ms)")
    reason = h.sip_header(byes[0].payload, "Reason") or ""
    env.check(re.match(r"SIP\s*;\s*cause=408\b", reason),
              f"caller's BYE carries Reason: SIP;cause=408 ({reason!r})")
    env.check(not [p for p in oks if p.t > byes[0].t], "no 200 after the BYE")
    pos_byes = [p for p in h.sip_messages_to(cap, POS) if p.payload.startswith(b"BYE ")]
    env.check(len(pos_byes) >= 1, "the position got a BYE too")


def retransmitted_ok(env, cap, a):
    a.wait_log(r"position down\b.*POSITION=pos1\b", 5)  # its sipp has stopped
    h.ensure_tones(env)
    pos = h.sipp(env, "pos2", "uas_answer_200_twice", local_port=POS2, media_port=POS2_RTP,
                 timeout_s=40, extra=["-s", "pos2", "-nr"])
    h.wait_position_up(a, cap, SIP, POS2, "pos2")
    c = h.caller(env, "caller2", "caller_plain", SIP, CALLER2, CALLER2_RTP, duration_ms=1500)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, pos, 10)
    at_pos = sorted(h.sip_messages_to(cap, POS2), key=lambda p: p.t)
    inv = [p for p in at_pos if p.payload.startswith(b"INVITE ")]
    acks = [p for p in at_pos if p.payload.startswith(b"ACK ")]
    h.log_sip_flow(h.sip_flow(cap, [SIP, CALLER2, POS2],
                              {SIP: "anchord", CALLER2: "caller", POS2: "pos2"}))
    oks = [p for p in h.sip_messages_to(cap, SIP) if p.sport == POS2
           and p.payload.startswith(b"SIP/2.0 200") and h.cseq_method(p.payload) == "INVITE"]
    env.require(bool(inv), "position got the INVITE")
    env.check(len(oks) == 2, f"the position's 200 reached anchord twice ({len(oks)})")
    n = h.cseq_number(inv[0].payload)
    env.check(len(acks) == 2 and all(h.cseq_number(p.payload) == n for p in acks),
              f"two ACKs with CSeq {n} (R3261-13.2.2.4), got {len(acks)}")
    env.check(len(acks) == 2 and all(q.t > oks[1].t for q in acks[1:]),
              "the second ACK follows the retransmitted 200")
    caller_got = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, CALLER2)]
    env.check(not [s for s in caller_got if s.startswith(("BYE", "INVITE"))],
              f"no BYE or re-INVITE to the caller ({caller_got})")


def test(env):
    cap = h.start_capture(env, [SIP, CALLER, POS, CALLER2, POS2])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19,
                           [h.position("pos1", POS), h.position("pos2", POS2)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, h.config_set(cfg, "sip", t1_ms=T1_MS))
    no_ack(env, cap, a)
    retransmitted_ok(env, cap, a)
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "missing_ack")
