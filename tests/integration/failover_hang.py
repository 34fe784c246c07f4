#!/usr/bin/env python3
"""integration.failover_hang: like failover_kill, but pos1 hangs (SIGSTOP: its sockets
stay open, nothing answers, no RTP) instead of crashing. Same proofs: 600 -> 440 hold ->
800 Hz at the caller, gap < 1000 ms, one continuous RTP stream (invariant 2), no SIP to
the caller's leg (invariant 1), the standby hears the caller, GAP_MS logged."""
import signal

import failover_kill
import harness as h


def test(env):
    failover_kill.run(env, signal.SIGSTOP, 5082, 15930, 15932, 15940, 15950, 16300, 31820)


if __name__ == "__main__":
    h.main(test, "failover_hang")
