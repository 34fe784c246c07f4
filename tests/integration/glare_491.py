#!/usr/bin/env python3
"""integration.glare_491: re-INVITE glare.

1. Direct media (RFC 3725 §7 continued processing), `anchorctl dial --flow 1 --media
   direct` with sipp parties A and B. A puts B on hold (re-INVITE X, a=sendonly); anchord
   relays it to B (Y). B behaves as if its own re-INVITE Z had crossed Y: Z reaches anchord
   while Y is pending on that dialog and must get 491 (R3261-14.2-a, R3725-6-c); B answers Y
   491 and anchord passes the 491 back to A's X (A's session unchanged, R3261-14.1-c). A
   retries after a random 0-2 s back-off (R3261-14.1-b), the retry is relayed to B with the
   o= version B last accepted + 1 (the failed offer changed nothing, R3725-7-d), and gets
   200; B's own retry after its back-off also succeeds: the session works after the glare.
2. Anchored (an ESInet call to a sipp position): the caller's hold re-INVITE (a=sendonly)
   is answered by anchord itself (no re-INVITE reaches the position) with a=recvonly
   (R3264-6-a) and o= version + 1 (R3264-8-a). A second re-INVITE (resume, a=sendrecv) sent
   after anchord's 200 but before the caller's ACK is a new transaction, not an overlap
   (R3261-14.2-a's 500 needs an INVITE before the first's final response; anchord answers at
   once): 200, a=sendrecv, o= version + 1 again, same session id. The late ACK for CSeq 2
   (after CSeq 3's) disturbs nothing: no request reaches the caller, its BYE gets 200 and
   reaches the position. (The one real glare window, a peer's re-INVITE while one of
   anchord's is pending on the same dialog, exists only with direct media: part 1.)"""
import re

import harness as h

SIP, API, RTP_MIN = 5114, 18114, 33080
A, B, CALLER, POS = 20400, 20410, 20420, 20430


def flow_between(cap, names):
    return [f for f in h.sip_flow(cap, list(names), names)
            if f[3].sport in names and f[3].dport in names]


def direction(msg):
    m = re.search(rb"(?m)^a=(sendrecv|sendonly|recvonly|inactive)\s*$", h.sip_body(msg))
    return m.group(1).decode() if m else "sendrecv"


def direct_glare(env, cap):
    pa = h.sipp(env, "partyA", "3pcc_a_glare", local_port=A, media_port=A + 2, timeout_s=25,
                extra=["-m", "1"])
    pb = h.sipp(env, "partyB", "3pcc_b_glare", local_port=B, media_port=B + 2, timeout_s=25,
                extra=["-m", "1"])
    h.wait_udp_bound([A, B])
    r = h.anchorctl(env, f"127.0.0.1:{API}", "--json", "dial", f"sip:alice@127.0.0.1:{A}",
                    f"sip:bob@127.0.0.1:{B}", "--flow", "1", "--media", "direct")
    env.require(r.returncode == 0, "anchorctl dial succeeded")
    h.sipp_wait(env, pb, 20)
    h.sipp_wait(env, pa, 10)
    flow = flow_between(cap, {SIP: "anchord", A: "A", B: "B"})
    h.log_sip_flow(flow)
    msgs = [(who, line, p) for _t, who, line, p in flow]

    def pick(who, pred):  # retransmissions (byte-identical) counted once
        out, seen = [], set()
        for w, l, p in msgs:
            if w == who and pred(l, p.payload) and p.payload not in seen:
                seen.add(p.payload)
                out.append(p)
        return out
    a_inv = pick("A->anchord", lambda l, m: l.startswith("INVITE"))
    b_inv = pick("B->anchord", lambda l, m: l.startswith("INVITE"))
    to_b_inv = pick("anchord->B", lambda l, m: l.startswith("INVITE"))
    env.require(len(a_inv) >= 2 and len(b_inv) >= 2 and len(to_b_inv) >= 3,
                f"A sent X and its retry ({len(a_inv)}), B sent Z and its retry "
                f"({len(b_inv)}), anchord relayed X and X' to B ({len(to_b_inv)} INVITEs)")
    z = b_inv[0].payload
    z_resp = [p for p in pick("anchord->B", lambda l, m: l.startswith("SIP/2.0 "))
              if h.cseq_number(p.payload) == h.cseq_number(z) and h.cseq_method(p.payload) ==
              "INVITE" and not p.payload.startswith(b"SIP/2.0 100")]
    env.check(z_resp and z_resp[0].payload.startswith(b"SIP/2.0 491"),
              "B's crossing re-INVITE Z got 491 (R3261-14.2-a, R3725-6-c): "
              + (h.sip_start_line(z_resp[0].payload) if z_resp else "no final response"))
    y = to_b_inv[1]
    env.check(direction(y.payload) == "sendonly", "A's hold reached B as a=sendonly (Y)")
    x_final = [p for p in pick("anchord->A", lambda l, m: l.startswith("SIP/2.0 ") and
                               "(INVITE)" in l and not l.startswith("SIP/2.0 100"))]
    codes = [int(p.payload[8:11]) for p in x_final]
    env.check(codes[:2] == [491, 200],
              f"A's X got 491 (B's 491 passed back), its retry X' 200 ({codes})")
    o = [h.sdp_origin(p.payload) for p in to_b_inv]
    env.check(all(o) and len({x[:2] for x in o}) == 1 and o[1][2] == o[0][2] + 1 and
              o[2][2] == o[0][2] + 1,
              f"B's leg o=: initial {o[0][2]}, Y {o[1][2]}, retry {o[2][2]} = accepted + 1 "
              "(the 491 left the session unchanged)")
    ack491 = [p for p in pick("A->anchord", lambda l, m: l.startswith("ACK"))
              if h.cseq_number(p.payload) == h.cseq_number(a_inv[0].payload)]
    if ack491:
        backoff = a_inv[1].t - ack491[0].t
        h.log(f"A's back-off after the 491: {backoff * 1000:.0f} ms")
        env.check(0 <= backoff <= 2.1, f"A retried {backoff:.3f} s after the 491 (0-2 s)")
    b_final = [p for p in pick("anchord->B", lambda l, m: l.startswith("SIP/2.0 2"))
               if h.cseq_number(p.payload) == h.cseq_number(b_inv[1].payload) and
               h.cseq_method(p.payload) == "INVITE"]
    env.check(bool(b_final), "B's own retry (after its back-off) got 200: the session works")
    env.check(bool(pick("anchord->A", lambda l, m: l.startswith("BYE"))),
              "A got BYE after B's")


