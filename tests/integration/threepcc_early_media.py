#!/usr/bin/env python3
"""integration.threepcc_early_media: RFC 3725 §8 (Fig. 8, R3725-8-a) with anchord as the UAC
of RFC 3262 (R3262-a): B sends its offer in a reliable 183, anchord relays it to A in a
re-INVITE and A's answer to B in the PRACK; B's 200 then changes nothing and is ACKed without
SDP. sipp plays A and B; every message and SDP is read from the capture on lo.

1. `anchorctl dial A B --flow 4 --media direct`: the INVITE to B says Supported: 100rel and
   has no SDP; B's 180 (unreliable) changes nothing; B's reliable 183 (RSeq 1, offer2) ->
   re-INVITE to A with offer2' (A's o= username/session id, version + 1, B's media) -> A's
   200 (answer2') -> ACK to A -> one PRACK to B (RAck `1 1 INVITE`, CSeq 2, To with B's tag,
   answer2 with A's media and anchord's own o= on B's leg) -> 200 -> B's 200 -> ACK to B
   without SDP; no third INVITE to A; B's BYE -> BYE to A.
2. `--flow auto` (flow IV with ringback): A hears the server's ringback (440 + 480 Hz) while
   B rings, and no more RTP from anchord once the PRACK carried A's answer to B: A now hears
   B's early media directly. Same messages as in 1.
3. A in an early dialog (RFC 3725 Fig. 9, R3725-8-b, R3311-5): A answers the m-line-less
   offer in a reliable 183 -> PRACK (RAck `1 1 INVITE`, no SDP) -> INVITE to B before A's
   200 -> B's 200 offer2 -> UPDATE to A (CSeq 3, A's early dialog, o= + 1, B's media), never
   a re-INVITE -> A's 200 (UPDATE) -> ACK to B with answer2 -> A's 200 (INVITE) -> ACK to A
   without SDP; B's BYE -> BYE to A."""
import re

import harness as h

SIP, API, RTP_MIN = 5160, 18160, 36100
# run: (A's SIP port, B's SIP port, A's scenario, B's scenario, --flow); RTP at SIP + 2.
RUNS = {"4": (23000, 23010, "3pcc_a_flow4", "3pcc_b_early183", "4"),
        "auto": (23020, 23030, "3pcc_a_early_auto", "3pcc_b_early183", "auto"),
        "early A": (23040, 23050, "3pcc_a_early183", "3pcc_b_offer", "4")}
POSITION = 23090


def config():
    return h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", POSITION)],
                            control_listen=f"127.0.0.1:{API}")


def run(env, cap, flow):
    a_sip, b_sip, a_scenario, b_scenario, flow_arg = RUNS[flow]
    tag = flow.replace(" ", "_")
    a = h.sipp(env, f"A{tag}", a_scenario, local_port=a_sip, media_port=a_sip + 2,
               timeout_s=25, extra=["-m", "1"])
    b = h.sipp(env, f"B{tag}", b_scenario, local_port=b_sip, media_port=b_sip + 2,
               timeout_s=25, extra=["-m", "1", "-d", "1000"])
    h.wait_udp_bound([a_sip, b_sip])
    r = h.anchorctl(env, f"127.0.0.1:{API}", "--json", "dial", f"sip:alice@127.0.0.1:{a_sip}",
                    f"sip:bob@127.0.0.1:{b_sip}", "--flow", flow_arg, "--media", "direct")
    env.require(r.returncode == 0, f"flow {flow}: anchorctl dial succeeded")
    h.sipp_wait(env, b, 20)
    h.sipp_wait(env, a, 10)
    names = {SIP: "anchord", a_sip: "A", b_sip: "B"}
    h.wait_until(lambda: any(f[2].startswith("SIP/2.0 200") and f[1] == "A->anchord"
                             and h.cseq_method(f[3].payload) == "BYE"
                             for f in h.sip_flow(cap, [SIP], names)), 3, what="A's 200 to BYE")
    flow_msgs = [f for f in h.sip_flow(cap, [a_sip, b_sip, SIP], names)
                 if f[3].sport in names and f[3].dport in names]
    h.log_sip_flow(flow_msgs)
    return [(t, who, line, p.payload) for t, who, line, p in flow_msgs]


def find(msgs, who, prefix, method=None):
    return [(t, m) for t, w, l, m in msgs
            if w == who and l.startswith(prefix) and (method is None or h.cseq_method(m) == method)]


def first(hits):
    return hits[0] if hits else (None, b"")


def sequence(env, flow, msgs, want):
    i = 0
    for _t, w, l, m in msgs:
        if i < len(want) and w == want[i][0] and l.startswith(want[i][1]) \
                and h.cseq_method(m) == want[i][2]:
            i += 1
    env.check(i == len(want), f"flow {flow}: message sequence of RFC 3725 Fig. 8/9"
              + ("" if i == len(want) else f" (stopped before step {i + 1}: {want[i]})"))


