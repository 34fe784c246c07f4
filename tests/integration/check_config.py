#!/usr/bin/env python3
"""integration.check_config: the operator-facing configuration checks (DESIGN house
style: "config errors at start are fatal with a message naming the key").
  - `anchord --check-config` on a valid file exits 0;
  - on a file with two problems it exits 2 and prints exactly two lines
    "FILE:LINE: KEY: problem" naming the right file, lines and keys;
  - `anchord --print-default-config` prints a file that passes --check-config;
  - `anchord --config` on the bad file refuses to start (non-zero exit, no READY=1)."""
import re
import subprocess

import harness as h


def run(env, *args, timeout=10):
    p = subprocess.run([env.anchord_path, *args], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    h.log(f"anchord {' '.join(args)} -> rc={p.returncode}\n  stdout: {p.stdout.strip()[:600]}"
          f"\n  stderr: {p.stderr.strip()[:600]}")
    return p


def test(env):
    good = env.path("good.toml")
    with open(good, "w") as f:
        f.write(h.anchord_config(5081, 31900, 31919, [
            h.position("pos1", 15010, standby="pos2", location="none"),
            h.position("pos2", 15020, standby="pos1", location="multipart")]))
    p = run(env, "--check-config", good)
    env.check(p.returncode == 0, f"valid config: exit 0 (rc={p.returncode})")

    bad = env.path("bad.toml")
    text = h.anchord_config(5081, 31900, 31919, [h.position("pos1", 15010, location="none")])
    lines = text.split("\n")
    i_min = next(i for i, l in enumerate(lines) if l.startswith("port_min"))
    i_miss = next(i for i, l in enumerate(lines) if l.startswith("misses"))
    lines[i_min] = "port_min = 31901"   # odd: RTP ports must start even
    lines[i_miss] = "misses = 0"        # out of range 1..100
    with open(bad, "w") as f:
        f.write("\n".join(lines))
    want = {i_min + 1: "media.port_min", i_miss + 1: "failover.misses"}
    p = run(env, "--check-config", bad)
    env.check(p.returncode == 2, f"two problems: exit 2 (rc={p.returncode})")
    out = [l for l in (p.stdout + p.stderr).splitlines() if l.strip()]
    env.check(len(out) == 2, f"two problems: exactly 2 lines printed ({len(out)})")
    for lineno, key in want.items():
        rx = re.compile(rf"^{re.escape(bad)}:{lineno}: {re.escape(key)}: \S")
        env.check(any(rx.search(l) for l in out),
                  f"a line '{bad}:{lineno}: {key}: ...' is printed")

    p = run(env, "--print-default-config")
    env.check(p.returncode == 0 and "[sip]" in p.stdout,
              "--print-default-config prints a TOML config")
    dflt = env.path("default.toml")
    with open(dflt, "w") as f:
        f.write(p.stdout)
    p = run(env, "--check-config", dflt)
    env.check(p.returncode == 0, f"the default config passes --check-config (rc={p.returncode})")

    # The daemon itself refuses the bad file.
    a = h.Anchord(env, "\n".join(lines), name="anchord-bad")
    try:
        rc = a.proc.p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    env.check(rc not in (None, 0), f"anchord --config <bad file> exits non-zero (rc={rc})")
    env.check("READY=1" not in a.notify_msgs, "no READY=1 with a bad config")


if __name__ == "__main__":
    h.main(test, "check_config")
