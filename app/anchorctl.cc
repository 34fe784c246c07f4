// anchorctl: command-line client of anchord's control API (app/control_api.h, app/README.md).
//
//   anchorctl [--api HOST:PORT] [--json] COMMAND [ARGS]
//
// Human-readable tables by default, the API's JSON with --json. Exit status: 0 ok, 1 the API
// answered an error (its message on stderr), 2 usage, 3 cannot connect.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace anchord::app {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitApiError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoConnection = 3;

constexpr const char* kUsage =
    "usage: anchorctl [--api HOST:PORT] [--json] COMMAND\n"
    "commands:\n"
    "  calls                      list the calls\n"
    "  call ID                    one call with its parties\n"
    "  positions                  list the positions with their health\n"
    "  abandoned                  callers who hung up while queued or ringing\n"
    "  hangup ID                  end every leg of call ID\n"
    "  dial A B [--flow 1|2|3|4|auto] [--media direct|anchored] [--callback]\n"
    "                             third-party call from sip: URI A to sip: URI B\n"
    "  add-party ID URI           bring URI into call ID\n"
    "  health                     is the daemon's signaling loop answering\n"
    "options: --api HOST:PORT (default 127.0.0.1:8089), --json (print the API's JSON)\n";

struct Command {
  std::string api = "127.0.0.1:8089";
  bool json = false;
  std::string name;
  std::vector<std::string> args;
  std::optional<std::string> flow, media;
  bool callback = false;
};

struct Usage {
  std::string message;  // empty: --help
};

bool IsId(const std::string& text) {
  return !text.empty() && text.size() <= 20 &&
         text.find_first_not_of("0123456789") == std::string::npos;
}

// Returns the argument count the command takes, or -1 if unknown.
int Arity(const std::string& name) {
  if (name == "calls" || name == "positions" || name == "abandoned" || name == "health") return 0;
  if (name == "call" || name == "hangup") return 1;
  if (name == "dial" || name == "add-party") return 2;
  return -1;
}

std::optional<Usage> CheckCommand(const Command& c) {
  if (c.name.empty()) return Usage{"no command"};
  int arity = Arity(c.name);
  if (arity < 0) return Usage{"unknown command: " + c.name};
  if (static_cast<int>(c.args.size()) != arity) {
    return Usage{c.name + ": expected " + std::to_string(arity) + " argument(s)"};
  }
  bool needs_id = c.name == "call" || c.name == "hangup" || c.name == "add-party";
  if (needs_id && !IsId(c.args[0])) return Usage{c.name + ": ID must be a decimal call id"};
  if (c.name != "dial" && (c.flow || c.media || c.callback)) {
    return Usage{"--flow, --media and --callback belong to dial"};
  }
  if (c.flow && *c.flow != "auto" &&
      (c.flow->size() != 1 || (*c.flow)[0] < '1' || (*c.flow)[0] > '4')) {
    return Usage{"--flow: expected 1, 2, 3, 4 or auto"};
  }
  if (c.media && *c.media != "direct" && *c.media != "anchored") {
    return Usage{"--media: expected direct or anchored"};
  }
  return std::nullopt;
}

// Options may appear anywhere; "--opt value" and "--opt=value" both work.
std::variant<Command, Usage> ParseArgs(const std::vector<std::string>& argv) {
  Command c;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < argv.size()) return argv[++i];
      return std::nullopt;
    };
    if (arg == "-h" || arg == "--help") return Usage{};
    if (arg == "--json" || arg == "--callback") {
      if (inline_value) return Usage{arg + " takes no value"};
      (arg == "--json" ? c.json : c.callback) = true;
    } else if (arg == "--api" || arg == "--flow" || arg == "--media") {
      auto v = value();
      if (!v) return Usage{arg + " needs a value"};
      if (arg == "--api") c.api = *v;
      if (arg == "--flow") c.flow = *v;
      if (arg == "--media") c.media = *v;
    } else if (arg.starts_with("-") && arg != "-") {
      return Usage{"unknown option: " + arg};
    } else if (c.name.empty()) {
      c.name = arg;
    } else {
      c.args.push_back(arg);
    }
  }
  if (auto usage = CheckCommand(c)) return *usage;
  return c;
}

// ---- Tables -----------------------------------------------------------------------------------

using Row = std::vector<std::string>;

void PrintTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto print = [&](const Row& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << '\n';
  };
  print(header);
  for (const Row& row : rows) print(row);
}

// A field as text: strings as they are, numbers in decimal, absent or empty as "-".
std::string Text(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "-";
  std::string text = it->is_string() ? it->get<std::string>() : it->dump();
  return text.empty() ? "-" : text;
}

// Local wall-clock time of a unix-ms field, "-" for 0.
std::string Time(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0) return "-";
  time_t seconds = static_cast<time_t>(it->get<uint64_t>() / 1000);
  struct tm local {};
  localtime_r(&seconds, &local);
  char buf[32];
  strftime(buf, sizeof(buf), "%H:%M:%S", &local);
  return buf;
}

void PrintCalls(const json& body) {
  std::vector<Row> rows;
  for (const json& c : body.at("calls")) {
    rows.push_back({Text(c, "id"), Text(c, "state"), Text(c, "caller"), Text(c, "position"),
                    Text(c, "media"), std::to_string(c.value("parties", json::array()).size()),
                    Time(c, "started_unix_ms"), Time(c, "answered_unix_ms")});
  }
  PrintTable({"ID", "STATE", "CALLER", "POSITION", "MEDIA", "PARTIES", "STARTED", "ANSWERED"},
             rows);
}