FIG8 = [("anchord->A", "INVITE", "INVITE"), ("A->anchord", "SIP/2.0 200", "INVITE"),
            ("anchord->A", "ACK", "ACK"), ("anchord->B", "INVITE", "INVITE"),
            ("B->anchord", "SIP/2.0 180", "INVITE"), ("B->anchord", "SIP/2.0 183", "INVITE"),
            ("anchord->A", "INVITE", "INVITE"), ("A->anchord", "SIP/2.0 200", "INVITE"),
            ("anchord->A", "ACK", "ACK"), ("anchord->B", "PRACK", "PRACK"),
            ("B->anchord", "SIP/2.0 200", "PRACK"), ("B->anchord", "SIP/2.0 200", "INVITE"),
            ("anchord->B", "ACK", "ACK"), ("B->anchord", "BYE", "BYE"),
            ("anchord->A", "BYE", "BYE")]

FIG9 = [("anchord->A", "INVITE", "INVITE"), ("A->anchord", "SIP/2.0 183", "INVITE"),
        ("anchord->A", "PRACK", "PRACK"), ("anchord->B", "INVITE", "INVITE"), ("B->anchord", "SIP/2.0 200", "INVITE"),
        ("anchord->A", "UPDATE", "UPDATE"), ("A->anchord", "SIP/2.0 200", "UPDATE"),
        ("anchord->B", "ACK", "ACK"), ("A->anchord", "SIP/2.0 200", "INVITE"),
        ("anchord->A", "ACK", "ACK"), ("B->anchord", "BYE", "BYE"),
        ("anchord->A", "BYE", "BYE")]


def check_messages(env, flow, msgs):
    a_sip, b_sip = RUNS[flow][:2]
    sequence(env, flow, msgs, FIG8)
    a_invites = [m for _t, m in find(msgs, "anchord->A", "INVITE")]
    distinct = {h.cseq_number(m) for m in a_invites}
    env.check(distinct == {1, 2}, f"flow {flow}: A got the INVITE and one re-INVITE ({distinct})")
    b_invite = first(find(msgs, "anchord->B", "INVITE"))[1]
    env.check("100rel" in (h.sip_header(b_invite, "Supported") or ""),
              f"flow {flow}: B's INVITE says Supported: 100rel")
    env.check(not h.sip_body(b_invite).strip(), f"flow {flow}: B's INVITE has no SDP")
    b183 = first(find(msgs, "B->anchord", "SIP/2.0 183"))[1]
    b_tag = h.sip_to_tag(b183)
    reinvite = [m for m in a_invites if h.cseq_number(m) == 2][:1] or [b""]
    o1, o2 = h.sdp_origin(a_invites[0]), h.sdp_origin(reinvite[0])
    env.check(o1 and o2 and o1[:2] == o2[:2] and o2[2] == o1[2] + 1 and o1[0] == "anchord",
              f"flow {flow}: offer2' has A's o= with version + 1 ({o1} -> {o2})")
    env.check([m[:2] for m in h.sdp_media(reinvite[0])] == [("audio", b_sip + 2)],
              f"flow {flow}: offer2' carries B's early media ({h.sdp_media(reinvite[0])})")
    pracks = find(msgs, "anchord->B", "PRACK")
    env.check(len({h.sip_header(m, "Via") for _t, m in pracks}) == 1,
              f"flow {flow}: exactly one PRACK transaction ({len(pracks)} sent)")
    prack = first(pracks)[1]
    env.check(h.sip_header(prack, "RAck") == "1 1 INVITE",
              f"flow {flow}: RAck: 1 1 INVITE ({h.sip_header(prack, 'RAck')})")
    env.check(re.match(r"2\s+PRACK$", h.sip_header(prack, "CSeq") or "") is not None,
              f"flow {flow}: PRACK CSeq 2 ({h.sip_header(prack, 'CSeq')})")
    env.check(b_tag is not None and h.sip_to_tag(prack) == b_tag,
              f"flow {flow}: PRACK in B's early dialog (To tag {h.sip_to_tag(prack)})")
    env.check([m[:2] for m in h.sdp_media(prack)] == [("audio", a_sip + 2)],
              f"flow {flow}: the PRACK carries answer2 with A's media ({h.sdp_media(prack)})")
    ob = h.sdp_origin(prack)
    env.check(ob is not None and ob[0] == "anchord" and ob[2] == 1 and ob[1] != o1[1],
              f"flow {flow}: answer2's o= is anchord's own on B's leg, version 1 ({ob})")
    b_acks = [m for _t, m in find(msgs, "anchord->B", "ACK")]
    env.check(bool(b_acks) and all(not h.sip_body(m).strip() for m in b_acks),
              f"flow {flow}: B's 200 is ACKed without SDP")
    env.check(all(h.cseq_number(m) == 1 for m in b_acks), f"flow {flow}: the ACK has CSeq 1")
    env.check(find(msgs, "anchord->A", "BYE") != [], f"flow {flow}: A got BYE after B's BYE")


