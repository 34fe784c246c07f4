#!/usr/bin/env python3
"""integration.refer_transfer_audio: blind transfer by REFER from a real softphone position
(NENA-4.7.5-a, NENA-4.7.1-b, RFC 3515; DESIGN invariant 1: the caller's leg is never touched).

A sipp caller (1 kHz) is answered by baresip position 1 (600 Hz). Position 1 transfers the
call with baresip's own `transfer` command (over ctrl_tcp) to baresip position 2 (800 Hz,
a plain SIP URI, not a configured position). Proves:
  - on the wire: position 1's REFER gets 202; anchord INVITEs position 2 with Referred-By
    (the REFER's, or, as baresip 1.0.0 sends none, position 1's configured URI);
    a NOTIFY with a message/sipfrag body `SIP/2.0 200` reaches position 1; position 1's BYE
    ends only its own leg; no SIP request at all (BYE, re-INVITE, UPDATE) reaches the caller
    between its ACK and its own BYE, and the caller's sipp (which fails on any unexpected
    message) exits 0;
  - by Goertzel on what the caller hears (capture at its RTP port, arrival times): 600 Hz,
    then 800 Hz, never its own 1 kHz; the gap between the last 600 Hz window and the first
    800 Hz window is measured and must stay under 2 s; RTP to the caller keeps one SSRC and
    continuous sequence numbers;
  - position 2's recording holds the caller's 1 kHz; the caller's BYE reaches position 2."""
import re

import harness as h

SIP, RTP_MIN = 5115, 33100
CALLER, CALLER_RTP = 20500, 20502
POS1, POS1_RTP, CTRL1 = 20510, 20530, 20590
POS2, POS2_RTP = 20520, 20550
MAX_GAP_S = 2.0


def test(env):
    cap = h.start_capture(env, [SIP, CALLER, POS1, POS2, CALLER_RTP])
    p1 = h.BaresipCtl(env, "pos1", POS1, 600, POS1_RTP, CTRL1, lifetime_s=60)
    p2 = h.Baresip(env, "pos2", POS2, 800, POS2_RTP, lifetime_s=60)
    p1.wait_ready()
    p2.wait_ready()
    cfg = h.anchord_config(SIP, RTP_MIN, RTP_MIN + 19, [h.position("pos1", POS1)],
                           rtp_timeout_ms=60000)
    a = h.start_anchord(env, cfg)
    h.wait_position_up(a, cap, SIP, POS1, "pos1")
    c = h.caller(env, "caller", "caller_plain", SIP, CALLER, CALLER_RTP, duration_ms=9000)
    h.wait_hearing(cap, CALLER_RTP, 600, 1.5, 10, proc_alive=c.alive)
    r = p1.command("transfer", f"sip:pos2@{h.LOCAL}:{POS2}")
    h.log(f"baresip pos1 transfer -> {r}")
    t_refer = h.wait_until(lambda: next((p.t for p in h.sip_messages_to(cap, SIP)
                                         if p.sport == POS1 and p.payload.startswith(b"REFER ")),
                                        None), 5, what="pos1's REFER")
    h.wait_hearing(cap, CALLER_RTP, 800, 1.5, 10, proc_alive=c.alive)
    h.sipp_wait(env, c, 15)
    names = {SIP: "anchord", CALLER: "caller", POS1: "pos1", POS2: "pos2"}
    flow = [f for f in h.sip_flow(cap, list(names), names)
            if f[3].sport in names and f[3].dport in names]
    h.log_sip_flow(flow)
    check_wire(env, flow)
    check_audio(env, cap, t_refer)
    recs = p2.recordings()
    if env.check(len(recs) >= 1, f"position 2 recorded the call ({recs})"):
        share, dur = h.wav_share_with(recs[-1], 1000, [600, 800])
        env.check(share >= 0.3, f"position 2 hears the caller's 1 kHz in {share * 100:.0f}% "
                  f"of {dur:.1f} s (>= 30%)")
    env.check(a.proc.alive(), "anchord still running")


