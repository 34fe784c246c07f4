// Logging to journald with structured fields, and the same line on stderr when journald is
// absent (containers, CI) or stderr is not already the journal.
//
// Thread-safe. Never call it per packet on the data path (DESIGN invariant 4): count instead and
// report in a periodic summary.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace anchord::core {

enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };
enum class Subsys { kMain, kSip, kMedia, kMixer, kFailover, kControl };

// One journald field, e.g. {"CALL_ID", call_id}. Keys are upper case [A-Z0-9_] (DESIGN lists
// them: CALL_ID, NG911_CALL_ID, NG911_INCIDENT_ID, LEG, POSITION, PEER, MESSAGE_ID, ...).
struct LogField {
  std::string_view key;
  std::string_view value;
};

// Catalogued events (MESSAGE_ID=). 128-bit ids, stable across releases; listed in the README.
namespace message_id {
inline constexpr std::string_view kCallStart = "a7c0d1f2b3e44c5d8e6f708192a3b4c5";
inline constexpr std::string_view kCallAnswer = "b8d1e2f3c4f54d6e9f708192a3b4c5d6";
inline constexpr std::string_view kCallEnd = "c9e2f3a4d5064e7fa08192a3b4c5d6e7";
inline constexpr std::string_view kFailover = "dae3a4b5e6174f80b192a3b4c5d6e7f8";
inline constexpr std::string_view kMediaTimeout = "ebf4b5c6f7285091c2a3b4c5d6e7f809";
inline constexpr std::string_view kPositionDown = "fc05c6d708396102d3b4c5d6e7f8091a";
inline constexpr std::string_view kPositionUp = "0d16d7e8194a7213e4c5d6e7f8091a2b";
inline constexpr std::string_view kCallAbandoned = "1e27e8f92a5b8324f5d6e7f8091a2b3c";
inline constexpr std::string_view kCallQueued = "2f38f90a3b6c9435a6e7f8091a2b3c4d";
inline constexpr std::string_view kDtmf = "304901b4c7da4546b7f8091a2b3c4d5e";
inline constexpr std::string_view kTtyLine = "415a12c5d8eb5657c8091a2b3c4d5e6f";
}  // namespace message_id

void SetLogLevel(Level level);
bool LogEnabled(Level level);

void Log(Level level, Subsys subsys, std::string_view message,
         std::initializer_list<LogField> fields = {});

const char* SubsysName(Subsys subsys);

}  // namespace anchord::core
