// The embedded default configuration (anchord --print-default-config). It doubles as the
// annotated example: every key is present with its unit, range and meaning, and
// ParseConfig() must accept it unchanged (config_test checks every value).
#pragma once

#include <string_view>

namespace anchord::core::internal {

inline constexpr std::string_view kDefaultConfigText = R"toml(# anchord configuration (TOML).
#
# Every key is optional except a position's name and uri; an omitted key takes the value
# shown here. Unknown keys and tables, wrong types and out-of-range values are errors:
# anchord refuses to start and names the file, line and key of every problem.

[sip]
# SIP sockets, each "udp:IPv4:PORT" or "tcp:IPv4:PORT". The address is numeric; 0.0.0.0
# listens on every interface; port 0 takes an ephemeral port (tests). At least one entry,
# no duplicates.
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]
# Milliseconds a position may ring before the call is offered to the next idle position.
# Range 1000..120000.
ring_timeout_ms = 15000
# RFC 3261 timer T1 (round-trip estimate) in milliseconds; the retransmission timers and
# transaction timeouts derive from it. Range 50..5000.
t1_ms = 500
# RFC 3261 timer T2 in milliseconds: the longest interval between retransmissions of a
# non-INVITE request or of a response to an INVITE. Range t1_ms..4000.
t2_ms = 4000
# RFC 4028 session timer toward positions, in seconds: anchord refreshes at half of it; a
# refresh that fails, or a position's refresh that does not come, means failover (never a
# BYE to the caller). 0 turns it off; else 90..86400.
session_expires_s = 1800

[media]
# Numeric IPv4 address that RTP sockets bind to and that SDP advertises (c= line), so it
# must be reachable by callers and positions: not 0.0.0.0.
address = "127.0.0.1"
# RTP/RTCP port range, inclusive. port_min is even (RTP takes even ports, RTCP the next
# odd one), 1024..65534; port_max 1025..65535 and greater than port_min.
port_min = 30000
port_max = 39999
# Media worker threads, each running its own bridges on a 20 ms tick. Range 1..64.
workers = 1
# Mix kernel: "auto" picks the best the CPU supports at start; "scalar", "sse2", "avx2" or
# "avx512" force one (tests and benchmarks).
mixer_isa = "auto"

[failover]
# Interval in milliseconds between SIP OPTIONS heartbeats to each position, and the
# timeout of each one. Range 20..60000.
heartbeat_ms = 100
# Consecutive failed heartbeats that mark a position down. Range 1..100.
misses = 3
# Milliseconds of RTP silence from a position in a call before it is declared down
# (positions send continuous audio). Range 60..60000.
rtp_timeout_ms = 300
# A WAV file (absolute path; mono, 8000 or 16000 Hz, 16-bit PCM or A-law/mu-law, up to 60 s)
# played to the caller when its position fails, before the hold tone. "" = hold tone only.
announcement = ""

[control]
# The control API (HTTP + JSON) used by anchorctl and operators: "IPv4:PORT", or "" for
# none. Keep it on a loopback or management address: it can hang up and place calls.
listen = "127.0.0.1:8089"

[queue]
# Calls waiting for a position when none is idle; the caller hears ringing (180, then
# ringback as early media) and calls are offered in arrival order. 0 = no queue.
# Range 0..10000.
max_calls = 16
# Seconds a call may wait in the queue before it gets the overflow answer. Range 1..86400.
max_wait_s = 300
# The answer to a call the queue cannot take (full, or waited too long), so the ESRP
# reroutes it (NENA-4.2.1.3): 486 or 503.
overflow_status = 486
# A WAV file (as failover.announcement) played once to a queued caller as early media, then
# ringback. "" = ringback only.
announcement = ""

[log]
# Lowest severity logged: "error", "warning", "notice", "info" or "debug".
level = "info"

# Call-taker positions, in order of preference for ties. Zero positions is allowed (every
# call is then rejected with 486 so the ESRP reroutes it).
#   name      required; unique; letters, digits, '_' and '-'
#   uri       required; "sip:user@IPv4[:port]", numeric host, port defaults to 5060
#   standby   optional; the name of another position that takes over this one's calls
#   location  optional; how the caller's location reaches the position:
#             "multipart" (default: the caller's location bodies in multipart/mixed),
#             "reference" (the Geolocation header only) or "none" (neither).
#   automaton optional; true for a party that answers at once (IVR, recorder): RFC 3725
#             flow I is then used toward it for "auto" third-party calls. Default false.
# These defaults suit two local baresip softphones, which reject multipart offers.
[[positions]]
name = "pos1"
uri = "sip:pos1@127.0.0.1:15010"
standby = "pos2"
location = "none"

[[positions]]
name = "pos2"
uri = "sip:pos2@127.0.0.1:15020"
standby = "pos1"
location = "none"
)toml";

}  // namespace anchord::core::internal
