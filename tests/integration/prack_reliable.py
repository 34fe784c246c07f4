#!/usr/bin/env python3
"""integration.prack_reliable: reliable provisional responses toward the caller (RFC 3262,
R3262-a, NENA-3.1.2-a).

Run 1: a sipp caller with `Require: 100rel` finds no position up and is queued (NENA-4.2.1.3).
Proves on the wire: no 420; the 180 is reliable (Require: 100rel, RSeq in 1..2^31-1); the 183
(anchord's SDP, ringback) is sent only after the 180's PRACK and carries RSeq + 1; both PRACKs
(RAck = RSeq 1 INVITE) get 200; when a sipp position comes up and answers, the caller gets the
200 with the 183's SDP byte for byte and no RSeq, ACKs, hears the position (600 Hz), BYEs.
Both sipp scenarios fail on anything unexpected.

Run 2: anchord with `sip.t1_ms = 50`; a sipp caller with `Require: 100rel` that never PRACKs,
the position rings (180) and never answers. Proves: the caller's reliable 180 is re-sent at
T1, 2*T1, 4*T1 ... (50, 100, 200 ... ms apart), then after 64*T1 = 3.2 s the INVITE gets 500
(ACKed), no 180 after it and no BYE; the position gets a CANCEL after the 500.
"""
import harness as h

T1_MS = 50
# Run 1
SIP1, RTP1 = 5150, (35000, 35019)
CALLER1, CALLER1_RTP, POS1, POS1_RTP = 22000, 22002, 22010, 22020
# Run 2
SIP2, RTP2 = 5151, (35020, 35039)
CALLER2, CALLER2_RTP, POS2, POS2_RTP = 22030, 22032, 22040, 22050


def rseq(packet):
    v = h.sip_header(packet.payload, "RSeq")
    return int(v) if v and v.isdigit() else None


def requests_from(cap, anchord_port, src_port, method):
    return [p for p in h.sip_messages_to(cap, anchord_port)
            if p.sport == src_port and p.payload.startswith(method.encode() + b" ")]


def check_run1_signaling(env, cap):
    resp = h.responses_to(cap, CALLER1)
    codes = [c for c, _ in resp]
    h.log(f"run 1: caller received INVITE responses {codes}")
    env.check(420 not in codes, "Require: 100rel is accepted (no 420)")
    r180 = [p for c, p in resp if c == 180]
    r183 = [p for c, p in resp if c == 183]
    r200 = [p for c, p in resp if c == 200]
    if not env.check(r180 and r183 and r200, "run 1: a 180, a 183 and a 200"):
        return None
    n = rseq(r180[0])
    env.check(n is not None and 1 <= n <= 2**31 - 1, f"the 180 carries RSeq {n} in 1..2^31-1")
    env.check(h.sip_header(r180[0].payload, "Require") == "100rel", "the 180 requires 100rel")
    env.check(h.sip_header(r183[0].payload, "Require") == "100rel", "the 183 requires 100rel")
    env.check(n is not None and rseq(r183[0]) == n + 1, f"the 183's RSeq is the 180's + 1 "
              f"({rseq(r183[0])})")
    env.check(all(rseq(p) == n for p in r180) and all(rseq(p) == n + 1 for p in r183),
              "retransmissions keep their RSeq")
    pracks = requests_from(cap, SIP1, CALLER1, "PRACK")
    env.require(len(pracks) >= 2, f"the caller sent two PRACKs ({len(pracks)})")
    env.check(h.sip_header(pracks[0].payload, "RAck") == f"{n} 1 INVITE", "PRACK 1's RAck")
    env.check(r183[0].t > pracks[0].t, "the 183 went out only after the 180's PRACK "
              f"({(r183[0].t - pracks[0].t) * 1000:.1f} ms after it): one unacknowledged "
              "reliable provisional at a time")
    ok = [c for c, _ in h.responses_to(cap, CALLER1, "PRACK")]
    env.check(ok.count(200) >= 2 and not [c for c in ok if c != 200],
              f"both PRACKs answered 200 ({ok})")
    sdp183, sdp200 = h.sip_body(r183[0].payload), h.sip_body(r200[0].payload)
    env.check(b"m=audio " in sdp183 and sdp183 == sdp200,
              "the 200's SDP is byte-identical to the reliable 183's")
    env.check(rseq(r200[0]) is None, "the 200 carries no RSeq")
    env.check("100rel" in (h.sip_header(r200[0].payload, "Supported") or ""),
              "the 200 lists 100rel in Supported")
    return r200[0].t


