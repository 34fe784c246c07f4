#!/usr/bin/env python3
"""integration.location_multipart (and location_reference, which imports this file):
what a position receives of the caller's location and emergency headers.

A sipp NG9-1-1 caller (multipart/mixed: SDP + PIDF-LO with Content-ID, Geolocation
<cid:...>) calls through anchord to a sipp position. The INVITE bytes are taken from
packet captures on lo: what the caller sent to anchord, and what the position got.

location = "multipart" (DESIGN invariant 6, NENA-3.1.13-a, NENA-3.2-a, R6442-4.1-b):
  - the position's INVITE is multipart/mixed, anchord's own SDP first;
  - the PIDF-LO part is byte-identical to the caller's, part headers included
    (Content-Type, Content-ID, Content-Disposition);
  - Geolocation (same cid), Geolocation-Routing, Resource-Priority (NENA-3.1.7-a),
    Call-Info CallId + IncidentId (NENA-4.2.2.2-a), History-Info (NENA-3.1.5-a) and
    P-Asserted-Identity are carried unchanged.
location = "reference": the same headers, Geolocation included, but a plain
application/sdp body (no PIDF-LO).
Both sipp scenarios must complete (the call is set up and torn down normally).
"""
import re

import harness as h

COPIED = ["Geolocation", "Geolocation-Routing", "Resource-Priority", "Call-Info",
          "History-Info", "P-Asserted-Identity"]


def header_values(msg, name):
    """All comma-separated entries of a header (it may be split over several lines)."""
    out = []
    for v in h.sip_headers(msg, name):
        out += [x.strip() for x in re.split(r",(?=\s*<)", v) if x.strip()]
    return out


def run(env, mode, sip, caller_sip, caller_rtp, pos_port, pos_rtp, rtp_min):
    rtp_max = rtp_min + 19
    cap = h.start_capture(env, [sip, pos_port], protos=("udp", "tcp"))
    pos = h.position_sipp(env, "pos1", "uas_answer_silent", pos_port, pos_rtp, timeout_s=40)
    cfg = h.anchord_config(sip, rtp_min, rtp_max,
                           [h.position("pos1", pos_port, location=mode)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, sip, pos_port, "pos1")
    c = h.caller(env, "caller", "caller_ng911", sip, caller_sip, caller_rtp, duration_ms=1500)
    h.sipp_wait(env, c, 30)
    h.sipp_wait(env, pos, 15)

    sent = [p for p in cap.get(sip) if p.sport == caller_sip and p.payload.startswith(b"INVITE ")]
    env.require(bool(sent), "captured the caller's INVITE to anchord")
    got = [p for p in cap.get(pos_port) if p.payload.startswith(b"INVITE ")]
    if not got:
        print(a.tail(30))
    env.require(bool(got), "the position received an INVITE")
    if got[0].proto != "udp":
        h.log(f"note: the position's INVITE came over {got[0].proto} ({len(got[0].payload)} bytes)")
    src, dst = sent[0].payload, got[0].payload
    h.log(f"caller INVITE {len(src)} bytes; position INVITE {len(dst)} bytes over "
          f"{got[0].proto}:\n" + dst.decode("utf-8", "replace"))

    for name in COPIED:
        want = header_values(src, name)
        have = header_values(dst, name)
        env.check(sorted(want) == sorted(have), f"{name} copied unchanged: {have}")

    ctype = h.sip_header(dst, "Content-Type") or ""
    body = h.sip_body(dst)
    if mode == "reference":
        env.check(ctype.lower().startswith("application/sdp"),
                  f"reference: body is plain application/sdp ({ctype!r})")
        env.check(b"pidf" not in body.lower() and b"<presence" not in body,
                  "reference: no PIDF-LO in the body")
        sdp = body
    else:
        env.require(ctype.lower().startswith("multipart/mixed"),
                    f"multipart: body is multipart/mixed ({ctype!r})")
        src_parts = h.multipart_parts(h.sip_body(src), h.sip_header(src, "Content-Type"))
        dst_parts = h.multipart_parts(body, ctype)
        h.log(f"position body parts: {[p[1].get('content-type') for p in dst_parts]}")
        env.require(len(dst_parts) == len(src_parts),
                    f"multipart: {len(dst_parts)} parts, as many as the caller sent")
        env.check(dst_parts[0][1].get("content-type", "").startswith("application/sdp"),
                  "multipart: anchord's SDP is the first part")
        sdp = dst_parts[0][2]
        for raw, hdrs, _content in src_parts[1:]:
            cid = hdrs.get("content-id")
            match = [p for p in dst_parts[1:] if p[1].get("content-id") == cid]
            env.check(bool(match), f"multipart: part {hdrs.get('content-type')} with Content-ID "
                      f"{cid} is present")
            if match:
                env.check(match[0][0] == raw, f"multipart: part {cid} is byte-identical "
                          f"({len(raw)} bytes, headers included)")
    # The position must get anchord's SDP, never the caller's (media anchoring).
    ports = [int(x) for x in re.findall(rb"(?m)^m=audio (\d+)", sdp)]
    env.check(ports and rtp_min <= ports[0] <= rtp_max,
              f"position's SDP offers anchord's media port {ports} "
              f"(range {rtp_min}-{rtp_max}, caller's is {caller_rtp})")
    rc = a.stop()
    env.check(rc == 0, f"anchord exits 0 on SIGTERM (rc={rc})")


def test(env):
    run(env, "multipart", 5072, 15200, 15202, 15210, 15220, 31100)


if __name__ == "__main__":
    h.main(test, "location_multipart")
