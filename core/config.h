// anchord's configuration: the TOML file's schema, its validation and the embedded default.
//
// Validation is strict: unknown keys, wrong types and out-of-range values are errors, each
// reported as "FILE:LINE: KEY: problem" (one line per problem). Errors at start are fatal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "core/wav_clip.h"

namespace anchord::core {

enum class Transport { kUdp, kTcp };

struct ListenAddress {
  Transport transport = Transport::kUdp;
  std::string host;  // numeric IPv4 address
  uint16_t port = 0;
};

// How the caller's location reaches a position (NENA-3.1.13, R6442).
enum class LocationMode {
  kMultipart,  // by value: the caller's body parts, byte-identical, in multipart/mixed
  kReference,  // the Geolocation header only (SDP alone in the body)
  kNone,       // neither (softphones that reject multipart offers)
};

struct PositionConfig {
  std::string name;     // unique, [A-Za-z0-9_-]+
  std::string uri;      // sip:user@host:port (host numeric)
  std::string standby;  // name of another position, or empty
  LocationMode location = LocationMode::kMultipart;
  bool automaton = false;  // answers at once (IVR, recorder): RFC 3725 flow I is safe toward it
};

struct Config {
  struct Sip {
    std::vector<ListenAddress> listen;  // at least one
    uint32_t ring_timeout_ms = 15000;   // offer to the next position after this (1000..120000)
    uint32_t t1_ms = 500;               // RFC 3261 T1 (50..5000)
    uint32_t t2_ms = 4000;              // RFC 3261 T2 (t1_ms..4000)
    uint32_t session_expires_s = 1800;  // RFC 4028 toward positions: 0 (off) or 90..86400
  } sip;
  struct Media {
    std::string address = "127.0.0.1";  // numeric IPv4; RTP binds here and SDP advertises it
    uint16_t port_min = 30000;          // even, 1024..65534, port_min < port_max
    uint16_t port_max = 39999;
    uint32_t workers = 1;            // 1..64
    std::string mixer_isa = "auto";  // auto | scalar | sse2 | avx2 | avx512
  } media;
  struct Failover {
    uint32_t heartbeat_ms = 100;    // OPTIONS interval and per-ping timeout (20..60000)
    uint32_t misses = 3;            // consecutive failures that mark a position down (1..100)
    uint32_t rtp_timeout_ms = 300;  // silence from a position in a call (60..60000)
    AudioClip announcement;         // played to the caller before the hold tone; empty = none
  } failover;
  struct Control {
    // The control API (HTTP + JSON) for anchorctl and operators: "IPv4:PORT", or "" for none.
    std::string listen = "127.0.0.1:8089";
  } control;
  struct Queue {
    uint32_t max_calls = 16;         // calls waiting for a position (0..10000; 0 = no queue)
    uint32_t max_wait_s = 300;       // longest wait before the overflow answer (1..86400)
    uint32_t overflow_status = 486;  // 486 or 503: what the ESRP gets to reroute (NENA-4.2.1.3)
    AudioClip announcement;          // played once to a queued caller, then ringback; empty = none
  } queue;
  struct Log {
    std::string level = "info";  // error | warning | notice | info | debug
  } log;
  std::vector<PositionConfig> positions;
};

// One line per problem, each "SOURCE:LINE: KEY: problem" (LINE omitted when unknown).
using ConfigErrors = std::vector<std::string>;

// Parses and validates TOML text; `source_name` names it in messages (a path, or "<default>").
// Announcement files named in it are read now (blocking disk I/O: start-up/reload only).
tl::expected<Config, ConfigErrors> ParseConfig(std::string_view toml_text,
                                               std::string_view source_name);
// Reads and parses a file.
tl::expected<Config, ConfigErrors> LoadConfigFile(const std::string& path);

// The embedded default configuration as a commented TOML file (anchord --print-default-config).
std::string_view DefaultConfigText();

}  // namespace anchord::core
