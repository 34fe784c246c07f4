#include "signaling/internal/stream_framer.h"

#include <charconv>
#include <cstdint>

namespace anchord::signaling::internal {
namespace {

constexpr std::string_view kBlankLine = "\r\n\r\n";

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

StreamFramer::StreamFramer(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

void StreamFramer::Append(std::string_view bytes) {
  if (error_) return;
  // Drop what was already handed out, so the buffer holds at most one partial message.
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

Result<std::optional<std::string_view>> StreamFramer::Failed(std::string message) {
  error_ = std::move(message);
  buffer_.clear();
  consumed_ = scanned_ = 0;
  return Fail(*error_);
}

Result<std::optional<std::string_view>> StreamFramer::Next() {
  if (error_) return Fail(*error_);
  // Keep-alives (RFC 5626 §4.4.1: CRLFCRLF ping, CRLF pong) and stray line ends between messages.
  while (consumed_ < buffer_.size() && (buffer_[consumed_] == '\r' || buffer_[consumed_] == '\n')) {
    ++consumed_;
    scanned_ = 0;
  }
  std::string_view pending(buffer_.data() + consumed_, buffer_.size() - consumed_);
  // Resume the blank-line search where the last one stopped (minus a possible partial match), so
  // a message trickling in byte by byte costs linear time.
  size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
  size_t end = pending.find(kBlankLine, from);
  if (end == std::string_view::npos) {
    scanned_ = pending.size();
    if (pending.size() > max_message_bytes_) return Failed("SIP header over the size limit");
    return std::optional<std::string_view>();
  }
  size_t header_size = end + kBlankLine.size();
  auto body = BodyLength(pending.substr(0, end));
  if (!body) return Failed(body.error().message);
  if (*body > max_message_bytes_ || header_size + *body > max_message_bytes_) {
    return Failed("SIP message over the size limit");
  }
  size_t total = header_size + *body;
  if (pending.size() < total) {
    scanned_ = end;  // the blank line stays where it is; only the body is missing
    return std::optional<std::string_view>();
  }
  consumed_ += total;
  scanned_ = 0;
  return std::optional<std::string_view>(pending.substr(0, total));
}

// The value of the one Content-Length ("l") header in `header` (start line and header lines,
// without the blank line). Folded continuation lines cannot start a header and are skipped.
Result<size_t> StreamFramer::BodyLength(std::string_view header) const {
  std::optional<uint64_t> length;
  size_t pos = header.find("\r\n");  // skip the start line
  while (pos != std::string_view::npos) {
    size_t start = pos + 2;
    pos = header.find("\r\n", start);
    std::string_view line = header.substr(start, pos == std::string_view::npos ? pos : pos - start);
    if (line.empty() || IsSpace(line.front())) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = Trim(line.substr(0, colon));
    if (!EqualsNoCase(name, "content-length") && !EqualsNoCase(name, "l")) continue;
    std::string_view value = Trim(line.substr(colon + 1));
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
      return Fail("bad Content-Length");
    }
    if (length && *length != n) return Fail("conflicting Content-Length headers");
    length = n;
  }
  if (!length) return Fail("no Content-Length on a stream transport");
  if (*length > SIZE_MAX / 2) return Fail("SIP message over the size limit");
  return static_cast<size_t>(*length);
}

}  // namespace anchord::signaling::internal
