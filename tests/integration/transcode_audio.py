#!/usr/bin/env python3
"""integration.transcode_audio: caller and position on different codecs, transcoded through
anchord's bridge (linear PCM, 16 kHz once a leg is wideband; media/README "Codecs").

Two calls, each on its own anchord:
  A. a sipp caller on PCMU (1 kHz) -> a baresip position restricted to G.722 (600 Hz);
  B. a baresip caller restricted to G.722 (1 kHz) -> a baresip position restricted to Opus
     (800 Hz).
Proves for each: the SDP each leg negotiated (anchord's 200 to the caller, the position's 200
to anchord) names the expected codec and the RTP on the wire carries its payload type in
both directions of each leg; each side hears the other's tone (Goertzel on the baresip
recordings; on the RTP captured at the sipp caller's port, where also the stream is
continuous) and not its own.
"""
import re
import time

import harness as h
import media_tools as m

# call A
SIP_A, CALLER_A_SIP, CALLER_A_RTP = 5130, 21000, 21002
POS_A_SIP, POS_A_RTP = 21010, 21040
RTP_A = (34000, 34019)
# call B
SIP_B, CALLER_B_SIP, CALLER_B_RTP = 5135, 21020, 21060
POS_B_SIP, POS_B_RTP = 21030, 21080
RTP_B = (34040, 34059)


