// ControlApi: the HTTP + JSON control API (for anchorctl and operators) over a
// signaling::ControlHandler. Endpoints and error codes are documented in app/README.md
// ("Control API").
//
// Threading: the HTTP server runs on cpp-httplib's own threads (a small pool). Every call into
// the ControlHandler is posted onto the signaling loop (EventLoop::Post) and the HTTP thread waits
// for its result up to ControlApiOptions::loop_deadline; past it the client gets 503 "signaling
// loop busy" and, if the loop had not started the request yet, it is dropped unexecuted. So the
// handler only ever runs on the signaling thread, and a slow or hostile client can never block
// that thread: JSON parsing, validation and serialisation happen on the HTTP threads.
//
// Lifetime: the handler must outlive every closure posted to the loop (in practice: stop running
// the loop before destroying the handler). Stop() may be called from any thread except an HTTP
// thread (the signaling thread included: waiting requests are released with 503 at once).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "core/ids.h"
#include "core/result.h"
#include "media/media_service.h"
#include "signaling/control.h"

namespace anchord::app {

// Counts since Start(). Every answered HTTP request counts once in `requests` and, when its
// status is >= 400, once in exactly one error class.
struct ControlCounters {
  uint64_t requests = 0;
  uint64_t bad_request = 0;         // 400: bad JSON, wrong type, missing field, bad id or URI
  uint64_t not_found = 0;           // 404: unknown path, unknown call
  uint64_t method_not_allowed = 0;  // 405
  uint64_t too_large = 0;           // 413: body over max_body_bytes
  uint64_t handler_errors = 0;      // 409: the controller refused (its message is returned)
  uint64_t busy = 0;                // 503: signaling loop past its deadline, or stopping
  uint64_t other_errors = 0;        // any other status >= 400 (e.g. 500)
};

// The receive counts of a call's legs for GET /v1/calls/{id}, run on the signaling thread
// (media::MediaService::GetLegStats: one short wait for the workers, about one tick); result i
// belongs to legs[i], nullopt for a leg the media plane does not know (yet).
using LegStatsSource =
    std::function<std::vector<std::optional<media::LegStats>>(std::span<const LegId> legs)>;

struct ControlApiOptions {
  // How long an HTTP thread waits for the signaling loop before answering 503.
  std::chrono::milliseconds loop_deadline{2000};
  size_t max_body_bytes = 16 * 1024;  // larger bodies get 413 without being read
  size_t http_threads = 4;            // connections served at once
  size_t max_queued = 64;    // requests posted to the loop and not yet run; beyond: 503 at once
  LegStatsSource leg_stats;  // optional: without it a call's parties carry no "rtp" object
};

// A numeric listen address: "127.0.0.1:8089", "[::1]:8089". Port 0 = any free port.
struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 literal, without brackets
  uint16_t port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view text);

class ControlApi {
 public:
  // Binds `listen` (numeric addresses only; nothing else is ever listened on) and starts the
  // HTTP threads. Fails if the address does not parse or cannot be bound.
  static Result<std::unique_ptr<ControlApi>> Start(const std::string& listen,
                                                   core::EventLoop& signaling_loop,
                                                   signaling::ControlHandler& handler,
                                                   const ControlApiOptions& options = {});
  ~ControlApi();  // Stop()s
  ControlApi(const ControlApi&) = delete;
  ControlApi& operator=(const ControlApi&) = delete;

  // Closes the socket, answers requests still waiting for the loop with 503 and joins the HTTP
  // threads. Idempotent. Returns within about one second (the keep-alive poll).
  void Stop();
  // The bound port (the real one when `listen` asked for port 0).
  uint16_t port() const;
  // Any thread.
  ControlCounters counters() const;

  struct Impl;

 private:
  explicit ControlApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace anchord::app
