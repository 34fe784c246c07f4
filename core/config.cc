// Config parsing: toml++ builds the tree, then each section is walked against its schema.
// Problems are collected rather than thrown so an operator sees every mistake in one run.
#include "core/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include <toml++/toml.h>

#include "core/internal/config_address.h"
#include "core/internal/config_default.h"
#include "core/wav_clip.h"

static_assert(TOML_EXCEPTIONS, "ParseConfig catches toml::parse_error");

namespace anchord::core {
namespace {

using internal::ParseListenAddress;
using internal::ParsePositionUri;

// Collects "SOURCE:LINE: KEY: problem" lines, reported in file order.
class Reporter {
 public:
  explicit Reporter(std::string_view source) : source_(source) {}

  void Add(const toml::source_region& where, std::string_view key, std::string_view problem) {
    std::string text = source_;
    if (where.begin.line > 0) text += ":" + std::to_string(where.begin.line);
    text.append(": ").append(key).append(": ").append(problem);
    entries_.push_back({where.begin.line, std::move(text)});
  }
  bool empty() const { return entries_.empty(); }

  ConfigErrors Take() {
    // Tables iterate in key order, not file order; sorting by line restores the latter.
    // Unknown lines (0) go last.
    std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
      return a.line - 1 < b.line - 1;  // unsigned wrap puts 0 last
    });
    ConfigErrors out;
    for (auto& e : entries_) out.push_back(std::move(e.text));
    return out;
  }

 private:
  struct Entry {
    toml::source_index line;
    std::string text;
  };
  std::string source_;
  std::vector<Entry> entries_;
};

std::string Join(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  return std::string(prefix).append(".").append(name);
}

std::string Indexed(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

void WrongType(Reporter& r, const toml::node& node, std::string_view path,
               std::string_view expected) {
  r.Add(node.source(), path, "expected " + std::string(expected) + ", got " + TypeName(node));
}

// Reports every key of `table` not in `known`. The key's own position is used: for a
// sub-table the value's position may be that of a later [header].
void CheckKnownKeys(Reporter& r, const toml::table& table, std::string_view path,
                    std::initializer_list<std::string_view> known) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    const toml::source_region& where = key.source().begin.line ? key.source() : node.source();
    r.Add(where, Join(path, key.str()), node.is_table() ? "unknown table" : "unknown key");
  }
}

// Reads an integer key into `out` if present, of the right type and within [lo, hi].
template <class Int>
const toml::node* ReadInt(Reporter& r, const toml::table& table, std::string_view path,
                          std::string_view name, int64_t lo, int64_t hi, Int& out) {
  const toml::node* node = table.get(name);
  if (!node) return nullptr;
  std::string key = Join(path, name);
  const auto* value = node->as_integer();
  if (!value) {
    WrongType(r, *node, key, "an integer");
    return nullptr;
  }
  int64_t v = value->get();
  if (v < lo || v > hi) {
    r.Add(node->source(), key,
          "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
              std::to_string(v));
    return nullptr;
  }
  out = static_cast<Int>(v);
  return node;
}

// Reads a string key if present and of the right type.
const toml::node* ReadString(Reporter& r, const toml::table& table, std::string_view path,
                             std::string_view name, std::string& out) {
  const toml::node* node = table.get(name);
  if (!node) return nullptr;
  const auto* value = node->as_string();
  if (!value) {
    WrongType(r, *node, Join(path, name), "a string");
    return nullptr;
  }
  out = value->get();
  return node;
}

// Reads a string key that must be one of `allowed`.
void ReadEnum(Reporter& r, const toml::table& table, std::string_view path, std::string_view name,
              std::initializer_list<std::string_view> allowed, std::string& out) {
  std::string value;
  const toml::node* node = ReadString(r, table, path, name, value);
  if (!node) return;
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    r.Add(node->source(), Join(path, name), "must be one of " + list + ", got " + Quoted(value));
    return;
  }
  out = std::move(value);
}

// Returns the named section as a table; reports it if it is something else.
const toml::table* Section(Reporter& r, const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) {
    WrongType(r, *node, name, "a table");
    return nullptr;
  }
  return node->as_table();
}

