#!/usr/bin/env python3
"""integration.threepcc_flow123: RFC 3725 flows I, II and III with direct media, placed with
`anchorctl dial A B --flow N --media direct`, sipp playing parties A and B. Every message and
every SDP is read from the capture on lo (what went on the wire).

Flow I (R3725-4.1-a): INVITE to A without SDP; A's 200 carries offer1; INVITE to B carries
  offer1 (A's media, same formats); B's 200 carries answer1; ACK to B (no SDP), then ACK to
  A carrying answer1 (B's media). Nothing is sent before its cause.
Flow II (R3725-4.2-a): INVITE to A with the black hole sdp1 (one audio m-line, one codec,
  c=0.0.0.0, a random non-zero port); A's 200 (sdp2) is ACKed at once; INVITE to B carries
  sdp2 as its offer; B's 200 (sdp3) is ACKed; re-INVITE to A with sdp3, its o= A's leg's
  (same username and session id, version + 1, R3725-7-d); A answers the same sdp2, so the
  exchange ends there (no re-INVITE loop, R3725-4.2-b).
Flow III (R3725-4.3-a/b): INVITE to A without SDP; A's 200 offers audio + video; anchord
  ACKs it at once with a black-hole answer (c=0.0.0.0, the same two m-lines); INVITE to B
  without SDP; B's 200 offers audio only (offer2); re-INVITE to A with offer2' fitted to
  offer1's two m-lines (video port 0), o= version + 1 on A's leg; A's 200 (answer2'); ACK to
  A; ACK to B carrying answer2 trimmed to offer2's single m-line with A's audio.
In every flow each leg has its own o= session (username anchord), B's BYE is answered and
A gets a BYE (R3725-7-a)."""
import json

import harness as h

SIP, API, RTP_MIN = 5112, 18112, 33040
PARTIES = {1: (20200, 20210), 2: (20220, 20230), 3: (20240, 20250)}
SCENARIOS = {1: ("3pcc_a_flow1", "3pcc_b_answer"), 2: ("3pcc_a_flow2", "3pcc_b_answer"),
             3: ("3pcc_a_flow3", "3pcc_b_offer")}


def run_flow(env, cap, flow):
    a_sip, b_sip = PARTIES[flow]
    a_rtp, b_rtp = a_sip + 2, b_sip + 2
    sa, sb = SCENARIOS[flow]
    a = h.sipp(env, f"A{flow}", sa, local_port=a_sip, media_port=a_rtp, timeout_s=20,
               extra=["-m", "1"])
    b = h.sipp(env, f"B{flow}", sb, local_port=b_sip, media_port=b_rtp, timeout_s=20,
               extra=["-m", "1", "-d", "500"])
    h.wait_udp_bound([a_sip, b_sip])
    r = h.anchorctl(env, f"127.0.0.1:{API}", "--json", "dial", f"sip:alice@127.0.0.1:{a_sip}",
                    f"sip:bob@127.0.0.1:{b_sip}", "--flow", str(flow), "--media", "direct")
    env.require(r.returncode == 0, f"flow {flow}: anchorctl dial succeeded")
    h.log(f"flow {flow}: call {json.loads(r.stdout).get('id')}")
    h.sipp_wait(env, b, 15)
    h.sipp_wait(env, a, 10)
    names = {SIP: "anchord", a_sip: "A", b_sip: "B"}
    flow_msgs = [f for f in h.sip_flow(cap, [a_sip, b_sip, SIP], names)
                 if f[3].sport in names and f[3].dport in names]
    h.log_sip_flow(flow_msgs)
    return [(who, line, p.payload) for _t, who, line, p in flow_msgs], a_rtp, b_rtp


def seq_check(env, flow, msgs, want):
    """`want`: the (who, first-line prefix) steps that must appear in this order."""
    got = [(w, l) for w, l, _m in msgs]
    i = 0
    for w, l in got:
        if i < len(want) and w == want[i][0] and l.startswith(want[i][1]):
            i += 1
    env.check(i == len(want), f"flow {flow}: message sequence "
              + " / ".join(f"{w} {l}" for w, l in want)
              + ("" if i == len(want) else f" (stopped before step {i + 1}: {want[i]})"))


def find(msgs, who, prefix, n=0):
    hits = [m for w, l, m in msgs if w == who and l.startswith(prefix)]
    return hits[n] if len(hits) > n else b""


