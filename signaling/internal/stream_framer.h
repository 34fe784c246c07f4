// StreamFramer: splits a SIP byte stream (TCP) into whole messages, as RFC 3261 §18.3 requires:
// the header ends at the first blank line and Content-Length (or compact "l:") gives the body
// size. On a stream Content-Length is mandatory, so a message without it is a framing error.
// CR/LF bytes between messages are RFC 5626 keep-alives and are skipped.
//
// No sockets here: feed bytes with Append(), take messages with Next(). Errors are sticky; the
// caller closes the connection. Threading: one owner (the connection's thread).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace anchord::signaling::internal {

class StreamFramer {
 public:
  explicit StreamFramer(size_t max_message_bytes);

  // Adds bytes read from the stream. Invalidates views returned by Next().
  void Append(std::string_view bytes);

  // The next whole message (header and body), or nullopt when more bytes are needed. The view is
  // valid until the next Append(). An error (no Content-Length, bad Content-Length, message over
  // the limit) is returned again on every later call.
  Result<std::optional<std::string_view>> Next();

  // Bytes held that are not yet part of a returned message.
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  Result<size_t> BodyLength(std::string_view header) const;
  Result<std::optional<std::string_view>> Failed(std::string message);

  size_t max_message_bytes_;
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ already returned or skipped
  size_t scanned_ = 0;   // offset from consumed_ up to which no blank line was found
  std::optional<std::string> error_;
};

}  // namespace anchord::signaling::internal