void ParseListen(Reporter& r, const toml::node& node, std::vector<ListenAddress>& out) {
  const std::string path = "sip.listen";
  const toml::array* array = node.as_array();
  if (!array) return WrongType(r, node, path, "an array of strings");
  if (array->empty()) return r.Add(node.source(), path, "must hold at least one address");
  std::vector<ListenAddress> parsed;
  std::map<std::tuple<Transport, std::string, uint16_t>, size_t> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const std::string key = Indexed(path, i);
    const auto* text = item.as_string();
    if (!text) {
      WrongType(r, item, key, "a string");
      continue;
    }
    auto address = ParseListenAddress(text->get());
    if (!address) {
      r.Add(item.source(), key,
            "expected \"udp:IPv4:PORT\" or \"tcp:IPv4:PORT\", got " + Quoted(text->get()));
      continue;
    }
    auto [it, fresh] = seen.try_emplace({address->transport, address->host, address->port}, i);
    if (!fresh) {
      r.Add(item.source(), key, "duplicate of " + Indexed(path, it->second));
      continue;
    }
    parsed.push_back(*address);
  }
  out = std::move(parsed);
}

// Reads `name` (a path to a WAV file, "" for none) into `clip`, reporting what is wrong.
void ReadAnnouncement(Reporter& r, const toml::table& t, std::string_view section,
                      AudioClip& clip) {
  std::string path;
  const toml::node* node = ReadString(r, t, section, "announcement", path);
  if (!node || path.empty()) return;
  const std::string key = Join(section, "announcement");
  if (path.front() != '/') {
    return r.Add(node->source(), key, "must be an absolute path, got " + Quoted(path));
  }
  AudioClip loaded;
  if (std::string problem = ReadWavClip(path, loaded); !problem.empty()) {
    return r.Add(node->source(), key, problem);
  }
  clip = std::move(loaded);
}

void ParseSip(Reporter& r, const toml::table& t, Config::Sip& sip) {
  CheckKnownKeys(r, t, "sip", {"listen", "ring_timeout_ms", "t1_ms", "t2_ms", "session_expires_s"});
  if (const toml::node* listen = t.get("listen")) ParseListen(r, *listen, sip.listen);
  ReadInt(r, t, "sip", "ring_timeout_ms", 1000, 120000, sip.ring_timeout_ms);
  ReadInt(r, t, "sip", "t1_ms", 50, 5000, sip.t1_ms);
  // T2 caps retransmission intervals; osip2 caps them at its compile-time 4 s, so anchord can
  // shorten T2 (tests do) but not lengthen it.
  if (const toml::node* n = ReadInt(r, t, "sip", "t2_ms", 50, 4000, sip.t2_ms)) {
    if (sip.t2_ms < sip.t1_ms) {
      r.Add(n->source(), "sip.t2_ms",
            "must not be below t1_ms (" + std::to_string(sip.t1_ms) + "), got " +
                std::to_string(sip.t2_ms));
    }
  }
  uint32_t session_expires = sip.session_expires_s;
  if (const toml::node* n = ReadInt(r, t, "sip", "session_expires_s", 0, 86400, session_expires)) {
    if (session_expires != 0 && session_expires < 90) {  // RFC 4028 §4: Min-SE is 90 s
      r.Add(n->source(), "sip.session_expires_s",
            "must be 0 (off) or between 90 and 86400, got " + std::to_string(session_expires));
    } else {
      sip.session_expires_s = session_expires;
    }
  }
}

void ParseMediaAddress(Reporter& r, const toml::table& t, std::string& out) {
  std::string address;
  const toml::node* node = ReadString(r, t, "media", "address", address);
  if (!node) return;
  in_addr parsed{};
  if (inet_pton(AF_INET, address.c_str(), &parsed) != 1) {
    r.Add(node->source(), "media.address",
          "expected a numeric IPv4 address, got " + Quoted(address));
  } else if (parsed.s_addr == INADDR_ANY) {
    // SDP advertises this address; c=0.0.0.0 would put every call on hold.
    r.Add(node->source(), "media.address",
          "must be an address peers can reach (SDP advertises it), got \"0.0.0.0\"");
  } else {
    out = std::move(address);
  }
}