def audio_port(msg, media="audio"):
    ms = [m for m in h.sdp_media(msg) if m[0] == media]
    return ms[0][1] if ms else None


def common_checks(env, flow, msgs):
    to_a = [m for w, l, m in msgs if w == "anchord->A" and h.sip_body(m).strip()]
    to_b = [m for w, l, m in msgs if w == "anchord->B" and h.sip_body(m).strip()]
    oa = [h.sdp_origin(m) for m in to_a]
    ob = [h.sdp_origin(m) for m in to_b]
    env.check(all(o and o[0] == "anchord" for o in oa + ob) and
              (not oa or not ob or oa[0][1] != ob[0][1]),
              f"flow {flow}: anchord's own o= per leg (A {oa}, B {ob})")
    for leg, os_ in (("A", oa), ("B", ob)):
        vs = [o[2] for o in os_ if o]
        env.check(len({o[:2] for o in os_ if o}) <= 1 and
                  all(y == x + 1 for x, y in zip(vs, vs[1:])),
                  f"flow {flow}: o= on {leg}'s leg keeps its session, version +1 each ({vs})")
    env.check(bool(find(msgs, "anchord->A", "BYE")), f"flow {flow}: A got a BYE after B's")


def flow1(env, cap):
    msgs, a_rtp, b_rtp = run_flow(env, cap, 1)
    seq_check(env, 1, msgs, [("anchord->A", "INVITE"), ("A->anchord", "SIP/2.0 200"),
                             ("anchord->B", "INVITE"), ("B->anchord", "SIP/2.0 200"),
                             ("anchord->B", "ACK"), ("anchord->A", "ACK"),
                             ("B->anchord", "BYE"), ("anchord->A", "BYE")])
    inv_a = find(msgs, "anchord->A", "INVITE")
    env.check(inv_a and not h.sip_body(inv_a).strip(), "flow 1: INVITE to A without SDP")
    offer1 = find(msgs, "A->anchord", "SIP/2.0 200")
    inv_b = find(msgs, "anchord->B", "INVITE")
    env.check(inv_b and audio_port(inv_b) == a_rtp and
              [m[2] for m in h.sdp_media(inv_b)] == [m[2] for m in h.sdp_media(offer1)] and
              h.sdp_connections(inv_b) == h.sdp_connections(offer1),
              f"flow 1: INVITE to B carries offer1 ({h.sdp_media(inv_b)})")
    ack_b = find(msgs, "anchord->B", "ACK")
    env.check(ack_b and not h.sip_body(ack_b).strip(), "flow 1: ACK to B without SDP")
    ack_a = find(msgs, "anchord->A", "ACK")
    env.check(ack_a and audio_port(ack_a) == b_rtp and
              len(h.sdp_media(ack_a)) == len(h.sdp_media(offer1)),
              f"flow 1: ACK to A carries answer1 with B's media ({h.sdp_media(ack_a)})")
    common_checks(env, 1, msgs)


def flow2(env, cap):
    msgs, a_rtp, b_rtp = run_flow(env, cap, 2)
    seq_check(env, 2, msgs, [("anchord->A", "INVITE"), ("A->anchord", "SIP/2.0 200"),
                             ("anchord->A", "ACK"), ("anchord->B", "INVITE"),
                             ("B->anchord", "SIP/2.0 200"), ("anchord->B", "ACK"),
                             ("anchord->A", "INVITE"), ("A->anchord", "SIP/2.0 200"),
                             ("anchord->A", "ACK"), ("B->anchord", "BYE"),
                             ("anchord->A", "BYE")])
    sdp1 = find(msgs, "anchord->A", "INVITE")
    m1 = h.sdp_media(sdp1)
    env.check(len(m1) == 1 and m1[0][0] == "audio" and len(m1[0][2]) == 1 and m1[0][1] != 0,
              f"flow 2: sdp1 has one audio m-line, one codec, a non-zero port ({m1})")
    env.check(h.sdp_connections(sdp1) and set(h.sdp_connections(sdp1)) == {"0.0.0.0"},
              f"flow 2: sdp1 is a black hole c=0.0.0.0 ({h.sdp_connections(sdp1)})")
    ack1 = find(msgs, "anchord->A", "ACK")
    env.check(ack1 and not h.sip_body(ack1).strip(), "flow 2: A's 200 ACKed without SDP")
    inv_b = find(msgs, "anchord->B", "INVITE")
    env.check(audio_port(inv_b) == a_rtp and "0.0.0.0" not in h.sdp_connections(inv_b),
              f"flow 2: INVITE to B offers sdp2 (A's media) ({h.sdp_media(inv_b)})")
    reinv = find(msgs, "anchord->A", "INVITE", 1)
    env.check(reinv and audio_port(reinv) == b_rtp,
              f"flow 2: re-INVITE to A offers sdp3 (B's media) ({h.sdp_media(reinv)})")
    o1, o2 = h.sdp_origin(sdp1), h.sdp_origin(reinv)
    env.check(o1 and o2 and o1[:2] == o2[:2] and o2[2] == o1[2] + 1,
              f"flow 2: re-INVITE's o= is sdp1's with version + 1 ({o1} -> {o2})")
    env.check(len([1 for w, l, _m in msgs if w == "anchord->B" and l.startswith("INVITE")])
              == 1, "flow 2: A answered the same sdp2: no further re-INVITE to B")
    common_checks(env, 2, msgs)


