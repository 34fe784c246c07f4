#include "signaling/ng911.h"

#include <strings.h>

#include <cstring>

#include "signaling/sip_message.h"

namespace anchord::signaling {
namespace {

// Canonical names of the headers a position needs; osip keeps unknown headers lower-cased.
constexpr const char* kCopiedHeaders[] = {"Geolocation",         "Geolocation-Routing",
                                          "Resource-Priority",   "History-Info",
                                          "P-Asserted-Identity", "Priority"};

bool IsLocationHeader(const std::string& name) {
  return strcasecmp(name.c_str(), "Geolocation") == 0 ||
         strcasecmp(name.c_str(), "Geolocation-Routing") == 0;
}

std::string ContentTypeText(const osip_content_type_t* type) {
  char* text = nullptr;
  if (!type || osip_content_type_to_str(type, &text) != 0 || !text) return {};
  std::string s(text);
  OsipFree(text);
  return s;
}

bool IsSdp(const osip_content_type_t* type) {
  return type && type->type && type->subtype && strcasecmp(type->type, "application") == 0 &&
         strcasecmp(type->subtype, "sdp") == 0;
}

bool IsMultipart(const osip_message_t* m) {
  return m->content_type && m->content_type->type &&
         strcasecmp(m->content_type->type, "multipart") == 0;
}

std::string ParamOf(const osip_call_info_t* info, const char* name) {
  osip_generic_param_t* p = nullptr;
  if (osip_generic_param_get_byname(const_cast<osip_list_t*>(&info->gen_params),
                                    const_cast<char*>(name), &p) != 0 ||
      !p || !p->gvalue) {
    return {};
  }
  return p->gvalue;
}

void ReadCallInfo(const osip_message_t* invite, EmergencyData* data) {
  osip_call_info_t* info = nullptr;
  for (int i = 0; osip_message_get_call_info(invite, i, &info) >= 0 && info; ++i) {
    char* text = nullptr;
    if (osip_call_info_to_str(info, &text) == 0 && text) {
      data->headers.emplace_back("Call-Info", text);
      OsipFree(text);
    }
    std::string purpose = ParamOf(info, "purpose");
    std::string uri = info->element ? info->element : "";
    if (uri.size() > 2 && uri.front() == '<') uri = uri.substr(1, uri.size() - 2);
    if (strcasecmp(purpose.c_str(), "emergency-CallId") == 0) data->ng911_call_id = uri;
    if (strcasecmp(purpose.c_str(), "emergency-IncidentId") == 0) data->incident_id = uri;
  }
}

BodyPart ReadPart(const osip_body_t* body) {
  BodyPart part;
  part.content_type = ContentTypeText(body->content_type);
  osip_header_t* h = nullptr;
  for (int i = 0; (h = static_cast<osip_header_t*>(osip_list_get(body->headers, i))); ++i) {
    if (h->hname && strcasecmp(h->hname, "content-type") != 0) {
      part.headers.emplace_back(h->hname, h->hvalue ? h->hvalue : "");
    }
  }
  part.content.assign(body->body ? body->body : "", body->length);
  return part;
}

// Appends one MIME part to a multipart message. The part's headers, Content-Type included, go
// in as plain headers so osip writes them as given (it lower-cases a parsed part Content-Type),
// and the content goes out byte for byte; osip writes the boundary lines between parts.
void AddPart(osip_message_t* message, const std::string& content_type,
             const std::vector<std::pair<std::string, std::string>>& headers,
             const std::string& content) {
  osip_body_t* part = nullptr;
  osip_body_init(&part);
  osip_body_set_header(part, "Content-Type", content_type.c_str());
  for (const auto& [name, value] : headers) {
    osip_body_set_header(part, name.c_str(), value.c_str());
  }
  part->body = static_cast<char*>(osip_malloc(content.size() + 1));
  std::memcpy(part->body, content.data(), content.size());
  part->body[content.size()] = '\0';
  part->length = content.size();
  osip_list_add(&message->bodies, part, -1);
}

}  // namespace

EmergencyData ExtractEmergencyData(const osip_message_t* invite) {
  EmergencyData data;
  for (const char* name : kCopiedHeaders) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(tolower(c));
    osip_header_t* h = nullptr;
    for (int pos = 0; (pos = osip_message_header_get_byname(invite, lower.c_str(), pos, &h)) >= 0;
         ++pos) {
      if (h && h->hvalue) data.headers.emplace_back(name, h->hvalue);
    }
  }
  ReadCallInfo(invite, &data);
  if (IsMultipart(invite)) {
    osip_body_t* body = nullptr;
    for (int i = 0; (body = static_cast<osip_body_t*>(osip_list_get(&invite->bodies, i))); ++i) {
      if (!IsSdp(body->content_type)) data.parts.push_back(ReadPart(body));
    }
  }
  return data;
}

std::optional<std::string> SdpBody(const osip_message_t* m) {
  osip_body_t* body = nullptr;
  if (IsSdp(m->content_type)) {
    body = static_cast<osip_body_t*>(osip_list_get(&m->bodies, 0));
    if (!body || !body->body) return std::nullopt;
    return std::string(body->body, body->length);
  }
  if (!IsMultipart(m)) return std::nullopt;
  for (int i = 0; (body = static_cast<osip_body_t*>(osip_list_get(&m->bodies, i))); ++i) {
    if (IsSdp(body->content_type) && body->body) return std::string(body->body, body->length);
  }
  return std::nullopt;
}

void ApplyEmergencyData(osip_message_t* invite, const EmergencyData& data, core::LocationMode mode,
                        const std::string& sdp) {
  for (const auto& [name, value] : data.headers) {
    if (mode == core::LocationMode::kNone && IsLocationHeader(name)) continue;
    osip_message_set_header(invite, name.c_str(), value.c_str());
  }
  if (mode == core::LocationMode::kMultipart && !data.parts.empty()) {
    osip_message_set_content_type(invite,
                                  ("multipart/mixed;boundary=anchord-" + RandomToken(16)).c_str());
    osip_message_set_mime_version(invite, "1.0");
    AddPart(invite, "application/sdp", {}, sdp);
    for (const BodyPart& part : data.parts) {
      AddPart(invite, part.content_type, part.headers, part.content);
    }
  } else {
    osip_message_set_content_type(invite, "application/sdp");
    osip_message_set_body(invite, sdp.data(), sdp.size());
  }
}

}  // namespace anchord::signaling
