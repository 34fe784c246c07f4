// Result<T>: the control plane's way to return a value or an error message.
// Library error codes are wrapped into Error at the module boundary.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace anchord {

struct Error {
  std::string message;
};

template <class T>
using Result = tl::expected<T, Error>;

// Status: Result without a value.
using Status = Result<void>;

inline tl::unexpected<Error> Fail(std::string message) {
  return tl::unexpected<Error>(Error{std::move(message)});
}

}  // namespace anchord