def flow3(env, cap):
    msgs, a_rtp, b_rtp = run_flow(env, cap, 3)
    seq_check(env, 3, msgs, [("anchord->A", "INVITE"), ("A->anchord", "SIP/2.0 200"),
                             ("anchord->A", "ACK"), ("anchord->B", "INVITE"),
                             ("B->anchord", "SIP/2.0 200"), ("anchord->A", "INVITE"),
                             ("A->anchord", "SIP/2.0 200"), ("anchord->A", "ACK"),
                             ("anchord->B", "ACK"), ("B->anchord", "BYE"),
                             ("anchord->A", "BYE")])
    inv_a = find(msgs, "anchord->A", "INVITE")
    env.check(inv_a and not h.sip_body(inv_a).strip(), "flow 3: INVITE to A without SDP")
    offer1 = find(msgs, "A->anchord", "SIP/2.0 200")
    bh = find(msgs, "anchord->A", "ACK")
    mo, mb = h.sdp_media(offer1), h.sdp_media(bh)
    env.check([m[0] for m in mb] == [m[0] for m in mo] and all(m[1] != 0 for m in mb),
              f"flow 3: black-hole answer has offer1's m-lines ({mo} -> {mb})")
    env.check(h.sdp_connections(bh) and set(h.sdp_connections(bh)) == {"0.0.0.0"},
              f"flow 3: black-hole answer's c=0.0.0.0 ({h.sdp_connections(bh)})")
    inv_b = find(msgs, "anchord->B", "INVITE")
    env.check(inv_b and not h.sip_body(inv_b).strip(), "flow 3: INVITE to B without SDP")
    offer2 = find(msgs, "B->anchord", "SIP/2.0 200")
    reinv = find(msgs, "anchord->A", "INVITE", 1)
    m2 = h.sdp_media(reinv)
    env.check([m[0] for m in m2] == ["audio", "video"] and m2[0][1] == b_rtp and m2[1][1] == 0,
              f"flow 3: offer2' fits offer1's m-lines: B's audio, video port 0 ({m2})")
    o_bh, o_re = h.sdp_origin(bh), h.sdp_origin(reinv)
    env.check(o_bh and o_re and o_bh[:2] == o_re[:2] and o_re[2] == o_bh[2] + 1,
              f"flow 3: offer2' o= = the black-hole answer's, version + 1 ({o_bh} -> {o_re})")
    ack_b = find(msgs, "anchord->B", "ACK")
    mk = h.sdp_media(ack_b)
    env.check(len(mk) == len(h.sdp_media(offer2)) == 1 and mk[0][1] == a_rtp,
              f"flow 3: ACK to B carries answer2 with offer2's one m-line, A's audio ({mk})")
    common_checks(env, 3, msgs)


def test(env):
    ports = [SIP] + [p for pair in PARTIES.values() for p in pair]
    cap = h.start_capture(env, ports)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", 20290)],
                           control_listen=f"127.0.0.1:{API}")
    a = h.start_anchord(env, cfg)
    h.wait_api_up(f"127.0.0.1:{API}")
    flow1(env, cap)
    flow2(env, cap)
    flow3(env, cap)
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "threepcc_flow123")