void ParseMedia(Reporter& r, const toml::table& t, Config::Media& media) {
  CheckKnownKeys(r, t, "media", {"address", "port_min", "port_max", "workers", "mixer_isa"});
  ParseMediaAddress(r, t, media.address);
  const toml::node* min_node = ReadInt(r, t, "media", "port_min", 1024, 65534, media.port_min);
  const toml::node* max_node = ReadInt(r, t, "media", "port_max", 1025, 65535, media.port_max);
  ReadInt(r, t, "media", "workers", 1, 64, media.workers);
  ReadEnum(r, t, "media", "mixer_isa", {"auto", "scalar", "sse2", "avx2", "avx512"},
           media.mixer_isa);
  // Only judge the pair when neither half was already reported as invalid.
  bool min_ok = min_node || !t.contains("port_min");
  bool max_ok = max_node || !t.contains("port_max");
  if (min_node && media.port_min % 2 != 0) {
    r.Add(min_node->source(), "media.port_min",
          "must be even (RTP takes even ports), got " + std::to_string(media.port_min));
    min_ok = false;
  }
  if (min_ok && max_ok && media.port_min >= media.port_max) {
    const toml::node* at = max_node ? max_node : min_node;
    r.Add(at ? at->source() : t.source(), "media.port_max",
          "must be greater than media.port_min (" + std::to_string(media.port_min) + "), got " +
              std::to_string(media.port_max));
  }
}

void ParseFailover(Reporter& r, const toml::table& t, Config::Failover& failover) {
  CheckKnownKeys(r, t, "failover", {"heartbeat_ms", "misses", "rtp_timeout_ms", "announcement"});
  ReadInt(r, t, "failover", "heartbeat_ms", 20, 60000, failover.heartbeat_ms);
  ReadInt(r, t, "failover", "misses", 1, 100, failover.misses);
  ReadInt(r, t, "failover", "rtp_timeout_ms", 60, 60000, failover.rtp_timeout_ms);
  ReadAnnouncement(r, t, "failover", failover.announcement);
}

void ParseControl(Reporter& r, const toml::table& t, Config::Control& control) {
  CheckKnownKeys(r, t, "control", {"listen"});
  std::string listen;
  const toml::node* node = ReadString(r, t, "control", "listen", listen);
  if (!node) return;
  if (!listen.empty() && !ParseListenAddress("tcp:" + listen)) {
    r.Add(node->source(), "control.listen",
          "expected \"IPv4:PORT\" or \"\" (no control API), got " + Quoted(listen));
    return;
  }
  control.listen = std::move(listen);
}

void ParseQueue(Reporter& r, const toml::table& t, Config::Queue& queue) {
  CheckKnownKeys(r, t, "queue", {"max_calls", "max_wait_s", "overflow_status", "announcement"});
  ReadAnnouncement(r, t, "queue", queue.announcement);
  ReadInt(r, t, "queue", "max_calls", 0, 10000, queue.max_calls);
  ReadInt(r, t, "queue", "max_wait_s", 1, 86400, queue.max_wait_s);
  uint32_t status = queue.overflow_status;
  if (const toml::node* n = ReadInt(r, t, "queue", "overflow_status", 100, 699, status)) {
    if (status != 486 && status != 503) {
      r.Add(n->source(), "queue.overflow_status",
            "must be 486 or 503, got " + std::to_string(status));
    } else {
      queue.overflow_status = status;
    }
  }
}

