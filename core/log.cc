#include "core/log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include <systemd/sd-journal.h>

#include "core/clock.h"

namespace anchord::core {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

// journald is there when its socket exists. stderr is the journal already when systemd says so
// through JOURNAL_STREAM (device:inode of stderr); then a second copy would be a duplicate.
struct Sinks {
  bool journal;
  bool stderr_line;
};

Sinks DetectSinks() {
  Sinks sinks{access("/run/systemd/journal/socket", W_OK) == 0, true};
  if (const char* stream = std::getenv("JOURNAL_STREAM"); stream && sinks.journal) {
    struct stat st;
    unsigned long dev = 0, ino = 0;
    if (fstat(STDERR_FILENO, &st) == 0 && std::sscanf(stream, "%lu:%lu", &dev, &ino) == 2 &&
        st.st_dev == dev && st.st_ino == ino) {
      sinks.stderr_line = false;
    }
  }
  return sinks;
}

const Sinks& GetSinks() {
  static const Sinks sinks = DetectSinks();
  return sinks;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kError:
      return "error";
    case Level::kWarning:
      return "warning";
    case Level::kNotice:
      return "notice";
    case Level::kInfo:
      return "info";
    case Level::kDebug:
      return "debug";
  }
  return "?";
}

void SendJournal(Level level, Subsys subsys, std::string_view message,
                 std::initializer_list<LogField> fields) {
  std::vector<std::string> lines;
  lines.reserve(fields.size() + 4);
  lines.push_back("MESSAGE=" + std::string(message));
  lines.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
  lines.push_back(std::string("SUBSYS=") + SubsysName(subsys));
  lines.push_back("SYSLOG_IDENTIFIER=anchord");
  for (const auto& f : fields) {
    if (!f.value.empty()) lines.push_back(std::string(f.key) + "=" + std::string(f.value));
  }
  std::vector<iovec> iov;
  iov.reserve(lines.size());
  for (auto& l : lines) iov.push_back({l.data(), l.size()});
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

void WriteStderr(Level level, Subsys subsys, std::string_view message,
                 std::initializer_list<LogField> fields) {
  std::string line;
  line.reserve(160);
  uint64_t ms = MonotonicUs() / 1000;
  line += std::to_string(ms / 1000) + "." + std::to_string(1000 + ms % 1000).substr(1);
  line += " anchord ";
  line += LevelName(level);
  line += " [";
  line += SubsysName(subsys);
  line += "] ";
  line += message;
  for (const auto& f : fields) {
    if (f.value.empty() || f.key == "MESSAGE_ID") continue;
    line += ' ';
    line += f.key;
    line += '=';
    line += f.value;
  }
  line += '\n';
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

const char* SubsysName(Subsys subsys) {
  switch (subsys) {
    case Subsys::kMain:
      return "main";
    case Subsys::kSip:
      return "sip";
    case Subsys::kMedia:
      return "media";
    case Subsys::kMixer:
      return "mixer";
    case Subsys::kFailover:
      return "failover";
    case Subsys::kControl:
      return "control";
  }
  return "?";
}

void SetLogLevel(Level level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(Level level) { return static_cast<int>(level) <= g_level.load(); }

void Log(Level level, Subsys subsys, std::string_view message,
         std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  const Sinks& sinks = GetSinks();
  if (sinks.journal) SendJournal(level, subsys, message, fields);
  if (sinks.stderr_line) WriteStderr(level, subsys, message, fields);
}

}  // namespace anchord::core
