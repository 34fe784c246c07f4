#include "signaling/sip_message.h"

#include <strings.h>
#include <sys/random.h>

#include <cstdlib>
#include <cstring>
#include <random>

namespace anchord::signaling {
namespace {

std::mt19937_64& Generator() {
  static std::mt19937_64 generator = [] {
    uint64_t seed[2] = {0, 0};
    if (getrandom(seed, sizeof seed, 0) != sizeof seed) seed[0] = std::random_device{}();
    std::seed_seq seq{seed[0], seed[1]};
    return std::mt19937_64(seq);
  }();
  return generator;
}

// osip_from_get_tag/osip_to_get_tag are macros passing a string literal as char*.
osip_generic_param_t* FindTag(const osip_from_t* header) {
  osip_generic_param_t* tag = nullptr;
  if (!header || osip_generic_param_get_byname(const_cast<osip_list_t*>(&header->gen_params),
                                               const_cast<char*>("tag"), &tag) != 0) {
    return nullptr;
  }
  return tag;
}

int CloneVia(void* via, void** out) {
  return osip_via_clone(static_cast<osip_via_t*>(via), reinterpret_cast<osip_via_t**>(out));
}

}  // namespace

void OsipFree(void* p) { osip_free(p); }

std::string RandomToken(size_t hex_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(hex_chars);
  uint64_t bits = 0;
  for (size_t i = 0; i < hex_chars; ++i) {
    if (i % 16 == 0) bits = Generator()();
    token.push_back(kHex[bits & 0xF]);
    bits >>= 4;
  }
  return token;
}

uint32_t RandomRSeq() { return static_cast<uint32_t>(1 + Generator()() % 0x7FFFFFFFull); }

std::string ToText(const osip_message_t* message) {
  char* buf = nullptr;
  size_t len = 0;
  if (osip_message_to_str(const_cast<osip_message_t*>(message), &buf, &len) != 0 || !buf) {
    return {};
  }
  std::string text(buf, len);
  OsipFree(buf);
  return text;
}

MessagePtr Clone(const osip_message_t* message) {
  osip_message_t* copy = nullptr;
  if (osip_message_clone(message, &copy) != 0) return nullptr;
  return MessagePtr(copy);
}

bool HasMandatoryHeaders(const osip_message_t* m, std::string* why) {
  const char* missing = nullptr;
  if (osip_list_size(&m->vias) == 0)
    missing = "Via";
  else if (!m->from || !m->from->url)
    missing = "From";
  else if (!m->to || !m->to->url)
    missing = "To";
  else if (!m->call_id || !m->call_id->number)
    missing = "Call-ID";
  else if (!m->cseq || !m->cseq->method || !m->cseq->number)
    missing = "CSeq";
  if (missing) {
    *why = std::string("missing or malformed ") + missing;
    return false;
  }
  char* end = nullptr;
  long long number = std::strtoll(m->cseq->number, &end, 10);
  if (*end != '\0' || number < 0 || number > 0x7FFFFFFFLL) {
    *why = "bad CSeq number";
    return false;
  }
  if (MSG_IS_REQUEST(m) &&
      (!m->req_uri || !m->sip_method || std::strcmp(m->sip_method, m->cseq->method) != 0)) {
    *why = "CSeq method differs from the request method";
    return false;
  }
  return true;
}

MessagePtr MakeResponse(const osip_message_t* request, int status_code, std::string_view to_tag) {
  std::string why;
  if (!HasMandatoryHeaders(request, &why)) return nullptr;
  osip_message_t* r = nullptr;
  osip_message_init(&r);
  MessagePtr response(r);
  osip_message_set_version(r, osip_strdup("SIP/2.0"));
  osip_message_set_status_code(r, status_code);
  const char* reason = osip_message_get_reason(status_code);
  osip_message_set_reason_phrase(r, osip_strdup(reason ? reason : "Unknown"));
  osip_list_clone(&request->vias, &r->vias, &CloneVia);
  osip_from_clone(request->from, &r->from);
  osip_to_clone(request->to, &r->to);
  osip_call_id_clone(request->call_id, &r->call_id);
  osip_cseq_clone(request->cseq, &r->cseq);
  if (!to_tag.empty() && !FindTag(r->to)) {
    osip_to_set_tag(r->to, osip_strdup(std::string(to_tag).c_str()));
  }
  osip_message_set_header(r, "Server", "anchord");
  return response;
}

std::string TopBranch(const osip_message_t* m) {
  auto* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
  osip_generic_param_t* branch = nullptr;
  if (!via || osip_via_param_get_byname(via, const_cast<char*>("branch"), &branch) != 0 ||
      !branch || !branch->gvalue) {
    return {};
  }
  return branch->gvalue;
}

static std::string TagOf(const osip_from_t* header) {
  osip_generic_param_t* tag = FindTag(header);
  return tag && tag->gvalue ? tag->gvalue : "";
}

std::string ToTag(const osip_message_t* m) { return TagOf(m->to); }
std::string FromTag(const osip_message_t* m) { return TagOf(m->from); }

std::string CallIdOf(const osip_message_t* m) {
  if (!m->call_id) return {};
  std::string id = m->call_id->number ? m->call_id->number : "";
  if (m->call_id->host) id += std::string("@") + m->call_id->host;
  return id;
}

std::string UriText(const osip_uri_t* uri) {
  char* text = nullptr;
  if (!uri || osip_uri_to_str(uri, &text) != 0 || !text) return {};
  std::string s(text);
  OsipFree(text);
  return s;
}

std::string CseqMethod(const osip_message_t* m) {
  return m->cseq && m->cseq->method ? m->cseq->method : "";
}

uint32_t CseqNumber(const osip_message_t* m) {
  return m->cseq && m->cseq->number
             ? static_cast<uint32_t>(std::strtoul(m->cseq->number, nullptr, 10))
             : 0;
}

std::string HeaderValue(const osip_message_t* m, const char* lower_name) {
  osip_header_t* h = nullptr;
  if (osip_message_header_get_byname(m, lower_name, 0, &h) < 0 || !h || !h->hvalue) return {};
  return h->hvalue;
}

std::vector<std::string> OptionTags(const osip_message_t* m, const char* lower_name) {
  std::vector<std::string> tags;
  osip_header_t* h = nullptr;
  for (int pos = 0; (pos = osip_message_header_get_byname(m, lower_name, pos, &h)) >= 0; ++pos) {
    std::string_view value = h && h->hvalue ? h->hvalue : "";
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view tag = value.substr(0, comma);
      value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      size_t first = tag.find_first_not_of(" \t");
      if (first == std::string_view::npos) continue;
      tag = tag.substr(first, tag.find_last_not_of(" \t") - first + 1);
      tags.emplace_back(tag);
    }
  }
  return tags;
}

