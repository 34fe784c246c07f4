// Small helpers around libosip2's message type: ownership, tokens, building responses and
// requests, reading headers. osip's setters take ownership of char* arguments and osip_free is
// a macro (libraries.md §1); everything that deals with that lives here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <osipparser2/osip_parser.h>

#include "core/result.h"
#include "signaling/transport.h"

namespace anchord::signaling {

struct MessageDeleter {
  void operator()(osip_message_t* m) const { osip_message_free(m); }
};
using MessagePtr = std::unique_ptr<osip_message_t, MessageDeleter>;

void OsipFree(void* p);

// Random lower-case hex, from a per-process seeded generator (tags need >= 32 random bits,
// R3261-19.3-a; these have 64 and more).
std::string RandomToken(size_t hex_chars = 16);
inline std::string NewBranch() { return "z9hG4bK" + RandomToken(20); }
inline std::string NewTag() { return RandomToken(16); }
// The first RSeq of a transaction's reliable provisionals: uniform in 1 .. 2^31-1 (RFC 3262 §3).
uint32_t RandomRSeq();

// The serialized message; empty on failure.
std::string ToText(const osip_message_t* message);
MessagePtr Clone(const osip_message_t* message);

// A response to `request` with Via, From, To, Call-ID and CSeq copied; `to_tag` is added when
// To has no tag yet (and is non-empty). Returns nullptr if the request lacks those headers.
MessagePtr MakeResponse(const osip_message_t* request, int status_code,
                        std::string_view to_tag = {});

// Whether a parsed message has what RFC 3261 §8.1.1 requires (Via, From, To, Call-ID, CSeq,
// and for requests a CSeq method equal to the request method). `why` says what is missing.
bool HasMandatoryHeaders(const osip_message_t* message, std::string* why);

std::string TopBranch(const osip_message_t* message);
std::string ToTag(const osip_message_t* message);
std::string FromTag(const osip_message_t* message);
std::string CallIdOf(const osip_message_t* message);
std::string UriText(const osip_uri_t* uri);
std::string CseqMethod(const osip_message_t* message);
uint32_t CseqNumber(const osip_message_t* message);
// The first value of an extension header (case-insensitive name), or empty.
std::string HeaderValue(const osip_message_t* message, const char* lower_name);
// The option tags of every `lower_name` header (Require, Supported ...), comma lists split and
// blanks trimmed, in order.
std::vector<std::string> OptionTags(const osip_message_t* message, const char* lower_name);
bool HasOptionTag(const osip_message_t* message, const char* lower_name, std::string_view tag);

// Where a SIP URI points (numeric host only; DNS is out of scope for now). The transport is the
// URI's transport parameter, else `fallback`.
std::optional<PeerAddress> PeerOfUri(const osip_uri_t* uri, core::Transport fallback);
std::optional<PeerAddress> PeerOfUriText(std::string_view uri, core::Transport fallback);

const char* TransportName(core::Transport transport);  // "UDP" | "TCP"

// A From or To header's value as text (display name, URI, parameters); empty on failure.
std::string FromToText(const osip_from_t* header);
// The CANCEL for an INVITE we sent (RFC 3261 §9.1: same Request-URI, top Via, From, To,
// Call-ID, Route and CSeq number).
MessagePtr MakeCancel(const osip_message_t* invite);
// Sets an application/sdp body; does nothing for an empty `sdp`.
void SetSdpBody(osip_message_t* message, const std::string& sdp);

}  // namespace anchord::signaling
