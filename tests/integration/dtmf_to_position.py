#!/usr/bin/env python3
"""integration.dtmf_to_position: a caller's RFC 4733 DTMF "911#" reaches the call-taker as
telephone-events, and anchord logs each digit.

sipp does the SIP of both sides (caller_ext_media, uas_ext_media: PCMU 0 + telephone-event
101 offered and answered); the RTP of both is Python's (media_tools.RtpPeer): the caller sends
1 kHz, then each digit as 10 event packets (200 ms, marker on the first, end packet x3) with
200 ms of tone between; the position sends 600 Hz. Proves (capture at the position's RTP port,
RFC 4733 parsed):
  - the position receives telephone-event packets for exactly 9, 1, 1, # in that order, each
    with the end bit (E) and a duration of about 200 ms, marker on the first packet;
  - those packets are in the same RTP stream as its audio (one SSRC, sequence +1);
  - the position hears the caller's 1 kHz before and after the digits;
  - anchord logs `DTMF 9`, `DTMF 1`, `DTMF 1`, `DTMF #` with DIGIT (core/README event catalogue).
"""
import random

import harness as h
import media_tools as m

SIP = 5131
CALLER_SIP, CALLER_RTP, CALLER_SIPP_RTP = 21100, 21102, 21104
POS_SIP, POS_RTP, POS_SIPP_RTP = 21110, 21112, 21114
RTP_MIN, RTP_MAX = 34100, 34119
DIGITS = "911#"


def test(env):
    m.require_free_ports(env, [SIP, CALLER_SIP, CALLER_RTP, CALLER_SIPP_RTP, POS_SIP, POS_RTP,
                               POS_SIPP_RTP])
    cap = h.start_capture(env, [SIP, CALLER_SIP, CALLER_RTP, POS_SIP, POS_RTP])
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MAX, [h.position("pos1", POS_SIP)],
                           rtp_timeout_ms=2000)
    a = h.start_anchord(env, cfg)
    pos_rtp = m.RtpPeer(env, POS_RTP, name="position")
    caller_rtp = m.RtpPeer(env, CALLER_RTP, name="caller")
    pos = h.sipp(env, "pos1", "uas_ext_media", local_port=POS_SIP, media_port=POS_SIPP_RTP,
                 timeout_s=40, variables={"rtp": POS_RTP}, extra=["-s", "pos1"])
    h.wait_position_up(a, cap, SIP, POS_SIP, "pos1")

    c = h.sipp(env, "caller", "caller_ext_media", remote_port=SIP, local_port=CALLER_SIP,
               media_port=CALLER_SIPP_RTP, timeout_s=30, variables={"rtp": CALLER_RTP},
               extra=["-m", "1", "-d", "6000"])
    offer = m.wait_invite_sdp(cap, POS_SIP, 5)
    pos_rtp.play((offer["ip"], offer["port"]),
                 m.stream_schedule(m.tone_frames(600, 8.0), random.randrange(1 << 32)))
    answer = m.wait_200_sdp(cap, CALLER_SIP, 5)
    h.log(f"anchord's SDP to the caller: {answer}")
    env.require(101 in answer["pts"] and "telephone-event" in answer["rtpmap"].get(101, ""),
                "anchord's answer to the caller keeps telephone-event 101")
    schedule = m.dtmf_schedule(DIGITS, 0x5EC0911)
    t0 = caller_rtp.play((answer["ip"], answer["port"]), schedule)
    caller_rtp.wait_sent(schedule[-1][0] + 3)
    h.sipp_wait(env, c, 20)
    h.sipp_wait(env, pos, 15)
    m.write_pcap(env.path("capture.pcap"), cap.get())

    check_events(env, cap, t0)
    lines = a.find_all(r"\] DTMF [0-9*#A-D] ")
    logged = [h.parse_kv(l).get("DIGIT") for l in lines]
    env.check("".join(d or "?" for d in logged) == DIGITS,
              f"anchord logged the digits {DIGITS!r} in order ({logged})")
    durations = [int(h.parse_kv(l).get("DURATION_MS", -1)) for l in lines]
    env.check(durations and all(180 <= d <= 220 for d in durations),
              f"anchord logged each digit's duration as about 200 ms ({durations})")
    env.check(a.stop() == 0, "anchord exits 0 on SIGTERM")


def check_events(env, cap, t0):
    pk = m.rtp_all(cap, POS_RTP)
    events = m.events_by_start(pk)
    h.log("position received events: " + ", ".join(
        f"{e['digit']}(packets={e['packets']}, ends={e['ends']}, dur={e['duration']}, "
        f"M={int(e['marker'])}, t=+{e['t'] - t0:.2f}s)" for e in events))
    env.check("".join(e["digit"] for e in events) == DIGITS,
              f"the position receives telephone-events for {DIGITS!r} in order")
    env.check(all(e["ends"] >= 1 for e in events) and events,
              "every event ends with the E bit")
    env.check(all(e["marker"] for e in events) and events, "every event starts with a marker")
    env.check(all(1200 <= e["duration"] <= 2400 for e in events) and events,
              "every event lasts about 200 ms (duration 1200-2400 at 8 kHz)")
    ssrcs = {r.ssrc for r in pk}
    env.check(len(ssrcs) == 1, f"audio and events to the position share one SSRC ({ssrcs})")
    by_t = sorted(pk, key=lambda r: r.t)
    breaks = [(x.seq, y.seq) for x, y in zip(by_t, by_t[1:]) if (x.seq + 1) & 0xFFFF != y.seq]
    env.check(not breaks, f"sequence +1 across audio and events ({len(by_t)} packets; "
              f"breaks {breaks[:5]})")
    audio = [r for r in by_t if r.pt == 0]
    wins = h.rtp_tone_windows(audio, [1000, 600])
    first_ev = events[0]["t"] if events else t0 + 1.0
    last_ev = events[-1]["t"] if events else t0 + 3.0
    before = sum(1000 in w.tones for w in wins if w.t < first_ev)
    after = sum(1000 in w.tones for w in wins if w.t > last_ev + 0.3)
    env.check(before >= 25 and after >= 25, f"the position hears the caller's 1 kHz before "
              f"({before} windows) and after ({after}) the digits")


if __name__ == "__main__":
    h.main(test, "dtmf_to_position")