def codec_of(media, pt):
    return media["rtpmap"].get(pt, {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000"}.get(pt, "?"))


def sdp_200_from(cap, dport, sport):
    """sdp_media() of the first 200 to an INVITE sent from sport to dport."""
    for p in sorted(h.sip_messages_to(cap, dport), key=lambda p: p.t):
        if p.sport == sport and p.payload.startswith(b"SIP/2.0 200") and \
                h.cseq_method(p.payload) == "INVITE":
            return m.sdp_media(p.payload)
    return None


def wire_pts(cap, dport_range, sport=None, dport=None):
    """Payload types of RTP captured to ports in dport_range (optionally from/to one port)."""
    pts = {}
    for p in cap.get():
        if not dport_range[0] <= p.dport <= dport_range[1]:
            continue
        if (sport is not None and p.sport != sport) or (dport is not None and p.dport != dport):
            continue
        r = h.parse_rtp(p)
        if r is not None and not 72 <= r.pt <= 76:
            pts[r.pt] = pts.get(r.pt, 0) + 1
    return pts


def check_heard(env, who, rec_owner, want, others):
    recs = rec_owner.recordings()
    if not env.check(bool(recs), f"{who} recorded what it received ({recs})"):
        return
    share, dur = h.wav_share_with(recs[0], want, others)
    own = h.wav_share_with(recs[0], others[0], [want])[0] if others else 0.0
    h.log(f"{who}: {recs[0]} {dur:.1f} s, {want} Hz in {share:.0%} of windows")
    env.check(dur >= 2.0 and share >= 0.6, f"{who} hears {want} Hz ({share:.0%} of {dur:.1f} s)")
    env.check(own < 0.05, f"{who} does not hear its own {others[0]} Hz ({own:.0%})")


def call_a(env):
    """sipp PCMU caller -> baresip G.722 position."""
    pos = m.CodecBaresip(env, "posg722", POS_A_SIP, 600, POS_A_RTP, "G722/16000/1")
    pos.wait_ready()
    cap = h.start_capture(env, [SIP_A, CALLER_A_SIP, CALLER_A_RTP, POS_A_SIP] +
                          list(range(POS_A_RTP, POS_A_RTP + 20)) +
                          list(range(RTP_A[0], RTP_A[1] + 1)))
    a = h.start_anchord(env, h.anchord_config(SIP_A, RTP_A[0], RTP_A[1], [
        h.position("posg722", POS_A_SIP)], rtp_timeout_ms=1000), name="anchord-a")
    h.wait_position_up(a, cap, SIP_A, POS_A_SIP, "posg722")
    c = h.caller(env, "caller-a", "caller_plain", SIP_A, CALLER_A_SIP, CALLER_A_RTP,
                 duration_ms=5000)
    try:
        h.wait_hearing(cap, CALLER_A_RTP, 600, 2.0, timeout=10, proc_alive=c.alive)
    except h.TestFailure as e:
        env.check(False, f"A: the PCMU caller hears the G.722 position: {e}")
        h.print_anchord_tail(a)
    h.sipp_wait(env, c, 20)
    pos.proc.kill()  # flushes the recording

    to_caller = sdp_200_from(cap, CALLER_A_SIP, SIP_A)
    from_pos = sdp_200_from(cap, SIP_A, POS_A_SIP)
    h.log(f"A: anchord's 200 to the caller: {to_caller}; the position's 200: {from_pos}")
    env.check(to_caller and to_caller["pts"][0] == 0, "A: caller leg negotiated PCMU (0)")
    env.check(from_pos and codec_of(from_pos, from_pos["pts"][0]).upper().startswith("G722"),
              "A: position leg negotiated G.722")
    leg = (to_caller or {}).get("port", -1)
    pos_port = (from_pos or {}).get("port", -1)
    pts = {"caller->anchord": wire_pts(cap, (leg, leg), sport=CALLER_A_RTP),
           "anchord->caller": wire_pts(cap, (CALLER_A_RTP, CALLER_A_RTP)),
           "position->anchord": wire_pts(cap, RTP_A, sport=pos_port),
           "anchord->position": wire_pts(cap, (pos_port, pos_port))}
    h.log(f"A: payload types on the wire: {pts}")
    env.check(set(pts["caller->anchord"]) == {0} and set(pts["anchord->caller"]) == {0},
              "A: PCMU (0) both ways on the caller leg")
    env.check(set(pts["position->anchord"]) == {9} and set(pts["anchord->position"]) == {9},
              "A: G.722 (9) both ways on the position leg")
    pk = h.rtp_stream(cap, CALLER_A_RTP)
    wins = h.rtp_tone_windows(pk, [600, 1000])
    h.log(f"A: caller hears {h.tone_timeline(wins, [])}")
    n600 = sum(600 in w.tones for w in wins)
    env.check(n600 >= 150, f"A: the PCMU caller hears the G.722 position's 600 Hz "
              f"({n600} windows, >= 3 s)")
    env.check(not any(1000 in w.tones for w in wins), "A: the caller does not hear itself")
    h.check_rtp_continuity(env, pk, "A: anchord->caller RTP")
    check_heard(env, "A: the G.722 position", pos, 1000, [600])
    env.check(a.stop() == 0, "A: anchord exits 0 on SIGTERM")
    cap.stop()


def call_b(env):
    """baresip G.722 caller -> baresip Opus position."""
    pos = m.CodecBaresip(env, "posopus", POS_B_SIP, 800, POS_B_RTP, "opus/48000/2")
    pos.wait_ready()
    cap = h.start_capture(env, [SIP_B, CALLER_B_SIP, POS_B_SIP] +
                          list(range(CALLER_B_RTP, CALLER_B_RTP + 20)) +
                          list(range(POS_B_RTP, POS_B_RTP + 20)) +
                          list(range(RTP_B[0], RTP_B[1] + 1)))
    a = h.start_anchord(env, h.anchord_config(SIP_B, RTP_B[0], RTP_B[1], [
        h.position("posopus", POS_B_SIP)], rtp_timeout_ms=1000), name="anchord-b")
    h.wait_position_up(a, cap, SIP_B, POS_B_SIP, "posopus")
    caller = m.CodecBaresip(env, "callerg722", CALLER_B_SIP, 1000, CALLER_B_RTP, "G722/16000/1",
                            dial=f"sip:sos@{h.LOCAL}:{SIP_B}", lifetime_s=30)
    try:
        h.wait_until(lambda: caller.call_established() and pos.call_established(), 10,
                     what="B: both baresips established the call")
    except h.TestFailure as e:
        env.check(False, str(e))
        h.print_anchord_tail(a)
    t_end = time.monotonic() + 5.0
    h.wait_until(lambda: time.monotonic() > t_end or not (caller.proc.alive() and
                 pos.proc.alive()), 6, what="B: 5 s of conversation")
    caller.proc.kill()
    pos.proc.kill()

    to_caller = sdp_200_from(cap, CALLER_B_SIP, SIP_B)
    from_pos = sdp_200_from(cap, SIP_B, POS_B_SIP)
    h.log(f"B: anchord's 200 to the caller: {to_caller}; the position's 200: {from_pos}")
    env.check(to_caller and to_caller["pts"][0] == 9, "B: caller leg negotiated G.722 (9)")
    opus_pt = from_pos["pts"][0] if from_pos else -1
    env.check(from_pos and re.match(r"(?i)opus/48000", codec_of(from_pos, opus_pt)),
              f"B: position leg negotiated Opus (PT {opus_pt})")
    leg = (to_caller or {}).get("port", -1)
    pos_port = (from_pos or {}).get("port", -1)
    caller_port = next((p.sport for p in cap.get(leg) if h.parse_rtp(p)), -1)
    pts = {"caller->anchord": wire_pts(cap, (leg, leg)),
           "anchord->caller": wire_pts(cap, (caller_port, caller_port)),
           "position->anchord": wire_pts(cap, RTP_B, sport=pos_port),
           "anchord->position": wire_pts(cap, (pos_port, pos_port))}
    h.log(f"B: payload types on the wire: {pts}")
    env.check(set(pts["caller->anchord"]) == {9} and set(pts["anchord->caller"]) == {9},
              "B: G.722 (9) both ways on the caller leg")
    env.check(set(pts["position->anchord"]) == {opus_pt} and
              set(pts["anchord->position"]) == {opus_pt},
              f"B: Opus ({opus_pt}) both ways on the position leg")
    check_heard(env, "B: the G.722 caller", caller, 800, [1000])
    check_heard(env, "B: the Opus position", pos, 1000, [800])
    env.check(a.stop() == 0, "B: anchord exits 0 on SIGTERM")


def test(env):
    m.require_free_ports(env, [SIP_A, SIP_B, CALLER_A_SIP, CALLER_A_RTP, POS_A_SIP,
                               CALLER_B_SIP, POS_B_SIP])
    call_a(env)
    call_b(env)


if __name__ == "__main__":
    h.main(test, "transcode_audio")