bool HasOptionTag(const osip_message_t* m, const char* lower_name, std::string_view tag) {
  for (const std::string& t : OptionTags(m, lower_name)) {
    if (strcasecmp(t.c_str(), std::string(tag).c_str()) == 0) return true;
  }
  return false;
}

std::optional<PeerAddress> PeerOfUri(const osip_uri_t* uri, core::Transport fallback) {
  if (!uri || !uri->host || !uri->scheme) return std::nullopt;
  PeerAddress peer;
  peer.host = uri->host;
  peer.port = 5060;
  if (uri->port) {
    long port = std::strtol(uri->port, nullptr, 10);
    if (port <= 0 || port > 65535) return std::nullopt;
    peer.port = static_cast<uint16_t>(port);
  }
  peer.transport = fallback;
  osip_uri_param_t* transport = nullptr;
  if (osip_uri_uparam_get_byname(const_cast<osip_uri_t*>(uri), const_cast<char*>("transport"),
                                 &transport) == 0 &&
      transport && transport->gvalue) {
    peer.transport =
        strcasecmp(transport->gvalue, "tcp") == 0 ? core::Transport::kTcp : core::Transport::kUdp;
  }
  return peer;
}

std::optional<PeerAddress> PeerOfUriText(std::string_view text, core::Transport fallback) {
  osip_uri_t* uri = nullptr;
  osip_uri_init(&uri);
  std::optional<PeerAddress> peer;
  if (osip_uri_parse(uri, std::string(text).c_str()) == 0) peer = PeerOfUri(uri, fallback);
  osip_uri_free(uri);
  return peer;
}

std::string FromToText(const osip_from_t* header) {
  char* text = nullptr;
  if (!header || osip_from_to_str(header, &text) != 0 || !text) return {};
  std::string s(text);
  OsipFree(text);
  return s;
}

// RFC 3261 §9.1: a CANCEL copies the INVITE's Request-URI, top Via, From, To, Call-ID, Route
// and CSeq number.
MessagePtr MakeCancel(const osip_message_t* invite) {
  osip_message_t* m = nullptr;
  osip_message_init(&m);
  MessagePtr cancel(m);
  osip_message_set_method(m, osip_strdup("CANCEL"));
  osip_message_set_version(m, osip_strdup("SIP/2.0"));
  osip_uri_t* uri = nullptr;
  osip_uri_clone(invite->req_uri, &uri);
  osip_message_set_uri(m, uri);
  auto* via = static_cast<osip_via_t*>(osip_list_get(&invite->vias, 0));
  osip_via_t* via_copy = nullptr;
  osip_via_clone(via, &via_copy);
  osip_list_add(&m->vias, via_copy, -1);
  osip_from_clone(invite->from, &m->from);
  osip_to_clone(invite->to, &m->to);
  osip_call_id_clone(invite->call_id, &m->call_id);
  osip_message_set_cseq(m, (std::to_string(CseqNumber(invite)) + " CANCEL").c_str());
  osip_route_t* route = nullptr;
  for (int i = 0; (route = static_cast<osip_route_t*>(osip_list_get(&invite->routes, i))); ++i) {
    osip_route_t* copy = nullptr;
    osip_route_clone(route, &copy);
    osip_list_add(&m->routes, copy, -1);
  }
  osip_message_set_max_forwards(m, "70");
  return cancel;
}

void SetSdpBody(osip_message_t* message, const std::string& sdp) {
  if (sdp.empty()) return;
  osip_message_set_content_type(message, "application/sdp");
  osip_message_set_body(message, sdp.data(), sdp.size());
}

const char* TransportName(core::Transport transport) {
  return transport == core::Transport::kTcp ? "TCP" : "UDP";
}

}  // namespace anchord::signaling