def run1(env, cap):
    cfg = h.anchord_config(SIP1, *RTP1, [h.position("pos1", POS1)], queue_max_calls=4,
                           queue_max_wait_s=60)
    a = h.start_anchord(env, cfg, name="anchord1")
    c = h.caller(env, "caller1", "caller_100rel", SIP1, CALLER1, CALLER1_RTP, duration_ms=3000,
                 timeout_s=40)
    a.wait_log(r"call queued", 5)
    h.wait_until(lambda: [c for c, _ in h.responses_to(cap, CALLER1, "PRACK")].count(200) >= 2,
                 10, what="both PRACKs answered while queued")
    pos = h.position_sipp(env, "pos1", "uas_answer", POS1, POS1_RTP, timeout_s=40)
    h.sipp_wait(env, c, 30)
    h.sipp_wait(env, pos, 15)
    t200 = check_run1_signaling(env, cap)
    if t200 is not None:
        t_bye = h.caller_bye_time(cap, SIP1, CALLER1, default=t200 + 3)
        late = [r for r in h.rtp_stream(cap, CALLER1_RTP) if t200 + 0.2 <= r.t <= t_bye - 0.05]
        n600 = sum(1 for w in h.rtp_tone_windows(late, [600, 1000]) if 600 in w.tones)
        env.check(n600 >= 50, f"the caller hears the position's 600 Hz after the 200 ({n600} "
                  "windows of 20 ms, need >= 50)")
    env.check(a.stop() == 0, "anchord (run 1) exits 0 on SIGTERM")


def check_run2_signaling(env, cap):
    resp = h.responses_to(cap, CALLER2)
    h.log(f"run 2: caller received INVITE responses {[c for c, _ in resp]}")
    r180 = [p for c, p in resp if c == 180]
    finals = [(c, p) for c, p in resp if c >= 200]
    env.require(r180 and finals, "run 2: a 180 and a final response")
    code, final = finals[0]
    env.check(500 <= code < 600, f"the INVITE gets a 5xx without PRACK ({code})")
    waited = final.t - r180[0].t
    env.check(64 * T1_MS / 1000 - 0.05 <= waited <= 64 * T1_MS / 1000 + 1.0,
              f"the 5xx came 64*T1 = {64 * T1_MS} ms after the first 180 ({waited * 1000:.0f} ms)")
    times = [p.t for p in r180 if p.t < final.t]
    gaps = [round((b - a) * 1000) for a, b in zip(times, times[1:])]
    h.log(f"run 2: 180 sent {len(times)} times, gaps {gaps} ms")
    want = [T1_MS * 2**i for i in range(6)]  # 50, 100 ... 1600: the last due at 63*T1
    env.check(len(gaps) >= 6 and all(abs(g - w) <= max(25, w * 0.2) for g, w in zip(gaps, want)),
              f"the reliable 180 is re-sent at T1, 2*T1, 4*T1 ... (gaps {gaps}, want {want})")
    env.check(all(rseq(p) == rseq(r180[0]) for p in r180), "every 180 has the same RSeq")
    env.check(not [p for p in r180 if p.t > final.t], "no 180 after the final response")
    env.check(not [p for p in h.sip_messages_to(cap, CALLER2) if p.payload.startswith(b"BYE ")],
              "no BYE to the caller")
    return final.t


def run2(env, cap):
    cfg = h.anchord_config(SIP2, *RTP2, [h.position("pos1", POS2)])
    cfg = cfg.replace("[sip]\n", f"[sip]\nt1_ms = {T1_MS}\n", 1)
    pos = h.position_sipp(env, "pos2", "uas_ring_cancel", POS2, POS2_RTP, timeout_s=30)
    a = h.start_anchord(env, cfg, name="anchord2")
    h.wait_position_up(a, cap, SIP2, POS2, "pos1")
    c = h.caller(env, "caller2", "caller_100rel_no_prack", SIP2, CALLER2, CALLER2_RTP,
                 timeout_s=20)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, pos, 15)
    t_final = check_run2_signaling(env, cap)
    cancels = [p for p in h.sip_messages_to(cap, POS2) if p.payload.startswith(b"CANCEL ")]
    env.check(bool(cancels) and cancels[0].t >= t_final - 0.05,
              "the ringing position is CANCELled when the caller's INVITE fails")
    env.check(a.find_log(r"no PRACK") is not None, "anchord logs the missing PRACK")
    env.check(a.stop() == 0, "anchord (run 2) exits 0 on SIGTERM")


def test(env):
    h.ensure_tones(env)
    cap = h.start_capture(env, [SIP1, CALLER1, CALLER1_RTP, POS1, SIP2, CALLER2, POS2])
    run1(env, cap)
    run2(env, cap)


if __name__ == "__main__":
    h.main(test, "prack_reliable")