void PrintCall(const json& c) {
  const char* fields[] = {"id",      "state",    "caller",      "position",      "media",
                          "flow",    "location", "sip_call_id", "ng911_call_id", "incident_id",
                          "tty_text"};
  for (const char* field : fields) std::cout << field << ": " << Text(c, field) << '\n';
  std::cout << "started: " << Time(c, "started_unix_ms")
            << "\nanswered: " << Time(c, "answered_unix_ms") << "\n\n";
  std::vector<Row> rows;
  for (const json& p : c.value("parties", json::array())) {
    const json rtp = p.value("rtp", json::object());
    rows.push_back({Text(p, "leg"), Text(p, "kind"), Text(p, "state"), Text(p, "position"),
                    Text(rtp, "received"), Text(rtp, "lost"), Text(rtp, "jitter_us"),
                    Text(p, "uri")});
  }
  PrintTable({"LEG", "KIND", "STATE", "POSITION", "RTP_IN", "LOST", "JITTER_US", "URI"}, rows);
}

void PrintPositions(const json& body) {
  std::vector<Row> rows;
  for (const json& p : body.at("positions")) {
    std::string call = p.value("call", uint64_t{0}) ? Text(p, "call") : "-";
    rows.push_back({Text(p, "name"), Text(p, "health"), Text(p, "activity"), call,
                    Text(p, "standby"), Text(p, "uri")});
  }
  PrintTable({"NAME", "HEALTH", "ACTIVITY", "CALL", "STANDBY", "URI"}, rows);
}

void PrintAbandoned(const json& body) {
  std::vector<Row> rows;
  for (const json& a : body.at("abandoned")) {
    rows.push_back({Text(a, "id"), Text(a, "caller"), Text(a, "caller_identity"), Text(a, "stage"),
                    Time(a, "started_unix_ms"), Time(a, "ended_unix_ms"), Text(a, "ng911_call_id"),
                    Text(a, "location")});
  }
  // The NG9-1-1 call id is what the call-taker quotes when calling back through the ESInet.
  PrintTable({"ID", "CALLER", "IDENTITY", "STAGE", "STARTED", "ENDED", "NG911_CALL_ID", "LOCATION"},
             rows);
}

// ---- Requests ---------------------------------------------------------------------------------

struct Request {
  std::string method, path, body;
};

Request BuildRequest(const Command& c) {
  if (c.name == "call") return {"GET", "/v1/calls/" + c.args[0], ""};
  if (c.name == "hangup") return {"DELETE", "/v1/calls/" + c.args[0], ""};
  if (c.name == "add-party") {
    return {"POST", "/v1/calls/" + c.args[0] + "/parties", json{{"uri", c.args[1]}}.dump()};
  }
  if (c.name == "dial") {
    json body = {{"a", c.args[0]}, {"b", c.args[1]}};
    if (c.flow) body["flow"] = *c.flow == "auto" ? json("auto") : json(std::stoi(*c.flow));
    if (c.media) body["media"] = *c.media;
    if (c.callback) body["callback"] = true;
    return {"POST", "/v1/calls", body.dump()};
  }
  return {"GET", "/v1/" + c.name, ""};
}

void PrintHuman(const Command& c, const json& body) {
  if (c.name == "calls") return PrintCalls(body);
  if (c.name == "call") return PrintCall(body);
  if (c.name == "positions") return PrintPositions(body);
  if (c.name == "abandoned") return PrintAbandoned(body);
  if (c.name == "hangup") {
    std::cout << "call " << c.args[0] << " hung up\n";
  } else if (c.name == "dial") {
    std::cout << "call " << Text(body, "id") << '\n';
  } else if (c.name == "add-party") {
    std::cout << "leg " << Text(body, "leg") << '\n';
  } else {
    std::cout << Text(body, "status") << '\n';
  }
}

httplib::Result Send(httplib::Client& client, const Request& r) {
  if (r.method == "DELETE") return client.Delete(r.path);
  if (r.method == "POST") return client.Post(r.path, r.body, "application/json");
  return client.Get(r.path);
}

int Run(const Command& c) {
  std::string base = c.api.starts_with("http://") ? c.api : "http://" + c.api;
  httplib::Client client(base);
  if (!client.is_valid()) {
    std::cerr << "anchorctl: --api " << c.api << ": not HOST:PORT\n";
    return kExitUsage;
  }
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(10, 0);  // the server answers within its 2 s loop deadline
  client.set_write_timeout(5, 0);
  httplib::Result result = Send(client, BuildRequest(c));
  if (!result) {
    std::cerr << "anchorctl: cannot reach " << c.api << ": " << httplib::to_string(result.error())
              << '\n';
    return kExitNoConnection;
  }
  json body = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (result->status < 200 || result->status >= 300) {
    std::string message = body.is_object() ? Text(body, "error") : result->body;
    std::cerr << "anchorctl: " << result->status << ": " << message << '\n';
    return kExitApiError;
  }
  if (c.json) {
    std::cout << result->body;
    return kExitOk;
  }
  if (result->status != 204 && body.is_discarded()) {
    std::cerr << "anchorctl: the reply is not JSON\n";
    return kExitApiError;
  }
  try {
    PrintHuman(c, body);
  } catch (const json::exception& e) {
    std::cerr << "anchorctl: unexpected reply: " << e.what() << '\n';
    return kExitApiError;
  }
  return kExitOk;
}

}  // namespace
}  // namespace anchord::app

int main(int argc, char** argv) {
  using namespace anchord::app;
  auto parsed = ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (auto* usage = std::get_if<Usage>(&parsed)) {
    if (usage->message.empty()) {
      std::cout << kUsage;
      return kExitOk;
    }
    std::cerr << "anchorctl: " << usage->message << '\n' << kUsage;
    return kExitUsage;
  }
  return Run(std::get<Command>(parsed));
}
