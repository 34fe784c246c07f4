#!/usr/bin/env python3
"""integration.threepcc_flows: RFC 3725 third-party calls with direct media, placed through
the control API (`anchorctl dial A B --flow 4 --media direct`, else POST /v1/calls), with
sipp playing parties A and B.

1. Flow IV (Fig. 4): A's INVITE carries SDP without m-lines; A answers without m-lines and
   is ACKed at once; B's INVITE has no SDP; B's 200 offer goes to A in a re-INVITE whose o=
   keeps A's username/session id with version + 1 (R3725-4.4-a); B's ACK carries A's answer
   with its own o= (R3725-7-d); B's BYE is answered and A gets a BYE (R3725-7-a).
2. B busy: B answers 486; A gets BYE with `Reason: SIP;cause=486` (R3725-6-a/b).
The SDP checks read the capture on lo, so they see what went on the wire."""
import json
import os
import re
import subprocess
import urllib.request

import harness as h

SIP, API = 5091, 18091
A_SIP, A_RTP, B_SIP, B_RTP = 16600, 16602, 16610, 16612
RTP_MIN = 32000


def dial(env, a, b, flow):
    ctl = os.path.join(os.path.dirname(env.anchord_path), "anchorctl")
    if os.path.exists(ctl):
        r = subprocess.run([ctl, "--api", f"127.0.0.1:{API}", "--json", "dial", a, b,
                            "--flow", str(flow), "--media", "direct"],
                           capture_output=True, text=True, timeout=15)
        env.require(r.returncode == 0, f"anchorctl dial exit {r.returncode}: "
                    f"{r.stdout.strip()} {r.stderr.strip()}")
        return json.loads(r.stdout)["id"]
    body = json.dumps({"a": a, "b": b, "flow": flow, "media": "direct"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{API}/v1/calls", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        env.require(resp.status in (200, 201), f"POST /v1/calls status {resp.status}")
        return json.loads(resp.read())["id"]


def origin(msg):
    m = re.search(rb"(?m)^o=(\S+) (\S+) (\d+) IN IP4 (\S+)", h.sip_body(msg))
    return (m.group(1), m.group(2), int(m.group(3))) if m else None


def requests_to(cap, port, method):
    return [p.payload for p in h.sip_messages_to(cap, port)
            if h.is_request(p.payload) and h.method_of(p.payload) == method]


def config():
    return h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", 16690)],
                            control_listen=f"127.0.0.1:{API}")


def flow4(env, cap):
    a = h.sipp(env, "partyA", "3pcc_a_flow4", local_port=A_SIP, media_port=A_RTP,
               timeout_s=30, extra=["-m", "1"])
    b = h.sipp(env, "partyB", "3pcc_b_offer", local_port=B_SIP, media_port=B_RTP,
               timeout_s=30, extra=["-m", "1", "-d", "1000"])
    h.wait_udp_bound([A_SIP, B_SIP])  # the first INVITE must not race sipp's start-up
    call = dial(env, f"sip:alice@127.0.0.1:{A_SIP}", f"sip:bob@127.0.0.1:{B_SIP}", 4)
    h.log(f"call {call}")
    h.sipp_wait(env, b, 25)
    h.sipp_wait(env, a, 10)
    a_invites = requests_to(cap, A_SIP, "INVITE")
    env.require(len(a_invites) == 2, f"A got INVITE and re-INVITE ({len(a_invites)})")
    env.check(b"m=" not in h.sip_body(a_invites[0]), "A's first INVITE: SDP without m-lines")
    o1, o2 = origin(a_invites[0]), origin(a_invites[1])
    env.check(o1 and o2 and o1[:2] == o2[:2] and o2[2] == o1[2] + 1,
              f"offer2' o= is A's with version + 1 ({o1} -> {o2})")
    env.check(f"m=audio {B_RTP} ".encode() in h.sip_body(a_invites[1]),
              "offer2' carries B's media")
    b_invites = requests_to(cap, B_SIP, "INVITE")
    env.check(len(b_invites) == 1 and not h.sip_body(b_invites[0]).strip(),
              "B's INVITE has no SDP")
    b_acks = [m for m in requests_to(cap, B_SIP, "ACK") if h.sip_body(m).strip()]
    env.check(bool(b_acks) and f"m=audio {A_RTP} ".encode() in h.sip_body(b_acks[0]),
              "B's ACK carries answer2 with A's media")
    env.check(bool(b_acks) and origin(b_acks[0]) and origin(b_acks[0])[0] == b"anchord",
              "answer2's o= is the server's own on B's leg")
    env.check(len(requests_to(cap, A_SIP, "BYE")) >= 1, "A got BYE after B's BYE")


def b_busy(env, cap):
    a = h.sipp(env, "partyA2", "3pcc_a_bye", local_port=A_SIP + 100, timeout_s=20,
               extra=["-m", "1"])
    b = h.sipp(env, "partyB2", "3pcc_b_busy", local_port=B_SIP + 100, timeout_s=20,
               extra=["-m", "1"])
    h.wait_udp_bound([A_SIP + 100, B_SIP + 100])
    dial(env, f"sip:alice@127.0.0.1:{A_SIP + 100}", f"sip:bob@127.0.0.1:{B_SIP + 100}", 4)
    h.sipp_wait(env, b, 15)
    h.sipp_wait(env, a, 10)
    byes = requests_to(cap, A_SIP + 100, "BYE")
    env.check(bool(byes) and re.search(rb"(?im)^Reason:\s*SIP\s*;\s*cause=486", byes[0]),
              "A's BYE carries Reason: SIP;cause=486")


def test(env):
    cap = h.start_capture(env, [SIP, A_SIP, B_SIP, A_SIP + 100, B_SIP + 100])
    a = h.start_anchord(env, config())
    flow4(env, cap)
    b_busy(env, cap)
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "threepcc_flows")
