#!/usr/bin/env python3
"""integration.large_invite_tcp: a request over 1300 bytes goes over TCP (R3261-18.1.1-a).

pos1 (`location = "multipart"`) is two sipp processes on port P: a UAS on TCP P
(`-t t1`, Contact ;transport=tcp) and a heartbeat responder on UDP P (TCP and UDP ports are
separate). A caller's NG9-1-1 INVITE with a ~2 KB PIDF-LO makes anchord's INVITE to pos1
exceed 1300 bytes: it must reach P over TCP with a TCP top Via, none over UDP; the call
completes (200, ACK, BYE over TCP) and pos1 hears the caller's 1 kHz. A second caller's
small plain-SDP INVITE goes to pos2 over UDP (under 1300 bytes, UDP Via, nothing over TCP)."""
import harness as h

SIP, RTP_MIN = 5113, 33060
C1, C1_RTP, P, P_RTP = 20300, 20302, 20310, 20312
Q, Q_RTP, C2, C2_RTP = 20320, 20322, 20330, 20332


def at(cap, port, proto):
    return sorted([p for p in cap.get(port) if p.proto == proto and len(p.payload) > 4],
                  key=lambda p: p.t)


def starting(pkts, prefix):
    return [p for p in pkts if p.payload.startswith(prefix)]


def big_invite(env, cap, a):
    c = h.caller(env, "caller1", "caller_ng911_large", SIP, C1, C1_RTP, duration_ms=2000)
    h.sipp_wait(env, c, 20)
    tcp, udp = at(cap, P, "tcp"), at(cap, P, "udp")
    inv = starting(tcp, b"INVITE ")
    env.require(bool(inv), f"pos1 got an INVITE over TCP ({len(inv)})")
    raw = inv[0].payload
    env.check(len(raw) > 1300, f"that INVITE is {len(raw)} bytes (> 1300)")
    env.check((h.sip_header(raw, "Via") or "").startswith("SIP/2.0/TCP"),
              f"its top Via is TCP ({h.sip_header(raw, 'Via')})")
    env.check(b"application/pidf+xml" in raw, "it carries the PIDF-LO part (multipart)")
    env.check(not starting(udp, b"INVITE "), "no INVITE to pos1 over UDP")
    env.check(bool(starting(tcp, b"ACK ")) and bool(starting(tcp, b"BYE ")),
              "ACK and BYE reached pos1 over TCP")
    # The 200 goes back on the connection anchord opened (to its ephemeral port): read it
    # from pos1's own trace.
    oks = [t for d, t in h.sipp_messages(env, "pos1") if d == "sent"
           and t.startswith("SIP/2.0 200") and h.cseq_method(t.encode()) == "INVITE"]
    env.check(bool(oks) and "TCP message sent" in open(env.path("pos1.msg")).read(),
              "pos1 answered 200 over TCP")
    got = [h.sip_start_line(p.payload) for p in h.sip_messages_to(cap, C1)]
    env.check("SIP/2.0 200 OK" in got, f"caller got 200 ({got})")
    # sipp cannot stream toward a multipart offer (real-peers.md), so media is checked the
    # other way: the caller's 1 kHz reaches pos1 through anchord.
    heard = h.rtp_tone_windows(h.rtp_stream(cap, P_RTP), [1000])
    n = sum(1 for w in heard if 1000 in w.tones)
    env.check(n >= 25, f"pos1 heard the caller's 1000 Hz in {n} windows (>= 25)")


def small_invite(env, cap, a):
    c = h.caller(env, "caller2", "caller_plain", SIP, C2, C2_RTP, duration_ms=1000)
    h.sipp_wait(env, c, 20)
    udp, tcp = at(cap, Q, "udp"), at(cap, Q, "tcp")
    inv = starting(udp, b"INVITE ")
    env.require(bool(inv), "pos2 got the small INVITE over UDP")
    raw = inv[0].payload
    env.check(len(raw) <= 1300, f"that INVITE is {len(raw)} bytes (<= 1300)")
    env.check((h.sip_header(raw, "Via") or "").startswith("SIP/2.0/UDP"),
              f"its top Via is UDP ({h.sip_header(raw, 'Via')})")
    env.check(not tcp, f"nothing reached pos2 over TCP ({len(tcp)} segments)")


def test(env):
    cap = h.start_capture(env, [SIP, P, Q, C1, C2, P_RTP], protos=("udp", "tcp"))
    h.ensure_tones(env)
    hb = h.sipp(env, "pos1udp", "uas_options_only", local_port=P, timeout_s=90)
    tcp_pos = h.sipp(env, "pos1", "uas_answer_tcp", local_port=P, media_port=P_RTP,
                     timeout_s=40, transport="t1", extra=["-s", "pos1", "-d", "3000"])
    pos2 = h.position_sipp(env, "pos2", "uas_answer", Q, Q_RTP)
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19,
                           [h.position("pos1", P, location="multipart"),
                            h.position("pos2", Q, location="multipart")],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, P, "pos1")
    h.wait_position_up(a, cap, SIP, Q, "pos2")
    big_invite(env, cap, a)
    h.sipp_wait(env, tcp_pos, 10)
    small_invite(env, cap, a)
    h.sipp_wait(env, pos2, 10)
    env.check(hb.alive(), "pos1's heartbeat responder still running (no stray request)")
    env.check(a.proc.alive(), "anchord still running")


if __name__ == "__main__":
    h.main(test, "large_invite_tcp")
