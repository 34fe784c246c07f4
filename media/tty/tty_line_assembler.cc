#include "media/tty/tty_line_assembler.h"

namespace anchord::media::tty {

std::vector<std::string> TtyLineAssembler::Add(std::string_view chars, int64_t now_ms) {
  std::vector<std::string> lines;
  if (chars.empty()) return lines;
  if (!line_.empty() && now_ms - last_ms_ >= options_.pause_ms) EndLine(&lines);
  for (char c : chars) {
    if (c == '\r' || c == '\n') {
      // The second half of CR LF (or LF CR) ends nothing: it was already ended by the first.
      if (last_end_ != 0 && last_end_ != c) {
        last_end_ = 0;
        continue;
      }
      EndLine(&lines);
      last_end_ = c;
      continue;
    }
    last_end_ = 0;
    if (c == '\b') {
      if (!line_.empty()) line_.pop_back();
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) continue;
    line_.push_back(c);
    if (line_.size() >= options_.max_chars) EndLine(&lines);
  }
  last_ms_ = now_ms;
  return lines;
}

std::optional<std::string> TtyLineAssembler::Poll(int64_t now_ms) {
  if (line_.empty() || now_ms - last_ms_ < options_.pause_ms) return std::nullopt;
  return Flush();
}

std::optional<std::string> TtyLineAssembler::Flush() {
  if (line_.empty()) return std::nullopt;
  std::string line;
  line.swap(line_);
  return line;
}

void TtyLineAssembler::EndLine(std::vector<std::string>* lines) {
  if (!line_.empty()) lines->push_back(std::move(line_));
  line_.clear();
}

}  // namespace anchord::media::tty
