#!/usr/bin/env python3
"""integration.queue_overflow: the queue's limits turn calls away with the configured
overflow answer so the ESRP reroutes them (NENA-4.2.1.3; invariant 1: a written policy
before answer).

Two daemons, [queue] max_calls = 1 and max_wait_s = 3, one sipp position busy with call 1:
  (a) overflow_status left at its default: call 2 is queued (180, 183), call 3 arriving
      while call 2 waits gets 486 at once (no 180/183, within 1 s); call 2 itself gets 486
      once it has waited max_wait_s (3 s, +-0.7 s); call 1 is untouched and the position never
      sees an INVITE of call 2 or 3;
  (b) overflow_status = 503: the same sequence gives 503 to call 3 and to call 2.
Every caller's sipp ACKs its final answer and exits 0 only if that was 486 or 503.
"""
import harness as h

MAX_WAIT_S = 3
CALL1_MS = 7000  # longer than MAX_WAIT_S + setup: the position stays busy throughout

RUNS = {
    # label: (anchord SIP, RTP min, caller ports 1..3, position port, overflow_status)
    "a": (5102, 18220, (19200, 19210, 19220), 19230, None),
    "b": (5103, 18240, (19240, 19250, 19260), 19270, 503),
}


def first_invite_time(cap, sip, caller_port):
    for p in sorted(cap.get(sip), key=lambda p: p.t):
        if p.sport == caller_port and p.payload.startswith(b"INVITE "):
            return p.t
    return None


def run(env, label):
    sip, rtp_min, callers, pos_port, status = RUNS[label]
    want = status or 486
    c1, c2, c3 = callers
    cap = h.start_capture(env, [sip, c1, c2, c3, pos_port])
    pos = h.position_sipp(env, f"pos-{label}", "uas_answer", pos_port, pos_port + 2,
                          timeout_s=40)
    cfg = h.anchord_config_queue(sip, rtp_min, rtp_min + 19, [h.position("pos1", pos_port)],
                                 rtp_timeout_ms=60000, queue_max_calls=1,
                                 queue_max_wait_s=MAX_WAIT_S, overflow_status=status)
    a = h.start_anchord(env, cfg, name=f"anchord-{label}")
    h.wait_position_up(a, cap, sip, pos_port, "pos1")

    first = h.caller(env, f"caller1-{label}", "caller_plain", sip, c1, c1 + 2,
                     duration_ms=CALL1_MS, timeout_s=30)
    h.wait_until(lambda: any(p.payload.startswith(b"ACK ") for p in cap.get(pos_port)), 10,
                 what=f"({label}) call 1 answered (ACK at the position)")
    mark = a.mark()
    second = h.caller(env, f"caller2-{label}", "caller_queue_overflow", sip, c2, c2 + 2,
                      timeout_s=20)
    a.wait_log(r"call queued", 5, since=mark)
    third = h.caller(env, f"caller3-{label}", "caller_queue_overflow", sip, c3, c3 + 2,
                     timeout_s=20)
    h.sipp_wait(env, third, 10)
    h.sipp_wait(env, second, 10)
    env.check(first.alive(), f"({label}) call 1 is still up after calls 2 and 3 were turned away")
    h.sipp_wait(env, first, 20)
    h.sipp_wait(env, pos, 10)

    r3 = h.responses_to(cap, c3)
    h.log(f"({label}) call 3 received {[c for c, _ in r3]}")
    finals3 = [(c, p.t) for c, p in r3 if c >= 200]
    t3 = first_invite_time(cap, sip, c3)
    env.check([c for c, _ in finals3][:1] == [want], f"({label}) call 3 (queue full) gets {want}")
    env.check(not any(c in (180, 183) for c, _ in r3), f"({label}) call 3 is not queued "
              "(no 180/183)")
    if finals3 and t3:
        env.check(finals3[0][1] - t3 < 1.0, f"({label}) call 3's {want} comes at once "
                  f"({(finals3[0][1] - t3) * 1000:.0f} ms)")

    r2 = h.responses_to(cap, c2)
    codes2 = [c for c, _ in r2]
    h.log(f"({label}) call 2 received {codes2}")
    env.check(180 in codes2 and 183 in codes2, f"({label}) call 2 was queued (180, 183)")
    finals2 = [(c, p.t) for c, p in r2 if c >= 200]
    t2 = first_invite_time(cap, sip, c2)
    if env.check(bool(finals2) and finals2[0][0] == want,
                 f"({label}) call 2 gets {want} after waiting in the queue ({finals2[:1]})") and t2:
        waited = finals2[0][1] - t2
        env.check(abs(waited - MAX_WAIT_S) <= 0.7,
                  f"({label}) call 2 waited {waited:.2f} s (max_wait_s = {MAX_WAIT_S})")
    a.wait_log(rf"call rejected with {want}: queue full", 1, since=mark)
    a.wait_log(rf"call rejected with {want}: waited too long", 1, since=mark)
    inv = {h.sip_header(p.payload, "Call-ID") for p in h.sip_messages_to(cap, pos_port)
           if p.payload.startswith(b"INVITE ")}
    env.check(len(inv) == 1, f"({label}) the busy position got INVITEs of one call only ({inv})")
    env.check(a.stop() == 0, f"({label}) anchord exits 0 on SIGTERM")


def test(env):
    run(env, "a")
    run(env, "b")


if __name__ == "__main__":
    h.main(test, "queue_overflow")
