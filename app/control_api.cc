#include "app/control_api.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/log.h"

namespace anchord::app {
namespace {

using nlohmann::json;
using signaling::ControlHandler;

// ---- Listen address ---------------------------------------------------------------------------

bool IsNumericHost(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// ---- Paths and ids ----------------------------------------------------------------------------

enum class RouteKind { kCalls, kCall, kParties, kPositions, kAbandoned, kHealth };

struct Route {
  RouteKind kind;
  std::string_view id_text;  // kCall, kParties
};

std::optional<Route> MatchRoute(std::string_view path) {
  constexpr std::string_view kPrefix = "/v1/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  if (path == "calls") return Route{RouteKind::kCalls, {}};
  if (path == "positions") return Route{RouteKind::kPositions, {}};
  if (path == "abandoned") return Route{RouteKind::kAbandoned, {}};
  if (path == "health") return Route{RouteKind::kHealth, {}};
  if (!path.starts_with("calls/")) return std::nullopt;
  path.remove_prefix(6);
  size_t slash = path.find('/');
  std::string_view id = path.substr(0, slash);
  if (id.empty()) return std::nullopt;
  if (slash == std::string_view::npos) return Route{RouteKind::kCall, id};
  if (path.substr(slash) == "/parties") return Route{RouteKind::kParties, id};
  return std::nullopt;
}

const char* AllowedMethods(RouteKind kind) {
  switch (kind) {
    case RouteKind::kCalls:
      return "GET, HEAD, POST";
    case RouteKind::kCall:
      return "GET, HEAD, DELETE";
    case RouteKind::kParties:
      return "POST";
    default:
      return "GET, HEAD";
  }
}

bool MethodAllowed(RouteKind kind, const std::string& method) {
  bool get = method == "GET" || method == "HEAD";
  switch (kind) {
    case RouteKind::kCalls:
      return get || method == "POST";
    case RouteKind::kCall:
      return get || method == "DELETE";
    case RouteKind::kParties:
      return method == "POST";
    default:
      return get;
  }
}

// Decimal uint64 only: 1..20 digits, no sign, no overflow.
std::optional<uint64_t> ParseId(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---- Request bodies ---------------------------------------------------------------------------

// sip: (any case), then a non-empty rest of RFC 3261 URI characters only: no space, control
// character, quote or angle bracket can reach a SIP header through it.
bool IsSipUri(const std::string& uri) {
  constexpr size_t kMaxUriBytes = 1024;
  if (uri.size() < 5 || uri.size() > kMaxUriBytes) return false;
  if (strncasecmp(uri.c_str(), "sip:", 4) != 0) return false;
  constexpr std::string_view kMarks = "-_.!~*'()%;:&=+$,?/@[]";
  for (size_t i = 4; i < uri.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(uri[i]);
    if (!isalnum(c) && kMarks.find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}

Result<json> ParseObject(const std::string& body) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& e) {
    return Fail(std::string("body: not valid JSON: ") + e.what());
  }
  if (!parsed.is_object()) return Fail("body: expected a JSON object");
  return parsed;
}

Status OnlyFields(const json& object, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (std::string_view k : known) found = found || key == k;
    if (!found) return Fail(key + ": unknown field");
  }
  return {};
}

Result<std::string> SipUriField(const json& object, const std::string& name) {
  auto it = object.find(name);
  if (it == object.end()) return Fail(name + ": missing");
  if (!it->is_string()) return Fail(name + ": expected a string (a sip: URI)");
  const auto& uri = it->get_ref<const std::string&>();
  if (!IsSipUri(uri)) return Fail(name + ": expected a sip: URI");
  return uri;
}

Result<int> FlowField(const json& object) {
  auto it = object.find("flow");
  if (it == object.end() || (it->is_string() && *it == "auto")) return 0;
  if (it->is_number_integer() && *it >= 1 && *it <= 4) return it->get<int>();
  return Fail("flow: expected 1, 2, 3, 4 or \"auto\"");
}

Result<signaling::NewCallRequest> ParseNewCall(const std::string& body) {
  auto object = ParseObject(body);
  if (!object) return tl::unexpected(object.error());
  if (auto ok = OnlyFields(*object, {"a", "b", "flow", "media", "callback"}); !ok) {
    return tl::unexpected(ok.error());
  }
  signaling::NewCallRequest request;
  auto a = SipUriField(*object, "a");
  if (!a) return tl::unexpected(a.error());
  auto b = SipUriField(*object, "b");
  if (!b) return tl::unexpected(b.error());
  auto flow = FlowField(*object);
  if (!flow) return tl::unexpected(flow.error());
  request.a = *a;
  request.b = *b;
  request.flow = *flow;
  if (auto it = object->find("media"); it != object->end()) {
    if (*it != "direct" && *it != "anchored")
      return Fail("media: expected \"direct\" or \"anchored\"");
    request.anchored = *it == "anchored";
  }
  if (auto it = object->find("callback"); it != object->end()) {
    if (!it->is_boolean()) return Fail("callback: expected true or false");
    request.callback = it->get<bool>();
  }
  return request;
}

Result<std::string> ParseParty(const std::string& body) {
  auto object = ParseObject(body);
  if (!object) return tl::unexpected(object.error());
  if (auto ok = OnlyFields(*object, {"uri"}); !ok) return tl::unexpected(ok.error());
  return SipUriField(*object, "uri");
}

// ---- Responses --------------------------------------------------------------------------------

json ToJson(const signaling::CallSummary& c) {
  json parties = json::array();
  for (const auto& p : c.parties) {
    parties.push_back({{"leg", p.leg},
                       {"kind", p.kind},
                       {"uri", p.uri},
                       {"state", p.state},
                       {"position", p.position}});
  }
  return {{"id", c.id},
          {"state", c.state},
          {"sip_call_id", c.sip_call_id},
          {"ng911_call_id", c.ng911_call_id},
          {"incident_id", c.incident_id},
          {"caller", c.caller},
          {"position", c.position},
          {"location", c.location},
          {"media", c.media},
          {"flow", c.flow},
          {"started_unix_ms", c.started_unix_ms},
          {"answered_unix_ms", c.answered_unix_ms},
          {"parties", std::move(parties)},
          {"tty_text", c.tty_text}};
}

json ToJson(const media::LegStats& s) {
  return {{"received", s.received},
          {"lost", s.lost},
          {"late", s.late},
          {"concealed", s.concealed},
          {"dropped", s.dropped},
          {"jitter_us", s.jitter_us},
          {"jitter_target_ms", s.jitter_target_ms},
          {"latched", s.latched},
          {"skipped_silent", s.skipped_silent},
          {"rtt_us", s.rtt_us},
          {"peer_fraction_lost", s.peer_fraction_lost},
          {"peer_cumulative_lost", s.peer_cumulative_lost},
          {"peer_jitter_us", s.peer_jitter_us}};
}

json ToJson(const signaling::PositionSummary& p) {
  return {{"name", p.name},     {"uri", p.uri},           {"standby", p.standby},
          {"health", p.health}, {"activity", p.activity}, {"call", p.call}};
}

json ToJson(const signaling::AbandonedCall& a) {
  return {{"id", a.id},
          {"caller", a.caller},
          {"caller_identity", a.caller_identity},
          {"sip_call_id", a.sip_call_id},
          {"ng911_call_id", a.ng911_call_id},
          {"incident_id", a.incident_id},
          {"location", a.location},
          {"stage", a.stage},
          {"started_unix_ms", a.started_unix_ms},
          {"ended_unix_ms", a.ended_unix_ms}};
}

template <class T>
json ListJson(const std::vector<T>& items) {
  json list = json::array();
  for (const auto& item : items) list.push_back(ToJson(item));
  return list;
}

// Strings from the network (SIP headers) may hold invalid UTF-8: replace it, never throw.
void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void ReplyError(httplib::Response& res, int status, const std::string& message) {
  Reply(res, status, json{{"error", message}});
}

// The controller reports failures as messages only: "unknown call..." means 404, anything else
// is a refusal in the call's current state (409).
void ReplyHandlerError(httplib::Response& res, const Error& error) {
  ReplyError(res, error.message.starts_with("unknown call") ? 404 : 409, error.message);
}

// ---- Hand-off to the signaling loop -----------------------------------------------------------

// Shared by the HTTP threads and the closures posted to the loop; outlives both.
struct LoopShared {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  std::atomic<size_t> queued{0};
};

template <class T>
struct Slot {
  bool started = false;
  bool done = false;
  bool abandoned = false;
  bool failed = false;  // the handler threw
  std::optional<T> value;
};

enum class LoopError { kNone, kBusy, kFailed };

struct AtomicCounters {
  std::atomic<uint64_t> requests{0}, bad_request{0}, not_found{0}, method_not_allowed{0},
      too_large{0}, handler_errors{0}, busy{0}, other_errors{0};

  void Count(int status) {
    requests.fetch_add(1, std::memory_order_relaxed);
    if (status < 400) return;
    std::atomic<uint64_t>* counter = &other_errors;
    if (status == 400) counter = &bad_request;
    if (status == 404) counter = &not_found;
    if (status == 405) counter = &method_not_allowed;
    if (status == 413) counter = &too_large;
    if (status == 409) counter = &handler_errors;
    if (status == 503) counter = &busy;
    counter->fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace

// ---- Server -----------------------------------------------------------------------------------

struct ControlApi::Impl {
  Impl(core::EventLoop& l, ControlHandler& h, const ControlApiOptions& o)
      : loop(l), handler(h), options(o) {}

  // Runs fn(handler) on the signaling thread; waits up to the deadline.
  template <class T, class Fn>
  std::optional<T> RunOnLoop(Fn fn, LoopError& error);
  void Route(const httplib::Request& req, httplib::Response& res);
  void Handle(RouteKind kind, uint64_t id, const httplib::Request& req, httplib::Response& res);
  void GetCalls(httplib::Response& res);
  void GetCall(uint64_t id, httplib::Response& res);
  void DeleteCall(uint64_t id, const httplib::Request& req, httplib::Response& res);
  void PostCall(const httplib::Request& req, httplib::Response& res);
  void PostParty(uint64_t id, const httplib::Request& req, httplib::Response& res);
  template <class T, class Fn>
  void GetList(const char* name, Fn fn, httplib::Response& res);
  Result<uint16_t> Bind(const ListenAddress& address);
  void Configure();

  core::EventLoop& loop;
  ControlHandler& handler;
  const ControlApiOptions options;
  std::shared_ptr<LoopShared> shared = std::make_shared<LoopShared>();
  AtomicCounters counts;
  httplib::Server server;
  std::thread listener;
  uint16_t port = 0;
  std::once_flag stop_once;
};

template <class T, class Fn>
std::optional<T> ControlApi::Impl::RunOnLoop(Fn fn, LoopError& error) {
  error = LoopError::kBusy;
  if (shared->queued.load() >= options.max_queued) return std::nullopt;
  auto slot = std::make_shared<Slot<T>>();
  shared->queued.fetch_add(1);
  loop.Post([shared = shared, slot, fn = std::move(fn), h = &handler] {
    shared->queued.fetch_sub(1);
    {
      std::lock_guard lock(shared->mu);
      if (slot->abandoned) return;  // the client already got 503: never act on it late
      slot->started = true;
    }
    std::optional<T> value;
    bool failed = false;
    try {
      value.emplace(fn(*h));
    } catch (...) {  // an exception must not unwind through the signaling loop
      failed = true;
    }
    {
      std::lock_guard lock(shared->mu);
      slot->value = std::move(value);
      slot->failed = failed;
      slot->done = true;
    }
    shared->cv.notify_all();
  });
  std::unique_lock lock(shared->mu);
  auto deadline = std::chrono::steady_clock::now() + options.loop_deadline;
  shared->cv.wait_until(lock, deadline, [&] { return slot->done || shared->stopping; });
  if (!slot->done) {
    slot->abandoned = true;
    return std::nullopt;
  }
  error = slot->failed ? LoopError::kFailed : LoopError::kNone;
  return std::move(slot->value);
}

namespace {

void ReplyLoopError(httplib::Response& res, LoopError error) {
  if (error == LoopError::kFailed) return ReplyError(res, 500, "internal error in the controller");
  ReplyError(res, 503, "signaling loop busy");
}

}  // namespace

template <class T, class Fn>
void ControlApi::Impl::GetList(const char* name, Fn fn, httplib::Response& res) {
  LoopError error;
  auto items = RunOnLoop<std::vector<T>>(fn, error);
  if (!items) return ReplyLoopError(res, error);
  Reply(res, 200, json{{name, ListJson(*items)}});
}

void ControlApi::Impl::GetCall(uint64_t id, httplib::Response& res) {
  LoopError error;
  using Stats = std::vector<std::optional<media::LegStats>>;
  auto call = RunOnLoop<std::optional<std::pair<signaling::CallSummary, Stats>>>(
      [id, source = options.leg_stats](ControlHandler& h) {
        std::optional<std::pair<signaling::CallSummary, Stats>> found;
        auto summary = h.GetCall(id);
        if (!summary) return found;
        std::vector<LegId> legs;
        for (const auto& p : summary->parties) legs.push_back(LegId{p.leg});
        found.emplace(std::move(*summary), source ? source(legs) : Stats{});
        return found;
      },
      error);
  if (!call) return ReplyLoopError(res, error);
  if (!*call) return ReplyError(res, 404, "unknown call " + std::to_string(id));
  auto& [summary, stats] = **call;
  json body = ToJson(summary);
  for (size_t i = 0; i < stats.size() && i < body["parties"].size(); ++i) {
    if (stats[i]) body["parties"][i]["rtp"] = ToJson(*stats[i]);
  }
  Reply(res, 200, body);
}

void ControlApi::Impl::DeleteCall(uint64_t id, const httplib::Request& req,
                                  httplib::Response& res) {
  LoopError error;
  auto status = RunOnLoop<Status>(
      [id](ControlHandler& h) -> Status {
        if (!h.GetCall(id)) return Fail("unknown call " + std::to_string(id));
        return h.Hangup(id);
      },
      error);
  if (!status) return ReplyLoopError(res, error);
  if (!*status) return ReplyHandlerError(res, status->error());
  core::Log(core::Level::kNotice, core::Subsys::kControl, "operator hangup",
            {{"CALL", std::to_string(id)}, {"PEER", req.remote_addr}});
  res.status = 204;
}

void ControlApi::Impl::PostCall(const httplib::Request& req, httplib::Response& res) {
  auto request = ParseNewCall(req.body);
  if (!request) return ReplyError(res, 400, request.error().message);
  LoopError error;
  auto id = RunOnLoop<Result<uint64_t>>(
      [r = *request](ControlHandler& h) { return h.CreateCall(r); }, error);
  if (!id) return ReplyLoopError(res, error);
  if (!*id) return ReplyHandlerError(res, id->error());
  core::Log(core::Level::kNotice, core::Subsys::kControl, "operator call created",
            {{"CALL", std::to_string(**id)}, {"PEER", req.remote_addr}});
  res.set_header("Location", "/v1/calls/" + std::to_string(**id));
  Reply(res, 201, json{{"id", **id}});
}

void ControlApi::Impl::PostParty(uint64_t id, const httplib::Request& req, httplib::Response& res) {
  auto uri = ParseParty(req.body);
  if (!uri) return ReplyError(res, 400, uri.error().message);
  LoopError error;
  auto leg = RunOnLoop<Result<uint64_t>>(
      [id, u = *uri](ControlHandler& h) -> Result<uint64_t> {
        if (!h.GetCall(id)) return Fail("unknown call " + std::to_string(id));
        return h.AddParty(id, u);
      },
      error);
  if (!leg) return ReplyLoopError(res, error);
  if (!*leg) return ReplyHandlerError(res, leg->error());
  core::Log(
      core::Level::kNotice, core::Subsys::kControl, "operator added a party",
      {{"CALL", std::to_string(id)}, {"LEG", std::to_string(**leg)}, {"PEER", req.remote_addr}});
  Reply(res, 201, json{{"leg", **leg}});
}

void ControlApi::Impl::Handle(RouteKind kind, uint64_t id, const httplib::Request& req,
                              httplib::Response& res) {
  bool post = req.method == "POST";
  switch (kind) {
    case RouteKind::kCalls:
      if (post) return PostCall(req, res);
      return GetList<signaling::CallSummary>(
          "calls", [](ControlHandler& h) { return h.ListCalls(); }, res);
    case RouteKind::kCall:
      if (req.method == "DELETE") return DeleteCall(id, req, res);
      return GetCall(id, res);
    case RouteKind::kParties:
      return PostParty(id, req, res);
    case RouteKind::kPositions:
      return GetList<signaling::PositionSummary>(
          "positions", [](ControlHandler& h) { return h.ListPositions(); }, res);
    case RouteKind::kAbandoned:
      return GetList<signaling::AbandonedCall>(
          "abandoned", [](ControlHandler& h) { return h.ListAbandoned(); }, res);
    case RouteKind::kHealth: {
      // A round trip through the signaling loop: "ok" means the loop answers.
      LoopError error;
      auto alive = RunOnLoop<bool>([](ControlHandler&) { return true; }, error);
      if (!alive) return ReplyLoopError(res, error);
      return Reply(res, 200, json{{"status", "ok"}});
    }
  }
}

namespace {

// A POST to a valid body-taking path: httplib reads its body (size-limited) and then calls the
// Post handler. Everything else is answered before any body is read.
bool WantsBody(const httplib::Request& req) {
  if (req.method != "POST") return false;
  auto route = MatchRoute(req.path);
  if (!route || !MethodAllowed(route->kind, req.method)) return false;
  return route->kind == RouteKind::kCalls || ParseId(route->id_text).has_value();
}

}  // namespace

// Every request comes through here, before httplib reads any body: unknown paths, wrong methods
// and bad ids are answered without reading it.
void ControlApi::Impl::Route(const httplib::Request& req, httplib::Response& res) {
  auto route = MatchRoute(req.path);
  if (!route) return ReplyError(res, 404, "no such resource: " + req.path);
  if (!MethodAllowed(route->kind, req.method)) {
    res.set_header("Allow", AllowedMethods(route->kind));
    return ReplyError(res, 405, req.method + " not allowed on " + req.path);
  }
  uint64_t id = 0;
  if (route->kind == RouteKind::kCall || route->kind == RouteKind::kParties) {
    auto parsed = ParseId(route->id_text);
    if (!parsed) return ReplyError(res, 400, "id: expected a decimal call id (uint64)");
    id = *parsed;
  }
  Handle(route->kind, id, req, res);
}

void ControlApi::Impl::Configure() {
  server.new_task_queue = [n = options.http_threads] { return new httplib::ThreadPool(n); };
  // httplib's default sets SO_REUSEPORT, which would let a second daemon share the port.
  server.set_socket_options([](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  });
  server.set_payload_max_length(options.max_body_bytes);
  server.set_read_timeout(2, 0);
  server.set_write_timeout(2, 0);
  server.set_keep_alive_timeout(1);  // bounds Stop() and idle connections holding a thread
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (WantsBody(req)) return httplib::Server::HandlerResponse::Unhandled;  // read it, limited
    Route(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Reached only for POSTs the pre-routing handler let through, after the body was read.
  auto post = [this](const httplib::Request& req, httplib::Response& res) { Route(req, res); };
  server.Post(R"(/v1/calls)", post);
  server.Post(R"(/v1/calls/[0-9]{1,20}/parties)", post);
  // Fills the body of errors httplib answers itself (413, malformed requests).
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = "bad request";
        if (res.status == 413) {
          message = "body: larger than " + std::to_string(options.max_body_bytes) + " bytes";
        }
        ReplyError(res, res.status, message);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                  std::exception_ptr) { ReplyError(res, 500, "internal error"); });
  server.set_logger(
      [this](const httplib::Request&, const httplib::Response& res) { counts.Count(res.status); });
}

Result<uint16_t> ControlApi::Impl::Bind(const ListenAddress& address) {
  if (address.port == 0) {
    int bound = server.bind_to_any_port(address.host);
    if (bound <= 0) return Fail("cannot bind " + address.host + ":0");
    return static_cast<uint16_t>(bound);
  }
  if (!server.bind_to_port(address.host, address.port)) {
    return Fail("cannot bind " + address.host + ":" + std::to_string(address.port) +
                " (in use, or not a local address)");
  }
  return address.port;
}

ControlApi::ControlApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlApi::~ControlApi() { Stop(); }

Result<std::unique_ptr<ControlApi>> ControlApi::Start(const std::string& listen,
                                                      core::EventLoop& signaling_loop,
                                                      ControlHandler& handler,
                                                      const ControlApiOptions& options) {
  auto address = ParseListenAddress(listen);
  if (!address) return Fail("control.listen: " + address.error().message);
  auto impl = std::make_unique<Impl>(signaling_loop, handler, options);
  impl->Configure();
  auto port = impl->Bind(*address);
  if (!port) return Fail("control.listen: " + port.error().message);
  impl->port = *port;
  Impl* raw = impl.get();
  impl->listener = std::thread([raw] {
    // The HTTP threads (created by listen_after_bind) inherit this mask: process signals such as
    // SIGTERM must reach the signaling loop's signalfd, never an HTTP thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    raw->server.listen_after_bind();
  });
  // stop() before the listener runs would be lost; wait until it runs (microseconds).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!impl->server.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::unique_ptr<ControlApi> api(new ControlApi(std::move(impl)));
  if (!api->impl_->server.is_running())
    return Fail("control.listen: the HTTP server did not start");
  core::Log(core::Level::kInfo, core::Subsys::kControl, "control API listening",
            {{"PEER", address->host + ":" + std::to_string(*port)}});
  return api;
}

void ControlApi::Stop() {
  std::call_once(impl_->stop_once, [this] {
    {
      std::lock_guard lock(impl_->shared->mu);
      impl_->shared->stopping = true;
    }
    impl_->shared->cv.notify_all();
    impl_->server.stop();
    if (impl_->listener.joinable()) impl_->listener.join();
  });
}

uint16_t ControlApi::port() const { return impl_->port; }

ControlCounters ControlApi::counters() const {
  const AtomicCounters& c = impl_->counts;
  auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  return {get(c.requests),  get(c.bad_request),    get(c.not_found), get(c.method_not_allowed),
          get(c.too_large), get(c.handler_errors), get(c.busy),      get(c.other_errors)};
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Fail("expected HOST:PORT, got " + quoted);
  std::string_view host = text.substr(0, colon);
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  ListenAddress address;
  address.host = std::string(host);
  if (!IsNumericHost(address.host) || (!bracketed && host.find(':') != std::string_view::npos)) {
    return Fail("expected a numeric IPv4 address or [IPv6] and a port, got " + quoted);
  }
  std::string_view port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size()) {
    return Fail("port must be 0..65535, got " + quoted);
  }
  return address;
}

}  // namespace anchord::app
