#!/usr/bin/env python3
"""integration.control_api: the control API and anchorctl against the real daemon.

GET /v1/positions lists pos1 (up: a sipp position answering heartbeats) and pos2 (down:
nobody there); during a call from a sipp caller answered by the sipp position, GET
/v1/calls shows it answered with both parties, and anchorctl (table and --json) agrees;
hostile requests get 400/404/405 and the daemon keeps running; DELETE /v1/calls/{id}
ends the call: the caller's sipp receives a BYE (an operator may end a caller's leg,
invariant 1) and the position's too; the call is then gone (404), and anchorctl's
hangup of it exits 1."""
import json
import os
import subprocess
import urllib.error
import urllib.request

import harness as h

SIP, CALLER_SIP, CALLER_RTP, POS1, POS1_RTP, POS2 = 5090, 16600, 16602, 16610, 16620, 16630
RTP_MIN = 32000
API = f"{h.LOCAL}:18090"


def http(method, path, body=None):
    """(status, parsed JSON or None) of one request to the control API."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"http://{API}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def api_up():
    try:
        return http("GET", "/v1/health") == (200, {"status": "ok"})
    except OSError:
        return False


def positions():
    status, body = http("GET", "/v1/positions")
    return {p["name"]: p for p in body["positions"]} if status == 200 else {}


def answered_calls():
    status, body = http("GET", "/v1/calls")
    return [c for c in body["calls"] if c["state"] == "answered"] if status == 200 else []


def anchorctl(env, *args):
    path = os.path.join(os.path.dirname(env.anchord_path), "anchorctl")
    r = subprocess.run([path, "--api", API, *args], capture_output=True, text=True, timeout=20)
    h.log(f"anchorctl {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def check_positions(env):
    pos = h.wait_until(lambda: (lambda p: p if p.get("pos1", {}).get("health") == "up" and
                                p.get("pos2", {}).get("health") == "down" else None)(positions()),
                       10, interval=0.1, what="pos1 up and pos2 down in GET /v1/positions")
    env.check(set(pos) == {"pos1", "pos2"}, f"positions listed: {sorted(pos)}")
    env.check(pos["pos1"]["uri"] == f"sip:pos1@{h.LOCAL}:{POS1}" and
              pos["pos1"]["standby"] == "pos2", f"pos1 as configured: {pos['pos1']}")
    env.check(pos["pos1"]["activity"] == "idle", f"pos1 idle before the call: {pos['pos1']}")


def check_call(env, call):
    env.check("+15555550100" in call["caller"], f"caller {call['caller']}")
    env.check(call["position"] == "pos1", f"served by {call['position']}")
    env.check(call["answered_unix_ms"] >= call["started_unix_ms"] > 0, "start/answer times")
    kinds = sorted(p["kind"] for p in call["parties"])
    env.check(kinds == ["caller", "position"], f"parties {kinds}")
    status, one = http("GET", f"/v1/calls/{call['id']}")
    env.check(status == 200 and one["id"] == call["id"], f"GET /v1/calls/{call['id']}: {status}")
    pos1 = positions().get("pos1", {})
    env.check(pos1.get("activity") == "busy" and pos1.get("call") == call["id"],
              f"pos1 busy with the call: {pos1}")


def check_anchorctl(env, call_id):
    r = anchorctl(env, "--json", "calls")
    env.check(r.returncode == 0, f"anchorctl --json calls exit {r.returncode}")
    try:
        ids = [c["id"] for c in json.loads(r.stdout)["calls"]]
    except (ValueError, KeyError, TypeError):
        ids = None
    env.check(ids == [call_id], f"anchorctl --json calls parses and lists {ids}")
    r = anchorctl(env, "calls")
    rows = r.stdout.splitlines()
    env.check(r.returncode == 0 and rows and rows[0].startswith("ID") and
              any(row.split()[:2] == [str(call_id), "answered"] for row in rows[1:]),
              "anchorctl calls table shows the answered call")
    r = anchorctl(env, "positions")
    env.check(r.returncode == 0 and "pos1" in r.stdout and "pos2" in r.stdout,
              "anchorctl positions")


def check_hostile(env, a):
    env.check(http("POST", "/v1/calls", "{not json")[0] == 400, "bad JSON -> 400")
    env.check(http("POST", "/v1/calls", '{"a":"tel:911","b":"sip:b@x"}')[0] == 400,
              "non-sip URI -> 400")
    env.check(http("POST", "/v1/calls", "x" * 20000)[0] == 413, "20 kB body -> 413")
    env.check(http("GET", "/v1/nope")[0] == 404, "unknown path -> 404")
    env.check(http("PUT", "/v1/calls", "{}")[0] == 405, "PUT -> 405")
    env.check(http("GET", "/v1/calls/abc")[0] == 400, "non-numeric id -> 400")
    env.check(a.proc.alive() and api_up(), "anchord alive and answering after hostile input")


def test(env):
    cap = h.start_capture(env, [SIP, CALLER_SIP, POS1])
    pos = h.position_sipp(env, "pos1", "uas_answer", POS1, POS1_RTP, duration_ms=1000,
                          timeout_s=60)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19,
                           [h.position("pos1", POS1, standby="pos2"),
                            h.position("pos2", POS2, standby="pos1")],
                           rtp_timeout_ms=60000, control_listen=API)
    a = h.start_anchord(env, cfg)
    h.wait_until(api_up, 10, interval=0.1, what=f"the control API on {API}")
    check_positions(env)
    h.wait_position_up(a, cap, SIP, POS1, "pos1")
    c = h.caller(env, "caller", "caller_wait_bye", SIP, CALLER_SIP, CALLER_RTP, timeout_s=40)
    calls = h.wait_until(answered_calls, 15, interval=0.1, what="an answered call in /v1/calls")
    env.require(len(calls) == 1, f"one answered call: {calls}")
    call = calls[0]
    check_call(env, call)
    check_anchorctl(env, call["id"])
    check_hostile(env, a)

    status, _ = http("DELETE", f"/v1/calls/{call['id']}")
    env.check(status == 204, f"DELETE /v1/calls/{call['id']} -> {status}")
    h.sipp_wait(env, c, 15)  # exits 0 only once it received the BYE and answered it
    byes = [p for p in h.sip_messages_to(cap, CALLER_SIP) if p.payload.startswith(b"BYE ")]
    env.check(bool(byes), f"caller received BYE ({len(byes)})")
    h.sipp_wait(env, pos, 15)
    pbyes = [p for p in h.sip_messages_to(cap, POS1) if p.payload.startswith(b"BYE ")]
    env.check(bool(pbyes), f"position received BYE ({len(pbyes)})")
    h.wait_until(lambda: http("GET", f"/v1/calls/{call['id']}")[0] == 404, 5, interval=0.1,
                 what="the hung-up call to be gone (404)")
    r = anchorctl(env, "hangup", str(call["id"]))
    env.check(r.returncode == 1 and "404" in r.stderr, "anchorctl hangup of a gone call exits 1")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "control_api")