def check_early_a(env, msgs):
    """RFC 3725 Fig. 9 (R3725-8-b): A answers in a reliable 183, B's offer reaches A in an
    UPDATE, A's answer goes to B's ACK, A's 200 is ACKed without SDP."""
    flow = "early A"
    a_sip, b_sip = RUNS[flow][:2]
    sequence(env, flow, msgs, FIG9)
    a_invite = first(find(msgs, "anchord->A", "INVITE"))[1]
    env.check("100rel" in (h.sip_header(a_invite, "Supported") or ""),
              "early A: A's INVITE says Supported: 100rel")
    env.check(h.sdp_origin(a_invite) is not None and not h.sdp_media(a_invite),
              "early A: A's INVITE has SDP without m-lines")
    env.check({h.cseq_number(m) for _t, m in find(msgs, "anchord->A", "INVITE")} == {1},
              "early A: no re-INVITE on A's early dialog")
    a_tag = h.sip_to_tag(first(find(msgs, "A->anchord", "SIP/2.0 183"))[1])
    prack_t, prack = first(find(msgs, "anchord->A", "PRACK"))
    env.check(h.sip_header(prack, "RAck") == "1 1 INVITE" and not h.sip_body(prack).strip(),
              f"early A: PRACK with RAck 1 1 INVITE and no SDP ({h.sip_header(prack, 'RAck')})")
    env.check(a_tag is not None and h.sip_to_tag(prack) == a_tag,
              "early A: the PRACK is in A's early dialog")
    env.check(find(msgs, "A->anchord", "SIP/2.0 200", "PRACK") != [],
              "early A: A answered the PRACK 200 (B's INVITE need not wait for it)")
    b_invite_t = first(find(msgs, "anchord->B", "INVITE"))[0]
    a_ok_t = first(find(msgs, "A->anchord", "SIP/2.0 200", "INVITE"))[0]
    env.check(None not in (prack_t, b_invite_t, a_ok_t) and prack_t <= b_invite_t < a_ok_t,
              "early A: B is INVITEd after the PRACK, before A's 200")
    update = first(find(msgs, "anchord->A", "UPDATE"))[1]
    env.check(re.match(r"3\s+UPDATE$", h.sip_header(update, "CSeq") or "") is not None
              and h.sip_to_tag(update) == a_tag,
              f"early A: UPDATE in A's early dialog, CSeq 3 ({h.sip_header(update, 'CSeq')})")
    o1, o2 = h.sdp_origin(a_invite), h.sdp_origin(update)
    env.check(o1 and o2 and o1[:2] == o2[:2] and o2[2] == o1[2] + 1,
              f"early A: offer2' in the UPDATE has A's o= with version + 1 ({o1} -> {o2})")
    env.check([m[:2] for m in h.sdp_media(update)] == [("audio", b_sip + 2)],
              f"early A: offer2' carries B's media ({h.sdp_media(update)})")
    b_ack = [m for _t, m in find(msgs, "anchord->B", "ACK") if h.sip_body(m).strip()]
    env.check(bool(b_ack) and [m[:2] for m in h.sdp_media(b_ack[0])] == [("audio", a_sip + 2)]
              and h.sdp_origin(b_ack[0])[0] == "anchord",
              "early A: B's ACK carries answer2 with A's media and anchord's o=")
    a_acks = [m for _t, m in find(msgs, "anchord->A", "ACK")]
    env.check(bool(a_acks) and all(not h.sip_body(m).strip() and h.cseq_number(m) == 1
                                   for m in a_acks), "early A: A's 200 is ACKed without SDP")
    env.check(find(msgs, "anchord->A", "BYE") != [], "early A: A got BYE after B's BYE")


def check_ringback(env, cap, msgs):
    a_sip = RUNS["auto"][0]
    prack_t = first(find(msgs, "anchord->B", "PRACK"))[0]
    reinvite_t = [t for t, m in find(msgs, "anchord->A", "INVITE") if h.cseq_number(m) == 2]
    env.require(prack_t is not None and reinvite_t, "auto: re-INVITE and PRACK seen")
    ours = [r for r in h.rtp_stream(cap, a_sip + 2) if RTP_MIN <= r.sport <= RTP_MIN + 19]
    before = [r for r in ours if r.t < reinvite_t[0]]
    windows = h.rtp_tone_windows(before, [440, 480])
    ringing = [w for w in windows if {440, 480} <= w.tones]
    env.check(len(ringing) >= 10, f"auto: A heard ringback while B rang ({len(ringing)} of "
              f"{len(before)} packets with 440 + 480 Hz)")
    after = [r for r in ours if r.t > prack_t + 0.2]
    env.check(not after, f"auto: no RTP from anchord once B's early media reached A "
              f"({len(after)} packets after the PRACK)")


def test(env):
    ports = [SIP] + [p for run_ in RUNS.values() for s in run_[:2] for p in (s, s + 2)]
    cap = h.start_capture(env, ports)
    a = h.start_anchord(env, config())
    h.wait_api_up(f"127.0.0.1:{API}")
    check_messages(env, "4", run(env, cap, "4"))
    msgs = run(env, cap, "auto")
    check_messages(env, "auto", msgs)
    check_ringback(env, cap, msgs)
    check_early_a(env, run(env, cap, "early A"))
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "threepcc_early_media")
