// TtyLineAssembler: turns a TTY caller's decoded characters into lines, one journald event
// per line. Pure: no I/O, no clock of its own (the caller passes monotonic milliseconds).
//
// A line ends at CR or LF (a CR LF pair, or LF CR, ends one line, not two), after
// `pause_ms` without a character (TTY users often type without pressing CR), or when it
// reaches `max_chars`. Empty lines are not reported. Backspace ('\b', Baudot blank) erases
// the last character of the line; other control characters are dropped; the text otherwise
// is exactly what was decoded (Baudot is upper case, digits and punctuation).
//
// Thread: any single owner (the signaling thread, which receives the characters posted from
// the media worker). Allocates (strings): control plane.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anchord::media::tty {

class TtyLineAssembler {
 public:
  struct Options {
    int64_t pause_ms = 2000;  // silence that ends a line, ms (> 0)
    size_t max_chars = 256;   // a line longer than this is cut (>= 1)
  };

  TtyLineAssembler() : TtyLineAssembler(Options{}) {}
  explicit TtyLineAssembler(Options options) : options_(options) {}

  // Adds characters that arrived at `now_ms` (non-decreasing across calls). Returns the lines
  // they completed, oldest first, including a line that the pause before them completed.
  std::vector<std::string> Add(std::string_view chars, int64_t now_ms);

  // The pending line if `pause_ms` has passed since its last character, else nothing. Call it
  // periodically (a 1 s timer is enough for journald; the line is dated by its last char).
  std::optional<std::string> Poll(int64_t now_ms);

  // The pending line, if any, at once (end of call).
  std::optional<std::string> Flush();

  // Characters waiting in the current line.
  const std::string& pending() const { return line_; }

 private:
  void EndLine(std::vector<std::string>* lines);

  Options options_;
  std::string line_;
  int64_t last_ms_ = 0;
  char last_end_ = 0;  // the CR or LF that just ended a line, so its partner is skipped
};

}  // namespace anchord::media::tty
