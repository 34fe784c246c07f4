// NG9-1-1 data of a caller's INVITE and how it reaches a position (NENA-3.1.13, R6442,
// R7852, R4412, DESIGN invariant 6): the emergency headers are copied; the body parts other
// than SDP (the PIDF-LO, EIDO, additional data ...) travel byte-identical in a multipart/mixed
// body after the server's own SDP when the position takes location by value, as the
// Geolocation header alone when it takes it by reference, and not at all otherwise.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <osipparser2/osip_parser.h>

#include "core/config.h"

namespace anchord::signaling {

struct BodyPart {
  std::string content_type;                                  // e.g. "application/pidf+xml"
  std::vector<std::pair<std::string, std::string>> headers;  // Content-ID, Content-Disposition...
  std::string content;                                       // the part's bytes, unchanged
};

struct EmergencyData {
  // Headers to copy, in the caller's order: (canonical name, value).
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<BodyPart> parts;  // every body part that is not application/sdp
  std::string ng911_call_id;    // from Call-Info purpose=emergency-CallId, for logs
  std::string incident_id;      // from Call-Info purpose=emergency-IncidentId
};

// Reads the emergency headers and body parts of a caller's INVITE.
EmergencyData ExtractEmergencyData(const osip_message_t* invite);

// The SDP body of a message: the whole body when it is application/sdp, else the
// application/sdp part of a multipart body; nullopt when there is none.
std::optional<std::string> SdpBody(const osip_message_t* message);

// Adds the emergency headers to a position's INVITE and sets its body: `sdp` alone, or a
// multipart/mixed body of `sdp` and the caller's other parts for LocationMode::kMultipart.
void ApplyEmergencyData(osip_message_t* invite, const EmergencyData& data, core::LocationMode mode,
                        const std::string& sdp);

}  // namespace anchord::signaling