void ParseLog(Reporter& r, const toml::table& t, Config::Log& log) {
  CheckKnownKeys(r, t, "log", {"level"});
  ReadEnum(r, t, "log", "level", {"error", "warning", "notice", "info", "debug"}, log.level);
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// Where each position's name and standby came from, for the cross-position checks.
struct PositionSource {
  const toml::node* name = nullptr;
  const toml::node* standby = nullptr;
};

// Parses one [[positions]] entry; required keys missing are reported at the entry itself.
PositionSource ParsePosition(Reporter& r, const toml::table& t, const std::string& path,
                             PositionConfig& pos) {
  CheckKnownKeys(r, t, path, {"name", "uri", "standby", "location", "automaton"});
  PositionSource src;
  if (!t.contains("name")) r.Add(t.source(), Join(path, "name"), "missing (required)");
  if (!t.contains("uri")) r.Add(t.source(), Join(path, "uri"), "missing (required)");
  if (const toml::node* n = ReadString(r, t, path, "name", pos.name)) {
    if (IsValidName(pos.name)) {
      src.name = n;
    } else {
      r.Add(n->source(), Join(path, "name"), "must match [A-Za-z0-9_-]+, got " + Quoted(pos.name));
    }
  }
  std::string uri;
  if (const toml::node* n = ReadString(r, t, path, "uri", uri)) {
    std::string reason;
    if (auto normalized = ParsePositionUri(uri, reason)) {
      pos.uri = std::move(*normalized);
    } else {
      r.Add(n->source(), Join(path, "uri"),
            "expected \"sip:user@IPv4[:port]\", got " + Quoted(uri) + " (" + reason + ")");
    }
  }
  src.standby = ReadString(r, t, path, "standby", pos.standby);
  std::string location;
  ReadEnum(r, t, path, "location", {"multipart", "reference", "none"}, location);
  if (location == "reference") pos.location = LocationMode::kReference;
  if (location == "none") pos.location = LocationMode::kNone;
  if (const toml::node* n = t.get("automaton")) {
    if (const auto* flag = n->as_boolean()) {
      pos.automaton = flag->get();
    } else {
      WrongType(r, *n, Join(path, "automaton"), "a boolean");
    }
  }
  return src;
}

// Names must be unique; a standby must name another position that exists.
void CheckPositionLinks(Reporter& r, const std::vector<PositionConfig>& positions,
                        const std::vector<PositionSource>& sources) {
  std::map<std::string, size_t, std::less<>> index;
  for (size_t i = 0; i < positions.size(); ++i) {
    if (!sources[i].name) continue;
    auto [it, fresh] = index.try_emplace(positions[i].name, i);
    if (!fresh) {
      r.Add(sources[i].name->source(), Indexed("positions", i) + ".name",
            "duplicate of " + Indexed("positions", it->second) + ".name " +
                Quoted(positions[i].name));
    }
  }
  for (size_t i = 0; i < positions.size(); ++i) {
    if (!sources[i].standby) continue;
    const std::string& standby = positions[i].standby;
    const std::string key = Indexed("positions", i) + ".standby";
    if (sources[i].name && standby == positions[i].name) {
      r.Add(sources[i].standby->source(), key, "a position cannot be its own standby");
    } else if (!index.contains(standby)) {
      r.Add(sources[i].standby->source(), key, "no position named " + Quoted(standby));
    }
  }
}

void ParsePositions(Reporter& r, const toml::node& node, std::vector<PositionConfig>& out) {
  const toml::array* array = node.as_array();
  if (!array) return WrongType(r, node, "positions", "an array of tables ([[positions]])");
  std::vector<PositionConfig> positions(array->size());
  std::vector<PositionSource> sources(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const std::string path = Indexed("positions", i);
    if (const toml::table* t = item.as_table()) {
      sources[i] = ParsePosition(r, *t, path, positions[i]);
    } else {
      WrongType(r, item, path, "a table");
    }
  }
  CheckPositionLinks(r, positions, sources);
  out = std::move(positions);
}

void ParseRoot(Reporter& r, const toml::table& root, Config& config) {
  CheckKnownKeys(r, root, "", {"sip", "media", "failover", "control", "queue", "log", "positions"});
  if (const toml::table* t = Section(r, root, "sip")) ParseSip(r, *t, config.sip);
  if (const toml::table* t = Section(r, root, "media")) ParseMedia(r, *t, config.media);
  if (const toml::table* t = Section(r, root, "failover")) ParseFailover(r, *t, config.failover);
  if (const toml::table* t = Section(r, root, "control")) ParseControl(r, *t, config.control);
  if (const toml::table* t = Section(r, root, "queue")) ParseQueue(r, *t, config.queue);
  if (const toml::table* t = Section(r, root, "log")) ParseLog(r, *t, config.log);
  if (const toml::node* n = root.get("positions")) ParsePositions(r, *n, config.positions);
  // An empty listen list is an error, so empty here means the key was omitted.
  if (config.sip.listen.empty()) {
    config.sip.listen = {{Transport::kUdp, "127.0.0.1", 5060},
                         {Transport::kTcp, "127.0.0.1", 5060}};
  }
}

}  // namespace

tl::expected<Config, ConfigErrors> ParseConfig(std::string_view toml_text,
                                               std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::string text(source_name);
    if (e.source().begin.line > 0) text += ":" + std::to_string(e.source().begin.line);
    text.append(": syntax error: ").append(e.description());
    return tl::unexpected(ConfigErrors{std::move(text)});
  }
  Reporter reporter(source_name);
  Config config;
  ParseRoot(reporter, root, config);
  if (!reporter.empty()) return tl::unexpected(reporter.Take());
  return config;
}

tl::expected<Config, ConfigErrors> LoadConfigFile(const std::string& path) {
  auto cannot_read = [&path](int error) {
    return tl::unexpected(ConfigErrors{path + ": cannot read: " + std::strerror(error)});
  };
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return cannot_read(errno);
  std::string text;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  // A directory opens fine and fails on the first read (EISDIR).
  int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error) return cannot_read(error);
  return ParseConfig(text, path);
}

std::string_view DefaultConfigText() { return internal::kDefaultConfigText; }

}  // namespace anchord::core
