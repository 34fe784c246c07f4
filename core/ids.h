// Strong ids that name objects across threads (DESIGN: never pass pointers between threads).
#pragma once

#include <cstdint>
#include <functional>

namespace anchord {

template <class Tag>
struct Id {
  uint64_t value = 0;
  constexpr bool valid() const { return value != 0; }
  friend constexpr bool operator==(Id a, Id b) { return a.value == b.value; }
  friend constexpr auto operator<=>(Id a, Id b) { return a.value <=> b.value; }
};

using CallId = Id<struct CallTag>;
using LegId = Id<struct LegTag>;
using PositionId = Id<struct PositionTag>;

}  // namespace anchord

template <class Tag>
struct std::hash<anchord::Id<Tag>> {
  size_t operator()(anchord::Id<Tag> id) const noexcept { return std::hash<uint64_t>{}(id.value); }
};
