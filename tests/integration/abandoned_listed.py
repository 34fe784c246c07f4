#!/usr/bin/env python3
"""integration.abandoned_listed: a caller who hangs up before answer is an abandoned call,
logged with its identity and location and kept for callback (NENA-4.6.8-a).

(a) Both positions down (nothing listening yet): an NG9-1-1 call (P-Asserted-Identity,
    Call-Info CallId/IncidentId, Geolocation) is queued: 180, 183, ringback heard; its
    caller CANCELs: 200 to the CANCEL and 487 to the INVITE (R3261-9.2-a); anchord logs
    "abandoned call" with CALLER, CALLER_IDENTITY, NG911_CALL_ID, NG911_INCIDENT_ID,
    LOCATION and STAGE=queued; `anchorctl --json abandoned` lists it with the same data and
    the caller's SIP Call-ID; no position ever got an INVITE.
(b) pos2 (sipp, rings, never answers) comes up; a second caller CANCELs after the 180:
    logged and listed with STAGE ringing; the position gets the CANCEL; the list now holds
    both calls, in order; the `anchorctl abandoned` table shows both.
"""
import json

import harness as h

SIP, RTP_MIN, RTP_MAX, API = 5104, 18260, 18279, f"{h.LOCAL}:18104"
CALLER_A, CALLER_B = 19300, 19320
POS1, POS2 = 19310, 19330  # pos1: nothing ever listens; pos2: sipp from part (b) on
CALLER = "sip:+15555550104@bcf.example.net"
NG911_CALL_ID = "urn:emergency:uid:callid:ab4nd0n3d1:bcf.example.net"
INCIDENT_ID = "urn:emergency:uid:incidentid:1nc1d3nt42:bcf.example.net"
LOCATION = "<https://lis.example.net/loc/abandoned-7f3a>"


def abandoned_list(env):
    r = h.anchorctl(env, API, "--json", "abandoned")
    env.check(r.returncode == 0, f"anchorctl --json abandoned exits 0 ({r.returncode})")
    try:
        return json.loads(r.stdout)["abandoned"]
    except (ValueError, KeyError, TypeError):
        env.check(False, f"anchorctl --json abandoned prints the API's JSON: {r.stdout!r}")
        return []


def part_a(env, a, cap):
    for p in ("pos1", "pos2"):
        a.wait_log(rf"position down\b.*POSITION={p}\b", 5)
    mark = a.mark()
    c = h.sipp(env, "caller-a", "caller_queued_cancel", remote_port=SIP, local_port=CALLER_A,
               media_port=CALLER_A + 2, timeout_s=20, extra=["-m", "1", "-d", "2500"])
    h.sipp_wait(env, c, 15)
    codes = [code for code, _ in h.responses_to(cap, CALLER_A)]
    cancel = [code for code, _ in h.responses_to(cap, CALLER_A, "CANCEL")]
    h.log(f"(a) caller received INVITE responses {codes}, CANCEL responses {cancel}")
    env.check(codes[-1:] == [487] and 183 in codes and cancel == [200],
              "(a) queued caller: 183, then 200 to its CANCEL and 487 to its INVITE")
    ring = [s for _t, s in h.chunk_tones(h.rtp_stream(cap, CALLER_A + 2), [440, 480])
            if s == {440, 480}]
    env.check(len(ring) >= 10, f"(a) the caller heard ringback before hanging up "
              f"({len(ring)} windows of 100 ms)")

    line = a.wait_log(r"abandoned call", 5, since=mark)
    kv = h.parse_kv(line)
    want = {"CALLER": CALLER, "CALLER_IDENTITY": f"<{CALLER}>", "NG911_CALL_ID": NG911_CALL_ID,
            "NG911_INCIDENT_ID": INCIDENT_ID, "LOCATION": LOCATION, "STAGE": "queued"}
    for k, v in want.items():
        env.check(kv.get(k) == v, f"(a) abandoned-call log {k}={kv.get(k)} (want {v})")

    sip_call_id = next((h.sip_header(p.payload, "Call-ID") for p in cap.get(SIP)
                        if p.sport == CALLER_A and p.payload.startswith(b"INVITE ")), None)
    rows = abandoned_list(env)
    env.require(len(rows) == 1, f"(a) one abandoned call listed: {rows}")
    r = rows[0]
    for k, v in (("stage", "queued"), ("ng911_call_id", NG911_CALL_ID), ("caller", CALLER),
                 ("incident_id", INCIDENT_ID), ("location", LOCATION),
                 ("sip_call_id", sip_call_id)):
        env.check(r.get(k) == v, f"(a) listed {k} = {r.get(k)!r} (want {v!r})")
    env.check(CALLER in r.get("caller_identity", ""), f"(a) listed caller_identity "
              f"{r.get('caller_identity')!r}")
    env.check(0 < r.get("started_unix_ms", 0) <= r.get("ended_unix_ms", -1),
              f"(a) start/end times {r.get('started_unix_ms')} <= {r.get('ended_unix_ms')}")
    return r


def part_b(env, a, cap, first):
    pos = h.position_sipp(env, "pos2", "uas_ring_cancel", POS2, POS2 + 2, timeout_s=30)
    h.wait_position_up(a, cap, SIP, POS2, "pos2")
    mark = a.mark()
    c = h.caller(env, "caller-b", "caller_cancel", SIP, CALLER_B, CALLER_B + 2)
    h.sipp_wait(env, c, 15)
    h.sipp_wait(env, pos, 15)  # exits 0 only if it got the CANCEL and its ACK
    line = a.wait_log(r"abandoned call", 5, since=mark)
    env.check(h.parse_kv(line).get("STAGE") == "ringing", "(b) logged with STAGE=ringing")
    rows = abandoned_list(env)
    env.check([r.get("stage") for r in rows] == ["queued", "ringing"],
              f"(b) both abandoned calls listed in order: {[r.get('stage') for r in rows]}")
    if len(rows) == 2:
        env.check(rows[0] == first, "(b) the first record is unchanged")
        env.check("+15555550100" in rows[1].get("caller", ""),
                  f"(b) second record's caller {rows[1].get('caller')!r}")
    t = h.anchorctl(env, API, "abandoned")
    lines = t.stdout.splitlines()
    env.check(t.returncode == 0 and len(lines) == 3 and lines[0].split()[:2] == ["ID", "CALLER"]
              and lines[1].split()[1:2] == [CALLER] and "queued" in lines[1].split() and
              "ringing" in lines[2].split(),
              "(b) anchorctl abandoned: a header line and the two calls")
    env.check(len(lines) == 3 and "NG911_CALL_ID" in lines[0].split() and
              NG911_CALL_ID in lines[1].split(),
              "(b) the table shows the NG9-1-1 call id to call back with")


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_A, CALLER_A + 2, CALLER_B, POS1, POS2])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS1),
                                                   h.position("pos2", POS2)],
                           rtp_timeout_ms=60000, control_listen=API)
    a = h.start_anchord(env, cfg)
    h.wait_api_up(API)
    first = part_a(env, a, cap)
    invites = [p for p in cap.get(POS1) + cap.get(POS2) if p.payload.startswith(b"INVITE ")]
    env.check(not invites, f"(a) no position got an INVITE ({len(invites)})")
    part_b(env, a, cap, first)
    env.check(a.stop() == 0, "anchord exits 0 on SIGTERM")


if __name__ == "__main__":
    h.main(test, "abandoned_listed")