def check_wire(env, flow):
    def msgs(who, prefix):
        return [p.payload for _t, w, l, p in flow if w == who and l.startswith(prefix)]
    refer = msgs("pos1->anchord", "REFER")
    env.require(bool(refer), "position 1 sent REFER")
    env.check(re.search(rf"sip:pos2@127\.0\.0\.1:{POS2}", h.sip_header(refer[0], "Refer-To")
                        or "") is not None, f"Refer-To names position 2 "
              f"({h.sip_header(refer[0], 'Refer-To')})")
    env.check(any(l == "SIP/2.0 202 Accepted (REFER)" or
                  (l.startswith("SIP/2.0 202") and "(REFER)" in l)
                  for _t, w, l, _p in flow if w == "anchord->pos1"), "REFER answered 202")
    inv2 = msgs("anchord->pos2", "INVITE")
    env.check(len(inv2) == 1, f"anchord INVITEd position 2 once ({len(inv2)})")
    by_refer = h.sip_header(refer[0], "Referred-By")
    by_invite = h.sip_header(inv2[0], "Referred-By") if inv2 else None
    h.log(f"Referred-By: REFER {by_refer!r}, INVITE to position 2 {by_invite!r}")
    if by_refer is not None:
        env.check(by_invite == by_refer, "Referred-By copied into the INVITE (NENA-4.7.1-b)")
    else:  # baresip 1.0.0 sends none: anchord names the transferring position itself
        want = f"<sip:pos1@{h.LOCAL}:{POS1}>"
        env.check(by_invite == want, f"the REFER had no Referred-By; the INVITE to position 2 "
                  f"carries Referred-By: {want} (NENA-4.7.1-b): {by_invite!r}")
    notifies = msgs("anchord->pos1", "NOTIFY")
    frags = [h.sip_body(n).decode("utf-8", "replace").strip() for n in notifies]
    env.check(any(f.startswith("SIP/2.0 200") for f in frags) and
              all("message/sipfrag" in (h.sip_header(n, "Content-Type") or "")
                  for n in notifies),
              f"NOTIFY message/sipfrag 'SIP/2.0 200' reached position 1 ({frags})")
    final = [n for n in notifies if h.sip_body(n).startswith(b"SIP/2.0 200")]
    env.check(bool(final) and (h.sip_header(final[0], "Event") or "").startswith("refer") and
              (h.sip_header(final[0], "Subscription-State") or "").startswith("terminated"),
              "the final NOTIFY has Event: refer and Subscription-State: terminated "
              "(RFC 3515 2.4.4)")
    env.check(bool(msgs("pos1->anchord", "BYE")), "position 1 hung up after the transfer")
    ts = [t for t, w, l, _p in flow if w == "caller->anchord" and l.startswith(("ACK", "BYE"))]
    to_caller = [l for t, w, l, _p in flow if w == "anchord->caller" and
                 not l.startswith("SIP/2.0") and ts and ts[0] <= t <= ts[-1]]
    env.check(not to_caller, f"no SIP request reached the caller during the call {to_caller}")
    env.check(bool(msgs("anchord->pos2", "BYE")), "the caller's BYE reached position 2")


def check_audio(env, cap, t_refer):
    pk = h.rtp_stream(cap, CALLER_RTP)
    t_bye = h.caller_bye_time(cap, SIP, CALLER, default=pk[-1].t if pk else 0)
    pk = [r for r in pk if r.t < t_bye - 0.05]
    wins = h.rtp_tone_windows(pk, [600, 800, 1000, 440])
    h.log(f"caller hears: {h.tone_timeline(wins, [])}")
    last600 = max((w.t for w in wins if 600 in w.tones and w.t < t_refer + 5), default=None)
    first800 = min((w.t for w in wins if 800 in w.tones), default=None)
    env.require(last600 is not None and first800 is not None,
                "caller heard 600 Hz and then 800 Hz")
    env.check(first800 > t_refer and not [w for w in wins if 800 in w.tones and w.t < t_refer],
              "800 Hz only after the REFER")
    gap = first800 - last600 - 0.020
    h.log(f"transfer gap heard by the caller: {gap * 1000:.0f} ms (last 600 Hz -> first "
          f"800 Hz); REFER -> first 800 Hz {(first800 - t_refer) * 1000:.0f} ms")
    env.check(gap < MAX_GAP_S, f"gap between position 1 and position 2 {gap * 1000:.0f} ms "
              f"< {MAX_GAP_S * 1000:.0f} ms")
    after = [w for w in wins if w.t >= first800]
    n800 = sum(1 for w in after if w.tones == {800})
    env.check(n800 >= 75, f"caller hears position 2 alone afterwards ({n800} windows)")
    # Position 1 stays in the bridge until its BYE (it hangs up on the NOTIFY): a short mix.
    late600 = [w for w in after if 600 in w.tones and w.t > first800 + 1.0]
    env.check(not late600, f"no 600 Hz later than 1 s after position 2 came in "
              f"({len(late600)} windows)")
    env.check(not any(1000 in w.tones for w in wins), "caller never hears its own 1 kHz")
    h.check_rtp_continuity(env, pk, "anchord->caller RTP")


if __name__ == "__main__":
    h.main(test, "refer_transfer_audio")