def anchored_overlap(env, cap, a):
    pos = h.position_sipp(env, "pos1", "uas_answer", POS, POS + 2, timeout_s=25)
    h.wait_position_up(a, cap, SIP, POS, "pos1")
    c = h.caller(env, "caller", "caller_reinvite_overlap", SIP, CALLER, CALLER + 2,
                 duration_ms=500)
    h.sipp_wait(env, c, 15)
    h.sipp_wait(env, pos, 10)
    flow = flow_between(cap, {SIP: "anchord", CALLER: "caller", POS: "pos1"})
    h.log_sip_flow(flow)
    to_caller = [p for _t, who, _l, p in flow if who == "anchord->caller"]

    def final(cseq):
        return [p.payload for p in to_caller if h.cseq_number(p.payload) == cseq and
                h.cseq_method(p.payload) == "INVITE" and not p.payload.startswith(b"SIP/2.0 1")]
    r0, r1, r2 = final(1), final(2), final(3)
    env.require(bool(r0) and bool(r1) and bool(r2), "anchord answered the INVITE and both "
                "re-INVITEs")
    o0, o1, o2 = h.sdp_origin(r0[0]), h.sdp_origin(r1[0]), h.sdp_origin(r2[0])
    env.check(r1[0].startswith(b"SIP/2.0 200"), "hold re-INVITE answered 200 by anchord")
    env.check(direction(r1[0]) == "recvonly",
              f"answer to a=sendonly is a=recvonly (R3264-6-a): a={direction(r1[0])}")
    env.check(bool(o0 and o1) and o1[:2] == o0[:2] and o1[2] == o0[2] + 1,
              f"hold answer's o= version = the 200's + 1 (R3264-8-a): {o0} -> {o1}")
    pos_inv = [p for _t, who, l, p in flow if who == "anchord->pos1" and l.startswith("INVITE")]
    env.check(len(pos_inv) == 1, f"no re-INVITE reached the position ({len(pos_inv)} INVITEs)")
    env.check(r2[0].startswith(b"SIP/2.0 200"),
              "re-INVITE after anchord's 200, before the ACK, is a new transaction: 200 "
              f"(R3261-14.2-a): {h.sip_start_line(r2[0])}")
    env.check(direction(r2[0]) == "sendrecv", f"resume answered a=sendrecv: a={direction(r2[0])}")
    env.check(bool(o1 and o2) and o2[:2] == o1[:2] and o2[2] == o1[2] + 1,
              f"resume answer's o= version + 1 exactly (the SDP changed): {o1} -> {o2}")
    from_caller = [(t, l) for t, who, l, _p in flow if who == "caller->anchord"]
    acks = [(t, l) for t, l in from_caller if l.startswith("ACK")]
    bye_t = next((t for t, l in from_caller if l.startswith("BYE")), None)
    env.check(len(acks) >= 3, f"the caller sent ACK 1, ACK 3 and the late ACK 2 ({len(acks)})")
    requests = [l for _t, who, l, _p in flow if who == "anchord->caller" and
                not l.startswith("SIP/2.0")]
    env.check(not requests, f"no request reached the caller (late ACK harmless): {requests}")
    bye_ok = [p for p in to_caller if p.payload.startswith(b"SIP/2.0 200") and
              h.cseq_method(p.payload) == "BYE"]
    env.check(bye_t is not None and bool(bye_ok), "the caller's BYE got 200")
    env.check(bool([1 for _t, who, l, _p in flow if who == "anchord->pos1" and
                    l.startswith("BYE")]), "the caller's BYE reached the position")


def test(env):
    cap = h.start_capture(env, [SIP, A, B, CALLER, POS])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", POS)],
                           rtp_timeout_ms=60000, control_listen=f"127.0.0.1:{API}")
    a = h.start_anchord(env, cfg)
    h.wait_api_up(f"127.0.0.1:{API}")
    direct_glare(env, cap)
    anchored_overlap(env, cap, a)
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "glare_491")
